package chargeback_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/arn"
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/chargeback"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/pricing"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

func TestParseMarkup(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want chargeback.Markup
		str  string
	}{
		{"15%", 1500, "15%"}, {"15", 1500, "15%"}, {"12.5%", 1250, "12.5%"}, {"0.25%", 25, "0.25%"},
		{"0", 0, "0%"}, {"-5%", -500, "-5%"}, {"+7.05%", 705, "7.05%"}, {"1000%", 100_000, "1000%"}, {"-100%", -10_000, "-100%"},
	} {
		got, err := chargeback.ParseMarkup(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseMarkup(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			continue
		}
		if got.String() != tc.str {
			t.Errorf("Markup(%d).String() = %q, want %q", got, got.String(), tc.str)
		}
	}
	for _, bad := range []string{"", "%", "abc", "1.234%", "1000.01%", "-100.5%", "1e3", "--5", "5-", ".5", "15%%"} {
		if _, err := chargeback.ParseMarkup(bad); errkind.KindOf(err) != errkind.Invalid {
			t.Errorf("ParseMarkup(%q) err = %v, want Invalid", bad, err)
		}
	}
}

func TestMarkupOf(t *testing.T) {
	for _, tc := range []struct {
		m    chargeback.Markup
		cost money.Amount
		want money.Amount
	}{
		{1500, 0, 0},
		{1500, 1, 0},   // 0.15 nano
		{1500, 10, 2},  // 1.5 -> 2: half away from zero
		{1500, 30, 5},  // 4.5 -> 5
		{1500, 29, 4},  // 4.35 -> 4
		{5000, 3, 2},   // 1.5 -> 2
		{-5000, 3, -2}, // -1.5 -> -2
		{1250, money.Dollar, 125_000_000},
		{1500, 123_456_789_012, 18_518_518_352}, // 18,518,518,351.8
		{100_000, math.MaxInt64, math.MaxInt64}, // saturates
		{-10_000, math.MaxInt64, -math.MaxInt64},
	} {
		if got := tc.m.Of(tc.cost); got != tc.want {
			t.Errorf("Markup(%d).Of(%d) = %d, want %d", tc.m, tc.cost, got, tc.want)
		}
	}
}

