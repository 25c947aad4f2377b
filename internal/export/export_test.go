package export_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/parquet-go/parquet-go"

	"github.com/tollgate-dev/tollgate/internal/arn"
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/export"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/pricing"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite/sqlitetest"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

const (
	haiku    = "anthropic.claude-3-haiku-20240307-v1:0"
	nova     = "amazon.nova-lite-v1:0"
	unpriced = "acme.private-model-v1"
	acctA    = "111111111111"
	acctB    = "222222222222"
)

// testCatalog knows two models; Claude 3 Haiku's price drops on 2 November
// 2026, inside the test range's last (partial) month. AWS Marketplace
// bills Claude 3 Haiku (marketplace usage types, per million tokens).
const testCatalog = `
models:
  - id: anthropic.claude-3-haiku-20240307-v1:0
    name: Claude 3 Haiku
    marketplace: {product: "Claude 3 Haiku (Amazon Bedrock Edition)", usageTypes: legacy}
    provider: Anthropic
    inputModalities: [TEXT]
    outputModalities: [TEXT]
    streaming: true
    inferenceTypes: [ON_DEMAND]
    lifecycle: ACTIVE
    regions: [us-east-1, us-west-2, eu-central-1]
    family: anthropic
    prices:
      - effective: 2024-03-07
        input: "0.00025"
        output: "0.00125"
        cacheRead: "0.000025"
        cacheWrite: "0.0003125"
        source: test
      - effective: 2026-11-02
        input: "0.0002"
        output: "0.001"
        cacheRead: "0.00002"
        cacheWrite: "0.00025"
        source: test
  - id: amazon.nova-lite-v1:0
    name: Nova Lite
    provider: Amazon
    inputModalities: [TEXT]
    outputModalities: [TEXT]
    streaming: true
    inferenceTypes: [ON_DEMAND]
    lifecycle: ACTIVE
    regions: [us-east-1, us-west-2]
    family: nova
    prices:
      - effective: 2024-12-03
        input: "0.00006"
        output: "0.00024"
        source: test
`

func mustCatalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Parse([]byte(testCatalog))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The export range of the tests: 36 hours across a month boundary and a
// price change. Records also fall two hours either side of it.
var (
	rangeFrom = time.Date(2026, 10, 31, 18, 0, 0, 0, time.UTC)
	rangeTo   = time.Date(2026, 11, 2, 6, 0, 0, 0, time.UTC)
	retagAt   = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
)

type testProfile struct {
	account, arn, model string
	regions             []string
	tags                func(at time.Time) tags.Set
}

func testProfiles() []testProfile {
	fixed := func(s tags.Set) func(time.Time) tags.Set { return func(time.Time) tags.Set { return s } }
	return []testProfile{
		{acctA, arn.ApplicationProfile("us-east-1", acctA, "claimsprod01"), haiku, []string{"us-east-1", "us-west-2"},
			fixed(tags.Set{"cost_center": "CC-1", "dept": "claims"})},
		{acctA, arn.ApplicationProfile("us-east-1", acctA, "salesprod001"), nova, []string{"us-east-1"},
			fixed(tags.Set{"cost_center": "CC-2", "dept": "sales", "note": "a, \"quoted\"\nvalue"})},
		{acctB, arn.ApplicationProfile("us-west-2", acctB, "riskprod0001"), haiku, []string{"us-west-2"}, func(at time.Time) tags.Set {
			if at.Before(retagAt) {
				return tags.Set{"cost_center": "CC-1", "dept": "risk"}
			}
			return tags.Set{"cost_center": "CC-3", "dept": "risk"}
		}},
		{acctB, arn.ApplicationProfile("us-east-1", acctB, "untagged0001"), nova, []string{"us-east-1"}, fixed(tags.Set{})},
		{acctA, "", haiku, []string{"eu-central-1"}, fixed(tags.Set{})}, // direct model calls
		{acctB, arn.ApplicationProfile("us-east-1", acctB, "private00001"), unpriced, []string{"us-east-1"},
			fixed(tags.Set{"cost_center": "CC-2"})},
		{acctA, arn.ApplicationProfile("us-east-1", acctA, "emptycc00001"), nova, []string{"us-west-2"},
			fixed(tags.Set{"cost_center": "", "dept": "it"})},
	}
}

var operations = []string{"Converse", "ConverseStream", "InvokeModel", "InvokeModelWithResponseStream"}

