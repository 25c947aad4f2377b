package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migrator applies a store's embedded, forward-only migrations: the files
// migrations/NNNN_name.sql of FS, in version order, each once, each in
// its own transaction together with its row in schema_migrations.
type Migrator struct {
	// Name prefixes the errors: the dialect ("sqlite", "postgres").
	Name string
	// FS holds the migrations under migrations/.
	FS fs.FS
	// Table creates schema_migrations (version, name, applied_at) if it
	// does not exist, in the dialect's types.
	Table string
	// Placeholder returns the dialect's n-th bind parameter (from 1).
	Placeholder func(n int) string
	// Lock, when set, takes a lock on conn that keeps other processes
	// from migrating at the same time, and returns what releases it.
	Lock func(ctx context.Context, conn *sql.Conn) (unlock func() error, err error)
}

// Migrate applies the pending migrations on one connection of db.
func (m Migrator) Migrate(ctx context.Context, db *sql.DB) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("%s: migrate: %w", m.Name, err)
	}
	defer conn.Close()
	if m.Lock != nil {
		unlock, err := m.Lock(ctx, conn)
		if err != nil {
			return fmt.Errorf("%s: migration lock: %w", m.Name, err)
		}
		defer func() {
			if uerr := unlock(); uerr != nil && err == nil {
				err = fmt.Errorf("%s: migration unlock: %w", m.Name, uerr)
			}
		}()
	}
	if _, err := conn.ExecContext(ctx, m.Table); err != nil {
		return fmt.Errorf("%s: migrations table: %w", m.Name, err)
	}
	names, err := fs.Glob(m.FS, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := path.Base(name)
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("%s: migration %s: bad version prefix", m.Name, base)
		}
		var n int
		if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = `+m.Placeholder(1), v).Scan(&n); err != nil {
			return fmt.Errorf("%s: migration %s: %w", m.Name, base, err)
		}
		if n > 0 {
			continue
		}
		body, err := fs.ReadFile(m.FS, name)
		if err != nil {
			return err
		}
		if err := m.apply(ctx, conn, v, base, string(body)); err != nil {
			return fmt.Errorf("%s: migration %s: %w", m.Name, base, err)
		}
	}
	return nil
}

// apply runs one migration and records it, in one transaction. A
// statement without parameters runs as a whole script in both drivers.
func (m Migrator) apply(ctx context.Context, conn *sql.Conn, version int, name, body string) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, body); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES (`+m.Placeholder(1)+`, `+m.Placeholder(2)+`)`, version, name); err != nil {
		return err
	}
	return tx.Commit()
}

// SchemaVersion returns the highest migration version applied to db.
func SchemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v sql.NullInt64
	err := db.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v)
	return int(v.Int64), err
}
