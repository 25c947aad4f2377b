// Package reconcile owns reconciliation against AWS's own bill: it reads
// the Amazon Bedrock line items of an AWS Cost and Usage Report (CUR 2.0
// data export, CSV, gzipped CSV or Parquet, one file or a directory of
// them), expands Tollgate's ledger records into the same usage-type lines
// (pricing.UsageTypes, the naming rule of docs/pricing.md), aggregates
// both sides at AWS's grain — UTC day × usage type × resource ARN ×
// cost-allocation tags — and classifies every row that differs: a wrong
// rate, a wrong token count, a line missing on one side, or a tag
// mismatch. Money is exact (money.Amount nano-USD, decimals parsed
// without floating point).
package reconcile

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/pricing"
)

// Class is how a reconciliation row differs.
type Class string

// The classes of a row.
const (
	// Match: the same usage and cost on both sides.
	Match Class = "match"
	// WrongRate: the same usage, a different cost (beyond rounding: see
	// roundingAllowance).
	WrongRate Class = "wrong-rate"
	// WrongTokens: a different usage amount.
	WrongTokens Class = "wrong-tokens"
	// MissingInTollgate: AWS billed a line Tollgate has no record of.
	MissingInTollgate Class = "missing-in-tollgate"
	// MissingInAWS: Tollgate recorded a line AWS did not bill.
	MissingInAWS Class = "missing-in-aws"
	// TagMismatch: the same day, usage type, resource and usage, under
	// different cost-allocation tags.
	TagMismatch Class = "tag-mismatch"
)

// Line is one usage line of either side: a CUR line item, or a cost line
// of a ledger record.
type Line struct {
	// Start is line_item_usage_start_date (a record's time).
	Start time.Time
	// UsageType is line_item_usage_type.
	UsageType string
	// ResourceID is line_item_resource_id: the application inference
	// profile ARN, or the model's when the call named no profile.
	ResourceID string
	// Tags are the cost-allocation tags, keys without CUR 2.0's "user_"
	// prefix.
	Tags map[string]string
	// Unit is pricing_unit ("1K tokens", "1M tokens", "Hrs").
	Unit string
	// Usage is the usage in tokens when Unit is "1K tokens" (CUR's
	// line_item_usage_amount × 1,000) or, for a marketplace usage type,
	// "1M tokens" or "Units" (× 1,000,000); else in thousandths of Unit.
	Usage int64
	// Cost is line_item_unblended_cost.
	Cost money.Amount
}

// Key is the grain both sides are aggregated at.
type Key struct {
	Day        time.Time // UTC midnight
	UsageType  string
	ResourceID string
	Tags       string // canonical "k=v,k=v", keys sorted
}

// partial is a Key without its tags.
type partial struct {
	Day        time.Time
	UsageType  string
	ResourceID string
}

func (k Key) partial() partial { return partial{k.Day, k.UsageType, k.ResourceID} }

// Side is one side's figures for a key.
type Side struct {
	Tags  map[string]string
	Unit  string
	Usage int64
	Cost  money.Amount
	Lines int
}

// Row is one reconciled row. AWS or Tollgate is nil when that side has
// no line for the row.
type Row struct {
	Day        time.Time
	UsageType  string
	ResourceID string
	Class      Class
	AWS        *Side
	Tollgate   *Side
}

// Unit is the row's pricing unit.
func (r Row) Unit() string {
	if r.AWS != nil && r.AWS.Unit != "" {
		return r.AWS.Unit
	}
	if r.Tollgate != nil {
		return r.Tollgate.Unit
	}
	return ""
}

// Usage returns AWS's and Tollgate's usage (0 for a missing side).
func (r Row) Usage() (aws, tollgate int64) {
	if r.AWS != nil {
		aws = r.AWS.Usage
	}
	if r.Tollgate != nil {
		tollgate = r.Tollgate.Usage
	}
	return aws, tollgate
}

// Cost returns AWS's and Tollgate's cost (0 for a missing side).
func (r Row) Cost() (aws, tollgate money.Amount) {
	if r.AWS != nil {
		aws = r.AWS.Cost
	}
	if r.Tollgate != nil {
		tollgate = r.Tollgate.Cost
	}
	return aws, tollgate
}

