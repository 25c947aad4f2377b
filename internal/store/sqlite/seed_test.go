package sqlite_test

import (
	"cmp"
	"path/filepath"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// seedTemplates are records differing in every rollup dimension and in
// the ways RollupCalls counts: an error, an unpriced call, a record
// standing for several calls, a fixed-cost line.
func seedTemplates() []ledger.Record {
	base := ledger.Record{Account: "123456789012", Region: "us-east-1", RegionServed: "us-east-1", PrincipalID: "p1",
		ProfileARN: "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1", ProfileID: "a1",
		ModelID: "anthropic.claude-3-haiku-20240307-v1:0", Provider: "sim", Operation: "Converse", InputTokens: 100,
		OutputTokens: 20, LatencyMs: 3, Attempts: 1, Outcome: ledger.OutcomeSuccess, Priced: true,
		Cost: 55_000, InputCost: 25_000, OutputCost: 30_000, Tags: tags.Set{"app": "chat", "team": "a"}}
	var out []ledger.Record
	for i := range 8 {
		r := base
		switch i {
		case 1:
			r.Tags = tags.Set{"app": "search"}
			r.ProfileARN, r.ProfileID = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/b2", "b2"
			r.Scope, r.ServiceTier = "global", "flex"
		case 2:
			r.Outcome, r.ErrorCode, r.Cost, r.InputCost, r.OutputCost, r.InputTokens, r.OutputTokens = ledger.OutcomeThrottled, "ThrottlingException", 0, 0, 0, 0, 0
		case 3:
			r.Priced, r.Cost, r.InputCost, r.OutputCost = false, 0, 0, 0
		case 4:
			r.Calls, r.InputTokens, r.Cost, r.InputCost = 40, 4000, 1_030_000, 1_000_000
		case 5:
			r = ledger.Record{Account: base.Account, Region: base.Region, RegionServed: base.Region, ProfileARN: base.ProfileARN,
				ProfileID: base.ProfileID, ModelID: base.ModelID, Operation: ledger.OpFixedCost, Outcome: ledger.OutcomeSuccess,
				Priced: true, Cost: 2_000_000_000, FixedCost: 2_000_000_000, Tags: base.Tags}
		case 7:
			r.ModelID, r.Operation, r.InputTokens, r.OutputTokens, r.InputCost, r.OutputCost = "amazon.nova-canvas-v1:0", "InvokeModel", 0, 0, 0, 0
			r.Units, r.UnitKind, r.UnitCost, r.Cost = 2, "image-premium-2048x2048", 160_000_000, 160_000_000
		case 6:
			r.CacheReadTokens, r.CacheWrite1hTokens, r.CacheReadCost, r.CacheWrite1hCost = 500, 300, 7, 11
			r.Cost += money.Amount(18)
			r.LongContext, r.LatencyOptimized = true, true
		}
		out = append(out, r)
	}
	return out
}

// TestSeedLedgerMatchesAppend checks that SeedLedger makes the ledger the
// same records appended one by one make: records and both rollups.
func TestSeedLedgerMatchesAppend(t *testing.T) {
	const n = 3001
	end, span := time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC), 50*time.Hour
	tpl := seedTemplates()
	open := func(name string) *sqlite.DB {
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), name), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	seeded, appended := open("seeded.db"), open("appended.db")
	if err := seeded.SeedLedger(t.Context(), tpl, n, end, span); err != nil {
		t.Fatal(err)
	}
	recs := make([]ledger.Record, 0, n)
	for i := range n {
		r := tpl[i%len(tpl)]
		r.RequestID, r.Time = sqlite.SeedRequestID(i), sqlite.SeedTime(i, n, end, span)
		recs = append(recs, r)
	}
	if err := appended.AppendRecords(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	from, to := end.Add(-span-48*time.Hour), end.Add(48*time.Hour)
	order := func(a, b ledger.Rollup) int {
		return cmp.Or(a.Hour.Compare(b.Hour), cmp.Compare(a.ProfileARN, b.ProfileARN), cmp.Compare(a.Operation, b.Operation),
			cmp.Compare(a.Tags.Canonical(), b.Tags.Canonical()), cmp.Compare(a.ServiceTier, b.ServiceTier),
			cmp.Compare(a.Cost, b.Cost), cmp.Compare(a.Calls, b.Calls))
	}
	for _, daily := range []bool{false, true} {
		q := (*sqlite.DB).CostRollups
		if daily {
			q = (*sqlite.DB).CostRollupsDaily
		}
		got, err := q(seeded, t.Context(), nil, from, to)
		if err != nil {
			t.Fatal(err)
		}
		want, err := q(appended, t.Context(), nil, from, to)
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(got, order)
		slices.SortFunc(want, order)
		if len(want) < 8 {
			t.Fatalf("daily=%v: only %d rollups appended; the test spans too little", daily, len(want))
		}
		if diff := gocmp.Diff(got, want); diff != "" {
			t.Errorf("daily=%v: rollups seeded vs appended (-got +want):\n%s", daily, diff)
		}
	}
	got, err := seeded.Records(t.Context(), ledger.Query{From: from, To: to, Limit: n + 10})
	if err != nil {
		t.Fatal(err)
	}
	want, err := appended.Records(t.Context(), ledger.Query{From: from, To: to, Limit: n + 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("%d records seeded, want %d", len(got), n)
	}
	if diff := gocmp.Diff(got, want); diff != "" {
		t.Errorf("records seeded vs appended (-got +want):\n%s", diff)
	}
	if err := seeded.SeedLedger(t.Context(), tpl, n, end, span); err == nil {
		t.Error("seeding a ledger that holds records succeeded")
	}
}
