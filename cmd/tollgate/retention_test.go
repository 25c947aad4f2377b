package main

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/store/postgres"
	"github.com/tollgate-dev/tollgate/internal/store/postgres/pgtest"
)

func TestRetentionCutoff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		now  time.Time
		keep int
		want string
	}{
		{time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC), 13, "2025-10-01"},
		{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 1, "2025-12-01"},
		{time.Date(2026, 3, 31, 12, 0, 0, 0, time.FixedZone("x", -5*3600)), 2, "2026-01-01"}, // 17:00 UTC
	} {
		if got := retentionCutoff(tc.now, tc.keep).Format(time.DateOnly); got != tc.want {
			t.Errorf("retentionCutoff(%v, %d) = %s, want %s", tc.now, tc.keep, got, tc.want)
		}
	}
}

// TestPostgresLedgerRetention: with ledgerRetentionMonths 2, a replica
// drops the months before the two whole months before the current one,
// and keeps those and the current month.
func TestPostgresLedgerRetention(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	db, err := postgres.Open(t.Context(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	month := func(back int) time.Time {
		y, m, _ := now.Date()
		return time.Date(y, m-time.Month(back), 10, 12, 0, 0, 0, time.UTC)
	}
	var recs []ledger.Record
	for back := range 6 {
		recs = append(recs, ledger.Record{RequestID: fmt.Sprint("ret-", back), Time: month(back), Account: "123456789012",
			RegionServed: "us-east-1", ModelID: "m", Operation: "Converse", Outcome: ledger.OutcomeSuccess, Cost: money.Cent, InputCost: money.Cent, Priced: true})
	}
	if err := db.AppendRecords(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	db.Close()
	ts := startServer(t, "", func(c *config.Config) { c.Store = url; c.LedgerRetentionMonths = 2 })
	pg := ts.DB.(*postgres.DB)
	name := func(back int) string { return "usage_records_p" + month(back).Format("200601") }
	eventually(t, "the months past the retention dropped", func() bool {
		parts, err := pg.Partitions(t.Context())
		return err == nil && !slices.Contains(parts, name(3))
	})
	parts, _ := pg.Partitions(t.Context())
	for back := range 6 {
		if has := slices.Contains(parts, name(back)); has != (back <= 2) {
			t.Errorf("partition %s present = %v, want %v (partitions %v)", name(back), has, back <= 2, parts)
		}
	}
	got, err := pg.Records(t.Context(), ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Errorf("%d records after retention, want the 3 of the months kept", len(got))
	}
}
