package budget

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/internal/admission"
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/ratelimit"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// Enforcement.
//
// Every budget has a counter for its current period: spent (the actual
// spend of the period's calls that have finished, in the budget's units)
// and reserved (the worst-case cost of the calls in scope that are in
// flight). Admission reserves each call's worst case on every budget in
// scope; the call's durable record settles it: spent grows by the record's
// cost in scope, reserved shrinks by the reservation.
//
// The BLOCK rule. A call is rejected by a budget with a BLOCK action at
// threshold T (in units) when
//
//	spent >= T  or  spent + reserved + worstCase > T
//
// where reserved includes every reservation taken before this one. Both
// counters are atomics: the reservation is added first and the sum checked
// after (and taken back on rejection), so two concurrent admissions can
// never both fit into the same headroom, and a settling call adds its cost
// to spent before it releases its reservation, so no reader ever sees
// less than the truth. Hence at every moment spent + reserved <= T holds
// for the admitted calls, and when every call costs at most its worst case
// the final spend never exceeds T: the overshoot bound is
//
//	spend - T <= sum over admitted calls of max(0, actual cost - worstCase)
//
// which is 0 when worst cases hold (the pipeline's worst case prices the
// input at one token per two bytes of request body and the output at the
// request's maxTokens). A call of an unpriced model reserves 0 and is
// blocked only once spent >= T.
//
// THROTTLE and DOWNGRADE apply once the period's actual spend reaches their
// threshold. THROTTLE admits at most RequestsPerMinute calls in scope per
// UTC calendar minute (the lowest cap of the actions in force); DOWNGRADE
// routes the call to its model (the first in force, budgets in name
// order).
//
// The check per call is O(budgets in scope), independent of how many
// budgets and profiles exist: an index maps each caller subject (an
// inference profile, or an account's direct calls to a model) to the
// budgets whose scope may include it, kept up to date when a budget
// changes and when a profile is created, retagged or deleted. The index is
// an immutable map swapped atomically, so readers never lock.

// counter is a budget's spend in its current period. It survives budget
// updates that keep the scope and period.
type counter struct {
	mu              sync.Mutex    // serialises period changes
	start, end      atomic.Int64  // current period, unix nanoseconds
	spent, reserved atomic.Int64  // units
	calls           atomic.Uint64 // calls settled this period (for views)

	// Shared stores only (shared.go): own is this replica's settled spend
	// this period, local what settled here since the last sync's read
	// began, grant this replica's BLOCK allowance for the period, claimed
	// when it last claimed (unix nanoseconds).
	own, local, grant, claimed atomic.Int64
	claimMu                    sync.Mutex // one claim or return at a time
}

// limits are a budget's thresholds in units for one period.
type limits struct {
	start, end int64 // unix nanoseconds
	limit      int64
	block      int64   // BLOCK threshold; -1 without BLOCK
	blockRun   *actRun // the BLOCK action at that threshold
	throttles  []throttle
	downgrades []downgrade
	shadows    []shadow // the shadow (MANUAL) actions
}

type throttle struct {
	at, rpm int64
	run     *actRun
}
type downgrade struct {
	at    int64
	model string
}

// shadow is a shadow action's threshold and argument.
type shadow struct {
	id    string
	typ   ActionType
	at    int64
	rpm   int64
	model string
	run   *actRun
}

// state is one budget's runtime state. b and sc never change; an update
// replaces the state (sharing the counter when the scope stays the same).
type state struct {
	b    *Budget
	sc   *Scope
	ctr  *counter
	lim  atomic.Pointer[limits]
	fc   atomic.Pointer[history]
	rpm  ratelimit.Window   // THROTTLE's calls per UTC minute (shared stores: claimed from the fleet's)
	dirt atomic.Bool        // spend changed since the last alert evaluation
	runs map[string]*actRun // per action ID; never changes
}

// history is a budget's daily spend before one day, for forecasts.
type history struct {
	day   time.Time
	daily []int64
}

func (s *Service) newState(b *Budget, sc *Scope, ctr *counter) *state {
	st := &state{b: b, sc: sc, ctr: ctr, rpm: ratelimit.Window{Length: time.Minute}, runs: make(map[string]*actRun, len(b.Actions))}
	for _, a := range b.Actions {
		st.runs[a.ID] = &actRun{win: ratelimit.Window{Length: time.Minute}, total: s.totals.of(actionKey{b.Account, b.Name, a.ID})}
	}
	return st
}

