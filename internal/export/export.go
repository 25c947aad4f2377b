// Package export writes Tollgate's usage as CUR 2.0-style line items, the
// rows of an AWS Data Exports Cost and Usage Report: one line item per
// token class of each (period, account, resource, usage type, operation,
// region, model, tag set), summed exactly from the ledger's hourly rollups
// and written as CSV or Parquet. An export streams: it holds one period's
// line items in memory, whatever the length of the range.
//
// Line items match Cost Explorer's (package costquery) item for item: the
// same usage types, resource ids, regions and operations, the same exact
// nano-dollar costs, and the same rule that a class with neither tokens
// nor cost is no line item. Their sums over any selection therefore equal
// GetCostAndUsage's, and equal summing the raw records.
package export

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/tollgate-dev/tollgate/internal/arn"
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/pricing"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// Fixed values of every line item.
const (
	// LineItemType is line_item_line_item_type: all of Tollgate's usage is
	// on-demand usage.
	LineItemType = "Usage"
	// ProductCode is line_item_product_code of usage Amazon Bedrock bills
	// itself; a marketplace model's line items carry its own
	// (LineItem.ProductCode).
	ProductCode = costquery.ServiceCode
	// PricingUnit is pricing_unit: the unit of line_item_usage_amount and
	// of line_item_unblended_rate, for usage Amazon Bedrock bills itself.
	PricingUnit = "1K tokens"
	// MarketplacePricingUnit is the pricing_unit of a marketplace usage
	// type, which the Price List prices per million tokens.
	MarketplacePricingUnit = pricing.MarketplacePricingUnit
	// ProductNameKey is the key of the product name in the product column
	// (CUR 2.0's product map: product['product_name']).
	ProductNameKey = "product_name"
)

// LineItem is one line of an export.
type LineItem struct {
	// Start and End bound the period, [Start, End):
	// line_item_usage_start_date and line_item_usage_end_date.
	Start, End time.Time
	// Account is line_item_usage_account_id: the account that made the
	// calls.
	Account string
	// ResourceID is line_item_resource_id: the inference profile ARN, or
	// the foundation-model ARN of direct calls.
	ResourceID string
	// UsageType is line_item_usage_type, e.g.
	// "USE1-NovaPro-input-tokens" or, for a model AWS Marketplace bills,
	// "USE1-MP:USE1_InputTokenCount-Units".
	UsageType string
	// ProductCode is line_item_product_code: "AmazonBedrock", or a
	// marketplace model's product code (pricing.Namer.ProductCode).
	ProductCode string
	// Product is the product name, product['product_name']: "Amazon
	// Bedrock" or the Marketplace product, e.g. "Claude Sonnet 4.5
	// (Amazon Bedrock Edition)" (Cost Explorer's SERVICE).
	Product string
	// PerMillion marks a marketplace usage type: its pricing unit is
	// "1M tokens", so line_item_usage_amount is Tokens/1,000,000 and the
	// rate is per million tokens.
	PerMillion bool
	// Operation is line_item_operation: Converse, ConverseStream,
	// InvokeModel or InvokeModelWithResponseStream.
	Operation string
	// Class is the token class the usage type names.
	Class costquery.Class
	// Fixed marks a fixed-cost line item (hours of a reserved-capacity
	// commitment) instead of a token class; its pricing unit is "Hrs".
	Fixed bool
	// UnitKind, when set, marks a per-unit line item (images of one
	// per-image price, catalog.UnitPrice.Kind) instead of a token class;
	// its pricing unit is "Image".
	UnitKind string
	// ServiceTier is the Bedrock service tier that served the usage
	// ("default" when none was named).
	ServiceTier string
	// Tokens is the usage; line_item_usage_amount is Tokens/1000 in the
	// pricing unit 1K tokens, Tokens/1,000,000 in 1M tokens (PerMillion),
	// written exactly. A fixed-cost line counts 1000 per hour, so its
	// amount is in hours; a per-unit line 1000 per image, so its amount is
	// in images (and its Rate is USD per image).
	Tokens int64
	// Rate is the catalogue price of the class in force over the period,
	// USD per 1K tokens; line_item_unblended_rate is it in the pricing
	// unit (× 1,000 per million tokens). Valid when Rated.
	Rate money.PerThousand
	// Rated is false when the catalogue has no price for the class then
	// (the rate is written empty, or null in Parquet).
	Rated bool
	// Cost is line_item_unblended_cost: the exact sum of the calls' costs
	// of this class, each rounded half up to the nano-dollar when the call
	// was priced, so it may differ from Rate × usage amount by up to half
	// a nano-dollar per call. Unpriced calls add nothing.
	Cost money.Amount
	// Region is product_region: the region that served the calls
	// (costquery.NoRegion if none did).
	Region string
	// Model is the foundation-model id.
	Model string
	// Tags are the profile's tags at call time; written to resource_tags
	// with keys "user_<key>". Shared between line items: do not modify.
	Tags tags.Set

	tagsKey string // the canonical form of Tags, when known: a cache key for writers
}

