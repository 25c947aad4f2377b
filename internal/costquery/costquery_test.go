package costquery_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite/sqlitetest"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

func TestShortModelName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Claude 3 Haiku", "Claude3Haiku"},
		{"Claude 3.5 Sonnet", "Claude3.5Sonnet"},
		{"Claude Sonnet 4", "Claude4Sonnet"},
		{"Claude Sonnet 4.5", "Claude4.5Sonnet"},
		{"Claude Opus 4.1", "Claude4.1Opus"},
		{"Nova Lite", "NovaLite"},
		{"Llama 3.1 70B Instruct", "Llama3.1-70BInstruct"},
		{"Titan Text G1 - Express", "TitanTextG1-Express"},
		{"Mistral Large (24.02)", "MistralLarge24.02"},
		{"Jamba-Instruct", "Jamba-Instruct"},
	} {
		if got := costquery.ShortModelName(tc.in); got != tc.want {
			t.Errorf("ShortModelName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestUsageType(t *testing.T) {
	n := costquery.NewNamer(catalog.Default())
	for _, tc := range []struct {
		region, model string
		class         costquery.Class
		want          string
	}{
		{"us-east-1", "anthropic.claude-3-haiku-20240307-v1:0", costquery.Input, "USE1-MP:USE1_InputTokenCount-Units"},
		{"us-west-2", "anthropic.claude-3-haiku-20240307-v1:0", costquery.Output, "USW2-MP:USW2_OutputTokenCount-Units"},
		{"eu-central-1", "anthropic.claude-sonnet-4-20250514-v1:0", costquery.CacheRead, "EUC1-MP:EUC1_CacheReadInputTokenCount-Units"},
		{"us-east-1", "meta.llama3-1-70b-instruct-v1:0", costquery.Output, "USE1-Llama3-1-70B-output-tokens"},
		{"eu-west-1", "amazon.nova-lite-v1:0", costquery.CacheWrite, "EU-NovaLite-cache-write-input-token-count"},
		{"ap-northeast-1", "unknown.model-v9", costquery.Input, "APN1-unknown.model-v9-input-tokens"},
		{"xx-new-1", "amazon.nova-lite-v1:0", costquery.Input, "XX-NEW-1-NovaLite-input-tokens"},
		{"", "amazon.nova-lite-v1:0", costquery.Input, "NovaLite-input-tokens"},
	} {
		if got := n.UsageType(tc.region, tc.model, tc.class); got != tc.want {
			t.Errorf("UsageType(%q, %q, %d) = %q, want %q", tc.region, tc.model, tc.class, got, tc.want)
		}
	}
}

func day(d int) time.Time { return time.Date(2026, 1, 30, 0, 0, 0, 0, time.UTC).AddDate(0, 0, d) }

func TestPeriods(t *testing.T) {
	f := func(ps []costquery.Period) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Start.Format("01-02T15")+"/"+p.End.Format("01-02T15"))
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		from, to time.Time
		g        costquery.Granularity
		want     []string
	}{
		{"monthly partial months", day(0), day(35), costquery.Monthly, []string{"01-30T00/02-01T00", "02-01T00/03-01T00", "03-01T00/03-06T00"}},
		{"daily", day(0), day(3), costquery.Daily, []string{"01-30T00/01-31T00", "01-31T00/02-01T00", "02-01T00/02-02T00"}},
		{"daily from mid-day", day(0).Add(20 * time.Hour), day(2), costquery.Daily, []string{"01-30T20/01-31T00", "01-31T00/02-01T00"}},
		{"hourly", day(0), day(0).Add(3 * time.Hour), costquery.Hourly, []string{"01-30T00/01-30T01", "01-30T01/01-30T02", "01-30T02/01-30T03"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(f(costquery.Periods(tc.from, tc.to, tc.g)), tc.want); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
		})
	}
}

// Test data: records over four days, several profiles, one retagged on
// day 2, one model unpriced on day 0.
var (
	models = []string{"anthropic.claude-3-haiku-20240307-v1:0", "amazon.nova-lite-v1:0", "meta.llama3-1-70b-instruct-v1:0"}
	short  = map[string]string{models[0]: "Claude3Haiku", models[1]: "NovaLite", models[2]: "Llama3-1-70B"}
	// marketplace are the models AWS Marketplace bills, with their product.
	marketplace = map[string]string{models[0]: "Claude 3 Haiku (Amazon Bedrock Edition)"}
	codes       = map[string]string{"us-east-1": "USE1", "us-west-2": "USW2", "eu-central-1": "EUC1"}
	regions     = []string{"us-east-1", "us-west-2", "eu-central-1"}
)

type prof struct {
	arn, account, model string
	tags                func(at time.Time) tags.Set
}

func fixed(t tags.Set) func(time.Time) tags.Set { return func(time.Time) tags.Set { return t } }

var profs = []prof{
	{"arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/claimsprod01", "111111111111", models[0], fixed(tags.Set{"dept": "claims", "env": "prod"})},
	{"arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/salesprod001", "111111111111", models[1], fixed(tags.Set{"dept": "sales", "env": "prod", "app": "chat"})},
	{"arn:aws:bedrock:us-east-1:222222222222:application-inference-profile/capsclaims01", "222222222222", models[2], fixed(tags.Set{"dept": "Claims", "env": ""})},
	{"arn:aws:bedrock:us-east-1:222222222222:application-inference-profile/untagged0001", "222222222222", models[0], fixed(tags.Set{})},
	{"", "111111111111", models[1], fixed(nil)}, // direct model calls
	{"arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/retagged0001", "111111111111", models[1], func(at time.Time) tags.Set {
		if at.Before(day(2).Add(13 * time.Hour)) {
			return tags.Set{"dept": "claims", "env": "dev"}
		}
		return tags.Set{"dept": "risk", "env": "prod"}
	}},
}

