// Package catalog owns Tollgate's model catalogue as data: the foundation
// models it offers (with their Bedrock metadata, in-region availability and
// dated on-demand prices) and the system-defined (cross-region) inference
// profiles that route to them.
//
// The catalogue ships embedded as catalog.yaml (see Default); operators may
// load their own file with Parse and layer it over the default with Merge.
// A Catalog is immutable once built and safe for concurrent use; every slice
// it returns is a fresh copy.
package catalog

import (
	_ "embed"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/internal/arn"
	"github.com/tollgate-dev/tollgate/internal/money"
)

// Model is a foundation model, described with the members Bedrock's
// GetFoundationModel returns plus Tollgate's routing and pricing data.
type Model struct {
	// ID is the Bedrock model id, e.g. "anthropic.claude-3-haiku-20240307-v1:0".
	ID string
	// Name is the display name, e.g. "Claude 3 Haiku".
	Name string
	// Provider is the provider name, e.g. "Anthropic" or "AI21 Labs".
	Provider string
	// InputModalities and OutputModalities hold AWS ModelModality values:
	// "TEXT", "IMAGE" or "EMBEDDING".
	InputModalities  []string
	OutputModalities []string
	// Streaming reports responseStreamingSupported.
	Streaming bool
	// InferenceTypes holds "ON_DEMAND" and/or "PROVISIONED".
	InferenceTypes []string
	// Customizations holds "FINE_TUNING", "CONTINUED_PRE_TRAINING" and/or
	// "DISTILLATION"; it may be empty.
	Customizations []string
	// Lifecycle is "ACTIVE" or "LEGACY".
	Lifecycle string
	// Regions lists the regions that offer the model on demand in-region.
	// It is empty for a model AWS offers only through cross-region
	// inference profiles: invoking its id directly is then a
	// ValidationException naming the profiles.
	Regions []string
	// Family names the native InvokeModel request-body format: "anthropic",
	// "nova", "titan-text", "titan-embed", "llama", "mistral",
	// "cohere-command", "cohere-embed", "jamba", FamilyNovaCanvas or
	// FamilyStabilityImage; FamilyConverseOnly for a
	// model whose native body Tollgate does not translate (InvokeModel on
	// it is a ValidationException, Converse works).
	Family string
	// Tiers lists the Bedrock service tiers the model offers on demand
	// beside Standard ("default"), which every model offers: any of
	// "priority", "flex" and "reserved".
	Tiers []string
	// Prices holds the on-demand prices, sorted by Effective ascending.
	Prices []Price
	// Unpriced lists the scopes ("in-region", "geo", "global"), tiers
	// ("priority", "flex") or "latency-optimized" the model is offered in
	// but the catalogue deliberately has no price for: calls there are
	// recorded unpriced. The catalogue test accepts a missing price only
	// when it is listed here.
	Unpriced []string
	// UsageTypeName is the model name AWS writes in the model's usage
	// types ("Claude3-5Haiku", "Nova2.0Lite") when it differs from the
	// one derived from Name (pricing.ShortModelName); "" means derived.
	UsageTypeName string
	// Marketplace is set for a model AWS bills through AWS Marketplace
	// (Anthropic, Cohere, AI21, Writer): its usage is its own product on
	// the bill, with marketplace-shaped usage types. Nil for a model
	// Amazon Bedrock bills itself.
	Marketplace *Marketplace
}

// Marketplace describes how AWS bills a model sold through AWS
// Marketplace (docs/pricing.md, "Usage types").
type Marketplace struct {
	// Product is the product name: Cost Explorer's SERVICE and CUR's
	// product_name, e.g. "Claude Sonnet 4.5 (Amazon Bedrock Edition)".
	Product string
	// ProductCode is line_item_product_code, the Marketplace product code,
	// when known; "" when not (Tollgate then writes the Price List service
	// code AmazonBedrockFoundationModels).
	ProductCode string
	// UsageTypes is the naming scheme of the usage types:
	// MarketplaceLegacy ("USE1-MP:USE1_InputTokenCount-Units") or
	// MarketplaceCurrent ("USE1-MP:USE1_input_tokens_standard-Units").
	UsageTypes string
}

