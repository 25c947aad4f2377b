package quota

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/internal/admission"
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/ledger"
)

// Scopes of a quota, as Bedrock's quota names have them: "On-demand
// InvokeModel ... for ${model}" (in-region calls) and "Cross-Region
// InvokeModel ... for ${model}" (calls through a system-defined profile).
const (
	ScopeOnDemand    = "on-demand"
	ScopeCrossRegion = "cross-region"
)

// Rule is one quota: at most RPM requests and TPM tokens (Bedrock's
// token maths) a minute, per account, for a model in a scope. Converse
// and InvokeModel share it, and so do all service tiers.
type Rule struct {
	// Account is the account it applies to; "" every account (each its
	// own quota).
	Account string
	// Model is a model id, or a pattern with "*" (e.g. "anthropic.*",
	// "*"); each model matched has its own quota.
	Model string
	// Scope is ScopeOnDemand or ScopeCrossRegion.
	Scope string
	// Profile, when set, makes the quota that application profile's own
	// (profile id), on top of the account's.
	Profile string
	// RPM and TPM are the limits; 0 is no limit.
	RPM, TPM int64
}

// Reserved is tokens-per-minute capacity reserved for an application
// profile (Bedrock's Reserved tier): calls through it in the reserved
// tier take from it first and overflow to Standard when it is used up.
type Reserved struct {
	Account string // "" every account
	Profile string // application profile id
	TPM     int64
}

// Claimer takes up to want of the limit units of the minute window
// starting at window, counted in a store a fleet shares under key, and
// returns how many it took (the store's ClaimRate, which the budgets'
// throttle windows use too).
type Claimer interface {
	ClaimRate(ctx context.Context, account, key string, window time.Time, limit, want int64) (int64, error)
}

