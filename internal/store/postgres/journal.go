package postgres

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

// The ledger journal splits an append in two, as on SQLite
// (internal/store/sqlite/journal.go). AppendRecords makes a commit group
// durable with one narrow INSERT into ledger_journal (migration 0016): one
// row, the group's records in sqlstore's journal encoding, committed with
// the connection's durability (synchronous_commit on by default). That is
// all an answered call waits for.
//
// Every replica runs an applier, a goroutine of the store. It claims the
// oldest journal rows (FOR UPDATE SKIP LOCKED: appliers of several
// replicas take disjoint rows and never wait for each other's), deletes
// them and writes their records with writeRecords — request ids first (a
// COPY, which fails if one was recorded before; the transaction is then
// applied again with ON CONFLICT DO NOTHING), only the records whose id
// it inserted (a COPY), only those in the hourly and daily rollups
// (summed in Go, upserted in sorted key order) — all in one transaction.
// So a row is applied exactly once, by whichever replica claims it, and
// a request id counts once whatever replays it. A row left
// by a replica that died is applied by the next applier that polls (every
// applyInterval, on any replica, or at this store's next Open).
//
// The applying transaction commits with synchronous_commit off: its
// commit record follows, in the WAL, the journal rows' synced commits, so
// a crash loses it whole or not at all, and losing it loses the rows'
// deletion with it — the rows are applied again. The WAL writer flushes
// it within wal_writer_delay, or the next synced commit (any append)
// sooner.
//
// Readers of the ledger (records, rollups, the ledger version, exports,
// re-pricing) call barrier first: it waits until no journal row that was
// committed when the read began is left, so a read sees every record
// whose append returned before it, on this replica or any other. With the
// journal empty that is one indexed lookup.

const (
	// applyBatch records appended here since the applier last started
	// start it early; otherwise it starts every applyInterval (and at once
	// when a reader waits). A transaction applies at most applyMaxRows
	// rows, and stops after the row that brings it to applyMaxRecords.
	applyBatch      = 1024
	applyInterval   = 50 * time.Millisecond
	applyMaxRows    = 64
	applyMaxRecords = 4096
	// barrierPoll is how soon a reader waiting for rows another
	// replica's applier holds looks again, doubling up to barrierPollMax.
	barrierPoll    = 2 * time.Millisecond
	barrierPollMax = 50 * time.Millisecond
	// maxLag bounds the journal's backlog: records appended on this
	// replica less those its applier applied since it last found nothing
	// left to claim. Past it an append waits for the applier's next round
	// before it journals, so
	// a replica appending faster than the appliers apply slows to their
	// rate instead of growing the journal (and the wait of readers)
	// without bound.
	maxLag = 32 * 1024
	// drainTimeout bounds the applying Close does before closing the
	// pool; what is left stays for the next applier.
	drainTimeout = 10 * time.Second
)

// journal is the applier's state.
type journal struct {
	pending atomic.Int64 // records appended here since the applier last started
	lag     atomic.Int64 // records appended here less those applied here, 0 when the applier finds the journal drained (maxLag)
	applied atomic.Int64 // records this process applied (inserted or found stored)

	kick   chan struct{} // applyBatch records were appended (buffered 1)
	urgent chan struct{} // a reader waits in barrier (buffered 1)
	stop   chan struct{} // closed by Close (once: stopOnce)
	done   chan struct{} // closed when the applier returns

	stopOnce sync.Once

	// rounds ends after each applying round (its Err: the last round's
	// error, nil once one succeeds).
	rounds sqlstore.Rounds
}

// recordSlices holds the applier's decoded records between transactions
// (a few MB each: allocated afresh, they cost as much to clear and return
// to the system as to fill).
var recordSlices = sync.Pool{New: func() any { return new([]ledger.Record) }}

// encoders holds journal encoders between appends.
var encoders = sync.Pool{New: func() any { return new(sqlstore.JournalEncoder) }}

// AppendRecords implements ledger.Writer: it makes recs durable as one
// journal row (one commit) and leaves the rest to the appliers. A read
// that starts after it returns, on any replica, sees recs.
func (db *DB) AppendRecords(ctx context.Context, recs []ledger.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := checkText(recs); err != nil {
		return err
	}
	if err := db.jr.throttle(ctx); err != nil {
		return err
	}
	e := encoders.Get().(*sqlstore.JournalEncoder)
	_, err := db.db.ExecContext(ctx, `INSERT INTO ledger_journal (records, body) VALUES ($1, $2)`, len(recs), e.Encode(recs))
	encoders.Put(e)
	if err != nil {
		return internal(err, "append journal")
	}
	db.jr.lag.Add(int64(len(recs)))
	if db.jr.pending.Add(int64(len(recs))) >= applyBatch && db.jr.kick != nil {
		signal(db.jr.kick)
	}
	return nil
}

