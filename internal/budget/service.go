package budget

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/egress"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/notify"
)

// Store persists budgets and their alert states. Implementations are safe
// for concurrent use; errors are errkind Internal unless stated.
type Store interface {
	// CreateBudget inserts b; errkind.Conflict when b's account already
	// has a budget of that name.
	CreateBudget(ctx context.Context, b Budget) error
	// UpdateBudget replaces the budget of b's account and name;
	// errkind.NotFound when there is none.
	UpdateBudget(ctx context.Context, b Budget) error
	// DeleteBudget removes a budget, its alert states, its actions'
	// histories and refusal reports;
	// errkind.NotFound when there is none.
	DeleteBudget(ctx context.Context, account, name string) error
	// ListBudgets returns every budget of every account, ordered by
	// account and name.
	ListBudgets(ctx context.Context) ([]Budget, error)
	// PutBudgetAlertState inserts or replaces one alert state.
	PutBudgetAlertState(ctx context.Context, s AlertState) error
	// BudgetAlertStates returns the alert states of periods starting at or after
	// since.
	BudgetAlertStates(ctx context.Context, since time.Time) ([]AlertState, error)

	// AppendBudgetActionEvent adds e to its action's history; an event of
	// the same action, time and status is stored once (a repeat does
	// nothing).
	AppendBudgetActionEvent(ctx context.Context, e ActionEvent) error
	// BudgetActionEvents returns an action's history, oldest first
	// (none when it has none).
	BudgetActionEvents(ctx context.Context, account, budget, actionID string) ([]ActionEvent, error)
	// PutBudgetRefusals stores a replica's refusal report of an action
	// in a period, replacing its earlier report of that period.
	PutBudgetRefusals(ctx context.Context, r Refusals) error
	// BudgetRefusals returns the reports whose latest refusal is at or
	// after since.
	BudgetRefusals(ctx context.Context, since time.Time) ([]Refusals, error)
}

// AlertState is the state of one notification (or action) of a budget in
// one period: whether it is in alarm, and how often it fired.
type AlertState struct {
	Account, Budget string
	// Alert is a Notification.Key, or "action/"+Action.ID.
	Alert       string
	PeriodStart time.Time
	// Alarm is true while the condition holds (for ACTUAL alerts: once
	// it held in the period).
	Alarm bool
	// Fired is how many times the alert fired in the period.
	Fired     int
	UpdatedAt time.Time
}

// Notifier sends alerts (the notify outbox).
type Notifier interface {
	Enqueue(ctx context.Context, m notify.Message) error
}

// Config configures a Service.
type Config struct {
	Store Store
	// Source reads the ledger's rollups: each budget's spend at start, its
	// forecast history and its performance history.
	Source costquery.Source
	// Catalog names usage types and checks DOWNGRADE models.
	Catalog *catalog.Catalog
	// Notifier sends alerts; nil drops them (they are still evaluated).
	Notifier Notifier
	// Egress checks SNS subscribers' webhook URLs when they are written.
	// Default nil: the egress defaults, no internal address allowed.
	Egress *egress.Policy
	// Management is the account whose budgets see every account's usage
	// (the organisation's management account); other accounts' budgets
	// see their own. "" means every budget sees only its own account.
	Management string
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger logs alert and load failures. Default: discard.
	Logger *slog.Logger
	// EvalInterval is how often every budget's alerts are evaluated even
	// without new spend (forecasts move with time). Default 1 minute.
	EvalInterval time.Duration

	// Shared, when several replicas share the store, enforces BLOCK and
	// THROTTLE across them (shared.go); nil on a single node.
	Shared Shared
	// Replica identifies this replica in Shared's pools.
	Replica string
	// SyncInterval is how often RunShared reads the fleet's spend from
	// the ledger and returns idle allowance. Default 2 s.
	SyncInterval time.Duration
	// EnforcementHold is how long a BLOCK stays engaged after the last
	// call it refused below its threshold (enforcement.go). Default
	// DefaultEnforcementHold (1 minute).
	EnforcementHold time.Duration
	// OnEnforcement, when set, is called with every action's state at
	// each full evaluation pass and at each engagement and release (the
	// CloudWatch metric Tollgate/Budgets EnforcementActive). It must not
	// block.
	OnEnforcement func(EnforcementSample)
}

