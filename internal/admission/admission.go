// Package admission is the vocabulary of admitting runtime calls before
// they reach a model provider: the Request describing a call about to run,
// the Admitter that admits it (budgets reserving its worst-case cost,
// alarm actions throttling or disabling a profile) and the Ticket an
// admitted call settles with its durable record.
//
// It is a leaf shared by the runtime pipeline (internal/invoke), which
// asks, and the packages that answer (internal/budget, the alarm gate
// wired in cmd/tollgate), so neither side imports the other.
package admission

import (
	"context"
	"time"

	"github.com/tollgate-dev/tollgate/internal/catalog"
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
	// InputTokens is an upper estimate of the input; MaxOutputTokens the
	// output bound the request sets (or DefaultMaxOutputTokens).
	InputTokens     int64
	MaxOutputTokens int64
	// WorstCase is the most the call can cost: InputTokens at the input
	// price plus MaxOutputTokens at the output price (0 when unpriced).
	WorstCase money.Amount
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