// current returns the limits of the period containing t, moving the
// counter to that period when t is past its end; nil when t lies outside
// the budget's time period or before the counter's period.
func (st *state) current(t time.Time) *limits {
	tn := t.UnixNano()
	if l := st.lim.Load(); l != nil && tn >= l.start && tn < l.end {
		return l
	}
	p, ok := st.b.PeriodAt(t)
	if !ok {
		return nil
	}
	ps, pe := p.Start.UnixNano(), p.End.UnixNano()
	c := st.ctr
	c.mu.Lock()
	switch cs := c.start.Load(); {
	case ps > cs:
		c.spent.Store(0)
		c.calls.Store(0)
		c.own.Store(0)
		c.local.Store(0)
		c.grant.Store(0)
		c.start.Store(ps)
		c.end.Store(pe)
	case ps < cs:
		c.mu.Unlock()
		return nil // an earlier period: not the one the counter tracks
	}
	c.mu.Unlock()
	l := st.limitsFor(p)
	st.lim.Store(l)
	return l
}

func (st *state) limitsFor(p Period) *limits {
	b := st.b
	l := &limits{start: p.Start.UnixNano(), end: p.End.UnixNano(), limit: b.LimitFor(p.Start), block: -1}
	for _, a := range b.Actions {
		at := ThresholdUnits(l.limit, a.Threshold, a.ThresholdType, b.Type)
		if a.Shadow() {
			l.shadows = append(l.shadows, shadow{id: a.ID, typ: a.Type, at: at, rpm: a.RequestsPerMinute, model: a.Model, run: st.runs[a.ID]})
			continue
		}
		switch a.Type {
		case Block:
			if l.block < 0 || at < l.block {
				l.block, l.blockRun = at, st.runs[a.ID]
			}
		case Throttle:
			l.throttles = append(l.throttles, throttle{at, a.RequestsPerMinute, st.runs[a.ID]})
		case Downgrade:
			l.downgrades = append(l.downgrades, downgrade{at, a.Model})
		}
	}
	slices.SortStableFunc(l.downgrades, func(x, y downgrade) int { return cmp.Compare(x.at, y.at) })
	return l
}

// addSpend settles d units of a call that started at t; shared says the
// store is shared between replicas (the counters own and local count too).
func (st *state) addSpend(t time.Time, d int64, shared bool) {
	if st.current(t) == nil {
		return // a call of an earlier period: counted in the ledger only
	}
	if shared {
		st.ctr.local.Add(d) // before spent: a sync may count it twice, never miss it
		st.ctr.own.Add(d)
	}
	st.ctr.spent.Add(d)
}

// subjectKey identifies who a call is made through: an inference profile
// (arn), or an account's direct calls to a model.
type subjectKey struct{ arn, account, model string }

// subject is what admission knows of a caller before the call runs.
type subject struct {
	account, arn, model string
	tags                tags.Set
	regions             *[]string // the regions a profile routes to (shared; see index.regions); nil when unknown
	// source is the region calls are made to ("" when unknown); scope
	// the endpoint scope they are priced in, as records keep it ("" in
	// region, "geo", "global").
	source, scope string
	// prof is the profile a profile's subject was read from (the profile
	// service's own, never modified); nil for direct calls.
	prof *profile.Profile
}

func (sub *subject) line() line {
	l := line{account: sub.account, profileARN: sub.arn, model: sub.model, tags: sub.tags, source: sub.source, scope: sub.scope}
	if sub.regions != nil {
		l.regions = *sub.regions
	}
	return l
}

// recordScope returns a profile's or call's endpoint scope as records keep
// it: "" for in-region.
func recordScope(scope string) string {
	if scope == catalog.ScopeInRegion {
		return ""
	}
	return scope
}

// entry is the budgets that may include a subject's calls. There is one
// per profile, so it is kept small (48 bytes): a profile's keeps the
// profile service's *Profile rather than a copy of its fields, and in is
// shared between entries when it holds one budget (index.one).
type entry struct {
	prof    *profile.Profile // a profile's entry: its profile (shared, never modified); nil for direct calls
	direct  *subject         // direct calls' entry: their subject; nil for a profile's
	regions *[]string        // a profile's regions (shared; see index.regions); never nil with prof
	in      []inScope        // in the budgets' order
}

// line returns the line of e's subject, as subject.line does.
func (e *entry) line() line {
	if e.prof == nil {
		return e.direct.line()
	}
	sub := profileSubjectOf(e.prof, e.regions)
	return sub.line()
}

// inScope is a budget that may include a subject's calls.
type inScope struct {
	st    *state
	check bool // the state's scope depends on the operation: evaluate per call
}