// Unit returns pricing_unit: "1K tokens", "1M tokens" for a marketplace
// usage type, "Hrs" for a fixed-cost line, "Image" for a per-unit line.
func (li *LineItem) Unit() string {
	switch {
	case li.Fixed:
		return FixedPricingUnit
	case li.PerMillion:
		return MarketplacePricingUnit
	}
	if li.UnitKind != "" {
		return pricing.UnitPricingUnit
	}
	return PricingUnit
}

// amountMicros is line_item_usage_amount in millionths of the pricing
// unit: exact, since a unit is 1,000 or 1,000,000 tokens (or hours counted
// 1,000 each).
func (li *LineItem) amountMicros() int64 {
	if li.PerMillion {
		return li.Tokens
	}
	return li.Tokens * 1000
}

// unitRate is line_item_unblended_rate in nano-USD per pricing unit.
func (li *LineItem) unitRate() int64 {
	if li.PerMillion {
		return int64(li.Rate) * 1000
	}
	return int64(li.Rate)
}

// FixedPricingUnit is the pricing_unit of a fixed-cost line item.
const FixedPricingUnit = "Hrs"

// Writer writes line items in one file format. Not safe for concurrent
// use.
type Writer interface {
	// Write appends li; li is not retained.
	Write(li *LineItem) error
	// Close writes whatever is buffered (and, for Parquet, the footer). It
	// does not close the underlying io.Writer.
	Close() error
}

// Source streams the hourly rollups an export reads.
type Source interface {
	// StreamRollups calls fn with each rollup whose Hour lies in
	// [from, to) of the given accounts (nil: every account; an empty
	// non-nil slice: none), ordered by Hour, in memory bounded however
	// long the range (a few rollups at a time, never all of them), read
	// from one consistent snapshot of the ledger: appends committed
	// during the stream are not seen. tagSetID identifies r.Tags:
	// rollups carry equal tag sets exactly when their ids are equal. r
	// may be reused once fn returns; r.Tags may be shared and must not
	// be modified. An error from fn stops the stream and is returned;
	// others are errkind Internal. Safe for concurrent use.
	StreamRollups(ctx context.Context, accounts []string, from, to time.Time, fn func(r *ledger.Rollup, tagSetID int64) error) error
}

// Options say what to export.
type Options struct {
	// From and To bound the usage, [From, To); both whole UTC hours.
	From, To time.Time
	// Granularity is the length of the line items' periods: Hourly,
	// Daily or Monthly (UTC; the first and last may be partial).
	Granularity costquery.Granularity
	// Accounts limits the export to these accounts; nil exports all.
	Accounts []string
	// Namer names the usage types (nil: model ids only).
	Namer *costquery.Namer
	// Catalog gives the rates (nil: every line item unrated).
	Catalog *catalog.Catalog
	// Progress, when set, is called as the export moves on to each hour
	// holding usage, and once at the end with To.
	Progress func(Progress)
}

// Progress reports how far an export has gone.
type Progress struct {
	// Hour is the hour being read; the export has covered [From, Hour).
	Hour time.Time
	// Rollups read and line items written so far.
	Rollups, Rows int64
}

// Stats sums an export.
type Stats struct {
	Rollups int64        // hourly rollups read
	Rows    int64        // line items written
	Tokens  int64        // sum of the line items' tokens
	Cost    money.Amount // sum of the line items' costs
}

// Validate checks o; problems are Invalid errors.
func (o Options) Validate() error {
	if o.From.IsZero() || o.To.IsZero() || !o.From.Before(o.To) {
		return errkind.New(errkind.Invalid, "the export needs a range with its start before its end")
	}
	if !o.From.Equal(o.From.Truncate(time.Hour)) || !o.To.Equal(o.To.Truncate(time.Hour)) {
		return errkind.New(errkind.Invalid, "the export range must start and end on whole hours")
	}
	switch o.Granularity {
	case costquery.Hourly, costquery.Daily, costquery.Monthly:
	default:
		return errkind.New(errkind.Invalid, "granularity must be HOURLY, DAILY or MONTHLY, not %q", string(o.Granularity))
	}
	return nil
}

