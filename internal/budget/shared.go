package budget

import (
	"context"
	"errors"
	"time"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// Enforcement across replicas.
//
// When several replicas share one store (Config.Shared set), each one's
// counters see only the calls it admitted itself. Three things make the
// budgets hold for the whole fleet:
//
//   - Spend. Every SyncInterval each replica reads every budget's spend in
//     its current period from the ledger (which holds every replica's
//     calls) and adds what settled locally since the read began. The
//     spend the views, alerts, THROTTLE and DOWNGRADE see therefore lags
//     the fleet's by at most SyncInterval (never the replica's own calls),
//     and errs high, never low, around a read.
//
//   - BLOCK. A BLOCK threshold T is a pool shared through the store: the
//     pool holds the spend the ledger had when the period's first claim
//     opened it (base), and each replica's grant. Claims are serialised
//     per budget and period, and a claim is granted only while
//
//     base + sum of grants <= T.
//
//     A replica admits a call only while its own settled spend, plus its
//     calls in flight, plus the call's worst case fit in its grant; when
//     they do not it claims more (a round trip to the store, once per
//     chunk of an eighth of what is left, not per call). So the fleet's
//     spend in the period is at most base + sum of grants <= T, plus what
//     calls cost beyond their worst case: the overshoot bound of one node
//     holds unchanged. A replica gives back what it does not need when it
//     has not claimed for a SyncInterval, and at once when another
//     replica announces a shortage; a replica that dies keeps its grant
//     for the rest of the period (its unused part is lost to the pool, so
//     the fleet errs on blocking early). When the store cannot be reached
//     a call that needs a claim is refused: budgets fail closed.
//
//   - THROTTLE. The calls in scope per UTC minute are counted in the
//     store; replicas claim slots in batches of an eighth of the limit
//     (at least one), so the fleet admits at most RequestsPerMinute calls
//     per minute. Slots a replica claimed and did not use lapse with the
//     minute.

// Shared coordinates enforcement between replicas sharing a store.
// Implementations are safe for concurrent use.
type Shared interface {
	// ClaimAllowance grants c.Replica between c.Need and c.Want more
	// units of the BLOCK pool of a budget's period, opening the pool
	// with c.Base when it is new, or nothing when less than c.Need is
	// free. It returns the replica's whole grant for the period after
	// the claim.
	ClaimAllowance(ctx context.Context, c Claim) (int64, error)
	// ReturnAllowance lowers the replica's grant to keep (never raises
	// it).
	ReturnAllowance(ctx context.Context, c Claim, keep int64) error
	// AnnounceAllowanceShortage asks every replica to return what it
	// holds and does not need (Service.ReturnIdle with force).
	AnnounceAllowanceShortage(ctx context.Context) error
	// ClaimRate takes up to want slots of a budget's THROTTLE window of
	// limit calls in the minute starting at minute; it returns how many
	// it took.
	ClaimRate(ctx context.Context, account, budget string, minute time.Time, limit, want int64) (int64, error)
	// PruneShared deletes the pools and allowances of periods that ended
	// before before, and the throttle windows before it.
	PruneShared(ctx context.Context, before time.Time) error
}

// Claim identifies a budget's BLOCK pool for one period and what a
// replica asks of it.
type Claim struct {
	Account, Budget, Replica string
	PeriodStart, PeriodEnd   time.Time
	// Limit is the BLOCK threshold in units; Base the spend the ledger
	// holds for the period (used when the claim opens the pool).
	Limit, Base int64
	// Need is the least the caller can use; Want what it would like.
	Need, Want int64
}

// claimTimeout bounds a claim's round trip in the admission path.
const claimTimeout = 2 * time.Second

// sharedBlock decides a BLOCK admission against this replica's grant: r
// is the replica's reserved units including this call's. It claims more
// from the pool when the grant is too small.
func (s *Service) sharedBlock(ctx context.Context, st *state, lim *limits, r int64) error {
	c := st.ctr
	if c.own.Load()+r <= c.grant.Load() {
		return nil
	}
	c.claimMu.Lock()
	defer c.claimMu.Unlock()
	own, res, g := c.own.Load(), c.reserved.Load(), c.grant.Load()
	need := own + res - g
	if need <= 0 {
		return nil // a concurrent claim made room
	}
	spent := c.spent.Load()
	want := max(need, (lim.block-spent)/8)
	cl := Claim{Account: st.b.Account, Budget: st.b.Name, Replica: s.cfg.Replica,
		PeriodStart: time.Unix(0, lim.start).UTC(), PeriodEnd: time.Unix(0, lim.end).UTC(),
		Limit: lim.block, Base: spent, Need: need, Want: want}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), claimTimeout)
	defer cancel()
	got, err := s.cfg.Shared.ClaimAllowance(cctx, cl)
	if err != nil {
		s.log.Error("budget_claim_failed", "account", st.b.Account, "budget", st.b.Name, "err", err.Error())
		return errkind.Wrap(errkind.Unavailable, err, "Budget %q cannot be checked now: its shared allowance is unavailable.", st.b.Name)
	}
	c.claimed.Store(s.cfg.Now().UnixNano())
	if got > g {
		c.grant.Store(got)
	}
	if own+res <= max(got, g) {
		return nil
	}
	// Ask the others for what they hold idle, at most ten times a second.
	if now := s.cfg.Now().UnixNano(); now-s.announced.Load() >= int64(100*time.Millisecond) {
		s.announced.Store(now)
		s.announces.Go(s.announceShortage)
	}
	return errkind.New(errkind.QuotaExceeded, "Budget %q blocks this call: its spend this period plus the calls in flight and this call's worst case would pass its limit of %s.",
		st.b.Name, st.b.FormatUnits(lim.block))
}