// EnforcementSample is an action's enforcement state at a time.
type EnforcementSample struct {
	Account, Budget, ActionID string
	Shadow, Engaged           bool
	At                        time.Time
}

type bkey struct{ account, name string }

// Service manages budgets and enforces them. Safe for concurrent use.
type Service struct {
	cfg   Config
	namer *costquery.Namer
	log   *slog.Logger

	wmu     sync.Mutex // serialises changes
	mu      sync.RWMutex
	budgets map[bkey]*state

	idx  index
	wake chan struct{}
	// dirty are the budgets marked since the last evaluation of the
	// marked ones (markDirty), so that evaluating after a call costs the
	// budgets it touched, not every budget.
	dirtyMu sync.Mutex
	dirty   []*state

	amu    sync.Mutex
	alerts map[alertKey]AlertState
	eval   sync.Mutex // one alert evaluation at a time

	announced atomic.Int64   // shared stores: when a shortage was last announced (unix nanoseconds)
	announces sync.WaitGroup // shortage announcements in flight (Wait)

	totals totals // refusals per action since start

	rmu          sync.Mutex // guards the fleet's refusal reports last read
	refusalsRead time.Time
	fleetReports []Refusals
}

type alertKey struct {
	account, budget, alert string
	period                 int64
}

// NewService loads every budget, its current period's spend from the
// ledger and its alert states, and returns the Service. Call Run to
// evaluate alerts.
func NewService(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.EvalInterval <= 0 {
		cfg.EvalInterval = time.Minute
	}
	if cfg.SyncInterval <= 0 {
		cfg.SyncInterval = 2 * time.Second
	}
	if cfg.EnforcementHold <= 0 {
		cfg.EnforcementHold = DefaultEnforcementHold
	}
	s := &Service{cfg: cfg, namer: costquery.NewNamer(cfg.Catalog), log: cfg.Logger,
		budgets: map[bkey]*state{}, wake: make(chan struct{}, 1), alerts: map[alertKey]AlertState{}}
	all, err := cfg.Store.ListBudgets(ctx)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	var states []*state
	for i := range all {
		b := all[i]
		sc, err := newScope(&b, cfg.Management, s.namer)
		if err != nil {
			s.log.Error("budget_scope_invalid", "account", b.Account, "budget", b.Name, "err", err.Error())
			continue
		}
		st := s.newState(&b, sc, &counter{})
		states = append(states, st)
	}
	if err := s.loadSpend(ctx, states, now); err != nil {
		return nil, err
	}
	for _, st := range states {
		s.budgets[bkey{st.b.Account, st.b.Name}] = st
		s.idx.replace(nil, st)
	}
	// Alert states of periods that may still be current (a year back
	// covers every calendar unit; custom periods older than that restart).
	since := now.AddDate(-1, 0, -1)
	for _, st := range states {
		if p, ok := st.b.PeriodAt(now); ok && p.Start.Before(since) {
			since = p.Start
		}
	}
	as, err := cfg.Store.BudgetAlertStates(ctx, since)
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		s.alerts[alertKey{a.Account, a.Budget, a.Alert, a.PeriodStart.Unix()}] = a
	}
	return s, nil
}

// hourCeil returns the end of t's hour.
func hourCeil(t time.Time) time.Time { return t.UTC().Truncate(time.Hour).Add(time.Hour) }

// spendOf sums the spend rolls hold for sc in [from, to).
func (s *Service) spendOf(rolls []ledger.Rollup, sc *Scope, from, to time.Time, g costquery.Granularity) ([]int64, error) {
	if !from.Before(to) {
		return nil, nil
	}
	if !sc.all {
		mine := make([]ledger.Rollup, 0, len(rolls))
		for i := range rolls {
			if rolls[i].Account == sc.account {
				mine = append(mine, rolls[i])
			}
		}
		rolls = mine
	}
	res, err := costquery.Aggregate(rolls, costquery.Query{From: from, To: to, Granularity: g, Filter: sc.expr}, s.namer)
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(res.Periods))
	for i, p := range res.Periods {
		if sc.usage {
			out[i] = p.Total.Usage
		} else {
			out[i] = int64(p.Total.Cost)
		}
	}
	return out, nil
}

