package postgres_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/store/postgres"
	"github.com/tollgate-dev/tollgate/internal/store/postgres/pgtest"
	"github.com/tollgate-dev/tollgate/internal/store/storetest"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

func openURL(t *testing.T, url string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

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
}

// TestPostgresPartitions checks that appends create the monthly partitions
// they need, and create one again after retention dropped it.
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
	// Retention drops January; a late record of January creates it again.
	other := openURL(t, url)
	dropped, err := other.DropPartitionsBefore(ctx, time.Date(2027, 2, 15, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(dropped) != "[usage_records_p202701]" {
		t.Errorf("dropped %v, want [usage_records_p202701]", dropped)
	}
	if err := db.AppendRecords(ctx, []ledger.Record{rec("c", jan)}); err != nil {
		t.Fatalf("append after the partition was dropped: %v", err)
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
