package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

// LedgerVersion implements costquery.Versioned: the sum of the
// ledger_version shards, which every append that records something raises
// in the transaction that writes its records and rollups. (The highest
// record sequence, SQLite's version, would not do here: sequence numbers
// are taken before commit, so a transaction can commit a lower one after
// a higher one is visible.)
func (db *DB) LedgerVersion(ctx context.Context) (int64, error) {
	if err := db.barrier(ctx); err != nil {
		return 0, err
	}
	var v int64
	if err := db.db.QueryRowContext(ctx, `SELECT COALESCE(sum(v), 0)::bigint FROM ledger_version`).Scan(&v); err != nil {
		return 0, internal(err, "ledger version")
	}
	return v, nil
}

// CostRollups implements costquery.Source: the rollups whose hour lies in
// [from, to) of the given accounts (nil: all; empty: none), by hour. It
// reads the rollup table's primary key (hour first) as a range, and
// rollups with the same tag set share one Tags map.
func (db *DB) CostRollups(ctx context.Context, accounts []string, from, to time.Time) ([]ledger.Rollup, error) {
	if accounts != nil && len(accounts) == 0 {
		return nil, nil
	}
	query := selectRollups + ` WHERE hour_ms >= $1 AND hour_ms < $2`
	args := []any{sqlstore.MS(from), sqlstore.MS(to)}
	if accounts != nil {
		query += ` AND account = ANY($3::text[])`
		args = append(args, accounts)
	}
	return db.rollups(ctx, query+" ORDER BY hour_ms", args)
}

// selectDaily is selectRollups over the daily rollups.
var selectDaily = strings.NewReplacer("usage_hourly", "usage_daily", "hour_ms", "day_ms").Replace(selectRollups)

// CostRollupsDaily implements costquery.DailySource: like CostRollups, from
// the daily rollup table, with Hour the UTC midnight of each day.
func (db *DB) CostRollupsDaily(ctx context.Context, accounts []string, from, to time.Time) ([]ledger.Rollup, error) {
	if accounts != nil && len(accounts) == 0 {
		return nil, nil
	}
	query := selectDaily + ` WHERE day_ms >= $1 AND day_ms < $2`
	args := []any{sqlstore.MS(from), sqlstore.MS(to)}
	if accounts != nil {
		query += ` AND account = ANY($3::text[])`
		args = append(args, accounts)
	}
	return db.rollups(ctx, query+" ORDER BY day_ms", args)
}
