// Package lease runs a background job on one replica at a time. Replicas
// sharing a store compete for a named lease with a time to live; the
// holder runs the job and renews the lease well before it expires; when
// the holder dies (or cannot reach the store), the lease expires and
// another replica takes the job over.
//
// A job must tolerate running twice for a moment around a takeover (a
// holder that stalls past its lease may still be finishing a step when the
// next holder starts): Tollgate's jobs write idempotently (the outbox
// deduplicates by message key, alert states are upserts).
package lease

import (
	"context"
	"log/slog"
	"time"
)

// Store grants leases. Expiry is measured on the store's clock.
type Store interface {
	// AcquireLease takes or renews the lease name for holder for ttl:
	// true when holder holds it afterwards (it was free, expired, or
	// holder's already).
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// ReleaseLease gives the lease up if holder holds it.
	ReleaseLease(ctx context.Context, name, holder string) error
}

// DefaultTTL is a lease's default time to live.
const DefaultTTL = 15 * time.Second

// Config configures Run.
type Config struct {
	// Store grants the lease; nil means the job has no competitors (a
	// single node) and runs at once.
	Store Store
	// Name names the job's lease, the same on every replica.
	Name string
	// Holder identifies this replica.
	Holder string
	// TTL is the lease's time to live; the holder renews it every TTL/3.
	// Default DefaultTTL.
	TTL time.Duration
	// Logger logs acquisitions and losses; nil discards.
	Logger *slog.Logger
}

// Run runs job whenever this replica holds the lease, until ctx is done.
// job's context ends when the lease is lost (not renewed in time); Run
// then waits for job to return and competes again. On return Run releases
// the lease, so another replica takes over without waiting for expiry.
func Run(ctx context.Context, cfg Config, job func(ctx context.Context)) {
	if cfg.Store == nil {
		job(ctx)
		return
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	every := cfg.TTL / 3
	for {
		if held, until, _ := acquire(ctx, cfg); held {
			cfg.Logger.Info("lease_acquired", "lease", cfg.Name, "holder", cfg.Holder)
			hold(ctx, cfg, until, job)
			if ctx.Err() != nil {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				if err := cfg.Store.ReleaseLease(rctx, cfg.Name, cfg.Holder); err != nil {
					cfg.Logger.Warn("lease_release_failed", "lease", cfg.Name, "err", err.Error())
				}
				cancel()
				return
			}
			cfg.Logger.Warn("lease_lost", "lease", cfg.Name, "holder", cfg.Holder)
		}
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// acquire tries once; until is when the lease expires at the latest, on
// this replica's clock (the time before the request plus TTL: the store
// set its expiry after that).
func acquire(ctx context.Context, cfg Config) (held bool, until time.Time, err error) {
	start := time.Now()
	actx, cancel := context.WithTimeout(ctx, cfg.TTL/3)
	defer cancel()
	ok, err := cfg.Store.AcquireLease(actx, cfg.Name, cfg.Holder, cfg.TTL)
	if err != nil {
		if ctx.Err() == nil {
			cfg.Logger.Warn("lease_acquire_failed", "lease", cfg.Name, "err", err.Error())
		}
		return false, time.Time{}, err
	}
	return ok, start.Add(cfg.TTL), nil
}

// hold runs job while renewing the lease; it returns when job returned
// after ctx ended or after a renewal failed to keep the lease before it
// expired.
func hold(ctx context.Context, cfg Config, until time.Time, job func(ctx context.Context)) {
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		job(jctx)
	}()
	t := time.NewTicker(cfg.TTL / 3)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			<-done
			return
		case <-t.C:
		}
		ok, u, err := acquire(ctx, cfg)
		switch {
		case ok:
			until = u
			continue
		case err != nil && time.Now().Before(until.Add(-cfg.TTL/3)):
			continue // the store did not answer: try again while time remains
		}
		// Lost, or about to expire unrenewed: stop before another replica
		// may take over.
		cancel()
		<-done
		return
	}
}
