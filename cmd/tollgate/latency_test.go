package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rt "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/pricing"
)

// fakeLatencyBedrock stands in for Bedrock: it answers Converse and a
// Llama InvokeModel with 2,000 input and 800 output tokens, serving the
// latency mode set in serve, as real Bedrock says in Converse's
// performanceConfig and InvokeModel's X-Amzn-Bedrock-PerformanceConfig-Latency
// header. It keeps the latency mode each request asked for.
type fakeLatencyBedrock struct {
	mu    sync.Mutex
	serve string   // the mode the next answers say served them
	asked []string // per request: the mode asked for ("" = none)
}

func (f *fakeLatencyBedrock) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	serve := f.serve
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.HasSuffix(r.URL.Path, "/converse"):
		var req struct {
			PerformanceConfig struct{ Latency string } `json:"performanceConfig"`
		}
		_ = json.Unmarshal(body, &req)
		f.record(req.PerformanceConfig.Latency)
		_, _ = io.WriteString(w, `{"output":{"message":{"role":"assistant","content":[{"text":"fast"}]}},"stopReason":"end_turn",`+
			`"usage":{"inputTokens":2000,"outputTokens":800,"totalTokens":2800},"metrics":{"latencyMs":3},`+
			`"performanceConfig":{"latency":"`+serve+`"}}`)
	case strings.HasSuffix(r.URL.Path, "/invoke"):
		f.record(r.Header.Get("X-Amzn-Bedrock-PerformanceConfig-Latency"))
		w.Header().Set("X-Amzn-Bedrock-Input-Token-Count", "2000")
		w.Header().Set("X-Amzn-Bedrock-Output-Token-Count", "800")
		w.Header().Set("X-Amzn-Bedrock-PerformanceConfig-Latency", serve)
		_, _ = io.WriteString(w, `{"generation":"fast","prompt_token_count":2000,"generation_token_count":800,"stop_reason":"stop"}`)
	default:
		http.Error(w, `{"message":"unexpected path"}`, http.StatusNotFound)
	}
}

func (f *fakeLatencyBedrock) record(mode string) {
	f.mu.Lock()
	f.asked = append(f.asked, mode)
	f.mu.Unlock()
}

// TestBedrockLatencyOptimizedPricing runs the bedrock provider against a
// fake Bedrock: a call is priced at Llama 3.1 405B's latency-optimized
// rate ($0.003/1K in and out, AWS pricing page copy of 2025-07-20) only
// when the response says optimized inference served it, and at the
// Standard rate ($0.0024 in and out, the same page) when Bedrock fell back to
// Standard; the record's usage types carry -latency-optimized likewise.
func TestBedrockLatencyOptimizedPricing(t *testing.T) {
	fake := &fakeLatencyBedrock{}
	up := httptest.NewServer(fake)
	t.Cleanup(up.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIALATENCYTEST00001")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "latency-test-secret")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	srv := startServer(t, "", func(c *config.Config) {
		c.Region = "us-east-2"
		c.Providers = []config.Provider{{Name: "aws", Type: "bedrock", Endpoint: up.URL}}
		c.Routes = []config.Route{{Provider: "aws"}}
	})
	rc := srv.runtime(t)
	ctx := t.Context()
	const profile = "us.meta.llama3-1-405b-instruct-v1:0"
	body := []byte(`{"prompt":"hi","max_gen_len":900}`)

	for i, tc := range []struct {
		name   string
		served string
		invoke bool
		in     string // USD per 1K input tokens
		out    string
	}{
		{"Converse served optimized", "optimized", false, "0.003", "0.003"},
		{"Converse asked optimized, served standard", "standard", false, "0.0024", "0.0024"},
		{"InvokeModel served optimized", "optimized", true, "0.003", "0.003"},
		{"InvokeModel asked optimized, served standard", "standard", true, "0.0024", "0.0024"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake.mu.Lock()
			fake.serve = tc.served
			fake.mu.Unlock()
			if tc.invoke {
				out, err := rc.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(profile), Body: body,
					ContentType: aws.String("application/json"), PerformanceConfigLatency: rt.PerformanceConfigLatencyOptimized})
				if err != nil {
					t.Fatal(err)
				}
				if got := string(out.PerformanceConfigLatency); got != tc.served {
					t.Errorf("PerformanceConfigLatency = %q, want %q", got, tc.served)
				}
			} else {
				out, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(profile), Messages: userText("hi"),
					PerformanceConfig: &rt.PerformanceConfiguration{Latency: rt.PerformanceConfigLatencyOptimized}})
				if err != nil {
					t.Fatal(err)
				}
				if out.PerformanceConfig == nil || string(out.PerformanceConfig.Latency) != tc.served {
					t.Errorf("PerformanceConfig = %+v, want latency %q", out.PerformanceConfig, tc.served)
				}
			}
			fake.mu.Lock()
			asked := fake.asked[len(fake.asked)-1]
			fake.mu.Unlock()
			if asked != "optimized" {
				t.Errorf("Bedrock was asked for latency %q, want optimized", asked)
			}

			recs, err := srv.DB.Records(ctx, ledger.Query{})
			if err != nil || len(recs) != i+1 {
				t.Fatalf("%d records, %v; want %d", len(recs), err, i+1)
			}
			r := recs[len(recs)-1]
			for _, x := range recs {
				if x.Time.After(r.Time) || (x.Time.Equal(r.Time) && x.RequestID > r.RequestID) {
					r = x
				}
			}
			if want := tc.served == "optimized"; r.LatencyOptimized != want || !r.Priced {
				t.Fatalf("record LatencyOptimized = %v, Priced = %v; want %v, true", r.LatencyOptimized, r.Priced, want)
			}
			wantIn := money.PerThousand(money.MustParse(tc.in)).Cost(2000)
			wantOut := money.PerThousand(money.MustParse(tc.out)).Cost(800)
			if r.InputCost != wantIn || r.OutputCost != wantOut || r.Cost != wantIn+wantOut {
				t.Errorf("costs %v + %v = %v, want %v + %v (at $%s / $%s per 1K)", r.InputCost, r.OutputCost, r.Cost, wantIn, wantOut, tc.in, tc.out)
			}
			for _, l := range pricing.UsageTypes(&r) {
				if got := strings.HasSuffix(l.UsageType, "-latency-optimized"); got != r.LatencyOptimized {
					t.Errorf("usage type %s for a call served %s", l.UsageType, tc.served)
				}
			}
		})
	}
}
