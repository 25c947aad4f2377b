package postgres_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/pricing"
	"github.com/tollgate-dev/tollgate/internal/store/postgres"
	"github.com/tollgate-dev/tollgate/internal/store/postgres/pgtest"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
	"github.com/tollgate-dev/tollgate/internal/store/storetest"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// The 10-million-record month is the PostgreSQL counterpart of the SQLite
// store's reporting benchmark (internal/store/sqlite/report_bench_test.go),
// with the same shape: 10 million calls in November 2026 from 200
// application profiles across 3 accounts, 7 models (one without a price)
// and 4 serving regions; each profile called by 2 principals through 2
// operations, so 800 combinations, each present in every one of the 720
// hours. Tags: dept (6 values), team (12), app (40), environment (3) and
// cost_center (8 values; every tenth profile has none; every 25th profile
// moves to a ninth value on 15 November, at midnight).
//
// Appending 10 million records through AppendRecords would take far too
// long for a benchmark's set-up, so the schema holds no usage_records rows,
// only the rollups those records produce, generated in SQL
// (generate_series over the hours × the 800 combinations): 720 × 800 =
// 576,000 usage_hourly rows whose calls add up to exactly 10,000,000 (17
// or 18 a row), and the usage_daily rows summed from them per UTC day as
// ingest and migration 0004 keep them (TestPostgresDailyBackfill and the
// conformance suite check that the two agree): 30 × 800 = 24,000 rows. The
// counters other than calls (tokens, costs, errors, unpriced calls) are
// deterministic but synthetic: the cost of a query follows the number and
// shape of the rows, not their values. The row counts, and the profiles
// with their dimensions and tags (storetest.BenchProfileOf), are the
// SQLite benchmark's.
//
// The benchmark runs only under -bench (building the month takes some
// 10 s on a 2-vCPU VM) and skips without TOLLGATE_TEST_POSTGRES_URL; the
// month lives in a schema of its own, dropped at the end.
const (
	month10MRecords  = 10_000_000
	month10MHours    = 30 * 24
	month10MProfiles = storetest.BenchProfiles
	month10MCombos   = month10MProfiles * 2 * 2 // principals × operations per profile
	month10MRetag    = 14 * 24                  // the hour from which every 25th profile carries its new tags
)

var month10M = storetest.BenchMonth

