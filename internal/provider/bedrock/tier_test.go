package bedrock_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/converse"
)

// TestServiceTier checks the provider forwards the tier the pipeline
// resolved — in the Converse body (replacing or adding serviceTier, the
// rest of the client's body kept as it was) and in InvokeModel's
// X-Amzn-Bedrock-Service-Tier header — and reads the tier Bedrock served
// back: Converse's serviceTier, the stream's metadata, InvokeModel's
// response header and, for a native stream, its response header through
// OnServed.
func TestServiceTier(t *testing.T) {
	const servedByBedrock = "default" // Bedrock's word wins over what was asked
	f := newFake(t, true, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Amzn-Bedrock-Service-Tier", servedByBedrock)
		switch {
		case r.URL.Path == "/model/"+haikuID+"/converse":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"output":{"message":{"role":"assistant","content":[{"text":"hi"}]}},"stopReason":"end_turn",
				"usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2},"metrics":{"latencyMs":1},"serviceTier":{"type":"default"}}`)
		case r.URL.Path == "/model/"+haikuID+"/converse-stream":
			writeFrames(t, w, event("messageStart", `{"role":"assistant"}`), event("messageStop", `{"stopReason":"end_turn"}`),
				event("metadata", `{"usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2},"metrics":{"latencyMs":1},"serviceTier":{"type":"default"}}`))
		case r.URL.Path == "/model/"+haikuID+"/invoke":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"content":[]}`)
		default:
			writeFrames(t, w, chunk(`{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":1,"outputTokenCount":1}}`))
		}
	})
	p := newProvider(t, f.URL)
	var servedNative string
	call := converse.Call{ModelID: haikuID, Region: "us-east-1", ServiceTier: "priority", OnServed: func(t string) { servedNative = t }}

	for _, raw := range []string{`{"messages":[{"role":"user","content":[{"text":"hi"}]}],"serviceTier":{"type":"flex"},"x":1}`,
		`{"messages":[{"role":"user","content":[{"text":"hi"}]}],"x":1}`} {
		req := &converse.Request{Raw: []byte(raw), ServiceTier: &converse.ServiceTier{Type: "flex"}}
		resp, err := p.Converse(t.Context(), call, req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.ServiceTier.Tier() != servedByBedrock {
			t.Errorf("Converse served %q, want Bedrock's %q", resp.ServiceTier.Tier(), servedByBedrock)
		}
		var sent map[string]json.RawMessage
		if err := json.Unmarshal([]byte(f.last(t).Body), &sent); err != nil {
			t.Fatal(err)
		}
		if string(sent["serviceTier"]) != `{"type":"priority"}` || string(sent["x"]) != "1" {
			t.Errorf("Converse body sent %s, want serviceTier priority and the client's members", f.last(t).Body)
		}
	}
	same := &converse.Request{Raw: []byte(`{"serviceTier":{"type":"priority"},"messages":[]}`), ServiceTier: &converse.ServiceTier{Type: "priority"}}
	if _, err := p.Converse(t.Context(), call, same); err != nil || f.last(t).Body != string(same.Raw) {
		t.Errorf("a body already asking for the tier is forwarded as is: %q, %v", f.last(t).Body, err)
	}

	var md *converse.MetadataEvent
	if _, err := p.ConverseStream(t.Context(), call, same, func(ev converse.StreamEvent) error {
		if ev.Metadata != nil {
			md = ev.Metadata
		}
		return nil
	}); err != nil || md == nil || md.ServiceTier.Tier() != servedByBedrock {
		t.Errorf("ConverseStream metadata %+v, %v", md, err)
	}

	nr, err := p.InvokeModel(t.Context(), call, converse.NativeRequest{Body: []byte(`{}`)})
	if err != nil || nr.ServiceTier != servedByBedrock || f.last(t).Header.Get("X-Amzn-Bedrock-Service-Tier") != "priority" {
		t.Errorf("InvokeModel: served %q, sent %q, %v", nr.ServiceTier, f.last(t).Header.Get("X-Amzn-Bedrock-Service-Tier"), err)
	}
	if _, err := p.InvokeModelStream(t.Context(), call, converse.NativeRequest{Body: []byte(`{}`)}, func([]byte) error { return nil }); err != nil ||
		servedNative != servedByBedrock || f.last(t).Header.Get("X-Amzn-Bedrock-Service-Tier") != "priority" {
		t.Errorf("InvokeModelWithResponseStream: served %q, sent %q, %v", servedNative, f.last(t).Header.Get("X-Amzn-Bedrock-Service-Tier"), err)
	}
	plain := converse.Call{ModelID: haikuID, Region: "us-east-1"}
	if _, err := p.InvokeModel(t.Context(), plain, converse.NativeRequest{Body: []byte(`{}`)}); err != nil || f.last(t).Header.Get("X-Amzn-Bedrock-Service-Tier") != "" {
		t.Errorf("no tier asked: header %q, %v", f.last(t).Header.Get("X-Amzn-Bedrock-Service-Tier"), err)
	}
}
