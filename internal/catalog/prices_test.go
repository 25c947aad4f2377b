package catalog

import (
	"strings"
	"testing"
	"time"
)

func TestParsePricesAndOverride(t *testing.T) {
	const file = `# Enterprise agreement
prices:
  - model: anthropic.claude-sonnet-4-5-20250929-v1:0
    effective: 2026-01-01
    scopes: [global]
    input: "0.0027"
    output: "0.0135"
    cacheRead: "0.00027"
    cacheWrite: "0.003375"
    cacheWrite1h: "0.0054"
    source: "EA-2026-001, 10% off list"
  - model: amazon.nova-pro-v1:0
    effective: 2025-12-01
    tier: flex
    input: "0.0004"
    output: "0.0016"
    source: "AWS pricing page, Flex, checked by the operator"
`
	prices, err := ParsePrices("prices.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if got := prices["anthropic.claude-sonnet-4-5-20250929-v1:0"][0].Origin; got != "prices.yaml:3" {
		t.Errorf("origin %q, want prices.yaml:3", got)
	}
	c, err := Default().WithPrices(prices)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := c.Model("anthropic.claude-sonnet-4-5-20250929-v1:0")
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	if p, _ := m.PriceFor(Dims{Scope: ScopeGlobal, Region: "us-east-1"}, at); p.Source != "EA-2026-001, 10% off list" || p.Input != 2_700_000 {
		t.Errorf("global price %+v, want the override", p)
	}
	if p, _ := m.PriceFor(Dims{Scope: ScopeGeo, Region: "us-east-1"}, at); p.Origin != "" || p.Input != 3_300_000 {
		t.Errorf("geo price %+v, want the catalogue's", p)
	}
	if p, _ := m.PriceFor(Dims{Scope: ScopeGlobal, Region: "us-east-1"}, time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)); p.Origin != "" {
		t.Errorf("before the override: %+v, want the catalogue's", p)
	}
	nova, _ := c.Model("amazon.nova-pro-v1:0")
	if p, ok := nova.PriceFor(Dims{Tier: TierFlex, Region: "us-east-1"}, at); !ok || p.Output != 1_600_000 {
		t.Errorf("Nova Pro flex %+v %v, want the added price", p, ok)
	}
	if orig, _ := Default().Model("amazon.nova-pro-v1:0"); len(orig.Prices) == len(nova.Prices) {
		t.Error("WithPrices changed the default catalogue")
	}
}

func TestParsePricesErrors(t *testing.T) {
	for _, tt := range []struct {
		name, file, want string
	}{
		{"unknown field", "prices:\n  - model: amazon.nova-pro-v1:0\n    effective: 2026-01-01\n    input: \"1\"\n    output: \"1\"\n    source: s\n    discount: 10%\n", "prices.yaml:7: unknown field \"discount\""},
		{"bad amount", "prices:\n  - model: amazon.nova-pro-v1:0\n    effective: 2026-01-01\n    input: \"1e-3\"\n    output: \"1\"\n    source: s\n", "prices.yaml:2: model \"amazon.nova-pro-v1:0\": input \"1e-3\" is not a decimal"},
		{"missing source", "prices:\n  - model: amazon.nova-pro-v1:0\n    effective: 2026-01-01\n    input: \"1\"\n    output: \"1\"\n", "prices.yaml:2: model \"amazon.nova-pro-v1:0\": missing source"},
		{"bad date", "prices:\n  - model: amazon.nova-pro-v1:0\n    effective: 1/1/2026\n    input: \"1\"\n    output: \"1\"\n    source: s\n", "prices.yaml:2: model \"amazon.nova-pro-v1:0\": effective \"1/1/2026\" is not a date"},
		{"bad tier", "prices:\n  - model: amazon.nova-pro-v1:0\n    effective: 2026-01-01\n    tier: turbo\n    input: \"1\"\n    output: \"1\"\n    source: s\n", "tier \"turbo\" is not one of"},
		{"unknown long-context field", "prices:\n  - model: amazon.nova-pro-v1:0\n    effective: 2026-01-01\n    input: \"1\"\n    output: \"1\"\n    longContext: {above: 10, input: \"1\", output: \"1\", reads: \"1\"}\n    source: s\n", "prices.yaml:6: unknown longContext field \"reads\""},
		{"missing model", "prices:\n  - effective: 2026-01-01\n    input: \"1\"\n    output: \"1\"\n    source: s\n", "prices.yaml:2: missing model"},
		{"overlap", "prices:\n  - {model: amazon.nova-pro-v1:0, effective: 2026-01-01, input: \"1\", output: \"1\", source: a}\n  - {model: amazon.nova-pro-v1:0, effective: 2026-01-01, input: \"2\", output: \"2\", source: b}\n", "prices.yaml:3: model \"amazon.nova-pro-v1:0\": selects the same calls on the same date as the price at prices.yaml:2"},
		{"not a list", "prices: {model: x}\n", "prices.yaml"},
		{"unknown top-level key", "price:\n  - model: x\n", "field price not found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePrices("prices.yaml", []byte(tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParsePrices error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	prices, err := ParsePrices("prices.yaml", []byte("prices:\n  - {model: acme.private-v1:0, effective: 2026-01-01, input: \"1\", output: \"1\", source: s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Default().WithPrices(prices); err == nil || !strings.Contains(err.Error(), "prices.yaml:2: model \"acme.private-v1:0\" is not in the catalogue") {
		t.Errorf("WithPrices of an unknown model = %v", err)
	}
}
