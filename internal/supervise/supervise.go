// Package supervise owns Tollgate's background jobs. A Group starts named
// jobs, each optionally under a lease (internal/lease) so that one replica
// of a fleet runs it at a time, logs the errors they return, and stops
// them in the reverse order of their start, waiting for each to return
// before stopping the one started before it. Nothing a Group starts
// outlives Stop.
//
// A job is not restarted when it returns: a leased job competes for its
// lease again when it loses it (lease.Run), which is the only restart
// Tollgate's jobs have.
package supervise

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/internal/lease"
)

// Job is one background job.
type Job struct {
	// Name names the job in logs and, when Leased, its lease (the same on
	// every replica).
	Name string
	// Leased runs the job on one replica at a time, under the lease Name
	// (Config.Leases; without a lease store the job just runs).
	Leased bool
	// Run does the job until ctx is done. An error it returns before ctx
	// is done is logged.
	Run func(ctx context.Context) error
}

// Config configures a Group.
type Config struct {
	// Leases grants the leases of leased jobs; nil means a single node:
	// leased jobs run at once.
	Leases lease.Store
	// Holder identifies this replica to Leases.
	Holder string
	// TTL is the leases' time to live; 0 means lease.DefaultTTL.
	TTL time.Duration
	// Logger logs job errors and lease changes; nil discards.
	Logger *slog.Logger
}

// Group runs background jobs. Its methods are safe for concurrent use.
type Group struct {
	cfg Config

	mu      sync.Mutex
	jobs    []*running // in start order
	stopped bool
}

type running struct {
	name   string
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns an empty Group.
func New(cfg Config) *Group {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Group{cfg: cfg}
}

// Start starts jobs, in order, each in its own goroutine, under a context
// that ends with ctx or when Stop stops the job. Start after Stop starts
// nothing.
func (g *Group) Start(ctx context.Context, jobs ...Job) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return
	}
	for _, j := range jobs {
		jctx, cancel := context.WithCancel(ctx)
		r := &running{name: j.Name, cancel: cancel, done: make(chan struct{})}
		g.jobs = append(g.jobs, r)
		go func() {
			defer close(r.done)
			g.run(jctx, j)
		}()
	}
}

func (g *Group) run(ctx context.Context, j Job) {
	log := g.cfg.Logger
	do := func(ctx context.Context) {
		if err := j.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("background_job_failed", "job", j.Name, "err", err.Error())
		}
	}
	if !j.Leased {
		do(ctx)
		return
	}
	lease.Run(ctx, lease.Config{Store: g.cfg.Leases, Name: j.Name, Holder: g.cfg.Holder, TTL: g.cfg.TTL, Logger: log}, do)
}

// Stop stops every job in the reverse order of its start: it cancels a
// job's context and waits for it to return before stopping the one
// started before it. Later calls do nothing.
func (g *Group) Stop() {
	g.mu.Lock()
	jobs := g.jobs
	g.jobs, g.stopped = nil, true
	g.mu.Unlock()
	for _, r := range slices.Backward(jobs) {
		r.cancel()
		<-r.done
	}
}

// Running returns the names of the jobs started and not yet returned, in
// start order.
func (g *Group) Running() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var names []string
	for _, r := range g.jobs {
		select {
		case <-r.done:
		default:
			names = append(names, r.name)
		}
	}
	return names
}
