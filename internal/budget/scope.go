package budget

import (
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/tollgate-dev/tollgate/internal/arn"
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/pricing"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// A budget's scope is a Cost Explorer filter expression (costquery.Expr)
// with Cost Explorer's semantics: tags are the tags in force at call time
// ("" when absent), dimensions are Cost Explorer's (SERVICE, REGION,
// LINKED_ACCOUNT, USAGE_TYPE, OPERATION, RESOURCE_ID, MODEL, ...), and a
// call's cost splits into one line item per token class. The same
// expression selects spend three ways, which agree:
//   - costquery.Aggregate over the ledger's rollups (start, history);
//   - Scope.Spend over one durable record (each call, live);
//   - Scope.admits over a call about to run (admission), where what is not
//     known yet counts as "maybe" and a maybe is in scope: the region that
//     will serve it (hence a direct call's resource id), the token kinds it
//     will bill, whether it falls into a long-context tier or is served
//     latency-optimized, and its service tier beyond "the tier it asks for,
//     or Standard" (a provider may serve Standard when the tier asked for
//     has no capacity).
//
// USAGE_TYPE is the full AWS usage type of each line, with every suffix a
// price dimension adds (pricing.Namer.UsageTypeOf): the source region's
// code, the model, the token kind ("-cache-write-input-token-count-1-hour"
// for the 1-hour cache writes), "-long-context", the tier ("-priority",
// "-flex", "-reserved"), "-cross-region-global" and "-latency-optimized".
// At admission the source region, the model and the endpoint scope are
// known (the scope an application profile recorded at creation); a
// USAGE_TYPE filter is decided there when every usage type the call may
// bill under agrees, and is a maybe otherwise.
//
// Tag keys may be written "user:dept" (as the legacy TagKeyValue filter
// writes them) or "dept"; both mean the tag dept.

// legacyDims maps the legacy CostFilters keys Tollgate supports to Cost
// Explorer dimensions. TagKeyValue is handled apart.
var legacyDims = map[string]string{
	"Service":       costquery.DimService,
	"Region":        costquery.DimRegion,
	"LinkedAccount": costquery.DimLinkedAccount,
	"Operation":     costquery.DimOperation,
	"UsageType":     costquery.DimUsageType,
	"RecordType":    costquery.DimRecordType,
}

// TagKeyValue is the legacy CostFilters key of tag filters.
const TagKeyValue = "TagKeyValue"

// FromCostFilters converts legacy CostFilters to an expression: the values
// of one key are ORed, different keys ANDed. TagKeyValue values are
// "user:KEY$VALUE" ("user:KEY$" selects usage without the tag); values of
// different tag keys are ORed, as AWS does within one filter key. A nil or
// empty map is no filter (nil).
func FromCostFilters(cf map[string][]string) (*costquery.Expr, error) {
	keys := make([]string, 0, len(cf))
	for k := range cf {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var and []costquery.Expr
	for _, k := range keys {
		vals := cf[k]
		if len(vals) == 0 {
			return nil, errkind.New(errkind.Invalid, "The cost filter %s has no values.", truncate(k))
		}
		if k == TagKeyValue {
			byKey := map[string][]string{}
			var order []string
			for _, v := range vals {
				key, val, ok := strings.Cut(v, "$")
				key = strings.TrimPrefix(key, "user:")
				if !ok || key == "" {
					return nil, errkind.New(errkind.Invalid, "The TagKeyValue filter value %q is invalid: write user:KEY$VALUE.", truncate(v))
				}
				if _, seen := byKey[key]; !seen {
					order = append(order, key)
				}
				byKey[key] = append(byKey[key], val)
			}
			var or []costquery.Expr
			for _, key := range order {
				or = append(or, costquery.Expr{Tags: &costquery.Values{Key: key, Values: byKey[key]}})
			}
			if len(or) == 1 {
				and = append(and, or[0])
			} else {
				and = append(and, costquery.Expr{Or: or})
			}
			continue
		}
		dim, ok := legacyDims[k]
		if !ok {
			return nil, errkind.New(errkind.Invalid, "The cost filter %q is not supported: supported filters are LinkedAccount, Operation, RecordType, Region, Service, TagKeyValue and UsageType.", truncate(k))
		}
		and = append(and, costquery.Expr{Dimensions: &costquery.Values{Key: dim, Values: slices.Clone(vals)}})
	}
	switch len(and) {
	case 0:
		return nil, nil
	case 1:
		return &and[0], nil
	}
	return &costquery.Expr{And: and}, nil
}

// normalize returns a deep copy of e with "user:" stripped from tag keys.
func normalize(e *costquery.Expr) *costquery.Expr {
	c := cloneExpr(e)
	var walk func(*costquery.Expr)
	walk = func(x *costquery.Expr) {
		if x == nil {
			return
		}
		if x.Tags != nil {
			x.Tags.Key = strings.TrimPrefix(x.Tags.Key, "user:")
		}
		walk(x.Not)
		for i := range x.And {
			walk(&x.And[i])
		}
		for i := range x.Or {
			walk(&x.Or[i])
		}
	}
	walk(c)
	return c
}

func cloneExpr(e *costquery.Expr) *costquery.Expr {
	if e == nil {
		return nil
	}
	c := &costquery.Expr{Not: cloneExpr(e.Not), Dimensions: cloneValues(e.Dimensions), Tags: cloneValues(e.Tags), CostCategories: cloneValues(e.CostCategories)}
	if e.And != nil {
		c.And = make([]costquery.Expr, len(e.And))
		for i := range e.And {
			c.And[i] = *cloneExpr(&e.And[i])
		}
	}
	if e.Or != nil {
		c.Or = make([]costquery.Expr, len(e.Or))
		for i := range e.Or {
			c.Or[i] = *cloneExpr(&e.Or[i])
		}
	}
	return c
}

func cloneValues(v *costquery.Values) *costquery.Values {
	if v == nil {
		return nil
	}
	return &costquery.Values{Key: v.Key, Values: slices.Clone(v.Values), MatchOptions: slices.Clone(v.MatchOptions)}
}

// ScopeExpr returns the normalized expression b's scope selects (nil: all
// of its accounts' usage), validated.
func (b *Budget) ScopeExpr() (*costquery.Expr, error) {
	var e *costquery.Expr
	if b.Filter != nil {
		e = normalize(b.Filter)
	} else {
		var err error
		if e, err = FromCostFilters(b.CostFilters); err != nil {
			return nil, err
		}
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return e, nil
}

// tri is a three-valued truth: no, yes, or maybe (not known yet).
type tri uint8

const (
	no tri = iota
	yes
	maybe
)

// line is what a scope is evaluated on: one token class of one call
// (spend), or a call about to run (admission), with flags for what is not
// known yet.
type line struct {
	account, profileARN, model, operation string
	tags                                  tags.Set
	region                                string // region served, "" when none did
	class                                 costquery.Class
	fixed                                 bool // the record's fixed-cost line, not a token kind
	// unitKind, when set, makes the line the call's per-unit items
	// (images of one per-image price) instead of a token class.
	unitKind                         string
	regionKnown, classKnown, opKnown bool
	// regions are the regions a call not yet routed may be served from
	// (a profile's); nil when not known.
	regions []string

	// source is the region the call is made to, which names its usage
	// types ("" when not known); scope its endpoint scope as a record
	// keeps it ("" in-region, "geo", "global").
	source, scope string
	// tier is the service tier: the one served (a record, exact) or the
	// one asked for (admission, tierKnown; Standard may serve instead);
	// unknown when neither.
	tier      string
	tierKnown bool
	// long and latency are the record's long-context and
	// latency-optimized flags; exact says the line is a record's, every
	// price dimension known.
	long, latency, exact bool
}

// pred is a compiled scope expression.
type pred func(*line) tri

// Scope is a compiled budget scope: the accounts a budget sees and its
// filter. Safe for concurrent use.
type Scope struct {
	expr     *costquery.Expr
	pred     pred // nil: everything
	account  string
	all      bool // the management account: every account's usage
	perClass bool // the filter reads USAGE_TYPE, so token classes split
	usage    bool // a USAGE budget: units are tokens
	namer    *costquery.Namer
}

// newScope compiles b's scope. management is the account whose budgets see
// every account's usage.
func newScope(b *Budget, management string, namer *costquery.Namer) (*Scope, error) {
	e, err := b.ScopeExpr()
	if err != nil {
		return nil, err
	}
	sc := &Scope{expr: e, account: b.Account, all: management != "" && b.Account == management, usage: b.Type == Usage, namer: namer}
	sc.pred = sc.compile(e)
	return sc, nil
}

// Accounts returns the accounts whose usage the scope sees (nil: all).
func (sc *Scope) Accounts() []string {
	if sc.all {
		return nil
	}
	return []string{sc.account}
}

// Expr returns the normalized filter (nil: none).
func (sc *Scope) Expr() *costquery.Expr { return sc.expr }

func (sc *Scope) compile(e *costquery.Expr) pred {
	if e == nil {
		return nil
	}
	switch {
	case e.And != nil:
		ps := make([]pred, len(e.And))
		for i := range e.And {
			ps[i] = sc.compile(&e.And[i])
		}
		return func(l *line) tri {
			r := yes
			for _, p := range ps {
				switch p(l) {
				case no:
					return no
				case maybe:
					r = maybe
				}
			}
			return r
		}
	case e.Or != nil:
		ps := make([]pred, len(e.Or))
		for i := range e.Or {
			ps[i] = sc.compile(&e.Or[i])
		}
		return func(l *line) tri {
			r := no
			for _, p := range ps {
				switch p(l) {
				case yes:
					return yes
				case maybe:
					r = maybe
				}
			}
			return r
		}
	case e.Not != nil:
		p := sc.compile(e.Not)
		return func(l *line) tri {
			switch p(l) {
			case yes:
				return no
			case no:
				return yes
			}
			return maybe
		}
	case e.Dimensions != nil:
		o := optionsOf(e.Dimensions)
		key, m := e.Dimensions.Key, matcher(e.Dimensions.Values, o)
		switch key {
		case costquery.DimUsageType:
			sc.perClass = true
			return sc.usageTypePred(m)
		case costquery.DimServiceTier:
			return func(l *line) tri {
				return agree(l.tiers(), func(t string) bool { return m(t) })
			}
		}
		return func(l *line) tri {
			v, ok := sc.dim(l, key)
			if ok {
				return of(m(v))
			}
			if key == costquery.DimRegion && len(l.regions) > 0 {
				// Not routed yet: decided when every region it may be
				// served from agrees.
				n := 0
				for _, r := range l.regions {
					if r == "" {
						r = costquery.NoRegion
					}
					if m(r) {
						n++
					}
				}
				switch n {
				case 0:
					return no
				case len(l.regions):
					return yes
				}
			}
			return maybe
		}
	case e.Tags != nil:
		o := optionsOf(e.Tags)
		key := e.Tags.Key
		if key == "" {
			return func(l *line) tri { return of(untagged(l.tags)) }
		}
		var m func(string) bool
		if len(e.Tags.Values) > 0 {
			m = matcher(e.Tags.Values, o)
		}
		absent := o.absent
		return func(l *line) tri {
			v := l.tags[key]
			if absent && v == "" {
				return yes
			}
			return of(m != nil && m(v))
		}
	}
	return func(*line) tri { return no }
}

func of(b bool) tri {
	if b {
		return yes
	}
	return no
}

func untagged(t tags.Set) bool {
	for _, v := range t {
		if v != "" {
			return false
		}
	}
	return true
}

// dim returns l's value of dimension d, as costquery computes it; ok is
// false when the value is not known yet.
func (sc *Scope) dim(l *line, d string) (string, bool) {
	switch d {
	case costquery.DimService:
		return sc.namer.Service(l.model), true
	case costquery.DimServiceCode:
		return sc.namer.ProductCode(l.model), true
	case costquery.DimRecordType:
		return costquery.RecordType, true
	case costquery.DimLinkedAccount:
		return l.account, true
	case costquery.DimModel:
		return l.model, true
	case costquery.DimOperation:
		return l.operation, l.opKnown
	case costquery.DimRegion:
		if !l.regionKnown {
			return "", false
		}
		if l.region == "" {
			return costquery.NoRegion, true
		}
		return l.region, true
	case costquery.DimResourceID:
		if l.profileARN != "" {
			return l.profileARN, true
		}
		if !l.regionKnown {
			return "", false
		}
		return arn.FoundationModel(l.region, l.model), true
	}
	return "", true
}

// allTiers are the service tiers a call may be served in.
var allTiers = []string{catalog.TierDefault, catalog.TierPriority, catalog.TierFlex, catalog.TierReserved}

// tiers returns the SERVICE_TIER values l may have, as costquery names
// them ("default" for Standard and for a record no tier served): the
// record's; at admission the tier asked for and Standard; else any.
func (l *line) tiers() []string {
	switch {
	case l.exact || (l.tierKnown && (l.tier == "" || l.tier == catalog.TierDefault)):
		if l.tier == "" {
			return allTiers[:1]
		}
		return []string{l.tier}
	case l.tierKnown:
		return []string{catalog.TierDefault, l.tier}
	}
	return allTiers
}

// agree returns yes when f holds for every value, no when for none, and
// maybe otherwise.
func agree(vals []string, f func(string) bool) tri {
	n := 0
	for _, v := range vals {
		if f(v) {
			n++
		}
	}
	switch n {
	case 0:
		return no
	case len(vals):
		return yes
	}
	return maybe
}

// usageKey is what decides a USAGE_TYPE filter on a call about to run.
type usageKey struct {
	source, model, scope, tier string
	tierKnown                  bool
}

// lineKey is what names a record's line.
type lineKey struct {
	billed, model, unitKind string
	v                       pricing.Variant
	class                   costquery.Class
	fixed                   bool
}

// usageTypePred returns the predicate of a USAGE_TYPE filter matching m.
// On a record's line it names the line's usage type as costquery does.
// On a call about to run it names every usage type the call may bill
// under (each token kind, with and without long context and latency
// optimization, in each tier it may be served in): yes when m matches
// them all, no when none, maybe otherwise. The answers are kept (per
// line name, and per source region, model, scope and tier), so each usage
// type is named once, not per call.
func (sc *Scope) usageTypePred(m func(string) bool) pred {
	var memo sync.Map  // usageKey -> tri
	var lines sync.Map // lineKey -> tri
	return func(l *line) tri {
		if l.exact {
			k := lineKey{billed: pricing.BilledRegion(l.source, l.region), model: l.model, unitKind: l.unitKind, fixed: l.fixed, class: l.class,
				v: pricing.Variant{Scope: l.scope, Tier: l.tier, LongContext: l.long, LatencyOptimized: l.latency}}
			if v, ok := lines.Load(k); ok {
				return v.(tri)
			}
			var name string
			switch {
			case l.fixed:
				name = sc.namer.FixedUsageType(k.billed, l.model)
			case l.unitKind != "":
				name = sc.namer.UnitUsageType(k.billed, l.model, l.unitKind, k.v)
			default:
				name = sc.namer.UsageTypeOf(k.billed, l.model, l.class, k.v)
			}
			r := of(m(name))
			lines.Store(k, r)
			return r
		}
		if l.source == "" {
			return maybe
		}
		k := usageKey{l.source, l.model, l.scope, l.tier, l.tierKnown}
		if v, ok := memo.Load(k); ok {
			return v.(tri)
		}
		var names []string
		for _, tier := range l.tiers() {
			for _, long := range [2]bool{false, true} {
				for _, lat := range [2]bool{false, true} {
					v := pricing.Variant{Scope: l.scope, Tier: tier, LongContext: long, LatencyOptimized: lat}
					for c := range pricing.NumKinds {
						names = append(names, sc.namer.UsageTypeOf(l.source, l.model, c, v))
					}
				}
			}
		}
		r := agree(names, m)
		if sc.namer.BillsUnits(l.model) {
			// Its images bill under a usage type naming their quality and
			// size, which only the call says.
			r = maybe
		}
		memo.Store(k, r)
		return r
	}
}

// sees reports whether the scope's accounts include account.
func (sc *Scope) sees(account string) bool { return sc.all || account == sc.account }

// admits evaluates the scope on a call about to run.
func (sc *Scope) admits(l *line) tri {
	if !sc.sees(l.account) {
		return no
	}
	if sc.pred == nil {
		return yes
	}
	return sc.pred(l)
}

// Spend returns how much of r counts against the budget: the cost (COST)
// or usage (USAGE: tokens, and images of image models, as Cost
// Explorer's usage quantity) of the record's line items the scope
// selects.
func (sc *Scope) Spend(r *ledger.Record) int64 {
	var l line
	return sc.spend(r, &l)
}

// spend is Spend with the caller's scratch line (so it need not escape).
func (sc *Scope) spend(r *ledger.Record, l *line) int64 {
	if !sc.sees(r.Account) {
		return 0
	}
	*l = line{account: r.Account, profileARN: r.ProfileARN, model: r.ModelID, operation: r.Operation, tags: r.Tags,
		region: r.RegionServed, regionKnown: true, opKnown: true,
		source: r.Region, scope: r.Scope, tier: r.ServiceTier, tierKnown: true, long: r.LongContext, latency: r.LatencyOptimized, exact: true}
	if sc.pred == nil || !sc.perClass {
		if sc.pred != nil && sc.pred(l) != yes {
			return 0
		}
		if sc.usage {
			return r.InputTokens + r.OutputTokens + r.CacheReadTokens + r.CacheWriteAll() + r.Units
		}
		return int64(r.Cost)
	}
	// One line per token kind and the fixed-cost line, as costquery
	// expands a rollup.
	l.classKnown = true
	var total int64
	if r.FixedCost != 0 {
		l.fixed = true
		if sc.pred(l) == yes && !sc.usage {
			total += int64(r.FixedCost)
		}
		l.fixed = false
	}
	for c, tc := range [...]struct {
		tokens int64
		cost   int64
	}{
		costquery.Input:        {r.InputTokens, int64(r.InputCost)},
		costquery.Output:       {r.OutputTokens, int64(r.OutputCost)},
		costquery.CacheRead:    {r.CacheReadTokens, int64(r.CacheReadCost)},
		costquery.CacheWrite:   {r.CacheWriteTokens, int64(r.CacheWriteCost)},
		costquery.CacheWrite1h: {r.CacheWrite1hTokens, int64(r.CacheWrite1hCost)},
	} {
		if tc.tokens == 0 && tc.cost == 0 {
			continue
		}
		l.class = costquery.Class(c)
		if sc.pred(l) != yes {
			continue
		}
		if sc.usage {
			total += tc.tokens
		} else if r.Priced {
			total += tc.cost
		}
	}
	if r.Units != 0 || r.UnitCost != 0 {
		// The images, on their per-image usage type: usage in images.
		l.unitKind = r.UnitKind
		if sc.pred(l) == yes {
			if sc.usage {
				total += r.Units
			} else if r.Priced {
				total += int64(r.UnitCost)
			}
		}
	}
	return total
}

// options are a Values' match options, as costquery reads them (the
// expression is validated before it is compiled).
type options struct {
	op     costquery.MatchOption
	fold   bool
	absent bool
}

func optionsOf(v *costquery.Values) options {
	o := options{op: costquery.Equals}
	for _, m := range v.MatchOptions {
		switch m {
		case costquery.Equals, costquery.StartsWith, costquery.EndsWith, costquery.Contains:
			o.op = m
		case costquery.Absent:
			o.absent = true
		case costquery.CaseInsensitive:
			o.fold = true
		}
	}
	return o
}

// matcher returns whether a value matches any of vals under o.
func matcher(vals []string, o options) func(string) bool {
	if o.op == costquery.Equals && !o.fold {
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
	case costquery.StartsWith:
		cmpf = strings.HasPrefix
	case costquery.EndsWith:
		cmpf = strings.HasSuffix
	case costquery.Contains:
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
