package export_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/export"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/pricing"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// TestExportPriceDimensions exports calls of every price dimension and a
// reserved-capacity hour: one line item per usage type per hour and
// resource, each with the rate the call was priced at, the fixed line in
// hours, and the line items summing to the ledger to the nano-dollar.
func TestExportPriceDimensions(t *testing.T) {
	cat := catalog.Default()
	hour := time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC)
	profile := "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/dimsprof0001"
	tg := tags.Set{"dept": "claims"}
	var recs []ledger.Record
	add := func(model, scope, tier string, u pricing.Usage) {
		t.Helper()
		q, ok := pricing.Price(cat, pricing.Call{ModelID: model, At: hour, Region: "us-east-1", Scope: scope, Tier: tier, Usage: u})
		if !ok {
			t.Fatalf("%s %s %s unpriced", model, scope, tier)
		}
		r := ledger.Record{RequestID: "r" + string(rune('a'+len(recs))), Time: hour.Add(time.Duration(len(recs)) * time.Minute),
			Account: "111111111111", Region: "us-east-1", RegionServed: "us-east-1", ProfileARN: profile, ModelID: model,
			Operation: "Converse", Outcome: ledger.OutcomeSuccess, ServiceTier: tier, LongContext: q.LongContext, Priced: true,
			InputTokens: u.Input, OutputTokens: u.Output, CacheReadTokens: u.CacheRead, CacheWriteTokens: u.CacheWrite,
			CacheWrite1hTokens: u.CacheWrite1h, InputCost: q.Costs[pricing.Input], OutputCost: q.Costs[pricing.Output],
			CacheReadCost: q.Costs[pricing.CacheRead], CacheWriteCost: q.Costs[pricing.CacheWrite],
			CacheWrite1hCost: q.Costs[pricing.CacheWrite1h], Cost: q.Total, PriceVersion: q.Version, Tags: tg}
		if scope != catalog.ScopeInRegion {
			r.Scope = scope
		}
		recs = append(recs, r)
	}
	const sonnet45, sonnet4 = "anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-sonnet-4-20250514-v1:0"
	add(sonnet45, catalog.ScopeGlobal, "", pricing.Usage{Input: 1200, Output: 300, CacheWrite1h: 5000})
	add(sonnet45, catalog.ScopeGlobal, "", pricing.Usage{Input: 800, Output: 100, CacheRead: 5000})
	add(sonnet45, catalog.ScopeGeo, "default", pricing.Usage{Input: 1000, Output: 200, CacheWrite: 700})
	add(sonnet4, catalog.ScopeInRegion, "", pricing.Usage{Input: 250_000, Output: 900})
	recs = append(recs, ledger.Record{RequestID: "fixed", Time: hour, Account: "111111111111", Region: "us-east-1",
		RegionServed: "us-east-1", ProfileARN: profile, ModelID: sonnet45, Operation: ledger.OpFixedCost, ServiceTier: "reserved",
		Outcome: ledger.OutcomeSuccess, Priced: true, FixedCost: 2_500_000_000, Cost: 2_500_000_000, Tags: tg})
	// Image calls: two of premium 2048 images (one of 2, one of 1), one of
	// a standard 1024 image, in the same hour and resource.
	const canvas = "amazon.nova-canvas-v1:0"
	image := func(id, quality string, side, n int64) {
		q, ok := pricing.Price(cat, pricing.Call{ModelID: canvas, At: hour, Region: "us-east-1",
			Units: pricing.UnitUsage{Unit: catalog.UnitImage, Quality: quality, Pixels: side * side, Count: n}})
		if !ok {
			t.Fatalf("%s unpriced", id)
		}
		recs = append(recs, ledger.Record{RequestID: id, Time: hour.Add(30 * time.Minute), Account: "111111111111", Region: "us-east-1",
			RegionServed: "us-east-1", ProfileARN: profile, ModelID: canvas, Operation: "InvokeModel", Outcome: ledger.OutcomeSuccess,
			Priced: true, Units: q.Units, UnitKind: q.Unit.Kind(), UnitCost: q.UnitCost, Cost: q.Total, PriceVersion: q.Version, Tags: tg})
	}
	image("img1", "premium", 2048, 2)
	image("img2", "premium", 2048, 1)
	image("img3", "standard", 1024, 1)

	var c collect
	stats, err := export.Run(t.Context(), export.SliceSource(costquery.RollupRecords(recs)), export.Options{From: hour, To: hour.Add(time.Hour),
		Granularity: costquery.Hourly, Namer: costquery.NewNamer(cat), Catalog: cat}, &c)
	if err != nil {
		t.Fatal(err)
	}
	type item struct {
		Unit         string
		Tokens       int64
		Cost         money.Amount
		Rate         money.PerThousand
		Rated, Fixed bool
	}
	got := map[string]item{}
	for _, li := range c.items {
		if _, dup := got[li.UsageType]; dup {
			t.Errorf("usage type %s appears twice in one hour and resource", li.UsageType)
		}
		got[li.UsageType] = item{li.Unit(), li.Tokens, li.Cost, li.Rate, li.Rated, li.Fixed}
	}
	r := func(s string) money.PerThousand { return money.PerThousand(money.MustParse(s)) }
	want := map[string]item{
		// Claude is billed through AWS Marketplace: legacy-scheme usage
		// types, priced per million tokens.
		"USE1-MP:USE1_InputTokenCount_Global-Units":             {"1M tokens", 2000, recs[0].InputCost + recs[1].InputCost, r("0.003"), true, false},
		"USE1-MP:USE1_OutputTokenCount_Global-Units":            {"1M tokens", 400, recs[0].OutputCost + recs[1].OutputCost, r("0.015"), true, false},
		"USE1-MP:USE1_CacheWrite1hInputTokenCount_Global-Units": {"1M tokens", 5000, recs[0].CacheWrite1hCost, r("0.006"), true, false},
		"USE1-MP:USE1_CacheReadInputTokenCount_Global-Units":    {"1M tokens", 5000, recs[1].CacheReadCost, r("0.0003"), true, false},
		"USE1-MP:USE1_InputTokenCount-Units":                    {"1M tokens", 1000, recs[2].InputCost, r("0.0033"), true, false},
		"USE1-MP:USE1_OutputTokenCount-Units":                   {"1M tokens", 200, recs[2].OutputCost, r("0.0165"), true, false},
		"USE1-MP:USE1_CacheWriteInputTokenCount-Units":          {"1M tokens", 700, recs[2].CacheWriteCost, r("0.004125"), true, false},
		"USE1-MP:USE1_InputTokenCount_LCtx-Units":               {"1M tokens", 250_000, recs[3].InputCost, r("0.006"), true, false},
		"USE1-MP:USE1_OutputTokenCount_LCtx-Units":              {"1M tokens", 900, recs[3].OutputCost, r("0.0225"), true, false},
		"USE1-Claude4.5Sonnet-reserved-capacity-hours":          {"Hrs", 1000, 2_500_000_000, 0, false, true},
		"USE1-NovaCanvas-image-premium-2048x2048":               {"Image", 3000, 240_000_000, r("0.08"), true, false},
		"USE1-NovaCanvas-image-standard-1024x1024":              {"Image", 1000, 40_000_000, r("0.04"), true, false},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("line items by usage type (-got +want):\n%s", diff)
	}
	var ledgerSum money.Amount
	for _, rec := range recs {
		ledgerSum += rec.Cost
	}
	if stats.Cost != ledgerSum {
		t.Errorf("export sums to %v, ledger to %v", stats.Cost, ledgerSum)
	}
}
