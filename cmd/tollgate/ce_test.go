package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	ce "github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// The Cost Explorer tests fill a server's ledger with a generated month of
// usage and check every answer against sums computed here from the raw
// records, never through the engine.

const (
	ceMgmt   = "123456789012" // the server's own account: the management account
	ceLinked = "210987654321"
	ceN      = 20_000 // records: enough for every group, page and forecast the queries check
	ceDays   = 15     // days of history, ending yesterday
)

var (
	ceHaiku  = "anthropic.claude-3-haiku-20240307-v1:0"
	ceSonnet = "anthropic.claude-3-5-sonnet-20240620-v1:0"
	ceNova   = "amazon.nova-lite-v1:0"
	ceLlama  = "meta.llama3-1-70b-instruct-v1:0"
	// The usage-type model names and region codes, written out here so the
	// test pins the AWS naming rather than recomputing it.
	ceShort = map[string]string{ceNova: "NovaLite", ceLlama: "Llama3-1-70B"}
	// ceMarket are the models AWS Marketplace bills, with their product
	// (SERVICE): their usage types are marketplace ones,
	// "<CODE>-MP:<CODE>_<dimension>-Units".
	ceMarket = map[string]string{ceHaiku: "Claude 3 Haiku (Amazon Bedrock Edition)", ceSonnet: "Claude 3.5 Sonnet (Amazon Bedrock Edition)"}
	ceCode   = map[string]string{"us-east-1": "USE1", "us-west-2": "USW2", "eu-central-1": "EUC1"}
	// perK are made-up prices in nano-USD per 1,000 tokens: input,
	// output, cache read, cache write.
	cePerK = map[string][4]money.PerThousand{
		ceHaiku: {250_000, 1_250_000, 25_000, 300_000}, ceSonnet: {3_000_000, 15_000_000, 300_000, 3_750_000},
		ceNova: {60_000, 240_000, 15_000, 0}, ceLlama: {720_000, 720_000, 0, 0},
	}
)

type ceProfile struct {
	name, arn, account, model string
	regions                   []string
	weight                    int
	tags                      func(at time.Time) tags.Set
}

func ceFixed(kv ...string) func(time.Time) tags.Set {
	t := tags.Set{}
	for i := 0; i < len(kv); i += 2 {
		t[kv[i]] = kv[i+1]
	}
	return func(time.Time) tags.Set { return t }
}

func ceAppARN(account, id string) string {
	return "arn:aws:bedrock:us-east-1:" + account + ":application-inference-profile/" + id
}

// ceWorld is the generated ledger.
type ceWorld struct {
	base, today, retag time.Time
	profiles           []ceProfile
	recs               []ledger.Record
	lines              []ceLine
}

func ceGenerate() *ceWorld {
	today := time.Now().UTC().Truncate(24 * time.Hour)
	w := &ceWorld{today: today, base: today.AddDate(0, 0, -ceDays)}
	w.retag = w.base.AddDate(0, 0, 7).Add(11 * time.Hour)
	retag := w.retag
	w.profiles = []ceProfile{
		{"claims-chat-prod", ceAppARN(ceMgmt, "claimsprod01"), ceMgmt, ceHaiku, []string{"us-east-1", "us-west-2"}, 14,
			ceFixed("dept", "claims", "app", "claims_chatbot", "env", "prod", "cost_center", "cc-100")},
		{"claims-chat-dev", ceAppARN(ceMgmt, "claimsdev001"), ceMgmt, ceHaiku, []string{"us-east-1"}, 5,
			ceFixed("dept", "claims", "app", "claims_chatbot", "env", "dev", "cost_center", "cc-100")},
		{"sales-chat-prod", ceAppARN(ceLinked, "salesprod001"), ceLinked, ceSonnet, []string{"us-east-1", "us-west-2"}, 12,
			ceFixed("dept", "sales", "app", "chat_app", "env", "prod", "cost_center", "cc-200")},
		{"sales-chat-staging", ceAppARN(ceLinked, "salesstage01"), ceLinked, ceSonnet, []string{"us-west-2"}, 4,
			ceFixed("dept", "sales", "app", "chat_app", "env", "staging", "cost_center", "cc-200")},
		{"risk-prod", ceAppARN(ceMgmt, "riskprod0001"), ceMgmt, ceNova, []string{"eu-central-1"}, 9,
			ceFixed("dept", "risk", "app", "risk_assess", "env", "prod", "cost_center", "cc-300")},
		{"policy-rec", ceAppARN(ceMgmt, "policyrec001"), ceMgmt, ceLlama, []string{"us-east-1"}, 6,
			ceFixed("dept", "Claims", "app", "policy_rec", "env", "prod")},
		{"retagged", ceAppARN(ceMgmt, "triage000001"), ceMgmt, ceSonnet, []string{"us-east-1", "eu-central-1"}, 8, func(at time.Time) tags.Set {
			if at.Before(retag) {
				return tags.Set{"dept": "claims", "app": "triage", "env": "dev", "cost_center": "cc-100"}
			}
			return tags.Set{"dept": "risk", "app": "triage", "env": "prod", "cost_center": "cc-300"}
		}},
		{"untagged-1", ceAppARN(ceMgmt, "untagged0001"), ceMgmt, ceHaiku, []string{"us-west-2"}, 4, ceFixed()},
		{"untagged-2", ceAppARN(ceLinked, "untagged0002"), ceLinked, ceNova, []string{"eu-central-1"}, 3, ceFixed()},
		{"marketing", ceAppARN(ceLinked, "marketing001"), ceLinked, ceLlama, []string{"us-west-2"}, 3, ceFixed("dept", "marketing")},
		{"empty-env", ceAppARN(ceMgmt, "emptyenv0001"), ceMgmt, ceNova, []string{"us-east-1"}, 3, ceFixed("dept", "sales", "app", "chat_app", "env", "")},
		{"direct-haiku", "", ceMgmt, ceHaiku, []string{"us-east-1"}, 4, ceFixed()},
		{"direct-llama", "", ceLinked, ceLlama, []string{"us-west-2"}, 2, ceFixed()},
		{"system-sonnet", "arn:aws:bedrock:us-east-1:" + ceMgmt + ":inference-profile/us." + ceSonnet, ceMgmt, ceSonnet, []string{"us-east-1", "us-west-2"}, 3, ceFixed()},
	}
	var totalWeight int
	for _, p := range w.profiles {
		totalWeight += p.weight
	}
	rng := rand.New(rand.NewPCG(2026, 11))
	ops := []string{"Converse", "ConverseStream", "InvokeModel", "InvokeModelWithResponseStream"}
	span := int64(ceDays * 24 * time.Hour / time.Millisecond)
	for i := range ceN {
		pick := rng.IntN(totalWeight)
		var p ceProfile
		for _, p = range w.profiles {
			if pick < p.weight {
				break
			}
			pick -= p.weight
		}
		at := w.base.Add(time.Duration(rng.Int64N(span)) * time.Millisecond)
		r := ledger.Record{
			RequestID: fmt.Sprintf("ce-%06d", i), Time: at, Account: p.account, Region: p.regions[0],
			RegionServed: p.regions[rng.IntN(len(p.regions))], PrincipalID: fmt.Sprintf("root-%s", p.account),
			ProfileARN: p.arn, ModelID: p.model, Provider: "sim", Operation: ops[rng.IntN(2)+2*(i%2)],
			LatencyMs: 100, Attempts: 1, Outcome: ledger.OutcomeSuccess, Priced: true, Tags: p.tags(at),
		}
		if p.arn != "" {
			r.ProfileID = r.ProfileARN[strings.LastIndex(r.ProfileARN, "/")+1:]
		}
		if rng.IntN(33) == 0 {
			r.Outcome, r.ErrorCode = ledger.OutcomeThrottled, "ThrottlingException"
		} else {
			r.InputTokens = 20 + rng.Int64N(4000)
			r.OutputTokens = rng.Int64N(1500)
			if p.model == ceHaiku || p.model == ceSonnet {
				if rng.IntN(3) == 0 {
					r.CacheReadTokens = 100 + rng.Int64N(3000)
				}
				if rng.IntN(8) == 0 {
					r.CacheWriteTokens = 100 + rng.Int64N(2000)
				}
			}
			// Llama had no price for the first two days.
			if p.model == ceLlama && at.Before(w.base.AddDate(0, 0, 2)) {
				r.Priced = false
			} else {
				pk := cePerK[p.model]
				r.InputCost, r.OutputCost = pk[0].Cost(r.InputTokens), pk[1].Cost(r.OutputTokens)
				r.CacheReadCost, r.CacheWriteCost = pk[2].Cost(r.CacheReadTokens), pk[3].Cost(r.CacheWriteTokens)
				r.Cost = r.InputCost + r.OutputCost + r.CacheReadCost + r.CacheWriteCost
			}
		}
		w.recs = append(w.recs, r)
	}
	w.lines = ceLines(w.recs)
	return w
}