// Wait waits for the shortage announcements in flight, which admissions
// send in the background (each bounded by claimTimeout). Call it once no
// more calls are admitted, before closing the store.
func (s *Service) Wait() { s.announces.Wait() }

func (s *Service) announceShortage() {
	ctx, cancel := context.WithTimeout(context.Background(), claimTimeout)
	defer cancel()
	if err := s.cfg.Shared.AnnounceAllowanceShortage(ctx); err != nil {
		s.log.Warn("budget_shortage_announce_failed", "err", err.Error())
	}
}

// sharedAllow takes a slot of the fleet's THROTTLE window of t's minute.
func (s *Service) sharedAllow(ctx context.Context, st *state, t time.Time, rpm int64) (bool, error) {
	return st.rpm.Claim(ctx, t, rpm, func(ctx context.Context, minute time.Time, limit, want int64) (int64, error) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), claimTimeout)
		defer cancel()
		return s.cfg.Shared.ClaimRate(cctx, st.b.Account, st.b.Name, minute, limit, want)
	})
}

// ReturnIdle gives back to the pools the allowance this replica holds and
// does not need: of every budget that made no claim for SyncInterval, or
// of every budget when force (another replica is short).
func (s *Service) ReturnIdle(ctx context.Context, force bool) {
	if s.cfg.Shared == nil {
		return
	}
	now := s.cfg.Now()
	for _, st := range s.snapshot() {
		c := st.ctr
		if c.grant.Load() == 0 {
			continue
		}
		if !force && now.Sub(time.Unix(0, c.claimed.Load())) < s.cfg.SyncInterval {
			continue
		}
		s.returnExcess(ctx, st)
	}
}

func (s *Service) returnExcess(ctx context.Context, st *state) {
	c := st.ctr
	c.claimMu.Lock()
	defer c.claimMu.Unlock()
	g := c.grant.Load()
	keep := c.own.Load() + c.reserved.Load()
	if keep >= g {
		return
	}
	c.grant.Store(keep)
	// An admission that read the old grant before the store above has
	// reserved by now: keep its reservation covered.
	if k := c.own.Load() + c.reserved.Load(); k > keep {
		keep = min(g, k)
		c.grant.Store(keep)
	}
	start, end := c.start.Load(), c.end.Load()
	cl := Claim{Account: st.b.Account, Budget: st.b.Name, Replica: s.cfg.Replica,
		PeriodStart: time.Unix(0, start).UTC(), PeriodEnd: time.Unix(0, end).UTC()}
	if err := s.cfg.Shared.ReturnAllowance(ctx, cl, keep); err != nil {
		c.grant.Store(g) // the store still grants g
		s.log.Warn("budget_return_failed", "budget", st.b.Name, "err", err.Error())
	}
}

