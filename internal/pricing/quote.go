package pricing

import (
	"time"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/money"
)

// Kind is a kind of priced usage: each becomes its own cost line, with
// its own AWS usage type.
type Kind int

// The kinds, in line order. Input is uncached input; the cache kinds are
// disjoint from it and from each other, so no token is counted twice.
const (
	Input Kind = iota
	Output
	CacheRead
	CacheWrite   // cache write with the 5-minute TTL
	CacheWrite1h // cache write with the 1-hour TTL
	NumKinds
)

var kindNames = [NumKinds]string{"input", "output", "cacheRead", "cacheWrite", "cacheWrite1h"}

// String names the kind as the catalogue and price files do.
func (k Kind) String() string { return kindNames[k] }

// Usage is the usage of one call, by kind.
type Usage struct {
	Input, Output, CacheRead, CacheWrite, CacheWrite1h int64
}

// Of returns the tokens of kind k.
func (u Usage) Of(k Kind) int64 {
	return [NumKinds]int64{u.Input, u.Output, u.CacheRead, u.CacheWrite, u.CacheWrite1h}[k]
}

// InputTotal is every input token the model read: uncached, read from
// the cache and written to it. Long-context thresholds apply to it.
func (u Usage) InputTotal() int64 { return u.Input + u.CacheRead + u.CacheWrite + u.CacheWrite1h }

// Call is what prices a call.
type Call struct {
	ModelID string
	At      time.Time
	// Region is the source region: the region the call was made to.
	Region string
	// Scope is catalog.ScopeInRegion (or ""), ScopeGeo or ScopeGlobal.
	Scope string
	// Tier is the service tier served ("" = Standard).
	Tier string
	// LatencyOptimized is true when latency-optimized inference was
	// actually served.
	LatencyOptimized bool
	Usage            Usage
	// Units are the per-unit items (images) the call is billed for.
	Units UnitUsage
}

// UnitUsage is the per-unit items of a call: Count units of Unit
// (catalog.UnitImage), of the quality asked for ("" when the request named
// none) and Pixels each (width × height; 0 when the size does not
// select the price).
type UnitUsage struct {
	Unit    string
	Quality string
	Pixels  int64
	Count   int64
	// Size is the size asked for, "WIDTHxHEIGHT" ("" when unknown); it
	// names the units when no price applies (see Kind).
	Size string
}

// Kind names the units when no per-unit price applies to them (an
// unpriced record's UnitKind): the unit, the quality and the size asked
// for, in catalog.UnitPrice.Kind's form, so catalog.ParseUnitKind reads
// them back and a later price can re-price them.
func (u UnitUsage) Kind() string {
	return catalog.UnitPrice{Unit: u.Unit, Quality: u.Quality, UpTo: u.Size}.Kind()
}

// Dims returns the catalogue dimensions of c.
func (c Call) Dims() catalog.Dims {
	d := catalog.Dims{Scope: c.Scope, Tier: c.Tier, Region: c.Region}
	if c.LatencyOptimized {
		d.Latency = catalog.LatencyOptimized
	}
	return d
}

// Quote is a call's price: the rate and cost of each kind and of its
// per-unit items.
type Quote struct {
	Price       catalog.Price
	LongContext bool // the call fell into the price's long-context tier
	Rates       [NumKinds]money.PerThousand
	Costs       [NumKinds]money.Amount
	// Unit is the per-unit price the call's Units were billed at, and
	// UnitCost their cost (Units × Unit.Price); zero without units.
	Unit     catalog.UnitPrice
	Units    int64
	UnitCost money.Amount
	// Total is the sum of Costs and UnitCost.
	Total money.Amount
	// Version identifies the price used (see Version).
	Version string
}

// ReservedVersion is the version of a call served by reserved capacity:
// its tokens cost nothing per call; the commitment is billed as fixed
// cost (see Commitment).
const ReservedVersion = "reserved"

// Rates returns the rates p charges a call of usage u, whether u falls in
// p's long-context tier, and whether p has a rate for every kind u uses.
func Rates(p catalog.Price, u Usage) (r [NumKinds]money.PerThousand, long, ok bool) {
	r[Input], r[Output] = p.Input, p.Output
	hasCache, has1h := p.HasCache, p.HasCache1h
	r[CacheRead], r[CacheWrite], r[CacheWrite1h] = p.CacheRead, p.CacheWrite, p.CacheWrite1h
	if lc := p.LongContext; lc != nil && u.InputTotal() > lc.Above {
		long = true
		r[Input], r[Output] = lc.Input, lc.Output
		r[CacheRead], r[CacheWrite], r[CacheWrite1h] = lc.CacheRead, lc.CacheWrite, lc.CacheWrite1h
		hasCache, has1h = lc.HasCache, lc.HasCache1h
	}
	ok = true
	if p.NoTokens && u != (Usage{}) {
		ok = false // a per-unit-only price has no token rates: never $0
	}
	if (u.CacheRead > 0 || u.CacheWrite > 0) && !hasCache {
		ok = false
	}
	if u.CacheWrite1h > 0 && !has1h {
		ok = false
	}
	return r, long, ok
}

