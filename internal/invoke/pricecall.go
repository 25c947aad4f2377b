package invoke

import (
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/pricing"
)

// price fills r's token kinds, per-unit items (c.units), price dimensions
// and cost from u. It reads
// the tier served (r.ServiceTier) and latency mode (r.LatencyOptimized)
// already on r; the cost stays zero and r.Priced false when no catalogue
// price applies.
func (c *call) price(r *ledger.Record, u converse.Usage) {
	oneHour := u.CacheWrite1h()
	r.CacheWriteTokens, r.CacheWrite1hTokens = u.CacheWriteInputTokens-oneHour, oneHour
	scope := c.scope()
	if scope != catalog.ScopeInRegion {
		r.Scope = scope
	}
	q, ok := pricing.Price(c.s.catalog, pricing.Call{ModelID: r.ModelID, At: c.start, Region: r.Region, Scope: scope,
		Tier: r.ServiceTier, LatencyOptimized: r.LatencyOptimized,
		Usage: pricing.Usage{Input: r.InputTokens, Output: r.OutputTokens, CacheRead: r.CacheReadTokens,
			CacheWrite: r.CacheWriteTokens, CacheWrite1h: r.CacheWrite1hTokens}, Units: c.units})
	if c.units.Count > 0 {
		// Named as asked until a price names them: an unpriced image
		// call keeps its images, loudly without cost.
		r.Units, r.UnitKind = c.units.Count, c.units.Kind()
	}
	if !ok {
		r.Cost, r.Priced, r.PriceVersion = 0, false, ""
		r.InputCost, r.OutputCost, r.CacheReadCost, r.CacheWriteCost, r.CacheWrite1hCost = 0, 0, 0, 0, 0
		r.UnitCost = 0
		return
	}
	if q.Units > 0 {
		r.UnitKind, r.UnitCost = q.Unit.Kind(), q.UnitCost
	}
	r.Priced, r.PriceVersion, r.LongContext, r.Cost = true, q.Version, q.LongContext, q.Total
	r.InputCost, r.OutputCost, r.CacheReadCost = q.Costs[pricing.Input], q.Costs[pricing.Output], q.Costs[pricing.CacheRead]
	r.CacheWriteCost, r.CacheWrite1hCost = q.Costs[pricing.CacheWrite], q.Costs[pricing.CacheWrite1h]
}

// scope is the endpoint scope the call is priced in: its target's (a
// system profile's geo or global, the scope an application profile
// recorded when it was created, in-region for a direct call), read with
// no lookup.
func (c *call) scope() string {
	if c.target.Scope == "" {
		return catalog.ScopeInRegion
	}
	return c.target.Scope
}
