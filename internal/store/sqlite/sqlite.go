// Package sqlite is Tollgate's embedded store: SQLite through the pure-Go
// modernc.org/sqlite driver, in WAL mode, with embedded forward-only
// migrations run at open. It implements the store interfaces the domain
// packages declare.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is an open Tollgate SQLite database. It keeps one connection for
// writes (SQLite has one writer) and a pool for reads, and two
// connections to the ledger journal's file (journal.go). Safe for
// concurrent use.
type DB struct {
	w *sql.DB // single writer connection
	r *sql.DB // readers

	// ConsoleSessions is the console session store (session.Store) on
	// this dialect's statements (console.go).
	sqlstore.ConsoleSessions

	tagMu  sync.Mutex
	tagIDs map[string]int64 // canonical tag set -> id, for committed sets

	// jw and jc are the ledger journal file's connections: jw appends,
	// jc is the applier's (journal.go); jmu orders their writes.
	jw, jc *sql.DB
	jmu    sync.Mutex
	// noJournalCheckpoint leaves the journal file's WAL uncheckpointed
	// (Options.noCheckpoint).
	noJournalCheckpoint bool
	// onTrim, when set (by tests), is called after each trim of the
	// journal file, holding jr.trimMu.
	onTrim func()
	// onApply, when set (by tests), is called after each applying
	// transaction that applied rows, with their number.
	onApply func(rows int)

	// insJournal appends to the journal file and selJournal reads it;
	// selApplied, delApplied and insApplied read and record the applied
	// journal seq in the main database; insRecord, upRollup and upDaily
	// are the applier's (journal.go). All are prepared once so they are
	// not parsed again.
	insJournal, selJournal, selApplied, delApplied, insApplied, insRecord, upRollup, upDaily *sql.Stmt

	// sync is the synchronous pragma of the writers ("FULL" or "NORMAL").
	sync string
	// jr is the ledger journal's applier (journal.go).
	jr journal

	// coord is the single node's leases, budget pools and change feed
	// (coord.go).
	coord coord

	// ckpt is a connection of its own for the background checkpointer;
	// closing stopCkpt stops it and ckptDone closes when it has.
	ckpt     *sql.DB
	stopCkpt chan struct{}
	ckptDone chan struct{}
}

const (
	// checkpointInterval is how often the background checkpointer copies
	// committed WAL frames into the database file. No call waits for the
	// main database since the ledger journal has a file of its own, but
	// every checkpoint's fsync shares the disk with the journal's, and
	// those overlapping another sync take longer: at 2,000 calls/s, once
	// a second instead of every 100 ms gave p99 7.3-9.9 ms against
	// 8.9-13.7 ms (three alternated pairs, quiet machine). The WAL then
	// holds up to a second of applied records between checkpoints.
	checkpointInterval = time.Second
	// walBackstopPages is the WAL size (in pages, 40 MB at 4 KiB) past
	// which the writer checkpoints inside a commit, should the background
	// checkpointer fall behind. SQLite's default is 1000.
	walBackstopPages = 10000
)

// Options tunes Open.
type Options struct {
	// Synchronous is SQLite's synchronous pragma: "FULL" (default: a
	// committed transaction survives power loss) or "NORMAL" (survives a
	// process crash; faster).
	Synchronous string

	// noCheckpoint leaves the WAL uncheckpointed while the database is
	// open (no background checkpointer), so it only grows: the journal
	// crash test cuts it at byte offsets.
	noCheckpoint bool
}

// Open opens (creating if needed) the database file at path and the
// ledger journal file beside it (JournalPath), runs the migrations and
// applies what the journal holds.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	sync := strings.ToUpper(opts.Synchronous)
	if sync == "" {
		sync = "FULL"
	}
	if sync != "FULL" && sync != "NORMAL" {
		return nil, fmt.Errorf("sqlite: synchronous must be FULL or NORMAL, not %q", opts.Synchronous)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	dsn := "file:" + abs + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(" + sync + ")&_txlock=immediate"
	// The writer checkpoints by itself only past walBackstopPages; below
	// that the background checkpointer (checkpointLoop) does it.
	w, err := sql.Open("sqlite", dsn+"&_pragma=wal_autocheckpoint("+strconv.Itoa(walBackstopPages)+")")
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", dsn+"&mode=ro")
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(4)
	db := &DB{w: w, r: r, tagIDs: map[string]int64{}, sync: sync}
	db.ConsoleSessions = sqlstore.ConsoleSessions{W: w, R: r, E: errs, SQL: consoleSQL}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if db.insRecord, err = db.w.PrepareContext(ctx, insertRecord); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: prepare append: %w", err)
	}
	if db.upDaily, err = db.w.PrepareContext(ctx, upsertDaily); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: prepare daily rollup: %w", err)
	}
	if db.upRollup, err = db.w.PrepareContext(ctx, upsertRollup); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: prepare rollup: %w", err)
	}
	if db.ckpt, err = sql.Open("sqlite", dsn); err != nil {
		db.Close()
		return nil, err
	}
	db.ckpt.SetMaxOpenConns(1)
	if err := db.openJournal(ctx, abs, sync, opts.noCheckpoint); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open the ledger journal %s: %w", JournalPath(abs), err)
	}
	// Records a crash left in the journal are applied before the store
	// is used.
	if err := db.recoverJournal(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: apply the ledger journal: %w", err)
	}
	if !opts.noCheckpoint {
		db.stopCkpt, db.ckptDone = make(chan struct{}), make(chan struct{})
		go db.checkpointLoop()
	}
	db.startApplier()
	return db, nil
}

