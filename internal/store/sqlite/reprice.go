package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

var _ ledger.Repricer = (*DB)(nil)

// Reprice implements ledger.Repricer.
func (db *DB) Reprice(ctx context.Context, runID string, at time.Time, changes []ledger.Repricing) (int, error) {
	// The records to re-price must be in usage_records, not still in the
	// journal.
	if err := db.barrier(ctx); err != nil {
		return 0, err
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, internal(err, "begin reprice")
	}
	defer tx.Rollback()
	up := tx.StmtContext(ctx, db.upRollup)
	defer up.Close()
	upDay := tx.StmtContext(ctx, db.upDaily)
	defer upDay.Close()
	local := map[string]int64{}
	applied := 0
	for _, c := range changes {
		o, n := c.Old, c.New
		res, err := tx.ExecContext(ctx, `UPDATE usage_records SET cost_nanos = ?, input_cost = ?, output_cost = ?,
			cache_read_cost = ?, cache_write_cost = ?, cache_write_1h_cost = ?, priced = ?, long_context = ?, price_version = ?,
			unit_cost = ?
			WHERE request_id = ? AND price_version = ? AND cost_nanos = ? AND priced = ?`,
			int64(n.Cost), int64(n.InputCost), int64(n.OutputCost), int64(n.CacheReadCost), int64(n.CacheWriteCost),
			int64(n.CacheWrite1hCost), sqlstore.Bool(n.Priced), sqlstore.Bool(n.LongContext), n.PriceVersion, int64(n.UnitCost),
			o.RequestID, o.PriceVersion, int64(o.Cost), sqlstore.Bool(o.Priced))
		if err != nil {
			return 0, internal(err, "reprice record")
		}
		if k, _ := res.RowsAffected(); k == 0 {
			continue // re-priced meanwhile, or gone
		}
		ts, err := db.tagSetID(ctx, tx, local, o.Tags)
		if err != nil {
			return 0, internal(err, "tag set")
		}
		for _, u := range []struct {
			stmt *sql.Stmt
			at   time.Time
		}{{up, o.Time.UTC().Truncate(time.Hour)}, {upDay, o.Time.UTC().Truncate(24 * time.Hour)}} {
			if _, err := u.stmt.ExecContext(ctx, rollupArgs(u.at, o, ts, -1)...); err != nil {
				return 0, internal(err, "reprice rollup")
			}
			if _, err := u.stmt.ExecContext(ctx, rollupArgs(u.at, n, ts, 1)...); err != nil {
				return 0, internal(err, "reprice rollup")
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO usage_repricings (run_id, repriced_ms, request_id, time_ms, old_version,
			new_version, old_priced, new_priced, old_cost, new_cost, old_lines, new_lines) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			runID, sqlstore.MS(at), o.RequestID, sqlstore.MS(o.Time), o.PriceVersion, n.PriceVersion, sqlstore.Bool(o.Priced),
			sqlstore.Bool(n.Priced), int64(o.Cost), int64(n.Cost), sqlstore.RecordLines(o), sqlstore.RecordLines(n)); err != nil {
			return 0, internal(err, "reprice log")
		}
		applied++
	}
	if err := tx.Commit(); err != nil {
		return 0, internal(err, "commit reprice")
	}
	db.tagMu.Lock()
	for c, id := range local {
		db.tagIDs[c] = id
	}
	db.tagMu.Unlock()
	return applied, nil
}

// Repricings implements ledger.Repricer.
func (db *DB) Repricings(ctx context.Context, from, to time.Time) ([]ledger.RepricingEntry, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT run_id, repriced_ms, request_id, time_ms, old_version, new_version,
		old_priced, new_priced, old_cost, new_cost FROM usage_repricings WHERE time_ms >= ? AND time_ms < ? ORDER BY seq`,
		sqlstore.MS(from), sqlstore.MS(to))
	if err != nil {
		return nil, internal(err, "query repricings")
	}
	defer rows.Close()
	var out []ledger.RepricingEntry
	for rows.Next() {
		var e ledger.RepricingEntry
		var at, t int64
		if err := rows.Scan(&e.RunID, &at, &e.RequestID, &t, &e.OldVersion, &e.NewVersion, &e.OldPriced, &e.NewPriced,
			&e.OldCost, &e.NewCost); err != nil {
			return nil, internal(err, "scan repricing")
		}
		e.At, e.Time = sqlstore.FromMS(at), sqlstore.FromMS(t)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(err, "query repricings")
	}
	return out, nil
}
