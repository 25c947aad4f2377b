package sqlite

import (
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

// BenchmarkJournalApply measures the applier's throughput: journal rows of
// group records each (as the group commit leaves them) are moved into
// usage_records, tag_sets and the rollups, off the request path. One op is
// one record; the journal is filled with the applier stopped, outside the
// clock, and drained by applyAll inside it.
func BenchmarkJournalApply(b *testing.B) {
	t0 := time.Now().UTC().Truncate(time.Hour)
	for _, group := range []int{4, 64} {
		b.Run("group="+strconv.Itoa(group), func(b *testing.B) {
			ctx := b.Context()
			db, err := Open(ctx, filepath.Join(b.TempDir(), "tollgate.db"), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			db.stopApplier()
			recs := make([]ledger.Record, 0, group)
			for i := 0; i < b.N; i += group {
				recs = recs[:0]
				for k := i; k < min(i+group, b.N); k++ {
					r := journalRecord(k%1000, t0)
					r.RequestID = "bench-" + strconv.Itoa(k)
					recs = append(recs, r)
				}
				if err := db.AppendRecords(ctx, recs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			if err := db.applyAll(ctx); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/record")
		})
	}
}

// BenchmarkJournalEncode measures the encoding of a commit group on the
// append path. One op is one record.
func BenchmarkJournalEncode(b *testing.B) {
	t0 := time.Now().UTC().Truncate(time.Hour)
	recs := make([]ledger.Record, 16)
	for i := range recs {
		recs[i] = journalRecord(i, t0)
	}
	e := encoders.Get().(*sqlstore.JournalEncoder)
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(e.Encode(recs))
	}
	b.ReportMetric(float64(n)/float64(len(recs)), "bytes/record")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
}

// cpuTime is the user+system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkJournalAppend measures the append path as the Batcher's one
// committer drives it: AppendRecords of a commit group, synced
// (synchronous=FULL), back to back, with the applier running beside it
// as in a server (it applies every applyBatch records). One op is one
// commit group; p50-µs and p99-µs are the appends' own latencies, which
// include any wait for a writer the applier holds; cpu-µs/record is the
// process's CPU, the applier's included.
func BenchmarkJournalAppend(b *testing.B) {
	t0 := time.Now().UTC().Truncate(time.Hour)
	for _, group := range []int{1, 16} {
		b.Run("group="+strconv.Itoa(group), func(b *testing.B) {
			ctx := b.Context()
			db, err := Open(ctx, filepath.Join(b.TempDir(), "tollgate.db"), Options{Synchronous: "FULL"})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			recs := make([]ledger.Record, group)
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for k := range recs {
					recs[k] = journalRecord((i*group+k)%1000, t0)
					recs[k].RequestID = "bench-" + strconv.Itoa(i*group+k)
				}
				start := time.Now()
				if err := db.AppendRecords(ctx, recs); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			if _, err := db.LedgerVersion(ctx); err != nil {
				b.Fatal(err)
			}
			cpu := cpuTime() - cpu0
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*group), "cpu-µs/record")
		})
	}
}
