// Package pricing turns token usage into exact cost at the price in force
// at the time of the call. Each token class (input, output, cache read,
// cache write) is priced separately and rounded half up to the nano-dollar;
// the record's cost is the sum of the four, so line items always add up to
// totals exactly.
package pricing

import (
	"time"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/money"
)

// Tokens is the usage to price.
type Tokens struct {
	Input, Output, CacheRead, CacheWrite int64
}

// Breakdown is the cost of each token class.
type Breakdown struct {
	Input, Output, CacheRead, CacheWrite money.Amount
}

// Total is the sum of the classes.
func (b Breakdown) Total() money.Amount { return b.Input + b.Output + b.CacheRead + b.CacheWrite }

// Compute prices t at p. ok is false when t uses a class p has no price for
// (cache tokens on a model without cache prices): the caller must then mark
// the usage unpriced rather than bill it as $0.
func Compute(p catalog.Price, t Tokens) (b Breakdown, ok bool) {
	b.Input = p.Input.Cost(t.Input)
	b.Output = p.Output.Cost(t.Output)
	if t.CacheRead > 0 || t.CacheWrite > 0 {
		if !p.HasCache {
			return b, false
		}
		b.CacheRead = p.CacheRead.Cost(t.CacheRead)
		b.CacheWrite = p.CacheWrite.Cost(t.CacheWrite)
	}
	return b, true
}

// Lookup finds the price of model id at time at in the catalogue.
func Lookup(c *catalog.Catalog, modelID string, at time.Time) (catalog.Price, bool) {
	m, ok := c.SharedModel(modelID)
	if !ok {
		return catalog.Price{}, false
	}
	return m.PriceAt(at)
}
