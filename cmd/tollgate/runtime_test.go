package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rt "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/pricing"
)

func userText(s string) []rt.Message {
	return []rt.Message{{Role: rt.ConversationRoleUser, Content: []rt.ContentBlock{&rt.ContentBlockMemberText{Value: s}}}}
}

// streamResult is what a client assembled from a ConverseStream.
type streamResult struct {
	text   string
	usage  rt.TokenUsage
	stop   rt.StopReason
	events []string
	err    error
	reqID  string
}

func readConverseStream(out *bedrockruntime.ConverseStreamOutput) streamResult {
	var r streamResult
	r.reqID, _ = middleware.GetRequestIDMetadata(out.ResultMetadata)
	stream := out.GetStream()
	defer stream.Close()
	for ev := range stream.Events() {
		switch e := ev.(type) {
		case *rt.ConverseStreamOutputMemberMessageStart:
			r.events = append(r.events, "messageStart")
		case *rt.ConverseStreamOutputMemberContentBlockStart:
			r.events = append(r.events, "contentBlockStart")
		case *rt.ConverseStreamOutputMemberContentBlockDelta:
			r.events = append(r.events, "contentBlockDelta")
			if d, ok := e.Value.Delta.(*rt.ContentBlockDeltaMemberText); ok {
				r.text += d.Value
			}
		case *rt.ConverseStreamOutputMemberContentBlockStop:
			r.events = append(r.events, "contentBlockStop")
		case *rt.ConverseStreamOutputMemberMessageStop:
			r.events = append(r.events, "messageStop")
			r.stop = e.Value.StopReason
		case *rt.ConverseStreamOutputMemberMetadata:
			r.events = append(r.events, "metadata")
			if e.Value.Usage != nil {
				r.usage = *e.Value.Usage
			}
		}
	}
	r.err = stream.Err()
	return r
}

func textOf(out *bedrockruntime.ConverseOutput) string {
	m, ok := out.Output.(*rt.ConverseOutputMemberMessage)
	if !ok {
		return ""
	}
	var s string
	for _, c := range m.Value.Content {
		if t, ok := c.(*rt.ContentBlockMemberText); ok {
			s += t.Value
		}
	}
	return s
}

