package budget

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/internal/ratelimit"
)

// Visible enforcement.
//
// An action is engaged while it changes what happens to the calls in its
// scope: THROTTLE and DOWNGRADE once the period's actual spend reaches
// their threshold, BLOCK then too, and also while it refuses calls below
// its threshold because the reserved worst case of the calls in flight
// would cross it (a BLOCK refused a call within the last EnforcementHold).
// The evaluator (Run) watches every action: when one engages it records
// the event (ActionHistory), notifies the action's subscribers once and
// reports EXECUTION_SUCCESS through the Budgets API; when it releases (no
// refusal for EnforcementHold with spend below the threshold, the budget
// raised, or the period over) it records that, notifies them once more
// and reports STANDBY again.
//
// Shadow mode. An action whose ApprovalModel is MANUAL is a shadow: it
// refuses, throttles and downgrades nothing, but each call it would have
// refused (or downgraded) is counted and logged at DEBUG, and the action
// engages and releases as its enforcing twin would, with status PENDING
// (AWS's status of an action awaiting approval) instead of
// EXECUTION_SUCCESS. Operators try a budget on live traffic before it
// bites, then switch ApprovalModel to AUTOMATIC.
//
// Several replicas. Each replica counts its own refusals; every
// SyncInterval it reports the last one of each action to the store
// (PutBudgetRefusals), and the replica evaluating alerts reads the
// fleet's reports, so an action engages when any replica refuses and
// releases when none has for EnforcementHold. The engagement itself is
// an alert state (key "action/ID"), which every replica reloads.

// ActionStatus is an action's status as the Budgets API reports it (a
// value of the SDK's types.ActionStatus).
type ActionStatus string

// The statuses Tollgate's actions take.
const (
	// StatusStandby: the action is not engaged.
	StatusStandby ActionStatus = "STANDBY"
	// StatusPending: a shadow action that would be enforcing.
	StatusPending ActionStatus = "PENDING"
	// StatusExecuted: the action is engaged.
	StatusExecuted ActionStatus = "EXECUTION_SUCCESS"
)

// Approval models: AUTOMATIC actions enforce, MANUAL ones are shadows.
const (
	Automatic = "AUTOMATIC"
	Manual    = "MANUAL"
)

// Shadow reports whether a is a shadow (it records what it would do and
// does nothing).
func (a Action) Shadow() bool { return a.ApprovalModel == Manual }

// DefaultEnforcementHold is how long a BLOCK stays engaged after the last
// call it refused below its threshold.
const DefaultEnforcementHold = time.Minute

// Enforcement is an action's state in the budget's current period.
type Enforcement struct {
	Status ActionStatus
	Shadow bool
	// Reason says why the action is engaged ("" on standby).
	Reason string
	// Since is when it engaged (zero on standby).
	Since time.Time
	// Refusals counts the calls this replica refused in the period (a
	// shadow: would have refused, or downgraded).
	Refusals uint64
}

// ActionEvent is one entry of an action's history.
type ActionEvent struct {
	Account, Budget, ActionID string
	At                        time.Time
	// Status is the action's status after the event.
	Status ActionStatus
	// EventType is AWS's EventType: SYSTEM (engaged or released),
	// CREATE_ACTION, UPDATE_ACTION or DELETE_ACTION.
	EventType string
	Message   string
	// Action is the action as it was at the event.
	Action Action
}

// Refusals is one replica's report of the calls an action refused (or,
// a shadow, would have refused) in one period.
type Refusals struct {
	Account, Budget, ActionID, Replica string
	PeriodStart                        time.Time
	// Last is when the latest refusal happened; Count how many there were
	// in the period on the replica.
	Last  time.Time
	Count int64
}

// actRun is an action's runtime counters on this replica.
type actRun struct {
	last     atomic.Int64 // latest refusal, unix nanoseconds (0: none)
	period   atomic.Int64 // period start the count belongs to, unix nanoseconds
	count    atomic.Uint64
	reported atomic.Int64     // last value of last reported to the store
	win      ratelimit.Window // a shadow THROTTLE's calls per minute
	total    *atomic.Uint64   // refusals since start (the Prometheus counter)
}

