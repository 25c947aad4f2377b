package pricing

import (
	"strings"
	"sync"
	"unicode"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
)

// kindSuffix are the usage-type suffixes AWS uses for each kind
// (aws-cost-stack.md §4.2: "*-input-tokens", "*-output-tokens",
// "*-cache-read-input-token-count", "*-cache-write-input-token-count",
// and "*-cache-write-input-token-count-1-hour" for the 1-hour TTL).
var kindSuffix = [NumKinds]string{
	Input:        "-input-tokens",
	Output:       "-output-tokens",
	CacheRead:    "-cache-read-input-token-count",
	CacheWrite:   "-cache-write-input-token-count",
	CacheWrite1h: "-cache-write-input-token-count-1-hour",
}

// Suffix returns the usage-type suffix of k, such as "-input-tokens".
func (k Kind) Suffix() string { return kindSuffix[k] }

// PricingUnit is the Price List unit of every token usage type.
const PricingUnit = "1K tokens"

// regionCodes are the billing codes AWS prefixes usage types with. Note
// eu-west-1, whose code is "EU", not "EUW1".
var regionCodes = map[string]string{
	"us-east-1":      "USE1",
	"us-east-2":      "USE2",
	"us-west-1":      "USW1",
	"us-west-2":      "USW2",
	"ca-central-1":   "CAN1",
	"sa-east-1":      "SAE1",
	"eu-west-1":      "EU",
	"eu-west-2":      "EUW2",
	"eu-west-3":      "EUW3",
	"eu-central-1":   "EUC1",
	"eu-central-2":   "EUC2",
	"eu-north-1":     "EUN1",
	"eu-south-1":     "EUS1",
	"eu-south-2":     "EUS2",
	"ap-northeast-1": "APN1",
	"ap-northeast-2": "APN2",
	"ap-northeast-3": "APN3",
	"ap-southeast-1": "APS1",
	"ap-southeast-2": "APS2",
	"ap-south-1":     "APS3",
	"ap-east-1":      "APE1",
	"me-south-1":     "MES1",
	"me-central-1":   "MEC1",
	"af-south-1":     "AFS1",
	"il-central-1":   "ILC1",
	"us-gov-west-1":  "UGW1",
	"us-gov-east-1":  "UGE1",
}

// RegionCode returns the billing code AWS prefixes usage types with for
// region ("USE1" for us-east-1). A region without a known code is its
// name in upper case.
func RegionCode(region string) string {
	if c, ok := regionCodes[region]; ok {
		return c
	}
	return strings.ToUpper(region)
}

// ShortModelName derives the model name AWS usage types carry from a
// catalogue display name: the words joined without spaces ("Claude 3
// Haiku" -> "Claude3Haiku", "Nova Lite" -> "NovaLite"), a hyphen kept
// between two numbers ("Llama 3.1 8B Instruct" -> "Llama3.1-8BInstruct"),
// parentheses dropped; Claude 4 and later put the version before the
// family as AWS does ("Claude Sonnet 4.5" -> "Claude4.5Sonnet").
func ShortModelName(display string) string {
	display = strings.NewReplacer("(", " ", ")", " ").Replace(display)
	f := strings.Fields(display)
	if len(f) == 3 && f[0] == "Claude" && (f[1] == "Sonnet" || f[1] == "Opus" || f[1] == "Haiku") && startsDigit(f[2]) {
		return "Claude" + f[2] + f[1]
	}
	var b strings.Builder
	prev := ""
	for _, w := range f {
		if w == "-" {
			b.WriteByte('-')
			prev = ""
			continue
		}
		if endsDigit(prev) && startsDigit(w) {
			b.WriteByte('-')
		}
		b.WriteString(w)
		prev = w
	}
	return b.String()
}

func startsDigit(s string) bool { return s != "" && unicode.IsDigit(rune(s[0])) }
func endsDigit(s string) bool   { return s != "" && unicode.IsDigit(rune(s[len(s)-1])) }

// Service names and codes: Cost Explorer's SERVICE and SERVICE_CODE and
// CUR's line_item_product_code.
const (
	// ServiceName is the SERVICE of usage Amazon Bedrock bills itself.
	ServiceName = "Amazon Bedrock"
	// ServiceCode is its Price List service code and product code.
	ServiceCode = "AmazonBedrock"
	// MarketplaceServiceCode is the Price List service code of the
	// marketplace usage types, written as the product code of a
	// marketplace model whose Marketplace product code the catalogue does
	// not know.
	MarketplaceServiceCode = "AmazonBedrockFoundationModels"
)

// MarketplacePricingUnit is the pricing unit of a marketplace usage type:
// the Price List prices them per million tokens (their rows' unit is
// "1M tokens", their usage types end "-Units").
const MarketplacePricingUnit = "1M tokens"