// throttle waits, while this replica's lag passes maxLag, for the
// applier's rounds. It does not wait when no applier runs or its last
// round failed (the journal still takes appends: only applying is held
// up), and returns ctx's error.
func (j *journal) throttle(ctx context.Context) error {
	for j.lag.Load() > maxLag {
		if j.rounds.Err() != nil || j.done == nil {
			return nil
		}
		ch := j.rounds.Next()
		if j.lag.Load() <= maxLag {
			break
		}
		signal(j.kick)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-j.done:
			return nil
		case <-ch:
		}
	}
	return nil
}

// badText is the client-safe message of a string PostgreSQL text cannot
// hold, as sqlstore.Errors.Internal words it for the class BadText.
const badText = "A string in the request contains a NUL character or invalid UTF-8, which cannot be stored."

// checkText refuses records carrying a string that PostgreSQL's text or
// jsonb cannot hold (a NUL byte, invalid UTF-8). The journal's bytea body
// would take it, but the applier could not write it: checked here, the
// append fails as it did when it wrote the records itself, instead of
// leaving a row no applier can apply.
func checkText(recs []ledger.Record) error {
	bad := func(s string) bool { return strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) }
	for i := range recs {
		r := &recs[i]
		for _, s := range [...]string{r.RequestID, r.Account, r.Region, r.RegionServed, r.PrincipalID, r.ProfileARN, r.ProfileID,
			r.ModelID, r.Provider, r.Operation, r.ServiceTier, r.Scope, r.Outcome, r.ErrorCode, r.PriceVersion} {
			if bad(s) {
				return errkind.Wrap(errkind.Invalid, fmt.Errorf("record %q: a field holds NUL or invalid UTF-8", r.RequestID), badText)
			}
		}
		for k, v := range r.Tags {
			if bad(k) || bad(v) {
				return errkind.Wrap(errkind.Invalid, fmt.Errorf("record %q: a tag holds NUL or invalid UTF-8", r.RequestID), badText)
			}
		}
	}
	return nil
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
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
	j.stopOnce.Do(func() { close(j.stop) })
	<-j.done
}

// applyLoop applies journal rows as they come, until stop. The first
// round runs at once: it applies what a crash left.
func (db *DB) applyLoop() {
	j := &db.jr
	defer close(j.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-j.stop:
			cancel() // a round in progress rolls back; its rows stay
		case <-j.done:
		}
	}()
	tick := time.NewTicker(applyInterval)
	defer tick.Stop()
	retry := 10 * time.Millisecond
	for {
		j.pending.Store(0)
		if err := db.applyAll(ctx); err != nil && ctx.Err() == nil {
			db.log.Error("ledger_journal_apply_failed", "err", err.Error())
			select {
			case <-j.stop:
				return
			case <-time.After(retry):
			}
			retry = min(2*retry, 2*time.Second)
			continue
		}
		retry = 10 * time.Millisecond
		select {
		case <-j.stop:
			return
		case <-j.kick:
		case <-j.urgent:
		case <-tick.C:
		}
	}
}

// applyAll applies journal rows until none is left to claim, and wakes
// the readers waiting in barrier after each round.
func (db *DB) applyAll(ctx context.Context) error {
	for {
		n, err := db.applyRetrying(ctx)
		if err == nil && n == 0 {
			db.jr.lag.Store(0) // nothing was left to claim
		}
		db.jr.rounds.End(err)
		if err != nil || n == 0 {
			return err
		}
	}
}

// applyRetrying is applyOnce, tried again after a deadlock or
// serialization failure (as appends were: appliers take their locks in
// one order, so this is insurance) or once after a partition this
// process knew was dropped by retention.
func (db *DB) applyRetrying(ctx context.Context) (int, error) {
	repeats := false
	for attempt := 1; ; attempt++ {
		n, err := db.applyOnce(ctx, repeats)
		switch class := errs.Class(err); {
		case errors.Is(err, errRepeatedID) && !repeats:
			// A request id was recorded before (an append replayed):
			// apply again, skipping such ids.
			repeats = true
			attempt--
			continue
		case class == sqlstore.NoPartition && attempt == 1:
			db.forgetPartitions()
			continue
		case class == sqlstore.Serialization && attempt < appendAttempts:
			continue
		}
		if err != nil {
			return 0, internal(err, "apply ledger journal")
		}
		return n, nil
	}
}

// claimJournal deletes the oldest journal rows no other transaction holds
// (at most $1 rows, and no more after the row that brings their records
// to $2 or more) and returns them; the deletion commits with their
// application or not at all. Rows it locked and left (past $2) stay
// locked until the transaction ends and are claimed by the next one.
const claimJournal = `WITH c AS (
	SELECT seq, records FROM ledger_journal ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED
), k AS (
	SELECT seq FROM (SELECT seq, sum(records) OVER (ORDER BY seq) - records AS before FROM c) AS x WHERE before < $2
)
DELETE FROM ledger_journal AS j USING k WHERE j.seq = k.seq
RETURNING j.seq, j.records, j.body`

