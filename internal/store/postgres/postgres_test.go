package postgres_test

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/store/postgres"
	"github.com/tollgate-dev/tollgate/internal/store/postgres/pgtest"
	"github.com/tollgate-dev/tollgate/internal/store/storetest"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

func openURL(t testing.TB, url string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// The DB implements the whole store contract, every part of which the
// conformance suite checks (cmd/tollgate asserts it too, at build).
var _ storetest.Store = (*postgres.DB)(nil)

func open(t *testing.T) storetest.Store { return openURL(t, pgtest.URL(t)) }

// TestConformance runs the store conformance suite against PostgreSQL,
// each subtest in a schema of its own.
func TestConformance(t *testing.T) { storetest.Run(t, open) }

// TestPostgresReplicasMigrateOnce opens several stores on one empty schema
// at once, as replicas starting together do: the advisory lock lets one
// migrate and the others find the work done.
func TestPostgresReplicasMigrateOnce(t *testing.T) {
	url := pgtest.URL(t)
	const n = 5
	dbs := make([]*postgres.DB, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { dbs[i], errs[i] = postgres.Open(t.Context(), url, postgres.Options{MaxConns: 2}) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("replica %d: %v", i, errs[i])
		}
		defer dbs[i].Close()
	}
	v, err := dbs[0].SchemaVersion(t.Context())
	if err != nil || v < 1 {
		t.Fatalf("SchemaVersion = %d, %v; want >= 1", v, err)
	}
	db := openURL(t, url) // and reopening finds nothing to do
	if v2, _ := db.SchemaVersion(t.Context()); v2 != v {
		t.Errorf("schema version %d after reopening, want %d", v2, v)
	}
}

// TestPostgresReplicasAppendConcurrently has two stores on one schema
// append overlapping batches, in different orders, at the same time: no
// deadlock, and every record counts once in the records and the rollups.
// (Without the sorting in AppendRecords, this load deadlocks within a few
// runs.)
func TestPostgresReplicasAppendConcurrently(t *testing.T) {
	url := pgtest.URL(t)
	a, b := openURL(t, url), openURL(t, url)
	t0 := time.Date(2026, 11, 30, 23, 55, 0, 0, time.UTC) // spans two months
	var recs []ledger.Record
	for i := range 600 {
		recs = append(recs, ledger.Record{
			RequestID: fmt.Sprintf("req-%05d", i), Time: t0.Add(time.Duration(i) * time.Second),
			Account: "111111111111", Region: "us-east-1", RegionServed: "us-east-1",
			PrincipalID: "root-111111111111", ModelID: "m", Provider: "sim", Operation: "Converse",
			InputTokens: 1, Attempts: 1, Outcome: ledger.OutcomeSuccess, Cost: money.Amount(i), InputCost: money.Amount(i),
			Priced: true, Tags: tags.Set{"tenant": fmt.Sprintf("t%d", i%7)},
		})
	}
	const writers = 16
	var wg sync.WaitGroup
	errs := make(chan error, writers*20)
	for w := range writers {
		db := a
		if w%2 == 1 {
			db = b
		}
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for range 20 {
				start := rng.IntN(len(recs) - 200)
				batch := append([]ledger.Record(nil), recs[start:start+200]...)
				rng.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
				errs <- db.AppendRecords(t.Context(), batch)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Everything, so the totals are exact whatever the batches covered.
	if err := a.AppendRecords(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	got, err := b.Records(t.Context(), ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Errorf("%d records, want %d", len(got), len(recs))
	}
	rolls, err := a.Rollups(t.Context(), "", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var calls int64
	var cost money.Amount
	for _, r := range rolls {
		calls += r.Calls
		cost += r.Cost
	}
	if want := money.Amount(len(recs) * (len(recs) - 1) / 2); calls != int64(len(recs)) || cost != want {
		t.Errorf("rollups: %d calls costing %d, want %d costing %d", calls, cost, len(recs), want)
	}
	daily, err := b.CostRollupsDaily(t.Context(), nil, t0.Truncate(24*time.Hour), t0.AddDate(0, 0, 2))
	if err != nil {
		t.Fatal(err)
	}
	days := map[time.Time]bool{}
	calls, cost = 0, 0
	for _, r := range daily {
		calls += r.Calls
		cost += r.Cost
		days[r.Hour] = true
	}
	if want := money.Amount(len(recs) * (len(recs) - 1) / 2); calls != int64(len(recs)) || cost != want || len(days) != 2 {
		t.Errorf("daily rollups: %d calls costing %d over %d days, want %d costing %d over 2", calls, cost, len(days), len(recs), want)
	}
}

// TestPostgresPartitions checks that appends create the monthly partitions
// they need, and create one again after retention dropped it; and that
// retention deletes the hourly and daily rollups of the months it drops,
// so the rollups stay the records rolled up.
func TestPostgresPartitions(t *testing.T) {
	url := pgtest.URL(t)
	db := openURL(t, url)
	ctx := t.Context()
	rec := func(id string, at time.Time) ledger.Record {
		return ledger.Record{RequestID: id, Time: at, Account: "111111111111", Operation: "Converse", Outcome: ledger.OutcomeSuccess}
	}
	jan := time.Date(2027, 1, 31, 12, 0, 0, 0, time.UTC)
	mar := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	if err := db.AppendRecords(ctx, []ledger.Record{rec("a", jan), rec("b", mar)}); err != nil {
		t.Fatal(err)
	}
	parts, err := db.Partitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"usage_records_p202701", "usage_records_p202702", "usage_records_p202703", "usage_records_p202704"}
	if fmt.Sprint(parts) != fmt.Sprint(want) {
		t.Errorf("partitions %v, want %v", parts, want)
	}
	// calls returns the calls of the hourly and of the daily rollups in
	// [from, to).
	calls := func(from, to time.Time) [2]int64 {
		t.Helper()
		var out [2]int64
		hourly, err := db.CostRollups(ctx, nil, from, to)
		if err != nil {
			t.Fatal(err)
		}
		daily, err := db.CostRollupsDaily(ctx, nil, from, to)
		if err != nil {
			t.Fatal(err)
		}
		for i, rs := range [][]ledger.Rollup{hourly, daily} {
			for _, r := range rs {
				out[i] += r.Calls
			}
		}
		return out
	}
	janFrom, janTo := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)
	marFrom, marTo := mar, mar.AddDate(0, 1, 0)
	if got := calls(janFrom, janTo); got != [2]int64{1, 1} {
		t.Errorf("January's hourly and daily calls before retention %v, want [1 1]", got)
	}
	v0, err := db.LedgerVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Retention drops January, with its rollups; a late record of January
	// creates it again.
	other := openURL(t, url)
	dropped, err := other.DropPartitionsBefore(ctx, time.Date(2027, 2, 15, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(dropped) != "[usage_records_p202701]" {
		t.Errorf("dropped %v, want [usage_records_p202701]", dropped)
	}
	if got := calls(janFrom, janTo); got != [2]int64{0, 0} {
		t.Errorf("January's hourly and daily calls after retention %v, want [0 0]", got)
	}
	if got := calls(marFrom, marTo); got != [2]int64{1, 1} {
		t.Errorf("March's hourly and daily calls after retention %v, want [1 1]", got)
	}
	if v1, err := db.LedgerVersion(ctx); err != nil || v1 == v0 {
		t.Errorf("LedgerVersion %d before retention, %d (%v) after; want it to change with the rollups", v0, v1, err)
	}
	if err := db.AppendRecords(ctx, []ledger.Record{rec("c", jan)}); err != nil {
		t.Fatalf("append after the partition was dropped: %v", err)
	}
	if got := calls(janFrom, janTo); got != [2]int64{1, 1} {
		t.Errorf("January's hourly and daily calls after a late record %v, want [1 1]", got)
	}
	got, err := db.Records(ctx, ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.RequestID)
	}
	if fmt.Sprint(ids) != "[c b]" {
		t.Errorf("records %v, want [c b]", ids)
	}
}

// TestPostgresDailyBackfill checks migration 0004's backfill: run again on
// a ledger appended before it (its table dropped and its version
// forgotten), it rebuilds from the hourly rollups exactly the daily
// rollups that ingest kept.
func TestPostgresDailyBackfill(t *testing.T) {
	url := pgtest.URL(t)
	db := openURL(t, url)
	ctx := t.Context()
	start := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	var recs []ledger.Record
	for i := range 400 {
		recs = append(recs, ledger.Record{RequestID: fmt.Sprint("r", i), Time: start.Add(time.Duration(i) * 23 * time.Minute),
			Account: []string{"111111111111", "222222222222"}[i%2], RegionServed: "us-east-1", ModelID: "m",
			Operation: "Converse", Outcome: ledger.OutcomeSuccess, Priced: i%7 != 0, InputTokens: int64(i), OutputTokens: 3,
			Cost: money.Amount(10 + i), InputCost: money.Amount(10 + i), Tags: tags.Set{"dept": []string{"a", "b", "c"}[i%3]}})
	}
	if err := db.AppendRecords(ctx, recs); err != nil {
		t.Fatal(err)
	}
	from, to := start.Truncate(24*time.Hour), start.AddDate(0, 0, 8)
	kept, err := db.CostRollupsDaily(ctx, nil, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) == 0 {
		t.Fatal("no daily rollups kept at ingest")
	}
	raw, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(ctx, `DROP TABLE usage_daily; DELETE FROM schema_migrations WHERE version IN (4, 9, 15)`); err != nil {
		t.Fatal(err)
	}
	again := openURL(t, url) // migrates: 0004 again, then 0009 and 0015 (which may run again) on its table
	backfilled, err := again.CostRollupsDaily(ctx, nil, from, to)
	if err != nil {
		t.Fatal(err)
	}
	byKey := func(a, b ledger.Rollup) int {
		return strings.Compare(fmt.Sprint(a.Hour.UnixMilli(), a.Account, a.Tags.Canonical()), fmt.Sprint(b.Hour.UnixMilli(), b.Account, b.Tags.Canonical()))
	}
	slices.SortFunc(backfilled, byKey) // the rebuilt table's order within a day differs
	slices.SortFunc(kept, byKey)
	if diff := cmp.Diff(backfilled, kept); diff != "" {
		t.Errorf("daily rollups backfilled vs kept at ingest (-backfilled +kept):\n%s", diff)
	}
}