func genRecords(n int) []ledger.Record {
	rng := rand.New(rand.NewPCG(1, 2))
	ops := []string{"Converse", "ConverseStream", "InvokeModel"}
	recs := make([]ledger.Record, 0, n)
	for i := range n {
		p := profs[rng.IntN(len(profs))]
		at := day(0).Add(time.Duration(rng.Int64N(int64(4*24*time.Hour))) / time.Millisecond * time.Millisecond)
		r := ledger.Record{
			RequestID: fmt.Sprintf("r%06d", i), Time: at, Account: p.account, Region: "us-east-1",
			RegionServed: regions[rng.IntN(len(regions))], PrincipalID: "p" + fmt.Sprint(rng.IntN(2)),
			ProfileARN: p.arn, ModelID: p.model, Operation: ops[rng.IntN(len(ops))], Outcome: ledger.OutcomeSuccess,
			Tags: p.tags(at), Priced: true,
		}
		if rng.IntN(20) == 0 {
			r.Outcome = ledger.OutcomeThrottled
		} else {
			r.InputTokens = 1 + rng.Int64N(3000)
			r.OutputTokens = rng.Int64N(1000)
			if rng.IntN(3) == 0 {
				r.CacheReadTokens = rng.Int64N(2000)
			}
			if rng.IntN(5) == 0 {
				r.CacheWriteTokens = rng.Int64N(2000)
			}
			if p.model == models[2] && at.Before(day(1)) {
				r.Priced = false
			} else {
				r.InputCost = money.PerThousand(250).Cost(r.InputTokens)
				r.OutputCost = money.PerThousand(1250).Cost(r.OutputTokens)
				r.CacheReadCost = money.PerThousand(25).Cost(r.CacheReadTokens)
				r.CacheWriteCost = money.PerThousand(300).Cost(r.CacheWriteTokens)
				r.Cost = r.InputCost + r.OutputCost + r.CacheReadCost + r.CacheWriteCost
			}
		}
		// Price dimensions, from i so the random stream stays as it was.
		r.Scope = []string{"", "", "", "", "", "geo", "global"}[i%7]
		if r.Scope != "" && i%2 == 0 {
			r.Region = "us-west-2" // a cross-region call made to us-west-2
		}
		switch {
		case i%11 == 3:
			r.ServiceTier = "flex"
		case i%13 == 4:
			r.ServiceTier = "priority"
		case i%5 == 0:
			r.ServiceTier = "default"
		}
		r.LongContext = i%17 == 5
		r.LatencyOptimized = i%19 == 6
		if i%9 == 6 && r.Outcome == ledger.OutcomeSuccess {
			r.CacheWrite1hTokens = r.InputTokens / 3
			if r.Priced {
				r.CacheWrite1hCost = money.PerThousand(600).Cost(r.CacheWrite1hTokens)
				r.Cost += r.CacheWrite1hCost
			}
		}
		recs = append(recs, r)
	}
	// An hour of reserved capacity a day, on the claims profile.
	for d := range 4 {
		recs = append(recs, ledger.Record{RequestID: fmt.Sprintf("fixed%d", d), Time: day(d).Add(10 * time.Hour), Account: profs[0].account,
			Region: "us-east-1", RegionServed: "us-east-1", ProfileARN: profs[0].arn, ModelID: profs[0].model, Operation: ledger.OpFixedCost, ServiceTier: "reserved",
			Outcome: ledger.OutcomeSuccess, Priced: true, FixedCost: 1_370_000, Cost: 1_370_000, Tags: profs[0].tags(day(d))})
	}
	return recs
}

// line is one line item computed straight from a record, independently of
// the engine.
type line struct {
	r         ledger.Record
	usageType string
	tokens    int64
	cost      money.Amount
}

func lines(recs []ledger.Record) []line {
	var out []line
	for _, r := range recs {
		// The usage-type rule written out: the source region's code (the
		// region served's for records without one), the model, the kind,
		// then long context, a tier beside Standard, global scope and
		// latency mode (the order of AWS's Price List usage types).
		billed := r.Region
		if billed == "" {
			billed = r.RegionServed
		}
		suffix := ""
		if r.LongContext {
			suffix += "-long-context"
		}
		if r.ServiceTier != "" && r.ServiceTier != "default" {
			suffix += "-" + r.ServiceTier
		}
		if r.Scope == "global" {
			suffix += "-cross-region-global"
		}
		if r.LatencyOptimized {
			suffix += "-latency-optimized"
		}
		// The legacy marketplace rule: "<CODE>-MP:<CODE>_<Kind>[_LCtx]
		// [_Global][_LatencyOptimized][_Priority|_Flex]-Units".
		mpSuffix := ""
		if r.LongContext {
			mpSuffix += "_LCtx"
		}
		if r.Scope == "global" {
			mpSuffix += "_Global"
		}
		if r.LatencyOptimized {
			mpSuffix += "_LatencyOptimized"
		}
		switch r.ServiceTier {
		case "priority":
			mpSuffix += "_Priority"
		case "flex":
			mpSuffix += "_Flex"
		}
		for _, c := range []struct {
			kind, mpKind string
			tokens       int64
			cost         money.Amount
		}{
			{"-input-tokens", "InputTokenCount", r.InputTokens, r.InputCost},
			{"-output-tokens", "OutputTokenCount", r.OutputTokens, r.OutputCost},
			{"-cache-read-input-token-count", "CacheReadInputTokenCount", r.CacheReadTokens, r.CacheReadCost},
			{"-cache-write-input-token-count", "CacheWriteInputTokenCount", r.CacheWriteTokens, r.CacheWriteCost},
			{"-cache-write-input-token-count-1-hour", "CacheWrite1hInputTokenCount", r.CacheWrite1hTokens, r.CacheWrite1hCost},
		} {
			if c.tokens == 0 && c.cost == 0 {
				continue
			}
			ut := codes[billed] + "-" + short[r.ModelID] + c.kind + suffix
			if marketplace[r.ModelID] != "" && r.ServiceTier != "reserved" {
				ut = codes[billed] + "-MP:" + codes[billed] + "_" + c.mpKind + mpSuffix + "-Units"
			}
			out = append(out, line{r: r, usageType: ut, tokens: c.tokens, cost: c.cost})
		}
		if r.FixedCost != 0 {
			out = append(out, line{r: r, usageType: codes[billed] + "-" + short[r.ModelID] + "-reserved-capacity-hours", cost: r.FixedCost})
		}
	}
	return out
}