// applyOnce applies, in one transaction, the oldest journal rows no
// other applier holds, and returns how many rows it applied.
func (db *DB) applyOnce(ctx context.Context, repeats bool) (int, error) {
	// One connection for the transaction and its COPY (writeRecords).
	conn, err := db.db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	// See the comment at the top of the file.
	if _, err := tx.ExecContext(ctx, `SELECT set_config('synchronous_commit', 'off', true)`); err != nil {
		return 0, err
	}
	type row struct {
		seq  int64
		body []byte
	}
	var rows []row
	total := 0
	err = sqlstore.Each(ctx, tx, claimJournal, []any{applyMaxRows, applyMaxRecords}, func(r *sql.Rows) error {
		var x row
		var n int
		if err := r.Scan(&x.seq, &n, &x.body); err != nil {
			return err
		}
		rows = append(rows, x)
		total += n
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("claim journal rows: %w", err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	// In seq order, so that of two records with one request id the one
	// appended first is kept (uniqueByRequestID keeps the first).
	slices.SortFunc(rows, func(a, b row) int { return cmp.Compare(a.seq, b.seq) })
	rp := recordSlices.Get().(*[]ledger.Record)
	decoded := slices.Grow((*rp)[:0], total)
	defer func() {
		clear(decoded) // hold on to no strings or tags
		*rp = decoded[:0]
		recordSlices.Put(rp)
	}()
	intern := map[string]string{}
	for _, x := range rows {
		if decoded, err = sqlstore.DecodeJournal(x.body, decoded, intern); err != nil {
			return 0, fmt.Errorf("journal row %d: %w", x.seq, err)
		}
	}
	journaled := int64(len(decoded))
	recs := uniqueByRequestID(decoded)
	if err := db.ensurePartitions(ctx, recs); err != nil {
		return 0, fmt.Errorf("create ledger partition: %w", err)
	}
	local, err := db.writeRecords(ctx, conn, tx, recs, repeats)
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	db.mu.Lock()
	for canon, id := range local {
		db.tagIDs[canon] = id
	}
	db.mu.Unlock()
	db.jr.applied.Add(int64(len(recs)))
	// The rows may be another replica's: then this replica's lag falls
	// early, and the other's stays until its applier finds the journal
	// drained. Either way appends wait only while some applier is behind.
	for {
		l := db.jr.lag.Load()
		if db.jr.lag.CompareAndSwap(l, max(0, l-journaled)) {
			break
		}
	}
	return len(rows), nil
}

// barrier waits until no journal row committed before the call is left,
// so that the read that follows sees every record appended before it, on
// any replica. It asks this replica's applier to apply at once, and waits
// for it, or for other replicas' appliers holding some of the rows; once
// the store is closing it applies itself. It returns ctx's error, or the
// applier's when the rows cannot be applied.
func (db *DB) barrier(ctx context.Context) error {
	var target sql.NullInt64
	if err := db.db.QueryRowContext(ctx, `SELECT max(seq) FROM ledger_journal`).Scan(&target); err != nil {
		return internal(err, "read ledger journal")
	}
	if !target.Valid {
		return nil
	}
	j := &db.jr
	wait := barrierPoll
	poll := time.NewTimer(wait)
	defer poll.Stop()
	for {
		ch := j.rounds.Next()
		var left bool
		if err := db.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM ledger_journal WHERE seq <= $1)`, target.Int64).Scan(&left); err != nil {
			return internal(err, "read ledger journal")
		}
		if !left {
			return nil
		}
		signal(j.urgent)
		poll.Reset(wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-j.done:
			// No applier (the store is closing): apply here, or wait
			// for the rows another replica's applier holds.
			n, err := db.applyRetrying(ctx)
			if err != nil {
				return err
			}
			if n == 0 {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-poll.C:
				}
			}
			continue
		case <-poll.C:
			// Perhaps another replica's applier took them: look again,
			// less often the longer it takes.
			wait = min(2*wait, barrierPollMax)
			continue
		case <-ch:
		}
		if err := j.rounds.Err(); err != nil {
			return err
		}
	}
}

// JournalBacklog returns how many journal rows, and records in them, wait
// for an applier: the ledger's lag behind the appends, across every
// replica.
func (db *DB) JournalBacklog(ctx context.Context) (rows, records int64, err error) {
	if err := db.db.QueryRowContext(ctx, `SELECT count(*), COALESCE(sum(records), 0)::bigint FROM ledger_journal`).Scan(&rows, &records); err != nil {
		return 0, 0, internal(err, "read ledger journal")
	}
	return rows, records, nil
}

// drainJournal stops the applier and applies what is left, within
// drainTimeout, before Close closes the pool. Rows it cannot apply stay
// for the next applier, here or on another replica.
func (db *DB) drainJournal() {
	if db.jr.stop == nil {
		return
	}
	db.stopApplier()
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	for {
		n, err := db.applyRetrying(ctx)
		if err != nil {
			if !errors.Is(err, context.DeadlineExceeded) {
				db.log.Error("ledger_journal_apply_failed", "err", err.Error())
			}
			return
		}
		if n == 0 {
			return
		}
	}
}
