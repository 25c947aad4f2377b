// Package chargeback turns usage into chargeback statements for internal
// customers: one statement per value of a cost-allocation tag (or per
// account), listing per inference profile, model and AWS usage type the
// tokens used, the cost, a markup and the total to charge. Spend without the tag is a
// statement of its own, so the statements together cover all spend.
//
// Amounts are exact nano-dollars. The markup is a whole number of basis
// points applied to each line's cost and rounded half away from zero to
// the nano-dollar; a statement's markup and total are the sums of its
// lines', and the grand totals the sums of the statements', so every
// figure adds up exactly. Costs are those Cost Explorer reports:
// Reconcile checks a Result against GetCostAndUsage for the same scope.
package chargeback

import (
	"cmp"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/arn"
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/pricing"
)

// By chooses what the statements are for.
type By struct {
	// Tag, when set, makes one statement per value of this tag key, plus
	// one for usage without it (or with an empty value): the untagged
	// statement, Cost Explorer's "<key>$" group.
	Tag string
	// Account, when Tag is empty, makes one statement per account.
	Account bool
}

// ParseBy reads "tag:KEY" or "account".
func ParseBy(s string) (By, error) {
	if key, ok := strings.CutPrefix(s, "tag:"); ok {
		if key == "" || len(key) > 128 {
			return By{}, errkind.New(errkind.Invalid, "--by %q: the tag key must be 1-128 characters long", s)
		}
		return By{Tag: key}, nil
	}
	if s == "account" {
		return By{Account: true}, nil
	}
	return By{}, errkind.New(errkind.Invalid, "--by %q: want tag:KEY or account", s)
}

// String returns b as ParseBy reads it.
func (b By) String() string {
	if b.Tag != "" {
		return "tag:" + b.Tag
	}
	return "account"
}

// GroupBy is the Cost Explorer grouping matching b.
func (b By) GroupBy() costquery.GroupBy {
	if b.Tag != "" {
		return costquery.GroupBy{Type: costquery.GroupTag, Key: b.Tag}
	}
	return costquery.GroupBy{Type: costquery.GroupDimension, Key: costquery.DimLinkedAccount}
}

// groupKey returns the Cost Explorer group key of statement value v.
func (b By) groupKey(v string) string {
	if b.Tag != "" {
		return b.Tag + "$" + v
	}
	return v
}

func (b By) value(r *ledger.Rollup) string {
	if b.Tag != "" {
		return r.Tags[b.Tag]
	}
	return r.Account
}

// Markup is a markup in basis points: 1500 is 15%, -500 a 5% discount.
type Markup int64

// Markup limits: from a 100% discount to a 1000% markup.
const (
	MinMarkup Markup = -10_000
	MaxMarkup Markup = 100_000
)

// ParseMarkup reads a percentage with at most two decimals, with or
// without the sign: "15%", "15", "12.5%", "0.25%", "-5%".
func ParseMarkup(s string) (Markup, error) {
	bad := errkind.New(errkind.Invalid, "markup %q: want a percentage with at most two decimals, such as 15%% or 12.5%%, from -100%% to 1000%%", s)
	t := strings.TrimSuffix(strings.TrimSpace(s), "%")
	neg := strings.HasPrefix(t, "-")
	t = strings.TrimPrefix(strings.TrimPrefix(t, "-"), "+")
	whole, frac, _ := strings.Cut(t, ".")
	if whole == "" || len(frac) > 2 || strings.ContainsAny(whole+frac, "+-") {
		return 0, bad
	}
	w, err := strconv.ParseInt(whole, 10, 32)
	if err != nil {
		return 0, bad
	}
	f := int64(0)
	if frac != "" {
		if f, err = strconv.ParseInt(frac, 10, 32); err != nil {
			return 0, bad
		}
		if len(frac) == 1 {
			f *= 10
		}
	}
	m := Markup(w*100 + f)
	if neg {
		m = -m
	}
	if m < MinMarkup || m > MaxMarkup {
		return 0, bad
	}
	return m, nil
}

// String formats m as a percentage: "15%", "12.5%", "0%".
func (m Markup) String() string {
	sign := ""
	if m < 0 {
		sign, m = "-", -m
	}
	s := strconv.FormatInt(int64(m/100), 10)
	if f := m % 100; f != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%02d", f), "0")
	}
	return sign + s + "%"
}

var tenThousand = big.NewInt(10_000)

// Of returns the markup on cost: cost × m / 10,000, rounded half away
// from zero to the nano-dollar (saturating at the int64 range).
func (m Markup) Of(cost money.Amount) money.Amount {
	p := new(big.Int).Mul(big.NewInt(int64(cost)), big.NewInt(int64(m)))
	q, r := new(big.Int).QuoRem(p, tenThousand, new(big.Int))
	if r.Abs(r).Lsh(r, 1).Cmp(tenThousand) >= 0 {
		q.Add(q, big.NewInt(int64(p.Sign())))
	}
	switch {
	case q.IsInt64():
		return money.Amount(q.Int64())
	case q.Sign() > 0:
		return money.Amount(1<<63 - 1)
	}
	return money.Amount(-1 << 63)
}