// ceLine is one line item of a record: one token class.
type ceLine struct {
	r         *ledger.Record
	usageType string
	tokens    int64
	cost      money.Amount
}

func ceLines(recs []ledger.Record) []ceLine {
	var out []ceLine
	for i := range recs {
		r := &recs[i]
		for _, c := range []struct {
			suffix, dim string
			tokens      int64
			cost        money.Amount
		}{
			{"-input-tokens", "InputTokenCount", r.InputTokens, r.InputCost},
			{"-output-tokens", "OutputTokenCount", r.OutputTokens, r.OutputCost},
			{"-cache-read-input-token-count", "CacheReadInputTokenCount", r.CacheReadTokens, r.CacheReadCost},
			{"-cache-write-input-token-count", "CacheWriteInputTokenCount", r.CacheWriteTokens, r.CacheWriteCost},
		} {
			if c.tokens == 0 && c.cost == 0 {
				continue // a failed call bills nothing
			}
			// Usage types name the source region (the one served for
			// records without it).
			billed := r.Region
			if billed == "" {
				billed = r.RegionServed
			}
			ut := ceCode[billed] + "-" + ceShort[r.ModelID] + c.suffix
			if ceMarket[r.ModelID] != "" {
				ut = ceCode[billed] + "-MP:" + ceCode[billed] + "_" + c.dim + "-Units"
			}
			out = append(out, ceLine{r: r, usageType: ut, tokens: c.tokens, cost: c.cost})
		}
	}
	return out
}

func (l ceLine) tag(k string) string { return l.r.Tags[k] }

