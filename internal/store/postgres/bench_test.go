package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/store/postgres"
	"github.com/tollgate-dev/tollgate/internal/store/postgres/pgtest"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// benchRecord is the i-th generated record of a run: 60 combinations of
// account, model, principal and tag set (so an hour holds at most 60
// rollups), at time at.
func benchRecord(run string, i int, at time.Time) ledger.Record {
	account := fmt.Sprintf("%012d", 111111111111*(1+i%2))
	cost := money.Amount(1000 + i%97)
	return ledger.Record{
		RequestID: fmt.Sprintf("%s-%09d", run, i), Time: at,
		Account: account, Region: "us-east-1", RegionServed: "us-east-1",
		PrincipalID: fmt.Sprintf("user-%d", i%5), ModelID: fmt.Sprintf("model-%d", i%3), Provider: "sim",
		Operation: "Converse", InputTokens: 100, OutputTokens: 20, LatencyMs: 5, Attempts: 1,
		Outcome: ledger.OutcomeSuccess, Priced: true, Cost: cost, InputCost: cost,
		Tags: tags.Set{"team": fmt.Sprintf("t%d", i%4), "env": "prod"},
	}
}

// BenchmarkAppendParallel measures ledger ingest through ledger.Batcher
// (the gateway's group commit) on PostgreSQL: records/s with 1, 16, 64 and
// 512 concurrent appenders on one store, and with three stores (replicas,
// each with its own Batcher) appending at once, 16 and 512 appenders each.
// A Batcher has one commit in flight and every appender waits for its
// record's commit, so below the batch size (512) records/s cannot pass
// appenders / commit latency: the 512-appender cases measure what a store
// can ingest, the others how close the commit latency is to the disk's
// sync. Skipped without
// TOLLGATE_TEST_POSTGRES_URL.
//
// records/s is the rate appends return at (what answered calls wait for:
// the journal's commits). The appliers run meanwhile: applied/s is the
// rate they moved records into the ledger during the appends, backlog the
// records still in the journal when the last append returned, and
// ledger/s the rate counting until a read has seen every record.
//
// go-cpu-µs/record and pg-cpu-µs/record are the CPU of this process and
// of the PostgreSQL backends serving the stores (as
// BenchmarkJournalAppend counts them) from the first append until the
// read has seen every record, per record.
func BenchmarkAppendParallel(b *testing.B) {
	url := pgtest.URL(b) + "&application_name=tg_bench_journal" // one schema for all the cases
	var seq atomic.Int64                                        // request ids unique across the cases
	run := func(b *testing.B, replicas, appendersPerReplica int) {
		ctx := context.Background()
		dbs := make([]*postgres.DB, replicas)
		batchers := make([]*ledger.Batcher, replicas)
		for i := range dbs {
			db, err := postgres.Open(ctx, url, postgres.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			dbs[i] = db
			batchers[i] = ledger.NewBatcher(db, 0, nil)
		}
		// Warm the partition and tag caches outside the timing.
		now := time.Now().UTC()
		for i, bt := range batchers {
			if err := bt.Append(ctx, benchRecord("warm", int(seq.Add(1)), now)); err != nil {
				b.Fatalf("replica %d: %v", i, err)
			}
		}
		// Drain the warm-up and earlier cases, then count from here.
		if _, err := dbs[0].LedgerVersion(ctx); err != nil {
			b.Fatal(err)
		}
		applied0 := map[*postgres.DB]int64{}
		for _, db := range dbs {
			applied0[db] = postgres.AppliedRecords(db)
		}
		total := replicas * appendersPerReplica
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, total)
		pg0, err := backendCPU(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		cpu0 := processCPU()
		b.ResetTimer()
		start := time.Now()
		for a := range total {
			bt := batchers[a%replicas]
			wg.Go(func() {
				for next.Add(1) <= int64(b.N) {
					if err := bt.Append(ctx, benchRecord("rec", int(seq.Add(1)), now)); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		b.StopTimer()
		for _, bt := range batchers {
			bt.Close()
		}
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		// What the appliers did meanwhile, and how long the rest took.
		var applied int64
		for _, db := range dbs {
			applied += postgres.AppliedRecords(db) - applied0[db]
		}
		_, backlog, err := dbs[0].JournalBacklog(ctx)
		if err != nil {
			b.Fatal(err)
		}
		drainStart := time.Now()
		if _, err := dbs[0].LedgerVersion(ctx); err != nil { // waits for the journal
			b.Fatal(err)
		}
		drain := time.Since(drainStart)
		goCPU := processCPU() - cpu0
		pg1, err := backendCPU(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		n := float64(b.N)
		b.ReportMetric(float64(goCPU.Microseconds())/n, "go-cpu-µs/record")
		b.ReportMetric(float64((pg1-pg0).Microseconds())/n, "pg-cpu-µs/record")
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
		b.ReportMetric(float64(applied)/elapsed.Seconds(), "applied/s")
		b.ReportMetric(float64(backlog), "backlog")
		b.ReportMetric(float64(b.N)/(elapsed+drain).Seconds(), "ledger/s")
	}
	for _, n := range []int{1, 16, 64, 512} {
		b.Run(fmt.Sprintf("replicas=1/appenders=%d", n), func(b *testing.B) { run(b, 1, n) })
	}
	b.Run("replicas=3/appenders=48", func(b *testing.B) { run(b, 3, 16) })
	b.Run("replicas=3/appenders=192", func(b *testing.B) { run(b, 3, 64) })
	b.Run("replicas=3/appenders=1536", func(b *testing.B) { run(b, 3, 512) })
}

// benchRecords is the size of BenchmarkCostRollupsMonth's ledger.
const benchRecords = 200_000

// BenchmarkCostRollupsMonth measures CostRollups (the cost-query source)
// for one month over a ledger of 200,000 records spread over that month,
// built once per run with AppendRecords. Skipped without
// TOLLGATE_TEST_POSTGRES_URL.
func BenchmarkCostRollupsMonth(b *testing.B) {
	url := pgtest.URL(b)
	ctx := context.Background()
	db, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	from := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 1, 0)
	step := to.Sub(from) / benchRecords
	const batch = 2000
	recs := make([]ledger.Record, 0, batch)
	for i := range benchRecords {
		recs = append(recs, benchRecord("month", i, from.Add(time.Duration(i)*step).Truncate(time.Millisecond)))
		if len(recs) == batch {
			if err := db.AppendRecords(ctx, recs); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	b.Run(fmt.Sprintf("records=%d", benchRecords), func(b *testing.B) {
		var rows int
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			rolls, err := db.CostRollups(ctx, nil, from, to)
			if err != nil {
				b.Fatal(err)
			}
			rows = len(rolls)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		if rows == 0 {
			b.Fatal("CostRollups returned no rows")
		}
		b.ReportMetric(elapsed.Seconds()*1000/float64(b.N), "ms/op")
		b.ReportMetric(float64(rows), "rows")
	})
}

// BenchmarkJournalAppend measures the append alone — what an answered
// call waits for — with the appliers stopped: 512 appenders through one
// Batcher into the journal, and the CPU it costs per record in this
// process and in the PostgreSQL backends serving its connections (found
// by application_name, read from /proc: run it on the database's host).
// The journal is applied after the clock stops. Skipped without
// TOLLGATE_TEST_POSTGRES_URL.
func BenchmarkJournalAppend(b *testing.B) {
	url := pgtest.URL(b) + "&application_name=tg_bench_journal"
	ctx := context.Background()
	db, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	bt := ledger.NewBatcher(db, 0, nil)
	now := time.Now().UTC()
	if err := bt.Append(ctx, benchRecord("warm", 0, now)); err != nil {
		b.Fatal(err)
	}
	postgres.StopApplier(db)
	pg0, err := backendCPU(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	cpu0 := processCPU()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range 512 {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				if err := bt.Append(ctx, benchRecord("journal", int(i), now)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	bt.Close()
	goCPU := processCPU() - cpu0
	pg1, err := backendCPU(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	n := float64(b.N)
	b.ReportMetric(n/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(goCPU.Microseconds())/n, "go-cpu-µs/record")
	b.ReportMetric(float64((pg1-pg0).Microseconds())/n, "pg-cpu-µs/record")
}

// processCPU is the user+system CPU this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// backendCPU is the user+system CPU of the PostgreSQL backends whose
// application_name is url's, from /proc (so on the database's host), at
// 100 ticks a second.
func backendCPU(ctx context.Context, url string) (time.Duration, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT pid FROM pg_stat_activity
		WHERE application_name = 'tg_bench_journal' AND pid <> pg_backend_pid()`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var total time.Duration
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			return 0, err
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, err
		}
		// Fields after the command's closing parenthesis: utime is the
		// 12th, stime the 13th.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(ut+st) * 10 * time.Millisecond
	}
	return total, rows.Err()
}

// BenchmarkJournalApply measures the applier alone: the journal is filled
// outside the clock (groups of 512 records, appliers stopped), then one
// store's applier drains it while a read waits for it. It reports the
// rate and the CPU per record in this process and in the PostgreSQL
// backends of the store's connections (as BenchmarkJournalAppend). Skipped
// without TOLLGATE_TEST_POSTGRES_URL.
func BenchmarkJournalApply(b *testing.B) {
	url := pgtest.URL(b) + "&application_name=tg_bench_journal"
	ctx := context.Background()
	filler, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	postgres.StopApplier(filler)
	now := time.Now().UTC()
	recs := make([]ledger.Record, 0, 512)
	for i := range b.N {
		recs = append(recs, benchRecord("apply", i, now))
		if len(recs) == cap(recs) || i == b.N-1 {
			if err := filler.AppendRecords(ctx, recs); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	defer filler.Close() // (nothing left to apply by then)
	// The applier starts with the store: the clock and the CPU counts
	// start before it opens.
	b.ResetTimer()
	pg0, err := backendCPU(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	cpu0 := processCPU()
	start := time.Now()
	db, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.LedgerVersion(ctx); err != nil { // waits for the whole journal
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	goCPU := processCPU() - cpu0
	pg1, err := backendCPU(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	n := float64(b.N)
	b.ReportMetric(n/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(goCPU.Microseconds())/n, "go-cpu-µs/record")
	b.ReportMetric(float64((pg1-pg0).Microseconds())/n, "pg-cpu-µs/record")
}
