// Package postgres is Tollgate's scale-out store: PostgreSQL through pgx's
// database/sql driver, shared by any number of Tollgate replicas. It
// implements the same store interfaces as the embedded SQLite store, with
// hand-written PostgreSQL SQL, and runs its embedded forward-only
// migrations at open under an advisory lock, so replicas starting together
// migrate once.
//
// The usage ledger is partitioned by month; see the migrations and
// docs/scale-out.md for how idempotency and partitions fit together. An
// append makes its records durable in a narrow journal, which every
// replica's applier moves into the ledger and its rollups (journal.go).
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Advisory lock keys. PostgreSQL advisory locks are per database, so every
// Tollgate replica (and every schema in one database) shares them.
const (
	// lockMigrate serialises migrations: "tollgate" in ASCII.
	lockMigrate int64 = 0x746f6c6c67617465
	// lockPartitions serialises the creation of ledger partitions.
	lockPartitions = lockMigrate + 1
)

// DB is an open Tollgate PostgreSQL database: a pool of connections. Safe
// for concurrent use, by several processes at once.
type DB struct {
	db        *sql.DB
	url       string        // for Watch's dedicated connection
	channel   string        // the notification channel: ChannelFor the schema
	reconcile time.Duration // Watch's tick period
	log       *slog.Logger

	// ConsoleSessions is the console session store (session.Store) on
	// this dialect's statements (console.go).
	sqlstore.ConsoleSessions

	// mu guards the caches below. Both hold facts that never change once
	// committed, so they stay valid whatever other replicas do (except a
	// partition dropped by retention: see ensurePartitions).
	mu         sync.Mutex
	tagIDs     map[string]int64   // canonical tag set -> id
	tagsByID   map[int64]tags.Set // id -> tag set
	partitions map[int64]bool     // month start (unix ms) -> partition exists

	jr journal // the ledger journal's applier (journal.go)
}

// Options tunes Open.
type Options struct {
	// MaxConns bounds the pool's open connections. Default 16.
	MaxConns int
	// Reconcile is the period of Watch's reconciliation tick. Default
	// DefaultReconcile (30 s).
	Reconcile time.Duration
	// Logger logs what the store does in the background (a lost
	// listening connection). Default: discard.
	Logger *slog.Logger
}

// Open connects to the PostgreSQL database at url (a postgres:// URL or a
// key=value connection string, as pgx accepts; extra parameters such as
// search_path become session settings) and runs the migrations.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	if opts.MaxConns <= 0 {
		opts.MaxConns = 16
	}
	if opts.Reconcile <= 0 {
		opts.Reconcile = DefaultReconcile
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	sqldb, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	sqldb.SetMaxOpenConns(opts.MaxConns)
	sqldb.SetMaxIdleConns(opts.MaxConns)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	sqldb.SetConnMaxLifetime(time.Hour)
	db := &DB{
		db:         sqldb,
		url:        url,
		reconcile:  opts.Reconcile,
		log:        opts.Logger,
		tagIDs:     map[string]int64{"": 0},
		tagsByID:   map[int64]tags.Set{0: {}},
		partitions: map[int64]bool{},
	}
	db.ConsoleSessions = sqlstore.ConsoleSessions{W: sqldb, R: sqldb, E: errs, SQL: consoleSQL}
	if err := sqldb.PingContext(ctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := db.migrate(ctx); err != nil {
		sqldb.Close()
		return nil, err
	}
	var schema string
	if err := sqldb.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("postgres: current schema: %w", err)
	}
	db.channel = ChannelFor(schema)
	db.startApplier()
	return db, nil
}

// Close stops the ledger journal's applier, applies what is left of the
// journal (for at most drainTimeout; the rest waits for the next
// applier), and closes the pool.
func (db *DB) Close() error {
	db.drainJournal()
	return db.db.Close()
}

// Ping checks the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.db.PingContext(ctx) }