// CostDiff is AWS's cost minus Tollgate's.
func (r Row) CostDiff() money.Amount {
	a, t := r.Cost()
	return a - t
}

// UsageDiff is AWS's usage minus Tollgate's.
func (r Row) UsageDiff() int64 {
	a, t := r.Usage()
	return a - t
}

// Exposure is how far the row puts a tenant's figures off, which the
// tolerance is compared with: the absolute cost difference, or for a tag
// mismatch the larger of the two costs (the whole line is allocated to
// the wrong tags, though the total agrees).
func (r Row) Exposure() money.Amount {
	if r.Class == TagMismatch {
		a, t := r.Cost()
		return max(abs(a), abs(t))
	}
	return abs(r.CostDiff())
}

func abs(a money.Amount) money.Amount {
	if a < 0 {
		return -a
	}
	return a
}

// Report is a reconciliation: every row, matching or not, sorted by day,
// resource, usage type and tags, and the totals of each side.
type Report struct {
	Rows                    []Row
	AWSCost, TollgateCost   money.Amount
	AWSLines, TollgateLines int
}

// Mismatches returns the rows whose class is not Match.
func (r *Report) Mismatches() []Row {
	var out []Row
	for _, row := range r.Rows {
		if row.Class != Match {
			out = append(out, row)
		}
	}
	return out
}

// Counts returns the number of rows of each class.
func (r *Report) Counts() map[Class]int {
	c := map[Class]int{}
	for _, row := range r.Rows {
		c[row.Class]++
	}
	return c
}

// Tolerance decides whether a reconciliation passes: no row's Exposure
// above Row, and (when Total is set) the absolute difference of the
// totals not above *Total.
type Tolerance struct {
	Row   money.Amount
	Total *money.Amount
}

// Exceeding returns the rows whose exposure exceeds t.Row, and whether
// the totals' difference exceeds t.Total.
func (r *Report) Exceeding(t Tolerance) (rows []Row, total bool) {
	for _, row := range r.Rows {
		if row.Class != Match && row.Exposure() > t.Row {
			rows = append(rows, row)
		}
	}
	if t.Total != nil {
		total = abs(r.AWSCost-r.TollgateCost) > *t.Total
	}
	return rows, total
}

// TollgateLines expands records into cost lines, one per usage type
// (pricing.UsageTypes), keeping only the tag keys in keep (all of a
// record's tags when keep is nil): AWS's export carries only the tags
// activated for cost allocation, so the comparison is on those.
func TollgateLines(recs []ledger.Record, keep map[string]bool) []Line {
	var out []Line
	for i := range recs {
		r := &recs[i]
		res := r.ProfileARN
		if res == "" {
			res = r.ModelID
		}
		var tg map[string]string
		for k, v := range r.Tags {
			if keep == nil || keep[k] {
				if tg == nil {
					tg = map[string]string{}
				}
				tg[k] = v
			}
		}
		for _, l := range pricing.UsageTypes(r) {
			usage := l.Tokens
			if l.Fixed {
				usage = l.Tokens * 1000 // hours, in thousandths
			}
			out = append(out, Line{Start: r.Time, UsageType: l.UsageType, ResourceID: res, Tags: tg, Unit: l.PricingUnit,
				Usage: usage, Cost: l.Cost})
		}
	}
	return out
}

// TagsKey is the canonical form of a tag set: "k=v,k=v", keys sorted.
func TagsKey(m map[string]string) string {
	keys := slices.Sorted(maps.Keys(m))
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + m[k])
	}
	return b.String()
}

// Sum is one side aggregated at AWS's grain. Lines are added one at a
// time, so a long period of records need not be held at once.
type Sum struct {
	m     map[Key]*Side
	Lines int
	Cost  money.Amount
}

// NewSum returns an empty Sum.
func NewSum() *Sum { return &Sum{m: map[Key]*Side{}} }