// Tokens are token counts by class; CacheWrite is the 5-minute writes,
// CacheWrite1h the 1-hour ones. Units are per-unit items (generated
// images) of image models.
type Tokens struct {
	Input, Output, CacheRead, CacheWrite, CacheWrite1h int64
	Units                                              int64
}

// Total is the sum of the classes and the units: Cost Explorer's usage
// quantity, which sums every usage type's usage whatever its unit.
func (t Tokens) Total() int64 {
	return t.Input + t.Output + t.CacheRead + t.CacheWrite + t.CacheWrite1h + t.Units
}

func (t *Tokens) add(o Tokens) {
	t.Input += o.Input
	t.Output += o.Output
	t.CacheRead += o.CacheRead
	t.CacheWrite += o.CacheWrite
	t.CacheWrite1h += o.CacheWrite1h
	t.Units += o.Units
}

// Amounts are what a line, statement or result adds up.
type Amounts struct {
	Tokens
	// Cost is the exact cost of the usage; unpriced usage adds nothing.
	Cost money.Amount
	// Markup is the markup charged on Cost.
	Markup money.Amount
	// Total is Cost + Markup: what is charged.
	Total money.Amount
	// Estimated is true when the usage includes calls without a known
	// price: their tokens count, their cost does not.
	Estimated bool
}

func (a *Amounts) add(o Amounts) {
	a.Tokens.add(o.Tokens)
	a.Cost += o.Cost
	a.Markup += o.Markup
	a.Total += o.Total
	a.Estimated = a.Estimated || o.Estimated
}

// Line is the usage of one resource, model and usage type in a
// statement.
type Line struct {
	// ResourceID is the inference profile ARN, or the foundation-model
	// ARN of direct calls (Cost Explorer's RESOURCE_ID).
	ResourceID string
	// Model is the foundation-model id.
	Model string
	// UsageType is the AWS usage type the line is billed under (Cost
	// Explorer's USAGE_TYPE), e.g. "USE1-Claude3Haiku-input-tokens".
	UsageType string
	Amounts
}

// Statement is what one internal customer is charged.
type Statement struct {
	// Value is the tag value (or account) the statement is for; "" for
	// the untagged statement.
	Value string
	// Untagged is true for the statement of usage without the tag.
	Untagged bool
	// Lines are sorted by resource, then model.
	Lines []Line
	// Amounts sum the lines.
	Amounts
}

// Result is the statements of one range.
type Result struct {
	By       By
	From, To time.Time
	// MarkupRate is the markup applied to every line.
	MarkupRate Markup
	// Statements are sorted by value, the untagged statement last.
	Statements []Statement
	// Amounts sum the statements.
	Amounts
	// Reconciled is set by Reconcile once the result has matched Cost
	// Explorer's.
	Reconciled *Reconciliation
}

// Reconciliation records the Cost Explorer figures a Result matched.
type Reconciliation struct {
	// Cost and Usage are GetCostAndUsage's totals over the same scope.
	Cost  money.Amount
	Usage int64
	// Groups is how many groups GetCostAndUsage returned.
	Groups int
}

// Builder sums rollups into statements. Not safe for concurrent use.
type Builder struct {
	by       By
	markup   Markup
	from, to time.Time
	namer    *costquery.Namer
	lines    map[lineKey]*Amounts
}

type lineKey struct{ value, resource, model, usageType string }

// NewBuilder returns a Builder of statements by by over [from, to), with
// markup m, naming usage types after the embedded catalogue (see
// SetNamer).
func NewBuilder(by By, m Markup, from, to time.Time) *Builder {
	return &Builder{by: by, markup: m, from: from, to: to, namer: costquery.NewNamer(catalog.Default()), lines: map[lineKey]*Amounts{}}
}

// SetNamer makes b name usage types with n (the catalogue in use).
func (b *Builder) SetNamer(n *costquery.Namer) { b.namer = n }

// Add adds the usage of r, if its hour lies in the range. r is not
// retained.
func (b *Builder) Add(r *ledger.Rollup) {
	if r.Hour.Before(b.from) || !r.Hour.Before(b.to) {
		return
	}
	resource := r.ProfileARN
	if resource == "" {
		resource = arn.FoundationModel(r.RegionServed, r.ModelID)
	}
	value := b.by.value(r)
	v := pricing.RollupVariant(r)
	line := func(usageType string, t Tokens, cost money.Amount) {
		if t.Total() == 0 && cost == 0 {
			return // failed calls bill nothing
		}
		k := lineKey{value, resource, r.ModelID, usageType}
		a := b.lines[k]
		if a == nil {
			a = &Amounts{}
			b.lines[k] = a
		}
		a.Tokens.add(t)
		a.Cost += cost
		a.Estimated = a.Estimated || r.Unpriced > 0
	}
	billed := pricing.BilledRegion(r.Region, r.RegionServed)
	ut := func(k pricing.Kind) string { return b.namer.UsageTypeOf(billed, r.ModelID, k, v) }
	line(ut(pricing.Input), Tokens{Input: r.InputTokens}, r.InputCost)
	line(ut(pricing.Output), Tokens{Output: r.OutputTokens}, r.OutputCost)
	line(ut(pricing.CacheRead), Tokens{CacheRead: r.CacheReadTokens}, r.CacheReadCost)
	line(ut(pricing.CacheWrite), Tokens{CacheWrite: r.CacheWriteTokens}, r.CacheWriteCost)
	line(ut(pricing.CacheWrite1h), Tokens{CacheWrite1h: r.CacheWrite1hTokens}, r.CacheWrite1hCost)
	line(b.namer.FixedUsageType(billed, r.ModelID), Tokens{}, r.FixedCost)
	if r.Units != 0 || r.UnitCost != 0 {
		line(b.namer.UnitUsageType(billed, r.ModelID, r.UnitKind, v), Tokens{Units: r.Units}, r.UnitCost)
	}
}

