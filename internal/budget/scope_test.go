package budget

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

func TestFromCostFilters(t *testing.T) {
	for _, tc := range []struct {
		name string
		cf   map[string][]string
		want *costquery.Expr
		err  bool
	}{
		{name: "none", cf: nil, want: nil},
		{name: "one tag", cf: map[string][]string{"TagKeyValue": {"user:dept$claims"}},
			want: &costquery.Expr{Tags: &costquery.Values{Key: "dept", Values: []string{"claims"}}}},
		{name: "two tag keys are ORed", cf: map[string][]string{"TagKeyValue": {"user:dept$claims", "user:app$chat", "user:dept$sales"}},
			want: &costquery.Expr{Or: []costquery.Expr{
				{Tags: &costquery.Values{Key: "dept", Values: []string{"claims", "sales"}}},
				{Tags: &costquery.Values{Key: "app", Values: []string{"chat"}}},
			}}},
		{name: "keys are ANDed", cf: map[string][]string{"Region": {"us-east-1"}, "Service": {"Amazon Bedrock"}},
			want: &costquery.Expr{And: []costquery.Expr{
				{Dimensions: &costquery.Values{Key: "REGION", Values: []string{"us-east-1"}}},
				{Dimensions: &costquery.Values{Key: "SERVICE", Values: []string{"Amazon Bedrock"}}},
			}}},
		{name: "tag without $", cf: map[string][]string{"TagKeyValue": {"user:dept"}}, err: true},
		{name: "unsupported key", cf: map[string][]string{"AZ": {"us-east-1a"}}, err: true},
		{name: "empty values", cf: map[string][]string{"Region": {}}, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FromCostFilters(tc.cf)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if diff := cmp.Diff(got, tc.want); diff != "" && !tc.err {
				t.Errorf("(-got +want):\n%s", diff)
			}
		})
	}
}

// randomExpr returns a random valid expression over the dimensions and
// tags the records of randomRecord use.
func randomExpr(rng *rand.Rand, depth int) costquery.Expr {
	opts := [][]costquery.MatchOption{nil, {costquery.Equals}, {costquery.StartsWith}, {costquery.Contains, costquery.CaseInsensitive}, {costquery.EndsWith}}
	switch k := rng.IntN(8); {
	case depth > 0 && k == 0:
		return costquery.Expr{And: []costquery.Expr{randomExpr(rng, depth-1), randomExpr(rng, depth-1)}}
	case depth > 0 && k == 1:
		return costquery.Expr{Or: []costquery.Expr{randomExpr(rng, depth-1), randomExpr(rng, depth-1)}}
	case depth > 0 && k == 2:
		e := randomExpr(rng, depth-1)
		return costquery.Expr{Not: &e}
	case k <= 4:
		dims := map[string][]string{
			costquery.DimRegion:    {"us-east-1", "us-west-2", "NoRegion", "us-"},
			costquery.DimOperation: {"Converse", "InvokeModel", "Converse"},
			costquery.DimModel:     {"anthropic.claude-3-haiku-20240307-v1:0", "amazon.nova-lite-v1:0", "anthropic"},
			costquery.DimUsageType: {"USE1-Claude3Haiku-input-tokens", "output-tokens", "USW2-NovaLite-output-tokens",
				"USE1-Claude3Haiku-input-tokens-flex", "-cross-region-global", "USE1-NovaLite-cache-write-input-token-count-1-hour",
				"-long-context", "tokens-priority-cross-region-global", "-latency-optimized", "USE1-Claude3Haiku-reserved-capacity-hours",
				"USW2-Claude3Haiku-output-tokens-reserved", "USE1-NovaCanvas-image-premium-2048x2048", "image-standard",
				"USE1-MP:USE1_InputTokenCount-Units", "MP:"},
			costquery.DimServiceTier:   {"flex", "default", "priority", "reserved"},
			costquery.DimLinkedAccount: {"111111111111", "222222222222"},
			costquery.DimResourceID:    {"arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/aaaaaaaaaaaa", "arn:aws:bedrock:us-west-2::foundation-model/", "foundation-model"},
			costquery.DimService:       {"Amazon Bedrock", "Amazon EC2"},
		}
		keys := []string{costquery.DimRegion, costquery.DimOperation, costquery.DimModel, costquery.DimUsageType, costquery.DimLinkedAccount,
			costquery.DimResourceID, costquery.DimService, costquery.DimUsageType, costquery.DimServiceTier}
		key := keys[rng.IntN(len(keys))]
		vals := dims[key]
		n := 1 + rng.IntN(2)
		var pick []string
		for range n {
			pick = append(pick, vals[rng.IntN(len(vals))])
		}
		return costquery.Expr{Dimensions: &costquery.Values{Key: key, Values: pick, MatchOptions: opts[rng.IntN(len(opts))]}}
	default:
		if rng.IntN(10) == 0 {
			return costquery.Expr{Tags: &costquery.Values{MatchOptions: []costquery.MatchOption{costquery.Absent}}}
		}
		key := []string{"dept", "user:team", "env"}[rng.IntN(3)]
		vals := []string{"claims", "sales", "", "CLAIMS", "cl"}
		v := &costquery.Values{Key: key, Values: []string{vals[rng.IntN(len(vals))]}, MatchOptions: opts[rng.IntN(len(opts))]}
		if rng.IntN(4) == 0 {
			v.MatchOptions = append(v.MatchOptions, costquery.Absent)
		}
		return costquery.Expr{Tags: v}
	}
}

