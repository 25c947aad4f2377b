package metrics_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/metrics"
	"github.com/tollgate-dev/tollgate/internal/store/postgres"
	"github.com/tollgate-dev/tollgate/internal/store/postgres/pgtest"
)

// sharedStore is a store several replicas share: metric buckets and the
// ledger.
type sharedStore interface {
	metrics.Store
	metrics.RecordReader
	AppendRecords(ctx context.Context, recs []ledger.Record) error
}

// TestSharedRegistries runs two Registries with different replica ids
// over one store, as two Tollgate replicas behind a load balancer, on
// SQLite and (when TOLLGATE_TEST_POSTGRES_URL is set) PostgreSQL.
func TestSharedRegistries(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		db := openDB(t, filepath.Join(t.TempDir(), "tollgate.db"))
		t.Cleanup(func() { db.Close() })
		testSharedRegistries(t, db)
	})
	t.Run("postgres", func(t *testing.T) {
		db, err := postgres.Open(t.Context(), pgtest.URL(t), postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		testSharedRegistries(t, db)
	})
}

// checkSums compares the Invocations, InputTokenCount and Cost sums reg
// answers for several windows and periods, under each ModelId and across
// them, with those of recs.
func checkSums(t *testing.T, name string, reg *metrics.Registry, recs []ledger.Record, end time.Time) {
	t.Helper()
	for _, dim := range []string{"aaaaaaaaaaaa", "anthropic.claude-3-haiku-20240307-v1:0", ""} {
		for _, win := range []struct {
			from, to time.Time
			period   time.Duration
		}{
			{t0, end, time.Minute},
			{t0, end, time.Hour},
			{t0.Add(45 * time.Minute), t0.Add(95 * time.Minute), 5 * time.Minute},
			{end.Add(-30 * time.Minute), end, time.Minute},
			{t0.Add(time.Hour), t0.Add(2 * time.Hour), time.Hour},
		} {
			w := fmt.Sprintf("%s: %s/%s-%s/%s", name, dim, win.from.Format("15:04"), win.to.Format("15:04"), win.period)
			calls, input, cost := ledgerSums(recs, dim, win.from, win.to)
			key := func(m string) metrics.Key { return metrics.Key{Account: "111111111111", Metric: m, ModelID: dim} }
			if got := sumOf(t, reg, key(metrics.Invocations), win.from, win.to, win.period); got != float64(calls) {
				t.Errorf("%s: Invocations sum %v, want %d", w, got, calls)
			}
			if got := sumOf(t, reg, key(metrics.InputTokenCount), win.from, win.to, win.period); got != float64(input) {
				t.Errorf("%s: InputTokenCount sum %v, want %d", w, got, input)
			}
			if got := sumOf(t, reg, key(metrics.Cost), win.from, win.to, win.period); got != float64(cost) {
				t.Errorf("%s: Cost sum %v nano-USD, want %d", w, got, cost)
			}
		}
	}
}

func testSharedRegistries(t *testing.T, st sharedStore) {
	ctx := t.Context()
	clk := &clock{t: t0}
	open := func(replica string) *metrics.Registry {
		t.Helper()
		// Records is set as cmd/tollgate sets it: a replica of a shared
		// store must not rebuild from the ledger (every replica's calls).
		reg, err := metrics.Open(ctx, metrics.Config{Store: st, Records: st, Now: clk.now, Memory: 40 * time.Minute, Replica: replica})
		if err != nil {
			t.Fatal(err)
		}
		return reg
	}
	flush := func(reg *metrics.Registry) {
		t.Helper()
		if err := reg.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	add := func(reg *metrics.Registry, r ledger.Record) {
		t.Helper()
		if err := st.AppendRecords(ctx, []ledger.Record{r}); err != nil {
			t.Fatal(err)
		}
		reg.Add(r)
	}
	a, b := open("replica-a"), open("replica-b")

	// Two hours of calls, one in three served by a; each replica flushes
	// now and then, so buckets of both are in memory, stored, or both,
	// and older ones leave memory.
	var all, unflushedA []ledger.Record
	for i := range 400 {
		at := t0.Add(time.Duration(i) * 18 * time.Second)
		clk.set(at.Add(time.Second))
		r := rec(i, at)
		all = append(all, r)
		if i%3 == 0 {
			add(a, r)
			unflushedA = append(unflushedA, r)
		} else {
			add(b, r)
		}
		if i%40 == 0 {
			flush(a)
			unflushedA = unflushedA[:0]
		}
		if i%40 == 20 {
			flush(b)
		}
	}
	end := t0.Add(2 * time.Hour)
	flush(b)
	if len(unflushedA) == 0 {
		t.Fatal("the test wants samples a has not flushed")
	}
	// a sees its own live samples and b's flushed ones; b does not see
	// a's unflushed samples yet.
	checkSums(t, "a live", a, all, end)
	checkSums(t, "b before a flushes", b, withoutRecords(all, unflushedA), end)

	// A late sample: a long call that started before a's memory floor is
	// merged into a's stored buckets.
	late := rec(9999, t0.Add(50*time.Minute+5*time.Second))
	all = append(all, late)
	add(a, late)
	flush(a)
	// Both now see every call once: a's buckets in memory are not added
	// to their stored copies.
	checkSums(t, "a flushed", a, all, end)
	checkSums(t, "b", b, all, end)

	// a is killed: it flushed r1, not r2. Restarted under the same id, it
	// carries on with its stored buckets of the current minute and hour
	// (r1 is kept when it flushes r3 into them), does not rebuild from the
	// ledger (which holds b's calls too), and merges r4, of before its
	// restart, into the stored buckets.
	clk.set(end.Add(5 * time.Second))
	r1 := rec(1000, end.Add(time.Second))
	add(a, r1)
	flush(a)
	add(a, rec(1004, end.Add(2*time.Second))) // r2, lost: in the ledger only
	a2 := open("replica-a")
	r3, r4 := rec(1002, end.Add(3*time.Second)), rec(1003, end.Add(-30*time.Second))
	add(a2, r3)
	add(a2, r4)
	flush(a2)
	all = append(all, r1, r3, r4)
	for _, tc := range []struct {
		name string
		reg  *metrics.Registry
	}{{"a restarted", a2}, {"b after a's restart", b}} {
		checkSums(t, tc.name, tc.reg, all, end.Add(time.Hour))
		if n := sumOf(t, tc.reg, metrics.Key{Account: "111111111111", Metric: metrics.Invocations}, end, end.Add(time.Hour), time.Minute); n != 2 {
			t.Errorf("%s: invocations after the restart = %v, want 2 (r1 and r3; r2 was lost)", tc.name, n)
		}
	}

	// Everything leaves memory: the stored rows alone give the same sums.
	clk.add(2 * time.Hour)
	flush(a2)
	flush(b)
	checkSums(t, "a from the store", a2, all, end.Add(time.Hour))
	checkSums(t, "b from the store", b, all, end.Add(time.Hour))
	ka, err := a2.Series(ctx, "111111111111", t0)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := b.Series(ctx, "111111111111", t0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ka, kb); diff != "" || len(ka) == 0 {
		t.Errorf("Series of a and b differ (-a +b):\n%s", diff)
	}
}

// withoutRecords returns recs without those of drop (by request id).
func withoutRecords(recs, drop []ledger.Record) []ledger.Record {
	skip := map[string]bool{}
	for _, r := range drop {
		skip[r.RequestID] = true
	}
	var out []ledger.Record
	for _, r := range recs {
		if !skip[r.RequestID] {
			out = append(out, r)
		}
	}
	return out
}
