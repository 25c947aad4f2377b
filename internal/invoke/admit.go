package invoke

import (
	"context"

	"github.com/tollgate-dev/tollgate/internal/admission"
	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/pricing"
)

// estimateTokens bounds the input tokens of a request body: no tokenizer
// yields more tokens than bytes/2 for text (documented; conservative).
func estimateTokens(body []byte) int64 { return int64(len(body)+1) / 2 }

// admit runs the admitter, if any, and applies a downgrade.
func (c *call) admit(ctx context.Context, body []byte, maxOut int64) error {
	if c.s.admitter == nil {
		return nil
	}
	if maxOut <= 0 {
		maxOut = admission.DefaultMaxOutputTokens
	}
	a := admission.Request{Time: c.start, RequestID: c.caller.RequestID, Account: c.caller.Account, PrincipalID: c.caller.PrincipalID,
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

func maxTokensOf(req *converse.Request) int64 {
	if req != nil && req.InferenceConfig != nil && req.InferenceConfig.MaxTokens != nil {
		return int64(*req.InferenceConfig.MaxTokens)
	}
	return 0
}