// Namer names line items the AWS way. It is immutable and safe for
// concurrent use.
type Namer struct {
	models map[string]modelNames // by model id
}

// modelNames is what a Namer knows of one model.
type modelNames struct {
	short   string // usage-type model name
	display string // display name
	images  bool   // an image model: its calls bill per-unit lines
	mp      *catalog.Marketplace
}

// NewNamer returns a Namer knowing the models of c (which may be nil: every
// model is then named by its id).
func NewNamer(c *catalog.Catalog) *Namer {
	n := &Namer{models: map[string]modelNames{}}
	if c != nil {
		for _, m := range c.Models() {
			short := m.UsageTypeName
			if short == "" {
				short = ShortModelName(m.Name)
			}
			n.models[m.ID] = modelNames{short: short, display: m.Name, images: m.GeneratesImages(), mp: m.Marketplace}
		}
	}
	return n
}

// ModelName returns the usage-type model name of modelID: the catalogue's
// usageTypeName where AWS spells it differently from the display name,
// else the name derived from the display name (ShortModelName); a model
// the catalogue does not know keeps its id, as AWS does for newer models
// ("USE1-mistral.voxtral-small-24b-2507-mantle-input-tokens-standard").
// Marketplace usage types carry no model name; it still names the lines
// Tollgate bills under its own names (reserved capacity).
func (n *Namer) ModelName(modelID string) string {
	if m, ok := n.models[modelID]; ok {
		return m.short
	}
	return modelID
}

// BillsUnits reports whether modelID's calls bill per-unit lines (an
// image model's images), whose usage types name a unit kind known only
// from the call.
func (n *Namer) BillsUnits(modelID string) bool { return n.models[modelID].images }

// DisplayName returns the catalogue display name of modelID, or "" when
// the catalogue does not know it.
func (n *Namer) DisplayName(modelID string) string { return n.models[modelID].display }

// Marketplace returns how AWS Marketplace bills modelID, and false for a
// model Amazon Bedrock bills itself (or the catalogue does not know).
func (n *Namer) Marketplace(modelID string) (catalog.Marketplace, bool) {
	if mp := n.models[modelID].mp; mp != nil {
		return *mp, true
	}
	return catalog.Marketplace{}, false
}

// Service returns the SERVICE modelID's usage is billed under: its
// Marketplace product ("Claude Sonnet 4.5 (Amazon Bedrock Edition)"), or
// "Amazon Bedrock".
func (n *Namer) Service(modelID string) string {
	if mp := n.models[modelID].mp; mp != nil {
		return mp.Product
	}
	return ServiceName
}

// ProductCode returns line_item_product_code (and Cost Explorer's
// SERVICE_CODE) of modelID's usage: "AmazonBedrock", or for a marketplace
// model its Marketplace product code, "AmazonBedrockFoundationModels"
// when the catalogue does not know it.
func (n *Namer) ProductCode(modelID string) string {
	mp := n.models[modelID].mp
	switch {
	case mp == nil:
		return ServiceCode
	case mp.ProductCode != "":
		return mp.ProductCode
	}
	return MarketplaceServiceCode
}

// marketplaceLine reports whether usage of modelID under v is billed under
// a marketplace usage type: everything of a marketplace model but the
// reserved tier, whose lines keep Tollgate's own names.
func (n *Namer) marketplaceLine(modelID string, v Variant) (*catalog.Marketplace, bool) {
	mp := n.models[modelID].mp
	return mp, mp != nil && v.Tier != catalog.TierReserved
}

// PricingUnit returns the pricing unit of modelID's usage under v:
// MarketplacePricingUnit for a marketplace usage type, else PricingUnit.
func (n *Namer) PricingUnit(modelID string, v Variant) string {
	if _, ok := n.marketplaceLine(modelID, v); ok {
		return MarketplacePricingUnit
	}
	return PricingUnit
}

// UsageType returns the usage type of kind k of modelID served in region
// at Standard, in-region prices, e.g. "USE1-Claude3Haiku-input-tokens".
func (n *Namer) UsageType(region, modelID string, k Kind) string {
	return n.UsageTypeOf(region, modelID, k, Variant{})
}

// Variant are the price dimensions a usage type carries beside region,
// model and kind.
type Variant struct {
	Scope            string // "" or "in-region", "geo", "global"
	Tier             string // "", "default", "priority", "flex", "reserved"
	LongContext      bool
	LatencyOptimized bool
}

// VariantOf returns the variant of a record.
func VariantOf(r *ledger.Record) Variant {
	return Variant{Scope: r.Scope, Tier: r.ServiceTier, LongContext: r.LongContext, LatencyOptimized: r.LatencyOptimized}
}