// Run reads the rollups of o's range from src and writes their line items
// to w, period by period, each period's items sorted by account, resource,
// usage type, operation, region, model and tags. It does not close w.
func Run(ctx context.Context, src Source, o Options, w Writer) (Stats, error) {
	if err := o.Validate(); err != nil {
		return Stats{}, err
	}
	if o.Namer == nil {
		o.Namer = costquery.NewNamer(nil)
	}
	x := &exporter{
		o: o, w: w, periods: costquery.Periods(o.From.UTC(), o.To.UTC(), o.Granularity),
		groups: map[groupKey]*group{}, names: map[namesKey]*modelNames{}, priceIDs: map[priceKey]int{},
		canon: map[int64]string{},
	}
	lastHour := time.Time{}
	err := src.StreamRollups(ctx, o.Accounts, o.From, o.To, func(r *ledger.Rollup, tagSetID int64) error {
		if r.Hour.Before(o.From) || !r.Hour.Before(o.To) {
			return nil // outside the range: a Source may round it out
		}
		if !r.Hour.Equal(lastHour) {
			if r.Hour.Before(lastHour) {
				return errkind.New(errkind.Internal, "export: rollups out of hour order")
			}
			lastHour = r.Hour
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := x.advance(r.Hour); err != nil {
				return err
			}
			if o.Progress != nil {
				o.Progress(Progress{Hour: r.Hour, Rollups: x.stats.Rollups, Rows: x.stats.Rows})
			}
		}
		x.add(r, tagSetID)
		return nil
	})
	if err != nil {
		return x.stats, err
	}
	if err := x.flush(); err != nil {
		return x.stats, err
	}
	if o.Progress != nil {
		o.Progress(Progress{Hour: o.To, Rollups: x.stats.Rollups, Rows: x.stats.Rows})
	}
	return x.stats, nil
}

// groupKey is what sums rollups into the line items of one period: the
// rollup dimensions every line-item column derives from (the usage type
// from region, model and class; the resource from profile, region and
// model), the tag set, and the price in force (which changes only at
// midnight, so only monthly periods can hold two).
type groupKey struct {
	account, profile, region, source, model, operation string
	tagSet                                             int64
	v                                                  pricing.Variant
	price                                              int // index in exporter.priceList; -1: none
}

// group sums one key's rollups, per token class, and its fixed cost.
type group struct {
	tokens     [numClasses]int64
	cost       [numClasses]money.Amount
	fixedHours int64
	fixedCost  money.Amount
	units      map[string]*unitSum // by unit kind
	tags       tags.Set
}

// unitSum is the per-unit items of one kind of a group.
type unitSum struct {
	units int64
	cost  money.Amount
}

const numClasses = int(pricing.NumKinds)

// namesKey is what a line item's names depend on.
type namesKey struct {
	region, source, model string
	v                     pricing.Variant
}

// modelNames are the names of one (region, model, variant).
type modelNames struct {
	usageTypes [numClasses]string
	fixedType  string
	modelARN   string
	code       string // line_item_product_code
	product    string // product name
	perMillion bool   // marketplace usage types
}

// priceKey is what selects a rollup's price: prices change at midnight.
type priceKey struct {
	model, region string
	v             pricing.Variant
	day           int64
}

type exporter struct {
	o         Options
	w         Writer
	periods   []costquery.Period
	pi        int // the period being summed
	groups    map[groupKey]*group
	names     map[namesKey]*modelNames
	priceIDs  map[priceKey]int // -1: no price
	priceList []catalog.Price
	canon     map[int64]string // tag set id -> canonical form
	stats     Stats
	batch     []*LineItem
}

// advance moves to the period holding hour, writing the periods before.
func (x *exporter) advance(hour time.Time) error {
	for x.pi < len(x.periods) && !hour.Before(x.periods[x.pi].End) {
		if err := x.flush(); err != nil {
			return err
		}
		x.pi++
	}
	return nil
}

