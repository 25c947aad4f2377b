package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tollgate-dev/tollgate/internal/money"
)

// The file format. Keys are lowerCamel; prices are decimal strings of USD
// per 1,000 tokens so they parse exactly.
type fileDoc struct {
	Models         []modelDoc   `yaml:"models"`
	SystemProfiles []profileDoc `yaml:"systemProfiles"`
}

type modelDoc struct {
	ID               string     `yaml:"id"`
	Name             string     `yaml:"name"`
	Provider         string     `yaml:"provider"`
	InputModalities  []string   `yaml:"inputModalities"`
	OutputModalities []string   `yaml:"outputModalities"`
	Streaming        bool       `yaml:"streaming"`
	InferenceTypes   []string   `yaml:"inferenceTypes"`
	Customizations   []string   `yaml:"customizations"`
	Lifecycle        string     `yaml:"lifecycle"`
	Regions          []string   `yaml:"regions"`
	Family           string     `yaml:"family"`
	Tiers            []string   `yaml:"tiers"`
	Prices           []priceDoc `yaml:"prices"`
	Unpriced         []string   `yaml:"unpriced"`
	UsageTypeName    string     `yaml:"usageTypeName"`
	Marketplace      *mpDoc     `yaml:"marketplace"`
}

// mpDoc is a model's marketplace billing.
type mpDoc struct {
	Product     string `yaml:"product"`
	ProductCode string `yaml:"productCode"`
	UsageTypes  string `yaml:"usageTypes"`
}

type priceDoc struct {
	Effective    string          `yaml:"effective"` // YYYY-MM-DD, UTC
	Scopes       []string        `yaml:"scopes"`    // in-region, geo, global; absent = all
	Tier         string          `yaml:"tier"`      // priority, flex; absent = Standard
	Latency      string          `yaml:"latency"`   // optimized; absent = standard
	Regions      []string        `yaml:"regions"`   // source regions; absent = all
	Input        string          `yaml:"input"`
	Output       string          `yaml:"output"`
	CacheRead    string          `yaml:"cacheRead"`
	CacheWrite   string          `yaml:"cacheWrite"`   // 5-minute TTL
	CacheWrite1h string          `yaml:"cacheWrite1h"` // 1-hour TTL
	LongContext  *longContextDoc `yaml:"longContext"`
	// Units are per-unit prices (per image); with them, input and output
	// may be absent (a model priced per image only).
	Units  []unitDoc `yaml:"units"`
	Source string    `yaml:"source"`
}

type unitDoc struct {
	Unit    string `yaml:"unit"`    // image
	Quality string `yaml:"quality"` // standard, premium; absent = any
	UpTo    string `yaml:"upTo"`    // WIDTHxHEIGHT; absent = any size
	Price   string `yaml:"price"`   // USD per unit, decimal
}

var (
	units         = []string{UnitImage}
	unitQualities = []string{"standard", "premium"}
)

type longContextDoc struct {
	Above        int64  `yaml:"above"` // input tokens
	Input        string `yaml:"input"`
	Output       string `yaml:"output"`
	CacheRead    string `yaml:"cacheRead"`
	CacheWrite   string `yaml:"cacheWrite"`
	CacheWrite1h string `yaml:"cacheWrite1h"`
}

type profileDoc struct {
	ID          string   `yaml:"id"`
	Geo         string   `yaml:"geo"`
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	ModelID     string   `yaml:"modelId"`
	Regions     []string `yaml:"regions"`
}