// index maps subjects to their budgets. Readers look an entry up under a
// read lock; writers (budget and profile changes, first calls of a new
// subject) hold mu, and change the map in place (a profile or a new
// subject: one entry) or build a new one and swap it in (a budget
// change: every entry), taking the write lock only to change or swap it.
// So a profile change costs its own entry, not a copy of every profile's.
type index struct {
	mu  sync.Mutex
	all []*state // every budget's state, in (account, name) order; guarded by mu

	// one holds the entries' lists of one budget, shared: most profiles
	// are in the scope of few budgets, many of them of the same one.
	// Emptied when every entry is rebuilt (replace); guarded by mu.
	one map[inScope][]inScope
	// regions holds the subjects' region lists, shared, by their
	// regions joined with commas; guarded by mu.
	regions map[string]*[]string

	rw     sync.RWMutex
	byARN  map[string]*entry    // profile ARN -> entry; written with mu and rw held
	direct map[directKey]*entry // an account's direct calls to a model; written with mu and rw held
}

// directKey is the subjectKey of direct calls.
type directKey struct{ account, model string }

// get returns the entry of k.
func (ix *index) get(k subjectKey) (*entry, bool) {
	ix.rw.RLock()
	var e *entry
	var ok bool
	if k.arn != "" {
		e, ok = ix.byARN[k.arn]
	} else {
		e, ok = ix.direct[directKey{k.account, k.model}]
	}
	ix.rw.RUnlock()
	return e, ok
}

// setLocked sets the entry of k (nil removes it); mu and rw are held.
func (ix *index) setLocked(k subjectKey, e *entry) {
	if ix.byARN == nil {
		ix.byARN, ix.direct = map[string]*entry{}, map[directKey]*entry{}
	}
	switch {
	case k.arn != "" && e != nil:
		ix.byARN[k.arn] = e
	case k.arn != "":
		delete(ix.byARN, k.arn)
	case e != nil:
		ix.direct[directKey{k.account, k.model}] = e
	default:
		delete(ix.direct, directKey{k.account, k.model})
	}
}

// list returns in, or the equal list of one budget held in ix.one; mu
// is held. Shared lists are never modified.
func (ix *index) list(in []inScope) []inScope {
	if len(in) != 1 {
		return in
	}
	if l, ok := ix.one[in[0]]; ok {
		return l
	}
	if ix.one == nil {
		ix.one = map[inScope][]inScope{}
	}
	ix.one[in[0]] = in
	return in
}

// shareRegions returns sub with its region list replaced by the shared
// equal one; mu is held.
func (ix *index) shareRegions(sub subject) subject {
	if sub.regions == nil {
		return sub
	}
	k := strings.Join(*sub.regions, ",")
	if r, ok := ix.regions[k]; ok {
		sub.regions = r
		return sub
	}
	if ix.regions == nil {
		ix.regions = map[string]*[]string{}
	}
	ix.regions[k] = sub.regions
	return sub
}

// build returns sub's entry against states; mu is held.
func (ix *index) build(sub subject, states []*state) *entry {
	sub = ix.shareRegions(sub)
	var e *entry
	if sub.prof != nil {
		e = &entry{prof: sub.prof, regions: sub.regions}
	} else {
		e = &entry{direct: &sub}
	}
	l := e.line()
	for _, st := range states {
		switch st.sc.admits(&l) {
		case yes:
			e.in = append(e.in, inScope{st, false})
		case maybe:
			e.in = append(e.in, inScope{st, true})
		}
	}
	e.in = ix.list(slices.Clip(e.in))
	return e
}

func stateLess(a, b *state) int {
	if c := cmp.Compare(a.b.Account, b.b.Account); c != 0 {
		return c
	}
	return cmp.Compare(a.b.Name, b.b.Name)
}

// fill returns the entry of a subject seen for the first time.
func (ix *index) fill(k subjectKey, sub subject) *entry {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if e, ok := ix.get(k); ok {
		return e
	}
	e := ix.build(sub, ix.all)
	ix.rw.Lock()
	ix.setLocked(k, e)
	ix.rw.Unlock()
	return e
}

