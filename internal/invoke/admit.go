package invoke

import (
	"context"

	"github.com/tollgate-dev/tollgate/internal/admission"
	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/pricing"
	"github.com/tollgate-dev/tollgate/internal/profile"
)

// estimateTokens bounds the input tokens of a request body: no tokenizer
// yields more tokens than bytes/2 for text (documented; conservative).
func estimateTokens(body []byte) int64 { return int64(len(body)+1) / 2 }

// admit runs the quotas and the admitter, if any, and applies a
// downgrade and a reserved call's overflow to Standard.
func (c *call) admit(ctx context.Context, body []byte, maxOut int64) error {
	if c.s.admitter == nil && c.s.quotas == nil {
		return nil
	}
	requested := maxOut
	if maxOut <= 0 {
		maxOut = admission.DefaultMaxOutputTokens
	}
	a := admission.Request{Time: c.start, RequestID: c.caller.RequestID, Account: c.caller.Account, PrincipalID: c.caller.PrincipalID,
		ProfileARN: c.target.ProfileARN, ProfileID: c.target.ProfileID, Model: c.target.Model, Tags: c.target.Tags,
		Operation: c.op, Region: c.s.profiles.Region(), Scope: c.scope(), InputTokens: estimateTokens(body), MaxOutputTokens: maxOut,
		ServiceTier: c.tier, RequestMaxTokens: requested, CrossRegion: c.target.Type == profile.SystemDefined || len(c.target.Regions) > 1}
	if c.s.quotas != nil {
		start := c.s.now()
		qt, err := c.s.quotas.AdmitTier(ctx, a)
		c.waited += c.s.now().Sub(start)
		if err != nil {
			return err
		}
		if qt != nil {
			c.quota = qt
			if t := qt.ServiceTier(); t != "" {
				c.tier = t
				a.ServiceTier = t // the budgets see the tier the call goes to
			}
		}
	}
	if c.s.admitter == nil {
		return nil
	}
	if p, ok := pricing.Lookup(c.s.catalog, c.target.Model.ID, c.start); ok {
		a.WorstCase = p.Input.Cost(a.InputTokens) + p.Output.Cost(maxOut)
		if u := c.askedUnits; u.Count > 0 {
			// An image call's worst case is the images it asks for.
			if up, ok := p.UnitFor(u.Unit, u.Quality, u.Pixels); ok {
				a.WorstCase += up.Price * money.Amount(u.Count)
			}
		}
	}
	t, err := c.s.admitter.Admit(ctx, a)
	if err != nil {
		return err
	}
	c.ticket = t
	if m := t.Model(); m != "" && m != c.target.Model.ID {
		repl, ok := c.s.catalog.SharedModel(m)
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
