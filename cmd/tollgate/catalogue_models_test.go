package main

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rt "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate/internal/ledger"
)

// TestCatalogueAdditionsThroughSDK drives one model of each wire family the
// December 2026 catalogue additions brought, through the official SDK and
// the simulator: Ministral 3 3B, GLM 4.7 Flash, and Gemma 3 4B and Kimi K2
// Thinking of AWS's 2025-12-02 open-weight release (converse-only,
// in-region in us-east-1), Claude Fable 5 (anthropic, profile-only, us. and
// global.) and Claude Opus 5.5 (global.). Each Converse and ConverseStream
// call must answer and leave a record priced at the catalogue's cited
// rates for its scope; InvokeModel on the converse-only
// model and the profile-only model's bare id must be refused with the
// ValidationException the SDK expects.
func TestCatalogueAdditionsThroughSDK(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	ctx := t.Context()
	rc := ts.runtime(t)

	const (
		ministral = "mistral.ministral-3-3b-instruct"
		fable     = "anthropic.claude-fable-5"
	)
	for _, c := range []struct {
		name, modelID, model string
		scope                string
		in, out              string // USD per 1K tokens, the catalogue entry's cited rates
	}{
		{"Ministral 3 3B in-region", ministral, ministral, "", "0.0001", "0.0001"},
		{"Claude Fable 5 through us.", "us." + fable, fable, "geo", "0.011", "0.055"},
		{"Claude Fable 5 through global.", "global." + fable, fable, "global", "0.01", "0.05"},
		{"Claude Opus 5.5 through global.", "global.anthropic.claude-opus-5-5", "anthropic.claude-opus-5-5", "global", "0.004", "0.02"},
		{"GLM 4.7 Flash in-region", "zai.glm-4.7-flash", "zai.glm-4.7-flash", "", "0.00007", "0.0004"},
		{"Gemma 3 4B IT in-region", "google.gemma-3-4b-it", "google.gemma-3-4b-it", "", "0.00004", "0.00008"},
		{"Kimi K2 Thinking in-region", "moonshot.kimi-k2-thinking", "moonshot.kimi-k2-thinking", "", "0.0006", "0.0025"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, stream := range []bool{false, true} {
				var usage rt.TokenUsage
				if stream {
					so, err := rc.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(c.modelID),
						Messages: userText("Classify this claim: hail damage to a roof."), InferenceConfig: &rt.InferenceConfiguration{MaxTokens: aws.Int32(120)}})
					if err != nil {
						t.Fatalf("ConverseStream: %v", err)
					}
					sr := readConverseStream(so)
					if sr.err != nil || sr.text == "" {
						t.Fatalf("stream: %q, %v", sr.text, sr.err)
					}
					usage = sr.usage
				} else {
					out, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(c.modelID),
						Messages: userText("Classify this claim: hail damage to a roof."), InferenceConfig: &rt.InferenceConfiguration{MaxTokens: aws.Int32(120)}})
					if err != nil {
						t.Fatalf("Converse: %v", err)
					}
					if textOf(out) == "" || out.Usage == nil {
						t.Fatalf("Converse output %+v", out)
					}
					usage = *out.Usage
				}
				in, out := int64(aws.ToInt32(usage.InputTokens)), int64(aws.ToInt32(usage.OutputTokens))
				if in == 0 || out == 0 {
					t.Fatalf("usage %+v", usage)
				}
				recs, err := ts.DB.Records(ctx, ledger.Query{Newest: true, Limit: 1})
				if err != nil || len(recs) != 1 {
					t.Fatalf("records: %v %v", recs, err)
				}
				r := recs[0]
				if r.ModelID != c.model || r.Scope != c.scope || r.Outcome != ledger.OutcomeSuccess || !r.Priced {
					t.Fatalf("stream %v: record model %q scope %q outcome %q priced %v", stream, r.ModelID, r.Scope, r.Outcome, r.Priced)
				}
				if r.InputTokens != in || r.OutputTokens != out {
					t.Errorf("stream %v: record tokens %d/%d, SDK usage %d/%d", stream, r.InputTokens, r.OutputTokens, in, out)
				}
				if want := nanosAt(t, in, c.in) + nanosAt(t, out, c.out); r.Cost != want {
					t.Errorf("stream %v: cost %d nano-USD, want %d (%d in at %s, %d out at %s per 1K)", stream, r.Cost, want, in, c.in, out, c.out)
				}
			}
		})
	}

	for _, c := range []struct{ name, modelID, body string }{
		{"InvokeModel on a converse-only model", ministral,
			`{"messages":[{"role":"user","content":"hi"}],"max_tokens":50}`},
		{"InvokeModel on an open-weight model of the 2025-12-02 release", "qwen.qwen3-next-80b-a3b",
			`{"messages":[{"role":"user","content":"hi"}],"max_tokens":50}`},
		{"the bare id of a profile-only model", fable,
			`{"anthropic_version":"bedrock-2023-05-31","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := rc.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(c.modelID),
				Body: []byte(c.body), ContentType: aws.String("application/json")})
			var ve *rt.ValidationException
			if !errors.As(err, &ve) {
				t.Fatalf("InvokeModel(%s) = %v, want ValidationException", c.modelID, err)
			}
		})
	}
}