// testRecords returns n priced records (some unpriced, some failed) spread
// over the test range and two hours either side.
func testRecords(t testing.TB, cat *catalog.Catalog, n int) []ledger.Record {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	profs := testProfiles()
	span := rangeTo.Sub(rangeFrom) + 4*time.Hour
	recs := make([]ledger.Record, 0, n)
	for i := range n {
		p := profs[rng.IntN(len(profs))]
		at := rangeFrom.Add(-2*time.Hour + time.Duration(rng.Int64N(int64(span)))).Truncate(time.Millisecond)
		r := ledger.Record{
			RequestID: fmt.Sprintf("req-%06d", i), Time: at, Account: p.account, Region: p.regions[0],
			RegionServed: p.regions[rng.IntN(len(p.regions))], PrincipalID: fmt.Sprintf("principal-%d", rng.IntN(3)),
			ProfileARN: p.arn, ModelID: p.model, Provider: "sim", Operation: operations[rng.IntN(len(operations))],
			Outcome: ledger.OutcomeSuccess, Attempts: 1, Tags: p.tags(at),
		}
		if p.arn != "" {
			r.ProfileID = r.ProfileARN[strings.LastIndexByte(r.ProfileARN, '/')+1:]
		}
		if rng.IntN(20) == 0 { // failed: no tokens, maybe no region
			r.Outcome, r.ErrorCode = ledger.OutcomeServerError, "InternalServerException"
			if rng.IntN(2) == 0 {
				r.RegionServed = ""
			}
			recs = append(recs, r)
			continue
		}
		r.InputTokens, r.OutputTokens = 1+rng.Int64N(5000), 1+rng.Int64N(2000)
		if rng.IntN(4) == 0 {
			r.CacheReadTokens = rng.Int64N(20000)
		}
		if rng.IntN(10) == 0 {
			r.CacheWriteTokens = rng.Int64N(8000)
		}
		if price, ok := pricing.Lookup(cat, r.ModelID, r.Time); ok {
			b, priced := pricing.Compute(price, pricing.Tokens{Input: r.InputTokens, Output: r.OutputTokens,
				CacheRead: r.CacheReadTokens, CacheWrite: r.CacheWriteTokens})
			if priced {
				r.Priced = true
				r.Cost, r.InputCost, r.OutputCost, r.CacheReadCost, r.CacheWriteCost = b.Total(), b.Input, b.Output, b.CacheRead, b.CacheWrite
			}
		}
		recs = append(recs, r)
	}
	return recs
}

// collect is a Writer keeping what it is given.
type collect struct {
	items  []export.LineItem
	closed bool
}

func (c *collect) Write(li *export.LineItem) error { c.items = append(c.items, *li); return nil }
func (c *collect) Close() error                    { c.closed = true; return nil }

// lineKey identifies a line item; sums are what it adds up.
type lineKey struct {
	Start, End                                                   string
	Account, Resource, UsageType, Operation, Region, Model, Tags string
	Rate                                                         string // "" unrated
}

type sums struct {
	Tokens int64
	Cost   money.Amount
}

func keyOf(li export.LineItem) lineKey {
	k := lineKey{Start: li.Start.Format(time.RFC3339), End: li.End.Format(time.RFC3339), Account: li.Account,
		Resource: li.ResourceID, UsageType: li.UsageType, Operation: li.Operation, Region: li.Region, Model: li.Model,
		Tags: li.Tags.Canonical()}
	if li.Rated {
		k.Rate = money.Amount(li.Rate).Decimal(9)
	}
	return k
}

// period returns the period of g holding t, clipped to the test range.
func period(t time.Time, g costquery.Granularity) (time.Time, time.Time) {
	var s, e time.Time
	switch g {
	case costquery.Hourly:
		s = t.Truncate(time.Hour)
		e = s.Add(time.Hour)
	case costquery.Daily:
		s = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		e = s.AddDate(0, 0, 1)
	default:
		s = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		e = s.AddDate(0, 1, 0)
	}
	if s.Before(rangeFrom) {
		s = rangeFrom
	}
	if e.After(rangeTo) {
		e = rangeTo
	}
	return s, e
}