func (l ceLine) dim(d string) string {
	switch d {
	case "SERVICE":
		if p := ceMarket[l.r.ModelID]; p != "" {
			return p
		}
		return "Amazon Bedrock"
	case "LINKED_ACCOUNT":
		return l.r.Account
	case "REGION":
		return l.r.RegionServed
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
	panic("unknown dimension " + d)
}

func ceDate(t time.Time) string { return t.Format(time.DateOnly) }

// cePeriods splits [from, to) the way Cost Explorer does, written out
// independently of the engine.
func cePeriods(from, to time.Time, g cetypes.Granularity) [][2]time.Time {
	var out [][2]time.Time
	for s := from; s.Before(to); {
		var e time.Time
		switch g {
		case cetypes.GranularityHourly:
			e = s.Add(time.Hour)
		case cetypes.GranularityDaily:
			e = s.AddDate(0, 0, 1)
		default:
			e = time.Date(s.Year(), s.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		}
		if e.After(to) {
			e = to
		}
		out = append(out, [2]time.Time{s, e})
		s = e
	}
	return out
}

func ceFmt(t time.Time, g cetypes.Granularity) string {
	if g == cetypes.GranularityHourly {
		return t.Format("2006-01-02T15:04:05Z")
	}
	return ceDate(t)
}

// ceAgg is a cost and a usage quantity.
type ceAgg struct {
	Cost  money.Amount
	Usage int64
}

// ceTable is a result: per period "start/end", group keys joined by "|"
// ("" without GroupBy) -> sums, plus the estimated periods.
type ceTable struct {
	Groups    map[string]map[string]ceAgg
	Estimated map[string]bool
}

// ceExpect sums the lines keep selects, independently of the engine.
func ceExpect(w *ceWorld, from, to time.Time, g cetypes.Granularity, groupBy []cetypes.GroupDefinition, keep func(ceLine) bool) ceTable {
	tab := ceTable{Groups: map[string]map[string]ceAgg{}, Estimated: map[string]bool{}}
	ps := cePeriods(from, to, g)
	for _, p := range ps {
		tab.Groups[ceFmt(p[0], g)+"/"+ceFmt(p[1], g)] = map[string]ceAgg{}
	}
	for _, l := range w.lines {
		if l.r.Time.Before(from) || !l.r.Time.Before(to) || (keep != nil && !keep(l)) {
			continue
		}
		i := sort.Search(len(ps), func(i int) bool { return ps[i][1].After(l.r.Time) })
		pk := ceFmt(ps[i][0], g) + "/" + ceFmt(ps[i][1], g)
		var keys []string
		for _, gd := range groupBy {
			if gd.Type == cetypes.GroupDefinitionTypeTag {
				keys = append(keys, *gd.Key+"$"+l.tag(*gd.Key))
			} else {
				keys = append(keys, l.dim(*gd.Key))
			}
		}
		k := strings.Join(keys, "|")
		a := tab.Groups[pk][k]
		a.Cost += l.cost
		a.Usage += l.tokens
		tab.Groups[pk][k] = a
		if !l.r.Priced {
			tab.Estimated[pk] = true
		}
	}
	if len(groupBy) == 0 {
		for pk, m := range tab.Groups {
			if len(m) == 0 {
				tab.Groups[pk][""] = ceAgg{}
			}
		}
	}
	return tab
}

// ceFetch runs a GetCostAndUsage request through every page and returns
// its table, checking the metric shapes on the way.
func ceFetch(t *testing.T, c *ce.Client, in *ce.GetCostAndUsageInput) (ceTable, int) {
	t.Helper()
	tab := ceTable{Groups: map[string]map[string]ceAgg{}, Estimated: map[string]bool{}}
	pages := 0
	parse := func(ms map[string]cetypes.MetricValue) ceAgg {
		t.Helper()
		var a ceAgg
		var cost *money.Amount
		for _, name := range in.Metrics {
			mv, ok := ms[name]
			if !ok {
				t.Fatalf("metric %s missing from %v", name, ms)
			}
			if name == "UsageQuantity" {
				n, err := strconv.ParseInt(aws.ToString(mv.Amount), 10, 64)
				if err != nil || aws.ToString(mv.Unit) != "N/A" {
					t.Fatalf("UsageQuantity %q %q", aws.ToString(mv.Amount), aws.ToString(mv.Unit))
				}
				a.Usage = n
				continue
			}
			v, err := money.Parse(aws.ToString(mv.Amount))
			if err != nil || aws.ToString(mv.Unit) != "USD" {
				t.Fatalf("%s %q %q: %v", name, aws.ToString(mv.Amount), aws.ToString(mv.Unit), err)
			}
			if cost != nil && *cost != v {
				t.Fatalf("cost metrics differ: %v and %s %v", *cost, name, v)
			}
			cost = &v
			a.Cost = v
		}
		return a
	}
	req := *in
	for {
		out, err := c.GetCostAndUsage(t.Context(), &req)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if diff := cmp.Diff(len(out.GroupDefinitions), len(in.GroupBy)); diff != "" {
			t.Errorf("GroupDefinitions: %s", diff)
		}
		for _, r := range out.ResultsByTime {
			pk := aws.ToString(r.TimePeriod.Start) + "/" + aws.ToString(r.TimePeriod.End)
			if tab.Groups[pk] == nil {
				tab.Groups[pk] = map[string]ceAgg{}
			}
			if r.Estimated {
				tab.Estimated[pk] = true
			}
			if len(in.GroupBy) == 0 {
				if len(r.Groups) != 0 {
					t.Errorf("%s: groups without GroupBy", pk)
				}
				tab.Groups[pk][""] = parse(r.Total)
				continue
			}
			if len(r.Total) != 0 {
				t.Errorf("%s: Total %v with GroupBy, want {}", pk, r.Total)
			}
			for _, g := range r.Groups {
				k := strings.Join(g.Keys, "|")
				if _, dup := tab.Groups[pk][k]; dup {
					t.Errorf("%s: group %s twice", pk, k)
				}
				tab.Groups[pk][k] = parse(g.Metrics)
			}
		}
		if out.NextPageToken == nil {
			return tab, pages
		}
		req.NextPageToken = out.NextPageToken
	}
}

func ceTag(key string, vals ...string) *cetypes.Expression {
	return &cetypes.Expression{Tags: &cetypes.TagValues{Key: aws.String(key), Values: vals}}
}

func ceDim(key string, vals ...string) *cetypes.Expression {
	return &cetypes.Expression{Dimensions: &cetypes.DimensionValues{Key: cetypes.Dimension(key), Values: vals}}
}

func ceGroupTag(k string) cetypes.GroupDefinition {
	return cetypes.GroupDefinition{Type: cetypes.GroupDefinitionTypeTag, Key: aws.String(k)}
}

func ceGroupDim(k string) cetypes.GroupDefinition {
	return cetypes.GroupDefinition{Type: cetypes.GroupDefinitionTypeDimension, Key: aws.String(k)}
}

func ceInterval(from, to time.Time, g cetypes.Granularity) *cetypes.DateInterval {
	return &cetypes.DateInterval{Start: aws.String(ceFmt(from, g)), End: aws.String(ceFmt(to, g))}
}

func TestCE(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	w := ceGenerate()
	for i := 0; i < len(w.recs); i += 5000 {
		if err := ts.DB.AppendRecords(t.Context(), w.recs[i:min(i+5000, len(w.recs))]); err != nil {
			t.Fatal(err)
		}
	}
	// A connection per call: under CI load a reused keep-alive connection
	// was closed under a response now and then ("use of closed network
	// connection", aws/aws-sdk-go-v2#2737).
	c := ce.NewFromConfig(ts.awsConfig(t), func(o *ce.Options) {
		o.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) { tr.DisableKeepAlives = true })
	})
	// The queries only read the ledger and w, so they run in parallel:
	// loading the ledger is most of this test's time, and once the other
	// tests are done its queries can use every core.
	for _, sub := range []struct {
		name string
		test func(*testing.T, *ce.Client, *ceWorld)
	}{
		{"CostAndUsage", testCECostAndUsage},
		{"Pagination", testCEPagination},
		{"Validation", testCEValidation},
		{"DimensionValues", testCEDimensionValues},
		{"Tags", testCETags},
		{"WithResources", testCEWithResources},
		{"Forecast", testCEForecast},
	} {
		t.Run(sub.name, func(t *testing.T) {
			t.Parallel()
			sub.test(t, c, w)
		})
	}
}

