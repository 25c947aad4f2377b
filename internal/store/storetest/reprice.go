package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/pricing"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// testReprice checks re-pricing: records priced at the catalogue are
// re-priced under a retroactive override; each changed record carries the
// new cost and version, the log keeps old and new, hourly and daily
// rollups still equal the records summed (the ledger's sum equals its
// rollups'), the ledger version moves, and a second run changes nothing.
func testReprice(t *testing.T, s Store) {
	ctx := t.Context()
	cat := catalog.Default()
	const sonnet = "anthropic.claude-sonnet-4-5-20250929-v1:0"
	base := time.Date(2026, 11, 3, 8, 0, 0, 0, time.UTC)
	var recs []ledger.Record
	for i := range 30 {
		r := ledger.Record{RequestID: fmt.Sprintf("rp-%03d", i), Time: base.Add(time.Duration(i) * 23 * time.Minute),
			Account: "111111111111", Region: "us-east-1", RegionServed: "us-east-1", ModelID: sonnet, Operation: "Converse",
			Outcome: ledger.OutcomeSuccess, Scope: []string{"", "geo", "global"}[i%3], InputTokens: int64(1000 + 10*i), OutputTokens: 200,
			CacheWrite1hTokens: int64(i%2) * 500, Tags: tags.Set{"dept": []string{"claims", "sales"}[i%2]}}
		if i == 7 {
			r.InputTokens = 250_000 // long context
		}
		recs = append(recs, pricing.Recompute(cat, r))
	}
	recs = append(recs, ledger.Record{RequestID: "rp-fixed", Time: base, Account: "111111111111", Region: "us-east-1",
		RegionServed: "us-east-1", ModelID: sonnet, Operation: ledger.OpFixedCost, Outcome: ledger.OutcomeSuccess, Priced: true,
		Cost: 5000, FixedCost: 5000, PriceVersion: "commitment/x", Tags: tags.Set{"dept": "claims"}})
	if err := s.AppendRecords(ctx, recs); err != nil {
		t.Fatal(err)
	}
	v0, err := s.LedgerVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// A negotiated global rate, retroactive; the long-context call moves
	// out of its tier at the new (tier-less) price.
	prices, err := catalog.ParsePrices("ea.yaml", []byte(`prices:
  - model: `+sonnet+`
    effective: 2026-01-01
    scopes: [global]
    input: "0.0027"
    output: "0.0135"
    cacheRead: "0.00027"
    cacheWrite: "0.003375"
    cacheWrite1h: "0.0054"
    source: EA
  - model: `+sonnet+`
    effective: 2026-11-01
    scopes: [in-region]
    input: "0.003"
    output: "0.015"
    source: EA in-region, no cache prices
`))
	if err != nil {
		t.Fatal(err)
	}
	newCat, err := cat.WithPrices(prices)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := s.Records(ctx, ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	changes := pricing.Reprice(newCat, stored)
	if len(changes) != 20 { // the global and in-region calls; geo keeps its price
		t.Fatalf("%d changes, want 20", len(changes))
	}
	at := time.Date(2026, 12, 6, 17, 0, 0, 0, time.UTC)
	n, err := s.Reprice(ctx, "run-1", at, changes)
	if err != nil || n != len(changes) {
		t.Fatalf("Reprice = %d, %v; want %d", n, err, len(changes))
	}
	after, err := s.Records(ctx, ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]ledger.Record{}
	for _, c := range changes {
		want[c.New.RequestID] = c.New
	}
	var unpriced int
	for _, r := range after {
		if w, ok := want[r.RequestID]; ok {
			w.Time, w.Tags = r.Time, r.Tags
			if diff := cmp.Diff(r, w); diff != "" {
				t.Errorf("record %s after re-pricing (-got +want):\n%s", r.RequestID, diff)
			}
		}
		if r.LineSum() != r.Cost {
			t.Errorf("record %s: lines %v, cost %v", r.RequestID, r.LineSum(), r.Cost)
		}
		if !r.Priced {
			unpriced++
		}
	}
	if unpriced != 5 { // the in-region calls with 1-hour writes: the override has no cache prices
		t.Errorf("%d unpriced after re-pricing, want 5", unpriced)
	}
	checkRollups := func(step string) {
		t.Helper()
		recs, err := s.Records(ctx, ledger.Query{})
		if err != nil {
			t.Fatal(err)
		}
		var ledgerSum, hourlySum, dailySum money.Amount
		for _, r := range recs {
			ledgerSum += r.Cost
		}
		hourly, err := s.CostRollups(ctx, nil, base.Truncate(24*time.Hour), base.Add(48*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		daily, err := s.CostRollupsDaily(ctx, nil, base.Truncate(24*time.Hour), base.Add(48*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range hourly {
			hourlySum += r.Cost
		}
		for _, r := range daily {
			dailySum += r.Cost
		}
		if ledgerSum != hourlySum || ledgerSum != dailySum {
			t.Errorf("%s: ledger %v, hourly rollups %v, daily %v", step, ledgerSum, hourlySum, dailySum)
		}
		// Each rollup is its records summed (rows emptied by a move
		// between long-context tiers sum to zero and are left out).
		var got []ledger.Rollup
		for _, r := range hourly {
			if r.Calls != 0 || r.Cost != 0 {
				got = append(got, r)
			}
		}
		wantRolls := costquery.RollupRecords(recs)
		sortRollups(got)
		sortRollups(wantRolls)
		if diff := cmp.Diff(got, wantRolls); diff != "" {
			t.Errorf("%s: hourly rollups (-got +records):\n%s", step, diff)
		}
	}
	checkRollups("after re-pricing")
	if v1, err := s.LedgerVersion(ctx); err != nil || v1 == v0 {
		t.Errorf("ledger version %d after re-pricing, %d before (%v)", v1, v0, err)
	}
	log, err := s.Repricings(ctx, base.Truncate(24*time.Hour), base.Add(48*time.Hour))
	if err != nil || len(log) != len(changes) {
		t.Fatalf("Repricings = %d entries, %v; want %d", len(log), err, len(changes))
	}
	for _, e := range log {
		c := want[e.RequestID]
		if e.RunID != "run-1" || !e.At.Equal(at) || e.NewVersion != c.PriceVersion || e.NewCost != c.Cost || e.OldVersion == e.NewVersion && e.OldCost == e.NewCost {
			t.Errorf("log entry %+v", e)
		}
	}

	// Idempotent: re-pricing again finds nothing; re-applying the same
	// changes applies none.
	again, _ := s.Records(ctx, ledger.Query{})
	if c := pricing.Reprice(newCat, again); len(c) != 0 {
		t.Errorf("a second run finds %d changes", len(c))
	}
	if n, err := s.Reprice(ctx, "run-2", at, changes); err != nil || n != 0 {
		t.Errorf("re-applying: %d, %v; want 0", n, err)
	}
	checkRollups("after the second run")

	// Back to the catalogue: every record returns to its original cost.
	back := pricing.Reprice(cat, again)
	if _, err := s.Reprice(ctx, "run-3", at, back); err != nil {
		t.Fatal(err)
	}
	final, _ := s.Records(ctx, ledger.Query{})
	orig := map[string]ledger.Record{}
	for _, r := range recs {
		orig[r.RequestID] = r
	}
	for _, r := range final {
		w := orig[r.RequestID]
		w.Time, w.Tags = w.Time.UTC(), r.Tags
		if diff := cmp.Diff(r, w); diff != "" {
			t.Errorf("record %s after pricing back (-got +want):\n%s", r.RequestID, diff)
		}
	}
	checkRollups("after pricing back")
}