var t0 = time.Date(2026, 11, 10, 14, 0, 0, 0, time.UTC)

func randomRecord(rng *rand.Rand, i int) ledger.Record {
	accounts := []string{"111111111111", "222222222222"}
	models := []string{"anthropic.claude-3-haiku-20240307-v1:0", "amazon.nova-lite-v1:0"}
	sets := []tags.Set{{"dept": "claims", "team": "a"}, {"dept": "sales"}, {}, {"dept": ""}, {"env": "prod", "team": "b"}}
	r := ledger.Record{
		RequestID: fmt.Sprintf("r%d", i), Time: t0.Add(time.Duration(rng.IntN(3600)) * time.Second),
		Account: accounts[rng.IntN(2)], RegionServed: []string{"us-east-1", "us-west-2", ""}[rng.IntN(3)],
		ModelID: models[rng.IntN(2)], Operation: []string{"Converse", "InvokeModel", "ConverseStream"}[rng.IntN(3)],
		Tags: sets[rng.IntN(len(sets))], Priced: rng.IntN(8) != 0,
		InputTokens: int64(rng.IntN(500)), OutputTokens: int64(rng.IntN(300)), CacheReadTokens: int64(rng.IntN(3) * 50),
	}
	if rng.IntN(2) == 0 {
		r.ProfileARN = "arn:aws:bedrock:us-east-1:" + r.Account + ":application-inference-profile/aaaaaaaaaaaa"
	}
	// The price dimensions: the source region (which names the usage
	// types; "" in records that predate it), the scope, the tier served,
	// long context, latency optimization and both cache-write TTLs.
	r.Region = []string{"us-east-1", "us-east-1", "us-west-2", ""}[rng.IntN(4)]
	r.Scope = []string{"", "geo", "global"}[rng.IntN(3)]
	r.ServiceTier = []string{"default", "flex", "priority", "reserved", ""}[rng.IntN(5)]
	r.LongContext, r.LatencyOptimized = rng.IntN(4) == 0, rng.IntN(4) == 0
	r.CacheWriteTokens, r.CacheWrite1hTokens = int64(rng.IntN(2)*40), int64(rng.IntN(2)*30)
	if r.Priced {
		r.InputCost, r.OutputCost, r.CacheReadCost = money.Amount(r.InputTokens*250), money.Amount(r.OutputTokens*1250), money.Amount(r.CacheReadTokens*25)
		r.CacheWriteCost, r.CacheWrite1hCost = money.Amount(r.CacheWriteTokens*300), money.Amount(r.CacheWrite1hTokens*500)
		r.Cost = r.LineSum()
	}
	if rng.IntN(12) == 0 {
		// An hour of a reserved-capacity commitment: a fixed-cost line only.
		r = ledger.Record{RequestID: r.RequestID, Time: r.Time, Account: r.Account, Region: r.Region, RegionServed: r.Region,
			ProfileARN: r.ProfileARN, ModelID: r.ModelID, Operation: ledger.OpFixedCost, ServiceTier: "reserved", Tags: r.Tags,
			Outcome: ledger.OutcomeSuccess, Priced: true, FixedCost: 7_000_000_000, Cost: 7_000_000_000}
	}
	if r.FixedCost == 0 && rng.IntN(4) == 0 {
		// An image call: images of one per-image price, no tokens.
		r.ModelID, r.Operation = "amazon.nova-canvas-v1:0", "InvokeModel"
		r.InputTokens, r.OutputTokens, r.CacheReadTokens, r.CacheWriteTokens, r.CacheWrite1hTokens = 0, 0, 0, 0, 0
		r.InputCost, r.OutputCost, r.CacheReadCost, r.CacheWriteCost, r.CacheWrite1hCost, r.Cost = 0, 0, 0, 0, 0, 0
		r.Units = int64(1 + rng.IntN(5))
		r.UnitKind = []string{"image-premium-2048x2048", "image-standard-1024x1024"}[rng.IntN(2)]
		if r.Priced {
			r.UnitCost = money.Amount(r.Units * 60_000_000)
			r.Cost = r.UnitCost
		}
	}
	return r
}