func testCECostAndUsage(t *testing.T, c *ce.Client, w *ceWorld) {
	daily, monthly, hourly := cetypes.GranularityDaily, cetypes.GranularityMonthly, cetypes.GranularityHourly
	all := [2]time.Time{w.base, w.today}
	retagDay := w.retag.Truncate(24 * time.Hour)
	cost := []string{"UnblendedCost"}
	untagged := func(l ceLine) bool {
		for _, v := range l.r.Tags {
			if v != "" {
				return false
			}
		}
		return true
	}
	cases := []struct {
		name    string
		g       cetypes.Granularity
		period  [2]time.Time
		metrics []string
		groupBy []cetypes.GroupDefinition
		filter  *cetypes.Expression
		keep    func(ceLine) bool
	}{
		{"no group", daily, all, cost, nil, nil, nil},
		{"every metric", monthly, all, []string{"UnblendedCost", "BlendedCost", "AmortizedCost", "NetUnblendedCost", "NetAmortizedCost", "UsageQuantity"}, nil, nil, nil},
		{"by tag dept", daily, all, cost, []cetypes.GroupDefinition{ceGroupTag("dept")}, nil, nil},
		{"by two tags", monthly, all, cost, []cetypes.GroupDefinition{ceGroupTag("dept"), ceGroupTag("env")}, nil, nil},
		{"by service", monthly, all, cost, []cetypes.GroupDefinition{ceGroupDim("SERVICE")}, nil, nil},
		{"by region", daily, all, cost, []cetypes.GroupDefinition{ceGroupDim("REGION")}, nil, nil},
		{"by usage type", monthly, all, []string{"UnblendedCost", "UsageQuantity"}, []cetypes.GroupDefinition{ceGroupDim("USAGE_TYPE")}, nil, nil},
		{"by linked account", daily, all, cost, []cetypes.GroupDefinition{ceGroupDim("LINKED_ACCOUNT")}, nil, nil},
		{"by resource id", monthly, all, cost, []cetypes.GroupDefinition{ceGroupDim("RESOURCE_ID")}, nil, nil},
		{"by model", daily, all, cost, []cetypes.GroupDefinition{ceGroupDim("MODEL")}, nil, nil},
		{"by operation", monthly, all, cost, []cetypes.GroupDefinition{ceGroupDim("OPERATION")}, nil, nil},
		{"tag and dimension", daily, all, cost, []cetypes.GroupDefinition{ceGroupTag("app"), ceGroupDim("MODEL")}, nil, nil},
		{"tag equals", daily, all, cost, nil, ceTag("dept", "claims"),
			func(l ceLine) bool { return l.tag("dept") == "claims" }},
		{"tag absent", monthly, all, cost, []cetypes.GroupDefinition{ceGroupTag("dept")},
			&cetypes.Expression{Tags: &cetypes.TagValues{Key: aws.String("cost_center"), MatchOptions: []cetypes.MatchOption{cetypes.MatchOptionAbsent}}},
			func(l ceLine) bool { return l.tag("cost_center") == "" }},
		{"untagged resources", monthly, all, cost, []cetypes.GroupDefinition{ceGroupDim("RESOURCE_ID")},
			&cetypes.Expression{Tags: &cetypes.TagValues{MatchOptions: []cetypes.MatchOption{cetypes.MatchOptionAbsent}}}, untagged},
		{"tag multiple values", daily, all, cost, []cetypes.GroupDefinition{ceGroupDim("REGION")}, ceTag("dept", "claims", "risk"),
			func(l ceLine) bool { return l.tag("dept") == "claims" || l.tag("dept") == "risk" }},
		{"tag case-sensitive by default", monthly, all, cost, nil, ceTag("dept", "Claims"),
			func(l ceLine) bool { return l.tag("dept") == "Claims" }},
		{"tag case-insensitive", monthly, all, cost, []cetypes.GroupDefinition{ceGroupTag("dept")},
			&cetypes.Expression{Tags: &cetypes.TagValues{Key: aws.String("dept"), Values: []string{"CLAIMS"},
				MatchOptions: []cetypes.MatchOption{cetypes.MatchOptionEquals, cetypes.MatchOptionCaseInsensitive}}},
			func(l ceLine) bool { return strings.EqualFold(l.tag("dept"), "claims") }},
		{"usage type starts with", monthly, all, []string{"UsageQuantity"}, []cetypes.GroupDefinition{ceGroupDim("USAGE_TYPE")},
			&cetypes.Expression{Dimensions: &cetypes.DimensionValues{Key: cetypes.DimensionUsageType, Values: []string{"USE1-"},
				MatchOptions: []cetypes.MatchOption{cetypes.MatchOptionStartsWith}}},
			func(l ceLine) bool { return strings.HasPrefix(l.usageType, "USE1-") }},
		{"operation case-insensitive", daily, all, cost, []cetypes.GroupDefinition{ceGroupDim("OPERATION")},
			&cetypes.Expression{Dimensions: &cetypes.DimensionValues{Key: cetypes.DimensionOperation, Values: []string{"converse"},
				MatchOptions: []cetypes.MatchOption{cetypes.MatchOptionCaseInsensitive}}},
			func(l ceLine) bool { return l.r.Operation == "Converse" }},
		{"and", daily, all, cost, []cetypes.GroupDefinition{ceGroupDim("MODEL")},
			&cetypes.Expression{And: []cetypes.Expression{*ceTag("env", "prod"), *ceDim("REGION", "us-east-1")}},
			func(l ceLine) bool { return l.tag("env") == "prod" && l.r.RegionServed == "us-east-1" }},
		{"or", monthly, all, cost, []cetypes.GroupDefinition{ceGroupTag("dept")},
			&cetypes.Expression{Or: []cetypes.Expression{*ceTag("dept", "sales"), *ceDim("MODEL", ceNova)}},
			func(l ceLine) bool { return l.tag("dept") == "sales" || l.r.ModelID == ceNova }},
		{"not", daily, all, cost, []cetypes.GroupDefinition{ceGroupTag("dept")},
			&cetypes.Expression{Not: ceTag("dept", "claims")},
			func(l ceLine) bool { return l.tag("dept") != "claims" }},
		{"nested and-or-not", monthly, all, cost, []cetypes.GroupDefinition{ceGroupDim("LINKED_ACCOUNT"), ceGroupTag("cost_center")},
			&cetypes.Expression{And: []cetypes.Expression{
				{Or: []cetypes.Expression{*ceTag("env", "prod", "staging"), *ceDim("LINKED_ACCOUNT", ceLinked)}},
				{Not: &cetypes.Expression{Dimensions: &cetypes.DimensionValues{Key: cetypes.DimensionUsageType, Values: []string{"-output-tokens"},
					MatchOptions: []cetypes.MatchOption{cetypes.MatchOptionEndsWith}}}},
			}},
			func(l ceLine) bool {
				return (l.tag("env") == "prod" || l.tag("env") == "staging" || l.r.Account == ceLinked) && !strings.HasSuffix(l.usageType, "-output-tokens")
			}},
		{"linked account filter", daily, all, cost, []cetypes.GroupDefinition{ceGroupTag("cost_center")}, ceDim("LINKED_ACCOUNT", ceLinked),
			func(l ceLine) bool { return l.r.Account == ceLinked }},
		{"retagged profile splits", daily, all, cost, []cetypes.GroupDefinition{ceGroupTag("dept"), ceGroupTag("env")},
			ceDim("RESOURCE_ID", ceAppARN(ceMgmt, "triage000001")),
			func(l ceLine) bool { return l.r.ProfileARN == ceAppARN(ceMgmt, "triage000001") }},
		{"hourly on the retag day", hourly, [2]time.Time{retagDay, retagDay.AddDate(0, 0, 1)}, cost, []cetypes.GroupDefinition{ceGroupTag("dept")},
			ceTag("env", "prod"), func(l ceLine) bool { return l.tag("env") == "prod" }},
		{"hourly usage quantity", hourly, [2]time.Time{w.base.Add(5 * time.Hour), w.base.Add(29 * time.Hour)}, []string{"UsageQuantity", "NetAmortizedCost"},
			[]cetypes.GroupDefinition{ceGroupDim("REGION")}, nil, nil},
		{"partial days", daily, [2]time.Time{w.base.AddDate(0, 0, 3), w.base.AddDate(0, 0, 5)}, cost, []cetypes.GroupDefinition{ceGroupDim("RESOURCE_ID"), ceGroupDim("USAGE_TYPE")}, nil, nil},
		{"estimated periods", daily, all, []string{"UnblendedCost", "UsageQuantity"}, nil, ceDim("MODEL", ceLlama),
			func(l ceLine) bool { return l.r.ModelID == ceLlama }},
	}
	if len(cases) < 20 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := &ce.GetCostAndUsageInput{
				TimePeriod: ceInterval(tc.period[0], tc.period[1], tc.g), Granularity: tc.g, Metrics: tc.metrics,
				GroupBy: tc.groupBy, Filter: tc.filter,
			}
			got, _ := ceFetch(t, c, in)
			want := ceExpect(w, tc.period[0], tc.period[1], tc.g, tc.groupBy, tc.keep)
			if !slices.Contains(tc.metrics, "UsageQuantity") {
				for _, m := range want.Groups {
					for k, a := range m {
						m[k] = ceAgg{Cost: a.Cost}
					}
				}
			}
			if !slices.ContainsFunc(tc.metrics, func(m string) bool { return m != "UsageQuantity" }) {
				for _, m := range want.Groups {
					for k, a := range m {
						m[k] = ceAgg{Usage: a.Usage}
					}
				}
			}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
			var nonEmpty int
			for _, m := range want.Groups {
				for _, a := range m {
					if a != (ceAgg{}) {
						nonEmpty++
					}
				}
			}
			if nonEmpty == 0 {
				t.Error("the case selects nothing; it proves little")
			}
		})
	}
	// The retagged profile's spend splits between its old and new tags,
	// and the untagged spend shows as "dept$".
	got, _ := ceFetch(t, c, &ce.GetCostAndUsageInput{TimePeriod: ceInterval(w.base, w.today, monthly), Granularity: monthly,
		Metrics: cost, GroupBy: []cetypes.GroupDefinition{ceGroupTag("dept")}, Filter: ceDim("RESOURCE_ID", ceAppARN(ceMgmt, "triage000001"), ceAppARN(ceMgmt, "untagged0001"))})
	keys := map[string]bool{}
	for _, m := range got.Groups {
		for k := range m {
			keys[k] = true
		}
	}
	if diff := cmp.Diff(keys, map[string]bool{"dept$": true, "dept$claims": true, "dept$risk": true}); diff != "" {
		t.Errorf("dept keys of the retagged and untagged profiles (-got +want):\n%s", diff)
	}
}

