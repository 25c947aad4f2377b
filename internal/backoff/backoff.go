// Package backoff owns the waits between retries in Tollgate: exponential
// from a first wait, doubling after each consecutive failure up to a cap,
// optionally jittered, and a context-aware sleep. Its randomness and its
// sleep are injectable so tests neither wait nor guess.
//
// The public resolver package keeps its own loop (resolver.Backoff): it is
// a library for other modules and imports nothing internal.
package backoff

import (
	"context"
	"math"
	"math/rand/v2"
	"time"
)

// Policy is an exponential backoff: the wait after the n-th consecutive
// failure is First·2^(n-1), capped at Max, then scaled by a random factor
// in [1-Jitter, 1+Jitter). The zero Policy never waits.
type Policy struct {
	// First is the wait after the first failure.
	First time.Duration
	// Max caps the wait before jitter; 0 means no cap (the wait still
	// stops growing before it overflows).
	Max time.Duration
	// Jitter is the fraction by which a wait varies either way (0.2 for
	// ±20%); 0 means none.
	Jitter float64
	// Rand returns a number in [0, 1) for the jitter. Default
	// math/rand/v2's Float64.
	Rand func() float64
}

// Delay returns the wait after the n-th consecutive failure (n ≥ 1; a
// smaller n counts as 1).
func (p Policy) Delay(n int) time.Duration {
	d := p.First
	for i := 1; i < n && d > 0 && (p.Max <= 0 || d < p.Max); i++ {
		if d > math.MaxInt64/2 {
			d = math.MaxInt64
			break
		}
		d *= 2
	}
	if p.Max > 0 {
		d = min(d, p.Max)
	}
	if p.Jitter > 0 {
		r := p.Rand
		if r == nil {
			r = rand.Float64
		}
		d = time.Duration(float64(d) * (1 - p.Jitter + 2*p.Jitter*r()))
	}
	return d
}

// Sleep waits for d, returning nil, or returns ctx's error as soon as ctx
// is done.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Backoff counts consecutive failures of one retry loop and waits the
// Policy's delay after each. It is not safe for concurrent use.
type Backoff struct {
	Policy
	// Sleep waits between attempts. Default Sleep.
	Sleep func(ctx context.Context, d time.Duration) error

	failures int
}

// Wait records a failure and waits the delay it earns; it returns ctx's
// error if ctx ends first.
func (b *Backoff) Wait(ctx context.Context) error {
	b.failures++
	sleep := b.Sleep
	if sleep == nil {
		sleep = Sleep
	}
	return sleep(ctx, b.Delay(b.failures))
}

// Reset forgets the failures: the next Wait waits First again.
func (b *Backoff) Reset() { b.failures = 0 }

// Failures returns the consecutive failures since the last Reset.
func (b *Backoff) Failures() int { return b.failures }
