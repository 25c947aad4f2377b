package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

// seedTemplatePrefix starts the request ids of SeedLedger's templates.
const seedTemplatePrefix = "seed-template-"

// SeedRequestID is the request id of SeedLedger's i-th record.
func SeedRequestID(i int) string { return fmt.Sprintf("seed-%010d", i) }

// SeedTime is the time of SeedLedger's i-th of n records ending at end
// and spanning span: the newest first, evenly spaced, at millisecond
// precision as the ledger stores times.
func SeedTime(i, n int, end time.Time, span time.Duration) time.Time {
	return time.UnixMilli(end.UnixMilli() - int64(i)*span.Milliseconds()/int64(n)).UTC()
}

// SeedLedger fills an empty ledger with n records for measuring Tollgate
// at scale (`tollgate bench --scale-records`): record i is templates[i %
// len(templates)] with request id SeedRequestID(i) and time SeedTime(i,
// n, end, span). The templates go through AppendRecords (so their tag
// sets are interned as at ingest), the copies are made by one INSERT …
// SELECT inside SQLite, and the hourly and daily rollups are then
// rebuilt from the records, so the result is the ledger the same records
// appended one by one would have made (TestSeedLedgerMatchesAppend),
// minutes faster. It refuses a ledger that already holds records. Its
// writes are not synced until the next checkpoint: a crash mid-seed
// leaves a ledger to throw away, which is all a benchmark's is.
func (db *DB) SeedLedger(ctx context.Context, templates []ledger.Record, n int, end time.Time, span time.Duration) error {
	if len(templates) == 0 || n < len(templates) {
		return fmt.Errorf("seed ledger: %d records from %d templates: need at least one template and no fewer records than templates", n, len(templates))
	}
	if span <= 0 {
		return errors.New("seed ledger: the span must be positive")
	}
	if err := db.barrier(ctx); err != nil {
		return err
	}
	var has int
	if err := db.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM usage_records)`).Scan(&has); err != nil {
		return internal(err, "seed ledger")
	}
	if has != 0 {
		return errors.New("seed ledger: the ledger already holds records; seed an empty one")
	}
	tpl := make([]ledger.Record, len(templates))
	for i, r := range templates {
		r.RequestID = fmt.Sprintf("%s%06d", seedTemplatePrefix, i)
		tpl[i] = r
	}
	if err := db.AppendRecords(ctx, tpl); err != nil {
		return err
	}
	if err := db.barrier(ctx); err != nil {
		return err
	}

	conn, err := db.w.Conn(ctx)
	if err != nil {
		return internal(err, "seed ledger")
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = OFF`); err != nil {
		return internal(err, "seed ledger")
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = `+db.sync)

	cols, err := recordCopyColumns(ctx, conn)
	if err != nil {
		return err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return internal(err, "seed ledger")
	}
	defer tx.Rollback()
	// The templates in request-id order are t.k = 0, 1, ...; copy i is
	// template i % K.
	copySQL := `INSERT INTO usage_records (request_id, time_ms, ` + cols + `)
	WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < ? - 1),
	t AS (SELECT row_number() OVER (ORDER BY request_id) - 1 AS k, * FROM usage_records WHERE request_id LIKE '` + seedTemplatePrefix + `%')
	SELECT printf('seed-%010d', c.i), ? - c.i * ? / ?, ` + prefixed("t.", cols) + `
	FROM c JOIN t ON t.k = c.i % ?`
	if _, err := tx.ExecContext(ctx, copySQL, n, end.UnixMilli(), span.Milliseconds(), n, len(tpl)); err != nil {
		return internal(err, "seed ledger: copy records")
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM usage_records WHERE request_id LIKE '`+seedTemplatePrefix+`%'`); err != nil {
		return internal(err, "seed ledger: drop templates")
	}
	for _, q := range []string{`DELETE FROM usage_hourly`, `DELETE FROM usage_daily`,
		rebuildRollup("usage_hourly", "hour_ms", 3600000), rebuildRollup("usage_daily", "day_ms", 86400000)} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return internal(err, "seed ledger: rebuild rollups")
		}
	}
	if err := tx.Commit(); err != nil {
		return internal(err, "seed ledger")
	}
	return nil
}

// recordCopyColumns lists usage_records' columns but seq, request_id and
// time_ms, as the table has them (so columns added later are copied too).
func recordCopyColumns(ctx context.Context, conn *sql.Conn) (string, error) {
	rows, err := conn.QueryContext(ctx, `SELECT name FROM pragma_table_info('usage_records') ORDER BY cid`)
	if err != nil {
		return "", internal(err, "seed ledger")
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return "", internal(err, "seed ledger")
		}
		switch c {
		case "seq", "request_id", "time_ms":
		default:
			cols = append(cols, c)
		}
	}
	if err := rows.Err(); err != nil {
		return "", internal(err, "seed ledger")
	}
	return strings.Join(cols, ", "), nil
}

func prefixed(p, cols string) string {
	f := strings.Split(cols, ", ")
	for i := range f {
		f[i] = p + f[i]
	}
	return strings.Join(f, ", ")
}

// rebuildRollup is the INSERT that sums usage_records into the rollup
// table per period of ms milliseconds, counting calls, errors and
// unpriced calls as ledger.Record.RollupCalls does.
func rebuildRollup(table, timeCol string, ms int64) string {
	calls := `CASE WHEN operation = '` + ledger.OpFixedCost + `' THEN 0 ELSE max(1, calls) END`
	return fmt.Sprintf(`INSERT INTO %s (%s, %s)
	SELECT (time_ms / %d) * %d, account, region_served, profile_arn, model_id, principal_id, operation, tag_set_id,
	       SUM(%s), SUM(CASE WHEN outcome = '%s' THEN 0 ELSE %s END),
	       SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens), SUM(cache_write_tokens),
	       SUM(cost_nanos), SUM(input_cost), SUM(output_cost), SUM(cache_read_cost), SUM(cache_write_cost),
	       SUM(CASE WHEN priced THEN 0 ELSE %s END),
	       scope, service_tier, long_context, latency_optimized,
	       SUM(cache_write_1h_tokens), SUM(cache_write_1h_cost), SUM(fixed_cost), region,
	       unit_kind, SUM(units), SUM(unit_cost)
	FROM usage_records GROUP BY 1, %s`,
		table, timeCol, sqlstore.RollupColumns, ms, ms, calls, ledger.OutcomeSuccess, calls, calls, sqlstore.RollupKeyColumns)
}