// Add adds l to its row.
func (s *Sum) Add(l Line) {
	k := Key{Day: l.Start.UTC().Truncate(24 * time.Hour), UsageType: l.UsageType, ResourceID: l.ResourceID, Tags: TagsKey(l.Tags)}
	sd := s.m[k]
	if sd == nil {
		sd = &Side{Tags: l.Tags, Unit: l.Unit}
		s.m[k] = sd
	}
	sd.Usage += l.Usage
	sd.Cost += l.Cost
	sd.Lines++
	s.Lines++
	s.Cost += l.Cost
}

// AddAll adds every line of ls.
func (s *Sum) AddAll(ls []Line) {
	for _, l := range ls {
		s.Add(l)
	}
}

// Reconcile reconciles two sides' lines; see ReconcileSums.
func Reconcile(aws, tollgate []Line) *Report {
	a, t := NewSum(), NewSum()
	a.AddAll(aws)
	t.AddAll(tollgate)
	return ReconcileSums(a, t)
}

// ReconcileSums compares both sides at AWS's grain and classifies each row:
// a key on both sides is a Match, WrongTokens (usage differs) or
// WrongRate (usage agrees, cost differs). Keys on one side only are then
// paired with a key of the other side's leftovers of the same day, usage
// type and resource and the same usage: such a pair is a TagMismatch.
// What is left is MissingInTollgate or MissingInAWS.
func ReconcileSums(as, ts *Sum) *Report {
	a, t := as.m, ts.m
	rep := &Report{AWSLines: as.Lines, TollgateLines: ts.Lines, AWSCost: as.Cost, TollgateCost: ts.Cost}
	rowOf := func(k Key) Row { return Row{Day: k.Day, UsageType: k.UsageType, ResourceID: k.ResourceID} }
	onlyT := map[partial][]Key{}
	for _, k := range sortedKeys(t) {
		if _, ok := a[k]; !ok {
			onlyT[k.partial()] = append(onlyT[k.partial()], k)
		}
	}
	for _, k := range sortedKeys(a) {
		as := a[k]
		row := rowOf(k)
		row.AWS = as
		if ts, ok := t[k]; ok {
			row.Tollgate = ts
			switch {
			case as.Usage != ts.Usage:
				row.Class = WrongTokens
			case abs(as.Cost-ts.Cost) > roundingAllowance(as, ts):
				row.Class = WrongRate
			default:
				row.Class = Match
			}
			rep.Rows = append(rep.Rows, row)
			continue
		}
		row.Class = MissingInTollgate
		cands := onlyT[k.partial()]
		for i, tk := range cands {
			if t[tk].Usage == as.Usage {
				row.Tollgate = t[tk]
				row.Class = TagMismatch
				onlyT[k.partial()] = slices.Delete(cands, i, i+1)
				break
			}
		}
		rep.Rows = append(rep.Rows, row)
	}
	for _, ks := range onlyT {
		for _, k := range ks {
			row := rowOf(k)
			row.Tollgate = t[k]
			row.Class = MissingInAWS
			rep.Rows = append(rep.Rows, row)
		}
	}
	slices.SortFunc(rep.Rows, func(x, y Row) int {
		return cmp.Or(x.Day.Compare(y.Day), cmp.Compare(x.ResourceID, y.ResourceID), cmp.Compare(x.UsageType, y.UsageType),
			cmp.Compare(rowTags(x), rowTags(y)))
	})
	return rep
}

// roundingAllowance is the cost difference two sides of the same usage
// can show from rounding alone: AWS rounds each line item to the
// nano-dollar, Tollgate each call, each by at most half a nano-dollar, so
// a difference of up to half a nano-dollar per line on either side is a
// Match (its difference is still reported).
func roundingAllowance(a, t *Side) money.Amount {
	return money.Amount((a.Lines + t.Lines + 1) / 2)
}

func rowTags(r Row) string {
	if r.AWS != nil {
		return TagsKey(r.AWS.Tags)
	}
	return TagsKey(r.Tollgate.Tags)
}

func sortedKeys(m map[Key]*Side) []Key {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(x, y Key) int {
		return cmp.Or(x.Day.Compare(y.Day), cmp.Compare(x.ResourceID, y.ResourceID), cmp.Compare(x.UsageType, y.UsageType),
			cmp.Compare(x.Tags, y.Tags))
	})
	return keys
}