// priceIndex returns the index in x.priceList of the price of r's
// model, source region and price dimensions in force at r's hour, or -1.
// The rate column is informational: costs come from the ledger.
func (x *exporter) priceIndex(r *ledger.Rollup, v pricing.Variant) int {
	if x.o.Catalog == nil {
		return -1
	}
	region := pricing.BilledRegion(r.Region, r.RegionServed)
	k := priceKey{r.ModelID, region, v, r.Hour.Unix() / 86400}
	if i, ok := x.priceIDs[k]; ok {
		return i
	}
	i := -1
	if m, ok := x.o.Catalog.Model(r.ModelID); ok && v.Tier != catalog.TierReserved {
		d := catalog.Dims{Scope: v.Scope, Tier: v.Tier, Region: region}
		if v.LatencyOptimized {
			d.Latency = catalog.LatencyOptimized
		}
		if p, ok := m.PriceFor(d, r.Hour); ok {
			i = len(x.priceList)
			x.priceList = append(x.priceList, p)
		}
	}
	x.priceIDs[k] = i
	return i
}

func (x *exporter) add(r *ledger.Rollup, tagSetID int64) {
	x.stats.Rollups++
	v := pricing.RollupVariant(r)
	k := groupKey{account: r.Account, profile: r.ProfileARN, region: r.RegionServed, source: r.Region, model: r.ModelID,
		operation: r.Operation, tagSet: tagSetID, v: v, price: x.priceIndex(r, v)}
	g := x.groups[k]
	if g == nil {
		g = &group{tags: r.Tags}
		x.groups[k] = g
	}
	g.tokens[costquery.Input] += r.InputTokens
	g.tokens[costquery.Output] += r.OutputTokens
	g.tokens[costquery.CacheRead] += r.CacheReadTokens
	g.tokens[costquery.CacheWrite] += r.CacheWriteTokens
	g.tokens[costquery.CacheWrite1h] += r.CacheWrite1hTokens
	g.cost[costquery.Input] += r.InputCost
	g.cost[costquery.Output] += r.OutputCost
	g.cost[costquery.CacheRead] += r.CacheReadCost
	g.cost[costquery.CacheWrite] += r.CacheWriteCost
	g.cost[costquery.CacheWrite1h] += r.CacheWrite1hCost
	if r.FixedCost != 0 {
		g.fixedHours++
		g.fixedCost += r.FixedCost
	}
	if r.Units != 0 || r.UnitCost != 0 {
		if g.units == nil {
			g.units = map[string]*unitSum{}
		}
		u := g.units[r.UnitKind]
		if u == nil {
			u = &unitSum{}
			g.units[r.UnitKind] = u
		}
		u.units += r.Units
		u.cost += r.UnitCost
	}
}

func (x *exporter) modelNames(region, source, model string, v pricing.Variant) *modelNames {
	k := namesKey{region, source, model, v}
	if m, ok := x.names[k]; ok {
		return m
	}
	billed := pricing.BilledRegion(source, region)
	m := &modelNames{modelARN: arn.FoundationModel(region, model), fixedType: x.o.Namer.FixedUsageType(billed, model),
		code: x.o.Namer.ProductCode(model), product: x.o.Namer.Service(model),
		perMillion: x.o.Namer.PricingUnit(model, v) == pricing.MarketplacePricingUnit}
	for c := range numClasses {
		m.usageTypes[c] = x.o.Namer.UsageTypeOf(billed, model, costquery.Class(c), v)
	}
	x.names[k] = m
	return m
}

// rateOf returns the price of class c in price p, at its long-context
// rates when long.
func rateOf(p catalog.Price, c costquery.Class, long bool) (money.PerThousand, bool) {
	u := pricing.Usage{}
	if long && p.LongContext != nil {
		u.Input = p.LongContext.Above + 1
	}
	switch c {
	case costquery.CacheRead:
		u.CacheRead = 1
	case costquery.CacheWrite:
		u.CacheWrite = 1
	case costquery.CacheWrite1h:
		u.CacheWrite1h = 1
	}
	rates, _, ok := pricing.Rates(p, u)
	return rates[c], ok
}

