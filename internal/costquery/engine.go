package costquery

import (
	"cmp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/arn"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/pricing"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// Totals are the sums of a set of line items.
type Totals struct {
	// Cost is the exact cost; unpriced usage adds nothing.
	Cost money.Amount
	// Usage is the usage quantity: tokens of every class, and the images
	// of image models (Cost Explorer sums usage whatever its unit).
	Usage int64
}

func (t *Totals) add(cost money.Amount, usage int64) {
	t.Cost += cost
	t.Usage += usage
}

// Period is one time bucket of a result, [Start, End).
type Period struct {
	Start, End time.Time
}

// Group is the totals of one combination of group keys in one period.
type Group struct {
	// Keys holds one key per GroupBy: a dimension value, or
	// "<tag key>$<tag value>" for a tag ("dept$" for untagged usage).
	Keys []string
	Totals
}

// PeriodResult is one period of a Result.
type PeriodResult struct {
	Period
	// Estimated is true when the period holds unpriced usage: its tokens
	// count in Usage but its cost is unknown, so cost is understated.
	Estimated bool
	// Total sums every selected line item of the period.
	Total Totals
	// Groups holds the non-empty groups, sorted by Keys; nil without
	// GroupBy.
	Groups []Group
}

// Result answers a Query.
type Result struct {
	GroupBy []GroupBy
	Periods []PeriodResult
}

// Periods splits [from, to) at the boundaries of g (UTC hours, days or
// calendar months); the first and last periods may be partial.
func Periods(from, to time.Time, g Granularity) []Period {
	var out []Period
	for s := from; s.Before(to); {
		var e time.Time
		switch g {
		case Hourly:
			e = s.Truncate(time.Hour).Add(time.Hour)
		case Monthly:
			e = time.Date(s.Year(), s.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		default:
			e = time.Date(s.Year(), s.Month(), s.Day()+1, 0, 0, 0, 0, time.UTC)
		}
		if e.After(to) {
			e = to
		}
		out = append(out, Period{s, e})
		s = e
	}
	return out
}

func periodIndex(ps []Period, t time.Time) int {
	return sort.Search(len(ps), func(i int) bool { return ps[i].End.After(t) })
}

// item is one line item: one token class of one rollup, its per-unit
// items (images) or its fixed cost.
type item struct {
	r         *ledger.Rollup
	class     Class
	fixed     bool
	unit      bool
	names     *modelNames
	tokens    int64
	cost      money.Amount
	unpriced  bool
	regionVal string
}

// modelNames are the names of one (region, model) pair, computed once per
// query.
type modelNames struct {
	usageTypes [numClasses]string
	fixedType  string
	unitType   string
	modelARN   string
	service    string // SERVICE: "Amazon Bedrock" or the Marketplace product
	code       string // SERVICE_CODE
}

// namesKey is what a line item's names depend on.
type namesKey struct {
	region, source, model string
	v                     pricing.Variant
	unitKind              string
}

// expander turns rollups into line items.
type expander struct {
	namer *Namer
	cache map[namesKey]*modelNames
}

func newExpander(n *Namer) *expander {
	if n == nil {
		n = NewNamer(nil)
	}
	return &expander{namer: n, cache: map[namesKey]*modelNames{}}
}

func (x *expander) names(r *ledger.Rollup) *modelNames {
	k := namesKey{r.RegionServed, r.Region, r.ModelID, pricing.RollupVariant(r), r.UnitKind}
	if m, ok := x.cache[k]; ok {
		return m
	}
	billed := pricing.BilledRegion(k.source, k.region)
	m := &modelNames{modelARN: arn.FoundationModel(k.region, k.model), fixedType: x.namer.FixedUsageType(billed, k.model),
		service: x.namer.Service(k.model), code: x.namer.ProductCode(k.model)}
	for c := range numClasses {
		m.usageTypes[c] = x.namer.UsageTypeOf(billed, k.model, c, k.v)
	}
	if k.unitKind != "" {
		m.unitType = x.namer.UnitUsageType(billed, k.model, k.unitKind, k.v)
	}
	x.cache[k] = m
	return m
}

// classOf returns the tokens and cost of class c of r.
func classOf(r *ledger.Rollup, c Class) (int64, money.Amount) {
	switch c {
	case Input:
		return r.InputTokens, r.InputCost
	case Output:
		return r.OutputTokens, r.OutputCost
	case CacheRead:
		return r.CacheReadTokens, r.CacheReadCost
	case CacheWrite:
		return r.CacheWriteTokens, r.CacheWriteCost
	default:
		return r.CacheWrite1hTokens, r.CacheWrite1hCost
	}
}

// each calls fn for every line item of rolls within [from, to) that filter
// selects. A class with neither tokens nor cost is no line item (a failed
// call bills nothing).
func (x *expander) each(rolls []ledger.Rollup, from, to time.Time, filter pred, fn func(*item)) {
	var it item
	for i := range rolls {
		r := &rolls[i]
		if r.Hour.Before(from) || !r.Hour.Before(to) {
			continue
		}
		region := r.RegionServed
		if region == "" {
			region = NoRegion
		}
		names := x.names(r)
		if r.FixedCost != 0 {
			it = item{r: r, fixed: true, names: names, cost: r.FixedCost, regionVal: region}
			if filter == nil || filter(&it) {
				fn(&it)
			}
		}
		if r.Units != 0 || r.UnitCost != 0 {
			// Usage quantity in the unit (images), as Cost Explorer sums
			// it for an image usage type.
			it = item{r: r, unit: true, names: names, tokens: r.Units, cost: r.UnitCost, unpriced: r.Unpriced > 0, regionVal: region}
			if filter == nil || filter(&it) {
				fn(&it)
			}
		}
		for c := range numClasses {
			tokens, cost := classOf(r, c)
			if tokens == 0 && cost == 0 {
				continue
			}
			it = item{r: r, class: c, names: names, tokens: tokens, cost: cost, unpriced: r.Unpriced > 0, regionVal: region}
			if filter != nil && !filter(&it) {
				continue
			}
			fn(&it)
		}
	}
}

// dim returns the item's value of dimension d.
func (it *item) dim(d string) string {
	switch d {
	case DimService:
		return it.names.service
	case DimServiceCode:
		return it.names.code
	case DimRecordType:
		return RecordType
	case DimLinkedAccount:
		return it.r.Account
	case DimRegion:
		return it.regionVal
	case DimUsageType:
		if it.fixed {
			return it.names.fixedType
		}
		if it.unit {
			return it.names.unitType
		}
		return it.names.usageTypes[it.class]
	case DimServiceTier:
		if it.r.ServiceTier == "" {
			return "default"
		}
		return it.r.ServiceTier
	case DimOperation:
		return it.r.Operation
	case DimResourceID:
		if it.r.ProfileARN != "" {
			return it.r.ProfileARN
		}
		return it.names.modelARN
	case DimModel:
		return it.r.ModelID
	}
	return ""
}

// untagged reports whether t has no tag with a value.
func untagged(t tags.Set) bool {
	for _, v := range t {
		if v != "" {
			return false
		}
	}
	return true
}

// pred is a compiled filter.
type pred func(*item) bool

// compile turns a validated expression into a predicate; nil selects all.
func compile(e *Expr) pred {
	if e == nil {
		return nil
	}
	switch {
	case e.And != nil:
		ps := make([]pred, len(e.And))
		for i := range e.And {
			ps[i] = compile(&e.And[i])
		}
		return func(it *item) bool {
			for _, p := range ps {
				if !p(it) {
					return false
				}
			}
			return true
		}
	case e.Or != nil:
		ps := make([]pred, len(e.Or))
		for i := range e.Or {
			ps[i] = compile(&e.Or[i])
		}
		return func(it *item) bool {
			for _, p := range ps {
				if p(it) {
					return true
				}
			}
			return false
		}
	case e.Not != nil:
		p := compile(e.Not)
		return func(it *item) bool { return !p(it) }
	case e.Dimensions != nil:
		o, _ := parseOptions(e.Dimensions, false)
		key, m := e.Dimensions.Key, matcher(e.Dimensions.Values, o)
		return func(it *item) bool { return m(it.dim(key)) }
	case e.Tags != nil:
		o, _ := parseOptions(e.Tags, true)
		key := e.Tags.Key
		if key == "" {
			return func(it *item) bool { return untagged(it.r.Tags) }
		}
		var m func(string) bool
		if len(e.Tags.Values) > 0 {
			m = matcher(e.Tags.Values, o)
		}
		absent := o.absent
		return func(it *item) bool {
			v := it.r.Tags[key]
			if absent && v == "" {
				return true
			}
			return m != nil && m(v)
		}
	}
	return func(*item) bool { return false }
}

// matcher returns whether a value matches any of vals under o.
func matcher(vals []string, o options) func(string) bool {
	if o.op == Equals && !o.fold {
		set := make(map[string]bool, len(vals))
		for _, v := range vals {
			set[v] = true
		}
		return func(s string) bool { return set[s] }
	}
	if o.fold {
		low := make([]string, len(vals))
		for i, v := range vals {
			low[i] = strings.ToLower(v)
		}
		vals = low
	}
	var cmpf func(s, v string) bool
	switch o.op {
	case StartsWith:
		cmpf = strings.HasPrefix
	case EndsWith:
		cmpf = strings.HasSuffix
	case Contains:
		cmpf = strings.Contains
	default:
		cmpf = func(s, v string) bool { return s == v }
	}
	return func(s string) bool {
		if o.fold {
			s = strings.ToLower(s)
		}
		for _, v := range vals {
			if cmpf(s, v) {
				return true
			}
		}
		return false
	}
}

// Aggregate answers q from rolls: the rollups' line items within
// [q.From, q.To) that q.Filter selects, summed per period and group. The
// sums are exact; they equal summing the same line items of the raw
// records.
func Aggregate(rolls []ledger.Rollup, q Query, n *Namer) (Result, error) {
	if err := q.Validate(); err != nil {
		return Result{}, err
	}
	periods := Periods(q.From, q.To, q.Granularity)
	res := Result{GroupBy: slices.Clone(q.GroupBy), Periods: make([]PeriodResult, len(periods))}
	for i, p := range periods {
		res.Periods[i].Period = p
	}
	type bucket struct {
		keys   []string
		totals Totals
	}
	groups := make([]map[[2]string]*bucket, len(periods))
	// Tag group keys ("dept$claims") are built once per distinct value.
	tagKeys := make([]map[string]string, len(q.GroupBy))
	key := func(it *item, i int) string {
		g := q.GroupBy[i]
		if g.Type != GroupTag {
			return it.dim(g.Key)
		}
		v := it.r.Tags[g.Key]
		k, ok := tagKeys[i][v]
		if !ok {
			if tagKeys[i] == nil {
				tagKeys[i] = map[string]string{}
			}
			k = g.Key + "$" + v
			tagKeys[i][v] = k
		}
		return k
	}
	var lastHour time.Time
	pi := -1
	x := newExpander(n)
	x.each(rolls, q.From, q.To, compile(q.Filter), func(it *item) {
		if pi < 0 || !it.r.Hour.Equal(lastHour) {
			lastHour, pi = it.r.Hour, periodIndex(periods, it.r.Hour)
		}
		pr := &res.Periods[pi]
		pr.Total.add(it.cost, it.tokens)
		if it.unpriced {
			pr.Estimated = true
		}
		if len(q.GroupBy) == 0 {
			return
		}
		var k [2]string
		for i := range q.GroupBy {
			k[i] = key(it, i)
		}
		if groups[pi] == nil {
			groups[pi] = map[[2]string]*bucket{}
		}
		b := groups[pi][k]
		if b == nil {
			b = &bucket{keys: slices.Clone(k[:len(q.GroupBy)])}
			groups[pi][k] = b
		}
		b.totals.add(it.cost, it.tokens)
	})
	if len(q.GroupBy) > 0 {
		for i := range res.Periods {
			gs := make([]Group, 0, len(groups[i]))
			for _, b := range groups[i] {
				gs = append(gs, Group{Keys: b.keys, Totals: b.totals})
			}
			slices.SortFunc(gs, func(a, b Group) int { return slices.Compare(a.Keys, b.Keys) })
			res.Periods[i].Groups = gs
		}
	}
	return res, nil
}

// Scope selects the line items GetDimensionValues and GetTags read.
type Scope struct {
	// From and To bound the usage, [From, To); both whole UTC hours.
	From, To time.Time
	// Filter selects line items; nil selects all.
	Filter *Expr
	// Search keeps only values containing it, ignoring case ("" keeps all).
	Search string
}

func (s Scope) validate() error {
	if err := checkRange(s.From, s.To); err != nil {
		return err
	}
	return s.Filter.Validate()
}

// Value is one distinct value with the totals of its line items.
type Value struct {
	Value string
	Totals
}

func sortedValues(m map[string]*Totals) []Value {
	out := make([]Value, 0, len(m))
	for v, t := range m {
		out = append(out, Value{Value: v, Totals: *t})
	}
	slices.SortFunc(out, func(a, b Value) int { return cmp.Compare(a.Value, b.Value) })
	return out
}

func searchMatch(search string) func(string) bool {
	if search == "" {
		return func(string) bool { return true }
	}
	s := strings.ToLower(search)
	return func(v string) bool { return strings.Contains(strings.ToLower(v), s) }
}

// DimensionValues returns the distinct values of dimension dim among the
// line items sc selects, sorted, each with its totals.
func DimensionValues(rolls []ledger.Rollup, dim string, sc Scope, n *Namer) ([]Value, error) {
	if err := checkDimension(dim); err != nil {
		return nil, err
	}
	if err := sc.validate(); err != nil {
		return nil, err
	}
	keep := searchMatch(sc.Search)
	m := map[string]*Totals{}
	newExpander(n).each(rolls, sc.From, sc.To, compile(sc.Filter), func(it *item) {
		v := it.dim(dim)
		t := m[v]
		if t == nil {
			if !keep(v) {
				return
			}
			t = &Totals{}
			m[v] = t
		}
		t.add(it.cost, it.tokens)
	})
	return sortedValues(m), nil
}

// TagKeys returns the tag keys carried (with a value) by the line items sc
// selects, sorted, each with the totals of the items carrying it.
func TagKeys(rolls []ledger.Rollup, sc Scope, n *Namer) ([]Value, error) {
	if err := sc.validate(); err != nil {
		return nil, err
	}
	keep := searchMatch(sc.Search)
	m := map[string]*Totals{}
	newExpander(n).each(rolls, sc.From, sc.To, compile(sc.Filter), func(it *item) {
		for k, v := range it.r.Tags {
			if v == "" {
				continue
			}
			t := m[k]
			if t == nil {
				if !keep(k) {
					continue
				}
				t = &Totals{}
				m[k] = t
			}
			t.add(it.cost, it.tokens)
		}
	})
	return sortedValues(m), nil
}

// TagValues returns the non-empty values of tag key among the line items sc
// selects, sorted, each with its totals.
func TagValues(rolls []ledger.Rollup, key string, sc Scope, n *Namer) ([]Value, error) {
	if err := checkTagKey(key); err != nil {
		return nil, err
	}
	if err := sc.validate(); err != nil {
		return nil, err
	}
	keep := searchMatch(sc.Search)
	m := map[string]*Totals{}
	newExpander(n).each(rolls, sc.From, sc.To, compile(sc.Filter), func(it *item) {
		v := it.r.Tags[key]
		if v == "" {
			return
		}
		t := m[v]
		if t == nil {
			if !keep(v) {
				return
			}
			t = &Totals{}
			m[v] = t
		}
		t.add(it.cost, it.tokens)
	})
	return sortedValues(m), nil
}

// RollupRecords sums records into hourly rollups exactly as the stores do
// at ingest (one rollup per hour, account, region served, profile, model,
// principal, operation and tag set; calls, errors and unpriced calls as
// ledger.Record.RollupCalls counts them), for answering queries from raw
// records and for checking the stores.
func RollupRecords(recs []ledger.Record) []ledger.Rollup {
	type key struct {
		hour                                                          int64
		account, region, profile, model, principal, operation, tagSet string
		scope, tier, source, unitKind                                 string
		long, latency                                                 bool
	}
	idx := map[key]int{}
	var out []ledger.Rollup
	for _, r := range recs {
		h := r.Time.UTC().Truncate(time.Hour)
		k := key{h.UnixMilli(), r.Account, r.RegionServed, r.ProfileARN, r.ModelID, r.PrincipalID, r.Operation, r.Tags.Canonical(),
			r.Scope, r.ServiceTier, r.Region, r.UnitKind, r.LongContext, r.LatencyOptimized}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, ledger.Rollup{Hour: h, Account: r.Account, RegionServed: r.RegionServed, ProfileARN: r.ProfileARN,
				ModelID: r.ModelID, PrincipalID: r.PrincipalID, Operation: r.Operation, Tags: r.Tags.Clone(),
				Region: r.Region, Scope: r.Scope, ServiceTier: r.ServiceTier, LongContext: r.LongContext, LatencyOptimized: r.LatencyOptimized,
				UnitKind: r.UnitKind})
		}
		o := &out[i]
		calls, errs, unpriced := r.RollupCalls()
		o.Calls += calls
		o.Errors += errs
		o.Unpriced += unpriced
		o.InputTokens += r.InputTokens
		o.OutputTokens += r.OutputTokens
		o.CacheReadTokens += r.CacheReadTokens
		o.CacheWriteTokens += r.CacheWriteTokens
		o.Cost += r.Cost
		o.InputCost += r.InputCost
		o.OutputCost += r.OutputCost
		o.CacheReadCost += r.CacheReadCost
		o.CacheWriteCost += r.CacheWriteCost
		o.CacheWrite1hTokens += r.CacheWrite1hTokens
		o.CacheWrite1hCost += r.CacheWrite1hCost
		o.FixedCost += r.FixedCost
		o.Units += r.Units
		o.UnitCost += r.UnitCost
	}
	slices.SortStableFunc(out, func(a, b ledger.Rollup) int { return a.Hour.Compare(b.Hour) })
	return out
}

// errNoHistory is the forecast's answer without enough history.
func errNoHistory() error {
	return errkind.New(errkind.Unavailable, "Insufficient amount of historical data to generate forecast.")
}