func (l line) dim(d string) string {
	switch d {
	case "SERVICE":
		if p := marketplace[l.r.ModelID]; p != "" {
			return p
		}
		return "Amazon Bedrock"
	case "SERVICE_CODE":
		if marketplace[l.r.ModelID] != "" {
			return "AmazonBedrockFoundationModels"
		}
		return "AmazonBedrock"
	case "LINKED_ACCOUNT":
		return l.r.Account
	case "REGION":
		if l.r.RegionServed == "" {
			return "NoRegion"
		}
		return l.r.RegionServed
	case "SERVICE_TIER":
		if l.r.ServiceTier == "" {
			return "default"
		}
		return l.r.ServiceTier
	case "USAGE_TYPE":
		return l.usageType
	case "OPERATION":
		return l.r.Operation
	case "RESOURCE_ID":
		if l.r.ProfileARN == "" {
			return "arn:aws:bedrock:" + l.r.RegionServed + "::foundation-model/" + l.r.ModelID
		}
		return l.r.ProfileARN
	case "MODEL":
		return l.r.ModelID
	}
	panic(d)
}

type sum struct {
	Cost  money.Amount
	Usage int64
}

// expect sums the lines keep selects per period start and group key.
func expect(ls []line, q costquery.Query, keep func(line) bool) (map[string]map[string]sum, map[string]bool) {
	out := map[string]map[string]sum{}
	est := map[string]bool{}
	starts := map[time.Time]string{}
	for _, p := range costquery.Periods(q.From, q.To, q.Granularity) {
		out[p.Start.String()] = map[string]sum{}
		for h := p.Start; h.Before(p.End); h = h.Add(time.Hour) {
			starts[h] = p.Start.String()
		}
	}
	for _, l := range ls {
		ps, ok := starts[l.r.Time.Truncate(time.Hour)]
		if !ok || (keep != nil && !keep(l)) {
			continue
		}
		var keys []string
		for _, g := range q.GroupBy {
			if g.Type == costquery.GroupTag {
				keys = append(keys, g.Key+"$"+l.r.Tags[g.Key])
			} else {
				keys = append(keys, l.dim(g.Key))
			}
		}
		k := strings.Join(keys, "|")
		s := out[ps][k]
		s.Cost += l.cost
		s.Usage += l.tokens
		out[ps][k] = s
		if !l.r.Priced {
			est[ps] = true
		}
	}
	if len(q.GroupBy) == 0 {
		for ps, m := range out {
			if len(m) == 0 {
				out[ps][""] = sum{}
			}
		}
	}
	return out, est
}

func flatten(res costquery.Result) (map[string]map[string]sum, map[string]bool) {
	out := map[string]map[string]sum{}
	est := map[string]bool{}
	for _, p := range res.Periods {
		m := map[string]sum{}
		if len(res.GroupBy) == 0 {
			m[""] = sum{p.Total.Cost, p.Total.Usage}
		}
		for _, g := range p.Groups {
			m[strings.Join(g.Keys, "|")] = sum{g.Cost, g.Usage}
		}
		out[p.Start.String()] = m
		if p.Estimated {
			est[p.Start.String()] = true
		}
	}
	return out, est
}

func tagEq(key string, vals ...string) *costquery.Expr {
	return &costquery.Expr{Tags: &costquery.Values{Key: key, Values: vals}}
}

func dimEq(key string, vals ...string) *costquery.Expr {
	return &costquery.Expr{Dimensions: &costquery.Values{Key: key, Values: vals}}
}