// expectFromRecords computes, record by record, the line items an export
// of the test range must hold: each token class of each record adds its
// tokens and cost to the line of its period, account, resource, usage
// type, operation, region, model, tags and rate.
func expectFromRecords(recs []ledger.Record, g costquery.Granularity, cat *catalog.Catalog, names *costquery.Namer) map[lineKey]sums {
	want := map[lineKey]sums{}
	for _, r := range recs {
		if r.Time.Before(rangeFrom) || !r.Time.Before(rangeTo) {
			continue
		}
		s, e := period(r.Time, g)
		price, priceOK := pricing.Lookup(cat, r.ModelID, r.Time)
		classes := []struct {
			c      costquery.Class
			tokens int64
			cost   money.Amount
			rate   money.PerThousand
			rated  bool
		}{
			{costquery.Input, r.InputTokens, r.InputCost, price.Input, priceOK},
			{costquery.Output, r.OutputTokens, r.OutputCost, price.Output, priceOK},
			{costquery.CacheRead, r.CacheReadTokens, r.CacheReadCost, price.CacheRead, priceOK && price.HasCache},
			{costquery.CacheWrite, r.CacheWriteTokens, r.CacheWriteCost, price.CacheWrite, priceOK && price.HasCache},
		}
		for _, c := range classes {
			if c.tokens == 0 && c.cost == 0 {
				continue
			}
			resource := r.ProfileARN
			if resource == "" {
				resource = arn.FoundationModel(r.RegionServed, r.ModelID)
			}
			region := r.RegionServed
			if region == "" {
				region = costquery.NoRegion
			}
			k := lineKey{Start: s.Format(time.RFC3339), End: e.Format(time.RFC3339), Account: r.Account, Resource: resource,
				UsageType: names.UsageType(pricing.BilledRegion(r.Region, r.RegionServed), r.ModelID, c.c), Operation: r.Operation, Region: region,
				Model: r.ModelID, Tags: r.Tags.Canonical()}
			if c.rated {
				k.Rate = money.Amount(c.rate).Decimal(9)
			}
			v := want[k]
			v.Tokens += c.tokens
			v.Cost += c.cost
			want[k] = v
		}
	}
	return want
}

func runExport(t testing.TB, src export.Source, g costquery.Granularity, cat *catalog.Catalog, w export.Writer) export.Stats {
	t.Helper()
	st, err := export.Run(context.Background(), src, export.Options{From: rangeFrom, To: rangeTo, Granularity: g,
		Namer: costquery.NewNamer(cat), Catalog: cat}, w)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return st
}

var granularities = []costquery.Granularity{costquery.Hourly, costquery.Daily, costquery.Monthly}

// TestExportEqualsRecords checks the export against the raw records it
// summarises: line items built from the hourly rollups equal those summed
// record by record, line for line, to the nano-dollar and the token.
func TestExportEqualsRecords(t *testing.T) {
	cat := mustCatalog(t)
	recs := testRecords(t, cat, 6000)
	names := costquery.NewNamer(cat)
	for _, g := range granularities {
		t.Run(string(g), func(t *testing.T) {
			var c collect
			st := runExport(t, export.SliceSource(costquery.RollupRecords(recs)), g, cat, &c)
			got := map[lineKey]sums{}
			var total sums
			for i, li := range c.items {
				k := keyOf(li)
				if _, dup := got[k]; dup {
					t.Errorf("line item %d repeats %+v", i, k)
				}
				got[k] = sums{li.Tokens, li.Cost}
				total.Tokens += li.Tokens
				total.Cost += li.Cost
				if _, mp := names.Marketplace(li.Model); mp {
					if li.ProductCode != "AmazonBedrockFoundationModels" || li.Product != "Claude 3 Haiku (Amazon Bedrock Edition)" ||
						!li.PerMillion || li.Unit() != "1M tokens" || !strings.Contains(li.UsageType, "-MP:") {
						t.Errorf("line item %d: marketplace model %s: product %q %q, unit %q, usage type %q",
							i, li.Model, li.ProductCode, li.Product, li.Unit(), li.UsageType)
					}
				} else if !strings.HasSuffix(li.UsageType, "-"+names.ModelName(li.Model)+li.Class.Suffix()) {
					t.Errorf("line item %d: usage type %q does not name class %d", i, li.UsageType, li.Class)
				}
			}
			if diff := cmp.Diff(got, expectFromRecords(recs, g, cat, names)); diff != "" {
				t.Errorf("line items (-export +records):\n%s", diff)
			}
			if st.Rows != int64(len(c.items)) || st.Tokens != total.Tokens || st.Cost != total.Cost {
				t.Errorf("stats %+v, want %d rows, %d tokens, %v", st, len(c.items), total.Tokens, total.Cost)
			}
			// Periods come in order, and each period's items sorted.
			order := func(a, b export.LineItem) int {
				if c := a.Start.Compare(b.Start); c != 0 {
					return c
				}
				return strings.Compare(a.Account+"\x00"+a.ResourceID+"\x00"+a.UsageType, b.Account+"\x00"+b.ResourceID+"\x00"+b.UsageType)
			}
			if !slices.IsSortedFunc(c.items, order) {
				t.Error("line items are not in period, account, resource, usage type order")
			}
		})
	}
	t.Run("monthly splits the month at the price change", func(t *testing.T) {
		var c collect
		runExport(t, export.SliceSource(costquery.RollupRecords(recs)), costquery.Monthly, cat, &c)
		rates := map[string]bool{}
		for _, li := range c.items {
			if li.Model == haiku && li.Class == costquery.Input && li.Rated && li.Start.Month() == time.November {
				rates[li.Rate.String()] = true
			}
		}
		if !rates["0.00025"] || !rates["0.0002"] || len(rates) != 2 {
			t.Errorf("November haiku input rates %v, want line items at both the old and the new price", rates)
		}
	})
}