// TestScopeAgreesWithCostExplorer checks that a budget's live spend of a
// record equals what the Cost Explorer engine sums from its rollup for the
// same filter (so the counter rebuilt at start and the counter advanced
// per call agree), and that admission never rules out a budget whose
// scope turns out to include the call.
func TestScopeAgreesWithCostExplorer(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	namer := costquery.NewNamer(catalog.Default())
	var checked, spent int
	for i := range 3000 {
		e := randomExpr(rng, 3)
		typ := Cost
		if i%4 == 0 {
			typ = Usage
		}
		b := &Budget{Account: "111111111111", Type: typ, Filter: &e}
		mgmt := ""
		if i%2 == 0 {
			mgmt = "111111111111"
		}
		sc, err := newScope(b, mgmt, namer)
		if err != nil {
			continue // an invalid random combination (e.g. ABSENT with STARTS_WITH and no values)
		}
		r := randomRecord(rng, i)
		got := sc.Spend(&r)
		checked++
		if got != 0 {
			spent++
		}
		rolls := costquery.RollupRecords([]ledger.Record{r})
		if !sc.all {
			if r.Account != sc.account {
				rolls = nil
			}
		}
		h := r.Time.Truncate(time.Hour)
		res, err := costquery.Aggregate(rolls, costquery.Query{From: h, To: h.Add(time.Hour), Granularity: costquery.Hourly, Filter: sc.expr}, namer)
		if err != nil {
			t.Fatalf("Aggregate(%+v): %v", e, err)
		}
		want := int64(res.Periods[0].Total.Cost)
		if typ == Usage {
			want = res.Periods[0].Total.Usage
		}
		if got != want {
			t.Fatalf("expr %s, record %+v: Spend = %d, Cost Explorer = %d", show(&e), r, got, want)
		}
		if r.Operation == ledger.OpFixedCost {
			continue // no call: nothing to admit
		}
		// Admission knows the source region and the scope; the tier once
		// the call asks for one (here the tier that served, or a higher
		// one that Standard served instead).
		l := line{account: r.Account, profileARN: r.ProfileARN, model: r.ModelID, tags: r.Tags, source: r.Region, scope: r.Scope}
		if i%3 == 0 {
			// A profile routing to the served region and another.
			l.regions = []string{r.RegionServed, "eu-west-1"}
		}
		if got != 0 && sc.admits(&l) == no {
			t.Fatalf("expr %s, record %+v: admission rules the budget out, but the call spends %d in it", show(&e), r, got)
		}
		l.operation, l.opKnown = r.Operation, true
		if got != 0 && sc.admits(&l) == no {
			t.Fatalf("expr %s, record %+v: admission with the operation rules the budget out, but the call spends %d in it", show(&e), r, got)
		}
		l.tier, l.tierKnown = r.ServiceTier, r.ServiceTier != ""
		if r.ServiceTier == catalog.TierDefault && i%5 == 0 {
			l.tier = catalog.TierPriority
		}
		if got != 0 && sc.admits(&l) == no {
			t.Fatalf("expr %s, record %+v: admission asking tier %q rules the budget out, but the call spends %d in it", show(&e), r, l.tier, got)
		}
	}
	if checked < 2000 || spent < checked/5 || spent > checked*4/5 {
		t.Errorf("%d expressions checked, %d with spend: the generator no longer exercises both outcomes", checked, spent)
	}
}

func show(e *costquery.Expr) string {
	switch {
	case e.And != nil:
		return "And(" + show(&e.And[0]) + ", " + show(&e.And[1]) + ")"
	case e.Or != nil:
		return "Or(" + show(&e.Or[0]) + ", " + show(&e.Or[1]) + ")"
	case e.Not != nil:
		return "Not(" + show(e.Not) + ")"
	case e.Dimensions != nil:
		return fmt.Sprintf("Dim(%s %q %v)", e.Dimensions.Key, e.Dimensions.Values, e.Dimensions.MatchOptions)
	}
	return fmt.Sprintf("Tag(%s %q %v)", e.Tags.Key, e.Tags.Values, e.Tags.MatchOptions)
}

