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

// Namer names line items the AWS way. It is immutable and safe for
// concurrent use.
type Namer struct {
	short   map[string]string // model id -> usage-type model name
	display map[string]string // model id -> display name
}

// NewNamer returns a Namer knowing the models of c (which may be nil: every
// model is then named by its id).
func NewNamer(c *catalog.Catalog) *Namer {
	n := &Namer{short: map[string]string{}, display: map[string]string{}}
	if c != nil {
		for _, m := range c.Models() {
			n.short[m.ID] = ShortModelName(m.Name)
			n.display[m.ID] = m.Name
		}
	}
	return n
}

// ModelName returns the usage-type model name of modelID; a model the
// catalogue does not know keeps its id, as AWS does for newer models
// ("USE1-mistral.voxtral-small-24b-2507-mantle-input-tokens-standard").
func (n *Namer) ModelName(modelID string) string {
	if s, ok := n.short[modelID]; ok {
		return s
	}
	return modelID
}

// DisplayName returns the catalogue display name of modelID, or "" when
// the catalogue does not know it.
func (n *Namer) DisplayName(modelID string) string { return n.display[modelID] }

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
// region under variant v: region code, model name, kind suffix, variant
// suffix, e.g. "USE1-Claude4.5Sonnet-cache-write-input-token-count-1-hour-cross-region-global".
func (n *Namer) UsageTypeOf(region, modelID string, k Kind, v Variant) string {
	name := n.ModelName(modelID) + k.Suffix() + v.Suffix()
	if region == "" {
		return name
	}
	return RegionCode(region) + "-" + name
}

// FixedUsageType is the usage type of a reserved-capacity commitment's
// fixed-cost line, e.g. "USE1-Claude4.5Sonnet-reserved-capacity-hours".
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
	// PricingUnit is pricing_unit: "1K tokens", "Hrs" for a fixed line,
	// UnitPricingUnit for a per-unit line.
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
		out = append(out, Line{Kind: k, UsageType: n.UsageTypeOf(region, r.ModelID, k, v), PricingUnit: PricingUnit,
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