// TestExportEqualsCostExplorer checks the export against GetCostAndUsage
// (costquery) over the same rollups: per day, usage type and resource, the
// same cost and usage quantity.
func TestExportEqualsCostExplorer(t *testing.T) {
	cat := mustCatalog(t)
	recs := testRecords(t, cat, 4000)
	rolls := costquery.RollupRecords(recs)
	names := costquery.NewNamer(cat)
	res, err := costquery.Aggregate(rolls, costquery.Query{From: rangeFrom, To: rangeTo, Granularity: costquery.Daily,
		GroupBy: []costquery.GroupBy{{Type: costquery.GroupDimension, Key: costquery.DimUsageType},
			{Type: costquery.GroupDimension, Key: costquery.DimResourceID}}}, names)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]sums{}
	for _, p := range res.Periods {
		for _, g := range p.Groups {
			want[p.Start.Format(time.RFC3339)+" "+strings.Join(g.Keys, " ")] = sums{g.Usage, g.Cost}
		}
	}
	var c collect
	runExport(t, export.SliceSource(rolls), costquery.Daily, cat, &c)
	got := map[string]sums{}
	for _, li := range c.items {
		k := li.Start.Format(time.RFC3339) + " " + li.UsageType + " " + li.ResourceID
		s := got[k]
		s.Tokens += li.Tokens
		s.Cost += li.Cost
		got[k] = s
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("export vs GetCostAndUsage by day, usage type and resource (-export +costquery):\n%s", diff)
	}
}

// recordTotals sums the records of the test range: tokens and cost, in
// all and per usage type.
func recordTotals(recs []ledger.Record, names *costquery.Namer) (sums, map[string]sums) {
	var all sums
	by := map[string]sums{}
	for _, r := range recs {
		if r.Time.Before(rangeFrom) || !r.Time.Before(rangeTo) {
			continue
		}
		for c, v := range map[costquery.Class]sums{
			costquery.Input: {r.InputTokens, r.InputCost}, costquery.Output: {r.OutputTokens, r.OutputCost},
			costquery.CacheRead: {r.CacheReadTokens, r.CacheReadCost}, costquery.CacheWrite: {r.CacheWriteTokens, r.CacheWriteCost},
		} {
			if v.Tokens == 0 && v.Cost == 0 {
				continue
			}
			ut := names.UsageType(pricing.BilledRegion(r.Region, r.RegionServed), r.ModelID, c)
			s := by[ut]
			s.Tokens += v.Tokens
			s.Cost += v.Cost
			by[ut] = s
			all.Tokens += v.Tokens
			all.Cost += v.Cost
		}
	}
	return all, by
}

// parseUsageAmount reads a usage amount in 1K tokens ("12.345") or 1M
// tokens ("0.012345") back to tokens, exactly.
func parseUsageAmount(t *testing.T, s, unit string) int64 {
	t.Helper()
	decimals, per := 3, money.Amount(1_000_000) // nano-units of the amount per token
	if unit == "1M tokens" {
		decimals, per = 6, 1_000
	}
	whole, frac, ok := strings.Cut(s, ".")
	if !ok || len(frac) != decimals || whole == "" {
		t.Fatalf("usage amount %q in %s: want exactly %d decimals", s, unit, decimals)
	}
	a, err := money.Parse(s)
	if err != nil || a%per != 0 {
		t.Fatalf("usage amount %q: %v", s, err)
	}
	return int64(a / per)
}