// Marketplace usage-type naming schemes.
const (
	// MarketplaceLegacy is the PascalCase scheme of Claude 3 to 4.6:
	// InputTokenCount, OutputTokenCount, CacheReadInputTokenCount,
	// CacheWriteInputTokenCount, CacheWrite1hInputTokenCount, with
	// _LCtx and _Global qualifiers.
	MarketplaceLegacy = "legacy"
	// MarketplaceCurrent is the snake_case scheme of Claude Opus 4.7 and
	// later: input_tokens, output_tokens, cache_read_tokens,
	// cache_write_tokens, cache_write_tokens_1h, with _long_ctx and
	// _global qualifiers and a tier word (standard, priority, flex).
	MarketplaceCurrent = "current"
)

// Image-generation families: InvokeModel bodies of Amazon's image models
// (Nova Canvas, Titan Image Generator: taskType TEXT_IMAGE and
// imageGenerationConfig in, {"images": [...]} out) and of Stability AI's
// ({"prompt": ...} in, {"images", "seeds", "finish_reasons"} out).
// Their calls are billed per image; Converse on them is a
// ValidationException.
const (
	FamilyNovaCanvas     = "nova-canvas"
	FamilyStabilityImage = "stability-image"
)

// GeneratesImages reports whether m is an image-generation model, billed
// per image.
func (m Model) GeneratesImages() bool {
	return m.Family == FamilyNovaCanvas || m.Family == FamilyStabilityImage
}

// FamilyConverseOnly is the Family of a model whose native InvokeModel
// body (such as gpt-oss's OpenAI chat-completions body or DeepSeek-R1's
// prompt body) Tollgate has no codec for.
const FamilyConverseOnly = "converse-only"

// UnpricedLatencyOptimized marks latency-optimized inference unpriced in
// Model.Unpriced.
const UnpricedLatencyOptimized = "latency-optimized"

// Service tiers, as Bedrock's ServiceTierType names them.
const (
	TierPriority = "priority"
	TierDefault  = "default"
	TierFlex     = "flex"
	TierReserved = "reserved"
)

// extraTiers are the tiers a model may list in Tiers.
var extraTiers = []string{TierPriority, TierFlex, TierReserved}

// OffersTier reports whether m can be served in tier: "" and "default"
// always, another tier when m lists it.
func (m Model) OffersTier(tier string) bool {
	return tier == "" || tier == TierDefault || slices.Contains(m.Tiers, tier)
}

// Endpoint scopes a call can be priced in: the model id invoked in-region,
// a geographic cross-region profile ("us.", "eu.", "apac.", ...) or a
// global one ("global."). Bedrock prices a call at its source region's
// price for its scope.
const (
	ScopeInRegion = "in-region"
	ScopeGeo      = "geo"
	ScopeGlobal   = "global"
)

// Scopes are the endpoint scopes, in order.
var Scopes = []string{ScopeInRegion, ScopeGeo, ScopeGlobal}

// LatencyOptimized is the Latency of a latency-optimized price.
const LatencyOptimized = "optimized"

// ScopeOfGeo returns the scope of a system profile of geography geo:
// global for "global", geo for any other.
func ScopeOfGeo(geo string) string {
	if geo == "global" {
		return ScopeGlobal
	}
	return ScopeGeo
}

// Price is an on-demand price in force from Effective (a UTC date at
// midnight) for the calls its dimensions select (Scopes, Tier, Latency,
// Regions), until a later Price of the same model selects them.
type Price struct {
	Effective time.Time
	// Scopes lists the endpoint scopes the price applies to; empty means
	// every scope (AWS publishes one price for all of them).
	Scopes []string
	// Tier is the service tier served: "" (Standard, Bedrock's
	// "default"), "priority" or "flex".
	Tier string
	// Latency is "" for standard inference or "optimized" for
	// latency-optimized inference actually served.
	Latency string
	// Regions lists the source regions the price applies to; empty means
	// every region.
	Regions []string
	// Input and Output are the prices of uncached input and of output
	// tokens.
	Input, Output money.PerThousand
	// CacheRead and CacheWrite are the prices of prompt-cache reads and of
	// cache writes with the 5-minute TTL; both are zero when HasCache is
	// false.
	CacheRead, CacheWrite money.PerThousand
	// HasCache is false when the model has no prompt-cache prices.
	HasCache bool
	// CacheWrite1h is the price of cache writes with the 1-hour TTL, valid
	// when HasCache1h.
	CacheWrite1h money.PerThousand
	HasCache1h   bool
	// LongContext, when set, prices a call whose input (uncached, cache
	// read and cache write tokens together) exceeds LongContext.Above:
	// the whole call at its rates.
	LongContext *LongContext
	// Units are the per-unit prices (per generated image) of the model;
	// empty for a model priced by tokens only.
	Units []UnitPrice
	// NoTokens is true for a price with no token rates (an image model
	// priced per image only): a call it would have to bill tokens for is
	// unpriced, never billed $0.
	NoTokens bool
	// Source says where the figures come from.
	Source string
	// Origin is "" for a catalogue price, or "<file>:<line>" for an
	// operator's override.
	Origin string
}

