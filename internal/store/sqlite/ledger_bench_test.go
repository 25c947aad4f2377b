package sqlite_test

import (
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// BenchmarkLedgerIngest measures usage records made durable per second
// through the group-commit ledger.Batcher over SQLite, as the runtime path
// appends them: each appender waits for its own record before the next.
// One op is one record; records/s is the ingest rate. The clock stops only
// once a read has seen every record (LedgerVersion), so work the store
// defers past the append (the journal's applier) is inside the time, the
// allocations (B/op, allocs/op: the whole process's, per record) and
// cpu-µs/record, the process's user+system CPU time per record.
func BenchmarkLedgerIngest(b *testing.B) {
	tagSets := []tags.Set{
		{"tenant": "acme-insurance", "dept": "claims", "team": "automation", "app": "claims_chatbot", "environment": "prod"},
		{"tenant": "acme-insurance", "dept": "sales", "team": "support", "app": "chat_app", "environment": "prod"},
		{"tenant": "acme-insurance", "dept": "risk", "team": "actuarial", "app": "risk_assessment", "environment": "dev"},
	}
	t0 := time.Now().UTC().Truncate(time.Hour)
	for _, syncMode := range []string{"FULL", "NORMAL"} {
		for _, appenders := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("sync=%s/appenders=%d", syncMode, appenders), func(b *testing.B) {
				db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "tollgate.db"), sqlite.Options{Synchronous: syncMode})
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				bt := ledger.NewBatcher(db, 0, nil)
				defer bt.Close()
				ctx := b.Context()
				record := func(i int64) ledger.Record {
					return ledger.Record{
						RequestID: "bench-" + strconv.FormatInt(i, 10), Time: t0.Add(time.Duration(i) * time.Millisecond),
						Account: "123456789012", Region: "us-east-1", RegionServed: "us-east-1", PrincipalID: "root-123456789012",
						ProfileARN: "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abcdefghijkl",
						ProfileID:  "abcdefghijkl", ModelID: "anthropic.claude-3-haiku-20240307-v1:0", Provider: "sim",
						Operation: "Converse", InputTokens: 200, OutputTokens: 120, LatencyMs: 1, Attempts: 1,
						Outcome: ledger.OutcomeSuccess, Cost: money.Amount(200_000), Priced: true, Tags: tagSets[i%int64(len(tagSets))],
					}
				}
				var next atomic.Int64
				b.ReportAllocs()
				cpu0 := cpuTime()
				b.ResetTimer()
				var wg sync.WaitGroup
				for range appenders {
					wg.Go(func() {
						for {
							i := next.Add(1)
							if i > int64(b.N) {
								return
							}
							if err := bt.Append(ctx, record(i)); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				// A read waits until every appended record is in the
				// records and rollups.
				if _, err := db.LedgerVersion(ctx); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
				b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/record")
			})
		}
	}
}

// cpuTime is the user+system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
