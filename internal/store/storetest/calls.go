package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// testRecordCalls checks records that stand for several calls
// (ledger.Record.Calls): a record of 40 failed calls adds 40 calls and 40
// errors to its hourly and daily rollups, one of 25 unpriced calls 25
// unpriced; the records read back keep Calls (0 for a single call); a
// replay adds nothing; and re-pricing keeps the rollups equal to the
// records summed, calls included.
func testRecordCalls(t *testing.T, s Store) {
	ctx := t.Context()
	base := time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC)
	failed := record(1, base.Add(5*time.Minute), tags.Set{"dept": "sales"})
	failed.RequestID, failed.Calls = "calls-failed", 40
	failed.Outcome, failed.ErrorCode = ledger.OutcomeServerError, "InternalServerException"
	failed.Priced = true
	unpriced := record(2, base.Add(10*time.Minute), tags.Set{"dept": "sales"})
	unpriced.RequestID, unpriced.Calls, unpriced.Priced = "calls-unpriced", 25, false
	single := record(3, base.Add(15*time.Minute), tags.Set{"dept": "sales"})
	single.RequestID = "calls-single"
	one := record(4, base.Add(20*time.Minute), tags.Set{"dept": "sales"})
	one.RequestID, one.Calls = "calls-one", 1 // the same as 0
	fixed := fixedRecord("calls-fixed", base.Add(25*time.Minute))
	recs := []ledger.Record{failed, unpriced, single, one, fixed}
	if err := s.AppendRecords(ctx, recs); err != nil {
		t.Fatal(err)
	}
	day := base.Truncate(24 * time.Hour)
	totals := func(step string, wantCalls, wantErrs, wantUnpriced int64) {
		t.Helper()
		stored, err := s.Records(ctx, ledger.Query{From: day, To: day.Add(24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		var ledgerCost money.Amount
		for _, r := range stored {
			ledgerCost += r.Cost
		}
		hourly, err := s.CostRollups(ctx, nil, day, day.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		daily, err := s.CostRollupsDaily(ctx, nil, day, day.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		for name, rolls := range map[string][]ledger.Rollup{"hourly": hourly, "daily": daily} {
			var calls, errs, unp int64
			var cost money.Amount
			for _, r := range rolls {
				calls, errs, unp, cost = calls+r.Calls, errs+r.Errors, unp+r.Unpriced, cost+r.Cost
			}
			if diff := cmp.Diff([]int64{calls, errs, unp, int64(cost)}, []int64{wantCalls, wantErrs, wantUnpriced, int64(ledgerCost)}); diff != "" {
				t.Errorf("%s: %s rollups' calls, errors, unpriced, cost (-got +want):\n%s", step, name, diff)
			}
		}
		var got []ledger.Rollup
		for _, r := range hourly {
			if r.Calls != 0 || r.Cost != 0 {
				got = append(got, r)
			}
		}
		want := costquery.RollupRecords(stored)
		sortRollups(got)
		sortRollups(want)
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("%s: hourly rollups (-got +records summed):\n%s", step, diff)
		}
	}
	// 40 + 25 + 1 + 1 calls (the fixed-cost hour is none), 40 errors, 25
	// unpriced.
	totals("appended", 67, 40, 25)

	stored, err := s.Records(ctx, ledger.Query{From: day, To: day.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	gotCalls := map[string]int64{}
	for _, r := range stored {
		gotCalls[r.RequestID] = r.Calls
	}
	if diff := cmp.Diff(gotCalls, map[string]int64{"calls-failed": 40, "calls-unpriced": 25, "calls-single": 0,
		"calls-one": 0, "calls-fixed": 0}); diff != "" {
		t.Errorf("records' Calls read back (-got +want):\n%s", diff)
	}

	// A replay, alone and beside a new record, adds nothing for the old.
	if err := s.AppendRecords(ctx, recs); err != nil {
		t.Fatal(err)
	}
	totals("replayed", 67, 40, 25)
	more := record(5, base.Add(2*time.Hour), tags.Set{"dept": "claims"})
	more.RequestID, more.Calls, more.Priced = "calls-more", 7, true
	if err := s.AppendRecords(ctx, []ledger.Record{failed, more}); err != nil {
		t.Fatal(err)
	}
	totals("replayed beside 7 new calls", 74, 40, 25)

	// Re-pricing the unpriced record (and doubling the failed one's cost)
	// moves cost and unpriced, never calls or errors.
	stored, err = s.Records(ctx, ledger.Query{From: day, To: day.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var changes []ledger.Repricing
	for _, r := range stored {
		n := r
		switch r.RequestID {
		case "calls-unpriced":
			n.Priced, n.InputCost, n.OutputCost, n.CacheReadCost, n.CacheWrite1hCost = true, 2500, 1200, 0, 0
		case "calls-failed":
			n.InputCost, n.OutputCost, n.CacheReadCost, n.CacheWrite1hCost = 2*r.InputCost, 2*r.OutputCost, 2*r.CacheReadCost, 2*r.CacheWrite1hCost
		default:
			continue
		}
		n.Cost, n.PriceVersion = n.LineSum(), "calls-v2"
		changes = append(changes, ledger.Repricing{Old: r, New: n})
	}
	if n, err := s.Reprice(ctx, "calls-run", base.Add(24*time.Hour), changes); err != nil || n != 2 {
		t.Fatalf("Reprice = %d, %v; want 2", n, err)
	}
	totals("re-priced", 74, 40, 0)
	after, err := s.Records(ctx, ledger.Query{From: day, To: day.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range after {
		if r.RequestID == "calls-unpriced" && (r.Calls != 25 || !r.Priced || r.PriceVersion != "calls-v2") {
			t.Errorf("re-priced record: Calls %d, Priced %v, version %q; want 25, true, calls-v2", r.Calls, r.Priced, r.PriceVersion)
		}
	}
}
