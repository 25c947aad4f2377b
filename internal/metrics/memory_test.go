package metrics_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/testsupport"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/metrics"
	"github.com/tollgate-dev/tollgate/internal/money"
)

// discardStore takes every write and holds nothing, so a heap measurement
// sees the Registry alone.
type discardStore struct{ writes, buckets int }

func (d *discardStore) WriteMetricBuckets(_ context.Context, replace, merge []metrics.Bucket) error {
	d.writes++
	d.buckets += len(replace) + len(merge)
	return nil
}
func (*discardStore) MetricBuckets(context.Context, time.Duration, time.Time, time.Time, ...metrics.Key) ([]metrics.Bucket, error) {
	return nil, nil
}
func (*discardStore) MetricSeries(context.Context, string, time.Duration, time.Time) ([]metrics.Key, error) {
	return nil, nil
}
func (*discardStore) LatestMetricBucket(context.Context, time.Duration) (time.Time, error) {
	return time.Time{}, nil
}
func (*discardStore) DeleteMetricBuckets(context.Context, time.Duration, time.Time) error { return nil }

// busyRecord is profile p's call at t: a priced, successful Converse call
// through an application profile (7 samples).
func busyRecord(p int, t time.Time, i int) ledger.Record {
	return ledger.Record{RequestID: "r", Time: t, Account: "111111111111", ProfileID: fmt.Sprintf("p%011d", p),
		ModelID: "anthropic.claude-3-haiku-20240307-v1:0", Operation: "Converse", InputTokens: int64(100 + i%900),
		OutputTokens: int64(i % 400), LatencyMs: int64(20 + i%3000), Outcome: ledger.OutcomeSuccess, Cost: money.Amount(1000 + i), Priced: true}
}

// TestRegistryMemoryBound drives distinct busy profiles, each called once
// a simulated minute, across several minutes, flushing as the metrics
// job would (every 10 s of the injected clock), and reports the heap in
// use after a GC at the end of each minute. The figure must stay within
// the bound the package documents (metrics.DefaultMaxMemory plus the Go
// runtime's own slack) whatever the number of profiles. 100,000 profiles
// run with TOLLGATE_METRICS_SCALE=1.
func TestRegistryMemoryBound(t *testing.T) {
	counts := []int{10_000}
	if os.Getenv("TOLLGATE_METRICS_SCALE") != "" {
		counts = append(counts, 100_000)
	}
	const minutes = 6
	for _, profiles := range counts {
		t.Run(fmt.Sprint(profiles), func(t *testing.T) {
			base := testsupport.HeapInuse()
			clk := &clock{t: t0}
			st := &discardStore{}
			reg, err := metrics.Open(t.Context(), metrics.Config{Store: st, Now: clk.now})
			if err != nil {
				t.Fatal(err)
			}
			var peak, between uint64
			i := 0
			for m := range minutes {
				start := t0.Add(time.Duration(m) * time.Minute)
				for tick := range 6 { // six flush intervals a minute
					clk.set(start.Add(time.Duration(tick) * 10 * time.Second))
					for p := tick * profiles / 6; p < (tick+1)*profiles/6; p++ {
						reg.Add(busyRecord(p, clk.now(), i))
						i++
					}
					if tick == 5 {
						// Between flushes: one flush interval's samples
						// (Run flushes early once they pass the bound).
						between = max(between, testsupport.HeapInuse()-min(base, testsupport.HeapInuse()))
					}
					if err := reg.Flush(t.Context()); err != nil {
						t.Fatal(err)
					}
				}
				inuse := testsupport.HeapInuse() - min(base, testsupport.HeapInuse())
				peak = max(peak, inuse)
				t.Logf("profiles=%d minute=%d heap_inuse_after_gc=%.1f MiB", profiles, m+1, float64(inuse)/(1<<20))
			}
			runtime.KeepAlive(reg)
			t.Logf("profiles=%d peak heap_inuse_after_gc=%.1f MiB after a flush, %.1f MiB before one; %d buckets written in %d flushes",
				profiles, float64(peak)/(1<<20), float64(between)/(1<<20), st.buckets, st.writes)
			if limit := uint64(2 * maxMemory); peak > limit {
				t.Errorf("heap in use %d B > %d B (twice the documented bound)", peak, limit)
			}
		})
	}
}

// BenchmarkRegistryAdd measures Registry.Add for a call of a profile
// among 1,000 busy ones (allocations per call: go test -bench -benchmem).
func BenchmarkRegistryAdd(b *testing.B) {
	clk := &clock{t: t0}
	reg, err := metrics.Open(context.Background(), metrics.Config{Store: &discardStore{}, Now: clk.now})
	if err != nil {
		b.Fatal(err)
	}
	recs := make([]ledger.Record, 1000)
	for p := range recs {
		recs[p] = busyRecord(p, t0, p)
	}
	for i := range recs {
		reg.Add(recs[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		reg.Add(recs[i%len(recs)])
	}
}
