package sqlite_test

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/export"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/pricing"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
	"github.com/tollgate-dev/tollgate/internal/store/storetest"
)

// The reporting benchmarks run over one month of synthetic usage: 10
// million calls in November 2026. Appending 10 million records through
// the ledger takes far too long for a benchmark's set-up, so the database
// holds the hourly rollups those records produce, built directly by
// summing the generated records in memory exactly as the store does at
// ingest (TestBenchLedgerMatchesAppend checks this on a smaller run of the
// same generator against AppendRecords), and no usage_records rows.
//
// The generator's dimensions: 200 application profiles across 3 accounts,
// 7 models (one without a price) and 4 serving regions; each profile is
// called by 2 principals through 2 operations, so 800 combinations, each
// present in every hour (10M calls / 720 hours = 13,889 calls an hour).
// 10M records therefore roll up into 720 × 800 = 576,000 rows. Tags:
// dept (6 values), team (12), app (40), environment (3) and cost_center (8
// values; every tenth profile has none; every 25th profile is retagged to
// a ninth value on 15 November).
//
// The database is built once and cached under os.UserCacheDir, keyed by
// benchGenVersion: bump it whenever the generator changes.
const (
	benchGenVersion = 4 // 4: per-unit columns (migration 0017); 3: the price-dimension schema (migration 0011); older files stay with older trees
	benchRecords    = 10_000_000
	benchProfiles   = storetest.BenchProfiles
	benchCombos     = benchProfiles * 2 * 2 // principals × operations per profile
)

var benchMonth = storetest.BenchMonth

// benchGen generates n records spread evenly over hours hours from
// benchMonth.
type benchGen struct {
	n, hours int
	prices   map[string]catalog.Price
	profiles [benchProfiles]storetest.BenchProfile
}

func newBenchGen(n, hours int) *benchGen {
	g := &benchGen{n: n, hours: hours, prices: map[string]catalog.Price{}}
	cat := catalog.Default()
	for p := range benchProfiles {
		g.profiles[p] = storetest.BenchProfileOf(p)
		m := g.profiles[p].Model
		if price, ok := pricing.Lookup(cat, m, benchMonth); ok {
			g.prices[m] = price
		}
	}
	return g
}

// retagHour is the hour from which every 25th profile carries its new tags.
const retagHour = 14 * 24

// record returns the i-th record: deterministic, spread evenly over the
// hours and round-robin over the 800 combinations.
func (g *benchGen) record(i int) ledger.Record {
	h := int(int64(i) * int64(g.hours) / int64(g.n))
	c := i % benchCombos
	p, principal, op := c/4, (c/2)%2, c%2
	bp := &g.profiles[p]
	r := ledger.Record{
		RequestID: fmt.Sprintf("bench-%09d", i), Time: benchMonth.Add(time.Duration(h)*time.Hour + time.Duration(i%3600)*time.Second),
		Account: bp.Account, Region: bp.Region, RegionServed: bp.Region, PrincipalID: bp.Principal(principal),
		ProfileARN: bp.ARN, ProfileID: bp.ID, ModelID: bp.Model, Provider: "sim",
		Operation: bp.Ops[op], LatencyMs: 1, Attempts: 1, Outcome: ledger.OutcomeSuccess,
		Tags: bp.Tags,
	}
	if h >= retagHour {
		r.Tags = bp.Retagged
	}
	if i%101 == 0 {
		r.Outcome, r.ErrorCode = ledger.OutcomeThrottled, "ThrottlingException"
		return r
	}
	r.InputTokens, r.OutputTokens = int64(100+(i*37)%2000), int64(20+(i*53)%800)
	if bp.Cached {
		if i%4 == 0 {
			r.CacheReadTokens = int64(1024 + i%512)
		}
		if i%40 == 1 {
			r.CacheWriteTokens = 2048
		}
	}
	if price, ok := g.prices[bp.Model]; ok {
		b, priced := pricing.Compute(price, pricing.Tokens{Input: r.InputTokens, Output: r.OutputTokens,
			CacheRead: r.CacheReadTokens, CacheWrite: r.CacheWriteTokens})
		if priced {
			r.Priced = true
			r.Cost, r.InputCost, r.OutputCost, r.CacheReadCost, r.CacheWriteCost = b.Total(), b.Input, b.Output, b.CacheRead, b.CacheWrite
		}
	}
	return r
}

