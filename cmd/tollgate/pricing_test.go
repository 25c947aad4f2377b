package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rt "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"
	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/pricing"
)

// nanosAt is tokens at rate USD per 1,000 tokens, in nano-dollars rounded
// half up, computed with exact rationals (independently of money).
func nanosAt(t *testing.T, tokens int64, rate string) money.Amount {
	t.Helper()
	r, ok := new(big.Rat).SetString(rate)
	if !ok {
		t.Fatalf("rate %q", rate)
	}
	n := new(big.Rat).Mul(r, big.NewRat(tokens*1_000_000, 1))
	n.Add(n, big.NewRat(1, 2))
	return money.Amount(new(big.Int).Quo(n.Num(), n.Denom()).Int64())
}

// TestPricingDimensionsThroughSDK drives Converse through the official
// SDK with cache points of both TTLs, through a global system profile, an
// application profile copied from it and the in-region model id, then
// checks each call's record (token kinds, scope, usage types, cost at the
// catalogue's cited rates for its scope and TTL) and that Cost Explorer's
// USAGE_TYPE grouping returns those usage types summing to the ledger.
func TestPricingDimensionsThroughSDK(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	ctx := t.Context()
	const (
		sonnet   = "anthropic.claude-sonnet-4-5-20250929-v1:0"
		global   = "global." + sonnet
		globalAR = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/" + global
	)
	appARN := createProfile(t, ts.bedrock(t), "pricing-global", globalAR, tagList("dept", "pricing")...)
	rc := ts.runtime(t)

	system := func(doc string, ttl rt.CacheTTL) []rt.SystemContentBlock {
		return []rt.SystemContentBlock{
			&rt.SystemContentBlockMemberText{Value: doc},
			&rt.SystemContentBlockMemberCachePoint{Value: rt.CachePointBlock{Type: rt.CachePointTypeDefault, Ttl: ttl}},
		}
	}
	longDoc := strings.Repeat("The policy covers water damage from burst pipes but not from floods. ", 60)
	type call struct {
		name, modelID string
		ttl           rt.CacheTTL
		doc           string
		// what the record must show
		scope   string
		write1h bool
		rates   map[pricing.Kind]string // USD per 1K, from the catalogue entry's cited source
		types   map[pricing.Kind]string
	}
	globalRates := map[pricing.Kind]string{pricing.Input: "0.003", pricing.Output: "0.015", pricing.CacheRead: "0.0003",
		pricing.CacheWrite: "0.00375", pricing.CacheWrite1h: "0.006"}
	regionalRates := map[pricing.Kind]string{pricing.Input: "0.0033", pricing.Output: "0.0165", pricing.CacheRead: "0.00033",
		pricing.CacheWrite: "0.004125", pricing.CacheWrite1h: "0.0066"}
	// AWS Marketplace bills Claude Sonnet 4.5: legacy-scheme marketplace
	// usage types, "_Global" for the global profile.
	globalTypes := map[pricing.Kind]string{
		pricing.Input:        "USE1-MP:USE1_InputTokenCount_Global-Units",
		pricing.Output:       "USE1-MP:USE1_OutputTokenCount_Global-Units",
		pricing.CacheRead:    "USE1-MP:USE1_CacheReadInputTokenCount_Global-Units",
		pricing.CacheWrite:   "USE1-MP:USE1_CacheWriteInputTokenCount_Global-Units",
		pricing.CacheWrite1h: "USE1-MP:USE1_CacheWrite1hInputTokenCount_Global-Units",
	}
	regionalTypes := map[pricing.Kind]string{
		pricing.Input:        "USE1-MP:USE1_InputTokenCount-Units",
		pricing.Output:       "USE1-MP:USE1_OutputTokenCount-Units",
		pricing.CacheRead:    "USE1-MP:USE1_CacheReadInputTokenCount-Units",
		pricing.CacheWrite:   "USE1-MP:USE1_CacheWriteInputTokenCount-Units",
		pricing.CacheWrite1h: "USE1-MP:USE1_CacheWrite1hInputTokenCount-Units",
	}
	calls := []call{
		{"application profile from global, 1-hour write", appARN, rt.CacheTTLOneHour, longDoc, "global", true, globalRates, globalTypes},
		{"application profile from global, read", appARN, rt.CacheTTLOneHour, longDoc, "global", false, globalRates, globalTypes},
		{"global system profile, 5-minute write", global, rt.CacheTTLFiveMinutes, "Short " + longDoc, "global", false, globalRates, globalTypes},
		{"in-region model id, 1-hour write", sonnet, rt.CacheTTLOneHour, "Regional " + longDoc, "", true, regionalRates, regionalTypes},
		{"in-region model id, 5-minute write", sonnet, "", "Five " + longDoc, "", false, regionalRates, regionalTypes},
	}
	var ledgerSum money.Amount
	wantTypes := map[string]int64{} // usage type -> tokens
	for i, c := range calls {
		out, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(c.modelID), System: system(c.doc, c.ttl),
			Messages: userText("Is a burst pipe covered?"), InferenceConfig: &rt.InferenceConfiguration{MaxTokens: aws.Int32(100)}})
		if err != nil {
			t.Fatalf("%s: Converse: %v", c.name, err)
		}
		u := out.Usage
		write, read := int64(aws.ToInt32(u.CacheWriteInputTokens)), int64(aws.ToInt32(u.CacheReadInputTokens))
		var details []string
		for _, d := range u.CacheDetails {
			details = append(details, fmt.Sprintf("%s:%d", d.Ttl, aws.ToInt32(d.InputTokens)))
		}
		if i == 1 {
			if read == 0 || write != 0 {
				t.Fatalf("%s: cache read %d write %d, want a read", c.name, read, write)
			}
		} else if write == 0 || read != 0 || len(u.CacheDetails) != 1 || aws.ToInt32(u.CacheDetails[0].InputTokens) != int32(write) {
			t.Fatalf("%s: cache write %d read %d details %v, want one write with its TTL", c.name, write, read, details)
		} else if wantTTL := map[bool]rt.CacheTTL{true: rt.CacheTTLOneHour, false: rt.CacheTTLFiveMinutes}[c.write1h]; u.CacheDetails[0].Ttl != wantTTL {
			t.Fatalf("%s: cacheDetails TTL %s, want %s", c.name, u.CacheDetails[0].Ttl, wantTTL)
		}

		recs, err := ts.DB.Records(ctx, ledger.Query{Newest: true, Limit: 1})
		if err != nil || len(recs) != 1 {
			t.Fatalf("records: %v %v", recs, err)
		}
		r := recs[0]
		kinds := map[pricing.Kind]int64{pricing.Input: int64(aws.ToInt32(u.InputTokens)), pricing.Output: int64(aws.ToInt32(u.OutputTokens)),
			pricing.CacheRead: read}
		if c.write1h {
			kinds[pricing.CacheWrite1h] = write
		} else {
			kinds[pricing.CacheWrite] = write
		}
		gotKinds := map[pricing.Kind]int64{pricing.Input: r.InputTokens, pricing.Output: r.OutputTokens, pricing.CacheRead: r.CacheReadTokens,
			pricing.CacheWrite: r.CacheWriteTokens, pricing.CacheWrite1h: r.CacheWrite1hTokens}
		for k := range gotKinds {
			if gotKinds[k] == 0 {
				delete(gotKinds, k)
			}
		}
		for k := range kinds {
			if kinds[k] == 0 {
				delete(kinds, k)
			}
		}
		if diff := cmp.Diff(gotKinds, kinds); diff != "" {
			t.Errorf("%s: record token kinds (-record +response):\n%s", c.name, diff)
		}
		if r.Scope != c.scope || !r.Priced || r.PriceVersion == "" {
			t.Errorf("%s: record scope %q priced %v version %q, want scope %q priced", c.name, r.Scope, r.Priced, r.PriceVersion, c.scope)
		}
		var want money.Amount
		gotCosts := map[pricing.Kind]money.Amount{pricing.Input: r.InputCost, pricing.Output: r.OutputCost, pricing.CacheRead: r.CacheReadCost,
			pricing.CacheWrite: r.CacheWriteCost, pricing.CacheWrite1h: r.CacheWrite1hCost}
		for k, n := range kinds {
			w := nanosAt(t, n, c.rates[k])
			if gotCosts[k] != w {
				t.Errorf("%s: %s cost %v, want %d tokens at $%s/1K = %v", c.name, k, gotCosts[k], n, c.rates[k], w)
			}
			want += w
			wantTypes[c.types[k]] += n
		}
		if r.Cost != want || r.LineSum() != r.Cost {
			t.Errorf("%s: cost %v (lines %v), want %v", c.name, r.Cost, r.LineSum(), want)
		}
		var types []string
		for _, l := range pricing.UsageTypes(&r) {
			types = append(types, l.UsageType)
		}
		for k := range kinds {
			found := false
			for _, ut := range types {
				found = found || ut == c.types[k]
			}
			if !found {
				t.Errorf("%s: usage types %v lack %s", c.name, types, c.types[k])
			}
		}
		ledgerSum += r.Cost
	}

	// Cost Explorer, grouped by USAGE_TYPE over today.
	ce := costexplorer.NewFromConfig(ts.awsConfig(t))
	today := time.Now().UTC().Truncate(24 * time.Hour)
	out, err := ce.GetCostAndUsage(ctx, &costexplorer.GetCostAndUsageInput{
		TimePeriod:  &cetypes.DateInterval{Start: aws.String(today.Format(time.DateOnly)), End: aws.String(today.AddDate(0, 0, 1).Format(time.DateOnly))},
		Granularity: cetypes.GranularityDaily, Metrics: []string{"UnblendedCost", "UsageQuantity"},
		GroupBy: []cetypes.GroupDefinition{{Type: cetypes.GroupDefinitionTypeDimension, Key: aws.String("USAGE_TYPE")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	gotTypes := map[string]int64{}
	var ceSum money.Amount
	for _, p := range out.ResultsByTime {
		for _, g := range p.Groups {
			c, err := money.Parse(aws.ToString(g.Metrics["UnblendedCost"].Amount))
			if err != nil {
				t.Fatal(err)
			}
			ceSum += c
			n, err := strconv.ParseInt(aws.ToString(g.Metrics["UsageQuantity"].Amount), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			gotTypes[g.Keys[0]] = n
		}
	}
	if diff := cmp.Diff(gotTypes, wantTypes); diff != "" {
		t.Errorf("GetCostAndUsage by USAGE_TYPE, tokens (-ce +records):\n%s", diff)
	}
	if ceSum != ledgerSum {
		t.Errorf("GetCostAndUsage sums to %v, the ledger to %v", ceSum, ledgerSum)
	}
}

// TestPricesFile checks the operator's price file: a bad one stops
// start-up naming its line; a good one prices calls (here a negotiated
// global rate for Claude Sonnet 4.5) and records the override's version.
func TestPricesFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("prices:\n  - model: anthropic.claude-sonnet-4-5-20250929-v1:0\n    effective: 2026-01-01\n    input: \"0.0027\"\n    output: \"0.0135\"\n    source: EA\n    discount: 10%\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Addr, cfg.DataDir, cfg.PricesFile = "127.0.0.1:0", t.TempDir(), bad
	m := NewMain(cfg, io.Discard)
	err := m.Open(t.Context())
	m.Close()
	if err == nil || !strings.Contains(err.Error(), "bad.yaml:7: unknown field \"discount\"") {
		t.Fatalf("Open with a bad prices file = %v, want its line named", err)
	}

	good := filepath.Join(dir, "prices.yaml")
	if err := os.WriteFile(good, []byte(`prices:
  - model: anthropic.claude-sonnet-4-5-20250929-v1:0
    effective: 2020-01-01
    scopes: [global]
    input: "0.0027"
    output: "0.0135"
    cacheRead: "0.00027"
    cacheWrite: "0.003375"
    cacheWrite1h: "0.0054"
    source: "EA-2026-001, 10% off list"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, "", func(c *config.Config) { c.PricesFile = good })
	out, err := ts.runtime(t).Converse(t.Context(), &bedrockruntime.ConverseInput{
		ModelId:  aws.String("global.anthropic.claude-sonnet-4-5-20250929-v1:0"),
		Messages: userText("hello"), InferenceConfig: &rt.InferenceConfiguration{MaxTokens: aws.Int32(50)}})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := ts.DB.Records(t.Context(), ledger.Query{})
	if err != nil || len(recs) != 1 {
		t.Fatalf("records %v %v", recs, err)
	}
	r := recs[0]
	want := nanosAt(t, int64(aws.ToInt32(out.Usage.InputTokens)), "0.0027") + nanosAt(t, int64(aws.ToInt32(out.Usage.OutputTokens)), "0.0135")
	m2, _ := ts.Catalog.Model("anthropic.claude-sonnet-4-5-20250929-v1:0")
	p, _ := m2.PriceFor(catalog.Dims{Scope: catalog.ScopeGlobal, Region: "us-east-1"}, time.Now())
	if r.Cost != want || r.PriceVersion != pricing.Version(p) || p.Origin != good+":2" {
		t.Errorf("cost %v version %q (price from %s), want %v at the override's version", r.Cost, r.PriceVersion, p.Origin, want)
	}
}

// TestReservedCapacityFixedCost checks a reserved-capacity commitment of
// the prices file reaches the ledger as one fixed-cost record per hour of
// its term so far, allocated to its profile, and Cost Explorer reports it
// under its usage type.
func TestReservedCapacityFixedCost(t *testing.T) {
	t.Parallel()
	yesterday := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -1)
	file := filepath.Join(t.TempDir(), "prices.yaml")
	profileARN := "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/reservedprof"
	if err := os.WriteFile(file, []byte(fmt.Sprintf(`commitments:
  - id: sonnet-reserved
    profile: %s
    model: anthropic.claude-sonnet-4-5-20250929-v1:0
    from: %s
    to: %s
    tokensPerMinute: 100000
    pricePerThousandTPMMonth: "45.37"
    source: "test figure"
`, profileARN, yesterday.Format(time.DateOnly), yesterday.AddDate(0, 0, 3).Format(time.DateOnly))), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, "", func(c *config.Config) { c.PricesFile = file })
	now := time.Now().UTC().Truncate(time.Hour)
	wantHours := int(now.Sub(yesterday) / time.Hour)
	var recs []ledger.Record
	for deadline := time.Now().Add(20 * time.Second); ; {
		all, err := ts.DB.Records(t.Context(), ledger.Query{})
		if err != nil {
			t.Fatal(err)
		}
		recs = all
		if len(recs) >= wantHours || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(recs) < wantHours {
		t.Fatalf("%d fixed-cost records, want one per hour since %s (%d)", len(recs), yesterday, wantHours)
	}
	c := ts.Commitments[0]
	var sum money.Amount
	for _, r := range recs[:wantHours] {
		if r.ProfileARN != profileARN || r.Operation != ledger.OpFixedCost || r.FixedCost != c.HourCost(r.Time) || r.Cost != r.FixedCost {
			t.Fatalf("record %+v", r)
		}
		sum += r.Cost
	}
	out, err := costexplorer.NewFromConfig(ts.awsConfig(t)).GetCostAndUsage(t.Context(), &costexplorer.GetCostAndUsageInput{
		TimePeriod:  &cetypes.DateInterval{Start: aws.String(yesterday.Format(time.DateOnly)), End: aws.String(now.AddDate(0, 0, 1).Format(time.DateOnly))},
		Granularity: cetypes.GranularityMonthly, Metrics: []string{"UnblendedCost"},
		Filter: &cetypes.Expression{Dimensions: &cetypes.DimensionValues{Key: cetypes.DimensionUsageType,
			Values: []string{"USE1-Claude4.5Sonnet-reserved-capacity-hours"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var ce money.Amount
	for _, p := range out.ResultsByTime {
		v, err := money.Parse(aws.ToString(p.Total["UnblendedCost"].Amount))
		if err != nil {
			t.Fatal(err)
		}
		ce += v
	}
	var all money.Amount
	for _, r := range recs {
		all += r.Cost
	}
	if ce != all || ce < sum {
		t.Errorf("Cost Explorer reports %v for the reserved-capacity usage type, the ledger %v", ce, all)
	}
}

// TestRepriceCommand re-prices a day of calls under a retroactive
// negotiated rate with tollgate reprice while the server runs: the records
// take the new cost and version, Cost Explorer reports the new total (the
// rollups moved with the records), and a second run changes nothing.
func TestRepriceCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ts := startServer(t, dir, nil)
	ctx := t.Context()
	rc := ts.runtime(t)
	for i := range 6 {
		model := []string{"global.anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-sonnet-4-5-20250929-v1:0"}[i%2]
		if _, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: userText(fmt.Sprint("question ", i)),
			InferenceConfig: &rt.InferenceConfiguration{MaxTokens: aws.Int32(80)}}); err != nil {
			t.Fatal(err)
		}
	}
	before, err := ts.DB.Records(ctx, ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "ea.yaml")
	if err := os.WriteFile(file, []byte(`prices:
  - model: anthropic.claude-sonnet-4-5-20250929-v1:0
    effective: 2025-01-01
    scopes: [global]
    input: "0.0024"
    output: "0.012"
    source: "EA-2026-001, 20% off list, retroactive"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	today := time.Now().UTC().Format(time.DateOnly)
	runReprice := func() RepriceOut {
		t.Helper()
		var out bytes.Buffer
		if err := run(ctx, []string{"reprice", "--from", today, "--data-dir", dir, "--prices-file", file, "-o", "json"}, &out, io.Discard,
			func(string) string { return "" }); err != nil {
			t.Fatalf("reprice: %v", err)
		}
		var r RepriceOut
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("%v: %s", err, out.String())
		}
		return r
	}
	first := runReprice()
	if first.Records != len(before) || first.Changed != 3 {
		t.Fatalf("first run: %+v, want 3 of %d records changed (the global calls)", first, len(before))
	}
	after, _ := ts.DB.Records(ctx, ledger.Query{})
	var sum money.Amount
	for i, r := range after {
		sum += r.Cost
		if r.Scope == "global" {
			want := nanosAt(t, r.InputTokens, "0.0024") + nanosAt(t, r.OutputTokens, "0.012")
			if r.Cost != want || r.PriceVersion == before[i].PriceVersion {
				t.Errorf("global record %s: cost %v version %s, want %v at a new version", r.RequestID, r.Cost, r.PriceVersion, want)
			}
		} else if r.Cost != before[i].Cost || r.PriceVersion != before[i].PriceVersion {
			t.Errorf("in-region record %s changed", r.RequestID)
		}
	}
	out, err := costexplorer.NewFromConfig(ts.awsConfig(t)).GetCostAndUsage(ctx, &costexplorer.GetCostAndUsageInput{
		TimePeriod:  &cetypes.DateInterval{Start: aws.String(today), End: aws.String(time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly))},
		Granularity: cetypes.GranularityDaily, Metrics: []string{"UnblendedCost"}})
	if err != nil {
		t.Fatal(err)
	}
	ce, _ := money.Parse(aws.ToString(out.ResultsByTime[0].Total["UnblendedCost"].Amount))
	if ce != sum {
		t.Errorf("Cost Explorer %v after re-pricing, ledger %v", ce, sum)
	}
	if second := runReprice(); second.Changed != 0 {
		t.Errorf("second run changed %d records", second.Changed)
	}
	log, err := ts.DB.Repricings(ctx, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil || len(log) != 3 {
		t.Errorf("re-pricing log: %d entries, %v; want 3", len(log), err)
	}
}

// RepriceOut is the JSON of tollgate reprice -o json.
type RepriceOut struct {
	RunID   string `json:"runId"`
	Records int    `json:"records"`
	Changed int    `json:"changed"`
}
