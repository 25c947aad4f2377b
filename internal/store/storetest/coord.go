package storetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/budget"
	"github.com/tollgate-dev/tollgate/internal/lease"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// CoordStore is what replicas coordinate through: leases, budget
// allowance pools and throttle windows, and the change feed. A store
// that one node serves implements it for that node (Shared false).
type CoordStore interface {
	lease.Store
	budget.Shared
	Watch(ctx context.Context, fn func(kind string)) error
	Shared() bool
}

// testLeases: one holder at a time; the holder renews; another takes an
// expired lease over; a released lease is free at once.
func testLeases(t *testing.T, s Store) { LeasesAcross(t, s, s) }

// LeasesAcross is the lease conformance test with holder A acting through
// store a and holder B through store b: on PostgreSQL, two replicas' own
// connection pools on one database.
func LeasesAcross(t *testing.T, a, b lease.Store) {
	ctx := t.Context()
	const ttl = 400 * time.Millisecond
	must := func(ok bool, err error) bool {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !must(a.AcquireLease(ctx, "job", "A", ttl)) {
		t.Fatal("A could not take a free lease")
	}
	if must(b.AcquireLease(ctx, "job", "B", ttl)) {
		t.Fatal("B took a lease A holds")
	}
	if !must(a.AcquireLease(ctx, "job", "A", ttl)) {
		t.Fatal("A could not renew its lease")
	}
	if !must(b.AcquireLease(ctx, "other", "B", ttl)) {
		t.Fatal("B could not take another lease")
	}
	time.Sleep(ttl + 100*time.Millisecond) // A stops renewing: it died
	if !must(b.AcquireLease(ctx, "job", "B", ttl)) {
		t.Fatal("B could not take over an expired lease")
	}
	if must(a.AcquireLease(ctx, "job", "A", ttl)) {
		t.Fatal("A took its lease back from B")
	}
	if err := a.ReleaseLease(ctx, "job", "A"); err != nil {
		t.Fatal(err)
	}
	if must(a.AcquireLease(ctx, "job", "A", ttl)) {
		t.Fatal("A's release freed B's lease")
	}
	if err := b.ReleaseLease(ctx, "job", "B"); err != nil {
		t.Fatal(err)
	}
	if !must(a.AcquireLease(ctx, "job", "A", ttl)) {
		t.Fatal("A could not take a released lease")
	}
}

// testAllowanceClaims: concurrent claims of three replicas on one budget
// never grant more than the limit less the base; a claim returns the
// replica's whole grant; a return lowers it and frees the rest; a pruned
// pool is opened again with a new base.
func testAllowanceClaims(t *testing.T, s Store) {
	ctx := t.Context()
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	claim := func(replica string, base, need, want int64) budget.Claim {
		return budget.Claim{Account: "111111111111", Budget: "b", Replica: replica, PeriodStart: start,
			PeriodEnd: start.AddDate(0, 1, 0), Limit: 1_000_000, Base: base, Need: need, Want: want}
	}
	var mu sync.Mutex
	grants := map[string]int64{}
	for _, r := range []string{"r0", "r1", "r2"} {
		got, err := s.ClaimAllowance(ctx, claim(r, 100_000, 1000, 7000))
		if err != nil || got != 7000 {
			t.Fatalf("first claim of %s = %d, %v; want 7000", r, got, err)
		}
		grants[r] = got
	}
	var wg sync.WaitGroup
	for _, r := range []string{"r0", "r1", "r2"} {
		for range 4 {
			wg.Go(func() {
				for range 20 {
					got, err := s.ClaimAllowance(ctx, claim(r, 100_000, 1000, 7000))
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					grants[r] = max(grants[r], got)
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	var sum int64
	for _, g := range grants {
		sum += g
	}
	if sum != 900_000 {
		t.Errorf("grants %v sum to %d, want the whole 900000 the pool holds", grants, sum)
	}
	if got, err := s.ClaimAllowance(ctx, claim("r0", 0, 1, 1)); err != nil || got != grants["r0"] {
		t.Errorf("claim from an empty pool = %d, %v; want r0's grant %d", got, err, grants["r0"])
	}
	if err := s.ReturnAllowance(ctx, claim("r0", 0, 0, 0), 10); err != nil {
		t.Fatal(err)
	}
	if err := s.ReturnAllowance(ctx, claim("r0", 0, 0, 0), 1_000_000); err != nil { // never raises
		t.Fatal(err)
	}
	freed := grants["r0"] - 10
	if got, err := s.ClaimAllowance(ctx, claim("r1", 0, 1, 2*freed)); err != nil || got != grants["r1"]+freed {
		t.Errorf("claim after r0 returned %d = %d, %v; want %d", freed, got, err, grants["r1"]+freed)
	}
	if err := s.PruneShared(ctx, start.AddDate(0, 2, 0)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ClaimAllowance(ctx, claim("r2", 990_000, 1, 50_000)); err != nil || got != 10_000 {
		t.Errorf("claim on a pruned pool = %d, %v; want 10000 (the new base's remainder)", got, err)
	}
}

// testRateClaims: a THROTTLE window grants its limit and no more, per
// budget and minute, until pruned.
func testRateClaims(t *testing.T, s Store) {
	ctx := t.Context()
	minute := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	var total int64
	for range 7 {
		got, err := s.ClaimRate(ctx, "111111111111", "b", minute, 10, 3)
		if err != nil {
			t.Fatal(err)
		}
		total += got
	}
	if total != 10 {
		t.Errorf("claimed %d of a window of 10", total)
	}
	if got, _ := s.ClaimRate(ctx, "111111111111", "b", minute.Add(time.Minute), 10, 3); got != 3 {
		t.Errorf("next minute: claimed %d, want 3", got)
	}
	if got, _ := s.ClaimRate(ctx, "111111111111", "other", minute, 10, 3); got != 3 {
		t.Errorf("other budget: claimed %d, want 3", got)
	}
	if err := s.PruneShared(ctx, minute.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ClaimRate(ctx, "111111111111", "b", minute, 10, 3); got != 3 {
		t.Errorf("pruned window: claimed %d, want 3", got)
	}
}

// testChangeFeed: an allowance shortage announced through the store
// reaches its watchers, and Watch returns when its context ends.
func testChangeFeed(t *testing.T, s Store) {
	ctx, cancel := context.WithCancel(t.Context())
	heard := make(chan struct{})
	var once sync.Once
	done := make(chan error, 1)
	go func() {
		done <- s.Watch(ctx, func(kind string) {
			if kind == sqlstore.ChangeAllowance {
				once.Do(func() { close(heard) })
			}
		})
	}()
	deadline := time.After(10 * time.Second)
	for waiting := true; waiting; {
		if err := s.AnnounceAllowanceShortage(t.Context()); err != nil {
			t.Fatal(err)
		}
		select {
		case <-heard:
			waiting = false
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatal("the watcher never heard the shortage announced")
		}
	}
	cancel()
	if err := <-done; err == nil {
		t.Error("Watch returned nil after its context ended")
	}
}

// testRetention: DropPartitionsBefore never drops a record of a month on
// or after the cutoff, and names only months that end by it.
func testRetention(t *testing.T, s Store) {
	ctx := t.Context()
	oct := time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC)
	nov := time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)
	var recs []ledger.Record
	for i := range 10 {
		at := oct
		if i%2 == 1 {
			at = nov
		}
		recs = append(recs, record(i, at.Add(time.Duration(i)*time.Minute), tags.Set{"dept": "claims"}))
	}
	if err := s.AppendRecords(ctx, recs); err != nil {
		t.Fatal(err)
	}
	cut := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	dropped, err := s.DropPartitionsBefore(ctx, cut)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range dropped {
		if name >= "usage_records_p202611" {
			t.Errorf("dropped %s, a month not before %s", name, cut.Format(time.DateOnly))
		}
	}
	got, err := s.Records(ctx, ledger.Query{From: cut, To: cut.AddDate(0, 1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.RequestID)
	}
	slices.Sort(ids)
	if want := []string{"req-000001", "req-000003", "req-000005", "req-000007", "req-000009"}; !slices.Equal(ids, want) {
		t.Errorf("November's records after retention = %v, want %v", ids, want)
	}
}
