package invoke

import (
	"context"
	"time"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/pricing"
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
	Admit(ctx context.Context, a Admission) (Ticket, error)
}

// Admission describes a call about to run.
type Admission struct {
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

// estimateTokens bounds the input tokens of a request body: no tokenizer
// yields more tokens than bytes/2 for text (documented; conservative).
func estimateTokens(body []byte) int64 { return int64(len(body)+1) / 2 }

// admit runs the admitter, if any, and applies a downgrade.
func (c *call) admit(ctx context.Context, body []byte, maxOut int64) error {
	if c.s.admitter == nil {
		return nil
	}
	if maxOut <= 0 {
		maxOut = DefaultMaxOutputTokens
	}
	a := Admission{Time: c.start, RequestID: c.caller.RequestID, Account: c.caller.Account, PrincipalID: c.caller.PrincipalID,
		ProfileARN: c.target.ProfileARN, ProfileID: c.target.ProfileID, Model: c.target.Model, Tags: c.target.Tags,
		Operation: c.op, InputTokens: estimateTokens(body), MaxOutputTokens: maxOut}
	if p, ok := pricing.Lookup(c.s.catalog, c.target.Model.ID, c.start); ok {
		a.WorstCase = p.Input.Cost(a.InputTokens) + p.Output.Cost(maxOut)
	}
	t, err := c.s.admitter.Admit(ctx, a)
	if err != nil {
		return err
	}
	c.ticket = t
	if m := t.Model(); m != "" && m != c.target.Model.ID {
		repl, ok := c.s.catalog.Model(m)
		native := c.op == OpInvoke || c.op == OpInvokeStream
		switch {
		case !ok:
		case native && repl.Family != c.target.Model.Family:
			// A model-native body only fits models of its family.
			c.s.log.Warn("downgrade_skipped", "request_id", c.caller.RequestID, "model", c.target.Model.ID, "to", m,
				"reason", "InvokeModel body of another model family")
		default:
			c.target.Model = repl
		}
	}
	return nil
}

func maxTokensOf(req *ConverseRequest) int64 {
	if req != nil && req.InferenceConfig != nil && req.InferenceConfig.MaxTokens != nil {
		return int64(*req.InferenceConfig.MaxTokens)
	}
	return 0
}