// TestCSVRoundTrip reads an exported CSV file back with encoding/csv and
// re-adds it: the same totals as the records, to the nano-dollar.
func TestCSVRoundTrip(t *testing.T) {
	cat := mustCatalog(t)
	recs := testRecords(t, cat, 5000)
	names := costquery.NewNamer(cat)
	wantAll, wantBy := recordTotals(recs, names)
	for _, g := range granularities {
		t.Run(string(g), func(t *testing.T) {
			var buf bytes.Buffer
			st := runExport(t, export.SliceSource(costquery.RollupRecords(recs)), g, cat, export.NewCSVWriter(&buf))
			rows, err := csv.NewReader(&buf).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(rows[0], export.Columns); diff != "" {
				t.Fatalf("header (-got +want):\n%s", diff)
			}
			col := map[string]int{}
			for i, c := range rows[0] {
				col[c] = i
			}
			if int64(len(rows)-1) != st.Rows {
				t.Errorf("%d data rows, stats say %d", len(rows)-1, st.Rows)
			}
			var all sums
			by := map[string]sums{}
			for _, row := range rows[1:] {
				cost := row[col["line_item_unblended_cost"]]
				if _, frac, _ := strings.Cut(cost, "."); len(frac) != 9 {
					t.Fatalf("cost %q: want nine decimals", cost)
				}
				c, err := money.Parse(cost)
				if err != nil {
					t.Fatal(err)
				}
				tokens := parseUsageAmount(t, row[col["line_item_usage_amount"]], row[col["pricing_unit"]])
				ut := row[col["line_item_usage_type"]]
				s := by[ut]
				s.Tokens += tokens
				s.Cost += c
				by[ut] = s
				all.Tokens += tokens
				all.Cost += c
				if rate := row[col["line_item_unblended_rate"]]; rate != "" {
					if _, err := money.Parse(rate); err != nil || len(rate[strings.IndexByte(rate, '.')+1:]) != 9 {
						t.Fatalf("rate %q: want a decimal with nine decimals", rate)
					}
				}
				var rt map[string]string
				if err := json.Unmarshal([]byte(row[col["resource_tags"]]), &rt); err != nil {
					t.Fatalf("resource_tags %q: %v", row[col["resource_tags"]], err)
				}
				for k := range rt {
					if !strings.HasPrefix(k, "user_") {
						t.Fatalf("resource_tags key %q lacks the user_ prefix", k)
					}
				}
				var product map[string]string
				if err := json.Unmarshal([]byte(row[col["product"]]), &product); err != nil {
					t.Fatalf("product %q: %v", row[col["product"]], err)
				}
				wantUnit, wantCode, wantProduct := "1K tokens", "AmazonBedrock", "Amazon Bedrock"
				if strings.Contains(ut, "-MP:") {
					wantUnit, wantCode, wantProduct = "1M tokens", "AmazonBedrockFoundationModels", "Claude 3 Haiku (Amazon Bedrock Edition)"
				}
				if row[col["pricing_unit"]] != wantUnit || row[col["line_item_line_item_type"]] != "Usage" ||
					row[col["line_item_product_code"]] != wantCode || len(product) != 1 || product["product_name"] != wantProduct {
					t.Fatalf("fixed columns wrong: %q", row)
				}
			}
			if all != wantAll {
				t.Errorf("CSV totals %+v, records %+v", all, wantAll)
			}
			if diff := cmp.Diff(by, wantBy); diff != "" {
				t.Errorf("CSV totals by usage type (-csv +records):\n%s", diff)
			}
		})
	}
}

// TestCSVTrickyTags checks that tag values needing CSV quoting and JSON
// escaping survive the round trip.
func TestCSVTrickyTags(t *testing.T) {
	li := &export.LineItem{Start: rangeFrom, End: rangeFrom.Add(time.Hour), Account: acctA, ResourceID: "r", UsageType: "u",
		Operation: "Converse", Tokens: 1500, Cost: 3, Region: "us-east-1", Model: nova,
		Tags: tags.Set{"note": "a, \"quoted\"\nvalue", "café": "<&>", "empty": ""}}
	var buf bytes.Buffer
	w := export.NewCSVWriter(&buf)
	if err := w.Write(li); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	if err := json.Unmarshal([]byte(rows[1][len(rows[1])-1]), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"user_note": "a, \"quoted\"\nvalue", "user_café": "<&>", "user_empty": ""}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("resource_tags (-got +want):\n%s", diff)
	}
	if rows[1][8] != "1.500" || rows[1][10] != "" || rows[1][11] != "0.000000003" {
		t.Errorf("amount, rate, cost = %q, %q, %q; want 1.500, empty, 0.000000003", rows[1][8], rows[1][10], rows[1][11])
	}
}