// loadSpend moves each state's counter to its current period and adds the
// spend the ledger holds for it.
func (s *Service) loadSpend(ctx context.Context, states []*state, now time.Time) error {
	spends, err := s.ledgerSpend(ctx, states, now)
	if err != nil {
		return err
	}
	for _, ps := range spends {
		if ps.err != nil {
			return ps.err
		}
		// The counter may be live already (a budget created under
		// traffic): keep what settled since, and add the ledger's sum.
		c := ps.st.ctr
		c.mu.Lock()
		if start := ps.p.Start.UnixNano(); c.start.Load() != start {
			c.spent.Store(0)
			c.start.Store(start)
			c.end.Store(ps.p.End.UnixNano())
		}
		c.spent.Add(ps.sum)
		c.mu.Unlock()
		ps.st.lim.Store(ps.st.limitsFor(ps.p))
	}
	return nil
}

// periodSpend is a budget's spend in its period containing a time, as
// the ledger holds it (err when it could not be summed).
type periodSpend struct {
	st  *state
	p   Period
	sum int64
	err error
}

// ledgerSpend reads, in one read of the ledger, each state's spend in its
// period containing now; states outside their time period are left out.
func (s *Service) ledgerSpend(ctx context.Context, states []*state, now time.Time) ([]periodSpend, error) {
	to := hourCeil(now)
	from := to
	var out []periodSpend
	for _, st := range states {
		p, ok := st.b.PeriodAt(now)
		if !ok {
			continue
		}
		out = append(out, periodSpend{st: st, p: p})
		if p.Start.Before(from) {
			from = p.Start
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	rolls, err := costquery.DayRollups(ctx, s.cfg.Source, nil, from, to)
	if err != nil {
		return nil, err
	}
	for i := range out {
		ps := &out[i]
		per, err := s.spendOf(rolls, ps.st.sc, ps.p.Start, to, costquery.Monthly)
		if err != nil {
			ps.err = fmt.Errorf("budget %s: %w", ps.st.b.Name, err)
			continue
		}
		for _, v := range per {
			ps.sum += v
		}
	}
	return out, nil
}

// Run evaluates alerts until ctx is done: soon after spend changes, and
// every EvalInterval.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.EvalInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
			s.evaluate(ctx, true)
		case <-t.C:
			s.evaluate(ctx, false)
		}
	}
}

// Evaluate evaluates every budget's alerts now.
func (s *Service) Evaluate(ctx context.Context) { s.evaluate(ctx, false) }

// takeDirty returns the budgets marked since the last call, each once,
// in stateLess order, leaving out those deleted or replaced since.
func (s *Service) takeDirty() []*state {
	s.dirtyMu.Lock()
	out := s.dirty
	s.dirty = nil
	s.dirtyMu.Unlock()
	slices.SortFunc(out, stateLess)
	out = slices.Compact(out)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.DeleteFunc(out, func(st *state) bool { return s.budgets[bkey{st.b.Account, st.b.Name}] != st })
}

func (s *Service) snapshot() []*state {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*state, 0, len(s.budgets))
	for _, st := range s.budgets {
		out = append(out, st)
	}
	slices.SortFunc(out, stateLess)
	return out
}

func (s *Service) get(account, name string) (*state, error) {
	s.mu.RLock()
	st, ok := s.budgets[bkey{account, name}]
	s.mu.RUnlock()
	if !ok {
		return nil, notFound(name)
	}
	return st, nil
}

func notFound(name string) error {
	return errkind.New(errkind.NotFound, "Unable to get budget: %s - the budget doesn't exist.", name)
}

