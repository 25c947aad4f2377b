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
	"sort"
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
	Regions []string
	// Family names the native InvokeModel request-body format: "anthropic",
	// "nova", "titan-text", "titan-embed", "llama", "mistral",
	// "cohere-command", "cohere-embed" or "jamba".
	Family string
	// Tiers lists the Bedrock service tiers the model offers on demand
	// beside Standard ("default"), which every model offers: any of
	// "priority", "flex" and "reserved".
	Tiers []string
	// Prices holds the on-demand prices, sorted by Effective ascending.
	Prices []Price
}

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

// Price is an on-demand price in force from Effective (a UTC date at
// midnight) until the Effective of the next Price of the same model.
type Price struct {
	Effective time.Time
	// Input and Output are the prices of input and output tokens.
	Input, Output money.PerThousand
	// CacheRead and CacheWrite are the prices of prompt-cache reads and
	// (5-minute) cache writes; both are zero when HasCache is false.
	CacheRead, CacheWrite money.PerThousand
	// HasCache is false when the model has no prompt-cache prices.
	HasCache bool
	// Source says where the figures come from.
	Source string
}

// PriceAt returns the price in force at t: the last Price whose Effective is
// not after t. It reports false when t is before the first price.
func (m Model) PriceAt(t time.Time) (Price, bool) {
	// First index whose Effective is after t; the one before it is in force.
	i := sort.Search(len(m.Prices), func(i int) bool { return m.Prices[i].Effective.After(t) })
	if i == 0 {
		return Price{}, false
	}
	return m.Prices[i-1], true
}

func (m Model) clone() Model {
	m.InputModalities = slices.Clone(m.InputModalities)
	m.OutputModalities = slices.Clone(m.OutputModalities)
	m.InferenceTypes = slices.Clone(m.InferenceTypes)
	m.Customizations = slices.Clone(m.Customizations)
	m.Regions = slices.Clone(m.Regions)
	m.Tiers = slices.Clone(m.Tiers)
	m.Prices = slices.Clone(m.Prices)
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

// Models returns every model, sorted by ID.
func (c *Catalog) Models() []Model {
	return c.modelsWhere(func(Model) bool { return true })
}

// ModelsIn returns the models offered on demand in region (in-region, not
// through a cross-region profile), sorted by ID.
func (c *Catalog) ModelsIn(region string) []Model {
	return c.modelsWhere(func(m Model) bool { return slices.Contains(m.Regions, region) })
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