// seedMonth10M fills the rollup tables of the migrated, empty schema at url
// with the 10-million-record month.
func seedMonth10M(ctx context.Context, url string) error {
	return storetest.BulkLoad(ctx, "pgx", url, func(tx *sql.Tx) error {

		// Tag sets, with ids of our own (the schema is empty).
		ids := map[string]int64{}
		tagSet := func(t tags.Set) (int64, error) {
			c := t.Canonical()
			if id, ok := ids[c]; ok {
				return id, nil
			}
			id := int64(len(ids) + 1)
			j, err := json.Marshal(map[string]string(t))
			if err != nil {
				return 0, err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO tag_sets (id, canonical, tags) VALUES ($1, $2, $3)`, id, []byte(c), string(j)); err != nil {
				return 0, err
			}
			ids[c] = id
			return id, nil
		}

		// The 800 combinations, column by column.
		var (
			acct, region, profile, model, principal, oper         []string
			before, after, inPrice, outPrice, crPrice, cwPrice, c []int64
			cached, priced                                        []bool
		)
		cat := catalog.Default()
		for p := range month10MProfiles {
			bp := storetest.BenchProfileOf(p)
			b, err := tagSet(bp.Tags)
			if err != nil {
				return err
			}
			a, err := tagSet(bp.Retagged)
			if err != nil {
				return err
			}
			price, ok := pricing.Lookup(cat, bp.Model, month10M)
			for pr := range 2 {
				for op := range 2 {
					c = append(c, int64(len(c)))
					acct = append(acct, bp.Account)
					region = append(region, bp.Region)
					profile = append(profile, bp.ARN)
					model = append(model, bp.Model)
					principal = append(principal, bp.Principal(pr))
					oper = append(oper, bp.Ops[op])
					before, after = append(before, b), append(after, a)
					cached = append(cached, bp.Cached)
					priced = append(priced, ok)
					inPrice, outPrice = append(inPrice, int64(price.Input)), append(outPrice, int64(price.Output))
					crPrice, cwPrice = append(crPrice, int64(price.CacheRead)), append(cwPrice, int64(price.CacheWrite))
				}
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE bench_combos ON COMMIT DROP AS
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
			$8::bigint[], $9::bigint[], $10::boolean[], $11::boolean[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[])
		AS u (c, account, region, profile_arn, model_id, principal_id, operation, before, after, cached, priced,
			in_price, out_price, cr_price, cw_price)`,
			c, acct, region, profile, model, principal, oper, before, after, cached, priced,
			inPrice, outPrice, crPrice, cwPrice); err != nil {
			return fmt.Errorf("combinations: %w", err)
		}
		// Row k = hour × 800 + combination holds 17 calls, or 18 for 13 rows
		// in 36: 576,000 × 17 + 16,000 × 13 = 10,000,000.
		if _, err := tx.ExecContext(ctx, `
		WITH g AS (
			SELECT b.*, h, h::bigint * 800 + b.c AS k, 17 + ((h::bigint * 800 + b.c) % 36 < 13)::int AS n
			FROM bench_combos b CROSS JOIN generate_series(0, $2::int - 1) AS h
		), t AS (
			SELECT g.*, (k % 6 = 0)::int AS e, n * (100 + (k * 37) % 2000) AS it, n * (20 + (k * 53) % 800) AS ot,
				CASE WHEN cached THEN (n / 4) * (1024 + k % 512) ELSE 0 END AS crt,
				CASE WHEN cached AND k % 10 = 1 THEN 2048 ELSE 0 END AS cwt
			FROM g
		), p AS (
			SELECT t.*,
				CASE WHEN priced THEN (it * in_price + 500) / 1000 ELSE 0 END AS ic,
				CASE WHEN priced THEN (ot * out_price + 500) / 1000 ELSE 0 END AS oc,
				CASE WHEN priced THEN (crt * cr_price + 500) / 1000 ELSE 0 END AS crc,
				CASE WHEN priced THEN (cwt * cw_price + 500) / 1000 ELSE 0 END AS cwc
			FROM t
		)
		INSERT INTO usage_hourly (hour_ms, account, region_served, profile_arn, model_id, principal_id, operation,
			tag_set_id, calls, errors, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_nanos,
			input_cost, output_cost, cache_read_cost, cache_write_cost, unpriced, region)
		SELECT $1::bigint + h::bigint * 3600000, account, region, profile_arn, model_id, principal_id, operation,
			CASE WHEN h >= $3::int THEN after ELSE before END, n, e, it, ot, crt, cwt, ic + oc + crc + cwc,
			ic, oc, crc, cwc, CASE WHEN priced THEN 0 ELSE n END, region
		FROM p ORDER BY 1, 2, 3, 4, 5, 6, 7, 8`, month10M.UnixMilli(), month10MHours, month10MRetag); err != nil {
			return fmt.Errorf("hourly rollups: %w", err)
		}
		// The daily rollups: the hourly ones summed per UTC day, as ingest
		// keeps them (and migration 0004 builds them).
		if _, err := tx.ExecContext(ctx, `INSERT INTO usage_daily (day_ms, `+sqlstore.RollupColumns+`)
		SELECT hour_ms - hour_ms % 86400000, account, region_served, profile_arn, model_id, principal_id, operation, tag_set_id,
			sum(calls), sum(errors), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens),
			sum(cost_nanos), sum(input_cost), sum(output_cost), sum(cache_read_cost), sum(cache_write_cost), sum(unpriced),
			scope, service_tier, long_context, latency_optimized, sum(cache_write_1h_tokens), sum(cache_write_1h_cost),
			sum(fixed_cost), region
		FROM usage_hourly
		GROUP BY 1, `+sqlstore.RollupKeyColumns+`
		ORDER BY 1, 2, 3, 4, 5, 6, 7, 8`); err != nil {
			return fmt.Errorf("daily rollups: %w", err)
		}
		var hourly, daily, calls int64
		if err := tx.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM usage_hourly), (SELECT count(*) FROM usage_daily),
		(SELECT sum(calls) FROM usage_daily)`).Scan(&hourly, &daily, &calls); err != nil {
			return err
		}
		if hourly != month10MHours*month10MCombos || daily != month10MHours/24*month10MCombos || calls != month10MRecords {
			return fmt.Errorf("seeded %d hourly rows, %d daily rows, %d calls; want %d, %d, %d", hourly, daily, calls,
				month10MHours*month10MCombos, month10MHours/24*month10MCombos, month10MRecords)
		}
		return nil
	},
		// Statistics and the visibility map, as autovacuum would leave them.
		`VACUUM ANALYZE usage_hourly, usage_daily, tag_sets`)
}

// BenchmarkCostAndUsage10M answers GetCostAndUsage for the month of 10M
// calls, DAILY, grouped by two tag keys (cost_center, dept), through
// costquery.Service over the PostgreSQL store, as the SQLite benchmark of
// the same name does. Sub-benchmarks:
//
//   - service-first: a new Service per op, so each op is a first, uncached
//     query: the ledger version, the 24,000 daily rollups read, aggregated;
//   - service: one Service, so from the second op the rollups come from its
//     cache (valid until the ledger changes) and only the aggregation runs;
//   - store-read-daily and store-read: CostRollupsDaily (24,000 rows) and
//     CostRollups (576,000 hourly rows, what an HOURLY query reads) alone.
func BenchmarkCostAndUsage10M(b *testing.B) {
	url := pgtest.URL(b)
	ctx := context.Background()
	db, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	start := time.Now()
	if err := seedMonth10M(ctx, url); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded the 10M-record month's rollups in %v", time.Since(start).Round(time.Millisecond))

	names := costquery.NewNamer(catalog.Default())
	q := costquery.Query{From: month10M, To: month10M.AddDate(0, 1, 0), Granularity: costquery.Daily,
		GroupBy: []costquery.GroupBy{{Type: costquery.GroupTag, Key: "cost_center"}, {Type: costquery.GroupTag, Key: "dept"}}}
	query := func(b *testing.B, svc *costquery.Service) {
		res, err := svc.CostAndUsage(ctx, nil, q)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Periods) != 30 {
			b.Fatalf("%d periods", len(res.Periods))
		}
	}
	read := func(b *testing.B, f func(context.Context, []string, time.Time, time.Time) ([]ledger.Rollup, error), want int) {
		var n int
		b.ReportAllocs()
		for b.Loop() {
			rolls, err := f(ctx, nil, q.From, q.To)
			if err != nil {
				b.Fatal(err)
			}
			n = len(rolls)
		}
		if n != want {
			b.Fatalf("%d rollups read, want %d", n, want)
		}
		b.ReportMetric(float64(n), "rows/op")
	}
	b.Run("service-first", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			query(b, costquery.NewService(db, names, nil))
		}
		b.ReportMetric(month10MHours/24*month10MCombos, "rows/op")
	})
	b.Run("service", func(b *testing.B) {
		svc := costquery.NewService(db, names, nil)
		b.ReportAllocs()
		for b.Loop() {
			query(b, svc)
		}
		b.ReportMetric(month10MHours/24*month10MCombos, "rows/op")
	})
	b.Run("store-read-daily", func(b *testing.B) { read(b, db.CostRollupsDaily, month10MHours/24*month10MCombos) })
	b.Run("store-read", func(b *testing.B) { read(b, db.CostRollups, month10MHours*month10MCombos) })
}