// replace swaps budget state old for new (either may be nil) in every
// entry.
func (ix *index) replace(old, new *state) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	all := slices.Clone(ix.all)
	if old != nil {
		all = slices.DeleteFunc(all, func(s *state) bool { return s == old })
	}
	if new != nil {
		i, _ := slices.BinarySearchFunc(all, new, stateLess)
		all = slices.Insert(all, i, new)
	}
	ix.all = all
	ix.one = nil
	rebuild := func(e *entry) *entry {
		ne := &entry{prof: e.prof, direct: e.direct, regions: e.regions}
		var in []inScope
		for _, x := range e.in {
			if x.st != old {
				in = append(in, x)
			}
		}
		if new != nil {
			l := e.line()
			if v := new.sc.admits(&l); v != no {
				i, _ := slices.BinarySearchFunc(in, new, func(x inScope, st *state) int { return stateLess(x.st, st) })
				in = slices.Insert(in, i, inScope{new, v == maybe})
			}
		}
		ne.in = ix.list(slices.Clip(in))
		return ne
	}
	// No writer but us: read without rw.
	byARN := make(map[string]*entry, len(ix.byARN))
	for k, e := range ix.byARN {
		byARN[k] = rebuild(e)
	}
	direct := make(map[directKey]*entry, len(ix.direct))
	for k, e := range ix.direct {
		direct[k] = rebuild(e)
	}
	ix.rw.Lock()
	ix.byARN, ix.direct = byARN, direct
	ix.rw.Unlock()
}

// setSubjects replaces the entries of the given profiles (a nil subject
// removes the key).
func (ix *index) setSubjects(keys []subjectKey, subs []*subject) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	built := make([]*entry, len(keys))
	for i := range keys {
		if subs[i] != nil {
			built[i] = ix.build(*subs[i], ix.all)
		}
	}
	ix.rw.Lock()
	defer ix.rw.Unlock()
	for i, k := range keys {
		ix.setLocked(k, built[i])
	}
}

func profileSubject(p *profile.Profile) (subjectKey, *subject) {
	regions := p.Regions()
	sub := profileSubjectOf(p, &regions)
	return subjectKey{arn: p.ARN}, &sub
}

// profileSubjectOf returns the subject of calls through p, which routes
// to regions: the one mapping from a profile to what admission knows of
// it, used to index it and, from its entry, to check a call.
func profileSubjectOf(p *profile.Profile, regions *[]string) subject {
	return subject{account: p.Account, arn: p.ARN, model: p.ModelID, tags: p.Tags, regions: regions,
		source: p.Region, scope: recordScope(p.Scope), prof: p}
}

// ProfileChanged keeps the admission index in step with application
// profiles: register it with profile.Service.OnChange. A profile created,
// retagged or deleted enters or leaves a budget's scope before the change
// returns.
func (s *Service) ProfileChanged(old, new *profile.Profile) {
	switch {
	case new != nil:
		k, sub := profileSubject(new)
		s.idx.setSubjects([]subjectKey{k}, []*subject{sub})
	case old != nil:
		k, _ := profileSubject(old)
		s.idx.setSubjects([]subjectKey{k}, []*subject{nil})
	}
}

// AddProfiles indexes existing profiles (at start, before serving). The
// index keeps the profiles themselves, which it never modifies: pass the
// profile service's own (profile.Service.AllShared), not copies.
func (s *Service) AddProfiles(ps []*profile.Profile) {
	keys := make([]subjectKey, len(ps))
	subs := make([]*subject, len(ps))
	for i, p := range ps {
		keys[i], subs[i] = profileSubject(p)
	}
	s.idx.setSubjects(keys, subs)
}

// hold is one budget's reservation for a call.
type hold struct {
	st *state
	w  int64
}

// ticket settles an admitted call's reservations.
type ticket struct {
	s     *Service
	model string
	n     int
	few   [4]hold
	more  []hold
	ln    line // scratch for scope evaluation
}

func (t *ticket) add(h hold) {
	if t.n < len(t.few) {
		t.few[t.n] = h
	} else {
		t.more = append(t.more, h)
	}
	t.n++
}

func (t *ticket) each(f func(h hold)) {
	for i := 0; i < min(t.n, len(t.few)); i++ {
		f(t.few[i])
	}
	for _, h := range t.more {
		f(h)
	}
}

// Model returns the DOWNGRADE model, or "".
func (t *ticket) Model() string { return t.model }

// Done settles the call with its durable record (a zero Record when the
// call did not run).
func (t *ticket) Done(r ledger.Record) {
	t.each(func(h hold) {
		if r.RequestID != "" {
			if d := h.st.sc.spend(&r, &t.ln); d != 0 {
				h.st.addSpend(r.Time, d, t.s.cfg.Shared != nil)
			}
			h.st.ctr.calls.Add(1)
		}
		h.st.ctr.reserved.Add(-h.w)
		t.s.markDirty(h.st)
	})
}

func (t *ticket) release() {
	t.each(func(h hold) { h.st.ctr.reserved.Add(-h.w) })
}