// RollupVariant returns the variant of a rollup.
func RollupVariant(r *ledger.Rollup) Variant {
	return Variant{Scope: r.Scope, Tier: r.ServiceTier, LongContext: r.LongContext, LatencyOptimized: r.LatencyOptimized}
}

// Suffix returns the usage-type suffix of v, in the order AWS's Price
// List writes them: "-long-context" for a long-context call, the tier
// ("-priority", "-flex", "-reserved") beside Standard, "-cross-region-global"
// for a global profile, and "-latency-optimized" ("USE1-Claude4Sonnet-
// input-tokens-long-context-cross-region-global", "USE1-Nova2.0Lite-
// input-tokens-priority-cross-region-global", "USE1-NovaPro-input-tokens-
// latency-optimized"). Geographic profiles bill under the in-region usage
// types of the source region (docs/pricing.md, "Usage types").
func (v Variant) Suffix() string {
	s := ""
	if v.LongContext {
		s += "-long-context"
	}
	switch v.Tier {
	case "", catalog.TierDefault:
	default:
		s += "-" + v.Tier
	}
	if v.Scope == catalog.ScopeGlobal {
		s += "-cross-region-global"
	}
	if v.LatencyOptimized {
		s += "-latency-optimized"
	}
	return s
}

// UsageTypeOf returns the usage type of kind k of modelID served in
// region under variant v. For a model Amazon Bedrock bills: region code,
// model name, kind suffix, variant suffix, e.g.
// "USE1-NovaPro-cache-read-input-token-count-priority". For a marketplace
// model, the marketplace shape of its scheme (MarketplaceUsageType), e.g.
// "USE1-MP:USE1_CacheWrite1hInputTokenCount_Global-Units".
func (n *Namer) UsageTypeOf(region, modelID string, k Kind, v Variant) string {
	if mp, ok := n.marketplaceLine(modelID, v); ok {
		return MarketplaceUsageType(region, mp.UsageTypes, k, v)
	}
	name := n.ModelName(modelID) + k.Suffix() + v.Suffix()
	if region == "" {
		return name
	}
	return RegionCode(region) + "-" + name
}

// legacyDims and currentDims are the marketplace dimension of each kind,
// in the legacy (Claude 3 to 4.6) and current (Claude Opus 4.7 and later)
// schemes, as the AmazonBedrockFoundationModels offer files write them.
var (
	legacyDims = [NumKinds]string{
		Input:        "InputTokenCount",
		Output:       "OutputTokenCount",
		CacheRead:    "CacheReadInputTokenCount",
		CacheWrite:   "CacheWriteInputTokenCount",
		CacheWrite1h: "CacheWrite1hInputTokenCount",
	}
	currentDims = [NumKinds]string{
		Input:        "input_tokens",
		Output:       "output_tokens",
		CacheRead:    "cache_read_tokens",
		CacheWrite:   "cache_write_tokens",
		CacheWrite1h: "cache_write_tokens_1h",
	}
)

// MarketplaceUsageType returns the usage type AWS Marketplace bills kind k
// under in region for a model of usage-type scheme scheme
// (catalog.MarketplaceLegacy or catalog.MarketplaceCurrent) under variant
// v: "<CODE>-MP:<CODE>_<dimension>-Units". The dimension is, in the
// legacy scheme, the kind's PascalCase name, then "_LCtx" for a
// long-context call, "_Global" for a global profile, "_LatencyOptimized"
// when latency-optimized inference served it, "_Priority" or "_Flex" for
// those tiers ("USE1_CacheWrite1hInputTokenCount_LCtx_Global"); in the
// current scheme, the kind's snake_case name, then "_long_ctx", "_global"
// and the tier word — "standard", "priority" or "flex" — and
// "_latency_optimized" ("USE1_cache_write_tokens_1h_global_standard").
// Geographic profiles and in-region calls carry no scope qualifier. Which
// of these parts AWS is seen to write is in docs/pricing.md.
func MarketplaceUsageType(region, scheme string, k Kind, v Variant) string {
	var dim string
	if scheme == catalog.MarketplaceCurrent {
		dim = currentDims[k]
		if v.LongContext {
			dim += "_long_ctx"
		}
		if v.Scope == catalog.ScopeGlobal {
			dim += "_global"
		}
		switch v.Tier {
		case catalog.TierPriority, catalog.TierFlex:
			dim += "_" + v.Tier
		default:
			dim += "_standard"
		}
		if v.LatencyOptimized {
			dim += "_latency_optimized"
		}
	} else {
		dim = legacyDims[k]
		if v.LongContext {
			dim += "_LCtx"
		}
		if v.Scope == catalog.ScopeGlobal {
			dim += "_Global"
		}
		if v.LatencyOptimized {
			dim += "_LatencyOptimized"
		}
		switch v.Tier {
		case catalog.TierPriority:
			dim += "_Priority"
		case catalog.TierFlex:
			dim += "_Flex"
		}
	}
	if region == "" {
		return "MP:" + dim + "-Units"
	}
	code := RegionCode(region)
	return code + "-MP:" + code + "_" + dim + "-Units"
}