// pqRow is the independent struct parquet-go's generic reader fills: a
// subset of the columns, mapped by name.
type pqRow struct {
	UsageType string            `parquet:"line_item_usage_type"`
	Amount    int64             `parquet:"line_item_usage_amount"` // millionths of Unit
	Unit      string            `parquet:"pricing_unit"`
	Product   map[string]string `parquet:"product"`
	Rate      *int64            `parquet:"line_item_unblended_rate,optional"`
	Cost      int64             `parquet:"line_item_unblended_cost"`
	Start     time.Time         `parquet:"line_item_usage_start_date"`
	Tags      map[string]string `parquet:"resource_tags"`
}

// TestParquetRoundTrip reads an exported Parquet file back twice — with
// parquet-go's generic reader into a struct of its own, and with this
// package's independent reader — and re-adds it: the same totals as the
// records, to the nano-dollar and the token.
func TestParquetRoundTrip(t *testing.T) {
	cat := mustCatalog(t)
	recs := testRecords(t, cat, 5000)
	names := costquery.NewNamer(cat)
	wantAll, wantBy := recordTotals(recs, names)
	for _, g := range granularities {
		t.Run(string(g), func(t *testing.T) {
			var buf bytes.Buffer
			st := runExport(t, export.SliceSource(costquery.RollupRecords(recs)), g, cat, export.NewParquetWriter(&buf))
			data := buf.Bytes()

			t.Run("parquet-go generic reader", func(t *testing.T) {
				rows, err := parquet.Read[pqRow](bytes.NewReader(data), int64(len(data)))
				if err != nil {
					t.Fatal(err)
				}
				if int64(len(rows)) != st.Rows {
					t.Errorf("%d rows, stats say %d", len(rows), st.Rows)
				}
				var all sums
				by := map[string]sums{}
				var taggedCC1 money.Amount
				for _, r := range rows {
					tokens := tokensOf(t, r.Amount, r.Unit)
					if want := strings.Contains(r.UsageType, "-MP:"); want != (r.Product["product_name"] == "Claude 3 Haiku (Amazon Bedrock Edition)") {
						t.Fatalf("%s: product %v", r.UsageType, r.Product)
					}
					s := by[r.UsageType]
					s.Tokens += tokens
					s.Cost += money.Amount(r.Cost)
					by[r.UsageType] = s
					all.Tokens += tokens
					all.Cost += money.Amount(r.Cost)
					if r.Tags["user_cost_center"] == "CC-1" {
						taggedCC1 += money.Amount(r.Cost)
					}
					if r.Start.Before(rangeFrom) || !r.Start.Before(rangeTo) {
						t.Fatalf("start %v outside the range", r.Start)
					}
				}
				if all != wantAll {
					t.Errorf("Parquet totals %+v, records %+v", all, wantAll)
				}
				if diff := cmp.Diff(by, wantBy); diff != "" {
					t.Errorf("Parquet totals by usage type (-parquet +records):\n%s", diff)
				}
				var wantCC1 money.Amount
				for _, r := range recs {
					if r.Tags["cost_center"] == "CC-1" && !r.Time.Before(rangeFrom) && r.Time.Before(rangeTo) {
						wantCC1 += r.Cost
					}
				}
				if taggedCC1 != wantCC1 {
					t.Errorf("cost tagged cost_center=CC-1: %v, records %v", taggedCC1, wantCC1)
				}
			})

			t.Run("independent reader", func(t *testing.T) {
				f, err := openParquet(data)
				if err != nil {
					t.Fatal(err)
				}
				if f.NumRows != st.Rows {
					t.Errorf("footer says %d rows, stats %d", f.NumRows, st.Rows)
				}
				for name, scale := range map[string]int64{"line_item_unblended_cost": 9, "line_item_unblended_rate": 9, "line_item_usage_amount": 6} {
					c := f.Columns[name]
					if c.Type != pqInt64 || c.Converted != pqConvertedDecimal || c.Scale != scale || c.Precision != 18 ||
						!c.LogicalDecimal || c.LogicalScale != scale || c.LogicalPrecision != 18 {
						t.Errorf("column %s: %+v, want INT64 DECIMAL(18,%d)", name, c, scale)
					}
				}
				costs, err := f.readColumn("line_item_unblended_cost")
				if err != nil {
					t.Fatal(err)
				}
				amounts, err := f.readColumn("line_item_usage_amount")
				if err != nil {
					t.Fatal(err)
				}
				types, err := f.readColumn("line_item_usage_type")
				if err != nil {
					t.Fatal(err)
				}
				units, err := f.readColumn("pricing_unit")
				if err != nil {
					t.Fatal(err)
				}
				if int64(len(costs)) != st.Rows || len(amounts) != len(costs) || len(types) != len(costs) {
					t.Fatalf("%d costs, %d amounts, %d usage types; want %d each", len(costs), len(amounts), len(types), st.Rows)
				}
				var all sums
				by := map[string]sums{}
				for i := range costs {
					ut := types[i].(string)
					tokens := tokensOf(t, amounts[i].(int64), units[i].(string))
					s := by[ut]
					s.Tokens += tokens
					s.Cost += money.Amount(costs[i].(int64))
					by[ut] = s
					all.Tokens += tokens
					all.Cost += money.Amount(costs[i].(int64))
				}
				if all != wantAll {
					t.Errorf("Parquet totals %+v, records %+v", all, wantAll)
				}
				if diff := cmp.Diff(by, wantBy); diff != "" {
					t.Errorf("Parquet totals by usage type (-parquet +records):\n%s", diff)
				}
			})
		})
	}
}