func TestAggregateMatchesRecords(t *testing.T) {
	recs := genRecords(4000)
	rolls := costquery.RollupRecords(recs)
	ls := lines(recs)
	n := costquery.NewNamer(catalog.Default())
	g := func(typ costquery.GroupType, key string) costquery.GroupBy {
		return costquery.GroupBy{Type: typ, Key: key}
	}
	tv := func(l line, k string) string { return l.r.Tags[k] }
	cases := []struct {
		name    string
		q       costquery.Query
		keep    func(line) bool
		wantEst bool
	}{
		{"total daily", costquery.Query{Granularity: costquery.Daily}, nil, true},
		{"monthly by dept", costquery.Query{Granularity: costquery.Monthly, GroupBy: []costquery.GroupBy{g(costquery.GroupTag, "dept")}}, nil, true},
		{"hourly by usage type", costquery.Query{From: day(2), To: day(2).Add(6 * time.Hour), Granularity: costquery.Hourly, GroupBy: []costquery.GroupBy{g(costquery.GroupDimension, "USAGE_TYPE")}}, nil, false},
		{"dept and env", costquery.Query{Granularity: costquery.Daily, GroupBy: []costquery.GroupBy{g(costquery.GroupTag, "dept"), g(costquery.GroupTag, "env")}}, nil, true},
		{"resource and model", costquery.Query{Granularity: costquery.Daily, GroupBy: []costquery.GroupBy{g(costquery.GroupDimension, "RESOURCE_ID"), g(costquery.GroupDimension, "MODEL")}}, nil, true},
		{"account and region", costquery.Query{Granularity: costquery.Daily, GroupBy: []costquery.GroupBy{g(costquery.GroupDimension, "LINKED_ACCOUNT"), g(costquery.GroupDimension, "REGION")}}, nil, true},
		{"operation, service", costquery.Query{Granularity: costquery.Monthly, GroupBy: []costquery.GroupBy{g(costquery.GroupDimension, "OPERATION"), g(costquery.GroupDimension, "SERVICE")}}, nil, true},
		{"service code", costquery.Query{Granularity: costquery.Daily, GroupBy: []costquery.GroupBy{g(costquery.GroupDimension, "SERVICE_CODE")}}, nil, true},
		{"marketplace service", costquery.Query{Granularity: costquery.Daily, GroupBy: []costquery.GroupBy{g(costquery.GroupDimension, "USAGE_TYPE")},
			Filter: dimEq("SERVICE", "Claude 3 Haiku (Amazon Bedrock Edition)")},
			func(l line) bool { return l.r.ModelID == models[0] }, false},
		{"marketplace usage types", costquery.Query{Granularity: costquery.Daily, GroupBy: []costquery.GroupBy{g(costquery.GroupDimension, "SERVICE")},
			Filter: &costquery.Expr{Dimensions: &costquery.Values{Key: "USAGE_TYPE", Values: []string{"-MP:"}, MatchOptions: []costquery.MatchOption{costquery.Contains}}}},
			func(l line) bool { return strings.Contains(l.usageType, "-MP:") }, false},
		{"tag equals", costquery.Query{Granularity: costquery.Daily, Filter: tagEq("dept", "claims")},
			func(l line) bool { return tv(l, "dept") == "claims" }, false},
		{"tag case-insensitive", costquery.Query{Granularity: costquery.Daily, GroupBy: []costquery.GroupBy{g(costquery.GroupTag, "dept")},
			Filter: &costquery.Expr{Tags: &costquery.Values{Key: "dept", Values: []string{"CLAIMS"}, MatchOptions: []costquery.MatchOption{costquery.Equals, costquery.CaseInsensitive}}}},
			func(l line) bool { return strings.EqualFold(tv(l, "dept"), "claims") }, true},
		{"tag absent", costquery.Query{Granularity: costquery.Daily, GroupBy: []costquery.GroupBy{g(costquery.GroupDimension, "RESOURCE_ID")},
			Filter: &costquery.Expr{Tags: &costquery.Values{Key: "env", MatchOptions: []costquery.MatchOption{costquery.Absent}}}},
			func(l line) bool { return tv(l, "env") == "" }, true},
		{"tag equals empty", costquery.Query{Granularity: costquery.Daily, Filter: tagEq("env", "")},
			func(l line) bool { return tv(l, "env") == "" }, true},
		{"untagged", costquery.Query{Granularity: costquery.Daily, GroupBy: []costquery.GroupBy{g(costquery.GroupDimension, "RESOURCE_ID")},
			Filter: &costquery.Expr{Tags: &costquery.Values{MatchOptions: []costquery.MatchOption{costquery.Absent}}}},
			func(l line) bool {
				for _, v := range l.r.Tags {
					if v != "" {
						return false
					}
				}
				return true
			}, false},
		{"usage type starts with", costquery.Query{Granularity: costquery.Daily, GroupBy: []costquery.GroupBy{g(costquery.GroupDimension, "USAGE_TYPE")},
			Filter: &costquery.Expr{Dimensions: &costquery.Values{Key: "USAGE_TYPE", Values: []string{"use1-"}, MatchOptions: []costquery.MatchOption{costquery.StartsWith, costquery.CaseInsensitive}}}},
			func(l line) bool { return strings.HasPrefix(l.usageType, "USE1-") }, true},
		{"usage type ends with", costquery.Query{Granularity: costquery.Daily,
			Filter: &costquery.Expr{Dimensions: &costquery.Values{Key: "USAGE_TYPE", Values: []string{"-output-tokens"}, MatchOptions: []costquery.MatchOption{costquery.EndsWith}}}},
			func(l line) bool { return strings.HasSuffix(l.usageType, "-output-tokens") }, true},
		{"and, or, not", costquery.Query{Granularity: costquery.Daily, GroupBy: []costquery.GroupBy{g(costquery.GroupTag, "dept"), g(costquery.GroupDimension, "REGION")},
			Filter: &costquery.Expr{And: []costquery.Expr{
				{Or: []costquery.Expr{*tagEq("env", "prod"), *dimEq("MODEL", models[2])}},
				{Not: dimEq("REGION", "eu-central-1")},
			}}},
			func(l line) bool {
				return (tv(l, "env") == "prod" || l.r.ModelID == models[2]) && l.r.RegionServed != "eu-central-1"
			}, true},
		{"multiple values", costquery.Query{Granularity: costquery.Monthly, GroupBy: []costquery.GroupBy{g(costquery.GroupTag, "dept")}, Filter: tagEq("dept", "sales", "risk")},
			func(l line) bool { return tv(l, "dept") == "sales" || tv(l, "dept") == "risk" }, false},
		{"account filter", costquery.Query{Granularity: costquery.Daily, Filter: dimEq("LINKED_ACCOUNT", "222222222222")},
			func(l line) bool { return l.r.Account == "222222222222" }, true},
		{"usage type and service tier", costquery.Query{Granularity: costquery.Daily, GroupBy: []costquery.GroupBy{g(costquery.GroupDimension, "USAGE_TYPE"), g(costquery.GroupDimension, "SERVICE_TIER")}}, nil, true},
		{"flex only", costquery.Query{Granularity: costquery.Monthly, GroupBy: []costquery.GroupBy{g(costquery.GroupDimension, "USAGE_TYPE")}, Filter: dimEq("SERVICE_TIER", "flex")},
			func(l line) bool { return l.r.ServiceTier == "flex" }, true},
		{"global 1-hour writes", costquery.Query{Granularity: costquery.Daily,
			Filter: &costquery.Expr{Dimensions: &costquery.Values{Key: "USAGE_TYPE", Values: []string{"-1-hour-cross-region-global"}, MatchOptions: []costquery.MatchOption{costquery.Contains}}}},
			func(l line) bool { return strings.Contains(l.usageType, "-1-hour-cross-region-global") }, true},
		{"operation contains", costquery.Query{Granularity: costquery.Daily, GroupBy: []costquery.GroupBy{g(costquery.GroupDimension, "OPERATION")},
			Filter: &costquery.Expr{Dimensions: &costquery.Values{Key: "OPERATION", Values: []string{"converse"}, MatchOptions: []costquery.MatchOption{costquery.Contains, costquery.CaseInsensitive}}}},
			func(l line) bool { return strings.Contains(l.r.Operation, "Converse") }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			if q.From.IsZero() {
				q.From, q.To = day(0), day(4)
			}
			res, err := costquery.Aggregate(rolls, q, n)
			if err != nil {
				t.Fatal(err)
			}
			got, gotEst := flatten(res)
			want, wantEst := expect(ls, q, tc.keep)
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(gotEst, wantEst); diff != "" {
				t.Errorf("Estimated (-got +want):\n%s", diff)
			}
			if anyEst := len(gotEst) > 0; anyEst != tc.wantEst {
				t.Errorf("some period estimated = %v, want %v", anyEst, tc.wantEst)
			}
			for _, p := range res.Periods {
				if !slices.IsSortedFunc(p.Groups, func(a, b costquery.Group) int { return slices.Compare(a.Keys, b.Keys) }) {
					t.Errorf("groups of %v not sorted", p.Start)
				}
			}
		})
	}
}

