package invoke_test

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/budget"
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/invoke"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/provider/sim"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

const (
	haiku = "anthropic.claude-3-haiku-20240307-v1:0"
	nova  = "amazon.nova-micro-v1:0"
)

// simRouter routes every model and region to one simulator.
func simRouter(cfg sim.Config) invoke.Router {
	p := sim.New(cfg)
	return func(catalog.Model, string) (invoke.Route, bool) { return invoke.Route{Name: "sim", Provider: p}, true }
}

// TestModelIDForms calls through every form a modelId takes and checks
// what the ledger recorded for each.
func TestModelIDForms(t *testing.T) {
	p := newPipeline(t)
	svc := p.service(t, invoke.Config{}, simRouter(sim.Config{}))
	app, err := p.profiles.Create(t.Context(), profile.CreateInput{Account: account, Name: "claims-chat",
		CopyFrom: "arn:aws:bedrock:us-east-1:" + account + ":inference-profile/" + usHaiku,
		Tags:     []tags.Tag{{Key: "dept", Value: "claims"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, modelID string
		wantProfile   string // the recorded profile ARN
		wantErr       errkind.Kind
	}{
		{name: "foundation model id", modelID: haiku},
		{name: "foundation model ARN", modelID: "arn:aws:bedrock:us-east-1::foundation-model/" + haiku},
		{name: "system profile id", modelID: usHaiku, wantProfile: "arn:aws:bedrock:us-east-1:" + account + ":inference-profile/" + usHaiku},
		{name: "application profile ARN", modelID: app.ARN, wantProfile: app.ARN},
		{name: "application profile id", modelID: app.ID, wantProfile: app.ARN},
		{name: "unknown model", modelID: "anthropic.claude-0", wantErr: errkind.Invalid}, // Bedrock: "The provided model identifier is invalid."
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "req-" + tc.name
			_, err := svc.Converse(t.Context(), invoke.Caller{RequestID: id, Account: account}, tc.modelID, request("hello"))
			if tc.wantErr != 0 {
				if errkind.KindOf(err) != tc.wantErr {
					t.Fatalf("Converse(%s) = %v, want kind %v", tc.modelID, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got *ledger.Record
			for _, r := range p.records(t) {
				if r.RequestID == id {
					got = &r
				}
			}
			if got == nil {
				t.Fatal("no record")
			}
			if got.ModelID != haiku || got.ProfileARN != tc.wantProfile || got.Outcome != ledger.OutcomeSuccess || !got.Priced || got.Cost <= 0 {
				t.Errorf("record: model %s, profile %q, outcome %s, priced %v, cost %v; want %s, %q, success, priced",
					got.ModelID, got.ProfileARN, got.Outcome, got.Priced, got.Cost, haiku, tc.wantProfile)
			}
			if tc.wantProfile == app.ARN && got.Tags["dept"] != "claims" {
				t.Errorf("record tags %v, want the profile's", got.Tags)
			}
		})
	}
}

// TestBudgetAdmission runs calls through a real budget service over the
// same store: a DOWNGRADE budget moves calls to another model once its
// spend reaches the threshold, and a BLOCK budget refuses them, each
// refusal recorded without cost.
func TestBudgetAdmission(t *testing.T) {
	p := newPipeline(t)
	budgets, err := budget.NewService(t.Context(), budget.Config{Store: p.db, Source: p.db, Catalog: p.catalog})
	if err != nil {
		t.Fatal(err)
	}
	svc := p.service(t, invoke.Config{Admitter: budgets}, simRouter(sim.Config{}))
	tiny := int64(money.Amount(1000)) // a millionth of a dollar: one call passes it
	create := func(name string, a budget.Action) {
		t.Helper()
		if err := budgets.Create(t.Context(), budget.Budget{Account: account, Name: name, Type: budget.Cost, Unit: "USD",
			TimeUnit: budget.Monthly, Limit: tiny, Actions: []budget.Action{a}}); err != nil {
			t.Fatal(err)
		}
	}
	caller := func(id string) invoke.Caller { return invoke.Caller{RequestID: id, Account: account} }

	t.Run("downgrade", func(t *testing.T) {
		create("downgrade", budget.Action{Type: budget.Downgrade, Threshold: 100, ThresholdType: budget.Percentage, Model: nova})
		for _, id := range []string{"d1", "d2"} {
			if _, err := svc.Converse(t.Context(), caller(id), haiku, request("hello")); err != nil {
				t.Fatal(err)
			}
		}
		got := map[string]string{}
		for _, r := range p.records(t) {
			got[r.RequestID] = r.ModelID
		}
		if got["d1"] != haiku || got["d2"] != nova {
			t.Errorf("models recorded: d1 %s, d2 %s; want %s, then the downgrade %s", got["d1"], got["d2"], haiku, nova)
		}
	})
	t.Run("block", func(t *testing.T) {
		create("block", budget.Action{Type: budget.Block, Threshold: 100, ThresholdType: budget.Percentage})
		_, err := svc.Converse(t.Context(), caller("b1"), haiku, request("hello"))
		if errkind.KindOf(err) != errkind.QuotaExceeded {
			t.Fatalf("Converse past a BLOCK budget = %v, want QuotaExceeded", err)
		}
		for _, r := range p.records(t) {
			if r.RequestID == "b1" && (r.Outcome != ledger.OutcomeClientError || r.Cost != 0 || r.Attempts != 0) {
				t.Errorf("refusal recorded as %s, cost %v, %d attempts; want a client error, no cost, no attempt", r.Outcome, r.Cost, r.Attempts)
			}
		}
	})
}

// TestCancelledStreamRecorded checks that a stream the client abandons
// is still recorded, durably, with the tokens it consumed and produced.
func TestCancelledStreamRecorded(t *testing.T) {
	p := newPipeline(t)
	svc := p.service(t, invoke.Config{}, simRouter(sim.Config{TokensPerSecond: 2000}))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	n := 0
	err := svc.ConverseStream(ctx, invoke.Caller{RequestID: "gone", Account: account}, haiku, request("tell me about floods"),
		func(converse.StreamEvent) error {
			if n++; n == 4 {
				cancel()
			}
			return nil
		})
	if err == nil {
		t.Fatal("the abandoned stream reported success")
	}
	r := onlyRecord(t, p)
	if r.Outcome != ledger.OutcomeCancelled || r.InputTokens == 0 || r.OutputTokens == 0 || r.Cost <= 0 {
		t.Errorf("record: outcome %s, %d in, %d out, cost %v; want cancelled with the tokens so far, billed",
			r.Outcome, r.InputTokens, r.OutputTokens, r.Cost)
	}
	if r.LatencyMs > time.Minute.Milliseconds() {
		t.Errorf("latency %d ms", r.LatencyMs)
	}
}
