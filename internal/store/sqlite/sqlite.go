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
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is an open Tollgate SQLite database. It keeps one connection for
// writes (SQLite has one writer) and a pool for reads. Safe for concurrent
// use.
type DB struct {
	w *sql.DB // single writer connection
	r *sql.DB // readers

	tagMu  sync.Mutex
	tagIDs map[string]int64 // canonical tag set -> id, for committed sets

	// insRecord and upRollup are the ledger's statements, prepared once on
	// the writer so each append does not parse them again.
	insRecord, upRollup, upDaily *sql.Stmt

	// ckpt is a connection of its own for the background checkpointer;
	// closing stopCkpt stops it and ckptDone closes when it has.
	ckpt     *sql.DB
	stopCkpt chan struct{}
	ckptDone chan struct{}
}

const (
	// checkpointInterval is how often the background checkpointer copies
	// committed WAL frames into the database file.
	checkpointInterval = 100 * time.Millisecond
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
}

// Open opens (creating if needed) the database file at path and runs the
// migrations.
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
	db := &DB{w: w, r: r, tagIDs: map[string]int64{}}
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
	db.stopCkpt, db.ckptDone = make(chan struct{}), make(chan struct{})
	go db.checkpointLoop()
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

// Close closes the database.
func (db *DB) Close() error {
	var errs []error
	if db.stopCkpt != nil {
		close(db.stopCkpt)
		<-db.ckptDone
		db.stopCkpt = nil
	}
	if db.ckpt != nil {
		errs = append(errs, db.ckpt.Close())
	}
	for _, st := range []*sql.Stmt{db.insRecord, db.upRollup, db.upDaily} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(append(errs, db.r.Close(), db.w.Close())...)
}

// Ping checks the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.r.PingContext(ctx) }

func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)`); err != nil {
		return fmt.Errorf("sqlite: migrations table: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := filepath.Base(name)
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("sqlite: migration %s: bad version prefix", base)
		}
		var n int
		if err := db.w.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, v).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := db.w.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("sqlite: migration %s: %w", base, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES (?, ?)`, v, base); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// SchemaVersion returns the highest applied migration version.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := db.r.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v)
	return int(v.Int64), err
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

// isConstraint reports whether err is a SQLite constraint violation.
func isConstraint(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
	}
	return false
}

func internal(err error, op string) error {
	return errkind.Wrap(errkind.Internal, err, "internal error (%s)", op)
}