func TestRetagSplitsSpend(t *testing.T) {
	recs := genRecords(4000)
	q := costquery.Query{From: day(0), To: day(4), Granularity: costquery.Monthly,
		GroupBy: []costquery.GroupBy{{Type: costquery.GroupTag, Key: "dept"}}, Filter: dimEq("RESOURCE_ID", profs[5].arn)}
	res, err := costquery.Aggregate(costquery.RollupRecords(recs), q, nil)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, p := range res.Periods {
		for _, g := range p.Groups {
			keys = append(keys, g.Keys[0])
		}
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	if diff := cmp.Diff(keys, []string{"dept$claims", "dept$risk"}); diff != "" {
		t.Errorf("dept of the retagged profile (-got +want):\n%s", diff)
	}
}

func TestDimensionValuesAndTags(t *testing.T) {
	recs := genRecords(2000)
	rolls := costquery.RollupRecords(recs)
	sc := costquery.Scope{From: day(0), To: day(4)}
	vals := func(vs []costquery.Value, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, v := range vs {
			out = append(out, v.Value)
		}
		return out
	}
	if diff := cmp.Diff(vals(costquery.DimensionValues(rolls, "REGION", sc, nil)), []string{"eu-central-1", "us-east-1", "us-west-2"}); diff != "" {
		t.Errorf("REGION (-got +want):\n%s", diff)
	}
	west := sc
	west.Search = "WEST"
	if diff := cmp.Diff(vals(costquery.DimensionValues(rolls, "REGION", west, nil)), []string{"us-west-2"}); diff != "" {
		t.Errorf("REGION search (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(vals(costquery.TagKeys(rolls, sc, nil)), []string{"app", "dept", "env"}); diff != "" {
		t.Errorf("tag keys (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(vals(costquery.TagValues(rolls, "dept", sc, nil)), []string{"Claims", "claims", "risk", "sales"}); diff != "" {
		t.Errorf("dept values (-got +want):\n%s", diff)
	}
	before := costquery.Scope{From: day(0), To: day(2), Filter: dimEq("RESOURCE_ID", profs[5].arn)}
	if diff := cmp.Diff(vals(costquery.TagValues(rolls, "dept", before, nil)), []string{"claims"}); diff != "" {
		t.Errorf("dept values of the retagged profile before the change (-got +want):\n%s", diff)
	}
	// The totals of the values sum to the total.
	all, err := costquery.Aggregate(rolls, costquery.Query{From: day(0), To: day(4), Granularity: costquery.Monthly}, nil)
	if err != nil {
		t.Fatal(err)
	}
	regs, _ := costquery.DimensionValues(rolls, "REGION", sc, nil)
	var s costquery.Totals
	for _, v := range regs {
		s.Cost += v.Cost
		s.Usage += v.Usage
	}
	var total costquery.Totals
	for _, p := range all.Periods {
		total.Cost += p.Total.Cost
		total.Usage += p.Total.Usage
	}
	if s != total {
		t.Errorf("sum of REGION values %+v, total %+v", s, total)
	}
	if _, err := costquery.DimensionValues(rolls, "AZ", sc, nil); !errkind.Is(err, errkind.Invalid) {
		t.Errorf("unsupported dimension: %v, want Invalid", err)
	}
}

func TestValidate(t *testing.T) {
	ok := costquery.Query{From: day(0), To: day(1), Granularity: costquery.Daily}
	with := func(f func(q *costquery.Query)) costquery.Query {
		q := ok
		f(&q)
		return q
	}
	for _, tc := range []struct {
		name string
		q    costquery.Query
		msg  string
	}{
		{"end before start", with(func(q *costquery.Query) { q.From, q.To = day(1), day(0) }), "should be before end date"},
		{"empty range", with(func(q *costquery.Query) { q.To = q.From }), "should be before end date"},
		{"not whole hours", with(func(q *costquery.Query) { q.To = day(1).Add(time.Minute) }), "whole hours"},
		{"bad granularity", with(func(q *costquery.Query) { q.Granularity = "WEEKLY" }), "granularity"},
		{"hourly too long", with(func(q *costquery.Query) { q.Granularity, q.To = costquery.Hourly, day(400) }), "366 days"},
		{"three groups", with(func(q *costquery.Query) {
			q.GroupBy = []costquery.GroupBy{{costquery.GroupTag, "a"}, {costquery.GroupTag, "b"}, {costquery.GroupTag, "c"}}
		}), "at most two"},
		{"same group twice", with(func(q *costquery.Query) {
			q.GroupBy = []costquery.GroupBy{{costquery.GroupTag, "a"}, {costquery.GroupTag, "a"}}
		}), "must differ"},
		{"unknown dimension", with(func(q *costquery.Query) { q.GroupBy = []costquery.GroupBy{{costquery.GroupDimension, "AZ"}} }), "not supported"},
		{"cost category", with(func(q *costquery.Query) { q.GroupBy = []costquery.GroupBy{{costquery.GroupCostCategory, "x"}} }), "COST_CATEGORY"},
		{"two roots", with(func(q *costquery.Query) {
			q.Filter = &costquery.Expr{Tags: tagEq("a", "b").Tags, Dimensions: dimEq("REGION", "us-east-1").Dimensions}
		}), "Expression has more than one roots"},
		{"no root", with(func(q *costquery.Query) { q.Filter = &costquery.Expr{} }), "no root"},
		{"nested two roots", with(func(q *costquery.Query) {
			q.Filter = &costquery.Expr{Not: &costquery.Expr{And: []costquery.Expr{*tagEq("a", "b")}, Or: []costquery.Expr{*tagEq("a", "c")}}}
		}), "more than one roots"},
		{"empty and", with(func(q *costquery.Query) { q.Filter = &costquery.Expr{And: []costquery.Expr{}} }), "at least one"},
		{"absent on dimension", with(func(q *costquery.Query) {
			q.Filter = &costquery.Expr{Dimensions: &costquery.Values{Key: "REGION", Values: []string{"x"}, MatchOptions: []costquery.MatchOption{costquery.Absent}}}
		}), "Tags only"},
		{"two ops", with(func(q *costquery.Query) {
			q.Filter = &costquery.Expr{Tags: &costquery.Values{Key: "a", Values: []string{"x"}, MatchOptions: []costquery.MatchOption{costquery.Equals, costquery.StartsWith}}}
		}), "at most one"},
		{"greater than", with(func(q *costquery.Query) {
			q.Filter = &costquery.Expr{Tags: &costquery.Values{Key: "a", Values: []string{"x"}, MatchOptions: []costquery.MatchOption{costquery.GreaterThanOrEqual}}}
		}), "not supported"},
		{"tag without values", with(func(q *costquery.Query) { q.Filter = &costquery.Expr{Tags: &costquery.Values{Key: "a"}} }), "at least one value"},
		{"tag without key", with(func(q *costquery.Query) { q.Filter = &costquery.Expr{Tags: &costquery.Values{Values: []string{"x"}}} }), "needs a Key"},
		{"cost categories", with(func(q *costquery.Query) {
			q.Filter = &costquery.Expr{CostCategories: &costquery.Values{Key: "a", Values: []string{"x"}}}
		}), "not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.q.Validate()
			if !errkind.Is(err, errkind.Invalid) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Validate() = %v, want Invalid containing %q", err, tc.msg)
			}
		})
	}
	deep := tagEq("a", "b")
	for range costquery.MaxFilterDepth {
		deep = &costquery.Expr{Not: deep}
	}
	if err := with(func(q *costquery.Query) { q.Filter = deep }).Validate(); !errkind.Is(err, errkind.Invalid) {
		t.Errorf("deep filter: %v, want Invalid", err)
	}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid query: %v", err)
	}
	if err := costquery.ValidateMetrics([]string{"UnblendedCost", "Bogus"}); !errkind.Is(err, errkind.Invalid) {
		t.Errorf("unknown metric: %v, want Invalid", err)
	}
}

