package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

// The ledger journal splits an append in two. AppendRecords makes a
// commit group durable with one narrow INSERT into ledger_journal (one
// row, the group's records in sqlstore's journal encoding), synced like
// every commit (synchronous=FULL by default): that is all an answered
// call waits for. The applier, a goroutine of the store, moves journal
// rows into usage_records, tag_sets and the hourly and daily rollups in
// its own transactions, and deletes the rows it applied in the same
// transaction (all but the newest, which keeps an empty body so that seq
// never goes back), so each row is applied exactly once; a record whose
// request id is already stored adds nothing to the rollups, so replay is
// idempotent too. Rows left by a crash are applied by Open before it
// returns.
//
// Readers of the ledger call barrier first: it waits until every row this
// process had committed when the read began is applied, so a read sees
// every record whose append returned (read-your-writes). With the
// journal drained the barrier is two atomic loads.
//
// The applier commits with synchronous=NORMAL (no fsync of its own): its
// frames follow the journal's in the WAL, so a crash that loses an
// applied transaction loses its deletion of the journal rows with it and
// the rows are applied again at the next open; the next FULL commit or
// checkpoint syncs them.

const (
	// The applier lets records gather so that one transaction applies
	// many: it applies once applyBatch records were appended since it
	// last started, or applyMaxDelay after that, whichever comes first
	// (and at once when a reader waits in barrier). Nothing of it is on
	// the request path: a larger transaction has fewer fixed costs per
	// record, and takes the writer from the appenders fewer times.
	applyBatch    = 64
	applyMaxDelay = 100 * time.Millisecond
	// applyMaxRows and applyMaxRecords bound one applying transaction, so
	// an appender never waits behind a long one: the writer connection
	// goes to whoever waited first, so between two applying transactions
	// the waiting commit group goes in. 256 records take a few
	// milliseconds; a group of 512 (the Batcher's largest) is applied
	// whole.
	applyMaxRows    = 256
	applyMaxRecords = 256
)

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

	mu       sync.Mutex
	progress chan struct{} // closed (and replaced) when applied advances or applying fails
	err      error         // the last applying error, nil once applying succeeds again
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

// applyLoop applies journal rows as they come, until stop.
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
				continue // nothing of this process's to apply
			}
		}
		j.mark.Store(j.appendedRecs.Load())
		if err := db.applyAll(context.Background()); err != nil {
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

// applyAll applies journal rows until none is left.
func (db *DB) applyAll(ctx context.Context) error {
	for {
		n, err := db.applyOnce(ctx)
		db.jr.settle(err)
		if err != nil || n == 0 {
			return err
		}
	}
}

// settle wakes the readers waiting in barrier after an applying attempt.
func (j *journal) settle(err error) {
	j.mu.Lock()
	j.err = err
	if j.progress != nil {
		close(j.progress)
		j.progress = nil
	}
	j.mu.Unlock()
}

// barrier waits until every journal row this process committed before
// the call is applied. It returns at once when the journal is drained;
// otherwise it asks the applier to apply now and waits for it, returning
// ctx's error or the applier's.
func (db *DB) barrier(ctx context.Context) error {
	j := &db.jr
	target := j.appended.Load()
	for j.applied.Load() < target {
		j.mu.Lock()
		if j.applied.Load() >= target {
			j.mu.Unlock()
			break
		}
		if j.progress == nil {
			j.progress = make(chan struct{})
		}
		ch := j.progress
		j.mu.Unlock()
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
		j.mu.Lock()
		err := j.err
		j.mu.Unlock()
		if err != nil && j.applied.Load() < target {
			return err
		}
	}
	return nil
}

// encoders holds journal encoders between appends.
var encoders = sync.Pool{New: func() any { return new(sqlstore.JournalEncoder) }}

// AppendRecords implements ledger.Writer: it makes recs durable as one
// journal row (one synced commit) and leaves the rest to the applier.
// Records are visible to this store's readers once it returns.
func (db *DB) AppendRecords(ctx context.Context, recs []ledger.Record) error {
	if len(recs) == 0 {
		return nil
	}
	e := encoders.Get().(*sqlstore.JournalEncoder)
	body := e.Encode(recs)
	res, err := db.insJournal.ExecContext(ctx, body)
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

// applyOnce applies the oldest journal rows (at most applyMaxRows rows or
// about applyMaxRecords records) in one transaction that also deletes
// them, and returns how many rows it applied.
func (db *DB) applyOnce(ctx context.Context) (int, error) {
	// Every row this process committed up to now is visible to the
	// transaction below; if it finds none left to apply, another process
	// opening the same database applied them.
	appended := db.jr.appended.Load()
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return 0, internal(err, "applier connection")
	}
	relaxed := false
	if db.sync != "NORMAL" {
		// The journal rows' own commits were synced; this transaction
		// need not be (see the comment at the top of the file).
		if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = NORMAL`); err != nil {
			conn.Close()
			return 0, internal(err, "applier synchronous")
		}
		relaxed = true
	}
	n, maxSeq, applyErr := db.applyOn(ctx, conn)
	if relaxed {
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = `+db.sync); err != nil {
			// Never hand a relaxed connection back to the appenders:
			// the pool drops a connection that reports ErrBadConn, and
			// the next one is opened with the DSN's pragmas.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			conn.Close()
			return 0, errors.Join(applyErr, internal(err, "applier synchronous"))
		}
	}
	conn.Close()
	if applyErr != nil {
		return 0, applyErr
	}
	if n == 0 {
		maxSeq = appended
	}
	for {
		cur := db.jr.applied.Load()
		if maxSeq <= cur || db.jr.applied.CompareAndSwap(cur, maxSeq) {
			break
		}
	}
	return n, nil
}

// applyOn runs applyOnce's transaction on conn.
func (db *DB) applyOn(ctx context.Context, conn *sql.Conn) (int, int64, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, internal(err, "begin apply")
	}
	defer tx.Rollback()
	rows, err := tx.StmtContext(ctx, db.selJournal).QueryContext(ctx, applyMaxRows)
	if err != nil {
		return 0, 0, internal(err, "read journal")
	}
	var recs []ledger.Record
	var maxSeq int64
	n := 0
	intern := map[string]string{}
	for rows.Next() {
		var seq int64
		var body []byte
		if err := rows.Scan(&seq, &body); err != nil {
			rows.Close()
			return 0, 0, internal(err, "read journal")
		}
		if len(body) == 0 {
			continue // applied: kept only to hold the highest seq
		}
		if recs, err = sqlstore.DecodeJournal(body, recs, intern); err != nil {
			rows.Close()
			return 0, 0, internal(fmt.Errorf("journal row %d: %w", seq, err), "decode journal")
		}
		maxSeq, n = seq, n+1
		if len(recs) >= applyMaxRecords {
			break
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, 0, internal(err, "read journal")
	}
	if n == 0 {
		return 0, 0, nil
	}
	local := map[string]int64{}
	if err := db.applyRecords(ctx, tx, local, recs); err != nil {
		return 0, 0, err
	}
	if _, err := tx.StmtContext(ctx, db.delJournal).ExecContext(ctx, maxSeq); err != nil {
		return 0, 0, internal(err, "delete journal")
	}
	if _, err := tx.StmtContext(ctx, db.markJournal).ExecContext(ctx, maxSeq); err != nil {
		return 0, 0, internal(err, "mark journal")
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, internal(err, "commit apply")
	}
	db.tagMu.Lock()
	for c, id := range local {
		db.tagIDs[c] = id
	}
	db.tagMu.Unlock()
	return n, maxSeq, nil
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
