package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tollgate-dev/tollgate/internal/export"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

var _ export.Source = (*DB)(nil)

// streamBatch is how many rollups StreamRollups fetches from its cursor
// at a time: the most it holds in memory.
const streamBatch = 1000

// StreamRollups implements export.Source: it calls fn with each rollup
// whose hour lies in [from, to) of the given accounts (nil: all; empty:
// none), in hour order. It reads in one REPEATABLE READ, READ ONLY
// transaction, a consistent snapshot (appends committed meanwhile are not
// seen), through a server-side cursor over the rollup table's primary key,
// fetching streamBatch rollups at a time, so memory stays flat however long
// the range; the tag sets of each batch are read in the same snapshot, or
// found in the cache, and rollups of one tag set share one Tags map,
// identified by tagSetID. The stream holds one connection and its snapshot
// until it ends: meanwhile VACUUM cannot reclaim the rollup row versions
// that appends replace. r is reused once fn returns.
func (db *DB) StreamRollups(ctx context.Context, accounts []string, from, to time.Time, fn func(r *ledger.Rollup, tagSetID int64) error) error {
	if err := db.barrier(ctx); err != nil {
		return err
	}
	if accounts != nil && len(accounts) == 0 {
		return nil
	}
	tx, err := db.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return internal(err, "begin export read")
	}
	defer tx.Rollback()
	query := selectRollups + ` WHERE hour_ms >= $1 AND hour_ms < $2`
	args := []any{sqlstore.MS(from), sqlstore.MS(to)}
	if accounts != nil {
		query += ` AND account = ANY($3::text[])`
		args = append(args, accounts)
	}
	if _, err := tx.ExecContext(ctx, `DECLARE export_rollups NO SCROLL CURSOR FOR `+query+` ORDER BY hour_ms`, args...); err != nil {
		return internal(err, "declare rollup cursor")
	}
	fetch := fmt.Sprintf(`FETCH FORWARD %d FROM export_rollups`, streamBatch)
	batch := make([]ledger.Rollup, 0, streamBatch)
	setIDs := make([]int64, 0, streamBatch)
	var sc rollupScanner
	for {
		batch, setIDs = batch[:0], setIDs[:0]
		ids := map[int64]bool{}
		err := sqlstore.Each(ctx, tx, fetch, nil, func(rows *sql.Rows) error {
			r, ts, err := sc.scan(rows)
			if err != nil {
				return err
			}
			batch = append(batch, r)
			setIDs = append(setIDs, ts)
			ids[ts] = true
			return nil
		})
		if err != nil {
			return internal(err, "fetch rollups")
		}
		sets, err := db.tagSetsByID(ctx, tx, ids)
		if err != nil {
			return internal(err, "load tag sets")
		}
		for i := range batch {
			r := &batch[i]
			if r.Tags = sets[setIDs[i]]; r.Tags == nil {
				// The foreign key on tag_set_id makes this unreachable.
				return internal(errors.New("a rollup refers to a missing tag set"), "load tag sets")
			}
			if err := fn(r, setIDs[i]); err != nil {
				return err
			}
		}
		if len(batch) < streamBatch {
			return nil
		}
	}
}