// rollups sums the generated records into hourly rollups as the store
// does at ingest, without keeping the records: each (hour, combination)
// is one rollup, since a combination fixes every rollup dimension and the
// tag set changes only at an hour boundary.
func (g *benchGen) rollups() []ledger.Rollup {
	out := make([]ledger.Rollup, g.hours*benchCombos)
	for i := range g.n {
		r := g.record(i)
		h := int(int64(i) * int64(g.hours) / int64(g.n))
		o := &out[h*benchCombos+i%benchCombos]
		if o.Calls == 0 {
			*o = ledger.Rollup{Hour: r.Time.Truncate(time.Hour), Account: r.Account, RegionServed: r.RegionServed, Region: r.Region,
				ProfileARN: r.ProfileARN, ModelID: r.ModelID, PrincipalID: r.PrincipalID, Operation: r.Operation, Tags: r.Tags}
		}
		o.Calls++
		if r.Outcome != ledger.OutcomeSuccess {
			o.Errors++
		}
		if !r.Priced {
			o.Unpriced++
		}
		o.InputTokens += r.InputTokens
		o.OutputTokens += r.OutputTokens
		o.CacheReadTokens += r.CacheReadTokens
		o.CacheWriteTokens += r.CacheWriteTokens
		o.Cost += r.Cost
		o.InputCost += r.InputCost
		o.OutputCost += r.OutputCost
		o.CacheReadCost += r.CacheReadCost
		o.CacheWriteCost += r.CacheWriteCost
	}
	return slices.DeleteFunc(out, func(r ledger.Rollup) bool { return r.Calls == 0 })
}