// checkpointLoop runs a PASSIVE checkpoint every checkpointInterval on its
// own connection. A passive checkpoint neither waits for nor blocks the
// writer, so the copying and the fsyncs it does stay off the commit path.
// Left to the writer, SQLite's automatic checkpoint runs inside a commit
// every 1000 WAL pages (a few times a second under load) and its fsyncs
// stall every append queued behind it. Once a checkpoint has copied every
// frame, the next commit restarts the WAL from its beginning, so the WAL
// stays small; the writer's own checkpoint remains as a backstop at
// walBackstopPages.
func (db *DB) checkpointLoop() {
	defer close(db.ckptDone)
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	for {
		select {
		case <-db.stopCkpt:
			return
		case <-t.C:
		}
		// Errors (SQLITE_BUSY while another checkpoint runs) only delay
		// the copying to the next tick.
		_, _ = db.ckpt.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
	}
}

// Close closes the database. The ledger journal is applied first, so a
// store closed cleanly leaves none (one left would be applied at the next
// Open).
func (db *DB) Close() error {
	var errs []error
	if db.jr.stop != nil {
		db.stopApplier()
		err := db.applyAll(context.Background())
		if err == nil {
			err = db.trimJournal(context.Background(), true)
		}
		errs = append(errs, err)
	}
	if db.stopCkpt != nil {
		close(db.stopCkpt)
		<-db.ckptDone
		db.stopCkpt = nil
	}
	if db.ckpt != nil {
		errs = append(errs, db.ckpt.Close())
	}
	for _, st := range []*sql.Stmt{db.insJournal, db.selJournal, db.selApplied, db.delApplied, db.insApplied, db.insRecord, db.upRollup, db.upDaily} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	for _, j := range []*sql.DB{db.jc, db.jw} {
		if j != nil {
			errs = append(errs, j.Close())
		}
	}
	return errors.Join(append(errs, db.r.Close(), db.w.Close())...)
}

// Ping checks the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.r.PingContext(ctx) }

// migrator runs the embedded migrations on the writer.
var migrator = sqlstore.Migrator{
	Name:        "sqlite",
	FS:          migrations,
	Table:       `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)`,
	Placeholder: func(int) string { return "?" },
}

func (db *DB) migrate(ctx context.Context) error { return migrator.Migrate(ctx, db.w) }

// SchemaVersion returns the highest applied migration version.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	return sqlstore.SchemaVersion(ctx, db.r)
}

// Schema returns the database schema as SQL text, for the golden test.
func (db *DB) Schema(ctx context.Context) (string, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY type DESC, name`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return "", err
		}
		b.WriteString(s)
		b.WriteString(";\n")
	}
	return b.String(), rows.Err()
}

// errs sorts SQLite's errors: its constraint violations by their
// extended result code; every other error is unexpected.
var errs = sqlstore.Errors{Classify: func(err error) sqlstore.Class {
	var se *sqlite.Error
	if !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_CONSTRAINT {
		return sqlstore.Unexpected
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return sqlstore.Unique
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return sqlstore.ForeignKey
	}
	return sqlstore.Constraint
}}

// isConstraint reports whether err is a SQLite constraint violation.
func isConstraint(err error) bool { return errs.IsConstraint(err) }

// internal wraps an unexpected database error of the operation op.
func internal(err error, op string) error { return errs.Internal(err, op) }

// inTx runs f in a transaction of the writer and commits it when f
// succeeds; errors from f are returned unchanged.
func (db *DB) inTx(ctx context.Context, op string, f func(tx *sql.Tx) error) error {
	return sqlstore.InTx(ctx, db.w, errs, op, f)
}