func TestRuntimeOperations(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	ctx := t.Context()
	appARN := createProfile(t, ts.bedrock(t), "claims-chatbot", usHaikuAR, tagList("dept", "claims", "app", "claims_chatbot")...)
	appID := appARN[strings.LastIndex(appARN, "/")+1:]
	rc := ts.runtime(t)

	targets := map[string]string{
		"application profile ARN": appARN,
		"application profile id":  appID,
		"system profile id":       usHaiku,
		"system profile ARN":      usHaikuAR,
		"base model id":           haikuID,
		"base model ARN":          haikuARN,
	}
	for name, modelID := range targets {
		t.Run(name, func(t *testing.T) {
			prompt := "Summarise claim 42 for " + name
			conv, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{
				ModelId: aws.String(modelID), Messages: userText(prompt),
				InferenceConfig: &rt.InferenceConfiguration{MaxTokens: aws.Int32(200)},
			})
			if err != nil {
				t.Fatalf("Converse: %v", err)
			}
			if textOf(conv) == "" || conv.Usage == nil || aws.ToInt32(conv.Usage.InputTokens) == 0 || conv.StopReason != rt.StopReasonEndTurn {
				t.Fatalf("Converse output: %+v", conv)
			}
			so, err := rc.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{
				ModelId: aws.String(modelID), Messages: userText(prompt),
				InferenceConfig: &rt.InferenceConfiguration{MaxTokens: aws.Int32(200)},
			})
			if err != nil {
				t.Fatalf("ConverseStream: %v", err)
			}
			sr := readConverseStream(so)
			if sr.err != nil {
				t.Fatalf("stream: %v", sr.err)
			}
			if sr.text != textOf(conv) || sr.stop != conv.StopReason {
				t.Errorf("stream text %q (%s), Converse %q (%s)", sr.text, sr.stop, textOf(conv), conv.StopReason)
			}
			if diff := cmp.Diff(sr.usage, *conv.Usage, cmp.AllowUnexported(rt.TokenUsage{})); diff != "" {
				t.Errorf("stream usage differs from Converse (-stream +converse):\n%s", diff)
			}
			if sr.events[0] != "messageStart" || sr.events[len(sr.events)-1] != "metadata" {
				t.Errorf("event order %v", sr.events)
			}

			body := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":200,"messages":[{"role":"user","content":"` + prompt + `"}]}`
			inv, err := rc.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(modelID),
				Body: []byte(body), ContentType: aws.String("application/json"), Accept: aws.String("application/json")})
			if err != nil {
				t.Fatalf("InvokeModel: %v", err)
			}
			var native struct {
				Content []struct{ Text string } `json:"content"`
				Usage   struct {
					InputTokens  int `json:"input_tokens"`
					OutputTokens int `json:"output_tokens"`
				} `json:"usage"`
			}
			if err := json.Unmarshal(inv.Body, &native); err != nil || len(native.Content) == 0 || native.Usage.OutputTokens == 0 {
				t.Fatalf("InvokeModel body %s: %v", inv.Body, err)
			}
			if native.Content[0].Text != textOf(conv) {
				t.Errorf("InvokeModel text %q, Converse %q", native.Content[0].Text, textOf(conv))
			}

			st, err := rc.InvokeModelWithResponseStream(ctx, &bedrockruntime.InvokeModelWithResponseStreamInput{
				ModelId: aws.String(modelID), Body: []byte(body), ContentType: aws.String("application/json")})
			if err != nil {
				t.Fatalf("InvokeModelWithResponseStream: %v", err)
			}
			var chunks int
			var text string
			var metrics map[string]any
			stream := st.GetStream()
			for ev := range stream.Events() {
				c, ok := ev.(*rt.ResponseStreamMemberChunk)
				if !ok {
					continue
				}
				chunks++
				var m map[string]any
				if err := json.Unmarshal(c.Value.Bytes, &m); err != nil {
					t.Fatalf("chunk %q: %v", c.Value.Bytes, err)
				}
				if d, ok := m["delta"].(map[string]any); ok {
					if s, ok := d["text"].(string); ok {
						text += s
					}
				}
				if im, ok := m["amazon-bedrock-invocationMetrics"].(map[string]any); ok {
					metrics = im
				}
			}
			stream.Close()
			if err := stream.Err(); err != nil {
				t.Fatalf("IMWRS stream: %v", err)
			}
			if chunks < 3 || text != textOf(conv) || metrics == nil {
				t.Errorf("IMWRS: %d chunks, text %q (want %q), metrics %v", chunks, text, textOf(conv), metrics)
			}
		})
	}

	t.Run("every call was recorded through the profile it named", func(t *testing.T) {
		// Every call was recorded, through the profile it named.
		recs, err := ts.DB.Records(ctx, ledger.Query{})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 4*len(targets) {
			t.Fatalf("%d records, want %d", len(recs), 4*len(targets))
		}
		byOp := map[string]int{}
		for _, r := range recs {
			byOp[r.Operation]++
			if r.Outcome != ledger.OutcomeSuccess || !r.Priced || r.Cost <= 0 || r.RegionServed == "" {
				t.Errorf("record %+v", r)
			}
			if r.ProfileID == appID && r.Tags["dept"] != "claims" {
				t.Errorf("application-profile record without its tags: %+v", r)
			}
		}
		if len(byOp) != 4 {
			t.Errorf("operations recorded: %v", byOp)
		}
	})
}

