package invoke_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/invoke"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/provider/sim"
)

// servesLatency is the simulator saying, in its stream's metadata event,
// which latency mode served the call ("" says nothing).
type servesLatency struct {
	*sim.Provider
	mode string
}

func (p servesLatency) ConverseStream(ctx context.Context, c converse.Call, req *converse.Request, emit func(converse.StreamEvent) error) (converse.Usage, error) {
	return p.Provider.ConverseStream(ctx, c, req, func(ev converse.StreamEvent) error {
		if ev.Metadata != nil && p.mode != "" {
			ev.Metadata.PerformanceConfig, _ = json.Marshal(map[string]string{"latency": p.mode})
		}
		return emit(ev)
	})
}

// TestStreamLatencyServed checks that a ConverseStream call is recorded
// latency-optimized, and priced at Llama 3.1 405B's latency-optimized
// rate, exactly when the stream's metadata says optimized inference
// served it.
func TestStreamLatencyServed(t *testing.T) {
	const llama405 = "us.meta.llama3-1-405b-instruct-v1:0"
	for _, tc := range []struct {
		mode      string
		optimized bool
		in, out   string // USD per 1K tokens
	}{
		{"optimized", true, "0.003", "0.003"},
		{"standard", false, "0.0024", "0.0024"},
		{"", false, "0.0024", "0.0024"},
	} {
		t.Run("served "+tc.mode, func(t *testing.T) {
			svc, p := newService(t, invoke.Config{}, servesLatency{sim.New(sim.Config{}), tc.mode})
			req := request("tell me about floods")
			req.PerformanceConfig = json.RawMessage(`{"latency":"optimized"}`)
			err := svc.ConverseStream(t.Context(), invoke.Caller{RequestID: "r1", Account: account}, llama405, req,
				func(converse.StreamEvent) error { return nil })
			if err != nil {
				t.Fatal(err)
			}
			r := onlyRecord(t, p)
			if r.LatencyOptimized != tc.optimized || !r.Priced {
				t.Fatalf("LatencyOptimized = %v, Priced = %v; want %v, true", r.LatencyOptimized, r.Priced, tc.optimized)
			}
			wantIn := money.PerThousand(money.MustParse(tc.in)).Cost(r.InputTokens)
			wantOut := money.PerThousand(money.MustParse(tc.out)).Cost(r.OutputTokens)
			if r.InputCost != wantIn || r.OutputCost != wantOut {
				t.Errorf("costs %v / %v, want %v / %v", r.InputCost, r.OutputCost, wantIn, wantOut)
			}
		})
	}
}

// TestConverseOnlyFamily checks a model whose native body Tollgate has no
// codec for (gpt-oss): Converse serves and prices it; InvokeModel on it
// is a ValidationException and records nothing billable.
func TestConverseOnlyFamily(t *testing.T) {
	const gptOSS = "openai.gpt-oss-120b-1:0"
	svc, p := newService(t, invoke.Config{}, sim.New(sim.Config{}))
	caller := invoke.Caller{RequestID: "c1", Account: account}
	if _, err := svc.Converse(t.Context(), caller, gptOSS, request("hello")); err != nil {
		t.Fatalf("Converse: %v", err)
	}
	r := onlyRecord(t, p)
	want := money.PerThousand(money.MustParse("0.00015")).Cost(r.InputTokens) + money.PerThousand(money.MustParse("0.0006")).Cost(r.OutputTokens)
	if !r.Priced || r.Cost != want {
		t.Errorf("Converse record priced %v at %v, want %v", r.Priced, r.Cost, want)
	}
	_, err := svc.InvokeModel(t.Context(), invoke.Caller{RequestID: "c2", Account: account}, gptOSS,
		converse.NativeRequest{Body: []byte(`{"messages":[{"role":"user","content":"hello"}]}`)})
	if !errkind.Is(err, errkind.Invalid) {
		t.Fatalf("InvokeModel: %v, want a ValidationException", err)
	}
	for _, r := range p.records(t) {
		if r.RequestID == "c2" && r.Cost != 0 {
			t.Errorf("the refused InvokeModel cost %v", r.Cost)
		}
	}
}
