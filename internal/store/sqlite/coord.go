package sqlite

import (
	"context"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/internal/budget"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

// What PostgreSQL shares between replicas, SQLite keeps for its one node.
// A SQLite database is served by one Tollgate process (Shared is false),
// so the coordination the PostgreSQL store does in the database is held
// here in the memory of the process that opened it, with the same
// semantics: leases (one holder at a time, expiring unrenewed), budget
// allowance pools and throttle windows, and the change feed. None of it
// outlives the process, as nothing on one node needs it to: a pool is
// reopened from the ledger's spend, and a restarted node holds no lease.

// coord is the single node's coordination state.
type coord struct {
	mu       sync.Mutex
	leases   map[string]heldLease
	pools    map[poolKey]*pool
	windows  map[windowKey]int64
	watchers map[chan string]struct{}
}

type heldLease struct {
	holder  string
	expires time.Time
}

type poolKey struct {
	account, budget string
	start           int64 // unix ms
}

type pool struct {
	end     time.Time
	base    int64
	granted map[string]int64 // replica -> grant
}

type windowKey struct {
	account, budget string
	minute          int64 // unix seconds
}

// Shared reports whether several Tollgate replicas may share the store:
// never for SQLite, which one process serves.
func (db *DB) Shared() bool { return false }

// AcquireLease implements lease.Store on this process's clock.
func (db *DB) AcquireLease(_ context.Context, name, holder string, ttl time.Duration) (bool, error) {
	c := &db.coord
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if l, ok := c.leases[name]; ok && l.holder != holder && !l.expires.Before(now) {
		return false, nil
	}
	if c.leases == nil {
		c.leases = map[string]heldLease{}
	}
	c.leases[name] = heldLease{holder: holder, expires: now.Add(ttl)}
	return true, nil
}

// ReleaseLease implements lease.Store.
func (db *DB) ReleaseLease(_ context.Context, name, holder string) error {
	c := &db.coord
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.leases[name]; ok && l.holder == holder {
		delete(c.leases, name)
	}
	return nil
}

// LeaseHolder returns the holder of an unexpired lease, or "".
func (db *DB) LeaseHolder(_ context.Context, name string) (string, error) {
	c := &db.coord
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.leases[name]; ok && !l.expires.Before(time.Now()) {
		return l.holder, nil
	}
	return "", nil
}

// ClaimAllowance implements budget.Shared: the pool of a budget's period
// is opened with c.Base, and grants never pass c.Limit less the base.
func (db *DB) ClaimAllowance(_ context.Context, cl budget.Claim) (int64, error) {
	c := &db.coord
	c.mu.Lock()
	defer c.mu.Unlock()
	k := poolKey{cl.Account, cl.Budget, sqlstore.MS(cl.PeriodStart)}
	p := c.pools[k]
	if p == nil {
		if c.pools == nil {
			c.pools = map[poolKey]*pool{}
		}
		p = &pool{end: cl.PeriodEnd, base: cl.Base, granted: map[string]int64{}}
		c.pools[k] = p
	}
	var sum int64
	for _, g := range p.granted {
		sum += g
	}
	give := min(max(cl.Want, cl.Need), cl.Limit-p.base-sum)
	if give < cl.Need || give <= 0 {
		return p.granted[cl.Replica], nil
	}
	p.granted[cl.Replica] += give
	return p.granted[cl.Replica], nil
}

// ReturnAllowance implements budget.Shared: the replica's grant becomes
// keep, never more than it was.
func (db *DB) ReturnAllowance(_ context.Context, cl budget.Claim, keep int64) error {
	c := &db.coord
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.pools[poolKey{cl.Account, cl.Budget, sqlstore.MS(cl.PeriodStart)}]; p != nil {
		if g, ok := p.granted[cl.Replica]; ok {
			p.granted[cl.Replica] = min(g, keep)
		}
	}
	return nil
}

// AnnounceAllowanceShortage implements budget.Shared: the watchers of
// this database (Watch) hear sqlstore.ChangeAllowance.
func (db *DB) AnnounceAllowanceShortage(context.Context) error {
	db.announce(sqlstore.ChangeAllowance)
	return nil
}

// ClaimRate implements budget.Shared: up to want of the limit calls of a
// budget's THROTTLE window (one UTC minute).
func (db *DB) ClaimRate(_ context.Context, account, name string, minute time.Time, limit, want int64) (int64, error) {
	c := &db.coord
	c.mu.Lock()
	defer c.mu.Unlock()
	k := windowKey{account, name, minute.Unix()}
	give := min(want, limit-c.windows[k])
	if give <= 0 {
		return 0, nil
	}
	if c.windows == nil {
		c.windows = map[windowKey]int64{}
	}
	c.windows[k] += give
	return give, nil
}

// PruneShared implements budget.Shared: it forgets the pools of periods
// that ended before before, and the throttle windows of minutes before
// it.
func (db *DB) PruneShared(_ context.Context, before time.Time) error {
	c := &db.coord
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, p := range c.pools {
		if p.end.Before(before) {
			delete(c.pools, k)
		}
	}
	for k := range c.windows {
		if k.minute < before.Unix() {
			delete(c.windows, k)
		}
	}
	return nil
}

// Watch is the change feed of one node: it calls fn with the kind of
// every announcement made through this DB (AnnounceAllowanceShortage),
// until ctx is done, and returns ctx's error. No other change is
// announced and there is no reconciliation tick: the process that serves
// a SQLite database makes every change to it itself, so its in-memory
// indexes already hold them. Calls to fn are sequential.
func (db *DB) Watch(ctx context.Context, fn func(kind string)) error {
	ch := make(chan string, 64)
	c := &db.coord
	c.mu.Lock()
	if c.watchers == nil {
		c.watchers = map[chan string]struct{}{}
	}
	c.watchers[ch] = struct{}{}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.watchers, ch)
		c.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case k := <-ch:
			fn(k)
		}
	}
}

// announce sends kind to every watcher, dropping it for a watcher whose
// queue is full (a burst that is pending already).
func (db *DB) announce(kind string) {
	c := &db.coord
	c.mu.Lock()
	defer c.mu.Unlock()
	for ch := range c.watchers {
		select {
		case ch <- kind:
		default:
		}
	}
}

// DropPartitionsBefore is the ledger's retention, which SQLite does not
// do: it drops nothing and returns no partition. A SQLite ledger is one
// table kept whole (config.Validate refuses ledgerRetentionMonths
// without a PostgreSQL store), and its version (LedgerVersion, the
// highest record sequence) counts on records never being deleted.
func (db *DB) DropPartitionsBefore(context.Context, time.Time) ([]string, error) {
	return nil, nil
}
