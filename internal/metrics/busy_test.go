package metrics_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/metrics"
	"github.com/tollgate-dev/tollgate/internal/testsupport"
)

// writeCounter is a metrics.Store that counts the buckets written to it,
// replaced and merged, and how often each bucket (key, resolution,
// start) was written.
type writeCounter struct {
	discardStore
	replaced, merged, rewritten int
	seen                        map[writeID]int
}

type writeID struct {
	key   metrics.Key
	hour  bool
	start int64
}

func (w *writeCounter) WriteMetricBuckets(_ context.Context, replace, merge []metrics.Bucket) error {
	w.replaced += len(replace)
	w.merged += len(merge)
	for _, bs := range [2][]metrics.Bucket{replace, merge} {
		for i := range bs {
			if w.seen == nil {
				break
			}
			id := writeID{bs[i].Key, bs[i].Res == metrics.Hour, bs[i].Start.Unix()}
			if w.seen[id]++; w.seen[id] == 2 {
				w.rewritten++
			}
		}
	}
	return nil
}

// busyRun is what a busyProbe saw.
type busyRun struct {
	firstEarly       time.Duration // into the run, when early > 0
	calls, early     int           // calls added, early flushes (memory over its bound)
	replaced, merged int           // buckets written
	replacedAtClose  int           // by the closing Flush
	// rewritten counts the buckets written more than once (with track).
	rewritten int
	// heapPerProfile is the HeapInuse growth per profile before the
	// closing Flush (without track, whose record would count).
	heapPerProfile uint64
	// estPerProfile is the registry's own estimate of its memory per
	// profile at the same moment (SizeEstimate, what MaxMemory bounds).
	estPerProfile int64
	// estimate and recount are SizeEstimate and RecountSize at the end.
	estimate, recount int64
}

// busyProbe drives a single-node Registry (the default bound unless
// limit is set) as Run would: profiles busy profiles called at rate
// calls a second of an injected clock, round robin, for the given
// minutes; a periodic flush (FlushEnded) every 10 s and an early one as
// soon as Add asks for it; then Flush, as Close does. With track it
// records every bucket written, to count those written twice. With
// spread each call's values are drawn across busyRecord's whole ranges
// (round robin, a profile sees few distinct latencies and token counts).
func busyProbe(t testing.TB, profiles, rate, minutes int, limit int64, track, spread bool) busyRun {
	t.Helper()
	base := testsupport.HeapInuse()
	clk := &clock{t: t0}
	st := &writeCounter{}
	if track {
		st.seen = map[writeID]int{}
	}
	reg, err := metrics.Open(context.Background(), metrics.Config{Store: st, Now: clk.now, MaxMemory: limit})
	if err != nil {
		t.Fatal(err)
	}
	var run busyRun
	const tick = 10 * time.Second
	perTick := rate * int(tick/time.Second)
	for k := range minutes * 6 {
		start := t0.Add(time.Duration(k) * tick)
		for c := range perTick {
			now := start.Add(time.Duration(c) * tick / time.Duration(perTick))
			clk.set(now)
			i := run.calls
			if spread {
				i = int(uint32(i) * 2654435761 >> 8) // a multiplicative hash
			}
			reg.Add(busyRecord(run.calls%profiles, now, i))
			run.calls++
			if reg.TakeKick() {
				if run.early++; run.early == 1 {
					run.firstEarly = now.Sub(t0)
				}
				if err := reg.FlushEnded(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
		}
		clk.set(start.Add(tick))
		if err := reg.FlushEnded(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	run.estPerProfile = reg.SizeEstimate() / int64(profiles)
	if !track {
		run.heapPerProfile = (testsupport.HeapInuse() - min(base, testsupport.HeapInuse())) / uint64(profiles)
	}
	before := st.replaced
	if err := reg.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(reg)
	run.replaced, run.merged, run.rewritten = st.replaced, st.merged, st.rewritten
	run.replacedAtClose = st.replaced - before
	run.estimate, run.recount = reg.SizeEstimate(), reg.RecountSize()
	return run
}

// TestBusyProfilesFitTheBound: 10,000 busy profiles called at 2,000
// calls a second for 3 minutes (7 samples a call) fit the default
// memory bound, so the periodic flushes never evict for memory and never
// merge; each minute bucket is written once, when its minute has ended,
// and each hour bucket once, by the closing Flush. With
// TOLLGATE_METRICS_SCALE set it runs a whole hour as well.
func TestBusyProfilesFitTheBound(t *testing.T) {
	minutes := []int{3}
	if os.Getenv("TOLLGATE_METRICS_SCALE") != "" {
		minutes = append(minutes, 60)
	}
	const profiles, rate = 10_000, 2_000
	for _, m := range minutes {
		t.Run(fmt.Sprintf("%dm", m), func(t *testing.T) {
			run := busyProbe(t, profiles, rate, m, 0, true, false)
			t.Logf("%d calls: %d early flushes, %d buckets replaced (%d at close), %d merged, %d written twice or more; estimated %d B per busy profile",
				run.calls, run.early, run.replaced, run.replacedAtClose, run.merged, run.rewritten, run.estPerProfile)
			if run.early != 0 || run.merged != 0 {
				t.Errorf("%d early flushes for memory and %d merged buckets, want none: 10,000 busy profiles outgrow the default bound", run.early, run.merged)
			}
			if run.estimate != run.recount {
				t.Errorf("size estimate %d B, recounted from the entries %d B", run.estimate, run.recount)
			}
			if run.rewritten != 0 {
				t.Errorf("%d buckets written more than once, want each once", run.rewritten)
			}
			// Each series (6 per profile: busyRecord has 6 samples; 6 across all model ids) has a
			// bucket per minute and one for the hour.
			series := 6 * (profiles + 1)
			if want := series * (m + 1); run.replaced != want {
				t.Errorf("%d buckets replaced, want %d (each series' %d minutes and its hour)", run.replaced, want, m)
			}
		})
	}
}

// BenchmarkBusyProbe reports what busyProbe sees with 10,000 busy
// profiles at 2,000 calls a second over 3 minutes of an injected clock:
// early flushes, replaced and merged buckets, and the heap a busy
// profile takes (with the default bound, and with no bound: what the
// representation needs), as busyProbe calls them and with spread values.
// TOLLGATE_PROBE_MINUTES sets another duration.
func BenchmarkBusyProbe(b *testing.B) {
	minutes := 3
	if v, err := strconv.Atoi(os.Getenv("TOLLGATE_PROBE_MINUTES")); err == nil && v > 0 {
		minutes = v
	}
	for _, c := range []struct {
		name   string
		limit  int64
		spread bool
	}{{"default-bound", 0, false}, {"unbounded", 1 << 40, false}, {"spread/default-bound", 0, true}, {"spread/unbounded", 1 << 40, true}} {
		b.Run(c.name, func(b *testing.B) {
			var run busyRun
			for b.Loop() {
				run = busyProbe(b, 10_000, 2_000, minutes, c.limit, false, c.spread)
			}
			b.ReportMetric(run.firstEarly.Seconds(), "first-early-s")
			b.ReportMetric(float64(run.early), "early-flushes")
			b.ReportMetric(float64(run.replaced), "replaced")
			b.ReportMetric(float64(run.merged), "merged")
			b.ReportMetric(float64(run.heapPerProfile), "heap-B/profile")
			b.ReportMetric(float64(run.estPerProfile), "est-B/profile")
		})
	}
}
