package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

// The ledger journal splits an append in two. AppendRecords makes a
// commit group durable with one narrow INSERT into the journal, a SQLite
// database file of its own beside the main one (JournalPath): one row,
// the group's records in sqlstore's journal encoding, synced like every
// commit (synchronous=FULL by default). That is all an answered call
// waits for. Nobody else writes the journal file, so an append never
// waits for the main database's single writer (an applying transaction,
// or any other write), and its fsync syncs its own frames only, not the
// pages other transactions left unsynced in the main database's WAL.
//
// The applier, a goroutine of the store, moves journal rows into
// usage_records, tag_sets and the hourly and daily rollups of the main
// database in its own transactions. Each records, in the same
// transaction, the highest journal seq it applied (the main database's
// table ledger_journal keeps that one row, with an empty body), and
// applies only the rows above the recorded seq, so a row is applied
// exactly once whatever the journal file still holds; a record whose
// request id is stored already adds nothing to the rollups, so replay is
// idempotent too. The applying transaction commits with the configured
// synchronous setting, so an applied row is as durable in the main
// database as it was in the journal; only then may it leave the journal
// file: trimJournal, at most every journalTrimInterval, deletes the
// applied rows in a small transaction of its own (keeping the newest with
// an empty body, so that seq never goes back) and checkpoints the
// journal file, off the request path (its wal_autocheckpoint is off).
// Rows a crash left are applied by Open before it returns; a journal file
// younger than the main database's applied seq (lost, or replaced) is
// given a row at that seq first, so its new seqs start above it.
//
// Upgrade: before the journal had a file of its own, its rows lived in
// the main database's ledger_journal. Open applies those a crash of that
// version left there first, each transaction deleting what it applied;
// the newest stays with an empty body and is the applied seq the journal
// file's seqs continue from.
//
// Readers of the ledger call barrier first: it waits until every row this
// process had committed when the read began is applied, so a read sees
// every record whose append returned (read-your-writes). With the
// journal drained the barrier is two atomic loads.
//
// The journal file has two connections: jw for the appends, synchronous
// as configured, and jc for the applier's reads, trims and checkpoints,
// synchronous=NORMAL (a trim lost in a crash only brings back rows whose
// seq is applied; the next append's or checkpoint's sync makes it
// durable). Writes on either take jmu first, so an append never meets the
// trim's lock inside SQLite, whose busy handler sleeps a millisecond at
// least.

const (
	// The applier lets records gather so that one transaction applies
	// many: it applies once applyBatch records were appended since it
	// last started, or applyMaxDelay after that, whichever comes first
	// (and at once when a reader waits in barrier). Nothing of it is on
	// the request path: a larger transaction has fewer fixed costs (its
	// fsync, and the rollup pages it rewrites, among them) per record.
	// BenchmarkJournalApply (1,000 rollup keys): transactions of up to
	// 1,024 records cost 53-61 µs of CPU a record against 57-67 µs at
	// 256 (2,048: 44-45 µs, most of it because more of a transaction's
	// records then share a rollup row, which depends on the traffic).
	applyBatch    = 512
	applyMaxDelay = 100 * time.Millisecond
	// applyMaxRows and applyMaxRecords bound one applying transaction,
	// so that a reader in barrier or another writer of the main database
	// does not wait long for it: about 60 ms at 1,024 records. A group of
	// 512 (the Batcher's largest) is applied whole.
	applyMaxRows    = 1024
	applyMaxRecords = 1024

	// journalTrimInterval is how often, at most, the applier deletes
	// applied rows from the journal file and checkpoints it.
	journalTrimInterval = 100 * time.Millisecond
	// journalWALPages is the journal WAL's size (in frames, 4 MB at
	// 4 KiB pages) past which the applier, after a checkpoint beside the
	// appends, checkpoints again holding jmu: with no append in between,
	// that one finishes the copying and the next append starts the WAL
	// again from its beginning, so the WAL stays bounded under any load.
	// The appends wait for it (a few frames copied and a sync) about once
	// per journalWALPages commits.
	journalWALPages = 1000
)

// JournalPath returns the path of the ledger journal file that goes with
// the main database file at path. The journal's WAL and shared-memory
// files add "-wal" and "-shm" to it, as the main database's do.
func JournalPath(path string) string { return path + ".journal" }