// refuse counts a refusal at t in the period starting at period.
func (r *actRun) refuse(t time.Time, period int64) {
	if p := r.period.Load(); p != period && r.period.CompareAndSwap(p, period) {
		r.count.Store(0)
	}
	r.count.Add(1)
	r.total.Add(1)
	if tn := t.UnixNano(); tn > r.last.Load() {
		r.last.Store(tn)
	}
}

// totals holds each action's refusal count since start, across budget
// updates.
type totals struct{ m sync.Map } // actionKey -> *atomic.Uint64

type actionKey struct{ account, budget, id string }

func (t *totals) of(k actionKey) *atomic.Uint64 {
	if v, ok := t.m.Load(k); ok {
		return v.(*atomic.Uint64)
	}
	v, _ := t.m.LoadOrStore(k, new(atomic.Uint64))
	return v.(*atomic.Uint64)
}

// refused records a refusal by the action behind run and schedules an
// evaluation, so an engagement is seen within moments.
func (s *Service) refused(st *state, run *actRun, t time.Time, lim *limits) {
	if run == nil {
		return
	}
	run.refuse(t, lim.start)
	s.markDirty(st)
}

// shadows applies st's shadow actions to an admitted call: it counts the
// calls they would have refused or downgraded. r is st's reserved units
// including the call's.
func (s *Service) shadows(st *state, lim *limits, t time.Time, model string, r int64) {
	spent := st.ctr.spent.Load()
	for _, sh := range lim.shadows {
		would := false
		switch sh.typ {
		case Block:
			would = spent >= sh.at || spent+r > sh.at
		case Throttle:
			would = spent >= sh.at && !sh.run.win.Allow(t, sh.rpm)
		case Downgrade:
			would = spent >= sh.at && sh.model != model
		}
		if would {
			s.refused(st, sh.run, t, lim)
			s.log.Debug("budget_shadow_would_refuse", "account", st.b.Account, "budget", st.b.Name, "action", sh.id, "action_type", string(sh.typ))
		}
	}
}

// engagement is an action's engagement as evaluated now.
type engagement struct {
	engaged bool
	reason  string
}

// engaged evaluates act of st at now: reached says actual spend reached
// its threshold at (units), lastRefusal is the fleet's latest refusal.
func (s *Service) engaged(st *state, act *Action, at, actual int64, lastRefusal int64, p Period, now time.Time) engagement {
	b := st.b
	name := string(act.Type)
	verb := "engaged"
	if act.Shadow() {
		verb = "would engage (shadow)"
	}
	if actual >= at {
		e := engagement{engaged: true, reason: fmt.Sprintf("%s %s: actual spend %s reached the threshold of %s", name, verb, b.human(actual), b.human(at))}
		switch act.Type {
		case Throttle:
			e.reason += fmt.Sprintf("; calls in scope limited to %d per minute", act.RequestsPerMinute)
		case Downgrade:
			e.reason += "; calls in scope go to " + act.Model
		case Block:
			e.reason += "; calls in scope are refused"
		}
		return e
	}
	refusing := lastRefusal >= p.Start.UnixNano() && now.UnixNano()-lastRefusal < int64(s.cfg.EnforcementHold)
	if act.Type == Block && refusing {
		return engagement{engaged: true, reason: fmt.Sprintf("%s %s: the reserved worst case of the calls in flight would cross the threshold of %s (actual spend %s)",
			name, verb, b.human(at), b.human(actual))}
	}
	return engagement{}
}

// releaseReason says why an engaged action released.
func releaseReason(b *Budget, act *Action, at, actual int64, hold time.Duration, periodOver bool) string {
	switch {
	case periodOver:
		return fmt.Sprintf("%s released: the budget period ended", act.Type)
	case act.Type == Block:
		return fmt.Sprintf("%s released: no call refused for %s and actual spend %s is below the threshold of %s", act.Type, hold, b.human(actual), b.human(at))
	default:
		return fmt.Sprintf("%s released: actual spend %s is below the threshold of %s", act.Type, b.human(actual), b.human(at))
	}
}