// insertRollups writes rolls and their tag sets straight into the rollup
// table of the (migrated, empty) database at path.
func insertRollups(ctx context.Context, path string, rolls []ledger.Rollup) error {
	return storetest.BulkLoad(ctx, "sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)", func(tx *sql.Tx) error {
		ids := map[string]int64{"": 0}
		for _, r := range rolls {
			c := r.Tags.Canonical()
			if _, ok := ids[c]; ok {
				continue
			}
			ids[c] = int64(len(ids))
			j, _ := json.Marshal(map[string]string(r.Tags))
			if _, err := tx.ExecContext(ctx, `INSERT INTO tag_sets (id, canonical, tags) VALUES (?, ?, ?)`, ids[c], c, string(j)); err != nil {
				return err
			}
		}
		st, err := tx.PrepareContext(ctx, `INSERT INTO usage_hourly (hour_ms, account, region_served, profile_arn, model_id,
		principal_id, operation, tag_set_id, calls, errors, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
		cost_nanos, input_cost, output_cost, cache_read_cost, cache_write_cost, unpriced,
		scope, service_tier, long_context, latency_optimized, region, cache_write_1h_tokens, cache_write_1h_cost, fixed_cost,
		unit_kind, units, unit_cost)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', '', 0, 0, ?, 0, 0, 0, '', 0, 0)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, r := range rolls {
			if _, err := st.ExecContext(ctx, r.Hour.UnixMilli(), r.Account, r.RegionServed, r.ProfileARN, r.ModelID, r.PrincipalID,
				r.Operation, ids[r.Tags.Canonical()], r.Calls, r.Errors, r.InputTokens, r.OutputTokens, r.CacheReadTokens,
				r.CacheWriteTokens, int64(r.Cost), int64(r.InputCost), int64(r.OutputCost), int64(r.CacheReadCost),
				int64(r.CacheWriteCost), r.Unpriced, r.Region); err != nil {
				return err
			}
		}
		// The daily rollups are the hourly ones summed per UTC day, as ingest
		// keeps them.
		if _, err := tx.ExecContext(ctx, `INSERT INTO usage_daily (day_ms, `+sqlstore.RollupColumns+`)
		SELECT (hour_ms / 86400000) * 86400000, account, region_served, profile_arn, model_id, principal_id, operation, tag_set_id,
		       SUM(calls), SUM(errors), SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens), SUM(cache_write_tokens),
		       SUM(cost_nanos), SUM(input_cost), SUM(output_cost), SUM(cache_read_cost), SUM(cache_write_cost), SUM(unpriced),
		       scope, service_tier, long_context, latency_optimized, SUM(cache_write_1h_tokens), SUM(cache_write_1h_cost),
		       SUM(fixed_cost), region, unit_kind, SUM(units), SUM(unit_cost)
		FROM usage_hourly GROUP BY 1, `+sqlstore.RollupKeyColumns); err != nil {
			return err
		}
		return nil
	})
}

// benchDB opens the cached 10M-record month, building it on first use.
func benchDB(b *testing.B) *sqlite.DB {
	b.Helper()
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	dir = filepath.Join(dir, "tollgate", "bench")
	path := filepath.Join(dir, fmt.Sprintf("month-10m-v%d.db", benchGenVersion))
	benchBuild.Do(func() {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		tmp := path + ".building"
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(tmp + suffix)
		}
		start := time.Now()
		db, err := sqlite.Open(b.Context(), tmp, sqlite.Options{})
		if err != nil {
			b.Fatal(err)
		}
		db.Close()
		rolls := newBenchGen(benchRecords, 30*24).rollups()
		if err := insertRollups(b.Context(), tmp, rolls); err != nil {
			b.Fatal(err)
		}
		// Fold the WAL into the file so the cached copy is one file.
		db, err = sqlite.Open(b.Context(), tmp, sqlite.Options{})
		if err != nil {
			b.Fatal(err)
		}
		db.Close()
		raw, err := sql.Open("sqlite", "file:"+tmp)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := raw.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			b.Fatal(err)
		}
		raw.Close()
		if err := os.Rename(tmp, path); err != nil {
			b.Fatal(err)
		}
		os.Remove(tmp + "-wal")
		os.Remove(tmp + "-shm")
		b.Logf("built %s: %d rollups in %v", path, len(rolls), time.Since(start).Round(time.Millisecond))
	})
	db, err := sqlite.Open(b.Context(), path, sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

var benchBuild sync.Once

// TestBenchLedgerMatchesAppend checks the benchmark's shortcut on a small
// run of the same generator: appending the records through the ledger
// produces exactly the rollups built directly.
func TestBenchLedgerMatchesAppend(t *testing.T) {
	const n, hours = 24_000, 24
	g := newBenchGen(n, hours)
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "tollgate.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	batch := make([]ledger.Record, 0, 4000)
	for i := range n {
		batch = append(batch, g.record(i))
		if len(batch) == cap(batch) || i == n-1 {
			if err := db.AppendRecords(t.Context(), batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	got, err := db.CostRollups(t.Context(), nil, benchMonth, benchMonth.Add(hours*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := g.rollups()
	if len(want) != hours*benchCombos {
		t.Errorf("%d rollups built, want %d (hours × combinations)", len(want), hours*benchCombos)
	}
	order := func(a, b ledger.Rollup) int {
		return cmp.Or(a.Hour.Compare(b.Hour), cmp.Compare(a.ProfileARN, b.ProfileARN),
			cmp.Compare(a.PrincipalID, b.PrincipalID), cmp.Compare(a.Operation, b.Operation))
	}
	slices.SortFunc(got, order)
	slices.SortFunc(want, order)
	if diff := gocmp.Diff(got, want); diff != "" {
		t.Errorf("rollups appended vs built directly (-got +want):\n%s", diff)
	}
}

// BenchmarkCostAndUsage10M answers GetCostAndUsage for the month of 10M
// calls, DAILY, grouped by two tag keys, through costquery.Service over
// the store, which reads the month's 24,000 daily rollups. service-first
// uses a new Service per op, so every op reads them; service reuses one,
// whose cache holds them until the ledger changes. The other
// sub-benchmarks split reading from aggregating.
func BenchmarkCostAndUsage10M(b *testing.B) {
	db := benchDB(b)
	names := costquery.NewNamer(catalog.Default())
	q := costquery.Query{From: benchMonth, To: benchMonth.AddDate(0, 1, 0), Granularity: costquery.Daily,
		GroupBy: []costquery.GroupBy{{Type: costquery.GroupTag, Key: "cost_center"}, {Type: costquery.GroupTag, Key: "dept"}}}
	rolls, err := db.CostRollups(b.Context(), nil, q.From, q.To)
	if err != nil {
		b.Fatal(err)
	}
	daily, err := db.CostRollupsDaily(b.Context(), nil, q.From, q.To)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("service-first", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			res, err := costquery.NewService(db, names, nil).CostAndUsage(b.Context(), nil, q)
			if err != nil {
				b.Fatal(err)
			}
			if len(res.Periods) != 30 {
				b.Fatalf("%d periods", len(res.Periods))
			}
		}
		b.ReportMetric(float64(len(daily)), "rows/op")
	})
	b.Run("service", func(b *testing.B) {
		svc := costquery.NewService(db, names, nil)
		b.ReportAllocs()
		for b.Loop() {
			res, err := svc.CostAndUsage(b.Context(), nil, q)
			if err != nil {
				b.Fatal(err)
			}
			if len(res.Periods) != 30 {
				b.Fatalf("%d periods", len(res.Periods))
			}
		}
		b.ReportMetric(float64(len(daily)), "rows/op")
	})
	b.Run("store-read-daily", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := db.CostRollupsDaily(b.Context(), nil, q.From, q.To); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(daily)), "rows/op")
	})
	b.Run("store-read", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := db.CostRollups(b.Context(), nil, q.From, q.To); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(rolls)), "rows/op")
	})
	b.Run("aggregate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := costquery.Aggregate(rolls, q, names); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(rolls)), "rows/op")
	})
}

// BenchmarkExport10M exports the month of 10M calls as CUR line items,
// daily and hourly, to CSV and Parquet (discarded), reporting line items
// written and rollups read per second, and the peak heap in use while
// exporting.
func BenchmarkExport10M(b *testing.B) {
	db := benchDB(b)
	names := costquery.NewNamer(catalog.Default())
	for _, gran := range []costquery.Granularity{costquery.Daily, costquery.Hourly} {
		for _, format := range []string{"csv", "parquet"} {
			b.Run(fmt.Sprintf("%s/%s", gran, format), func(b *testing.B) {
				var rows, rolls int64
				peak := trackPeakHeap(b)
				for b.Loop() {
					var w export.Writer
					if format == "csv" {
						w = export.NewCSVWriter(io.Discard)
					} else {
						w = export.NewParquetWriter(io.Discard)
					}
					st, err := export.Run(b.Context(), db, export.Options{From: benchMonth, To: benchMonth.AddDate(0, 1, 0),
						Granularity: gran, Namer: names, Catalog: catalog.Default()}, w)
					if err != nil {
						b.Fatal(err)
					}
					if err := w.Close(); err != nil {
						b.Fatal(err)
					}
					rows, rolls = st.Rows, st.Rollups
				}
				b.ReportMetric(float64(rows), "rows/op")
				b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
				b.ReportMetric(float64(rolls)*float64(b.N)/b.Elapsed().Seconds(), "rollups/s")
				b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MiB")
			})
		}
	}
}

// trackPeakHeap samples the heap in use every few milliseconds until the
// benchmark ends; the returned function gives the highest sample.
func trackPeakHeap(b *testing.B) func() uint64 {
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	var once sync.Once
	stopIt := func() { once.Do(func() { close(stop); <-done }) }
	b.Cleanup(stopIt)
	return func() uint64 { stopIt(); return peak.Load() }
}