// UnitImage is the Unit of a per-image price.
const UnitImage = "image"

// UnitPrice is the price of one per-unit item a call is billed for, such
// as a generated image, and what selects it: the quality asked for and
// the image size, as Bedrock's price list writes them ("premium quality,
// up to 2048 x 2048").
type UnitPrice struct {
	// Unit is what is counted: UnitImage.
	Unit string
	// Quality is the quality the price applies to ("standard" or
	// "premium"); "" for every quality.
	Quality string
	// UpTo is the largest image the price applies to, "WIDTHxHEIGHT"
	// ("1024x1024"); "" for every size. MaxPixels is its width × height.
	UpTo      string
	MaxPixels int64
	// Price is the exact cost of one unit, nano-USD.
	Price money.Amount
}

// Kind names the price: the unit, then its quality and size when it has
// them ("image-premium-2048x2048", "image"). Records carry it as
// ledger.Record.UnitKind; ParseUnitKind reads it back.
func (u UnitPrice) Kind() string {
	k := u.Unit
	if u.Quality != "" {
		k += "-" + u.Quality
	}
	if u.UpTo != "" {
		k += "-" + u.UpTo
	}
	return k
}

// ParseUnitKind splits a Kind into its unit, quality and size (width ×
// height in pixels, 0 when the kind has none).
func ParseUnitKind(kind string) (unit, quality string, pixels int64) {
	parts := strings.Split(kind, "-")
	unit = parts[0]
	for _, p := range parts[1:] {
		if px, ok := parseSize(p); ok {
			pixels = px
		} else {
			quality = p
		}
	}
	return unit, quality, pixels
}

// parseSize reads "WIDTHxHEIGHT" and returns width × height.
func parseSize(s string) (int64, bool) {
	w, h, ok := strings.Cut(s, "x")
	if !ok {
		return 0, false
	}
	wi, err1 := strconv.ParseInt(w, 10, 32)
	hi, err2 := strconv.ParseInt(h, 10, 32)
	if err1 != nil || err2 != nil || wi <= 0 || hi <= 0 {
		return 0, false
	}
	return wi * hi, true
}

// UnitFor returns the per-unit price of p for a unit of kind unit, of
// quality quality ("" when the request named none) and pixels pixels (0
// when the size does not matter): of the matching prices, one naming the
// quality before one for every quality, then the smallest size that holds
// pixels. It reports false when none matches: the call is unpriced.
func (p Price) UnitFor(unit, quality string, pixels int64) (UnitPrice, bool) {
	best := -1
	better := func(a, b UnitPrice) bool {
		if (a.Quality != "") != (b.Quality != "") {
			return a.Quality != ""
		}
		if (a.MaxPixels != 0) != (b.MaxPixels != 0) {
			return a.MaxPixels != 0
		}
		return a.MaxPixels < b.MaxPixels
	}
	for i, u := range p.Units {
		if u.Unit != unit || (u.Quality != "" && u.Quality != quality) || (u.MaxPixels != 0 && pixels > u.MaxPixels) {
			continue
		}
		if best < 0 || better(u, p.Units[best]) {
			best = i
		}
	}
	if best < 0 {
		return UnitPrice{}, false
	}
	return p.Units[best], true
}

// LongContext are the rates of a call whose input exceeds Above tokens.
type LongContext struct {
	Above                                              int64
	Input, Output, CacheRead, CacheWrite, CacheWrite1h money.PerThousand
	HasCache, HasCache1h                               bool
}

// Dims are the dimensions of a call that select its price.
type Dims struct {
	// Scope is ScopeInRegion ("" counts as it), ScopeGeo or ScopeGlobal.
	Scope string
	// Tier is the service tier served ("" and "default" are Standard).
	Tier string
	// Latency is "" or LatencyOptimized, as served.
	Latency string
	// Region is the source region ("" matches only region-less prices).
	Region string
}

func normTier(t string) string {
	if t == TierDefault {
		return ""
	}
	return t
}

// Matches reports whether p applies to a call with dimensions d.
func (p Price) Matches(d Dims) bool {
	scope := d.Scope
	if scope == "" {
		scope = ScopeInRegion
	}
	if len(p.Scopes) > 0 && !slices.Contains(p.Scopes, scope) {
		return false
	}
	if normTier(p.Tier) != normTier(d.Tier) || p.Latency != d.Latency {
		return false
	}
	return len(p.Regions) == 0 || slices.Contains(p.Regions, d.Region)
}