func testCEPagination(t *testing.T, c *ce.Client, w *ceWorld) {
	g := cetypes.GranularityHourly
	from, to := w.base.AddDate(0, 0, 4), w.base.AddDate(0, 0, 6)
	groupBy := []cetypes.GroupDefinition{ceGroupDim("RESOURCE_ID"), ceGroupDim("USAGE_TYPE")}
	in := &ce.GetCostAndUsageInput{TimePeriod: ceInterval(from, to, g), Granularity: g, Metrics: []string{"UnblendedCost", "UsageQuantity"}, GroupBy: groupBy}
	got, pages := ceFetch(t, c, in)
	if pages < 2 {
		t.Errorf("%d page(s); the test wants several", pages)
	}
	want := ceExpect(w, from, to, g, groupBy, nil)
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("(-got +want):\n%s", diff)
	}

	first, err := c.GetCostAndUsage(t.Context(), in)
	if err != nil || first.NextPageToken == nil {
		t.Fatalf("first page: %v, token %v", err, first.NextPageToken)
	}
	changed := *in
	changed.NextPageToken = first.NextPageToken
	changed.Metrics = []string{"UnblendedCost"}
	_, err = c.GetCostAndUsage(t.Context(), &changed)
	var rc *cetypes.RequestChangedException
	if !errors.As(err, &rc) {
		t.Errorf("token with a changed request: %v, want RequestChangedException", err)
	}
	bad := *in
	bad.NextPageToken = aws.String("not-a-token")
	_, err = c.GetCostAndUsage(t.Context(), &bad)
	var it *cetypes.InvalidNextTokenException
	if !errors.As(err, &it) {
		t.Errorf("garbage token: %v, want InvalidNextTokenException", err)
	}
}