var (
	// modelIDPattern is Bedrock's BedrockModelId pattern without the
	// provisioned-throughput suffix.
	modelIDPattern = regexp.MustCompile(`^[a-z0-9-]{1,63}[.][a-z0-9-]{1,63}([a-z0-9-]{1,63}[.]){0,2}[a-z0-9-]{1,63}([:][a-z0-9-]{1,63}){0,2}$`)
	regionPattern  = regexp.MustCompile(`^[a-z]{2}(-gov|-iso|-isob)?-[a-z]+-[0-9]{1,2}$`)

	modalities     = []string{"TEXT", "IMAGE", "EMBEDDING"}
	inferenceTypes = []string{"ON_DEMAND", "PROVISIONED"}
	customizations = []string{"FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION"}
	lifecycles     = []string{"ACTIVE", "LEGACY"}
	mpSchemes      = []string{MarketplaceLegacy, MarketplaceCurrent}
	// usageTypeNamePattern is what a usage-type model name may hold: no
	// spaces, nothing a usage type uses as a separator of its own parts.
	usageTypeNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+-]{0,99}$`)
	families             = []string{"anthropic", "nova", "titan-text", "titan-embed", "llama", "mistral", "cohere-command", "cohere-embed", "jamba", FamilyNovaCanvas, FamilyStabilityImage, FamilyConverseOnly}
	unpricedDims         = []string{ScopeInRegion, ScopeGeo, ScopeGlobal, TierPriority, TierFlex, UnpricedLatencyOptimized}
	geos                 = []string{"us", "eu", "apac", "global", "us-gov", "jp", "au", "ca"}
)

const maxModelIDLen = 140

// Parse decodes and validates a catalogue file. Decoding is strict: unknown
// keys and a second YAML document are errors. An empty document is an
// empty catalogue. Validation errors name the offending entry; all of them
// are reported, joined.
func Parse(data []byte) (*Catalog, error) {
	var doc fileDoc
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("catalog: more than one YAML document")
	}

	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf("catalog: "+format, args...)) }

	models := make(map[string]Model, len(doc.Models))
	for i, md := range doc.Models {
		m, problems := md.toModel()
		name := fmt.Sprintf("models[%d]", i)
		if md.ID != "" {
			name = fmt.Sprintf("model %q", md.ID)
		}
		for _, p := range problems {
			fail("%s: %s", name, p)
		}
		if md.ID == "" {
			continue
		}
		if _, dup := models[md.ID]; dup {
			fail("%s: duplicate id", name)
			continue
		}
		models[md.ID] = m
	}

	profiles := make(map[string]SystemProfile, len(doc.SystemProfiles))
	for i, pd := range doc.SystemProfiles {
		p, problems := pd.toProfile()
		name := fmt.Sprintf("systemProfiles[%d]", i)
		if pd.ID != "" {
			name = fmt.Sprintf("system profile %q", pd.ID)
		}
		for _, pr := range problems {
			fail("%s: %s", name, pr)
		}
		if pd.ModelID != "" {
			if _, ok := models[pd.ModelID]; !ok {
				fail("%s: model %q is not in the catalogue", name, pd.ModelID)
			}
		}
		if pd.ID == "" {
			continue
		}
		if _, dup := profiles[pd.ID]; dup {
			fail("%s: duplicate id", name)
			continue
		}
		profiles[pd.ID] = p
	}

	routed := map[string]bool{}
	for _, p := range profiles {
		routed[p.ModelID] = true
	}
	for i, md := range doc.Models {
		if md.ID != "" && len(md.Regions) == 0 && !routed[md.ID] {
			fail("models[%d] %q: no regions and no system profile routes to it: it cannot be invoked", i, md.ID)
		}
	}

	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return newCatalog(models, profiles), nil
}

// toModel converts d and lists what is wrong with it.
func (d modelDoc) toModel() (Model, []string) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	switch {
	case d.ID == "":
		bad("missing id")
	case len(d.ID) > maxModelIDLen || !modelIDPattern.MatchString(d.ID):
		bad("id does not match the Bedrock model-id pattern")
	}
	if strings.TrimSpace(d.Name) == "" {
		bad("missing name")
	}
	if strings.TrimSpace(d.Provider) == "" {
		bad("missing provider")
	}
	problems = append(problems, checkEnums("inputModalities", d.InputModalities, modalities, true)...)
	problems = append(problems, checkEnums("outputModalities", d.OutputModalities, modalities, true)...)
	problems = append(problems, checkEnums("inferenceTypes", d.InferenceTypes, inferenceTypes, true)...)
	problems = append(problems, checkEnums("customizations", d.Customizations, customizations, false)...)
	if !slices.Contains(lifecycles, d.Lifecycle) {
		bad("lifecycle %q is not one of %s", d.Lifecycle, strings.Join(lifecycles, ", "))
	}
	if !slices.Contains(families, d.Family) {
		bad("family %q is not one of %s", d.Family, strings.Join(families, ", "))
	}
	// A model may have no in-region availability: AWS offers some only
	// through cross-region profiles (the catalogue test checks such a model
	// has one).
	problems = append(problems, checkRegions(d.Regions, 0)...)
	problems = append(problems, checkEnums("tiers", d.Tiers, extraTiers, false)...)
	problems = append(problems, checkEnums("unpriced", d.Unpriced, unpricedDims, false)...)

	m := Model{
		ID:               d.ID,
		Name:             d.Name,
		Provider:         d.Provider,
		InputModalities:  d.InputModalities,
		OutputModalities: d.OutputModalities,
		Streaming:        d.Streaming,
		InferenceTypes:   d.InferenceTypes,
		Customizations:   d.Customizations,
		Lifecycle:        d.Lifecycle,
		Regions:          d.Regions,
		Family:           d.Family,
		Tiers:            d.Tiers,
		Unpriced:         d.Unpriced,
		UsageTypeName:    d.UsageTypeName,
	}
	if d.UsageTypeName != "" && !usageTypeNamePattern.MatchString(d.UsageTypeName) {
		bad("usageTypeName %q is not a usage-type model name (letters, digits, '.', '+', '-')", d.UsageTypeName)
	}
	if mp := d.Marketplace; mp != nil {
		if strings.TrimSpace(mp.Product) == "" {
			bad("marketplace: missing product")
		}
		if !slices.Contains(mpSchemes, mp.UsageTypes) {
			bad("marketplace: usageTypes %q is not one of %s", mp.UsageTypes, strings.Join(mpSchemes, ", "))
		}
		m.Marketplace = &Marketplace{Product: mp.Product, ProductCode: mp.ProductCode, UsageTypes: mp.UsageTypes}
	}
	if len(d.Prices) == 0 {
		bad("no prices")
	}
	for i, pd := range d.Prices {
		p, ps := pd.toPrice()
		for _, pr := range ps {
			bad("prices[%d]: %s", i, pr)
		}
		if len(ps) > 0 {
			continue
		}
		for j, q := range m.Prices {
			if q.Effective.After(p.Effective) {
				bad("prices[%d]: effective %s is before an earlier entry's (prices are listed oldest first)", i, pd.Effective)
				break
			}
			if q.Effective.Equal(p.Effective) && Overlap(p, q) {
				bad("prices[%d]: selects the same calls on the same date as prices[%d]", i, j)
				break
			}
		}
		m.Prices = append(m.Prices, p)
	}
	return m, problems
}

// Overlap reports whether a and b (of one model and date) could both be
// the most specific price of one call: same tier and latency, the same
// specificity, and scopes and regions that intersect.
func Overlap(a, b Price) bool {
	if normTier(a.Tier) != normTier(b.Tier) || a.Latency != b.Latency || a.specificity() != b.specificity() {
		return false
	}
	meet := func(x, y []string) bool {
		if len(x) == 0 || len(y) == 0 {
			return true
		}
		for _, v := range x {
			if slices.Contains(y, v) {
				return true
			}
		}
		return false
	}
	return meet(a.Scopes, b.Scopes) && meet(a.Regions, b.Regions)
}

func (d priceDoc) toPrice() (Price, []string) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	p := Price{Source: d.Source}
	eff, err := time.Parse(time.DateOnly, d.Effective)
	if err != nil {
		bad("effective %q is not a date (YYYY-MM-DD)", d.Effective)
	}
	p.Effective = eff.UTC()

	amount := func(field, s string, dst *money.PerThousand) {
		if s == "" {
			bad("missing %s", field)
			return
		}
		v, err := money.ParsePerThousand(s)
		switch {
		case err != nil:
			bad("%s %q is not a decimal dollar amount", field, s)
		case v < 0:
			bad("%s %q is negative", field, s)
		default:
			*dst = v
		}
	}
	if len(d.Units) > 0 && d.Input == "" && d.Output == "" {
		p.NoTokens = true
		if d.CacheRead != "" || d.CacheWrite != "" || d.LongContext != nil {
			bad("a price without input and output has no cache or long-context rates")
		}
	} else {
		amount("input", d.Input, &p.Input)
		amount("output", d.Output, &p.Output)
	}
	for i, ud := range d.Units {
		u := UnitPrice{Unit: ud.Unit, Quality: ud.Quality, UpTo: ud.UpTo}
		if !slices.Contains(units, ud.Unit) {
			bad("units[%d]: unit %q is not one of %s", i, ud.Unit, strings.Join(units, ", "))
		}
		if ud.Quality != "" && !slices.Contains(unitQualities, ud.Quality) {
			bad("units[%d]: quality %q is not one of %s", i, ud.Quality, strings.Join(unitQualities, ", "))
		}
		if ud.UpTo != "" {
			px, ok := parseSize(ud.UpTo)
			if !ok {
				bad("units[%d]: upTo %q is not WIDTHxHEIGHT", i, ud.UpTo)
			}
			u.MaxPixels = px
		}
		v, err := money.Parse(ud.Price)
		switch {
		case ud.Price == "":
			bad("units[%d]: missing price", i)
		case err != nil:
			bad("units[%d]: price %q is not a decimal dollar amount", i, ud.Price)
		case v <= 0:
			bad("units[%d]: price %q is not positive", i, ud.Price)
		default:
			u.Price = v
		}
		for j, o := range p.Units {
			if o.Kind() == u.Kind() {
				bad("units[%d]: the same unit, quality and size as units[%d]", i, j)
			}
		}
		p.Units = append(p.Units, u)
	}
	switch {
	case d.CacheRead == "" && d.CacheWrite == "":
		if d.CacheWrite1h != "" {
			bad("cacheWrite1h needs cacheRead and cacheWrite")
		}
	case d.CacheRead == "" || d.CacheWrite == "":
		bad("cacheRead and cacheWrite must be given together")
	default:
		p.HasCache = true
		amount("cacheRead", d.CacheRead, &p.CacheRead)
		amount("cacheWrite", d.CacheWrite, &p.CacheWrite)
		if d.CacheWrite1h != "" {
			p.HasCache1h = true
			amount("cacheWrite1h", d.CacheWrite1h, &p.CacheWrite1h)
		}
	}
	problems = append(problems, checkEnums("scopes", d.Scopes, Scopes, false)...)
	p.Scopes = d.Scopes
	switch d.Tier {
	case "", TierPriority, TierFlex:
		p.Tier = d.Tier
	case TierDefault:
	default:
		bad("tier %q is not one of priority, flex (absent: Standard; reserved capacity is a commitment, not a price)", d.Tier)
	}
	switch d.Latency {
	case "", LatencyOptimized:
		p.Latency = d.Latency
	default:
		bad("latency %q is not %q", d.Latency, LatencyOptimized)
	}
	if len(d.Regions) > 0 {
		problems = append(problems, checkRegions(d.Regions, 1)...)
		p.Regions = d.Regions
	}
	if lc := d.LongContext; lc != nil {
		l := &LongContext{Above: lc.Above}
		if lc.Above <= 0 {
			bad("longContext.above must be a positive number of input tokens")
		}
		amount("longContext.input", lc.Input, &l.Input)
		amount("longContext.output", lc.Output, &l.Output)
		switch {
		case lc.CacheRead == "" && lc.CacheWrite == "":
			if p.HasCache {
				bad("longContext needs cacheRead and cacheWrite when the price has them")
			}
		case lc.CacheRead == "" || lc.CacheWrite == "":
			bad("longContext.cacheRead and longContext.cacheWrite must be given together")
		default:
			l.HasCache = true
			amount("longContext.cacheRead", lc.CacheRead, &l.CacheRead)
			amount("longContext.cacheWrite", lc.CacheWrite, &l.CacheWrite)
		}
		if lc.CacheWrite1h != "" {
			l.HasCache1h = true
			amount("longContext.cacheWrite1h", lc.CacheWrite1h, &l.CacheWrite1h)
		} else if p.HasCache1h {
			bad("longContext needs cacheWrite1h when the price has it")
		}
		p.LongContext = l
	}
	if strings.TrimSpace(d.Source) == "" {
		bad("missing source")
	}
	return p, problems
}

func (d profileDoc) toProfile() (SystemProfile, []string) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if d.ID == "" {
		bad("missing id")
	}
	if !slices.Contains(geos, d.Geo) {
		bad("geo %q is not one of %s", d.Geo, strings.Join(geos, ", "))
	}
	if d.ModelID == "" {
		bad("missing modelId")
	}
	if d.ID != "" && d.ID != d.Geo+"."+d.ModelID {
		bad("id is not geo + \".\" + modelId (%q)", d.Geo+"."+d.ModelID)
	}
	if strings.TrimSpace(d.Name) == "" {
		bad("missing name")
	}
	problems = append(problems, checkRegions(d.Regions, 2)...)
	return SystemProfile(d), problems
}

// checkEnums reports values not in known, duplicates, and (if required) an
// empty list.
func checkEnums(field string, values, known []string, required bool) []string {
	var problems []string
	if required && len(values) == 0 {
		problems = append(problems, fmt.Sprintf("%s is empty", field))
	}
	for i, v := range values {
		if !slices.Contains(known, v) {
			problems = append(problems, fmt.Sprintf("%s: %q is not one of %s", field, v, strings.Join(known, ", ")))
		} else if slices.Contains(values[:i], v) {
			problems = append(problems, fmt.Sprintf("%s: %q is repeated", field, v))
		}
	}
	return problems
}

func checkRegions(regions []string, least int) []string {
	var problems []string
	if len(regions) < least {
		problems = append(problems, fmt.Sprintf("needs at least %d region(s), has %d", least, len(regions)))
	}
	for i, r := range regions {
		if !regionPattern.MatchString(r) {
			problems = append(problems, fmt.Sprintf("region %q is not a region name", r))
		} else if slices.Contains(regions[:i], r) {
			problems = append(problems, fmt.Sprintf("region %q is repeated", r))
		}
	}
	return problems
}