// flush writes the line items of the current period and starts the next.
func (x *exporter) flush() error {
	if len(x.groups) == 0 {
		return nil
	}
	p := x.periods[x.pi]
	items := x.batch[:0]
	for k, g := range x.groups {
		names := x.modelNames(k.region, k.source, k.model, k.v)
		tier := k.v.Tier
		if tier == "" {
			tier = catalog.TierDefault
		}
		resource := k.profile
		if resource == "" {
			resource = names.modelARN
		}
		region := k.region
		if region == "" {
			region = costquery.NoRegion
		}
		tk, ok := x.canon[k.tagSet]
		if !ok {
			tk = g.tags.Canonical()
			x.canon[k.tagSet] = tk
		}
		for c := range numClasses {
			if g.tokens[c] == 0 && g.cost[c] == 0 {
				continue // as in Cost Explorer: a failed call bills nothing
			}
			li := &LineItem{Start: p.Start, End: p.End, Account: k.account, ResourceID: resource,
				UsageType: names.usageTypes[c], ProductCode: names.code, Product: names.product, PerMillion: names.perMillion,
				Operation: k.operation, Class: costquery.Class(c), ServiceTier: tier,
				Tokens: g.tokens[c], Cost: g.cost[c], Region: region, Model: k.model, Tags: g.tags, tagsKey: tk}
			if k.price >= 0 {
				li.Rate, li.Rated = rateOf(x.priceList[k.price], costquery.Class(c), k.v.LongContext)
			}
			items = append(items, li)
		}
		if g.fixedCost != 0 {
			items = append(items, &LineItem{Start: p.Start, End: p.End, Account: k.account, ResourceID: resource,
				UsageType: names.fixedType, ProductCode: names.code, Product: names.product, Operation: k.operation, Fixed: true, ServiceTier: tier,
				Tokens: g.fixedHours * 1000, Cost: g.fixedCost, Region: region, Model: k.model, Tags: g.tags, tagsKey: tk})
		}
		for kind, u := range g.units {
			li := &LineItem{Start: p.Start, End: p.End, Account: k.account, ResourceID: resource,
				UsageType: x.o.Namer.UnitUsageType(pricing.BilledRegion(k.source, k.region), k.model, kind, k.v), Operation: k.operation,
				UnitKind: kind, ServiceTier: tier, Tokens: u.units * 1000, Cost: u.cost, Region: region, Model: k.model, Tags: g.tags, tagsKey: tk}
			if k.price >= 0 {
				unit, quality, pixels := catalog.ParseUnitKind(kind)
				if up, ok := x.priceList[k.price].UnitFor(unit, quality, pixels); ok && up.Kind() == kind {
					li.Rate, li.Rated = money.PerThousand(up.Price), true
				}
			}
			items = append(items, li)
		}
	}
	clear(x.groups)
	slices.SortFunc(items, compareItems)
	// Distinct groups give distinct line items; should two ever name the
	// same one, merge them so that no line item repeats.
	out := items[:0]
	for _, li := range items {
		if n := len(out); n > 0 && compareItems(out[n-1], li) == 0 {
			out[n-1].Tokens += li.Tokens
			out[n-1].Cost += li.Cost
			continue
		}
		out = append(out, li)
	}
	for _, li := range out {
		if err := x.w.Write(li); err != nil {
			return err
		}
		x.stats.Rows++
		x.stats.Tokens += li.Tokens
		x.stats.Cost += li.Cost
	}
	clear(items)
	x.batch = items[:0]
	return nil
}

func compareItems(a, b *LineItem) int {
	return cmp.Or(
		cmp.Compare(a.Account, b.Account),
		cmp.Compare(a.ResourceID, b.ResourceID),
		cmp.Compare(a.UsageType, b.UsageType),
		cmp.Compare(a.Operation, b.Operation),
		cmp.Compare(a.Region, b.Region),
		cmp.Compare(a.Model, b.Model),
		cmp.Compare(a.tagsKey, b.tagsKey),
		cmp.Compare(a.Class, b.Class),
		boolCompare(a.Fixed, b.Fixed),
		cmp.Compare(a.UnitKind, b.UnitKind),
		boolCompare(a.Rated, b.Rated),
		cmp.Compare(a.Rate, b.Rate),
	)
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// SliceSource is a Source over rollups held in memory, ordered by Hour (as
// costquery.RollupRecords returns them); for tests and small exports.
type SliceSource []ledger.Rollup

// StreamRollups implements Source.
func (s SliceSource) StreamRollups(ctx context.Context, accounts []string, from, to time.Time, fn func(r *ledger.Rollup, tagSetID int64) error) error {
	var keep map[string]bool
	if accounts != nil {
		keep = make(map[string]bool, len(accounts))
		for _, a := range accounts {
			keep[a] = true
		}
	}
	ids := map[string]int64{}
	for i := range s {
		r := s[i]
		if r.Hour.Before(from) || !r.Hour.Before(to) || keep != nil && !keep[r.Account] {
			continue
		}
		c := r.Tags.Canonical()
		id, ok := ids[c]
		if !ok {
			id = int64(len(ids))
			ids[c] = id
		}
		if err := fn(&r, id); err != nil {
			return err
		}
	}
	return ctx.Err()
}
