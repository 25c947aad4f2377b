package quota

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/internal/admission"
)

// Class is an admission class. Calls of a higher class are admitted
// before calls of a lower one.
type Class uint8

// The classes, lowest first.
const (
	ClassFlex Class = iota
	ClassDefault
	ClassPriority
	numClasses
)

// ClassOf returns the class of a service tier: reserved and priority are
// ClassPriority, flex ClassFlex, anything else ClassDefault.
func ClassOf(tier string) Class {
	switch tier {
	case "priority", "reserved":
		return ClassPriority
	case "flex":
		return ClassFlex
	}
	return ClassDefault
}

// String returns the class's tier name.
func (c Class) String() string {
	return [...]string{"flex", "default", "priority"}[c]
}

// GateConfig configures a Gate.
type GateConfig struct {
	// Initial is the limit of calls in flight a route starts with;
	// default 32.
	Initial int
	// Min and Max bound the adaptive limit; defaults 1 and 1024.
	Min, Max int
	// MaxWait is how long a call of each class may wait for a slot when
	// the route is full before it is refused (ThrottlingException); a
	// class at 0 is refused at once. All zero: the defaults, flex 2s,
	// default 1s, priority 5s.
	MaxWait [numClasses]time.Duration
	// Share is the part of the limit calls of each class may hold, so
	// that a busy route keeps room for priority calls; defaults flex
	// 0.8, default 0.9, priority 1.
	Share [numClasses]float64
	// Increase is how many slots the limit grows by over a round of
	// calls that end without throttling (each adds Increase/limit);
	// default 0.25, probing a fixed-capacity upstream gently.
	Increase float64
	// Backoff is the factor a throttled answer multiplies the limit by,
	// at most once a round of calls (as many calls ended since the last
	// cut as the limit then allowed, since the calls in flight at a cut
	// were admitted under the old limit); default 0.7.
	Backoff float64
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (c GateConfig) withDefaults() GateConfig {
	if c.Initial <= 0 {
		c.Initial = 32
	}
	if c.Min <= 0 {
		c.Min = 1
	}
	if c.Max <= 0 {
		c.Max = 1024
	}
	c.Initial = min(max(c.Initial, c.Min), c.Max)
	if c.MaxWait == ([numClasses]time.Duration{}) {
		c.MaxWait = [numClasses]time.Duration{ClassFlex: 2 * time.Second, ClassDefault: time.Second, ClassPriority: 5 * time.Second}
	}
	for k, def := range [numClasses]float64{0.8, 0.9, 1} {
		if c.Share[k] <= 0 || c.Share[k] > 1 {
			c.Share[k] = def
		}
	}
	c.Share[ClassPriority] = 1
	if c.Increase <= 0 {
		c.Increase = 0.25
	}
	if c.Backoff <= 0 || c.Backoff >= 1 {
		c.Backoff = 0.7
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Gate bounds the calls in flight to each upstream route with an
// additive-increase, multiplicative-decrease limit: every call that ends
// without throttling raises the limit by Increase/limit (Increase slots a
// round trip), a throttled answer multiplies it by Backoff (once a round).
// A call that finds its route full waits in its class's queue; a freed
// slot goes to the highest class waiting and, within a class, to the
// profiles waiting in turn (round robin), so one tenant cannot starve its
// peers. Flex and default calls hold at most their Share of the limit,
// so priority calls find a slot at once on a busy route. Flex, admitted
// last, is shed first when the limit falls. Safe for concurrent use; it implements admission.Upstream.
type Gate struct {
	cfg GateConfig

	mu     sync.Mutex
	routes map[admission.Route]*limiter
}

var _ admission.Upstream = (*Gate)(nil)

// NewGate returns a gate.
func NewGate(cfg GateConfig) *Gate {
	return &Gate{cfg: cfg.withDefaults(), routes: map[admission.Route]*limiter{}}
}

// limiter is one route's limit, calls in flight and queues.
type limiter struct {
	g *Gate

	mu       sync.Mutex
	limit    float64
	inFlight int
	waiting  int
	queues   [numClasses]classQueue
	sinceCut int // calls ended since the last multiplicative decrease

	// Counters for the metrics, read without the lock.
	stats RouteStats
}

// RouteStats are the counters of one route.
type RouteStats struct {
	Limit    atomic.Int64 // the current limit of calls in flight
	InFlight atomic.Int64
	Waiting  [numClasses]atomic.Int64 // calls queued, by class
	Refused  [numClasses]atomic.Int64 // calls refused after waiting, by class
	Admitted [numClasses]atomic.Int64
}

// classQueue is one class's waiting calls, by profile in turn.
type classQueue struct {
	ring []*profileQueue
	next int
}

type profileQueue struct {
	profile string
	waiters []*waiter
}

type waiter struct {
	ch      chan struct{}
	granted bool
}

func (g *Gate) route(r admission.Route) *limiter {
	g.mu.Lock()
	l := g.routes[r]
	if l == nil {
		l = &limiter{g: g, limit: float64(g.cfg.Initial)}
		l.stats.Limit.Store(int64(g.cfg.Initial))
		g.routes[r] = l
	}
	g.mu.Unlock()
	return l
}

// Acquire implements admission.Upstream.
func (g *Gate) Acquire(ctx context.Context, r admission.Route, tier, profile string) (admission.Slot, time.Duration, error) {
	l := g.route(r)
	c := ClassOf(tier)
	l.mu.Lock()
	if l.room(c) && !l.waitingAtOrAbove(c) {
		l.inFlight++
		l.mu.Unlock()
		l.admitted(c)
		return l, 0, nil
	}
	wait := g.cfg.MaxWait[c]
	if wait <= 0 {
		l.mu.Unlock()
		l.stats.Refused[c].Add(1)
		return nil, 0, full()
	}
	w := &waiter{ch: make(chan struct{})}
	l.enqueue(c, profile, w)
	l.mu.Unlock()

	start := g.cfg.Now()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-w.ch:
		l.admitted(c)
		return l, g.cfg.Now().Sub(start), nil
	case <-timer.C:
	case <-ctx.Done():
	}
	l.mu.Lock()
	if w.granted { // granted as the wait ran out
		l.mu.Unlock()
		l.admitted(c)
		return l, g.cfg.Now().Sub(start), nil
	}
	l.remove(c, profile, w)
	l.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, g.cfg.Now().Sub(start), err
	}
	l.stats.Refused[c].Add(1)
	return nil, g.cfg.Now().Sub(start), full()
}

func full() error {
	return admission.Throttle("Too many requests, please wait before trying again.", time.Second)
}

// room reports whether a call of class c may take a slot now: fewer
// calls are in flight than the class's share of the limit (at least one
// slot).
func (l *limiter) room(c Class) bool {
	return l.inFlight < max(1, int(l.limit*l.g.cfg.Share[c]))
}

func (l *limiter) admitted(c Class) {
	l.stats.Admitted[c].Add(1)
	l.stats.InFlight.Add(1)
}

// waitingAtOrAbove reports whether calls of class c or higher wait.
func (l *limiter) waitingAtOrAbove(c Class) bool {
	for k := c; k < numClasses; k++ {
		if len(l.queues[k].ring) > 0 {
			return true
		}
	}
	return false
}

func (l *limiter) enqueue(c Class, profile string, w *waiter) {
	q := &l.queues[c]
	for _, pq := range q.ring {
		if pq.profile == profile {
			pq.waiters = append(pq.waiters, w)
			l.waiting++
			l.stats.Waiting[c].Add(1)
			return
		}
	}
	q.ring = append(q.ring, &profileQueue{profile: profile, waiters: []*waiter{w}})
	l.waiting++
	l.stats.Waiting[c].Add(1)
}

// remove takes w out of its queue (it gave up).
func (l *limiter) remove(c Class, profile string, w *waiter) {
	q := &l.queues[c]
	for i, pq := range q.ring {
		if pq.profile != profile {
			continue
		}
		for j, x := range pq.waiters {
			if x == w {
				pq.waiters = append(pq.waiters[:j], pq.waiters[j+1:]...)
				l.waiting--
				l.stats.Waiting[c].Add(-1)
				break
			}
		}
		if len(pq.waiters) == 0 {
			q.drop(i)
		}
		return
	}
}

// drop removes the empty profile queue at i, keeping the turn.
func (q *classQueue) drop(i int) {
	q.ring = append(q.ring[:i], q.ring[i+1:]...)
	if q.next > i {
		q.next--
	}
	if q.next >= len(q.ring) {
		q.next = 0
	}
}

// pop returns the next waiter: of the highest class waiting, of the
// profile whose turn it is; nil when that class has no room.
func (l *limiter) pop() (*waiter, Class) {
	for c := numClasses - 1; ; c-- {
		q := &l.queues[c]
		if len(q.ring) > 0 {
			if !l.room(c) {
				return nil, c
			}
			i := q.next % len(q.ring)
			pq := q.ring[i]
			w := pq.waiters[0]
			pq.waiters = pq.waiters[1:]
			q.next = i + 1
			if len(pq.waiters) == 0 {
				q.drop(i)
			} else if q.next >= len(q.ring) {
				q.next = 0
			}
			l.waiting--
			l.stats.Waiting[c].Add(-1)
			return w, c
		}
		if c == 0 {
			return nil, 0
		}
	}
}

// Release implements admission.Slot: it ends a call, adapts the limit and
// hands freed slots to waiting calls.
func (l *limiter) Release(throttled bool) {
	cfg := &l.g.cfg
	l.mu.Lock()
	l.inFlight--
	l.stats.InFlight.Add(-1)
	l.sinceCut++
	if throttled {
		if l.sinceCut >= int(l.limit) {
			l.sinceCut = 0
			l.limit = max(float64(cfg.Min), l.limit*cfg.Backoff)
		}
	} else {
		l.limit = min(float64(cfg.Max), l.limit+cfg.Increase/l.limit)
	}
	l.stats.Limit.Store(int64(l.limit))
	for l.waiting > 0 {
		w, _ := l.pop()
		if w == nil {
			break
		}
		w.granted = true
		l.inFlight++
		close(w.ch)
	}
	l.mu.Unlock()
}

// Routes returns the routes the gate has seen with their counters, for
// the metrics. The counters are live.
func (g *Gate) Routes() map[admission.Route]*RouteStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[admission.Route]*RouteStats, len(g.routes))
	for r, l := range g.routes {
		out[r] = &l.stats
	}
	return out
}
