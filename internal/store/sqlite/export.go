package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/export"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

var _ export.Source = (*DB)(nil)

// StreamRollups implements export.Source: it calls fn with each rollup
// whose hour lies in [from, to) of the given accounts (nil: all; empty:
// none), in hour order, scanning one row at a time so that memory stays
// flat however long the range. The rows come from one read transaction, a
// consistent snapshot: appends committed meanwhile are not seen (and, in
// WAL mode, the WAL cannot be checkpointed past the snapshot until the
// stream ends). r is reused for the next row once fn returns; rollups of
// one tag set share one Tags map, identified by tagSetID.
func (db *DB) StreamRollups(ctx context.Context, accounts []string, from, to time.Time, fn func(r *ledger.Rollup, tagSetID int64) error) error {
	if accounts != nil && len(accounts) == 0 {
		return nil
	}
	if err := db.barrier(ctx); err != nil {
		return err
	}
	// One read transaction holds the snapshot both queries read, so every
	// rollup's tag set is among those loaded.
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return internal(err, "begin export read")
	}
	defer tx.Rollback()
	sets, err := loadTagSets(ctx, tx)
	if err != nil {
		return internal(err, "load tag sets")
	}
	query := `SELECT hour_ms, ` + sqlstore.RollupColumns + `
		FROM usage_hourly WHERE hour_ms >= ? AND hour_ms < ?`
	args := []any{sqlstore.MS(from), sqlstore.MS(to)}
	var keep map[string]bool
	switch {
	case accounts == nil:
	case len(accounts) <= maxAccountParams:
		query += " AND account IN (?" + strings.Repeat(", ?", len(accounts)-1) + ")"
		for _, a := range accounts {
			args = append(args, a)
		}
	default:
		keep = make(map[string]bool, len(accounts))
		for _, a := range accounts {
			keep[a] = true
		}
	}
	rows, err := tx.QueryContext(ctx, query+" ORDER BY hour_ms", args...)
	if err != nil {
		return internal(err, "query rollups")
	}
	defer rows.Close()
	var r ledger.Rollup
	var h, ts int64
	dest := sqlstore.RollupDest(&r, &h, &ts)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return internal(err, "scan rollup")
		}
		if keep != nil && !keep[r.Account] {
			continue
		}
		r.Hour, r.Tags = sqlstore.FromMS(h), sets[ts]
		if r.Tags == nil {
			r.Tags, ts = sets[0], 0
		}
		if err := fn(&r, ts); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return internal(err, "query rollups")
	}
	return nil
}

// loadTagSets reads every tag set by id within tx.
func loadTagSets(ctx context.Context, tx *sql.Tx) (map[int64]tags.Set, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, tags FROM tag_sets`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]tags.Set{}
	for rows.Next() {
		var id int64
		var tj string
		if err := rows.Scan(&id, &tj); err != nil {
			return nil, err
		}
		t := tags.Set{}
		if err := json.Unmarshal([]byte(tj), &t); err != nil {
			return nil, err
		}
		out[id] = t
	}
	return out, rows.Err()
}
