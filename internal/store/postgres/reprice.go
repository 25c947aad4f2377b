package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

var _ ledger.Repricer = (*DB)(nil)

// negate returns -s.
func negate(s rollupSums) rollupSums {
	return rollupSums{calls: -s.calls, errors: -s.errors, in: -s.in, out: -s.out, cacheRead: -s.cacheRead,
		cacheWrite: -s.cacheWrite, cacheWrite1h: -s.cacheWrite1h, cost: -s.cost, inCost: -s.inCost, outCost: -s.outCost,
		cacheReadCost: -s.cacheReadCost, cacheWriteCost: -s.cacheWriteCost, cacheWrite1hCost: -s.cacheWrite1hCost,
		fixedCost: -s.fixedCost, units: -s.units, unitCost: -s.unitCost, n: -s.n}
}

// Reprice implements ledger.Repricer: the records are updated in place
// (their month's partition found by time), the rollups take the old
// record out and the new one in, in the appends' lock order, and the
// ledger version moves so cached cost queries read again.
func (db *DB) Reprice(ctx context.Context, runID string, at time.Time, changes []ledger.Repricing) (int, error) {
	if err := db.barrier(ctx); err != nil {
		return 0, err
	}
	if len(changes) == 0 {
		return 0, nil
	}
	var applied int
	var err error
	for attempt := 1; ; attempt++ {
		applied, err = db.repriceTx(ctx, runID, at, changes)
		if errs.Class(err) == sqlstore.Serialization && attempt < appendAttempts {
			continue
		}
		break
	}
	if err != nil {
		return 0, internal(err, "reprice")
	}
	return applied, nil
}

func (db *DB) repriceTx(ctx context.Context, runID string, at time.Time, changes []ledger.Repricing) (int, error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	olds := make([]ledger.Record, len(changes))
	for i, c := range changes {
		olds[i] = c.Old
	}
	local, err := db.tagSetIDs(ctx, tx, olds)
	if err != nil {
		return 0, fmt.Errorf("tag sets: %w", err)
	}
	deltas := rollupDeltas{}
	applied := 0
	for _, c := range changes {
		o, n := c.Old, c.New
		res, err := tx.ExecContext(ctx, `UPDATE usage_records SET cost_nanos = $1, input_cost = $2, output_cost = $3,
			cache_read_cost = $4, cache_write_cost = $5, cache_write_1h_cost = $6, priced = $7, long_context = $8, price_version = $9,
			unit_cost = $15
			WHERE time_ms = $10 AND request_id = $11 AND price_version = $12 AND cost_nanos = $13 AND priced = $14`,
			int64(n.Cost), int64(n.InputCost), int64(n.OutputCost), int64(n.CacheReadCost), int64(n.CacheWriteCost),
			int64(n.CacheWrite1hCost), n.Priced, n.LongContext, n.PriceVersion,
			sqlstore.MS(o.Time), o.RequestID, o.PriceVersion, int64(o.Cost), o.Priced, int64(n.UnitCost))
		if err != nil {
			return 0, fmt.Errorf("record: %w", err)
		}
		if k, _ := res.RowsAffected(); k == 0 {
			continue
		}
		ts := local[o.Tags.Canonical()]
		hour := o.Time.UTC().Truncate(time.Hour)
		deltas.add(rollupKeyOf(hour, &o, ts), negate(sumsOf(&o, true)))
		deltas.add(rollupKeyOf(hour, &n, ts), sumsOf(&n, true))
		if _, err := tx.ExecContext(ctx, `INSERT INTO usage_repricings (run_id, repriced_ms, request_id, time_ms, old_version,
			new_version, old_priced, new_priced, old_cost, new_cost, old_lines, new_lines)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12::jsonb)`,
			runID, sqlstore.MS(at), o.RequestID, sqlstore.MS(o.Time), o.PriceVersion, n.PriceVersion, o.Priced, n.Priced,
			int64(o.Cost), int64(n.Cost), sqlstore.RecordLines(o), sqlstore.RecordLines(n)); err != nil {
			return 0, fmt.Errorf("log: %w", err)
		}
		applied++
	}
	if applied > 0 {
		if _, err := tx.ExecContext(ctx, upsertRollups, sortedColumns(deltas).args()...); err != nil {
			return 0, fmt.Errorf("rollups: %w", err)
		}
		if _, err := tx.ExecContext(ctx, upsertDaily, sortedColumns(dailySums(deltas)).args()...); err != nil {
			return 0, fmt.Errorf("daily rollups: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE ledger_version SET v = v + 1 WHERE shard = $1`, rand.IntN(versionShards)); err != nil {
			return 0, fmt.Errorf("ledger version: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	db.mu.Lock()
	for canon, id := range local {
		db.tagIDs[canon] = id
	}
	db.mu.Unlock()
	return applied, nil
}

// Repricings implements ledger.Repricer.
func (db *DB) Repricings(ctx context.Context, from, to time.Time) ([]ledger.RepricingEntry, error) {
	var out []ledger.RepricingEntry
	err := sqlstore.Each(ctx, db.db, `SELECT run_id, repriced_ms, request_id, time_ms, old_version, new_version,
		old_priced, new_priced, old_cost, new_cost FROM usage_repricings WHERE time_ms >= $1 AND time_ms < $2 ORDER BY seq`,
		[]any{sqlstore.MS(from), sqlstore.MS(to)}, func(rows *sql.Rows) error {
			var e ledger.RepricingEntry
			var at, t int64
			if err := rows.Scan(&e.RunID, &at, &e.RequestID, &t, &e.OldVersion, &e.NewVersion, &e.OldPriced, &e.NewPriced,
				&e.OldCost, &e.NewCost); err != nil {
				return err
			}
			e.At, e.Time = sqlstore.FromMS(at), sqlstore.FromMS(t)
			out = append(out, e)
			return nil
		})
	if err != nil {
		return nil, internal(err, "query repricings")
	}
	return out, nil
}
