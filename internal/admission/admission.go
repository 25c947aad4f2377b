// Package admission is the vocabulary of admitting runtime calls before
// they reach a model provider: the Request describing a call about to run,
// the Admitter that admits it (budgets reserving its worst-case cost,
// alarm actions throttling or disabling a profile) and the Ticket an
// admitted call settles with its durable record; the TierAdmitter of
// quotas by service tier and the Upstream that bounds calls in flight to
// each provider route (both internal/quota).
//
// It is a leaf shared by the runtime pipeline (internal/invoke), which
// asks, and the packages that answer (internal/budget, the alarm gate
// wired in cmd/tollgate), so neither side imports the other.
package admission

import (
	"context"
	"errors"
	"time"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// DefaultMaxOutputTokens is the output bound assumed for a call that sets
// none, when reserving its worst-case cost.
const DefaultMaxOutputTokens = 4096

// Admitter admits calls before they reach a provider: budgets reserve
// their worst-case cost, rate limits count them. Implementations are safe
// for concurrent use.
type Admitter interface {
	// Admit returns a ticket for the call, or an error the client gets as
	// is (errkind.Throttled, errkind.QuotaExceeded, ...).
	Admit(ctx context.Context, r Request) (Ticket, error)
}

// Request describes a call about to run.
type Request struct {
	Time        time.Time
	RequestID   string
	Account     string
	PrincipalID string
	ProfileARN  string // "" for a direct model call
	ProfileID   string
	Model       catalog.Model
	Tags        tags.Set // the profile's tags now
	Operation   string
	// Region is the region the call is made to (its source region, which
	// names its usage types); Scope the endpoint scope it is priced in
	// (catalog.ScopeInRegion, ScopeGeo or ScopeGlobal: a system profile's,
	// the one an application profile recorded at creation).
	Region string
	Scope  string
	// InputTokens is an upper estimate of the input; MaxOutputTokens the
	// output bound the request sets (or DefaultMaxOutputTokens).
	InputTokens     int64
	MaxOutputTokens int64
	// WorstCase is the most the call can cost: InputTokens at the input
	// price plus MaxOutputTokens at the output price (0 when unpriced).
	WorstCase money.Amount
	// ServiceTier is the tier the call asks for ("priority", "default",
	// "flex", "reserved"); RequestMaxTokens the maxTokens the request
	// sets (0 when none; MaxOutputTokens then holds a default).
	ServiceTier      string
	RequestMaxTokens int64
	// CrossRegion is true for a call through a system-defined profile or
	// an application profile copied from one: it counts against the
	// cross-region quotas, others against the on-demand ones.
	CrossRegion bool
}

// TierTicket is an admitted call that may be served in another tier than
// it asked for (reserved capacity overflowing to Standard).
type TierTicket interface {
	Ticket
	// ServiceTier returns the tier to serve the call in, or "" to keep
	// the tier asked for.
	ServiceTier() string
}

// TierAdmitter admits calls by service tier against quotas (the quota
// package). Implementations are safe for concurrent use.
type TierAdmitter interface {
	// AdmitTier returns a ticket for the call (nil when no quota applies
	// to it), or an errkind.Throttled error (see Throttle).
	AdmitTier(ctx context.Context, r Request) (TierTicket, error)
}

// Upstream bounds the calls in flight to each provider route (provider,
// model, region), admitting waiting calls by service tier when it is
// full. Implementations are safe for concurrent use.
type Upstream interface {
	// Acquire waits for a slot for a call of tier through profile (""
	// for a direct call) and returns it with how long it waited, or an
	// errkind.Throttled error when the call may wait no longer.
	Acquire(ctx context.Context, route Route, tier, profile string) (Slot, time.Duration, error)
}

// Route names an upstream: a provider serving a model in a region.
type Route struct {
	Provider, Model, Region string
}

// Slot is a call in flight upstream.
type Slot interface {
	// Release ends the call; throttled reports that the upstream
	// answered it with throttling.
	Release(throttled bool)
}

// retryAfter carries how long a throttled client should wait.
type retryAfter time.Duration

func (r retryAfter) Error() string { return "retry after " + time.Duration(r).String() }

// Throttle returns an errkind.Throttled error with Bedrock's message
// (msg) that tells the client to retry after d (the Retry-After header).
func Throttle(msg string, d time.Duration) error {
	return errkind.Wrap(errkind.Throttled, retryAfter(d), "%s", msg)
}

// RetryAfter returns how long the client of a throttled call should
// wait, when err says (Throttle).
func RetryAfter(err error) (time.Duration, bool) {
	var r retryAfter
	if errors.As(err, &r) {
		return time.Duration(r), true
	}
	return 0, false
}

// Ticket is an admitted call.
type Ticket interface {
	// Model returns a replacement model id when the call is downgraded, or
	// "" to keep the model.
	Model() string
	// Done settles the ticket with the call's durable record (or with a
	// zero Record when the call did not run).
	Done(r ledger.Record)
}