func amounts(xs ...float64) []money.Amount {
	out := make([]money.Amount, len(xs))
	for i, x := range xs {
		out[i] = money.Amount(x * float64(money.Dollar))
	}
	return out
}

func TestForecast(t *testing.T) {
	today := day(28) // Friday 2026-02-27
	week := func(q costquery.ForecastQuery) costquery.ForecastQuery {
		if q.From.IsZero() {
			q.From, q.To = today, today.AddDate(0, 0, 7)
		}
		if q.Granularity == "" {
			q.Granularity = costquery.Daily
		}
		return q
	}
	t.Run("constant history", func(t *testing.T) {
		h := make([]money.Amount, 20)
		for i := range h {
			h[i] = 5 * money.Dollar
		}
		res, err := costquery.Forecast(h, today, week(costquery.ForecastQuery{}))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Periods) != 7 || res.Total != 35*money.Dollar {
			t.Fatalf("%d periods, total %v; want 7 and 35", len(res.Periods), res.Total)
		}
		for _, p := range res.Periods {
			if p.Mean != 5*money.Dollar || p.Lower != p.Mean || p.Upper != p.Mean {
				t.Errorf("%v: mean %v [%v, %v], want 5 with no spread", p.Start, p.Mean, p.Lower, p.Upper)
			}
		}
	})
	t.Run("linear trend", func(t *testing.T) {
		h := make([]money.Amount, 10)
		for i := range h {
			h[i] = money.Amount(i+1) * money.Dollar
		}
		res, err := costquery.Forecast(h, today, week(costquery.ForecastQuery{}))
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Periods[0].Mean; got != 11*money.Dollar {
			t.Errorf("first forecast day %v, want 11", got)
		}
		if got := res.Periods[6].Mean; got != 17*money.Dollar {
			t.Errorf("last forecast day %v, want 17", got)
		}
	})
	t.Run("weekday profile", func(t *testing.T) {
		// Four weeks: weekdays cost 10, weekends 2.
		var h []money.Amount
		for d := today.AddDate(0, 0, -28); d.Before(today); d = d.AddDate(0, 0, 1) {
			v := 10 * money.Dollar
			if d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
				v = 2 * money.Dollar
			}
			h = append(h, v)
		}
		res, err := costquery.Forecast(h, today, week(costquery.ForecastQuery{}))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range res.Periods {
			want := 10 * money.Dollar
			if p.Start.Weekday() == time.Saturday || p.Start.Weekday() == time.Sunday {
				want = 2 * money.Dollar
			}
			if d := p.Mean - want; d < -money.Micro || d > money.Micro {
				t.Errorf("%v (%v): mean %v, want %v", p.Start.Format(time.DateOnly), p.Start.Weekday(), p.Mean, want)
			}
		}
	})
	t.Run("interval widens with level", func(t *testing.T) {
		h := amounts(3, 7, 4, 9, 5, 6, 8, 4, 7, 5, 6, 9, 3, 8, 6)
		r80, err := costquery.Forecast(h, today, week(costquery.ForecastQuery{}))
		if err != nil {
			t.Fatal(err)
		}
		r99, err := costquery.Forecast(h, today, week(costquery.ForecastQuery{Level: 99}))
		if err != nil {
			t.Fatal(err)
		}
		var sum money.Amount
		for i, p := range r80.Periods {
			sum += p.Mean
			if !(p.Lower <= p.Mean && p.Mean <= p.Upper && p.Upper > p.Lower) {
				t.Errorf("80%%: %v not within [%v, %v]", p.Mean, p.Lower, p.Upper)
			}
			if w80, w99 := p.Upper-p.Lower, r99.Periods[i].Upper-r99.Periods[i].Lower; w99 <= w80 {
				t.Errorf("99%% interval %v not wider than 80%% %v", w99, w80)
			}
		}
		if sum != r80.Total {
			t.Errorf("total %v, sum of means %v", r80.Total, sum)
		}
	})
	t.Run("monthly", func(t *testing.T) {
		h := make([]money.Amount, 30)
		for i := range h {
			h[i] = money.Dollar
		}
		res, err := costquery.Forecast(h, today, costquery.ForecastQuery{From: day(2), To: day(60), Granularity: costquery.Monthly})
		if err != nil {
			t.Fatal(err)
		}
		// From before today: the forecast starts today (Feb 27), so the
		// first month holds Feb 27-28, then all of March.
		var got []string
		for _, p := range res.Periods {
			got = append(got, fmt.Sprintf("%s/%s=%v", p.Start.Format(time.DateOnly), p.End.Format(time.DateOnly), p.Mean))
		}
		want := []string{"2026-02-27/2026-03-01=2.00", "2026-03-01/2026-03-31=30.00"}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("(-got +want):\n%s", diff)
		}
	})
	t.Run("leading zero days are no history", func(t *testing.T) {
		_, err := costquery.Forecast(amounts(0, 0, 0, 0, 1, 2), today, week(costquery.ForecastQuery{}))
		if !errkind.Is(err, errkind.Unavailable) {
			t.Errorf("err = %v, want Unavailable", err)
		}
	})
	for _, tc := range []struct {
		name string
		q    costquery.ForecastQuery
	}{
		{"hourly", costquery.ForecastQuery{From: today, To: today.AddDate(0, 0, 1), Granularity: costquery.Hourly}},
		{"start in the future", costquery.ForecastQuery{From: today.AddDate(0, 0, 1), To: today.AddDate(0, 0, 3), Granularity: costquery.Daily}},
		{"end not after today", costquery.ForecastQuery{From: today.AddDate(0, 0, -3), To: today, Granularity: costquery.Daily}},
		{"daily beyond 3 months", costquery.ForecastQuery{From: today, To: today.AddDate(0, 4, 0), Granularity: costquery.Daily}},
		{"level too high", costquery.ForecastQuery{From: today, To: today.AddDate(0, 0, 3), Granularity: costquery.Daily, Level: 100}},
		{"not dates", costquery.ForecastQuery{From: today.Add(time.Hour), To: today.AddDate(0, 0, 3), Granularity: costquery.Daily}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := costquery.Forecast(amounts(1, 2, 3, 4), today, tc.q); !errkind.Is(err, errkind.Invalid) {
				t.Errorf("err = %v, want Invalid", err)
			}
		})
	}
}