// tokensOf converts a Parquet usage amount, stored in millionths of the
// pricing unit, back to tokens (a fixed-cost line's hours count 1,000
// each).
func tokensOf(t *testing.T, micros int64, unit string) int64 {
	t.Helper()
	switch unit {
	case "1M tokens":
		return micros
	case "1K tokens", "Hrs":
		if micros%1000 != 0 {
			t.Fatalf("usage amount %d millionths of %s is not a whole token", micros, unit)
		}
		return micros / 1000
	}
	t.Fatalf("pricing unit %q", unit)
	return 0
}

// TestParquetUnratedIsNull checks that a line item without a rate has a
// null rate, not zero.
func TestParquetUnratedIsNull(t *testing.T) {
	var buf bytes.Buffer
	w := export.NewParquetWriter(&buf)
	for i, rated := range []bool{true, false, true} {
		li := &export.LineItem{Start: rangeFrom, End: rangeFrom.Add(time.Hour), Account: acctA, UsageType: fmt.Sprint(i),
			Tokens: 1000, Cost: 250_000, Rate: 250_000, Rated: rated}
		if err := w.Write(li); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rows, err := parquet.Read[pqRow](bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		if r.Rate == nil {
			got = append(got, "null")
		} else {
			got = append(got, fmt.Sprint(*r.Rate))
		}
	}
	if diff := cmp.Diff(got, []string{"250000", "null", "250000"}); diff != "" {
		t.Errorf("rates (-got +want):\n%s", diff)
	}
}

// TestSQLiteSource checks the store's streaming read: exporting from the
// SQLite ledger writes byte for byte what exporting its records' rollups
// from memory writes, also when limited to one account.
func TestSQLiteSource(t *testing.T) {
	cat := mustCatalog(t)
	recs := testRecords(t, cat, 3000)
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "tollgate.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.AppendRecords(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	for _, accounts := range [][]string{nil, {acctB}, {}} {
		for _, g := range granularities {
			t.Run(fmt.Sprintf("%s/%v", g, accounts), func(t *testing.T) {
				var fromDB, fromMem bytes.Buffer
				o := export.Options{From: rangeFrom, To: rangeTo, Granularity: g, Accounts: accounts,
					Namer: costquery.NewNamer(cat), Catalog: cat}
				for _, run := range []struct {
					src export.Source
					out *bytes.Buffer
				}{{db, &fromDB}, {export.SliceSource(costquery.RollupRecords(recs)), &fromMem}} {
					w := export.NewCSVWriter(run.out)
					if _, err := export.Run(t.Context(), run.src, o, w); err != nil {
						t.Fatal(err)
					}
					if err := w.Close(); err != nil {
						t.Fatal(err)
					}
				}
				if fromDB.String() != fromMem.String() {
					t.Errorf("SQLite export differs from the in-memory one:\n%s\n---\n%s", head(fromDB.String()), head(fromMem.String()))
				}
				lines := strings.Count(fromDB.String(), "\n")
				if accounts != nil && len(accounts) == 0 && lines != 1 {
					t.Errorf("no accounts: %d lines, want the header only", lines)
				}
				if accounts == nil && lines < 100 {
					t.Errorf("only %d lines", lines)
				}
			})
		}
	}
}

func head(s string) string {
	lines := strings.SplitN(s, "\n", 6)
	return strings.Join(lines[:min(5, len(lines))], "\n")
}

// streamSource is the SQLite ledger's streaming read (rollups in hour
// order), recording, once the first rollup of each hour has been handed
// over, how many line items the writer had received.
type streamSource struct {
	db      *sqlite.DB
	w       *collect
	atHours map[time.Time]int
}