// View is a budget with its current period's figures.
type View struct {
	Budget
	// Period is the current period; Active is false outside the budget's
	// time period (then the figures are zero).
	Period Period
	Active bool
	// PeriodLimit is the current period's limit.
	PeriodLimit int64
	// Actual is the period's spend so far, Reserved the worst case of the
	// calls in flight, in units.
	Actual, Reserved int64
	// Forecast is the period's forecast spend (HasForecast false when
	// there is none yet), made with ForecastMethod.
	Forecast       int64
	HasForecast    bool
	ForecastMethod ForecastMethod
	// InForce holds, per action ID, whether the action applies now: an
	// enforcing action that reached its threshold or is engaged
	// (enforcement.go). A shadow action is never in force.
	InForce map[string]bool
	// Enforcement holds, per action ID, its status and why.
	Enforcement map[string]Enforcement
	// Alarm holds, per notification key, whether it is in ALARM in the
	// current period.
	Alarm map[string]bool
}

// Get returns a budget with its live figures.
func (s *Service) Get(ctx context.Context, account, name string) (View, error) {
	st, err := s.get(account, name)
	if err != nil {
		return View{}, err
	}
	return s.view(ctx, st, true), nil
}

// Current returns every budget's current figures without forecasts (no
// ledger read): for gauges.
func (s *Service) Current() []View {
	states := s.snapshot()
	out := make([]View, 0, len(states))
	for _, st := range states {
		out = append(out, s.view(context.Background(), st, false))
	}
	return out
}

// List returns the account's budgets with their live figures, by name.
func (s *Service) List(ctx context.Context, account string) []View {
	var mine, stale []*state
	today := s.cfg.Now().UTC().Truncate(24 * time.Hour)
	for _, st := range s.snapshot() {
		if st.b.Account == account {
			mine = append(mine, st)
			if h := st.fc.Load(); h == nil || !h.day.Equal(today) {
				stale = append(stale, st)
			}
		}
	}
	if len(stale) > 1 {
		// One read of the ledger for every history the views need.
		if err := s.loadHistory(ctx, stale, today); err != nil {
			s.log.Error("budget_history_failed", "err", err.Error())
		}
	}
	out := make([]View, 0, len(mine))
	for _, st := range mine {
		out = append(out, s.view(ctx, st, true))
	}
	return out
}

// Names returns the names of the account's budgets, sorted.
func (s *Service) Names(account string) []string {
	var out []string
	for _, st := range s.snapshot() {
		if st.b.Account == account {
			out = append(out, st.b.Name)
		}
	}
	return out
}

func (s *Service) view(ctx context.Context, st *state, forecast bool) View {
	now := s.cfg.Now()
	v := View{Budget: st.b.Clone(), InForce: map[string]bool{}, Alarm: map[string]bool{}, Enforcement: map[string]Enforcement{}}
	p, ok := st.b.PeriodAt(now)
	lim := st.current(now)
	if !ok || lim == nil {
		if ok {
			v.Period = p
		}
		return v
	}
	v.Period, v.Active, v.PeriodLimit = p, true, lim.limit
	v.Actual, v.Reserved = st.ctr.spent.Load(), st.ctr.reserved.Load()
	if forecast {
		if h := s.history(ctx, st, now); h != nil {
			v.Forecast, v.ForecastMethod, v.HasForecast = Forecast(v.Actual, h.daily, now, p)
		}
	}
	s.amu.Lock()
	for _, a := range st.b.Actions {
		at := ThresholdUnits(lim.limit, a.Threshold, a.ThresholdType, st.b.Type)
		as := s.alerts[alertKey{st.b.Account, st.b.Name, "action/" + a.ID, p.Start.Unix()}]
		e := Enforcement{Status: StatusStandby, Shadow: a.Shadow()}
		if run := st.runs[a.ID]; run != nil && run.period.Load() == p.Start.UnixNano() {
			e.Refusals = run.count.Load()
		}
		if v.Actual >= at || as.Alarm {
			e.Status = StatusExecuted
			if e.Shadow {
				e.Status = StatusPending
			}
			e.Reason = s.engaged(st, &a, at, v.Actual, now.UnixNano(), p, now).reason
			if as.Alarm {
				e.Since = as.UpdatedAt
			}
		}
		v.Enforcement[a.ID] = e
		v.InForce[a.ID] = e.Status == StatusExecuted
	}
	for _, n := range st.b.Notifications {
		v.Alarm[n.Key()] = s.alerts[alertKey{st.b.Account, st.b.Name, n.Key(), p.Start.Unix()}].Alarm
	}
	s.amu.Unlock()
	return v
}