// Config configures Quotas.
type Config struct {
	Rules    []Rule
	Reserved []Reserved
	// FlexShare and DefaultShare are the parts of a quota calls of the
	// flex and default classes may fill, so that priority calls find room
	// in a busy minute; defaults 0.8 and 0.9 (priority: all of it).
	FlexShare, DefaultShare float64
	// FlexMaxWait is how long a flex call may wait for room in a quota
	// (the next minute, or tokens a settled call gives back) before it is
	// refused; default 0: refused at once, as on Bedrock.
	FlexMaxWait time.Duration
	// Shared, when set, makes the quotas the fleet's (see Claimer).
	Shared Claimer
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Quotas admits runtime calls against the configured quotas; it
// implements admission.TierAdmitter. Safe for concurrent use.
type Quotas struct {
	cfg Config

	mu      sync.Mutex
	windows map[windowKey]*window
	changed chan struct{} // closed when tokens are given back
}

var _ admission.TierAdmitter = (*Quotas)(nil)

// New returns the quotas of cfg.
func New(cfg Config) *Quotas {
	if cfg.FlexShare <= 0 || cfg.FlexShare > 1 {
		cfg.FlexShare = 0.8
	}
	if cfg.DefaultShare <= 0 || cfg.DefaultShare > 1 {
		cfg.DefaultShare = 0.9
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Quotas{cfg: cfg, windows: map[windowKey]*window{}, changed: make(chan struct{})}
}

// Empty reports whether no quota is configured.
func (q *Quotas) Empty() bool { return len(q.cfg.Rules) == 0 && len(q.cfg.Reserved) == 0 }

type windowKey struct {
	account, model, scope, profile, kind string
}

func (k windowKey) shared() string {
	return "quota:" + k.kind + ":" + k.scope + ":" + k.model + ":" + k.profile
}

func match(pattern, s string) bool {
	if pattern == "" || pattern == "*" {
		return true
	}
	before, after, ok := strings.Cut(pattern, "*")
	if !ok {
		return pattern == s
	}
	return len(s) >= len(before)+len(after) && strings.HasPrefix(s, before) && strings.HasSuffix(s, after)
}

func (q *Quotas) window(k windowKey, limit int64) *window {
	q.mu.Lock()
	defer q.mu.Unlock()
	w := q.windows[k]
	if w == nil {
		w = &window{limit: limit, key: k.shared(), account: k.account, shared: q.cfg.Shared}
		q.windows[k] = w
	}
	return w
}

// charge is one window a call took units from.
type charge struct {
	w     *window
	units int64
	what  string // "requests" or "tokens"
}

func (q *Quotas) share(c Class) float64 {
	switch c {
	case ClassFlex:
		return q.cfg.FlexShare
	case ClassDefault:
		return q.cfg.DefaultShare
	}
	return 1
}

// AdmitTier implements admission.TierAdmitter: it takes one request and
// the call's Reservation from every quota that applies (the reserved
// capacity of its profile first, for a call in the reserved tier) and
// returns the ticket that settles them, or a ThrottlingException with a
// Retry-After. A flex call may wait up to FlexMaxWait for room.
func (q *Quotas) AdmitTier(ctx context.Context, r admission.Request) (admission.TierTicket, error) {
	if q.Empty() {
		return nil, nil
	}
	scope := ScopeOnDemand
	if r.CrossRegion {
		scope = ScopeCrossRegion
	}
	tokens := Reservation(r.Model.ID, Tokens{Input: r.InputTokens}, r.RequestMaxTokens)
	var deadline time.Time
	class := ClassOf(r.ServiceTier)
	if class == ClassFlex && q.cfg.FlexMaxWait > 0 {
		deadline = q.cfg.Now().Add(q.cfg.FlexMaxWait)
	}
	for {
		q.mu.Lock()
		changed := q.changed
		q.mu.Unlock()
		t, what, err := q.try(ctx, r, scope, tokens)
		if err != nil || t != nil {
			return t, err
		}
		if what == "" {
			return nil, nil // no quota applies
		}
		now := q.cfg.Now()
		next := now.Truncate(time.Minute).Add(time.Minute)
		if deadline.IsZero() || !now.Before(deadline) {
			return nil, admission.Throttle(fmt.Sprintf("Too many %s, please wait before trying again.", what), next.Sub(now))
		}
		wait := min(next.Sub(now), deadline.Sub(now))
		timer := time.NewTimer(wait)
		select {
		case <-changed:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		}
		timer.Stop()
	}
}

// try takes what the call needs from every quota that applies. It
// returns the ticket; or, when a quota has no room, nil and what ran out
// ("requests" or "tokens"); or nil and "" when no quota applies.
func (q *Quotas) try(ctx context.Context, r admission.Request, scope string, tokens int64) (*ticket, string, error) {
	now := q.cfg.Now()
	t := &ticket{q: q, model: r.Model.ID, minute: now.Unix() / 60, reserved: tokens}
	if r.ServiceTier == catalog.TierReserved {
		t.tier = catalog.TierDefault // overflow, unless the reservation has room
		for _, res := range q.cfg.Reserved {
			if res.Profile != r.ProfileID || (res.Account != "" && res.Account != r.Account) || res.TPM <= 0 {
				continue
			}
			w := q.window(windowKey{r.Account, r.Model.ID, "", r.ProfileID, "reserved"}, res.TPM)
			ok, err := w.take(ctx, now, tokens, 1)
			if err != nil {
				return nil, "", err
			}
			if ok {
				t.tier = catalog.TierReserved
				t.charges = append(t.charges, charge{w, tokens, "tokens"})
				return t, "tokens", nil
			}
		}
	}
	class := ClassOf(r.ServiceTier)
	if t.tier == catalog.TierDefault {
		class = ClassDefault
	}
	share := q.share(class)
	for _, rule := range q.cfg.Rules {
		if (rule.Account != "" && rule.Account != r.Account) || rule.Scope != scope || !match(rule.Model, r.Model.ID) ||
			(rule.Profile != "" && rule.Profile != r.ProfileID) {
			continue
		}
		for _, lim := range []struct {
			kind, what string
			limit, n   int64
		}{{"rpm", "requests", rule.RPM, 1}, {"tpm", "tokens", rule.TPM, tokens}} {
			if lim.limit <= 0 {
				continue
			}
			w := q.window(windowKey{r.Account, r.Model.ID, scope, rule.Profile, lim.kind}, lim.limit)
			ok, err := w.take(ctx, now, lim.n, share)
			if err != nil || !ok {
				t.undo()
				return nil, lim.what, err
			}
			t.charges = append(t.charges, charge{w, lim.n, lim.what})
		}
	}
	if len(t.charges) == 0 && t.tier == "" {
		return nil, "", nil
	}
	return t, "", nil
}

// gaveBack wakes flex calls waiting for room.
func (q *Quotas) gaveBack() {
	q.mu.Lock()
	close(q.changed)
	q.changed = make(chan struct{})
	q.mu.Unlock()
}

// ticket is an admitted call's hold on its quotas.
type ticket struct {
	q        *Quotas
	model    string
	minute   int64 // the minute the units were taken in
	reserved int64 // tokens taken from each token quota
	tier     string
	charges  []charge
	once     sync.Once
}

func (t *ticket) undo() {
	for _, c := range t.charges {
		c.w.give(t.minute, c.units)
	}
	t.charges = nil
}

// Model implements admission.Ticket: quotas never change the model.
func (t *ticket) Model() string { return "" }

// ServiceTier implements admission.TierTicket: "default" for a reserved
// call that overflowed to Standard, else "" (the tier asked for).
func (t *ticket) ServiceTier() string {
	if t.tier == catalog.TierDefault {
		return t.tier
	}
	return ""
}

// Done implements admission.Ticket: it settles each token quota to the
// call's Settled tokens (none for a call that did not run), giving back
// what the reservation held beyond them, cache reads included, or taking
// what the call used beyond it. Requests stay counted.
func (t *ticket) Done(r ledger.Record) {
	t.once.Do(func() {
		used := Settled(t.model, Tokens{Input: r.InputTokens, Output: r.OutputTokens, CacheRead: r.CacheReadTokens, CacheWrite: r.CacheWriteAll()})
		gave := false
		for _, c := range t.charges {
			if c.what != "tokens" {
				continue
			}
			switch d := t.reserved - used; {
			case d > 0:
				c.w.give(t.minute, d)
				gave = true
			case d < 0:
				c.w.overrun(t.minute, -d)
			}
		}
		if gave {
			t.q.gaveBack()
		}
	})
}

// window counts one quota's units in minute windows.
type window struct {
	limit   int64
	key     string // in the shared store
	account string
	shared  Claimer

	mu     sync.Mutex
	minute int64 // unix minute of the current window
	used   int64 // units this node counted in it
	held   int64 // fleet: units claimed from the store and not used
}

// roll starts the window of minute m.
func (w *window) roll(m int64) {
	if w.minute != m {
		w.minute, w.used, w.held = m, 0, 0
	}
}

// take takes n units of the window at now, filling at most share of the
// limit; it reports whether they fit.
func (w *window) take(ctx context.Context, now time.Time, n int64, share float64) (bool, error) {
	m := now.Unix() / 60
	w.mu.Lock()
	defer w.mu.Unlock()
	w.roll(m)
	capacity := int64(float64(w.limit) * share)
	if w.shared == nil {
		if w.used+n > capacity {
			return false, nil
		}
		w.used += n
		return true, nil
	}
	if w.held < n {
		got, err := w.shared.ClaimRate(ctx, w.account, w.key, time.Unix(m*60, 0).UTC(), capacity, max(n-w.held, w.limit/8))
		if err != nil {
			return false, err
		}
		w.held += got
		if w.held < n {
			return false, nil
		}
	}
	w.held -= n
	w.used += n
	return true, nil
}

// give returns n units taken in minute m, while it lasts.
func (w *window) give(m, n int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.minute != m {
		return
	}
	w.used -= n
	if w.shared != nil {
		w.held += n
	}
}

// overrun counts n units beyond a reservation in minute m: on one node
// they count as used; a fleet takes them from what it holds and claims
// the rest from the store if it can (a call that ran cannot be refused).
func (w *window) overrun(m, n int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.minute != m {
		return
	}
	w.used += n
	if w.shared == nil {
		return
	}
	if w.held >= n {
		w.held -= n
		return
	}
	need := n - w.held
	w.held = 0
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _ = w.shared.ClaimRate(ctx, w.account, w.key, time.Unix(m*60, 0).UTC(), w.limit, need)
}

// Usage returns the units this node counted in the current minute of
// each quota window, keyed "kind account model scope profile" (kind rpm,
// tpm or reserved), for tests and diagnostics.
func (q *Quotas) Usage(now time.Time) map[string]int64 {
	m := now.Unix() / 60
	q.mu.Lock()
	defer q.mu.Unlock()
	out := map[string]int64{}
	for k, w := range q.windows {
		w.mu.Lock()
		if w.minute == m {
			out[k.kind+" "+k.account+" "+k.model+" "+k.scope+" "+k.profile] = w.used
		}
		w.mu.Unlock()
	}
	return out
}