// journal is the applier's state.
type journal struct {
	appended atomic.Int64 // highest journal seq this process committed
	applied  atomic.Int64 // highest journal seq applied (by anyone)

	appendedRecs atomic.Int64 // records this process appended
	mark         atomic.Int64 // appendedRecs when the applier last started applying

	kick   chan struct{} // applyBatch records were appended (buffered 1)
	urgent chan struct{} // a reader waits in barrier (buffered 1)
	stop   chan struct{} // closed by Close
	done   chan struct{} // closed when the applier returns

	// rounds ends after every applying attempt: applied advanced, or
	// applying failed (its Err, nil once applying succeeds again).
	rounds sqlstore.Rounds

	trimMu   sync.Mutex
	trimmed  int64     // highest seq trimJournal left in the journal file as applied
	lastTrim time.Time // when trimJournal last ran
}

// openJournal opens (creating if needed) the journal file of the main
// database file at abs, with the synchronous setting sync for appends,
// and prepares its statements.
func (db *DB) openJournal(ctx context.Context, abs, sync string, noCheckpoint bool) error {
	dsn := "file:" + JournalPath(abs) + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=wal_autocheckpoint(0)&_txlock=immediate"
	var err error
	if db.jw, err = sql.Open("sqlite", dsn+"&_pragma=synchronous("+sync+")"); err != nil {
		return err
	}
	db.jw.SetMaxOpenConns(1)
	if db.jc, err = sql.Open("sqlite", dsn+"&_pragma=synchronous(NORMAL)"); err != nil {
		return err
	}
	db.jc.SetMaxOpenConns(1)
	db.noJournalCheckpoint = noCheckpoint
	if _, err := db.jw.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS ledger_journal (
    seq  INTEGER PRIMARY KEY,
    body BLOB    NOT NULL
)`); err != nil {
		return fmt.Errorf("create the journal: %w", err)
	}
	for _, p := range []struct {
		st  **sql.Stmt
		on  *sql.DB
		sql string
	}{
		{&db.insJournal, db.jw, `INSERT INTO ledger_journal (body) VALUES (?)`},
		{&db.selJournal, db.jc, `SELECT seq, body FROM ledger_journal WHERE seq > ? ORDER BY seq LIMIT ?`},
		{&db.selApplied, db.w, `SELECT coalesce(max(seq), 0) FROM ledger_journal`},
		{&db.delApplied, db.w, `DELETE FROM ledger_journal WHERE seq < ?`},
		{&db.insApplied, db.w, `INSERT INTO ledger_journal (seq, body) VALUES (?, x'')`},
	} {
		if *p.st, err = p.on.PrepareContext(ctx, p.sql); err != nil {
			return fmt.Errorf("prepare %q: %w", p.sql, err)
		}
	}
	return nil
}

// recoverJournal applies what a crash left: first the rows of the
// journal in the main database (of the version before the journal file),
// then the journal file's rows above the applied seq. A journal file
// whose seqs are all below the applied seq gets a row at it, so that new
// seqs go above.
func (db *DB) recoverJournal(ctx context.Context) error {
	if err := db.applyLegacy(ctx); err != nil {
		return err
	}
	var applied, top int64
	if err := db.selApplied.QueryRowContext(ctx).Scan(&applied); err != nil {
		return internal(err, "read applied journal seq")
	}
	if err := db.jc.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM ledger_journal`).Scan(&top); err != nil {
		return internal(err, "read journal")
	}
	if top < applied {
		if _, err := db.jw.ExecContext(ctx, `INSERT INTO ledger_journal (seq, body) VALUES (?, x'')`, applied); err != nil {
			return internal(err, "start journal")
		}
		top = applied
	}
	db.jr.applied.Store(applied)
	db.jr.appended.Store(top)
	if err := db.applyAll(ctx); err != nil {
		return err
	}
	return db.trimJournal(ctx, true)
}

