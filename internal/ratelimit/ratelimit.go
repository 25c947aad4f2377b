// Package ratelimit owns Tollgate's request-rate limits and the rate
// limits of its own log lines: Buckets, a token bucket per key on one
// node that forgets idle keys; Window, the calls of one key counted in
// fixed windows, on one node or across a fleet that claims slots in
// batches from a count in a shared store; and Every, which lets one event
// in an interval through (a repeated failure logged once a minute).
//
// Clocks are the caller's: every method takes the time it decides at, so
// tests drive them without sleeping.
package ratelimit

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Buckets is a token bucket per key: each key may make Rate calls a
// second, bursting to max(1, Rate). A key whose bucket has filled up
// again is forgotten (a full bucket is what an unknown key gets), so the
// map holds only keys active within the last burst/Rate seconds. Safe
// for concurrent use.
type Buckets struct {
	rate, burst float64
	idle        time.Duration // how long an emptied bucket takes to fill

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// NewBuckets returns buckets that refill at rate tokens a second (rate >
// 0) and hold at most max(1, rate).
func NewBuckets(rate float64) *Buckets {
	burst := max(1, rate)
	return &Buckets{rate: rate, burst: burst, idle: time.Duration(burst / rate * float64(time.Second)),
		buckets: map[string]*bucket{}}
}

// Allow takes a token from key's bucket at now; false when it is empty.
func (b *Buckets) Allow(key string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Sub(b.swept) >= b.idle {
		b.sweep(now)
	}
	k := b.buckets[key]
	if k == nil {
		k = &bucket{tokens: b.burst, last: now}
		b.buckets[key] = k
	}
	k.tokens = min(b.burst, k.tokens+now.Sub(k.last).Seconds()*b.rate)
	k.last = now
	if k.tokens < 1 {
		return false
	}
	k.tokens--
	return true
}

// sweep forgets the keys whose buckets are full again at now.
func (b *Buckets) sweep(now time.Time) {
	b.swept = now
	for key, k := range b.buckets {
		if k.tokens+now.Sub(k.last).Seconds()*b.rate >= b.burst {
			delete(b.buckets, key)
		}
	}
}

// Len returns how many keys the buckets remember.
func (b *Buckets) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.buckets)
}

// Claimer takes up to want of the limit slots of the window that starts
// at start, counted in a store the fleet shares, and returns how many it
// took (0 when the window is full).
type Claimer func(ctx context.Context, start time.Time, limit, want int64) (int64, error)

// Window counts one key's calls in fixed windows of Length (windows
// start at multiples of Length since the zero time, so a minute's start
// is the UTC minute). Allow counts on this node alone; Claim counts
// across a fleet. One Window serves one of the two. Set Length before
// first use; safe for concurrent use after.
type Window struct {
	// Length is the window's length.
	Length time.Duration

	v  atomic.Uint64 // window index<<32 | count (Claim: slots left)
	mu sync.Mutex    // Claim: one claim at a time
}

// index returns the number of t's window, as v holds it, and its start.
func (w *Window) index(t time.Time) (uint64, time.Time) {
	start := t.UTC().Truncate(w.Length)
	return uint64(start.UnixNano()/int64(w.Length)) & 0xffffffff, start
}

// Allow takes a slot of t's window on this node; false when limit calls
// were admitted in it already. It never blocks.
func (w *Window) Allow(t time.Time, limit int64) bool {
	m, _ := w.index(t)
	for {
		old := w.v.Load()
		var n uint64
		if old>>32 == m {
			n = old & 0xffffffff
		}
		if int64(n) >= limit {
			return false
		}
		if w.v.CompareAndSwap(old, m<<32|(n+1)) {
			return true
		}
	}
}

// Claim takes a slot of the fleet's limit for t's window: one this node
// claimed before and has not used, else one of a batch of max(1,
// limit/8) it claims now with claim (the rest serve the next calls in
// the window, and lapse with it). It returns false when the window is
// full, and claim's error unchanged. Claims are made one at a time.
func (w *Window) Claim(ctx context.Context, t time.Time, limit int64, claim Claimer) (bool, error) {
	m, start := w.index(t)
	if w.takeLocal(m) {
		return true, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.takeLocal(m) {
		return true, nil
	}
	got, err := claim(ctx, start, limit, max(1, limit/8))
	if err != nil {
		return false, err
	}
	if got == 0 {
		return false, nil
	}
	// One slot is this call's; the rest serve the next calls.
	w.v.Store(m<<32 | uint64(got-1))
	return true, nil
}

// takeLocal takes one of the slots left of window m.
func (w *Window) takeLocal(m uint64) bool {
	for {
		old := w.v.Load()
		if old>>32 != m || old&0xffffffff == 0 {
			return false
		}
		if w.v.CompareAndSwap(old, old-1) {
			return true
		}
	}
}

// Every lets one event an Interval through and counts the others, so a
// log line can say how many it stands for. The zero value lets every
// event through. Safe for concurrent use.
type Every struct {
	// Interval is the least time between two events let through.
	Interval time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// Allow reports whether an event at now goes through and, when it does,
// how many were held back since the last that did.
func (e *Every) Allow(now time.Time) (ok bool, suppressed int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.last.IsZero() && now.Sub(e.last) < e.Interval {
		e.suppressed++
		return false, 0
	}
	e.last = now
	suppressed, e.suppressed = e.suppressed, 0
	return true, suppressed
}
