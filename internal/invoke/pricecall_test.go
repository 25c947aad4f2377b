package invoke

import (
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/profile"
)

// TestPriceCall checks the runtime's pricing call fills a record from the
// usage Bedrock reports and the tier that served: the 1-hour cache writes
// split off by cacheDetails, the scope of a global system profile, a flex
// price when flex served (here from an operator's price file), and an
// unpriced record when the tier served has no price.
func TestPriceCall(t *testing.T) {
	const sonnet = "anthropic.claude-sonnet-4-5-20250929-v1:0"
	prices, err := catalog.ParsePrices("prices.yaml", []byte(`prices:
  - {model: `+sonnet+`, effective: 2026-01-01, tier: flex, scopes: [global], input: "0.0015", output: "0.0075", source: test flex price}
`))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Default().WithPrices(prices)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := cat.Model(sonnet)
	start := time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC)
	c := &call{s: &Service{catalog: cat}, start: start,
		target: Target{Type: profile.SystemDefined, ProfileID: "global." + sonnet, Model: m, Scope: catalog.ScopeGlobal}}
	u := converse.Usage{InputTokens: 1000, OutputTokens: 100, CacheWriteInputTokens: 3000,
		CacheDetails: converse.CacheDetails{OneHour: 2000, FiveMinutes: 1000}}
	p := func(v string) money.Amount { return money.MustParse(v) }

	r := ledger.Record{ModelID: sonnet, Region: "us-east-1", InputTokens: 1000, OutputTokens: 100, ServiceTier: "default"}
	c.price(&r, u)
	if r.Scope != "global" || r.CacheWriteTokens != 1000 || r.CacheWrite1hTokens != 2000 || !r.Priced ||
		r.Cost != p("0.003")+p("0.0015")+p("0.00375")+p("0.012") || r.LineSum() != r.Cost {
		t.Errorf("Standard global call: %+v", r)
	}

	flex := ledger.Record{ModelID: sonnet, Region: "us-east-1", InputTokens: 1000, OutputTokens: 100, ServiceTier: "flex"}
	c.price(&flex, converse.Usage{InputTokens: 1000, OutputTokens: 100})
	if !flex.Priced || flex.Cost != p("0.0015")+p("0.00075") || flex.PriceVersion == r.PriceVersion {
		t.Errorf("flex call: %+v", flex)
	}

	prio := ledger.Record{ModelID: sonnet, Region: "us-east-1", InputTokens: 1000, OutputTokens: 100, ServiceTier: "priority"}
	c.price(&prio, converse.Usage{InputTokens: 1000, OutputTokens: 100})
	if prio.Priced || prio.Cost != 0 || prio.PriceVersion != "" {
		t.Errorf("priority call without a price: %+v, want unpriced", prio)
	}
}
