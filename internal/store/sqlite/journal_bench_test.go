package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

// BenchmarkJournalApply measures the applier's throughput: journal rows of
// group records each (as the group commit leaves them) are moved into
// usage_records, tag_sets and the rollups, off the request path. One op is
// one record; the journal is filled with the applier stopped, outside the
// clock, and drained by applyAll inside it, under a context that is never
// done, as applyLoop's (the driver watches a cancellable context with a
// goroutine per statement, which the server's applier does not pay).
// The records have about 1,000 rollup keys (journalRecord).
func BenchmarkJournalApply(b *testing.B) {
	t0 := time.Now().UTC().Truncate(time.Hour)
	for _, group := range []int{4, 64} {
		b.Run("group="+strconv.Itoa(group), func(b *testing.B) {
			ctx := b.Context()
			db := openApplierStopped(b)
			defer db.Close()
			recs := make([]ledger.Record, 0, group)
			for i := 0; i < b.N; i += group {
				recs = benchGroup(recs, "bench-", i, b.N, t0)
				if err := db.AppendRecords(ctx, recs); err != nil {
					b.Fatal(err)
				}
			}
			benchApply(b, db)
		})
	}
}

// openApplierStopped opens a database in b's temporary directory, its
// applier stopped; the caller closes it.
func openApplierStopped(b *testing.B) *DB {
	db, err := Open(b.Context(), filepath.Join(b.TempDir(), "tollgate.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	db.stopApplier()
	return db
}

// benchGroup returns recs holding journalRecord's records i up to n
// (at most cap(recs) of them, about 1,000 rollup keys), their request ids
// prefix and their number.
func benchGroup(recs []ledger.Record, prefix string, i, n int, t0 time.Time) []ledger.Record {
	recs = recs[:0]
	for k := i; k < min(i+cap(recs), n); k++ {
		r := journalRecord(k%1000, t0)
		r.RequestID = prefix + strconv.Itoa(k)
		recs = append(recs, r)
	}
	return recs
}

// benchApply drains db's journal inside the clock, reporting records/s
// and the process's CPU time per record (one op is one record).
func benchApply(b *testing.B, db *DB) {
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	if err := db.applyAll(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/record")
}

// BenchmarkJournalApplyScale is BenchmarkJournalApply in the shape of the
// scale run: 10,000 busy profiles, so that nearly every record of an
// applying transaction has hourly and daily rollup rows of its own, which
// exist already, over a ledger of scaleFill records (10,000 profiles × 100
// hours, written directly in SQL outside the clock, with their rollups).
// The journal holds commit groups of 64.
func BenchmarkJournalApplyScale(b *testing.B) {
	const profiles, hours = 10_000, 100
	ctx := b.Context()
	db := openApplierStopped(b)
	defer db.Close()
	t0 := time.Now().UTC().Truncate(time.Hour)
	if err := fillScale(ctx, db, t0, profiles, hours); err != nil {
		b.Fatal(err)
	}
	// The fill's WAL is copied into the database file now, not by the
	// checkpointer inside the clock.
	if _, err := db.w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		b.Fatal(err)
	}
	recs := make([]ledger.Record, 0, 64)
	for i := 0; i < b.N; i += cap(recs) {
		recs = recs[:0]
		for k := i; k < min(i+cap(recs), b.N); k++ {
			recs = append(recs, scaleRecord(k, k%profiles, t0.Add(time.Duration(k%3_600_000)*time.Millisecond)))
		}
		if err := db.AppendRecords(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	benchApply(b, db)
}

// scaleRecord is record i of BenchmarkJournalApplyScale, of profile p.
func scaleRecord(i, p int, at time.Time) ledger.Record {
	return ledger.Record{
		RequestID: "scale-" + strconv.Itoa(i), Time: at, Account: "111111111111", Region: "us-east-1", RegionServed: "us-east-1",
		PrincipalID: "root-111111111111", ProfileARN: scaleARN(p), ProfileID: fmt.Sprintf("p%011d", p),
		ModelID: "anthropic.claude-3-haiku-20240307-v1:0", Provider: "sim", Operation: "Converse",
		InputTokens: int64(100 + i%50), OutputTokens: int64(20 + i%7), LatencyMs: 5, Attempts: 1,
		Outcome: ledger.OutcomeSuccess, Priced: true, InputCost: money.Amount(600 + i%50), OutputCost: 300, Cost: money.Amount(900 + i%50),
		PriceVersion: "p0000000000000001",
	}
}

func scaleARN(p int) string {
	return fmt.Sprintf("arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/p%011d", p)
}

// fillScale writes profiles × hours records of scaleRecord's shape
// straight into usage_records (one per profile and hour, the hours
// before t0 and t0's own) and the hourly and daily rollups they make.
func fillScale(ctx context.Context, db *DB, t0 time.Time, profiles, hours int) error {
	return db.inTx(ctx, "fill", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?1)
		INSERT INTO usage_records (request_id, time_ms, account, region, region_served, principal_id, profile_arn, profile_id,
			model_id, provider, operation, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, latency_ms, ttft_ms,
			attempts, outcome, error_code, cost_nanos, input_cost, output_cost, cache_read_cost, cache_write_cost, priced,
			tag_set_id, price_version)
		SELECT 'fill-' || i, ?2 - (i / ?3) * 3600000 + i % ?3, '111111111111', 'us-east-1', 'us-east-1', 'root-111111111111',
			'arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/p' || printf('%011d', i % ?3),
			printf('p%011d', i % ?3), 'anthropic.claude-3-haiku-20240307-v1:0', 'sim', 'Converse', 100 + i % 50, 20 + i % 7,
			0, 0, 5, 0, 1, ?4, '', 900 + i % 50, 600 + i % 50, 300, 0, 0, 1, 0, 'p0000000000000001'
		FROM n`, profiles*hours, sqlstore.MS(t0), profiles, ledger.OutcomeSuccess); err != nil {
			return err
		}
		for _, q := range []struct{ table, at string }{{"usage_hourly", "hour_ms"}, {"usage_daily", "day_ms"}} {
			width := int64(time.Hour / time.Millisecond)
			if q.table == "usage_daily" {
				width *= 24
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO `+q.table+` (`+q.at+`, `+sqlstore.RollupKeyColumns+`,
				calls, errors, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, cost_nanos,
				input_cost, output_cost, cache_read_cost, cache_write_cost, cache_write_1h_cost, fixed_cost, unpriced, units, unit_cost)
			SELECT time_ms - time_ms % ?, `+sqlstore.RollupKeyColumns+`, count(*), 0, sum(input_tokens), sum(output_tokens), 0, 0, 0,
				sum(cost_nanos), sum(input_cost), sum(output_cost), 0, 0, 0, 0, 0, 0, 0
			FROM usage_records GROUP BY 1, `+sqlstore.RollupKeyColumns, width); err != nil {
				return err
			}
		}
		return nil
	})
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

// BenchmarkJournalApplyPaced measures the applier as a server drives it:
// commit groups of 16 records appended at 2,000 records/s for b.N
// records, the applier running as in a server (applyLoop: every
// applyBatch records or applyMaxDelay, trimming the journal file), then
// drained. cpu-µs/record is the process's CPU per record; the
// applier=off variant appends the same with the applier stopped and
// drains nothing, so the difference between the two is the applier's.
func BenchmarkJournalApplyPaced(b *testing.B) {
	const group, rate = 16, 2000
	t0 := time.Now().UTC().Truncate(time.Hour)
	for _, applier := range []bool{true, false} {
		name := "applier=on"
		if !applier {
			name = "applier=off"
		}
		b.Run(name, func(b *testing.B) {
			ctx := b.Context()
			db, err := Open(ctx, filepath.Join(b.TempDir(), "tollgate.db"), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if !applier {
				db.stopApplier()
			}
			recs := make([]ledger.Record, 0, group)
			tick := time.NewTicker(time.Second * group / rate)
			defer tick.Stop()
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i += group {
				<-tick.C
				recs = benchGroup(recs, "paced-", i, b.N, t0)
				if err := db.AppendRecords(ctx, recs); err != nil {
					b.Fatal(err)
				}
			}
			if applier {
				if _, err := db.LedgerVersion(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/record")
		})
	}
}