func TestRuntimeErrors(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", func(c *config.Config) {
		c.Providers = []config.Provider{{Name: "flaky", Type: "sim", Faults: []config.Fault{
			{Every: 1, Kind: "throttled", MidStream: true, MidStreamAfter: 2, Models: []string{"amazon.nova-lite-v1:0"}},
			{Every: 1, Kind: "throttled", Models: []string{"amazon.nova-micro-v1:0"}},
		}}}
		c.Routes = []config.Route{{Models: []string{"amazon.nova-*"}, Provider: "flaky"}}
	})
	rc := ts.runtime(t)
	ctx := t.Context()

	t.Run("mid-stream throttling is a typed error", func(t *testing.T) {
		so, err := rc.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String("amazon.nova-lite-v1:0"), Messages: userText("tell me a long story")})
		if err != nil {
			t.Fatal(err)
		}
		sr := readConverseStream(so)
		assertErrorAs(t, sr.err, new(*rt.ThrottlingException))
		if sr.text == "" {
			t.Error("no text before the exception")
		}
		// The record, durable before the exception was sent, bills the
		// two deltas delivered.
		recs, err := ts.DB.Records(ctx, ledger.Query{})
		if err != nil {
			t.Fatal(err)
		}
		var mine []ledger.Record
		for _, r := range recs {
			if r.RequestID == sr.reqID {
				mine = append(mine, r)
			}
		}
		if len(mine) != 1 {
			t.Fatalf("%d records for the failed stream, want 1", len(mine))
		}
		if r := mine[0]; r.Outcome != ledger.OutcomeThrottled || r.OutputTokens != 2 || r.InputTokens == 0 || r.Cost <= 0 {
			t.Errorf("record of a stream failed after 2 deltas: outcome %s, %d in, %d out, cost %v", r.Outcome, r.InputTokens, r.OutputTokens, r.Cost)
		}
	})
	t.Run("throttled before the stream", func(t *testing.T) {
		_, err := rc.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String("amazon.nova-micro-v1:0"), Messages: userText("hi")})
		assertErrorAs(t, err, new(*rt.ThrottlingException))
	})
	for _, tc := range []struct {
		name  string
		model string
		msgs  []rt.Message
		want  any
	}{
		{"unknown model", "acme.nothing-v1:0", userText("hi"), new(*rt.ValidationException)},
		{"unknown application profile", "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/zzzzzzzzzzzz", userText("hi"), new(*rt.ResourceNotFoundException)},
		{"other account's profile", "arn:aws:bedrock:us-east-1:999999999999:application-inference-profile/zzzzzzzzzzzz", userText("hi"), new(*rt.ResourceNotFoundException)},
		{"model of another region", "arn:aws:bedrock:eu-west-1::foundation-model/" + haikuID, userText("hi"), new(*rt.ValidationException)},
		{"no messages", haikuID, nil, new(*rt.ValidationException)},
		{"throttled call", "amazon.nova-micro-v1:0", userText("hi"), new(*rt.ThrottlingException)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(tc.model), Messages: tc.msgs})
			assertErrorAs(t, err, tc.want)
		})
	}
}