func testCEValidation(t *testing.T, c *ce.Client, w *ceWorld) {
	valid := func() *ce.GetCostAndUsageInput {
		return &ce.GetCostAndUsageInput{TimePeriod: ceInterval(w.base, w.today, cetypes.GranularityDaily),
			Granularity: cetypes.GranularityDaily, Metrics: []string{"UnblendedCost"}}
	}
	for _, tc := range []struct {
		name   string
		mutate func(in *ce.GetCostAndUsageInput)
		msg    string
	}{
		{"bad start date", func(in *ce.GetCostAndUsageInput) { in.TimePeriod.Start = aws.String("2026-13-45") }, "Start date"},
		{"bad end date", func(in *ce.GetCostAndUsageInput) { in.TimePeriod.End = aws.String("tomorrow") }, "End date"},
		{"end before start", func(in *ce.GetCostAndUsageInput) {
			in.TimePeriod = &cetypes.DateInterval{Start: aws.String(ceDate(w.today)), End: aws.String(ceDate(w.base))}
		}, "should be before end date"},
		{"end equals start", func(in *ce.GetCostAndUsageInput) { in.TimePeriod.End = in.TimePeriod.Start }, "should be before end date"},
		{"three group-bys", func(in *ce.GetCostAndUsageInput) {
			in.GroupBy = []cetypes.GroupDefinition{ceGroupTag("dept"), ceGroupTag("env"), ceGroupDim("REGION")}
		}, "at most two"},
		{"unknown metric", func(in *ce.GetCostAndUsageInput) { in.Metrics = []string{"UnblendedCost", "Profit"} }, "Invalid metric"},
		{"unknown granularity", func(in *ce.GetCostAndUsageInput) { in.Granularity = "WEEKLY" }, "granularity"},
		{"expression with two roots", func(in *ce.GetCostAndUsageInput) {
			in.Filter = &cetypes.Expression{Tags: ceTag("dept", "claims").Tags, Dimensions: ceDim("REGION", "us-east-1").Dimensions}
		}, "Expression has more than one roots"},
		{"nested two roots", func(in *ce.GetCostAndUsageInput) {
			in.Filter = &cetypes.Expression{Not: &cetypes.Expression{And: []cetypes.Expression{*ceTag("a", "b")}, Or: []cetypes.Expression{*ceTag("a", "b")}}}
		}, "Expression has more than one roots"},
		{"unsupported dimension", func(in *ce.GetCostAndUsageInput) { in.GroupBy = []cetypes.GroupDefinition{ceGroupDim("INSTANCE_TYPE")} }, "not supported"},
		{"cost category", func(in *ce.GetCostAndUsageInput) {
			in.GroupBy = []cetypes.GroupDefinition{{Type: cetypes.GroupDefinitionTypeCostCategory, Key: aws.String("team")}}
		}, "COST_CATEGORY"},
		{"absent on a dimension", func(in *ce.GetCostAndUsageInput) {
			in.Filter = &cetypes.Expression{Dimensions: &cetypes.DimensionValues{Key: cetypes.DimensionRegion, Values: []string{"x"}, MatchOptions: []cetypes.MatchOption{cetypes.MatchOptionAbsent}}}
		}, "ABSENT"},
		{"hourly timestamp not whole hour", func(in *ce.GetCostAndUsageInput) {
			in.Granularity = cetypes.GranularityHourly
			in.TimePeriod.Start = aws.String(w.base.Add(90 * time.Minute).Format(time.RFC3339))
		}, "whole hour"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := valid()
			tc.mutate(in)
			_, err := c.GetCostAndUsage(t.Context(), in)
			var ae *smithy.GenericAPIError
			if !errors.As(err, &ae) || ae.Code != "ValidationException" || !strings.Contains(ae.Message, tc.msg) {
				t.Errorf("err = %v, want ValidationException containing %q", err, tc.msg)
			}
		})
	}
	_, err := c.GetCostAndUsageWithResources(t.Context(), &ce.GetCostAndUsageWithResourcesInput{
		TimePeriod: ceInterval(w.base, w.today, cetypes.GranularityDaily), Granularity: cetypes.GranularityDaily, Metrics: []string{"UnblendedCost"},
		Filter: &cetypes.Expression{CostCategories: &cetypes.CostCategoryValues{Key: aws.String("x"), Values: []string{"y"}}},
	})
	if code := errorCode(err); code != "ValidationException" {
		t.Errorf("cost category filter: %v, want ValidationException", err)
	}
}