// FixedUsageType is the usage type of a reserved-capacity commitment's
// fixed-cost line, e.g. "USE1-Claude4.5Sonnet-reserved-capacity-hours":
// Tollgate's own name, for marketplace models too (AWS's reserved rows
// are commitments per TPM, not hours).
func (n *Namer) FixedUsageType(region, modelID string) string {
	name := n.ModelName(modelID) + "-reserved-capacity-hours"
	if region == "" {
		return name
	}
	return RegionCode(region) + "-" + name
}

// UnitPricingUnit is the pricing_unit of a per-image line. AWS's Price
// List unit for image SKUs was not confirmed; "Image" is Tollgate's
// (docs/pricing.md, "Per-image prices").
const UnitPricingUnit = "Image"

// UnitUsageType is the usage type of the per-unit items of kind
// unitKind (catalog.UnitPrice.Kind) of modelID in region under v:
// region code, model name, the kind, the variant's suffix, e.g.
// "USE1-NovaCanvas-image-premium-2048x2048". Derived the way Tollgate
// names token usage types: AWS's own name for image usage types was not
// confirmed (docs/pricing.md).
func (n *Namer) UnitUsageType(region, modelID, unitKind string, v Variant) string {
	name := n.ModelName(modelID) + "-" + unitKind + v.Suffix()
	if region == "" {
		return name
	}
	return RegionCode(region) + "-" + name
}

// BilledRegion is the region a call's usage types name: its source
// region (where AWS bills and prices a cross-region call), or the region
// that served it for records and rollups that predate keeping it.
func BilledRegion(source, served string) string {
	if source != "" {
		return source
	}
	return served
}

// Line is one cost line of a record: the usage and cost of one kind,
// under the usage type AWS would bill it as.
type Line struct {
	// Kind is the token kind; Fixed is set instead for a fixed-cost
	// line, Unit for a per-unit (per-image) line.
	Kind  Kind
	Fixed bool
	Unit  bool
	// UsageType is line_item_usage_type.
	UsageType string
	// PricingUnit is pricing_unit: "1K tokens", "1M tokens" for a
	// marketplace usage type, "Hrs" for a fixed line, UnitPricingUnit for
	// a per-unit line.
	PricingUnit string
	// Tokens is the usage in tokens (1 hour for a fixed line, the units
	// for a per-unit line).
	Tokens int64
	Cost   money.Amount
}

// UsageTypes returns the cost lines of r: one per kind with tokens or
// cost, its per-unit line, plus its fixed-cost line. Their costs sum to r.Cost exactly.
func (n *Namer) UsageTypes(r *ledger.Record) []Line {
	var out []Line
	v := VariantOf(r)
	region := BilledRegion(r.Region, r.RegionServed)
	costs := [NumKinds]money.Amount{r.InputCost, r.OutputCost, r.CacheReadCost, r.CacheWriteCost, r.CacheWrite1hCost}
	toks := [NumKinds]int64{r.InputTokens, r.OutputTokens, r.CacheReadTokens, r.CacheWriteTokens, r.CacheWrite1hTokens}
	for k := range NumKinds {
		if toks[k] == 0 && costs[k] == 0 {
			continue
		}
		out = append(out, Line{Kind: k, UsageType: n.UsageTypeOf(region, r.ModelID, k, v), PricingUnit: n.PricingUnit(r.ModelID, v),
			Tokens: toks[k], Cost: costs[k]})
	}
	if r.Units != 0 || r.UnitCost != 0 {
		out = append(out, Line{Unit: true, UsageType: n.UnitUsageType(region, r.ModelID, r.UnitKind, v), PricingUnit: UnitPricingUnit,
			Tokens: r.Units, Cost: r.UnitCost})
	}
	if r.Operation == ledger.OpFixedCost {
		out = append(out, Line{Fixed: true, UsageType: n.FixedUsageType(region, r.ModelID), PricingUnit: "Hrs", Tokens: 1, Cost: r.FixedCost})
	}
	return out
}

// UsageTypes returns the cost lines of r named after the default
// catalogue; see Namer.UsageTypes.
func UsageTypes(r *ledger.Record) []Line { return defaultNamer().UsageTypes(r) }

var defaultNamer = sync.OnceValue(func() *Namer { return NewNamer(catalog.Default()) })
