package metrics_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	rtmetrics "runtime/metrics"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/metrics"
	"github.com/tollgate-dev/tollgate/internal/store/postgres"
	"github.com/tollgate-dev/tollgate/internal/store/postgres/pgtest"
)

// countingStore counts the buckets written through it.
type countingStore struct {
	metrics.Store
	buckets int
}

func (c *countingStore) WriteMetricBuckets(ctx context.Context, replace, merge []metrics.Bucket) error {
	c.buckets += len(replace) + len(merge)
	return c.Store.WriteMetricBuckets(ctx, replace, merge)
}

// heapPeak samples the bytes of heap objects (live and not yet swept)
// every 200 µs until stop is called, which returns the highest value.
func heapPeak() (stop func() uint64) {
	s := []rtmetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { rtmetrics.Read(s); return s[0].Value.Uint64() }
	peak := read()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(200 * time.Microsecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				peak = max(peak, read())
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return max(peak, read())
	}
}

// cpuTime returns the CPU time the process has used (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFlushBusy measures Registry.Flush with 10,000 busy profiles
// (TOLLGATE_FLUSH_PROFILES sets another number)
// (one call each between flushes: 6 series each, a minute and an hour
// bucket per series, about 120,000 buckets a flush) on a real SQLite in a
// temporary directory and, when TOLLGATE_TEST_POSTGRES_URL is set, on
// PostgreSQL. Modes:
//
//   - merge: memory is always over its bound (MaxMemory 1 byte), so every
//     flush evicts and every bucket of the next is a delta merged into its
//     stored row, as at scale when the series outgrow Config.MaxMemory;
//   - replace: memory holds every series and the clock moves a minute
//     per flush, so each flush inserts new minute rows and replaces the
//     hour rows.
//
// Besides ns/op it reports ns/bucket, cpu-ns/bucket (this process's CPU
// time: SQLite's work, not PostgreSQL's server), allocs/bucket, B/bucket
// (the flush's allocations) and transient-MiB: the highest growth of the
// heap (live and unswept objects, after a GC before the flush) seen
// during one flush. That growth includes garbage the collector has not
// yet reclaimed (up to GOGC's share of the live heap), so in replace
// mode, where the registry holds every series, it measures the live
// heap as much as the flush.
func BenchmarkFlushBusy(b *testing.B) {
	profiles := 10_000
	if v, err := strconv.Atoi(os.Getenv("TOLLGATE_FLUSH_PROFILES")); err == nil && v > 0 {
		profiles = v
	}
	stores := []struct {
		name string
		open func(b *testing.B) metrics.Store
	}{
		{"sqlite", func(b *testing.B) metrics.Store {
			db := openDB(b, filepath.Join(b.TempDir(), "tollgate.db"))
			b.Cleanup(func() { db.Close() })
			return db
		}},
		{"postgres", func(b *testing.B) metrics.Store {
			db, err := postgres.Open(b.Context(), pgtest.URL(b), postgres.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			return db
		}},
	}
	for _, st := range stores {
		for _, mode := range []string{"merge", "replace"} {
			b.Run(st.name+"/"+mode, func(b *testing.B) {
				cs := &countingStore{Store: st.open(b)}
				clk := &clock{t: t0}
				limit := int64(1)
				if mode == "replace" {
					limit = 1 << 40
				}
				reg, err := metrics.Open(b.Context(), metrics.Config{Store: cs, Now: clk.now, MaxMemory: limit})
				if err != nil {
					b.Fatal(err)
				}
				add := func(i int) {
					for p := range profiles {
						reg.Add(busyRecord(p, clk.now(), i*profiles+p))
					}
				}
				// The first flush stores every row.
				add(0)
				if err := reg.Flush(b.Context()); err != nil {
					b.Fatal(err)
				}
				cs.buckets = 0
				var transient uint64
				var elapsed, cpu time.Duration
				var ms0, ms1 runtime.MemStats
				var mallocs, bytes uint64
				b.ResetTimer()
				b.StopTimer()
				for i := 1; i <= b.N; i++ {
					if mode == "replace" {
						clk.add(time.Minute)
					}
					add(i)
					runtime.GC()
					runtime.ReadMemStats(&ms0)
					stop := heapPeak()
					start, cpu0 := time.Now(), cpuTime()
					b.StartTimer()
					err := reg.Flush(b.Context())
					b.StopTimer()
					elapsed += time.Since(start)
					cpu += cpuTime() - cpu0
					peak := stop()
					runtime.ReadMemStats(&ms1)
					if err != nil {
						b.Fatal(err)
					}
					mallocs += ms1.Mallocs - ms0.Mallocs
					bytes += ms1.TotalAlloc - ms0.TotalAlloc
					transient = max(transient, peak-min(peak, ms0.HeapAlloc))
				}
				n := float64(cs.buckets)
				b.ReportMetric(n/float64(b.N), "buckets/op")
				b.ReportMetric(float64(elapsed.Nanoseconds())/n, "ns/bucket")
				b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/bucket")
				b.ReportMetric(float64(mallocs)/n, "allocs/bucket")
				b.ReportMetric(float64(bytes)/n, "B/bucket")
				b.ReportMetric(float64(transient)/(1<<20), "transient-MiB")
			})
		}
	}
}