func testCEDimensionValues(t *testing.T, c *ce.Client, w *ceWorld) {
	interval := ceInterval(w.base, w.today, cetypes.GranularityDaily)
	distinct := func(dim string, keep func(ceLine) bool) []string {
		set := map[string]bool{}
		for _, l := range w.lines {
			if keep == nil || keep(l) {
				set[l.dim(dim)] = true
			}
		}
		out := make([]string, 0, len(set))
		for v := range set {
			out = append(out, v)
		}
		slices.Sort(out)
		return out
	}
	for _, tc := range []struct {
		name   string
		dim    string
		filter *cetypes.Expression
		search string
		keep   func(ceLine) bool
	}{
		{"regions", "REGION", nil, "", nil},
		{"models", "MODEL", nil, "", nil},
		{"accounts", "LINKED_ACCOUNT", nil, "", nil},
		{"usage types", "USAGE_TYPE", nil, "", nil},
		{"operations", "OPERATION", nil, "", nil},
		{"resources", "RESOURCE_ID", nil, "", nil},
		{"service", "SERVICE", nil, "", nil},
		{"regions of sales", "REGION", ceTag("dept", "sales"), "", func(l ceLine) bool { return l.tag("dept") == "sales" }},
		{"usage types searched", "USAGE_TYPE", nil, "cacheread", func(l ceLine) bool { return strings.Contains(strings.ToLower(l.usageType), "cacheread") }},
		{"services of usage types", "SERVICE", ceDim("USAGE_TYPE", "USE1-MP:USE1_InputTokenCount-Units"), "",
			func(l ceLine) bool { return l.usageType == "USE1-MP:USE1_InputTokenCount-Units" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &ce.GetDimensionValuesInput{TimePeriod: interval, Dimension: cetypes.Dimension(tc.dim), Filter: tc.filter}
			if tc.search != "" {
				in.SearchString = aws.String(tc.search)
			}
			out, err := c.GetDimensionValues(t.Context(), in)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range out.DimensionValues {
				got = append(got, aws.ToString(v.Value))
				if tc.dim == "USAGE_TYPE" {
					want := "Tokens"
					if strings.Contains(aws.ToString(v.Value), "-MP:") {
						want = "Units" // an AWS Marketplace usage type
					}
					if v.Attributes["unit"] != want {
						t.Errorf("%s: unit %q, want %q", aws.ToString(v.Value), v.Attributes["unit"], want)
					}
				}
			}
			want := distinct(tc.dim, tc.keep)
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
			if aws.ToInt32(out.TotalSize) != int32(len(want)) || aws.ToInt32(out.ReturnSize) != int32(len(want)) {
				t.Errorf("sizes %d/%d, want %d", aws.ToInt32(out.ReturnSize), aws.ToInt32(out.TotalSize), len(want))
			}
		})
	}
	t.Run("sorted by cost", func(t *testing.T) {
		out, err := c.GetDimensionValues(t.Context(), &ce.GetDimensionValuesInput{TimePeriod: interval, Dimension: cetypes.DimensionResourceId,
			SortBy: []cetypes.SortDefinition{{Key: aws.String("UnblendedCost"), SortOrder: cetypes.SortOrderDescending}}, MaxResults: aws.Int32(3)})
		if err != nil {
			t.Fatal(err)
		}
		costs := map[string]money.Amount{}
		for _, l := range w.lines {
			costs[l.dim("RESOURCE_ID")] += l.cost
		}
		all := distinct("RESOURCE_ID", nil)
		slices.SortStableFunc(all, func(a, b string) int { return int(costs[b] - costs[a]) })
		var got []string
		for _, v := range out.DimensionValues {
			got = append(got, aws.ToString(v.Value))
		}
		if diff := cmp.Diff(got, all[:3]); diff != "" {
			t.Errorf("top 3 resources by cost (-got +want):\n%s", diff)
		}
	})
	t.Run("unsupported dimension", func(t *testing.T) {
		_, err := c.GetDimensionValues(t.Context(), &ce.GetDimensionValuesInput{TimePeriod: interval, Dimension: cetypes.DimensionAz})
		if code := errorCode(err); code != "ValidationException" {
			t.Errorf("AZ: %v, want ValidationException", err)
		}
	})
}

