package pricing

import (
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/ledger"
)

// Recompute prices the usage of r again at c: r with its cost lines,
// Priced, LongContext and PriceVersion as c prices it now (unpriced: no
// cost, no version). Fixed-cost records keep their commitment's cost.
func Recompute(c *catalog.Catalog, r ledger.Record) ledger.Record {
	if r.Operation == ledger.OpFixedCost {
		return r
	}
	n := r
	scope := r.Scope
	if scope == "" {
		scope = catalog.ScopeInRegion
	}
	q, ok := Price(c, Call{ModelID: r.ModelID, At: r.Time, Region: r.Region, Scope: scope, Tier: r.ServiceTier,
		LatencyOptimized: r.LatencyOptimized, Usage: Usage{Input: r.InputTokens, Output: r.OutputTokens, CacheRead: r.CacheReadTokens,
			CacheWrite: r.CacheWriteTokens, CacheWrite1h: r.CacheWrite1hTokens}, Units: UnitsOf(r)})
	if !ok {
		n.Priced, n.PriceVersion, n.LongContext, n.Cost = false, "", false, 0
		n.InputCost, n.OutputCost, n.CacheReadCost, n.CacheWriteCost, n.CacheWrite1hCost = 0, 0, 0, 0, 0
		n.UnitCost = 0
		return n
	}
	n.Priced, n.PriceVersion, n.LongContext, n.Cost = true, q.Version, q.LongContext, q.Total
	n.InputCost, n.OutputCost, n.CacheReadCost = q.Costs[Input], q.Costs[Output], q.Costs[CacheRead]
	n.CacheWriteCost, n.CacheWrite1hCost = q.Costs[CacheWrite], q.Costs[CacheWrite1h]
	n.UnitCost = q.UnitCost
	return n
}

// UnitsOf returns the per-unit usage of r: its Units of the unit,
// quality and size its UnitKind names (the price it was billed at), so
// that re-pricing selects the same tier of a corrected price.
func UnitsOf(r ledger.Record) UnitUsage {
	if r.Units == 0 {
		return UnitUsage{}
	}
	unit, quality, pixels := catalog.ParseUnitKind(r.UnitKind)
	return UnitUsage{Unit: unit, Quality: quality, Pixels: pixels, Count: r.Units}
}

// Reprice returns the changes re-pricing recs at c makes: the records
// whose cost lines, Priced, long-context tier or price version differ
// from what c gives now. Records without usage (failed calls) and
// fixed-cost records never change. Running it again after the changes are
// applied returns none.
func Reprice(c *catalog.Catalog, recs []ledger.Record) []ledger.Repricing {
	var out []ledger.Repricing
	for _, r := range recs {
		if r.InputTokens == 0 && r.OutputTokens == 0 && r.CacheReadTokens == 0 && r.CacheWriteTokens == 0 && r.CacheWrite1hTokens == 0 && r.Units == 0 {
			continue
		}
		n := Recompute(c, r)
		if n.Cost != r.Cost || n.Priced != r.Priced || n.PriceVersion != r.PriceVersion || n.LongContext != r.LongContext ||
			n.InputCost != r.InputCost || n.OutputCost != r.OutputCost || n.CacheReadCost != r.CacheReadCost ||
			n.CacheWriteCost != r.CacheWriteCost || n.CacheWrite1hCost != r.CacheWrite1hCost || n.UnitCost != r.UnitCost {
			out = append(out, ledger.Repricing{Old: r, New: n})
		}
	}
	return out
}
