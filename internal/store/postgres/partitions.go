package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

// month returns the bounds, in unix milliseconds, of the UTC month holding
// t, and the name of its usage_records partition.
func month(t time.Time) (start, end int64, name string) {
	t = t.UTC()
	s := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return s.UnixMilli(), s.AddDate(0, 1, 0).UnixMilli(), fmt.Sprintf("usage_records_p%04d%02d", s.Year(), int(s.Month()))
}

// ensurePartitions makes sure the partition of each record's month exists,
// and that of the month after it, so the next month's partition is usually
// ready before its first record. Each partition is created as a plain table
// and then attached, which locks usage_records only against other schema
// changes (SHARE UPDATE EXCLUSIVE), never against reads or appends; an
// advisory lock serialises creators across replicas.
func (db *DB) ensurePartitions(ctx context.Context, recs []ledger.Record) error {
	want := map[int64]time.Time{}
	db.mu.Lock()
	for _, r := range recs {
		t := r.Time.UTC()
		first := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		for _, m := range []time.Time{first, first.AddDate(0, 1, 0)} {
			if start := m.UnixMilli(); !db.partitions[start] {
				want[start] = m
			}
		}
	}
	db.mu.Unlock()
	if len(want) == 0 {
		return nil
	}
	starts := make([]int64, 0, len(want))
	for s := range want {
		starts = append(starts, s)
	}
	slices.Sort(starts)
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, lockPartitions); err != nil {
		return err
	}
	for _, s := range starts {
		start, end, name := month(want[s])
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists); err != nil {
			return err
		}
		if exists {
			continue
		}
		ident := pgx.Identifier{name}.Sanitize()
		if _, err := tx.ExecContext(ctx, `CREATE TABLE `+ident+` (LIKE usage_records INCLUDING DEFAULTS)`); err != nil {
			return fmt.Errorf("partition %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`ALTER TABLE usage_records ATTACH PARTITION %s FOR VALUES FROM (%d) TO (%d)`,
			ident, start, end)); err != nil {
			return fmt.Errorf("partition %s: %w", name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	db.mu.Lock()
	for _, s := range starts {
		db.partitions[s] = true
	}
	db.mu.Unlock()
	return nil
}

// forgetPartitions empties the cache of partitions known to exist.
func (db *DB) forgetPartitions() {
	db.mu.Lock()
	clear(db.partitions)
	db.mu.Unlock()
}

// Partitions returns the names of usage_records' partitions, oldest first,
// once the records appended before the call are applied (applying creates
// the partitions).
func (db *DB) Partitions(ctx context.Context) ([]string, error) {
	if err := db.barrier(ctx); err != nil {
		return nil, err
	}
	var out []string
	err := sqlstore.Each(ctx, db.db, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'usage_records'::regclass ORDER BY c.relname COLLATE "C"`, nil, func(rows *sql.Rows) error {
		var name string
		if err := rows.Scan(&name); err != nil {
			return err
		}
		out = append(out, name)
		return nil
	})
	if err != nil {
		return nil, internal(err, "list partitions")
	}
	return out, nil
}

// DropPartitionsBefore is the ledger's retention: it drops the monthly
// partitions of usage_records that end at or before before, with their
// records, and deletes the request ids and the hourly and daily rollups
// of everything before the end of the latest month dropped, in one
// transaction, so the rollups remain the records rolled up: reports and
// Cost Explorer no longer cover the months dropped, as Records no longer
// returns their records. A record of a dropped month appended again
// afterwards (a retry older than the retention) is stored and counted
// once more, in a month that holds only such records. Records appended
// before the call are applied from the journal first, so they are
// dropped with their month rather than bring it back. It returns the
// partitions dropped.
func (db *DB) DropPartitionsBefore(ctx context.Context, before time.Time) ([]string, error) {
	if err := db.barrier(ctx); err != nil {
		return nil, err
	}
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, internal(err, "begin retention")
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, lockPartitions); err != nil {
		return nil, internal(err, "partition lock")
	}
	type part struct {
		name string
		end  int64
	}
	var parts []part
	// The bounds are read from the catalog rather than the names, so
	// partitions made by hand are judged by what they hold.
	err = sqlstore.Each(ctx, tx, `SELECT c.relname, pg_get_expr(c.relpartbound, c.oid)
		FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'usage_records'::regclass ORDER BY c.relname COLLATE "C"`, nil, func(rows *sql.Rows) error {
		var name, bound string
		if err := rows.Scan(&name, &bound); err != nil {
			return err
		}
		var from, to int64
		if _, err := fmt.Sscanf(bound, "FOR VALUES FROM ('%d') TO ('%d')", &from, &to); err != nil {
			return fmt.Errorf("partition %s: bound %q: %w", name, bound, err)
		}
		if to <= sqlstore.MS(before) {
			parts = append(parts, part{name, to})
		}
		return nil
	})
	if err != nil {
		return nil, internal(err, "list partitions")
	}
	var names []string
	var horizon int64
	for _, p := range parts {
		if _, err := tx.ExecContext(ctx, `DROP TABLE `+pgx.Identifier{p.name}.Sanitize()); err != nil {
			return nil, internal(err, "drop partition")
		}
		names = append(names, p.name)
		horizon = max(horizon, p.end)
	}
	if len(parts) > 0 {
		// In the appends' lock order: request ids, hourly, daily.
		for _, q := range []struct{ what, query string }{
			{"forget request ids", `DELETE FROM usage_request_ids WHERE time_ms < $1`},
			{"delete hourly rollups", `DELETE FROM usage_hourly WHERE hour_ms < $1`},
			{"delete daily rollups", `DELETE FROM usage_daily WHERE day_ms < $1`},
		} {
			if _, err := tx.ExecContext(ctx, q.query, horizon); err != nil {
				return nil, internal(err, q.what)
			}
		}
		// The rollups changed: readers' caches must see a new version.
		if _, err := tx.ExecContext(ctx, `UPDATE ledger_version SET v = v + 1 WHERE shard = $1`, rand.IntN(versionShards)); err != nil {
			return nil, internal(err, "ledger version")
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, internal(err, "commit retention")
	}
	db.forgetPartitions()
	return names, nil
}