func testCETags(t *testing.T, c *ce.Client, w *ceWorld) {
	tagsOf := func(in *ce.GetTagsInput) []string {
		t.Helper()
		out, err := c.GetTags(t.Context(), in)
		if err != nil {
			t.Fatal(err)
		}
		if int(aws.ToInt32(out.ReturnSize)) != len(out.Tags) {
			t.Errorf("ReturnSize %d, %d tags", aws.ToInt32(out.ReturnSize), len(out.Tags))
		}
		return out.Tags
	}
	all := ceInterval(w.base, w.today, cetypes.GranularityDaily)
	if diff := cmp.Diff(tagsOf(&ce.GetTagsInput{TimePeriod: all}), []string{"app", "cost_center", "dept", "env"}); diff != "" {
		t.Errorf("keys (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(tagsOf(&ce.GetTagsInput{TimePeriod: all, TagKey: aws.String("dept")}), []string{"Claims", "claims", "marketing", "risk", "sales"}); diff != "" {
		t.Errorf("dept values (-got +want):\n%s", diff)
	}
	retagged := ceDim("RESOURCE_ID", ceAppARN(ceMgmt, "triage000001"))
	before := ceInterval(w.base, w.retag.Truncate(24*time.Hour), cetypes.GranularityDaily)
	after := ceInterval(w.retag.Truncate(24*time.Hour).AddDate(0, 0, 1), w.today, cetypes.GranularityDaily)
	if diff := cmp.Diff(tagsOf(&ce.GetTagsInput{TimePeriod: before, TagKey: aws.String("dept"), Filter: retagged}), []string{"claims"}); diff != "" {
		t.Errorf("retagged profile's dept before (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(tagsOf(&ce.GetTagsInput{TimePeriod: after, TagKey: aws.String("dept"), Filter: retagged}), []string{"risk"}); diff != "" {
		t.Errorf("retagged profile's dept after (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(tagsOf(&ce.GetTagsInput{TimePeriod: all, TagKey: aws.String("env"), Filter: ceDim("LINKED_ACCOUNT", ceLinked)}), []string{"prod", "staging"}); diff != "" {
		t.Errorf("env values of the linked account (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(tagsOf(&ce.GetTagsInput{TimePeriod: all, SearchString: aws.String("COST")}), []string{"cost_center"}); diff != "" {
		t.Errorf("keys searched (-got +want):\n%s", diff)
	}
}

func testCEWithResources(t *testing.T, c *ce.Client, w *ceWorld) {
	g := cetypes.GranularityDaily
	from, to := w.today.AddDate(0, 0, -3), w.today
	groupBy := []cetypes.GroupDefinition{ceGroupDim("RESOURCE_ID")}
	out, err := c.GetCostAndUsageWithResources(t.Context(), &ce.GetCostAndUsageWithResourcesInput{
		TimePeriod: ceInterval(from, to, g), Granularity: g, Metrics: []string{"UnblendedCost"},
		GroupBy: groupBy, Filter: ceDim("SERVICE", "Amazon Bedrock", ceMarket[ceHaiku], ceMarket[ceSonnet]),
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.NextPageToken != nil {
		t.Fatal("unexpected second page")
	}
	got := ceTable{Groups: map[string]map[string]ceAgg{}, Estimated: map[string]bool{}}
	for _, r := range out.ResultsByTime {
		pk := aws.ToString(r.TimePeriod.Start) + "/" + aws.ToString(r.TimePeriod.End)
		got.Groups[pk] = map[string]ceAgg{}
		for _, gr := range r.Groups {
			v, err := money.Parse(aws.ToString(gr.Metrics["UnblendedCost"].Amount))
			if err != nil {
				t.Fatal(err)
			}
			got.Groups[pk][gr.Keys[0]] = ceAgg{Cost: v}
		}
	}
	want := ceExpect(w, from, to, g, groupBy, nil)
	for _, m := range want.Groups {
		for k, a := range m {
			m[k] = ceAgg{Cost: a.Cost}
		}
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("(-got +want):\n%s", diff)
	}
	if _, ok := got.Groups[ceDate(from)+"/"+ceDate(from.AddDate(0, 0, 1))]["arn:aws:bedrock:us-east-1::foundation-model/"+ceHaiku]; !ok {
		t.Error("direct model calls are not grouped under the model ARN")
	}
}

func testCEForecast(t *testing.T, c *ce.Client, w *ceWorld) {
	amount := func(s *string) money.Amount {
		t.Helper()
		v, err := money.Parse(aws.ToString(s))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	var hist money.Amount
	for _, l := range w.lines {
		hist += l.cost
	}
	avg := hist / ceDays
	forecast := func(g cetypes.Granularity, to time.Time, level int32, filter *cetypes.Expression) (*ce.GetCostForecastOutput, error) {
		in := &ce.GetCostForecastInput{TimePeriod: ceInterval(w.today, to, cetypes.GranularityDaily), Granularity: g,
			Metric: cetypes.MetricUnblendedCost, Filter: filter}
		if level != 0 {
			in.PredictionIntervalLevel = aws.Int32(level)
		}
		return c.GetCostForecast(t.Context(), in)
	}
	d80, err := forecast(cetypes.GranularityDaily, w.today.AddDate(0, 0, 7), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	d95, err := forecast(cetypes.GranularityDaily, w.today.AddDate(0, 0, 7), 95, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(d80.ForecastResultsByTime) != 7 {
		t.Fatalf("%d daily forecasts, want 7", len(d80.ForecastResultsByTime))
	}
	var sum money.Amount
	for i, r := range d80.ForecastResultsByTime {
		if want := ceDate(w.today.AddDate(0, 0, i)); aws.ToString(r.TimePeriod.Start) != want {
			t.Errorf("period %d starts %s, want %s", i, aws.ToString(r.TimePeriod.Start), want)
		}
		mean, lo, hi := amount(r.MeanValue), amount(r.PredictionIntervalLowerBound), amount(r.PredictionIntervalUpperBound)
		sum += mean
		if !(lo <= mean && mean <= hi && lo < hi) {
			t.Errorf("%s: mean %v outside [%v, %v]", aws.ToString(r.TimePeriod.Start), mean, lo, hi)
		}
		// The history is flat, so the forecast stays near its average.
		if mean < avg/2 || mean > avg*2 {
			t.Errorf("%s: mean %v far from the daily average %v", aws.ToString(r.TimePeriod.Start), mean, avg)
		}
		r95 := d95.ForecastResultsByTime[i]
		if amount(r95.MeanValue) != mean || amount(r95.PredictionIntervalUpperBound)-amount(r95.PredictionIntervalLowerBound) <= hi-lo {
			t.Errorf("%s: the 95%% interval is not wider than the 80%% one", aws.ToString(r.TimePeriod.Start))
		}
	}
	if got := amount(d80.Total.Amount); got != sum || aws.ToString(d80.Total.Unit) != "USD" {
		t.Errorf("Total %v %s, want the sum of means %v USD", got, aws.ToString(d80.Total.Unit), sum)
	}

	monthEnd := time.Date(w.today.Year(), w.today.Month()+2, 1, 0, 0, 0, 0, time.UTC)
	m, err := forecast(cetypes.GranularityMonthly, monthEnd, 0, ceTag("dept", "sales"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.ForecastResultsByTime) != 2 || aws.ToString(m.ForecastResultsByTime[1].TimePeriod.End) != ceDate(monthEnd) {
		t.Errorf("monthly forecast periods %+v", m.ForecastResultsByTime)
	}
	if tot := amount(m.Total.Amount); tot <= 0 || tot >= amount(d80.Total.Amount)*10 {
		t.Errorf("monthly sales forecast %v implausible", tot)
	}

	_, err = forecast(cetypes.GranularityDaily, w.today.AddDate(0, 0, 7), 0, ceTag("dept", "nobody"))
	var du *cetypes.DataUnavailableException
	if !errors.As(err, &du) {
		t.Errorf("forecast without history: %v, want DataUnavailableException", err)
	}
	for name, in := range map[string]*ce.GetCostForecastInput{
		"hourly": {TimePeriod: ceInterval(w.today, w.today.AddDate(0, 0, 2), cetypes.GranularityDaily), Granularity: cetypes.GranularityHourly, Metric: cetypes.MetricUnblendedCost},
		"start in the future": {TimePeriod: ceInterval(w.today.AddDate(0, 0, 2), w.today.AddDate(0, 0, 4), cetypes.GranularityDaily),
			Granularity: cetypes.GranularityDaily, Metric: cetypes.MetricUnblendedCost},
		"usage metric": {TimePeriod: ceInterval(w.today, w.today.AddDate(0, 0, 2), cetypes.GranularityDaily), Granularity: cetypes.GranularityDaily, Metric: cetypes.MetricUsageQuantity},
	} {
		if _, err := c.GetCostForecast(t.Context(), in); errorCode(err) != "ValidationException" {
			t.Errorf("%s: %v, want ValidationException", name, err)
		}
	}
}
