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
				"USE1-NovaCanvas-image-premium-2048x2048", "image-standard"},
			costquery.DimLinkedAccount: {"111111111111", "222222222222"},
			costquery.DimResourceID:    {"arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/aaaaaaaaaaaa", "arn:aws:bedrock:us-west-2::foundation-model/", "foundation-model"},
			costquery.DimService:       {"Amazon Bedrock", "Amazon EC2"},
		}
		keys := []string{costquery.DimRegion, costquery.DimOperation, costquery.DimModel, costquery.DimUsageType, costquery.DimLinkedAccount, costquery.DimResourceID, costquery.DimService}
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
	if r.Priced {
		r.InputCost, r.OutputCost, r.CacheReadCost = money.Amount(r.InputTokens*250), money.Amount(r.OutputTokens*1250), money.Amount(r.CacheReadTokens*25)
		r.Cost = r.InputCost + r.OutputCost + r.CacheReadCost
	}
	if rng.IntN(4) == 0 {
		// An image call: images of one per-image price, no tokens.
		r.ModelID, r.Operation = "amazon.nova-canvas-v1:0", "InvokeModel"
		r.InputTokens, r.OutputTokens, r.CacheReadTokens = 0, 0, 0
		r.InputCost, r.OutputCost, r.CacheReadCost, r.Cost = 0, 0, 0, 0
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
		l := line{account: r.Account, profileARN: r.ProfileARN, model: r.ModelID, tags: r.Tags}
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