// RunShared keeps a shared-store replica's budgets in step with the
// fleet until ctx is done: every SyncInterval it reads every budget's
// spend from the ledger, reports its actions' refusals (enforcement.go)
// and returns idle allowance; every EvalInterval it
// reloads the alert states other replicas stored; every hour it prunes
// the pools of ended periods. It does nothing without Config.Shared.
func (s *Service) RunShared(ctx context.Context) {
	if s.cfg.Shared == nil {
		return
	}
	t := time.NewTicker(s.cfg.SyncInterval)
	defer t.Stop()
	var pruned, reloaded time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.Sync(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("budget_sync_failed", "err", err.Error())
		}
		now := s.cfg.Now()
		if now.Sub(reloaded) >= s.cfg.EvalInterval {
			if err := s.ReloadAlerts(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("budget_alerts_reload_failed", "err", err.Error())
			} else {
				reloaded = now
			}
		}
		s.ReturnIdle(ctx, false)
		if now.Sub(pruned) >= time.Hour {
			if err := s.cfg.Shared.PruneShared(ctx, now.AddDate(0, 0, -1)); err != nil {
				s.log.Warn("budget_prune_failed", "err", err.Error())
			} else {
				pruned = now
			}
		}
	}
}

// Sync sets every budget's spend in its current period to what the ledger
// holds plus what settled here since the read began (shared stores; on one
// node the counters are exact already), and reports this replica's
// refusals to the store for the replica evaluating alerts.
func (s *Service) Sync(ctx context.Context) error {
	now := s.cfg.Now()
	if s.cfg.Shared != nil {
		s.reportRefusals(ctx)
	}
	var states []*state
	starts := map[*state]int64{}
	for _, st := range s.snapshot() {
		if st.current(now) == nil {
			continue
		}
		// Spend settling from here on is counted in local (first) and
		// may be in the read too: counted twice until the next sync,
		// never missed.
		st.ctr.local.Store(0)
		states = append(states, st)
		starts[st] = st.ctr.start.Load()
	}
	spends, err := s.ledgerSpend(ctx, states, now)
	if err != nil {
		return err
	}
	var errs []error
	for _, ps := range spends {
		if ps.err != nil {
			errs = append(errs, ps.err)
			continue
		}
		c := ps.st.ctr
		c.mu.Lock()
		if c.start.Load() == starts[ps.st] {
			for {
				cur := c.spent.Load()
				if c.spent.CompareAndSwap(cur, ps.sum+c.local.Load()) {
					if cur != ps.sum {
						s.markDirty(ps.st)
					}
					break
				}
			}
		}
		c.mu.Unlock()
	}
	return errors.Join(errs...)
}

// ReloadAlerts merges the alert states in the store into memory: a state
// that fired more often, or as often but later, replaces the one held. It
// keeps a replica that takes over alert evaluation from firing again what
// another already fired, and the views of every replica current.
func (s *Service) ReloadAlerts(ctx context.Context) error {
	since := s.cfg.Now().AddDate(-1, 0, -1)
	as, err := s.cfg.Store.BudgetAlertStates(ctx, since)
	if err != nil {
		return err
	}
	s.amu.Lock()
	defer s.amu.Unlock()
	for _, a := range as {
		k := alertKey{a.Account, a.Budget, a.Alert, a.PeriodStart.Unix()}
		cur, ok := s.alerts[k]
		if !ok || a.Fired > cur.Fired || (a.Fired == cur.Fired && a.UpdatedAt.After(cur.UpdatedAt)) {
			s.alerts[k] = a
		}
	}
	return nil
}

// Reload makes the budgets in memory those of the store, after another
// replica changed them: new budgets are installed (their spend read from
// the ledger), changed ones replaced (keeping their spend when their scope
// and periods stay), deleted ones dropped.
func (s *Service) Reload(ctx context.Context) error {
	all, err := s.cfg.Store.ListBudgets(ctx)
	if err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	seen := make(map[bkey]bool, len(all))
	for i := range all {
		b := all[i]
		k := bkey{b.Account, b.Name}
		seen[k] = true
		s.mu.RLock()
		old := s.budgets[k]
		s.mu.RUnlock()
		if old != nil && old.b.UpdatedAt.Equal(b.UpdatedAt) && old.b.CreatedAt.Equal(b.CreatedAt) {
			continue
		}
		sc, err := newScope(&b, s.cfg.Management, s.namer)
		if err != nil {
			s.log.Error("budget_scope_invalid", "account", b.Account, "budget", b.Name, "err", err.Error())
			continue
		}
		st := s.newState(&b, sc, &counter{})
		if old != nil && old.b.CreatedAt.Equal(b.CreatedAt) && sameScope(old.b, &b) {
			st.ctr = old.ctr
			st.fc.Store(old.fc.Load())
		}
		s.install(ctx, old, st)
	}
	for _, st := range s.snapshot() {
		if k := (bkey{st.b.Account, st.b.Name}); !seen[k] {
			s.remove(st)
		}
	}
	return nil
}