// migrator runs the embedded migrations while holding the migration
// advisory lock on its connection: a replica starting while another
// migrates waits, then finds nothing left to do.
var migrator = sqlstore.Migrator{
	Name: "postgres",
	FS:   migrations,
	Table: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`,
	Placeholder: func(n int) string { return "$" + strconv.Itoa(n) },
	Lock:        migrationLock,
}

// migrationLock takes lockMigrate on conn; the unlock it returns runs
// under a context of its own (a cancelled ctx must not leave the lock held
// by a connection that goes back to the pool), and when it fails discards
// the connection: closing the session releases the lock.
func migrationLock(ctx context.Context, conn *sql.Conn) (func() error, error) {
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, lockMigrate); err != nil {
		return nil, err
	}
	return func() error {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, err := conn.ExecContext(uctx, `SELECT pg_advisory_unlock($1)`, lockMigrate)
		if err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		return err
	}, nil
}

func (db *DB) migrate(ctx context.Context) error { return migrator.Migrate(ctx, db.db) }

// SchemaVersion returns the highest applied migration version.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	return sqlstore.SchemaVersion(ctx, db.db)
}

// Schema returns the schema of the tables the migrations built, as SQL-like
// text, for the golden test: every table of the current schema (not the
// ledger's monthly partitions) with its columns, constraints and indexes,
// in name order, with names unqualified.
func (db *DB) Schema(ctx context.Context) (string, error) {
	rows, err := db.db.QueryContext(ctx, `
		SELECT c.oid, c.relname, c.relkind = 'p',
			COALESCE(pg_get_partkeydef(c.oid), '')
		FROM pg_class c
		WHERE c.relnamespace = current_schema()::regnamespace
			AND c.relkind IN ('r', 'p') AND NOT c.relispartition
		ORDER BY c.relname COLLATE "C"`)
	if err != nil {
		return "", err
	}
	type table struct {
		oid         uint32
		name, part  string
		partitioned bool
	}
	var tables []table
	for rows.Next() {
		var t table
		if err := rows.Scan(&t.oid, &t.name, &t.partitioned, &t.part); err != nil {
			rows.Close()
			return "", err
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", err
	}
	var b strings.Builder
	for _, t := range tables {
		var lines []string
		cols, err := db.queryStrings(ctx, `
			SELECT quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
				|| CASE WHEN a.attidentity = 'd' THEN ' GENERATED BY DEFAULT AS IDENTITY'
					WHEN a.attidentity = 'a' THEN ' GENERATED ALWAYS AS IDENTITY' ELSE '' END
				|| CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
				|| COALESCE(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
			FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
			WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
			ORDER BY a.attnum`, t.oid)
		if err != nil {
			return "", err
		}
		lines = append(lines, cols...)
		cons, err := db.queryStrings(ctx, `
			SELECT 'CONSTRAINT ' || quote_ident(conname) || ' ' || pg_get_constraintdef(oid)
			FROM pg_constraint WHERE conrelid = $1 ORDER BY conname COLLATE "C"`, t.oid)
		if err != nil {
			return "", err
		}
		lines = append(lines, cons...)
		fmt.Fprintf(&b, "CREATE TABLE %s (\n    %s\n)", t.name, strings.Join(lines, ",\n    "))
		if t.partitioned {
			fmt.Fprintf(&b, " PARTITION BY %s", t.part)
		}
		b.WriteString(";\n")
		idx, err := db.queryStrings(ctx, `
			SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			WHERE i.indrelid = $1 AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid)
			ORDER BY c.relname COLLATE "C"`, t.oid)
		if err != nil {
			return "", err
		}
		for _, s := range idx {
			b.WriteString(s + ";\n")
		}
	}
	seqs, err := db.queryStrings(ctx, `
		SELECT 'CREATE SEQUENCE ' || c.relname || ' AS ' || format_type(s.seqtypid, NULL) || ';'
		FROM pg_class c JOIN pg_sequence s ON s.seqrelid = c.oid
		WHERE c.relnamespace = current_schema()::regnamespace
			AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'i')
		ORDER BY c.relname COLLATE "C"`)
	if err != nil {
		return "", err
	}
	for _, s := range seqs {
		b.WriteString(s + "\n")
	}
	var schema string
	if err := db.db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return "", err
	}
	return strings.ReplaceAll(b.String(), schema+".", ""), nil
}

func (db *DB) queryStrings(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := db.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// sqlState returns err's PostgreSQL SQLSTATE, or "".
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// errs sorts PostgreSQL's errors by SQLSTATE.
var errs = sqlstore.Errors{Classify: func(err error) sqlstore.Class {
	var ce *pgconn.ConnectError
	switch state := sqlState(err); {
	case state == "23505":
		return sqlstore.Unique
	case state == "23503":
		return sqlstore.ForeignKey
	case state == "23514": // check_violation: a row that fits no partition
		return sqlstore.NoPartition
	case strings.HasPrefix(state, "23"): // integrity constraint violation
		return sqlstore.Constraint
	case state == "40001", state == "40P01": // serialization failure, deadlock
		return sqlstore.Serialization
	case errors.As(err, &ce), errors.Is(err, driver.ErrBadConn),
		strings.HasPrefix(state, "08"),  // connection exception
		strings.HasPrefix(state, "53"),  // insufficient resources (too many connections)
		strings.HasPrefix(state, "57P"): // admin or crash shutdown, cannot connect now
		return sqlstore.Unavailable
	case state == "22021", state == "22P05":
		// character_not_in_repertoire, untranslatable_character: a NUL
		// or invalid UTF-8 in a string the request carried, which
		// PostgreSQL text and jsonb cannot hold.
		return sqlstore.BadText
	}
	return sqlstore.Unexpected
}}

// internal wraps an unexpected database error of the operation op.
func internal(err error, op string) error { return errs.Internal(err, op) }
