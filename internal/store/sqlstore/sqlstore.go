// Package sqlstore owns the Go scaffolding Tollgate's two SQL stores
// (internal/store/sqlite and internal/store/postgres) share, so that those
// packages keep only their SQL text and what is truly particular to their
// database: the migration runner (embedded forward-only migrations,
// version prefixes, the schema_migrations table, with per-dialect
// placeholders and lock hooks); the shape of error classification (each
// dialect sorts its driver's errors into Classes, and one Internal wraps
// the unexpected ones into errkind); the encodings of times, tag sets and
// optional values in columns; the row scanners of the tables whose
// columns both stores share; and the change feed's vocabulary (the
// Change* kinds a store's Watch reports).
package sqlstore

import (
	"context"
	"database/sql"
)

// Scanner is a row to scan: *sql.Row or *sql.Rows.
type Scanner interface{ Scan(dest ...any) error }

// Querier runs queries: *sql.DB, *sql.Conn or *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Each runs query on q and calls scan for every row, stopping at the
// first error, which it returns unwrapped.
func Each(ctx context.Context, q Querier, query string, args []any, scan func(*sql.Rows) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// All runs query on q and returns what scan decodes of every row, in
// order, or the first error unwrapped.
func All[T any](ctx context.Context, q Querier, scan func(Scanner) (T, error), query string, args ...any) ([]T, error) {
	var out []T
	err := Each(ctx, q, query, args, func(rows *sql.Rows) error {
		v, err := scan(rows)
		if err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
