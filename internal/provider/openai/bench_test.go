package openai

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/converse"
)

// BenchmarkConverse is one non-streaming call against a zero-latency
// chat-completions server on loopback: request build, the HTTP round trip
// (the server's side included) and the response parse.
func BenchmarkConverse(b *testing.B) {
	reply := []byte(`{"id":"c1","object":"chat.completion","model":"m","choices":[{"index":0,"finish_reason":"stop",` +
		`"message":{"role":"assistant","content":"Claim 4711: the notes are complete except for the repair estimate."}}],` +
		`"usage":{"prompt_tokens":31,"completion_tokens":19,"total_tokens":50}}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(reply)
	}))
	b.Cleanup(srv.Close)
	p, err := New(Config{BaseURL: srv.URL + "/v1", APIKey: "sk-bench"})
	if err != nil {
		b.Fatal(err)
	}
	text, maxTokens := "Summarise the claim notes for policy 4711 and flag missing documents.", int32(200)
	req := &converse.Request{Messages: []converse.Message{{Role: "user", Content: []converse.ContentBlock{{Text: &text}}}},
		InferenceConfig: &converse.InferenceConfig{MaxTokens: &maxTokens}}
	call := converse.Call{ModelID: "meta.llama3-1-8b-instruct-v1:0"}
	b.ReportAllocs()
	for b.Loop() {
		resp, err := p.Converse(b.Context(), call, req)
		if err != nil || resp.Usage.OutputTokens != 19 {
			b.Fatalf("%+v %v", resp, err)
		}
	}
}
