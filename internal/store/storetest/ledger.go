package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// LedgerStore is a store with a usage ledger.
type LedgerStore interface {
	ledger.Writer
	ledger.Reader
}

func record(i int, at time.Time, t tags.Set) ledger.Record {
	return ledger.Record{
		RequestID: fmt.Sprintf("req-%06d", i), Time: at, Account: "111111111111", Region: "us-east-1",
		RegionServed: []string{"us-east-1", "us-west-2"}[i%2], PrincipalID: "root-111111111111",
		ProfileARN: "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/aaaaaaaaaaaa",
		ProfileID:  "aaaaaaaaaaaa", ModelID: "anthropic.claude-3-haiku-20240307-v1:0", Provider: "sim",
		Operation: "Converse", ServiceTier: []string{"default", "priority", "flex", ""}[i%4], InputTokens: int64(10 + i), OutputTokens: int64(20 + i%7), CacheReadTokens: int64(i % 3),
		LatencyMs: 5, Attempts: 1, Outcome: ledger.OutcomeSuccess, Cost: money.Amount(1000 + i + 7*(i%4)), Priced: i%5 != 0,
		InputCost: money.Amount(600 + i), OutputCost: 300, CacheReadCost: 100,
		Scope: []string{"", "geo", "global"}[i%3], LongContext: i%6 == 1, LatencyOptimized: i%7 == 2,
		CacheWrite1hTokens: int64(i % 4), CacheWrite1hCost: money.Amount(7 * (i % 4)), PriceVersion: fmt.Sprintf("p%016x", i%2),
		Tags: t,
	}
}

// fixedRecord is an hour of a reserved-capacity commitment: no call,
// only a fixed cost.
func fixedRecord(id string, at time.Time) ledger.Record {
	return ledger.Record{RequestID: id, Time: at, Account: "111111111111", Region: "us-east-1",
		ProfileARN:   "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/aaaaaaaaaaaa",
		RegionServed: "us-east-1", ProfileID: "aaaaaaaaaaaa", ModelID: "anthropic.claude-3-haiku-20240307-v1:0", Operation: ledger.OpFixedCost,
		ServiceTier: "reserved", Outcome: ledger.OutcomeSuccess, Priced: true, Cost: 123_456, FixedCost: 123_456,
		PriceVersion: "commitment-1", Tags: tags.Set{"dept": "claims"}}
}

func testLedger(t *testing.T, s LedgerStore) {
	ctx := t.Context()
	claims := tags.Set{"dept": "claims", "app": "claims_chatbot"}
	sales := tags.Set{"dept": "sales"}
	var recs []ledger.Record
	for i := range 40 {
		tg := claims
		switch i % 3 {
		case 1:
			tg = sales
		case 2:
			tg = tags.Set{}
		}
		recs = append(recs, record(i, t0.Add(time.Duration(i)*10*time.Minute), tg))
	}
	recs[7].Outcome = ledger.OutcomeThrottled
	recs = append(recs, fixedRecord("fixed-000001", t0.Add(6*time.Hour+35*time.Minute)))
	if err := s.AppendRecords(ctx, recs[:25]); err != nil {
		t.Fatal(err)
	}
	// Appending an overlapping batch again must not double count.
	if err := s.AppendRecords(ctx, recs[20:]); err != nil {
		t.Fatal(err)
	}
	got, err := s.Records(ctx, ledger.Query{Account: "111111111111"})
	if err != nil {
		t.Fatal(err)
	}
	want := make([]ledger.Record, len(recs))
	for i, r := range recs {
		r.Time = r.Time.UTC()
		if len(r.Tags) == 0 {
			r.Tags = tags.Set{}
		}
		want[i] = r
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Records (-got +want):\n%s", diff)
	}
	// Rollups sum exactly to the records.
	rolls, err := s.Rollups(ctx, "111111111111", t0, t0.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var calls, errs, in, out, cr int64
	var cost, inCost money.Amount
	var unpriced int64
	for _, r := range rolls {
		calls += r.Calls
		errs += r.Errors
		in += r.InputTokens
		out += r.OutputTokens
		cr += r.CacheReadTokens
		cost += r.Cost
		inCost += r.InputCost
		unpriced += r.Unpriced
	}
	var wIn, wOut, wCR int64
	var wCost, wInCost money.Amount
	var wUnpriced int64
	for _, r := range recs {
		wInCost += r.InputCost
		wIn += r.InputTokens
		wOut += r.OutputTokens
		wCR += r.CacheReadTokens
		wCost += r.Cost
		if !r.Priced {
			wUnpriced++
		}
	}
	if diff := cmp.Diff([]int64{calls, errs, in, out, cr, int64(cost), int64(inCost), unpriced},
		[]int64{int64(len(recs) - 1), 1, wIn, wOut, wCR, int64(wCost), int64(wInCost), wUnpriced}); diff != "" {
		t.Errorf("rollup totals (calls, errors, in, out, cacheRead, cost, inputCost, unpriced) (-got +want):\n%s", diff)
	}
	// Each rollup is the records of its hour and price dimensions summed
	// (the fixed-cost hour adds cost, not a call).
	wantRolls := costquery.RollupRecords(recs)
	sortRollups(rolls)
	sortRollups(wantRolls)
	if diff := cmp.Diff(rolls, wantRolls); diff != "" {
		t.Errorf("Rollups (-got +want):\n%s", diff)
	}
	for _, r := range recs {
		if r.LineSum() != r.Cost {
			t.Fatalf("test record %s: lines sum to %v, cost %v", r.RequestID, r.LineSum(), r.Cost)
		}
	}
	// A time window selects records.
	got, _ = s.Records(ctx, ledger.Query{From: t0.Add(time.Hour), To: t0.Add(2 * time.Hour)})
	if len(got) != 6 {
		t.Errorf("records in [1h, 2h): %d, want 6", len(got))
	}
	got, _ = s.Records(ctx, ledger.Query{Newest: true, Limit: 3})
	if len(got) != 3 || got[0].RequestID != "fixed-000001" || got[1].RequestID != "req-000039" {
		t.Errorf("newest 3: %v", got)
	}
}

func testLedgerConcurrent(t *testing.T, s LedgerStore) {
	b := ledger.NewBatcher(s, 64, nil)
	const n = 500
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tg := tags.Set{"tenant": fmt.Sprintf("t%d", i%13)}
			errs <- b.Append(t.Context(), record(i, t0.Add(time.Duration(i)*time.Second), tg))
		}()
	}
	wg.Wait()
	b.Close()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Append(t.Context(), record(n+1, t0, nil)); err != ledger.ErrClosed {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	got, err := s.Records(t.Context(), ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Errorf("%d records, want %d", len(got), n)
	}
	perTenant := map[string]int{}
	for _, r := range got {
		perTenant[r.Tags["tenant"]]++
	}
	if len(perTenant) != 13 {
		t.Errorf("%d distinct tenants, want 13", len(perTenant))
	}
}