// specificity ranks prices of one date matching one call: a price naming
// the region beats one for every region, then one naming scopes beats one
// for every scope.
func (p Price) specificity() int {
	s := 0
	if len(p.Regions) > 0 {
		s += 2
	}
	if len(p.Scopes) > 0 {
		s++
	}
	return s
}

// PriceAt returns the Standard, in-region price in force at t in any
// region (the price of the model id invoked directly). It reports false
// when no such price is in force at t.
func (m Model) PriceAt(t time.Time) (Price, bool) {
	return m.PriceFor(Dims{}, t)
}

// PriceFor returns the price in force at t for a call with dimensions d:
// of the prices matching d whose Effective is not after t, the latest,
// and of those the most specific (see Price). An operator's override (a
// price with Origin set) in force wins over every catalogue price. It reports false when none
// matches: AWS publishes no price for the combination, and the call must
// be recorded unpriced rather than guessed.
func (m Model) PriceFor(d Dims, t time.Time) (Price, bool) {
	if p, ok := m.priceFor(d, t, true); ok {
		return p, true
	}
	return m.priceFor(d, t, false)
}

// priceFor is PriceFor among the operator's overrides (Origin set) or
// among the catalogue's prices.
func (m Model) priceFor(d Dims, t time.Time, override bool) (Price, bool) {
	best := -1
	for i, p := range m.Prices {
		if (p.Origin != "") != override || p.Effective.After(t) || !p.Matches(d) {
			continue
		}
		if best < 0 || p.Effective.After(m.Prices[best].Effective) ||
			(p.Effective.Equal(m.Prices[best].Effective) && p.specificity() > m.Prices[best].specificity()) {
			best = i
		}
	}
	if best < 0 {
		return Price{}, false
	}
	return m.Prices[best], true
}

func (m Model) clone() Model {
	m.InputModalities = slices.Clone(m.InputModalities)
	m.OutputModalities = slices.Clone(m.OutputModalities)
	m.InferenceTypes = slices.Clone(m.InferenceTypes)
	m.Customizations = slices.Clone(m.Customizations)
	m.Regions = slices.Clone(m.Regions)
	m.Tiers = slices.Clone(m.Tiers)
	m.Unpriced = slices.Clone(m.Unpriced)
	if m.Marketplace != nil {
		mp := *m.Marketplace
		m.Marketplace = &mp
	}
	m.Prices = slices.Clone(m.Prices)
	for i := range m.Prices {
		m.Prices[i].Scopes = slices.Clone(m.Prices[i].Scopes)
		m.Prices[i].Regions = slices.Clone(m.Prices[i].Regions)
		m.Prices[i].Units = slices.Clone(m.Prices[i].Units)
	}
	return m
}

// SystemProfile is a system-defined (cross-region) inference profile.
type SystemProfile struct {
	// ID is Geo + "." + ModelID, e.g. "us.anthropic.claude-3-5-sonnet-20240620-v1:0".
	ID string
	// Geo is the geography prefix: "us", "eu", "apac", "global" (or another
	// AWS geography such as "jp", "au", "us-gov").
	Geo string
	// Name is the display name, e.g. "US Anthropic Claude 3.5 Sonnet".
	Name string
	// Description is AWS-style prose, e.g. "Routes requests to Anthropic
	// Claude 3.5 Sonnet in us-east-1, us-east-2 and us-west-2."
	Description string
	// ModelID is the id of the foundation model the profile routes to.
	ModelID string
	// Regions lists the regions the profile routes across, in AWS's order.
	// The profile may be invoked from any of them.
	Regions []string
}

// ModelARNs returns the foundation-model ARN of p's model in each of its
// regions, in order: the profile's "models" as Bedrock reports them.
func (p SystemProfile) ModelARNs() []string {
	arns := make([]string, len(p.Regions))
	for i, r := range p.Regions {
		arns[i] = arn.FoundationModel(r, p.ModelID)
	}
	return arns
}

func (p SystemProfile) clone() SystemProfile {
	p.Regions = slices.Clone(p.Regions)
	return p
}

// Catalog is a set of foundation models and system-defined inference
// profiles. It is immutable once built and safe for concurrent use. Build
// one with Parse, Default or Merge.
type Catalog struct {
	models     map[string]Model
	modelIDs   []string // sorted
	profiles   map[string]SystemProfile
	profileIDs []string // sorted
}