func TestParseBy(t *testing.T) {
	for in, want := range map[string]chargeback.By{"tag:cost_center": {Tag: "cost_center"}, "account": {Account: true}} {
		got, err := chargeback.ParseBy(in)
		if err != nil || got != want || got.String() != in {
			t.Errorf("ParseBy(%q) = %+v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "tag:", "cost_center", "model"} {
		if _, err := chargeback.ParseBy(bad); errkind.KindOf(err) != errkind.Invalid {
			t.Errorf("ParseBy(%q) err = %v, want Invalid", bad, err)
		}
	}
}

const (
	haiku    = "anthropic.claude-3-haiku-20240307-v1:0"
	nova     = "amazon.nova-lite-v1:0"
	unpriced = "acme.private-model-v1"
)

var (
	month     = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	monthEnd  = month.AddDate(0, 1, 0)
	retagDate = time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)
)

// monthRecords returns n records over November 2026 and a day either
// side: tagged profiles, one retagged mid-month, an untagged one, one with
// an empty cost_center, direct model calls, an unpriced model and failed
// calls.
func monthRecords(n int) []ledger.Record {
	cat := catalog.Default()
	rng := rand.New(rand.NewPCG(3, 5))
	type prof struct {
		account, arn, model, region string
		tags                        func(time.Time) tags.Set
	}
	fixed := func(s tags.Set) func(time.Time) tags.Set { return func(time.Time) tags.Set { return s } }
	profs := []prof{
		{"111111111111", arn.ApplicationProfile("us-east-1", "111111111111", "claimsprod01"), haiku, "us-east-1", fixed(tags.Set{"cost_center": "CC-1001", "dept": "claims"})},
		{"111111111111", arn.ApplicationProfile("us-east-1", "111111111111", "claimsdev001"), nova, "us-west-2", fixed(tags.Set{"cost_center": "CC-1001", "env": "dev"})},
		{"222222222222", arn.ApplicationProfile("us-east-1", "222222222222", "salesprod001"), haiku, "us-east-1", fixed(tags.Set{"cost_center": "CC-2002"})},
		{"222222222222", arn.ApplicationProfile("us-east-1", "222222222222", "movedprof001"), nova, "us-east-1", func(at time.Time) tags.Set {
			if at.Before(retagDate) {
				return tags.Set{"cost_center": "CC-1001"}
			}
			return tags.Set{"cost_center": "CC-3003"}
		}},
		{"111111111111", arn.ApplicationProfile("us-east-1", "111111111111", "untagged0001"), haiku, "us-west-2", fixed(tags.Set{"dept": "it"})},
		{"111111111111", arn.ApplicationProfile("us-east-1", "111111111111", "emptycc00001"), nova, "us-east-1", fixed(tags.Set{"cost_center": ""})},
		{"222222222222", "", haiku, "eu-central-1", fixed(tags.Set{})},
		{"222222222222", arn.ApplicationProfile("us-east-1", "222222222222", "private00001"), unpriced, "us-east-1", fixed(tags.Set{"cost_center": "CC-2002"})},
	}
	span := monthEnd.Sub(month) + 48*time.Hour
	var recs []ledger.Record
	for i := range n {
		p := profs[rng.IntN(len(profs))]
		at := month.Add(-24*time.Hour + time.Duration(rng.Int64N(int64(span)))).Truncate(time.Millisecond)
		r := ledger.Record{RequestID: fmt.Sprintf("r%06d", i), Time: at, Account: p.account, Region: p.region, RegionServed: p.region,
			PrincipalID: "p", ProfileARN: p.arn, ModelID: p.model, Operation: "Converse", Outcome: ledger.OutcomeSuccess, Tags: p.tags(at)}
		if rng.IntN(25) == 0 {
			r.Outcome = ledger.OutcomeThrottled // no tokens; priced at $0, as the runtime records it
		} else {
			r.InputTokens, r.OutputTokens = 1+rng.Int64N(4000), 1+rng.Int64N(1500)
			if p.model == haiku && rng.IntN(3) == 0 {
				r.CacheReadTokens, r.CacheWriteTokens = rng.Int64N(9000), rng.Int64N(3000)
			}
		}
		if price, ok := pricing.Lookup(cat, r.ModelID, r.Time); ok {
			b, priced := pricing.Compute(price, pricing.Tokens{Input: r.InputTokens, Output: r.OutputTokens, CacheRead: r.CacheReadTokens, CacheWrite: r.CacheWriteTokens})
			r.Priced = priced
			r.Cost, r.InputCost, r.OutputCost, r.CacheReadCost, r.CacheWriteCost = b.Total(), b.Input, b.Output, b.CacheRead, b.CacheWrite
		}
		recs = append(recs, r)
	}
	return recs
}

func build(recs []ledger.Record, by chargeback.By, m chargeback.Markup) *chargeback.Result {
	b := chargeback.NewBuilder(by, m, month, monthEnd)
	for _, r := range costquery.RollupRecords(recs) {
		b.Add(&r)
	}
	return b.Result()
}

// TestStatementsEqualRecords checks statements against the raw records:
// per tag value, resource and model, the same tokens and cost; the
// markup per line, and every total the exact sum of what it totals.
func TestStatementsEqualRecords(t *testing.T) {
	recs := monthRecords(8000)
	const m = chargeback.Markup(1500)
	res := build(recs, chargeback.By{Tag: "cost_center"}, m)

	type key struct{ value, resource, model, usageType string }
	type sums struct {
		tokens chargeback.Tokens
		cost   money.Amount
		est    bool
	}
	namer := costquery.NewNamer(catalog.Default())
	want := map[key]sums{}
	for _, r := range recs {
		if r.Time.Before(month) || !r.Time.Before(monthEnd) {
			continue
		}
		res := r.ProfileARN
		if res == "" {
			res = arn.FoundationModel(r.RegionServed, r.ModelID)
		}
		for _, l := range namer.UsageTypes(&r) {
			k := key{r.Tags["cost_center"], res, r.ModelID, l.UsageType}
			s := want[k]
			switch l.Kind {
			case pricing.Input:
				s.tokens.Input += l.Tokens
			case pricing.Output:
				s.tokens.Output += l.Tokens
			case pricing.CacheRead:
				s.tokens.CacheRead += l.Tokens
			case pricing.CacheWrite:
				s.tokens.CacheWrite += l.Tokens
			case pricing.CacheWrite1h:
				s.tokens.CacheWrite1h += l.Tokens
			}
			s.cost += l.Cost
			s.est = s.est || !r.Priced
			want[k] = s
		}
	}
	got := map[key]sums{}
	var values []string
	var grand chargeback.Amounts
	for _, st := range res.Statements {
		values = append(values, st.Value)
		var sum chargeback.Amounts
		for _, l := range st.Lines {
			got[key{st.Value, l.ResourceID, l.Model, l.UsageType}] = sums{l.Tokens, l.Cost, l.Estimated}
			if l.Markup != m.Of(l.Cost) || l.Total != l.Cost+l.Markup {
				t.Errorf("line %s %s: cost %v markup %v total %v", st.Value, l.ResourceID, l.Cost, l.Markup, l.Total)
			}
			sum.Tokens.Input += l.Input
			sum.Tokens.Output += l.Output
			sum.Tokens.CacheRead += l.CacheRead
			sum.Tokens.CacheWrite += l.CacheWrite
			sum.Cost += l.Cost
			sum.Markup += l.Markup
			sum.Total += l.Total
			sum.Estimated = sum.Estimated || l.Estimated
		}
		if sum != st.Amounts {
			t.Errorf("statement %q amounts %+v, its lines sum to %+v", st.Value, st.Amounts, sum)
		}
		grand.Tokens.Input += st.Input
		grand.Tokens.Output += st.Output
		grand.Tokens.CacheRead += st.CacheRead
		grand.Tokens.CacheWrite += st.CacheWrite
		grand.Cost += st.Cost
		grand.Markup += st.Markup
		grand.Total += st.Total
		grand.Estimated = grand.Estimated || st.Estimated
		if st.Untagged != (st.Value == "") {
			t.Errorf("statement %q untagged = %v", st.Value, st.Untagged)
		}
	}
	if diff := cmp.Diff(got, want, cmp.AllowUnexported(sums{})); diff != "" {
		t.Errorf("lines (-statements +records):\n%s", diff)
	}
	if grand != res.Amounts {
		t.Errorf("result amounts %+v, statements sum to %+v", res.Amounts, grand)
	}
	if diff := cmp.Diff(values, []string{"CC-1001", "CC-2002", "CC-3003", ""}); diff != "" {
		t.Errorf("statement order (-got +want):\n%s", diff)
	}
}

// TestReconcile checks that statements reconcile exactly with
// GetCostAndUsage (costquery) over the same rollups, by tag and by
// account, and that a difference is caught.
func TestReconcile(t *testing.T) {
	recs := monthRecords(6000)
	rolls := costquery.RollupRecords(recs)
	names := costquery.NewNamer(catalog.Default())
	for _, by := range []chargeback.By{{Tag: "cost_center"}, {Tag: "dept"}, {Tag: "absent"}, {Account: true}} {
		t.Run(by.String(), func(t *testing.T) {
			res := build(recs, by, 1500)
			ce, err := costquery.Aggregate(rolls, res.Query(), names)
			if err != nil {
				t.Fatal(err)
			}
			if err := res.Reconcile(ce); err != nil {
				t.Fatal(err)
			}
			if rc := res.Reconciled; rc == nil || rc.Cost != res.Cost || rc.Usage != res.Tokens.Total() || rc.Groups != len(res.Statements) {
				t.Errorf("reconciled %+v; result cost %v, tokens %d, %d statements", rc, res.Cost, res.Tokens.Total(), len(res.Statements))
			}
			// A statement one nano-dollar off is caught.
			bad := build(recs, by, 1500)
			bad.Statements[0].Cost++
			if err := bad.Reconcile(ce); errkind.KindOf(err) != errkind.Internal || bad.Reconciled != nil {
				t.Errorf("tampered statement: err = %v", err)
			}
			// So is a missing statement.
			bad = build(recs, by, 1500)
			bad.Statements = bad.Statements[1:]
			if err := bad.Reconcile(ce); err == nil {
				t.Error("missing statement: no error")
			}
		})
	}
}

// TestRender checks the CSV, JSON, text and HTML forms against the result
// they render.
func TestRender(t *testing.T) {
	recs := monthRecords(3000)
	res := build(recs, chargeback.By{Tag: "cost_center"}, 1250)
	ce, err := costquery.Aggregate(costquery.RollupRecords(recs), res.Query(), costquery.NewNamer(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Reconcile(ce); err != nil {
		t.Fatal(err)
	}

	t.Run("csv", func(t *testing.T) {
		var buf bytes.Buffer
		if err := chargeback.WriteCSV(&buf, res); err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(rows[0], chargeback.CSVColumns); diff != "" {
			t.Fatalf("header (-got +want):\n%s", diff)
		}
		col := map[string]int{}
		for i, c := range rows[0] {
			col[c] = i
		}
		type tot struct{ cost, markup, total money.Amount }
		got := map[string]tot{}
		for _, row := range rows[1:] {
			s := got[row[col["value"]]]
			for name, p := range map[string]*money.Amount{"cost": &s.cost, "markup": &s.markup, "total": &s.total} {
				v := row[col[name]]
				if i := strings.IndexByte(v, '.'); i < 0 || len(v)-i-1 != 9 {
					t.Fatalf("%s %q: want nine decimals", name, v)
				}
				*p += money.MustParse(v)
			}
			got[row[col["value"]]] = s
			if row[col["markup_percent"]] != "12.5" || row[col["by"]] != "tag:cost_center" {
				t.Fatalf("row %q", row)
			}
		}
		want := map[string]tot{}
		for _, st := range res.Statements {
			want[st.Value] = tot{st.Cost, st.Markup, st.Total}
		}
		if diff := cmp.Diff(got, want, cmp.AllowUnexported(tot{})); diff != "" {
			t.Errorf("CSV totals per statement (-csv +result):\n%s", diff)
		}
	})

	t.Run("json", func(t *testing.T) {
		var buf bytes.Buffer
		if err := chargeback.WriteJSON(&buf, res); err != nil {
			t.Fatal(err)
		}
		var doc struct {
			By, Period, Markup string
			MarkupBasisPoints  int64
			Statements         []struct {
				Value    string
				Untagged bool
				Total    string
				Lines    []struct{ Total string }
			}
			Total          struct{ Cost, Markup, Total string }
			Reconciliation struct{ Source, Cost string }
		}
		if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.By != "tag:cost_center" || doc.Period != "2026-11" || doc.Markup != "12.5%" || doc.MarkupBasisPoints != 1250 {
			t.Errorf("header fields %+v", doc)
		}
		var sum money.Amount
		for _, st := range doc.Statements {
			var lines money.Amount
			for _, l := range st.Lines {
				lines += money.MustParse(l.Total)
			}
			if lines != money.MustParse(st.Total) {
				t.Errorf("statement %q total %s, lines sum to %v", st.Value, st.Total, lines)
			}
			sum += lines
		}
		if sum != res.Amounts.Total || doc.Total.Total != res.Amounts.Total.Decimal(9) {
			t.Errorf("total %s, statements sum to %v, result %v", doc.Total.Total, sum, res.Amounts.Total)
		}
		if doc.Reconciliation.Source != "GetCostAndUsage" || doc.Reconciliation.Cost != res.Cost.Decimal(9) {
			t.Errorf("reconciliation %+v", doc.Reconciliation)
		}
	})

	t.Run("text", func(t *testing.T) {
		var buf bytes.Buffer
		if err := chargeback.WriteText(&buf, res); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		for _, want := range []string{"cost_center CC-1001", "cost_center (untagged)", "TOTAL", res.Amounts.Total.Decimal(2),
			"Reconciled with Cost Explorer", "markup 12.5%", "* includes unpriced usage"} {
			if !strings.Contains(out, want) {
				t.Errorf("text output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("html", func(t *testing.T) {
		r := *res
		r.Statements = append([]chargeback.Statement{{Value: "<b>x</b>", Lines: []chargeback.Line{{ResourceID: "r", Model: "m"}}}}, r.Statements...)
		var buf bytes.Buffer
		if err := chargeback.WriteHTML(&buf, &r); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if strings.Contains(out, "<b>x</b>") || !strings.Contains(out, "&lt;b&gt;x&lt;/b&gt;") {
			t.Error("HTML does not escape a statement value")
		}
		if got := strings.Count(out, `<section class="statement">`); got != len(r.Statements)+1 {
			t.Errorf("%d sections, want one per statement and a summary (%d)", got, len(r.Statements)+1)
		}
		for _, want := range []string{"Chargeback statement: cost_center CC-2002", "cost_center (untagged)", res.Amounts.Total.Decimal(2),
			"page-break-after", "Reconciled with Cost Explorer"} {
			if !strings.Contains(out, want) {
				t.Errorf("HTML lacks %q", want)
			}
		}
	})

	t.Run("empty", func(t *testing.T) {
		empty := chargeback.NewBuilder(chargeback.By{Tag: "cost_center"}, 0, month, monthEnd).Result()
		var text, page bytes.Buffer
		if err := chargeback.WriteText(&text, empty); err != nil {
			t.Fatal(err)
		}
		if err := chargeback.WriteHTML(&page, empty); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text.String(), "No usage") || !strings.Contains(page.String(), "No usage") {
			t.Errorf("empty result: %q / %q", text.String(), page.String())
		}
	})
}

// TestMarketplaceLines checks that statement lines of models AWS
// Marketplace bills carry marketplace usage types, that two Claude models
// sharing a usage type stay apart by model, and that the lines sum to the
// rollups.
func TestMarketplaceLines(t *testing.T) {
	month := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	prof := "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/mp0000000001"
	rolls := []ledger.Rollup{
		{Hour: month, Account: "111111111111", Region: "us-east-1", RegionServed: "us-east-1", ProfileARN: prof,
			ModelID: "anthropic.claude-3-haiku-20240307-v1:0", InputTokens: 1000, InputCost: 250_000, Tags: tags.Set{"dept": "claims"}},
		{Hour: month, Account: "111111111111", Region: "us-east-1", RegionServed: "us-west-2", ProfileARN: prof, Scope: catalog.ScopeGlobal,
			ModelID: "anthropic.claude-opus-4-7", InputTokens: 1000, InputCost: 5_000_000, CacheWrite1hTokens: 100, CacheWrite1hCost: 1_000_000,
			Tags: tags.Set{"dept": "claims"}},
		{Hour: month, Account: "111111111111", Region: "us-east-1", RegionServed: "us-east-1", ProfileARN: prof,
			ModelID: "anthropic.claude-3-5-haiku-20241022-v1:0", InputTokens: 2000, InputCost: 1_600_000, Tags: tags.Set{"dept": "claims"}},
	}
	b := chargeback.NewBuilder(chargeback.By{Tag: "dept"}, 0, month, month.AddDate(0, 1, 0))
	var want money.Amount
	for i := range rolls {
		b.Add(&rolls[i])
		want += rolls[i].InputCost + rolls[i].CacheWrite1hCost
	}
	res := b.Result()
	if len(res.Statements) != 1 {
		t.Fatalf("%d statements, want 1", len(res.Statements))
	}
	type line struct{ Model, UsageType string }
	var got []line
	for _, l := range res.Statements[0].Lines {
		got = append(got, line{l.Model, l.UsageType})
	}
	wantLines := []line{
		{"anthropic.claude-3-5-haiku-20241022-v1:0", "USE1-MP:USE1_InputTokenCount-Units"},
		{"anthropic.claude-3-haiku-20240307-v1:0", "USE1-MP:USE1_InputTokenCount-Units"},
		{"anthropic.claude-opus-4-7", "USE1-MP:USE1_cache_write_tokens_1h_global_standard-Units"},
		{"anthropic.claude-opus-4-7", "USE1-MP:USE1_input_tokens_global_standard-Units"},
	}
	if diff := cmp.Diff(got, wantLines); diff != "" {
		t.Errorf("lines (-got +want):\n%s", diff)
	}
	if res.Statements[0].Cost != want {
		t.Errorf("statement cost %v, rollups %v", res.Statements[0].Cost, want)
	}
}
