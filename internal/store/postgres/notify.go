package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tollgate-dev/tollgate/internal/backoff"
	"github.com/tollgate-dev/tollgate/internal/ratelimit"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

// Channel is the PostgreSQL notification channel every committed change to
// profiles, principals, keys, accounts, policies, attachments, budgets,
// alarms or anomaly monitors is announced on, with the kind of change (a
// Change* constant) as the payload, when Tollgate's tables are in the
// public schema. Notification channels are per database, so in any other
// schema the channel is Channel, "_" and a hash of the schema's name
// (ChannelFor): replicas of separate Tollgates on separate schemas of one
// database do not hear each other.
const Channel = "tollgate_changes"

// ChannelFor returns the notification channel of the Tollgate whose
// tables are in schema.
func ChannelFor(schema string) string {
	if schema == "public" {
		return Channel
	}
	h := fnv.New64a()
	h.Write([]byte(schema))
	return fmt.Sprintf("%s_%016x", Channel, h.Sum64())
}

// Change kinds, the payloads of notifications on Channel: the vocabulary
// of the change feed, which the SQLite store's Watch shares. Watch also
// calls back with ChangeTick.
const (
	ChangeProfile    = sqlstore.ChangeProfile
	ChangePrincipal  = sqlstore.ChangePrincipal
	ChangeAccessKey  = sqlstore.ChangeAccessKey
	ChangeAPIKey     = sqlstore.ChangeAPIKey
	ChangeAccount    = sqlstore.ChangeAccount
	ChangePolicy     = sqlstore.ChangePolicy
	ChangeAttachment = sqlstore.ChangeAttachment
	ChangeBudget     = sqlstore.ChangeBudget
	ChangeAlarm      = sqlstore.ChangeAlarm
	ChangeAnomaly    = sqlstore.ChangeAnomaly
	ChangeAllowance  = sqlstore.ChangeAllowance
	ChangeTick       = sqlstore.ChangeTick
)

// DefaultReconcile is the default period of Watch's ChangeTick.
const DefaultReconcile = 30 * time.Second

// change runs f in a transaction and, when f succeeds, announces kind on
// Channel in the same transaction, so the notification is delivered if and
// only if the change commits. Errors from f are returned unchanged.
func (db *DB) change(ctx context.Context, kind, op string, f func(tx *sql.Tx) error) error {
	return sqlstore.InTx(ctx, db.db, errs, op, func(tx *sql.Tx) error {
		if err := f(tx); err != nil {
			return err
		}
		return sqlstore.Exec(ctx, tx, errs, "notify "+op, `SELECT pg_notify($1, $2)`, db.channel, kind)
	})
}

// Watch calls fn with the kind of every change any replica (this one
// included) commits, and with ChangeTick every reconciliation period
// (Options.Reconcile), once listening begins (a change committed after the
// caller loaded its state and before LISTEN took effect is caught up at
// once) and after a lost listening connection is restored, so a missed
// notification delays a change by at most one period. It
// listens on a dedicated connection, outside the pool, reconnecting with
// backoff. Calls to fn are sequential. Watch returns ctx's error when ctx
// is done.
func (db *DB) Watch(ctx context.Context, fn func(kind string)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	kinds := make(chan string, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		db.listen(ctx, kinds)
	}()
	defer func() { <-done }()
	tick := time.NewTicker(db.reconcile)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			cancel()
			return ctx.Err()
		case <-tick.C:
			fn(ChangeTick)
		case k := <-kinds:
			fn(k)
		}
	}
}

// listen LISTENs on Channel and sends each payload to out until ctx is
// done, reconnecting with exponential backoff (100 ms up to 30 s). A lost
// or refused listening connection is logged, at most once a minute.
func (db *DB) listen(ctx context.Context, out chan<- string) {
	send := func(k string) bool {
		select {
		case out <- k:
			return true
		case <-ctx.Done():
			return false
		}
	}
	retry := backoff.Backoff{Policy: backoff.Policy{First: 100 * time.Millisecond, Max: 30 * time.Second}}
	var logged ratelimit.Every
	logged.Interval = time.Minute
	for {
		err := db.listenOnce(ctx, func() bool {
			retry.Reset()
			// Changes committed before listening began (since the
			// caller loaded its state, or while disconnected) were not
			// heard: reconcile once now.
			return send(ChangeTick)
		}, send)
		if ctx.Err() != nil {
			return
		}
		// The reconciliation tick bounds what is missed meanwhile.
		if ok, suppressed := logged.Allow(time.Now()); ok {
			db.log.Warn("store_listen_lost", "channel", db.channel, "failures", retry.Failures()+1, "suppressed", suppressed, "err", errString(err))
		}
		if retry.Wait(ctx) != nil {
			return
		}
	}
}

// errString returns err's message, or "" for nil.
func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// listenOnce connects, LISTENs, calls listening, then forwards
// notifications until an error.
func (db *DB) listenOnce(ctx context.Context, listening func() bool, send func(string) bool) error {
	conn, err := pgx.Connect(ctx, db.url)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{db.channel}.Sanitize()); err != nil {
		return err
	}
	if !listening() {
		return ctx.Err()
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if !send(n.Payload) {
			return ctx.Err()
		}
	}
}