func (s *streamSource) StreamRollups(ctx context.Context, accounts []string, from, to time.Time, fn func(*ledger.Rollup, int64) error) error {
	return s.db.StreamRollups(ctx, accounts, from, to, func(r *ledger.Rollup, id int64) error {
		err := fn(r, id)
		if _, seen := s.atHours[r.Hour]; !seen {
			s.atHours[r.Hour] = len(s.w.items)
		}
		return err
	})
}

// TestExportStreams checks that an export writes each period's line items
// before it reads the next period's rollups: it holds one period at a
// time.
func TestExportStreams(t *testing.T) {
	cat := mustCatalog(t)
	recs := testRecords(t, cat, 3000)
	db := sqlitetest.Open(t)
	if err := db.AppendRecords(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	var c collect
	src := &streamSource{db: db, w: &c, atHours: map[time.Time]int{}}
	runExport(t, src, costquery.Daily, cat, &c)
	nov1 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	written := src.atHours[nov1]
	want := 0
	for _, li := range c.items {
		if li.Start.Before(nov1) {
			want++
		}
	}
	if want == 0 || written != want {
		t.Errorf("once the first rollup of 1 November was read, %d line items were written; want all %d of 31 October and no more", written, want)
	}
}

// TestExportErrors checks option validation and that a writer's error
// stops the export.
func TestExportErrors(t *testing.T) {
	src := export.SliceSource(nil)
	for _, tc := range []struct {
		name string
		o    export.Options
	}{
		{"no range", export.Options{Granularity: costquery.Daily}},
		{"reversed", export.Options{From: rangeTo, To: rangeFrom, Granularity: costquery.Daily}},
		{"not whole hours", export.Options{From: rangeFrom.Add(time.Minute), To: rangeTo, Granularity: costquery.Daily}},
		{"bad granularity", export.Options{From: rangeFrom, To: rangeTo, Granularity: "WEEKLY"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := export.Run(t.Context(), src, tc.o, &collect{})
			if errkind.KindOf(err) != errkind.Invalid {
				t.Errorf("err = %v, want Invalid", err)
			}
		})
	}
	t.Run("writer error", func(t *testing.T) {
		cat := mustCatalog(t)
		boom := errors.New("disk full")
		_, err := export.Run(t.Context(), export.SliceSource(costquery.RollupRecords(testRecords(t, cat, 200))),
			export.Options{From: rangeFrom, To: rangeTo, Granularity: costquery.Hourly}, failWriter{boom})
		if !errors.Is(err, boom) {
			t.Errorf("err = %v, want %v", err, boom)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		cat := mustCatalog(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := export.Run(ctx, export.SliceSource(costquery.RollupRecords(testRecords(t, cat, 200))),
			export.Options{From: rangeFrom, To: rangeTo, Granularity: costquery.Hourly}, &collect{})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
}

type failWriter struct{ err error }

func (f failWriter) Write(*export.LineItem) error { return f.err }
func (f failWriter) Close() error                 { return nil }

// TestEmptyExport checks that an export without usage still writes a
// valid file: the CSV header, a Parquet file of zero rows.
func TestEmptyExport(t *testing.T) {
	var c bytes.Buffer
	runExport(t, export.SliceSource(nil), costquery.Daily, nil, export.NewCSVWriter(&c))
	if c.String() != strings.Join(export.Columns, ",")+"\n" {
		t.Errorf("empty CSV = %q", c.String())
	}
	var p bytes.Buffer
	runExport(t, export.SliceSource(nil), costquery.Daily, nil, export.NewParquetWriter(&p))
	rows, err := parquet.Read[pqRow](bytes.NewReader(p.Bytes()), int64(p.Len()))
	if err != nil || len(rows) != 0 {
		t.Errorf("empty Parquet: %d rows, %v", len(rows), err)
	}
}

// TestProgress checks the progress callback: hours in order, ending at To.
func TestProgress(t *testing.T) {
	cat := mustCatalog(t)
	var seen []export.Progress
	st, err := export.Run(t.Context(), export.SliceSource(costquery.RollupRecords(testRecords(t, cat, 500))),
		export.Options{From: rangeFrom, To: rangeTo, Granularity: costquery.Daily, Progress: func(p export.Progress) { seen = append(seen, p) }},
		export.NewCSVWriter(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) < 2 || !seen[len(seen)-1].Hour.Equal(rangeTo) || seen[len(seen)-1].Rows != st.Rows {
		t.Fatalf("progress %+v, want hours ending at %v with %d rows", seen, rangeTo, st.Rows)
	}
	if !slices.IsSortedFunc(seen, func(a, b export.Progress) int { return a.Hour.Compare(b.Hour) }) {
		t.Errorf("progress hours out of order: %+v", seen)
	}
}