// ledgerOf is a real SQLite store holding recs, appended through the
// store's ledger writer.
func ledgerOf(t *testing.T, recs []ledger.Record) *sqlite.DB {
	t.Helper()
	db := sqlitetest.Open(t)
	if err := db.AppendRecords(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestServiceScopesAccounts(t *testing.T) {
	recs := genRecords(2000)
	svc := costquery.NewService(ledgerOf(t, recs), nil, func() time.Time { return day(4).Add(5 * time.Hour) })
	q := costquery.Query{From: day(0), To: day(4), Granularity: costquery.Monthly, GroupBy: []costquery.GroupBy{{Type: costquery.GroupDimension, Key: "LINKED_ACCOUNT"}}}
	res, err := svc.CostAndUsage(t.Context(), []string{"222222222222"}, q)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Periods {
		for _, g := range p.Groups {
			if g.Keys[0] != "222222222222" {
				t.Errorf("group %v of another account", g.Keys)
			}
		}
	}
	fc, err := svc.Forecast(t.Context(), nil, costquery.ForecastQuery{From: day(4), To: day(6), Granularity: costquery.Daily})
	if err != nil {
		t.Fatal(err)
	}
	if len(fc.Periods) != 2 || fc.Total <= 0 {
		t.Errorf("forecast %+v, want 2 periods with cost", fc)
	}
	if _, err := svc.Forecast(t.Context(), []string{"999999999999"}, costquery.ForecastQuery{From: day(4), To: day(6), Granularity: costquery.Daily}); !errkind.Is(err, errkind.Unavailable) {
		t.Errorf("forecast without history: %v, want Unavailable", err)
	}
}

// countingSource is a real store seen through hourly rollups and the
// ledger's version only, counting its reads of rollups.
type countingSource struct {
	db    *sqlite.DB
	reads int
}

func (c *countingSource) CostRollups(ctx context.Context, accounts []string, from, to time.Time) ([]ledger.Rollup, error) {
	c.reads++
	return c.db.CostRollups(ctx, accounts, from, to)
}

func (c *countingSource) LedgerVersion(ctx context.Context) (int64, error) {
	return c.db.LedgerVersion(ctx)
}

func TestServiceReusesReadsUntilTheLedgerChanges(t *testing.T) {
	recs := genRecords(2000)
	src := &countingSource{db: ledgerOf(t, recs)}
	svc := costquery.NewService(src, nil, nil)
	q := func(from, to time.Time, accounts []string) costquery.Result {
		t.Helper()
		res, err := svc.CostAndUsage(t.Context(), accounts, costquery.Query{From: from, To: to, Granularity: costquery.Daily,
			GroupBy: []costquery.GroupBy{{Type: costquery.GroupTag, Key: "dept"}}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	direct := func(from, to time.Time, accounts []string) costquery.Result {
		t.Helper()
		rolls, _ := src.db.CostRollups(t.Context(), accounts, from, to)
		res, err := costquery.Aggregate(rolls, costquery.Query{From: from, To: to, Granularity: costquery.Daily,
			GroupBy: []costquery.GroupBy{{Type: costquery.GroupTag, Key: "dept"}}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	steps := []struct {
		name     string
		from, to time.Time
		accounts []string
		bump     bool
		reads    int
	}{
		{"first read", day(0), day(4), nil, false, 1},
		{"same range", day(0), day(4), nil, false, 1},
		{"sub-range", day(1), day(3), nil, false, 1},
		{"other accounts", day(1), day(3), []string{"222222222222"}, false, 2},
		{"wider range", day(0), day(5), nil, false, 3},
		{"ledger changed", day(1), day(3), nil, true, 4},
		{"after the change", day(1), day(2), nil, false, 4},
	}
	for _, s := range steps {
		if s.bump { // a new record, outside every range read, changes the ledger
			late := recs[0]
			late.RequestID, late.Time = "late", day(30)
			if err := src.db.AppendRecords(t.Context(), []ledger.Record{late}); err != nil {
				t.Fatal(err)
			}
		}
		got, want := q(s.from, s.to, s.accounts), direct(s.from, s.to, s.accounts)
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("%s: (-got +want):\n%s", s.name, diff)
		}
		if src.reads != s.reads {
			t.Errorf("%s: %d reads, want %d", s.name, src.reads, s.reads)
		}
	}
}

// readLog is a real store seen through its hourly and daily rollups only
// (no ledger version, so nothing is cached), logging every read.
type readLog struct {
	db    *sqlite.DB
	reads []string
}

func (d *readLog) CostRollups(ctx context.Context, accounts []string, from, to time.Time) ([]ledger.Rollup, error) {
	d.reads = append(d.reads, "hourly "+from.Format("01-02T15")+"/"+to.Format("01-02T15"))
	return d.db.CostRollups(ctx, accounts, from, to)
}

func (d *readLog) CostRollupsDaily(ctx context.Context, accounts []string, from, to time.Time) ([]ledger.Rollup, error) {
	d.reads = append(d.reads, "daily "+from.Format("01-02T15")+"/"+to.Format("01-02T15"))
	return d.db.CostRollupsDaily(ctx, accounts, from, to)
}

// TestServiceReadsWholeDaysDaily checks that daily and monthly queries read
// the whole days of their range from the daily rollups and the partial
// days at its edges from the hourly ones, and answer as from hourly
// rollups alone.
func TestServiceReadsWholeDaysDaily(t *testing.T) {
	recs := genRecords(4000)
	hourly := costquery.RollupRecords(recs)
	src := &readLog{db: ledgerOf(t, recs)}
	svc := costquery.NewService(src, nil, nil)
	h := func(d, hour int) time.Time { return day(d).Add(time.Duration(hour) * time.Hour) }
	for _, tc := range []struct {
		name     string
		from, to time.Time
		g        costquery.Granularity
		reads    []string
	}{
		{"whole days", day(0), day(4), costquery.Daily, []string{"daily 01-30T00/02-03T00"}},
		{"mid-day to mid-day", h(0, 5), h(3, 7), costquery.Daily,
			[]string{"daily 01-31T00/02-02T00", "hourly 01-30T05/01-31T00", "hourly 02-02T00/02-02T07"}},
		{"midnight to mid-day", day(0), h(2, 13), costquery.Monthly, []string{"daily 01-30T00/02-01T00", "hourly 02-01T00/02-01T13"}},
		{"mid-day to midnight", h(1, 23), day(4), costquery.Monthly, []string{"daily 02-01T00/02-03T00", "hourly 01-31T23/02-01T00"}},
		{"across one midnight", h(1, 20), h(2, 4), costquery.Daily, []string{"hourly 01-31T20/02-01T04"}},
		{"within a day", h(2, 3), h(2, 9), costquery.Daily, []string{"hourly 02-01T03/02-01T09"}},
		{"hourly granularity", day(0), day(2), costquery.Hourly, []string{"hourly 01-30T00/02-01T00"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src.reads = nil
			q := costquery.Query{From: tc.from, To: tc.to, Granularity: tc.g,
				GroupBy: []costquery.GroupBy{{Type: costquery.GroupTag, Key: "dept"}, {Type: costquery.GroupDimension, Key: "USAGE_TYPE"}}}
			got, err := svc.CostAndUsage(t.Context(), nil, q)
			if err != nil {
				t.Fatal(err)
			}
			want, err := costquery.Aggregate(hourly, q, nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("result (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(src.reads, tc.reads); diff != "" {
				t.Errorf("reads (-got +want):\n%s", diff)
			}
		})
	}
}
