package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Price overrides: an operator's file of prices laid over the catalogue's
// (a negotiated discount, a price AWS changed before the catalogue did, a
// private model served by an OpenAI-compatible server). The format:
//
//	prices:
//	  - model: anthropic.claude-sonnet-4-5-20250929-v1:0
//	    effective: 2026-01-01
//	    scopes: [global]          # optional: in-region, geo, global
//	    tier: flex                # optional: priority, flex
//	    latency: optimized        # optional
//	    regions: [us-east-1]      # optional: source regions
//	    input: "0.0027"           # USD per 1,000 tokens, decimal strings
//	    output: "0.0135"
//	    cacheRead: "0.00027"      # optional, with cacheWrite
//	    cacheWrite: "0.003375"
//	    cacheWrite1h: "0.0054"    # optional
//	    longContext: {above: 200000, input: "0.0054", output: "0.02025", ...}
//	    source: "EA-2026-001, 10% off list"
//	  - model: amazon.nova-canvas-v1:0   # an image model: per-image prices
//	    effective: 2026-01-01
//	    units:                    # USD per image, by quality and size
//	      - {unit: image, quality: premium, upTo: 2048x2048, price: "0.072"}
//	    source: "EA-2026-001"
//
// Every entry needs a model the catalogue knows, a date, input and output
// (or units only, for a model priced per unit) and a source. An override in force wins over every catalogue price selecting
// the same call, whatever their dates; among overrides the latest wins.

type pricesDoc struct {
	Prices []yaml.Node `yaml:"prices"`
	// Commitments are reserved-capacity commitments, read by
	// pricing.ParseCommitments.
	Commitments yaml.Node `yaml:"commitments"`
}

var overrideKeys = []string{"model", "effective", "scopes", "tier", "latency", "regions", "input", "output",
	"cacheRead", "cacheWrite", "cacheWrite1h", "longContext", "units", "source"}

var longContextKeys = []string{"above", "input", "output", "cacheRead", "cacheWrite", "cacheWrite1h"}

// ParsePrices reads a price-override file named name (for messages). It
// checks every entry strictly and reports each problem with the line it
// is on ("prices.yaml:12: ..."), all of them joined. The prices come back
// by model id, each with Origin "name:line".
func ParsePrices(name string, data []byte) (map[string][]Price, error) {
	var doc pricesDoc
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: more than one YAML document", name)
	}
	var errs []error
	fail := func(line int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: "+format, append([]any{name, line}, args...)...))
	}
	out := map[string][]Price{}
	for i := range doc.Prices {
		n := &doc.Prices[i]
		if n.Kind != yaml.MappingNode {
			fail(n.Line, "a price must be a mapping")
			continue
		}
		ok := true
		for j := 0; j+1 < len(n.Content); j += 2 {
			k := n.Content[j]
			if !slices.Contains(overrideKeys, k.Value) {
				fail(k.Line, "unknown field %q (known: %s)", k.Value, strings.Join(overrideKeys, ", "))
				ok = false
			}
			if v := n.Content[j+1]; k.Value == "longContext" && v.Kind == yaml.MappingNode {
				for l := 0; l+1 < len(v.Content); l += 2 {
					if lk := v.Content[l]; !slices.Contains(longContextKeys, lk.Value) {
						fail(lk.Line, "unknown longContext field %q (known: %s)", lk.Value, strings.Join(longContextKeys, ", "))
						ok = false
					}
				}
			}
		}
		var e struct {
			Model    string `yaml:"model"`
			priceDoc `yaml:",inline"`
		}
		if err := n.Decode(&e); err != nil {
			fail(n.Line, "%v", err)
			continue
		}
		if !ok {
			continue
		}
		if e.Model == "" {
			fail(n.Line, "missing model")
			continue
		}
		p, problems := e.priceDoc.toPrice()
		for _, pr := range problems {
			fail(n.Line, "model %q: %s", e.Model, pr)
		}
		if len(problems) > 0 {
			continue
		}
		p.Origin = fmt.Sprintf("%s:%d", name, n.Line)
		for _, q := range out[e.Model] {
			if q.Effective.Equal(p.Effective) && Overlap(p, q) {
				fail(n.Line, "model %q: selects the same calls on the same date as the price at %s", e.Model, q.Origin)
			}
		}
		out[e.Model] = append(out[e.Model], p)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// WithPrices returns a catalogue holding c's models and profiles with the
// override prices added to their models' (see ParsePrices). A price for a
// model c does not know is an error naming its origin. c does not change.
func (c *Catalog) WithPrices(prices map[string][]Price) (*Catalog, error) {
	models := make(map[string]Model, len(c.models))
	for id, m := range c.models {
		models[id] = m
	}
	var errs []error
	ids := make([]string, 0, len(prices))
	for id := range prices {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		m, ok := models[id]
		if !ok {
			for _, p := range prices[id] {
				errs = append(errs, fmt.Errorf("%s: model %q is not in the catalogue (add it with catalogFile first)", p.Origin, id))
			}
			continue
		}
		m = m.clone()
		m.Prices = append(m.Prices, prices[id]...)
		sort.SliceStable(m.Prices, func(i, j int) bool { return m.Prices[i].Effective.Before(m.Prices[j].Effective) })
		models[id] = m
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return newCatalog(models, c.profiles), nil
}