// fleetRefusals returns the latest refusal of every action, from this
// replica's counters and, on a shared store, the fleet's reports.
func (s *Service) fleetRefusals(ctx context.Context, states []*state, now time.Time) map[actionKey]int64 {
	out := map[actionKey]int64{}
	for _, st := range states {
		for id, run := range st.runs {
			if l := run.last.Load(); l > 0 {
				out[actionKey{st.b.Account, st.b.Name, id}] = l
			}
		}
	}
	if s.cfg.Shared == nil {
		return out
	}
	// The fleet reports every SyncInterval: read the reports at most as
	// often (evaluations after each call would otherwise read each time).
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if now.Sub(s.refusalsRead) >= s.cfg.SyncInterval || now.Before(s.refusalsRead) {
		rs, err := s.cfg.Store.BudgetRefusals(ctx, now.Add(-s.cfg.EnforcementHold))
		if err != nil {
			s.log.Warn("budget_refusals_read_failed", "err", err)
		} else {
			s.refusalsRead, s.fleetReports = now, rs
		}
	}
	for _, r := range s.fleetReports {
		k := actionKey{r.Account, r.Budget, r.ActionID}
		if l := r.Last.UnixNano(); l > out[k] {
			out[k] = l
		}
	}
	return out
}

// reportRefusals stores this replica's refusals since the last report
// (shared stores), for the replica that evaluates alerts.
func (s *Service) reportRefusals(ctx context.Context) {
	for _, st := range s.snapshot() {
		for id, run := range st.runs {
			l := run.last.Load()
			if l == 0 || l == run.reported.Load() {
				continue
			}
			r := Refusals{Account: st.b.Account, Budget: st.b.Name, ActionID: id, Replica: s.cfg.Replica,
				PeriodStart: time.Unix(0, run.period.Load()).UTC(), Last: time.Unix(0, l).UTC(), Count: int64(run.count.Load())}
			if err := s.cfg.Store.PutBudgetRefusals(ctx, r); err != nil {
				s.log.Warn("budget_refusals_report_failed", "budget", st.b.Name, "err", err)
				return
			}
			run.reported.Store(l)
		}
	}
}

// ActionHistory returns the history of a budget's action with events in
// [from, to) (zero bounds: unbounded), oldest first.
func (s *Service) ActionHistory(ctx context.Context, account, name, id string, from, to time.Time) ([]ActionEvent, error) {
	st, err := s.get(account, name)
	if err != nil {
		return nil, err
	}
	evs, err := s.cfg.Store.BudgetActionEvents(ctx, account, name, id)
	if err != nil {
		return nil, err
	}
	found := false
	for _, a := range st.b.Actions {
		found = found || a.ID == id
	}
	if !found && len(evs) == 0 {
		return nil, actionNotFound(id)
	}
	out := evs[:0]
	for _, e := range evs {
		if e.At.Before(st.b.CreatedAt.Truncate(time.Millisecond)) {
			continue // a deleted namesake's
		}
		if (!from.IsZero() && e.At.Before(from)) || (!to.IsZero() && !e.At.Before(to)) {
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// record appends an event to an action's history (failures are logged:
// the history is a record, not a gate).
func (s *Service) record(ctx context.Context, b *Budget, act Action, status ActionStatus, eventType, msg string, at time.Time) {
	e := ActionEvent{Account: b.Account, Budget: b.Name, ActionID: act.ID, At: at.UTC().Truncate(time.Millisecond),
		Status: status, EventType: eventType, Message: msg, Action: act}
	if err := s.cfg.Store.AppendBudgetActionEvent(context.WithoutCancel(ctx), e); err != nil {
		s.log.Error("budget_action_history_failed", "budget", b.Name, "action", act.ID, "err", err)
	}
}

// EnforcementStatus is one action's enforcement for gauges.
type EnforcementStatus struct {
	Account, Budget, ActionID string
	Type                      ActionType
	Shadow                    bool
	Engaged                   bool
	// Refusals counts the calls the action refused (a shadow: would have)
	// on this replica since it started.
	Refusals uint64
}

// Enforcements returns every action's enforcement state, for gauges and
// counters.
func (s *Service) Enforcements() []EnforcementStatus {
	var out []EnforcementStatus
	for _, v := range s.Current() {
		for _, a := range v.Actions {
			e := v.Enforcement[a.ID]
			out = append(out, EnforcementStatus{Account: v.Account, Budget: v.Name, ActionID: a.ID, Type: a.Type, Shadow: a.Shadow(),
				Engaged: e.Status != StatusStandby, Refusals: s.totals.of(actionKey{v.Account, v.Name, a.ID}).Load()})
		}
	}
	return out
}