func newCatalog(models map[string]Model, profiles map[string]SystemProfile) *Catalog {
	c := &Catalog{models: models, profiles: profiles}
	for id := range models {
		c.modelIDs = append(c.modelIDs, id)
	}
	for id := range profiles {
		c.profileIDs = append(c.profileIDs, id)
	}
	slices.Sort(c.modelIDs)
	slices.Sort(c.profileIDs)
	return c
}

//go:embed catalog.yaml
var embedded []byte

var defaultCatalog = sync.OnceValue(func() *Catalog {
	c, err := Parse(embedded)
	if err != nil {
		panic("catalog: embedded catalog.yaml is invalid: " + err.Error())
	}
	return c
})

// Default returns the catalogue embedded in Tollgate (catalog.yaml), parsed
// once. It panics only if the embedded file is broken, which a test guards
// against.
func Default() *Catalog { return defaultCatalog() }

// Merge returns a new catalogue holding c's models and profiles with
// override's laid over them: an entry of override replaces the entry of c
// with the same ID, and entries new to c are added. Neither input changes.
// A nil c or override counts as empty.
func (c *Catalog) Merge(override *Catalog) *Catalog {
	models := make(map[string]Model)
	profiles := make(map[string]SystemProfile)
	for _, src := range []*Catalog{c, override} {
		if src == nil {
			continue
		}
		for id, m := range src.models {
			models[id] = m
		}
		for id, p := range src.profiles {
			profiles[id] = p
		}
	}
	return newCatalog(models, profiles)
}

// Model returns the model with the given id, and whether it exists.
func (c *Catalog) Model(id string) (Model, bool) {
	m, ok := c.models[id]
	if !ok {
		return Model{}, false
	}
	return m.clone(), true
}

// SharedModel is Model without the copy, for the request path: the returned
// Model shares its slices (regions, tiers, prices and theirs) with the
// catalogue, which never changes them, so the caller must not modify them
// either.
func (c *Catalog) SharedModel(id string) (Model, bool) {
	m, ok := c.models[id]
	return m, ok
}

// Models returns every model, sorted by ID.
func (c *Catalog) Models() []Model {
	return c.modelsWhere(func(Model) bool { return true })
}

// ModelsIn returns the models offered on demand in region (in-region, not
// through a cross-region profile), sorted by ID.
func (c *Catalog) ModelsIn(region string) []Model {
	return c.modelsWhere(func(m Model) bool { return slices.Contains(m.Regions, region) })
}

// ModelsOfferedIn returns the models a caller in region can invoke: those
// offered on demand in region and those a system profile invokable from
// region routes to (Bedrock lists both in ListFoundationModels), sorted
// by ID.
func (c *Catalog) ModelsOfferedIn(region string) []Model {
	routed := map[string]bool{}
	for _, p := range c.profiles {
		if slices.Contains(p.Regions, region) {
			routed[p.ModelID] = true
		}
	}
	return c.modelsWhere(func(m Model) bool { return slices.Contains(m.Regions, region) || routed[m.ID] })
}

func (c *Catalog) modelsWhere(keep func(Model) bool) []Model {
	out := []Model{}
	for _, id := range c.modelIDs {
		if m := c.models[id]; keep(m) {
			out = append(out, m.clone())
		}
	}
	return out
}

// SystemProfile returns the system-defined inference profile with the given
// id (such as "us.anthropic.claude-3-haiku-20240307-v1:0"), and whether it
// exists.
func (c *Catalog) SystemProfile(id string) (SystemProfile, bool) {
	p, ok := c.profiles[id]
	if !ok {
		return SystemProfile{}, false
	}
	return p.clone(), true
}

// SystemProfiles returns every system-defined inference profile, sorted by ID.
func (c *Catalog) SystemProfiles() []SystemProfile {
	return c.profilesWhere(func(SystemProfile) bool { return true })
}

// SystemProfilesFrom returns the system-defined inference profiles that can
// be invoked from region (those whose Regions contain it), sorted by ID.
func (c *Catalog) SystemProfilesFrom(region string) []SystemProfile {
	return c.profilesWhere(func(p SystemProfile) bool { return slices.Contains(p.Regions, region) })
}

func (c *Catalog) profilesWhere(keep func(SystemProfile) bool) []SystemProfile {
	out := []SystemProfile{}
	for _, id := range c.profileIDs {
		if p := c.profiles[id]; keep(p) {
			out = append(out, p.clone())
		}
	}
	return out
}
