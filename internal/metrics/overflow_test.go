package metrics_test

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/ledger"

	"github.com/tollgate-dev/tollgate/internal/metrics"
)

// TestRegistryOverflowAnswersTheSame feeds the same records, with calls
// counted late (a long call is counted at its start), to a Registry
// whose memory is always over its bound (so every flush lets every
// bucket go and later samples are merged into the stored buckets as
// deltas) and to one that keeps 3 hours in memory, flushing both at the
// same moments, and checks that every query answers the same: counts,
// sums, extremes and percentiles, per minute, 5 minutes and hour, before
// and after the last flush; on a single node and as a replica of a
// shared store.
func TestRegistryOverflowAnswersTheSame(t *testing.T) {
	for _, replica := range []string{"", "r1"} {
		t.Run("replica="+replica, func(t *testing.T) { testOverflowAnswersTheSame(t, replica) })
	}
}

func testOverflowAnswersTheSame(t *testing.T, replica string) {
	clk := &clock{t: t0}
	open := func(name string, cfg metrics.Config) *metrics.Registry {
		db := openDB(t, filepath.Join(t.TempDir(), name+".db"))
		t.Cleanup(func() { db.Close() })
		cfg.Store, cfg.Now, cfg.Replica = db, clk.now, replica
		reg, err := metrics.Open(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return reg
	}
	tight := open("tight", metrics.Config{MaxMemory: 1})
	roomy := open("roomy", metrics.Config{Memory: 3 * time.Hour, MaxMemory: 1 << 40})
	flush := func() {
		for _, r := range []*metrics.Registry{tight, roomy} {
			if err := r.Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	}
	var keys []metrics.Key
	for _, m := range []string{metrics.Invocations, metrics.InvocationLatency, metrics.InputTokenCount, metrics.Cost, metrics.InvocationThrottles} {
		for _, dim := range []string{"", "aaaaaaaaaaaa", "anthropic.claude-3-haiku-20240307-v1:0"} {
			keys = append(keys, metrics.Key{Account: "111111111111", Metric: m, ModelID: dim})
		}
	}
	check := func(when string) {
		t.Helper()
		for _, key := range keys {
			for _, period := range []time.Duration{time.Minute, 5 * time.Minute, time.Hour} {
				from, to := t0, t0.Add(3*time.Hour)
				a, err := tight.Query(t.Context(), key, from, to, period)
				if err != nil {
					t.Fatal(err)
				}
				b, err := roomy.Query(t.Context(), key, from, to, period)
				if err != nil {
					t.Fatal(err)
				}
				if len(a) == 0 && key.Metric != metrics.InvocationThrottles {
					t.Fatalf("%s: %v: no periods", when, key)
				}
				if !reflect.DeepEqual(summary(a), summary(b)) {
					t.Errorf("%s: %v per %v:\n tight %v\n roomy %v", when, key, period, summary(a), summary(b))
				}
			}
		}
		for _, r := range []*metrics.Registry{tight, roomy} {
			ks, err := r.Series(t.Context(), "111111111111", t0)
			if err != nil {
				t.Fatal(err)
			}
			if len(ks) == 0 {
				t.Errorf("%s: no series", when)
			}
		}
		ka, _ := tight.Series(t.Context(), "", t0)
		kb, _ := roomy.Series(t.Context(), "", t0)
		if !reflect.DeepEqual(ka, kb) {
			t.Errorf("%s: series differ:\n tight %v\n roomy %v", when, ka, kb)
		}
	}
	i := 0
	for step := range 100 { // 100 steps of 80 s: two hours and a bit
		clk.set(t0.Add(time.Duration(step) * 80 * time.Second))
		for range 7 {
			at := clk.now()
			if i%5 == 0 {
				at = at.Add(-time.Duration(i%23) * time.Minute) // counted at its start, long ago
			}
			r := rec(i, at)
			tight.Add(r)
			roomy.Add(r)
			i++
		}
		tight.Gauge("111111111111", metrics.EnforcementActive, "b:a", clk.now(), int64(step%2))
		roomy.Gauge("111111111111", metrics.EnforcementActive, "b:a", clk.now(), int64(step%2))
		if step%3 == 2 {
			flush()
		}
		if step%20 == 19 {
			check("mid-way")
		}
	}
	check("before the last flush")
	flush()
	check("after the last flush")
}

// summary is what a query's periods answer.
func summary(ps []metrics.Period) [][8]float64 {
	var out [][8]float64
	for _, p := range ps {
		s := p.Stats
		out = append(out, [8]float64{float64(p.Start.Unix()), float64(s.Count), float64(s.Sum), float64(s.Min), float64(s.Max),
			s.Percentile(50), s.Percentile(90), s.Percentile(99)})
	}
	return out
}

// TestRegistryOverflowCrash: a single node always over its memory bound
// (every hour sample merged as a delta) that dies without flushing is
// rebuilt from the ledger, and its queries match the ledger, live, after
// the crash and once everything left memory.
func TestRegistryOverflowCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tollgate.db")
	db := openDB(t, path)
	defer func() { db.Close() }()
	clk := &clock{t: t0}
	cfg := metrics.Config{Store: db, Records: db, Now: clk.now, MaxMemory: 1}
	reg, err := metrics.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var recs []ledger.Record
	add := func(r ledger.Record) {
		recs = append(recs, r)
		if err := db.AppendRecords(t.Context(), []ledger.Record{r}); err != nil {
			t.Fatal(err)
		}
		reg.Add(r)
	}
	for i := range 400 {
		at := t0.Add(time.Duration(i) * 18 * time.Second) // 2 hours
		clk.set(at.Add(time.Second))
		add(rec(i, at))
		if i%15 == 0 {
			if err := reg.Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	}
	add(rec(9999, t0.Add(50*time.Minute+5*time.Second))) // a long call, counted at its start
	check := func(t *testing.T, reg *metrics.Registry) {
		for _, dim := range []string{"aaaaaaaaaaaa", ""} {
			for _, period := range []time.Duration{time.Minute, 5 * time.Minute, time.Hour} {
				from, to := t0, t0.Add(3*time.Hour)
				calls, input, cost := ledgerSums(recs, dim, from, to)
				key := func(m string) metrics.Key { return metrics.Key{Account: "111111111111", Metric: m, ModelID: dim} }
				if got := sumOf(t, reg, key(metrics.Invocations), from, to, period); got != float64(calls) {
					t.Errorf("%q per %v: Invocations sum %v, ledger %d", dim, period, got, calls)
				}
				if got := sumOf(t, reg, key(metrics.InputTokenCount), from, to, period); got != float64(input) {
					t.Errorf("%q per %v: InputTokenCount sum %v, ledger %d", dim, period, got, input)
				}
				if got := sumOf(t, reg, key(metrics.Cost), from, to, period); got != float64(cost) {
					t.Errorf("%q per %v: Cost sum %v, ledger %d", dim, period, got, cost)
				}
			}
		}
	}
	t.Run("live", func(t *testing.T) { check(t, reg) })
	if err := reg.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	// More calls, then a crash: no flush.
	for i := 400; i < 420; i++ {
		clk.add(3 * time.Second)
		add(rec(i, clk.now()))
	}
	db.Close()
	db = openDB(t, path)
	clk.add(time.Minute)
	cfg.Store, cfg.Records = db, db
	reg2, err := metrics.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("rebuilt", func(t *testing.T) { check(t, reg2) })
	for range 3 {
		if err := reg2.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		clk.add(time.Hour)
	}
	t.Run("stored", func(t *testing.T) { check(t, reg2) })
}