// Apply prices u at p. ok is false when u uses a kind p has no price
// for: the caller must then record the usage unpriced, not bill it as $0.
func Apply(p catalog.Price, u Usage) (q Quote, ok bool) {
	q.Price = p
	q.Rates, q.LongContext, ok = Rates(p, u)
	if !ok {
		return Quote{}, false
	}
	for k := range NumKinds {
		q.Costs[k] = q.Rates[k].Cost(u.Of(k))
		q.Total += q.Costs[k]
	}
	q.Version = Version(p)
	return q, true
}

// Price finds the price of call in c and applies it. A call served by
// reserved capacity is priced at zero per call under ReservedVersion. ok
// is false when no price applies (unknown model, no price for the
// call's scope, tier, latency or region at its time, or a token kind the
// price lacks): the call is unpriced.
func Price(c *catalog.Catalog, call Call) (Quote, bool) {
	m, ok := c.SharedModel(call.ModelID)
	if !ok {
		return Quote{}, false
	}
	if call.Tier == catalog.TierReserved {
		return Quote{Version: ReservedVersion}, true
	}
	p, ok := m.PriceFor(call.Dims(), call.At)
	if !ok {
		return Quote{}, false
	}
	q, ok := Apply(p, call.Usage)
	if !ok {
		return Quote{}, false
	}
	if call.Units.Count > 0 {
		return q.WithUnits(call.Units)
	}
	return q, true
}

// WithUnits adds the per-unit items u to q at q's price: the price
// UnitFor selects, times u.Count. ok is false when the price has none
// for u (the call is then unpriced, not billed $0).
func (q Quote) WithUnits(u UnitUsage) (Quote, bool) {
	up, ok := q.Price.UnitFor(u.Unit, u.Quality, u.Pixels)
	if !ok || u.Count < 0 {
		return Quote{}, false
	}
	q.Unit, q.Units = up, u.Count
	q.UnitCost = up.Price * money.Amount(u.Count)
	q.Total += q.UnitCost
	return q, true
}

// Version identifies a price by its content: its date, dimensions, rates,
// source and origin. Two prices with the same figures under different
// sources are different versions, so a corrected source re-prices.
func Version(p catalog.Price) string {
	// FNV-1a (64 bits) over each field, strings followed by a zero byte
	// and lists joined with ",", integers as 8 little-endian bytes; written
	// out by hand so that a call's pricing allocates only the result.
	h := fnv64a(offset64)
	var date [16]byte
	h = h.str(p.Effective.AppendFormat(date[:0], time.DateOnly))
	h = h.list(p.Scopes)
	h = h.text(p.Tier)
	h = h.text(p.Latency)
	h = h.list(p.Regions)
	for _, v := range []money.PerThousand{p.Input, p.Output, p.CacheRead, p.CacheWrite, p.CacheWrite1h} {
		h = h.int(int64(v))
	}
	if lc := p.LongContext; lc != nil {
		h = h.int(lc.Above)
		for _, v := range []money.PerThousand{lc.Input, lc.Output, lc.CacheRead, lc.CacheWrite, lc.CacheWrite1h} {
			h = h.int(int64(v))
		}
	}
	if len(p.Units) > 0 || p.NoTokens {
		// Per-unit prices (hashed only when present, so token prices
		// keep the versions they had).
		for _, u := range p.Units {
			h = h.text(u.Kind())
			h = h.int(int64(u.Price))
		}
		if p.NoTokens {
			h = h.byte(1)
		}
	}
	h = h.text(p.Source)
	h = h.text(p.Origin)
	var out [17]byte
	out[0] = 'p'
	const digits = "0123456789abcdef"
	for i := range 16 {
		out[1+i] = digits[(uint64(h)>>(60-4*uint(i)))&0xf]
	}
	return string(out[:])
}

// fnv64a is a running FNV-1a hash (hash/fnv's New64a, without its
// interface and its allocations).
type fnv64a uint64

const (
	offset64 = 14695981039346656037
	prime64  = 1099511628211
)

func (h fnv64a) byte(c byte) fnv64a { return (h ^ fnv64a(c)) * prime64 }

// str hashes s and a zero byte.
func (h fnv64a) str(s []byte) fnv64a {
	for _, c := range s {
		h = h.byte(c)
	}
	return h.byte(0)
}

// text hashes s and a zero byte.
func (h fnv64a) text(s string) fnv64a {
	for i := 0; i < len(s); i++ {
		h = h.byte(s[i])
	}
	return h.byte(0)
}

// list hashes strings.Join(l, ",") and a zero byte.
func (h fnv64a) list(l []string) fnv64a {
	for i, s := range l {
		if i > 0 {
			h = h.byte(',')
		}
		for j := 0; j < len(s); j++ {
			h = h.byte(s[j])
		}
	}
	return h.byte(0)
}

// int hashes v as 8 little-endian bytes.
func (h fnv64a) int(v int64) fnv64a {
	for i := range 8 {
		h = h.byte(byte(uint64(v) >> (8 * uint(i))))
	}
	return h
}

// ScopeOf returns the endpoint scope of a call through a system profile
// of geography geo ("" for a direct model call): ScopeInRegion, ScopeGeo
// or ScopeGlobal.
func ScopeOf(geo string) string {
	if geo == "" {
		return catalog.ScopeInRegion
	}
	return catalog.ScopeOfGeo(geo)
}