// Result returns the statements of what was added: the markup applied to
// each line, lines summed into statements and statements into the total.
func (b *Builder) Result() *Result {
	res := &Result{By: b.by, From: b.from, To: b.to, MarkupRate: b.markup}
	byValue := map[string]*Statement{}
	for k, a := range b.lines {
		st := byValue[k.value]
		if st == nil {
			st = &Statement{Value: k.value, Untagged: b.by.Tag != "" && k.value == ""}
			byValue[k.value] = st
		}
		l := Line{ResourceID: k.resource, Model: k.model, UsageType: k.usageType, Amounts: *a}
		l.Markup = b.markup.Of(l.Cost)
		l.Total = l.Cost + l.Markup
		st.Lines = append(st.Lines, l)
	}
	for _, st := range byValue {
		slices.SortFunc(st.Lines, func(x, y Line) int {
			return cmp.Or(cmp.Compare(x.ResourceID, y.ResourceID), cmp.Compare(x.Model, y.Model), cmp.Compare(x.UsageType, y.UsageType))
		})
		for _, l := range st.Lines {
			st.Amounts.add(l.Amounts)
		}
		res.Statements = append(res.Statements, *st)
	}
	slices.SortFunc(res.Statements, func(x, y Statement) int {
		if x.Untagged != y.Untagged {
			if x.Untagged {
				return 1
			}
			return -1
		}
		return cmp.Compare(x.Value, y.Value)
	})
	for _, st := range res.Statements {
		res.Amounts.add(st.Amounts)
	}
	return res
}

// Query is the GetCostAndUsage request whose answer a Result must match:
// the same range, one MONTHLY period per calendar month, grouped by the
// same tag key or by account.
func (r *Result) Query() costquery.Query {
	return costquery.Query{From: r.From, To: r.To, Granularity: costquery.Monthly, GroupBy: []costquery.GroupBy{r.By.GroupBy()}}
}

// Reconcile checks r against ce, Cost Explorer's answer to r.Query() over
// the same accounts: each statement's cost and tokens must equal its
// group's, summed over the periods, and no group may lack a statement.
// On success it sets r.Reconciled; a mismatch is an Internal error.
func (r *Result) Reconcile(ce costquery.Result) error {
	type sums struct {
		cost  money.Amount
		usage int64
	}
	groups := map[string]sums{}
	var total sums
	for _, p := range ce.Periods {
		for _, g := range p.Groups {
			if len(g.Keys) != 1 {
				return errkind.New(errkind.Internal, "chargeback: reconcile: want one group key, got %q", g.Keys)
			}
			s := groups[g.Keys[0]]
			s.cost += g.Cost
			s.usage += g.Usage
			groups[g.Keys[0]] = s
		}
		total.cost += p.Total.Cost
		total.usage += p.Total.Usage
	}
	var problems []string
	seen := map[string]bool{}
	for _, st := range r.Statements {
		k := r.By.groupKey(st.Value)
		seen[k] = true
		g := groups[k]
		if g.cost != st.Cost || g.usage != st.Tokens.Total() {
			problems = append(problems, fmt.Sprintf("%s: statement %v and %d tokens, Cost Explorer %v and %d", k, st.Cost, st.Tokens.Total(), g.cost, g.usage))
		}
	}
	for k, g := range groups {
		if !seen[k] && (g.cost != 0 || g.usage != 0) {
			problems = append(problems, fmt.Sprintf("%s: no statement, Cost Explorer %v and %d tokens", k, g.cost, g.usage))
		}
	}
	if total.cost != r.Cost || total.usage != r.Tokens.Total() {
		problems = append(problems, fmt.Sprintf("total: statements %v and %d tokens, Cost Explorer %v and %d", r.Cost, r.Tokens.Total(), total.cost, total.usage))
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return errkind.New(errkind.Internal, "chargeback: statements do not reconcile with Cost Explorer: %s", strings.Join(problems, "; "))
	}
	r.Reconciled = &Reconciliation{Cost: total.cost, Usage: total.usage, Groups: len(groups)}
	return nil
}