// TestConcurrentMetering drives 1,000 concurrent mixed calls and checks the
// ledger against what the clients were told, and the cost against an
// independent recomputation from the price table.
func TestConcurrentMetering(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	ctx := t.Context()
	bc := ts.bedrock(t)
	profiles := []string{
		createProfile(t, bc, "claims", haikuARN, tagList("dept", "claims")...),
		createProfile(t, bc, "sales", usHaikuAR, tagList("dept", "sales")...),
		createProfile(t, bc, "risk", "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0", tagList("dept", "risk")...),
		"us.amazon.nova-lite-v1:0",
	}
	// The SDK's event-stream codec is shared by a client's calls and is not
	// safe for concurrent streams, so each worker has its own client.
	clients := make(chan *bedrockruntime.Client, 64)
	for range 64 {
		clients <- ts.runtime(t, func(o *bedrockruntime.Options) { o.HTTPClient = sharedHTTPClient() })
	}

	const n = 1000
	type seen struct {
		reqID   string
		in, out int64
	}
	told := map[string]seen{}
	var wantIn, wantOut int64
	var gotIn, gotOut int64
	var gotCost, wantCost int64

	if !t.Run("1,000 concurrent mixed calls are answered", func(t *testing.T) {
		results := make(chan seen, n)
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rc := <-clients
				defer func() { clients <- rc }()
				model := profiles[i%len(profiles)]
				prompt := fmt.Sprintf("call %d: please assess risk for policy %d", i, i*7)
				var s seen
				if i%2 == 0 {
					out, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: userText(prompt)})
					if err != nil {
						errs <- err
						return
					}
					s.reqID, _ = middleware.GetRequestIDMetadata(out.ResultMetadata)
					s.in, s.out = int64(aws.ToInt32(out.Usage.InputTokens)), int64(aws.ToInt32(out.Usage.OutputTokens))
				} else {
					out, err := rc.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(model), Messages: userText(prompt)})
					if err != nil {
						errs <- err
						return
					}
					sr := readConverseStream(out)
					if sr.err != nil {
						errs <- sr.err
						return
					}
					s.reqID, s.in, s.out = sr.reqID, int64(aws.ToInt32(sr.usage.InputTokens)), int64(aws.ToInt32(sr.usage.OutputTokens))
				}
				results <- s
			}()
		}
		wg.Wait()
		close(results)
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		for s := range results {
			told[s.reqID] = s
			wantIn += s.in
			wantOut += s.out
		}
	}) {
		return
	}
	if !t.Run("the ledger holds what the clients were told, at the price table's cost", func(t *testing.T) {
		recs, err := ts.DB.Records(ctx, ledger.Query{})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != n || len(told) != n {
			t.Fatalf("%d records and %d distinct responses, want %d", len(recs), len(told), n)
		}
		for _, r := range recs {
			s, ok := told[r.RequestID]
			if !ok {
				t.Fatalf("record %s matches no response", r.RequestID)
			}
			if r.InputTokens != s.in || r.OutputTokens != s.out {
				t.Errorf("record %s: %d/%d tokens, client saw %d/%d", r.RequestID, r.InputTokens, r.OutputTokens, s.in, s.out)
			}
			gotIn += r.InputTokens
			gotOut += r.OutputTokens
			gotCost += int64(r.Cost)
			// Independent recomputation: tokens x price per 1,000, rounded half up per class.
			p, ok := pricing.Lookup(ts.Catalog, r.ModelID, r.Time)
			if !ok {
				t.Fatalf("no price for %s", r.ModelID)
			}
			wantCost += (r.InputTokens*int64(p.Input)+500)/1000 + (r.OutputTokens*int64(p.Output)+500)/1000
		}
		if gotIn != wantIn || gotOut != wantOut {
			t.Errorf("ledger tokens %d/%d, responses %d/%d", gotIn, gotOut, wantIn, wantOut)
		}
		if gotCost != wantCost {
			t.Errorf("ledger cost %d nano-USD, recomputed %d", gotCost, wantCost)
		}
	}) {
		return
	}
	t.Run("the hourly rollups agree with the raw ledger", func(t *testing.T) {
		// The hourly rollups agree with the raw ledger exactly.
		rolls, err := ts.DB.Rollups(ctx, "", time.Now().Add(-2*time.Hour), time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		var rIn, rOut, rCost, rCalls int64
		for _, r := range rolls {
			rIn, rOut, rCost, rCalls = rIn+r.InputTokens, rOut+r.OutputTokens, rCost+int64(r.Cost), rCalls+r.Calls
		}
		if rIn != gotIn || rOut != gotOut || rCost != gotCost || rCalls != n {
			t.Errorf("rollups %d/%d/%d/%d, ledger %d/%d/%d/%d", rIn, rOut, rCost, rCalls, gotIn, gotOut, gotCost, n)
		}
	})
}

// TestStreamDisconnectIsBilled cancels a slow stream after a few events: the
// record carries what was produced, exactly once.
func TestStreamDisconnectIsBilled(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", func(c *config.Config) {
		c.Providers = []config.Provider{{Name: "slow", Type: "sim", Latency: 3 * time.Millisecond, TokensPerSecond: 200}}
		c.Routes = []config.Route{{Provider: "slow"}}
	})
	rc := ts.runtime(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out, err := rc.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(haikuID),
		Messages: userText("write a long answer about flood insurance")})
	if err != nil {
		t.Fatal(err)
	}
	reqID, _ := middleware.GetRequestIDMetadata(out.ResultMetadata)
	deltas := 0
	for ev := range out.GetStream().Events() {
		if _, ok := ev.(*rt.ConverseStreamOutputMemberContentBlockDelta); ok {
			deltas++
			if deltas == 3 {
				cancel()
				break
			}
		}
	}
	out.GetStream().Close()
	if deltas != 3 {
		t.Fatalf("stream ended after %d deltas: %v", deltas, out.GetStream().Err())
	}
	var rec *ledger.Record
	deadline := time.Now().Add(10 * time.Second)
	for rec == nil && time.Now().Before(deadline) {
		recs, err := ts.DB.Records(t.Context(), ledger.Query{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range recs {
			if recs[i].RequestID == reqID {
				if rec != nil {
					t.Fatal("two records for one request id")
				}
				rec = &recs[i]
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if rec == nil {
		t.Fatalf("no record for %s", reqID)
	}
	if rec.Outcome != ledger.OutcomeCancelled || rec.OutputTokens < 3 || rec.InputTokens == 0 || rec.Cost <= 0 {
		t.Errorf("record after disconnect: %+v", *rec)
	}
}