// TestScopeFullUsageTypes checks a budget filtered on one AWS usage type,
// with each suffix a price dimension adds, against records of each
// variant: Spend counts exactly the lines billed under that usage type,
// Cost Explorer over the rollups counts the same, and admission rules a
// call out only when no usage type it may bill under matches.
func TestScopeFullUsageTypes(t *testing.T) {
	// Nova Pro is billed under Bedrock's own usage types (Claude under
	// AWS Marketplace ones: TestMarketplaceUsageTypes in internal/pricing).
	const novaPro = "amazon.nova-pro-v1:0" // "NovaPro" in usage types
	namer := costquery.NewNamer(catalog.Default())
	// Every record is made to us-east-1 (USE1) and served in us-west-2:
	// usage types name the source region.
	rec := func(id, scope, tier string, long, latency bool) ledger.Record {
		return ledger.Record{RequestID: id, Time: t0, Account: "111111111111", Region: "us-east-1", RegionServed: "us-west-2",
			ModelID: novaPro, Operation: "Converse", Outcome: ledger.OutcomeSuccess, Priced: true,
			Scope: scope, ServiceTier: tier, LongContext: long, LatencyOptimized: latency,
			InputTokens: 1000, OutputTokens: 100, CacheWriteTokens: 20, CacheWrite1hTokens: 50,
			InputCost: 1000, OutputCost: 500, CacheWriteCost: 40, CacheWrite1hCost: 300, Cost: 1840}
	}
	recs := []ledger.Record{
		rec("standard", "", "default", false, false),
		rec("flex", "", "flex", false, false),
		rec("priority-global", "global", "priority", false, false),
		rec("geo", "geo", "default", false, false),
		rec("long-global", "global", "default", true, false),
		rec("latency", "", "default", false, true),
		rec("reserved", "", "reserved", false, false),
		rec("long-flex-global", "global", "flex", true, false),
	}
	const input, output, write1h = 1000, 500, 300
	for _, tc := range []struct {
		usageType string
		want      map[string]int64 // request id -> cost in scope
	}{
		{"USE1-NovaPro-input-tokens", map[string]int64{"standard": input, "geo": input}},
		{"USE1-NovaPro-input-tokens-flex", map[string]int64{"flex": input}},
		{"USE1-NovaPro-output-tokens-priority-cross-region-global", map[string]int64{"priority-global": output}},
		{"USE1-NovaPro-input-tokens-long-context-cross-region-global", map[string]int64{"long-global": input}},
		{"USE1-NovaPro-input-tokens-latency-optimized", map[string]int64{"latency": input}},
		{"USE1-NovaPro-input-tokens-reserved", map[string]int64{"reserved": input}},
		{"USE1-NovaPro-cache-write-input-token-count-1-hour", map[string]int64{"standard": write1h, "geo": write1h}},
		{"USE1-NovaPro-cache-write-input-token-count-1-hour-flex", map[string]int64{"flex": write1h}},
		{"USE1-NovaPro-input-tokens-long-context-flex-cross-region-global", map[string]int64{"long-flex-global": input}},
		{"USW2-NovaPro-input-tokens", nil}, // the region served names no usage type
	} {
		t.Run(tc.usageType, func(t *testing.T) {
			e := costquery.Expr{Dimensions: &costquery.Values{Key: costquery.DimUsageType, Values: []string{tc.usageType}}}
			sc, err := newScope(&Budget{Account: "111111111111", Type: Cost, Filter: &e}, "", namer)
			if err != nil {
				t.Fatal(err)
			}
			var total int64
			for _, r := range recs {
				got := sc.Spend(&r)
				if got != tc.want[r.RequestID] {
					t.Errorf("Spend(%s) = %d, want %d", r.RequestID, got, tc.want[r.RequestID])
				}
				total += got
			}
			res, err := costquery.Aggregate(costquery.RollupRecords(recs), costquery.Query{From: t0.Truncate(time.Hour), To: t0.Add(time.Hour),
				Granularity: costquery.Hourly, Filter: sc.expr}, namer)
			if err != nil {
				t.Fatal(err)
			}
			if ce := int64(res.Periods[0].Total.Cost); ce != total {
				t.Errorf("Cost Explorer over the rollups = %d, Spend = %d", ce, total)
			}
		})
	}

	// Admission: a call about to run from us-east-1 through a profile of
	// the given scope, asking the given tier ("" before the call names
	// one), may bill under several usage types.
	for _, tc := range []struct {
		name, match, value, scope, tier string
		want                            tri
	}{
		{"flex filter, call asking flex", "", "USE1-NovaPro-input-tokens-flex", "", "flex", maybe},
		{"flex filter, call asking Standard", "", "USE1-NovaPro-input-tokens-flex", "", "default", no},
		{"flex filter, call asking priority", "", "USE1-NovaPro-input-tokens-flex", "", "priority", no},
		{"flex filter, tier not known yet", "", "USE1-NovaPro-input-tokens-flex", "", "", maybe},
		{"flex filter, global call", "", "USE1-NovaPro-input-tokens-flex", "global", "flex", no},
		{"global filter, in-region call", "", "USE1-NovaPro-input-tokens-cross-region-global", "", "default", no},
		{"global filter, geo call", "", "USE1-NovaPro-input-tokens-cross-region-global", "geo", "default", no},
		{"global filter, global call", "", "USE1-NovaPro-input-tokens-cross-region-global", "global", "default", maybe},
		{"plain filter, global call", "", "USE1-NovaPro-input-tokens", "global", "default", no},
		{"plain filter, geo call", "", "USE1-NovaPro-input-tokens", "geo", "default", maybe},
		{"1-hour cache filter, reserved call (may overflow to Standard)", "", "USE1-NovaPro-cache-write-input-token-count-1-hour", "", "reserved", maybe},
		{"another region's usage types", "", "USW2-NovaPro-input-tokens", "", "default", no},
		{"every usage type of the model from USE1", "STARTS_WITH", "USE1-NovaPro-", "global", "flex", yes},
		{"every flex usage type, call asking flex", "CONTAINS", "-flex", "", "flex", maybe},
		{"every flex usage type, call asking Standard", "CONTAINS", "-flex", "", "default", no},
		{"every global usage type, global call", "CONTAINS", "-cross-region-global", "global", "priority", yes},
	} {
		t.Run("admission/"+tc.name, func(t *testing.T) {
			v := &costquery.Values{Key: costquery.DimUsageType, Values: []string{tc.value}}
			if tc.match != "" {
				v.MatchOptions = []costquery.MatchOption{costquery.MatchOption(tc.match)}
			}
			sc, err := newScope(&Budget{Account: "111111111111", Type: Cost, Filter: &costquery.Expr{Dimensions: v}}, "", namer)
			if err != nil {
				t.Fatal(err)
			}
			l := line{account: "111111111111", model: novaPro, source: "us-east-1", scope: tc.scope, tier: tc.tier, tierKnown: tc.tier != "",
				regions: []string{"us-east-1", "us-west-2"}}
			for range 2 { // the second answer comes from the memo
				if got := sc.admits(&l); got != tc.want {
					t.Errorf("admits = %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// BenchmarkUsageTypeAdmits measures admission's per-call check of a
// USAGE_TYPE budget (the tier asked for known, the answer memoised) and,
// for comparison, a record's Spend under it.
func BenchmarkUsageTypeAdmits(b *testing.B) {
	e := costquery.Expr{Dimensions: &costquery.Values{Key: costquery.DimUsageType, Values: []string{"USE1-NovaPro-input-tokens-flex"}}}
	sc, err := newScope(&Budget{Account: "111111111111", Type: Cost, Filter: &e}, "", costquery.NewNamer(catalog.Default()))
	if err != nil {
		b.Fatal(err)
	}
	l := line{account: "111111111111", model: "amazon.nova-pro-v1:0", source: "us-east-1", tier: "default", tierKnown: true, opKnown: true}
	b.Run("admits", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if sc.admits(&l) != no {
				b.Fatal("a Standard call held by a flex budget")
			}
		}
	})
	r := ledger.Record{Account: "111111111111", Region: "us-east-1", RegionServed: "us-east-1", ModelID: "amazon.nova-pro-v1:0",
		ServiceTier: "flex", Priced: true, InputTokens: 1000, OutputTokens: 100, InputCost: 400, OutputCost: 160, Cost: 560}
	b.Run("spend", func(b *testing.B) {
		b.ReportAllocs()
		var scratch line
		for b.Loop() {
			if sc.spend(&r, &scratch) != 400 {
				b.Fatal("wrong spend")
			}
		}
	})
}