type noTicket struct{}

func (noTicket) Model() string      { return "" }
func (noTicket) Done(ledger.Record) {}

var _ admission.Admitter = (*Service)(nil)

// Admit implements admission.Admitter: it reserves the call's worst case on
// every budget in scope and applies their actions. A BLOCK refusal is an
// errkind.QuotaExceeded error, a THROTTLE refusal errkind.Throttled; both
// name the budget.
func (s *Service) Admit(ctx context.Context, a admission.Request) (admission.Ticket, error) {
	k := subjectKey{arn: a.ProfileARN}
	if a.ProfileARN == "" {
		k = subjectKey{account: a.Account, model: a.Model.ID}
	}
	e, ok := s.idx.get(k)
	if !ok {
		e = s.idx.fill(k, subject{account: a.Account, arn: a.ProfileARN, model: a.Model.ID, tags: a.Tags,
			source: a.Region, scope: recordScope(a.Scope)})
	}
	if len(e.in) == 0 {
		return noTicket{}, nil
	}
	t := &ticket{s: s}
	for _, in := range e.in {
		st := in.st
		if in.check {
			t.ln = e.line()
			t.ln.operation, t.ln.opKnown = a.Operation, true
			t.ln.tier, t.ln.tierKnown = a.ServiceTier, a.ServiceTier != ""
			if st.sc.admits(&t.ln) == no {
				continue
			}
		}
		lim := st.current(a.Time)
		if lim == nil {
			continue
		}
		spent := st.ctr.spent.Load()
		if len(lim.throttles) > 0 {
			rpm := int64(-1)
			var run *actRun
			for _, th := range lim.throttles {
				if spent >= th.at && (rpm < 0 || th.rpm < rpm) {
					rpm, run = th.rpm, th.run
				}
			}
			if rpm >= 0 {
				ok := true
				if s.cfg.Shared != nil {
					var err error
					if ok, err = s.sharedAllow(ctx, st, a.Time, rpm); err != nil {
						t.release()
						s.log.Error("budget_rate_claim_failed", "account", st.b.Account, "budget", st.b.Name, "err", err.Error())
						return nil, errkind.Wrap(errkind.Throttled, err, "Budget %q throttles the calls in its scope and cannot count them now.", st.b.Name)
					}
				} else {
					ok = st.rpm.Allow(a.Time, rpm)
				}
				if !ok {
					t.release()
					s.refused(st, run, a.Time, lim)
					return nil, errkind.New(errkind.Throttled, "Budget %q throttles the calls in its scope to %d requests per minute.", st.b.Name, rpm)
				}
			}
		}
		w := int64(a.WorstCase)
		if st.b.Type == Usage {
			w = a.InputTokens + a.MaxOutputTokens
		}
		r := st.ctr.reserved.Add(w)
		if lim.block >= 0 {
			spent = st.ctr.spent.Load()
			if spent >= lim.block || (s.cfg.Shared == nil && spent+r > lim.block) {
				st.ctr.reserved.Add(-w)
				t.release()
				s.refused(st, lim.blockRun, a.Time, lim)
				return nil, errkind.New(errkind.QuotaExceeded, "Budget %q blocks this call: its spend this period (%s) plus the calls in flight and this call's worst case would pass its limit of %s.",
					st.b.Name, st.b.FormatUnits(spent), st.b.FormatUnits(lim.block))
			}
			if s.cfg.Shared != nil {
				if err := s.sharedBlock(ctx, st, lim, r); err != nil {
					st.ctr.reserved.Add(-w)
					t.release()
					if errkind.KindOf(err) == errkind.QuotaExceeded {
						s.refused(st, lim.blockRun, a.Time, lim)
					}
					return nil, err
				}
			}
		}
		if len(lim.shadows) > 0 {
			s.shadows(st, lim, a.Time, a.Model.ID, r)
		}
		t.add(hold{st, w})
		if t.model == "" {
			for _, d := range lim.downgrades {
				if spent >= d.at {
					if d.model != a.Model.ID {
						t.model = d.model
					}
					break
				}
			}
		}
	}
	if t.n == 0 {
		return noTicket{}, nil
	}
	return t, nil
}

// markDirty schedules st for alert evaluation.
func (s *Service) markDirty(st *state) {
	if len(st.b.Notifications) == 0 && len(st.b.Actions) == 0 {
		return
	}
	if !st.dirt.Load() && st.dirt.CompareAndSwap(false, true) {
		s.dirtyMu.Lock()
		s.dirty = append(s.dirty, st)
		s.dirtyMu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}