// history returns st's daily history before now's day, read once a day.
// nil when it cannot be read (logged).
func (s *Service) history(ctx context.Context, st *state, now time.Time) *history {
	today := now.UTC().Truncate(24 * time.Hour)
	if h := st.fc.Load(); h != nil && h.day.Equal(today) {
		return h
	}
	if err := s.loadHistory(ctx, []*state{st}, today); err != nil {
		s.log.Error("budget_history_failed", "budget", st.b.Name, "err", err.Error())
		return nil
	}
	return st.fc.Load()
}

// loadHistory reads the daily history of states for the HistoryDays days
// before today, in one read of the ledger.
func (s *Service) loadHistory(ctx context.Context, states []*state, today time.Time) error {
	from := today.AddDate(0, 0, -costquery.HistoryDays)
	rolls, err := costquery.DayRollups(ctx, s.cfg.Source, nil, from, today)
	if err != nil {
		return err
	}
	for _, st := range states {
		daily, err := s.spendOf(rolls, st.sc, from, today, costquery.Daily)
		if err != nil {
			return err
		}
		st.fc.Store(&history{day: today, daily: daily})
	}
	return nil
}

// PeriodSpend is a past or current period with its limit and actual spend.
type PeriodSpend struct {
	Period
	Limit, Actual int64
}

// historyBack is how far before the current period the performance
// history reaches by default: 60 days, 12 months or 4 quarters in all.
var historyBack = map[TimeUnit]func(time.Time) time.Time{
	Daily:     func(t time.Time) time.Time { return t.AddDate(0, 0, -59) },
	Monthly:   func(t time.Time) time.Time { return t.AddDate(0, -11, 0) },
	Quarterly: func(t time.Time) time.Time { return t.AddDate(0, -9, 0) },
}

// PerformanceHistory returns the budget's periods overlapping [from, to)
// (clipped to the budget and to now) with their limits and actual spend,
// from the ledger. A zero from reaches back 60 days, 12 months or 4
// quarters; a zero to is the end of the current period. Only DAILY,
// MONTHLY and QUARTERLY budgets have one, as in AWS.
func (s *Service) PerformanceHistory(ctx context.Context, account, name string, from, to time.Time) (Budget, []PeriodSpend, error) {
	st, err := s.get(account, name)
	if err != nil {
		return Budget{}, nil, err
	}
	b := st.b
	if b.TimeUnit == Annually || b.TimeUnit == Custom {
		return Budget{}, nil, errkind.New(errkind.Invalid, "The performance history isn't available for %s budgets: only DAILY, MONTHLY and QUARTERLY budgets have one.", b.TimeUnit)
	}
	now := s.cfg.Now()
	cur, ok := b.PeriodAt(now)
	if !ok {
		cur, _ = b.PeriodAt(b.End.Add(-time.Nanosecond))
	}
	if from.IsZero() {
		from = historyBack[b.TimeUnit](cur.Start)
	}
	if to.IsZero() {
		to = cur.End
	}
	if !from.Before(to) {
		return Budget{}, nil, errkind.New(errkind.Invalid, "The TimePeriod Start must be before its End.")
	}
	if end := hourCeil(now); to.After(end) {
		to = end
	}
	periods := b.Periods(from, to)
	if len(periods) == 0 {
		return b.Clone(), nil, nil
	}
	lo, hi := periods[0].Start, periods[len(periods)-1].End
	if hi.After(hourCeil(now)) {
		hi = hourCeil(now)
	}
	rolls, err := costquery.DayRollups(ctx, s.cfg.Source, st.sc.Accounts(), lo, hi)
	if err != nil {
		return Budget{}, nil, err
	}
	daily, err := s.spendOf(rolls, st.sc, lo, hi, costquery.Daily)
	if err != nil {
		return Budget{}, nil, err
	}
	out := make([]PeriodSpend, len(periods))
	for i, p := range periods {
		out[i] = PeriodSpend{Period: p, Limit: b.LimitFor(p.Start)}
		for d, v := range daily {
			day := lo.AddDate(0, 0, d)
			if !day.Before(p.Start) && day.Before(p.End) {
				out[i].Actual += v
			}
		}
	}
	return b.Clone(), out, nil
}
