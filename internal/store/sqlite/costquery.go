package sqlite

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

// LedgerVersion implements costquery.Versioned: the highest record
// sequence plus the highest re-pricing log sequence, which every append
// or re-pricing that changes a rollup raises (records, log and rollups
// are written in one transaction, and neither table loses rows).
func (db *DB) LedgerVersion(ctx context.Context) (int64, error) {
	if err := db.barrier(ctx); err != nil {
		return 0, err
	}
	var v int64
	if err := db.r.QueryRowContext(ctx, `SELECT (SELECT COALESCE(MAX(seq), 0) FROM usage_records) +
		(SELECT COALESCE(MAX(seq), 0) FROM usage_repricings)`).Scan(&v); err != nil {
		return 0, internal(err, "ledger version")
	}
	return v, nil
}

// maxAccountParams is the longest account list bound as SQL parameters;
// a longer one is applied while scanning.
const maxAccountParams = 500

// CostRollups implements costquery.Source: the rollups whose hour lies in
// [from, to) of the given accounts (nil: all; empty: none), by hour. It
// reads the rollup table's primary key (hour first) as a range, and
// rollups with the same tag set share one Tags map.
func (db *DB) CostRollups(ctx context.Context, accounts []string, from, to time.Time) ([]ledger.Rollup, error) {
	return db.costRollups(ctx, "usage_hourly", "hour_ms", accounts, from, to)
}

// CostRollupsDaily implements costquery.DailySource: like CostRollups, from
// the daily rollup table, with Hour the UTC midnight of each day.
func (db *DB) CostRollupsDaily(ctx context.Context, accounts []string, from, to time.Time) ([]ledger.Rollup, error) {
	return db.costRollups(ctx, "usage_daily", "day_ms", accounts, from, to)
}

func (db *DB) costRollups(ctx context.Context, table, timeCol string, accounts []string, from, to time.Time) ([]ledger.Rollup, error) {
	if accounts != nil && len(accounts) == 0 {
		return nil, nil
	}
	if err := db.barrier(ctx); err != nil {
		return nil, err
	}
	sets, err := db.tagSets(ctx)
	if err != nil {
		return nil, internal(err, "load tag sets")
	}
	query := `SELECT ` + timeCol + `, ` + sqlstore.RollupColumns + `
		FROM ` + table + ` WHERE ` + timeCol + ` >= ? AND ` + timeCol + ` < ?`
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
	rows, err := db.r.QueryContext(ctx, query+" ORDER BY "+timeCol, args...)
	if err != nil {
		return nil, internal(err, "query rollups")
	}
	defer rows.Close()
	var out []ledger.Rollup
	var r ledger.Rollup
	var h, ts int64
	dest := sqlstore.RollupDest(&r, &h, &ts) // scanned into for every row: one allocation per query
	for rows.Next() {
		r = ledger.Rollup{}
		if err := rows.Scan(dest...); err != nil {
			return nil, internal(err, "scan rollup")
		}
		if keep != nil && !keep[r.Account] {
			continue
		}
		r.Hour, r.Tags = sqlstore.FromMS(h), sets[ts]
		if r.Tags == nil {
			r.Tags = sets[0]
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(err, "query rollups")
	}
	return slices.Clip(out), nil
}