// applyLegacy applies the rows left in the main database's
// ledger_journal by a crash of the version before the journal file, in
// transactions that delete them, keeping the newest (emptied) as the
// applied seq.
func (db *DB) applyLegacy(ctx context.Context) error {
	for {
		n := 0
		err := db.inTx(ctx, "apply legacy journal", func(tx *sql.Tx) error {
			rows, err := tx.QueryContext(ctx, `SELECT seq, body FROM ledger_journal WHERE length(body) > 0 ORDER BY seq LIMIT ?`, applyMaxRows)
			if err != nil {
				return internal(err, "read legacy journal")
			}
			recs, maxSeq, k, err := readJournal(rows)
			if err != nil || k == 0 {
				return err
			}
			n = k
			if err := db.applyRecords(ctx, tx, map[string]int64{}, recs); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM ledger_journal WHERE seq < ?`, maxSeq); err != nil {
				return internal(err, "delete legacy journal")
			}
			if _, err := tx.ExecContext(ctx, `UPDATE ledger_journal SET body = x'' WHERE seq = ?`, maxSeq); err != nil {
				return internal(err, "mark legacy journal")
			}
			return nil
		})
		if err != nil || n == 0 {
			return err
		}
		// Tag set ids the transaction stored stay out of the cache: the
		// next lookup finds them in tag_sets.
	}
}

// readJournal reads journal rows (seq, body) in seq order, skipping the
// emptied ones, until applyMaxRecords records; it returns their records,
// the highest seq read and how many rows it decoded. It closes rows.
func readJournal(rows *sql.Rows) ([]ledger.Record, int64, int, error) {
	defer rows.Close()
	var recs []ledger.Record
	var maxSeq int64
	n := 0
	intern := map[string]string{}
	for rows.Next() {
		var seq int64
		var body []byte
		if err := rows.Scan(&seq, &body); err != nil {
			return nil, 0, 0, internal(err, "read journal")
		}
		if len(body) == 0 {
			continue // applied: kept only to hold the highest seq
		}
		var err error
		if recs, err = sqlstore.DecodeJournal(body, recs, intern); err != nil {
			return nil, 0, 0, internal(fmt.Errorf("journal row %d: %w", seq, err), "decode journal")
		}
		maxSeq, n = seq, n+1
		if len(recs) >= applyMaxRecords {
			break
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, 0, 0, internal(err, "read journal")
	}
	return recs, maxSeq, n, nil
}

// startApplier starts the applier goroutine.
func (db *DB) startApplier() {
	j := &db.jr
	j.kick, j.urgent = make(chan struct{}, 1), make(chan struct{}, 1)
	j.stop, j.done = make(chan struct{}), make(chan struct{})
	go db.applyLoop()
}

// stopApplier stops the applier, if it runs, and waits for it.
func (db *DB) stopApplier() {
	j := &db.jr
	if j.stop == nil {
		return
	}
	close(j.stop)
	<-j.done
	j.stop = nil
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// applyLoop applies journal rows as they come, and trims the journal
// file behind them, until stop.
func (db *DB) applyLoop() {
	j := &db.jr
	defer close(j.done)
	retry := 10 * time.Millisecond
	tick := time.NewTicker(applyMaxDelay)
	defer tick.Stop()
	for {
		select {
		case <-j.stop:
			return
		case <-j.kick:
		case <-j.urgent:
		case <-tick.C:
			if j.applied.Load() >= j.appended.Load() {
				// Nothing of this process's to apply; what was
				// applied may still wait to leave the journal file.
				_ = db.trimJournal(context.Background(), false)
				continue
			}
		}
		j.mark.Store(j.appendedRecs.Load())
		if err := db.applyTrimming(context.Background()); err != nil {
			// Readers waiting in barrier get the error; the rows stay in
			// the journal and are tried again.
			signal(j.kick)
			select {
			case <-j.stop:
				return
			case <-time.After(retry):
			}
			retry = min(2*retry, 2*time.Second)
			continue
		}
		retry = 10 * time.Millisecond
	}
}

// applyTrimming applies the journal rows there are, in one transaction
// or, when they fill one (a backlog), in as many full ones as there are
// and one more, trimming the journal file after each (at most every
// journalTrimInterval). It does not chase the rows appended while it
// applied: under a steady load there is always one more, and a
// transaction per handful of records would sync the main database's WAL
// dozens of times a second beside the appends' own syncs, which are
// slower while another sync of this process is in flight (a runtime
// trace at 1,000 calls/s: 82 applying transactions a second, and the
// appends' syncs that overlapped one took twice as long at the median).
// Those rows wait for the next kick, tick or reader.
func (db *DB) applyTrimming(ctx context.Context) error {
	for {
		_, full, err := db.applyOnce(ctx)
		db.jr.rounds.End(err)
		if err == nil {
			err = db.trimJournal(ctx, false)
		}
		if err != nil || !full {
			return err
		}
	}
}

// applyAll applies journal rows until none is left.
func (db *DB) applyAll(ctx context.Context) error {
	for {
		n, _, err := db.applyOnce(ctx)
		db.jr.rounds.End(err)
		if err != nil || n == 0 {
			return err
		}
	}
}

// barrier waits until every journal row this process committed before
// the call is applied. It returns at once when the journal is drained;
// otherwise it asks the applier to apply now and waits for it, returning
// ctx's error or the applier's.
func (db *DB) barrier(ctx context.Context) error {
	j := &db.jr
	target := j.appended.Load()
	for j.applied.Load() < target {
		ch := j.rounds.Next()
		if j.applied.Load() >= target {
			break
		}
		signal(j.urgent)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-j.done:
			// No applier (the store is closing): apply here.
			if err := db.applyAll(ctx); err != nil {
				return err
			}
			continue
		case <-ch:
		}
		if err := j.rounds.Err(); err != nil && j.applied.Load() < target {
			return err
		}
	}
	return nil
}

// encoders holds journal encoders between appends.
var encoders = sync.Pool{New: func() any { return new(sqlstore.JournalEncoder) }}

// AppendRecords implements ledger.Writer: it makes recs durable as one
// row of the journal file (one synced commit) and leaves the rest to the
// applier. Records are visible to this store's readers once it returns.
func (db *DB) AppendRecords(ctx context.Context, recs []ledger.Record) error {
	if len(recs) == 0 {
		return nil
	}
	e := encoders.Get().(*sqlstore.JournalEncoder)
	body := e.Encode(recs)
	db.jmu.Lock()
	res, err := db.insJournal.ExecContext(ctx, body)
	db.jmu.Unlock()
	encoders.Put(e)
	if err != nil {
		return internal(err, "append journal")
	}
	seq, err := res.LastInsertId()
	if err != nil {
		return internal(err, "append journal")
	}
	for {
		cur := db.jr.appended.Load()
		if seq <= cur || db.jr.appended.CompareAndSwap(cur, seq) {
			break
		}
	}
	if total := db.jr.appendedRecs.Add(int64(len(recs))); db.jr.kick != nil && total-db.jr.mark.Load() >= applyBatch {
		signal(db.jr.kick)
	}
	return nil
}

// applyOnce applies the oldest journal rows above the applied seq (at
// most applyMaxRows rows or about applyMaxRecords records) in one
// transaction of the main database that also records the new applied
// seq, and returns how many rows it applied and whether they filled the
// transaction (so that more may be left).
func (db *DB) applyOnce(ctx context.Context) (int, bool, error) {
	// Every row this process committed up to now is visible to the
	// read below; if it finds none left to apply, another process
	// opening the same database applied them.
	appended := db.jr.appended.Load()
	n, maxSeq, full, err := db.applyTx(ctx)
	if err != nil {
		return 0, false, err
	}
	if n == 0 {
		maxSeq = appended
	} else if db.onApply != nil {
		db.onApply(n)
	}
	for {
		cur := db.jr.applied.Load()
		if maxSeq <= cur || db.jr.applied.CompareAndSwap(cur, maxSeq) {
			break
		}
	}
	return n, full, nil
}

// applyTx runs applyOnce's transaction.
func (db *DB) applyTx(ctx context.Context) (n int, maxSeq int64, full bool, err error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, false, internal(err, "begin apply")
	}
	defer tx.Rollback()
	// The applied seq is read under the main database's write lock: no
	// other process can apply meanwhile.
	var applied int64
	if err := tx.StmtContext(ctx, db.selApplied).QueryRowContext(ctx).Scan(&applied); err != nil {
		return 0, 0, false, internal(err, "read applied journal seq")
	}
	rows, err := db.selJournal.QueryContext(ctx, applied, applyMaxRows)
	if err != nil {
		return 0, 0, false, internal(err, "read journal")
	}
	recs, maxSeq, n, err := readJournal(rows)
	if err != nil || n == 0 {
		return 0, 0, false, err
	}
	local := map[string]int64{}
	if err := db.applyRecords(ctx, tx, local, recs); err != nil {
		return 0, 0, false, err
	}
	if _, err := tx.StmtContext(ctx, db.delApplied).ExecContext(ctx, maxSeq); err != nil {
		return 0, 0, false, internal(err, "record applied journal seq")
	}
	if _, err := tx.StmtContext(ctx, db.insApplied).ExecContext(ctx, maxSeq); err != nil {
		return 0, 0, false, internal(err, "record applied journal seq")
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, false, internal(err, "commit apply")
	}
	db.tagMu.Lock()
	for c, id := range local {
		db.tagIDs[c] = id
	}
	db.tagMu.Unlock()
	return n, maxSeq, n >= applyMaxRows || len(recs) >= applyMaxRecords, nil
}

// trimJournal deletes the applied rows from the journal file, keeping the
// newest applied one with an empty body (so seqs never go back), and
// checkpoints the journal file. Unless now, it does nothing within
// journalTrimInterval of its last run. The rows it deletes are applied in
// a committed transaction of the main database (applyTx), synced as
// configured.
func (db *DB) trimJournal(ctx context.Context, now bool) error {
	j := &db.jr
	j.trimMu.Lock()
	defer j.trimMu.Unlock()
	if !now && time.Since(j.lastTrim) < journalTrimInterval {
		return nil
	}
	j.lastTrim = time.Now()
	applied := j.applied.Load()
	if applied > j.trimmed {
		db.jmu.Lock()
		err := db.trimTx(ctx, applied)
		db.jmu.Unlock()
		if err != nil {
			return err
		}
		j.trimmed = applied
		if db.onTrim != nil {
			db.onTrim()
		}
	}
	if db.noJournalCheckpoint {
		return nil
	}
	// A passive checkpoint beside the appends, then, when the WAL is
	// long, another holding jmu: SQLite starts the WAL again from its
	// beginning only in a write transaction that begins after a
	// checkpoint copied every frame, which under a steady load of
	// appends the first never leaves (an append commits while it runs).
	// The second has the few frames appended meanwhile to copy.
	var busy, log, done int
	if err := db.jc.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &done); err != nil {
		return internal(err, "checkpoint journal")
	}
	if log >= journalWALPages {
		db.jmu.Lock()
		_, err := db.jc.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
		db.jmu.Unlock()
		if err != nil {
			return internal(err, "checkpoint journal")
		}
	}
	return nil
}

// trimTx deletes the journal file's rows up to applied in one transaction
// on jc.
func (db *DB) trimTx(ctx context.Context, applied int64) error {
	tx, err := db.jc.BeginTx(ctx, nil)
	if err != nil {
		return internal(err, "begin journal trim")
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM ledger_journal WHERE seq < ?`, applied); err != nil {
		return internal(err, "trim journal")
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO ledger_journal (seq, body) VALUES (?, x'')`, applied); err != nil {
		return internal(err, "trim journal")
	}
	if err := tx.Commit(); err != nil {
		return internal(err, "trim journal")
	}
	return nil
}

// rollupKey is a rollup's primary key after its hour or day
// (sqlstore.RollupKeyColumns).
type rollupKey struct {
	at                                                  int64
	account, regionServed, profileARN, model, principal string
	operation                                           string
	tagSet                                              int64
	scope, tier                                         string
	longContext, latencyOptimized                       bool
	region, unitKind                                    string
}

// rollupSums gathers what a transaction adds to each rollup row, in the
// order the rows were first met.
type rollupSums struct {
	index map[rollupKey]int
	keys  []rollupKey
	sums  []ledger.Record // the numeric fields summed; Operation, Outcome and Priced unused
	calls [][3]int64      // calls, errors, unpriced
}

func (s *rollupSums) add(k rollupKey, r *ledger.Record) {
	i, ok := s.index[k]
	if !ok {
		if s.index == nil {
			s.index = map[rollupKey]int{}
		}
		i = len(s.keys)
		s.index[k] = i
		s.keys = append(s.keys, k)
		s.sums = append(s.sums, ledger.Record{})
		s.calls = append(s.calls, [3]int64{})
	}
	d := &s.sums[i]
	d.InputTokens += r.InputTokens
	d.OutputTokens += r.OutputTokens
	d.CacheReadTokens += r.CacheReadTokens
	d.CacheWriteTokens += r.CacheWriteTokens
	d.CacheWrite1hTokens += r.CacheWrite1hTokens
	d.Cost += r.Cost
	d.InputCost += r.InputCost
	d.OutputCost += r.OutputCost
	d.CacheReadCost += r.CacheReadCost
	d.CacheWriteCost += r.CacheWriteCost
	d.CacheWrite1hCost += r.CacheWrite1hCost
	d.FixedCost += r.FixedCost
	d.Units += r.Units
	d.UnitCost += r.UnitCost
	calls, errs, unpriced := r.RollupCalls()
	c := &s.calls[i]
	c[0] += calls
	c[1] += errs
	c[2] += unpriced
}

// exec adds every gathered sum to its rollup row with stmt (upsertRollup
// or upsertDaily).
func (s *rollupSums) exec(ctx context.Context, stmt *sql.Stmt) error {
	for i, k := range s.keys {
		d, c := &s.sums[i], s.calls[i]
		if _, err := stmt.ExecContext(ctx, k.at, k.account, k.regionServed, k.profileARN, k.model, k.principal,
			k.operation, k.tagSet, k.scope, k.tier, sqlstore.Bool(k.longContext), sqlstore.Bool(k.latencyOptimized), k.region, k.unitKind,
			c[0], c[1], d.InputTokens, d.OutputTokens, d.CacheReadTokens, d.CacheWriteTokens,
			d.CacheWrite1hTokens, int64(d.Cost), int64(d.InputCost), int64(d.OutputCost),
			int64(d.CacheReadCost), int64(d.CacheWriteCost), int64(d.CacheWrite1hCost), int64(d.FixedCost), c[2],
			d.Units, int64(d.UnitCost)); err != nil {
			return err
		}
	}
	return nil
}

// applyRecords inserts recs into usage_records inside tx, skipping those
// whose request id is stored already, and adds the inserted ones to the
// hourly and daily rollups, summed per rollup row first.
func (db *DB) applyRecords(ctx context.Context, tx *sql.Tx, local map[string]int64, recs []ledger.Record) error {
	ins := tx.StmtContext(ctx, db.insRecord)
	defer ins.Close()
	var hourly, daily rollupSums
	for i := range recs {
		r := &recs[i]
		ts, err := db.tagSetID(ctx, tx, local, r.Tags)
		if err != nil {
			return internal(err, "tag set")
		}
		ms := sqlstore.MS(r.Time)
		res, err := ins.ExecContext(ctx, r.RequestID, ms, r.Account, r.Region, r.RegionServed, r.PrincipalID,
			r.ProfileARN, r.ProfileID, r.ModelID, r.Provider, r.Operation, r.InputTokens, r.OutputTokens,
			r.CacheReadTokens, r.CacheWriteTokens, r.LatencyMs, r.TTFTMs, r.Attempts, r.Outcome, r.ErrorCode,
			int64(r.Cost), int64(r.InputCost), int64(r.OutputCost), int64(r.CacheReadCost), int64(r.CacheWriteCost), sqlstore.Bool(r.Priced), ts, r.ServiceTier,
			r.Scope, sqlstore.Bool(r.LongContext), sqlstore.Bool(r.LatencyOptimized), r.CacheWrite1hTokens, int64(r.CacheWrite1hCost),
			int64(r.FixedCost), r.PriceVersion, r.CallCount(), r.Units, r.UnitKind, int64(r.UnitCost))
		if err != nil {
			return internal(err, "insert record")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			continue // already recorded: idempotent
		}
		k := rollupKey{account: r.Account, regionServed: r.RegionServed, profileARN: r.ProfileARN, model: r.ModelID,
			principal: r.PrincipalID, operation: r.Operation, tagSet: ts, scope: r.Scope, tier: r.ServiceTier,
			longContext: r.LongContext, latencyOptimized: r.LatencyOptimized, region: r.Region, unitKind: r.UnitKind}
		k.at = sqlstore.MS(r.Time.UTC().Truncate(time.Hour))
		hourly.add(k, r)
		k.at = sqlstore.MS(r.Time.UTC().Truncate(24 * time.Hour))
		daily.add(k, r)
	}
	up := tx.StmtContext(ctx, db.upRollup)
	defer up.Close()
	if err := hourly.exec(ctx, up); err != nil {
		return internal(err, "update rollup")
	}
	upDay := tx.StmtContext(ctx, db.upDaily)
	defer upDay.Close()
	if err := daily.exec(ctx, upDay); err != nil {
		return internal(err, "update rollup")
	}
	return nil
}
