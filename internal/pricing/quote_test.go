package pricing

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
)

// recompute prices tokens at a decimal rate in USD per 1,000 tokens
// independently of money.PerThousand: exact rationals, rounded half up to
// the nano-dollar.
func recompute(t *testing.T, tokens int64, rate string) money.Amount {
	t.Helper()
	r, ok := new(big.Rat).SetString(rate)
	if !ok {
		t.Fatalf("bad rate %q", rate)
	}
	nanos := new(big.Rat).Mul(r, big.NewRat(tokens*1_000_000_000, 1000))
	nanos.Add(nanos, big.NewRat(1, 2))
	q := new(big.Int).Quo(nanos.Num(), nanos.Denom())
	return money.Amount(q.Int64())
}

// flexCatalog is a catalogue holding gpt-oss-20b with its Standard price
// (AWS us-east-1 offer file, as quoted in BerriAI/litellm#39866: $0.00007
// per 1K input; output $0.0003 per 1K) and its Flex price (50% of
// Standard, vectorize-io/hindsight#2072 and bedrock-cost-surface.md):
// the embedded catalogue has no native body family for gpt-oss yet.
const flexCatalog = `models:
  - id: openai.gpt-oss-20b-1:0
    name: gpt-oss-20b
    provider: OpenAI
    inputModalities: [TEXT]
    outputModalities: [TEXT]
    inferenceTypes: [ON_DEMAND]
    lifecycle: ACTIVE
    regions: [us-east-1]
    family: nova
    tiers: [flex, priority]
    prices:
      - {effective: 2025-11-18, input: "0.00007", output: "0.0003", source: "AWS offer file via BerriAI/litellm#39866"}
      - {effective: 2025-11-18, tier: flex, input: "0.000035", output: "0.00015", source: "Flex at 50% of Standard, vectorize-io/hindsight#2072"}
`

// TestWorkedExamples prices one call per dimension and checks each line
// against an independent recomputation from the rates of the catalogue
// entry named by source.
func TestWorkedExamples(t *testing.T) {
	flex, err := catalog.Parse([]byte(flexCatalog))
	if err != nil {
		t.Fatal(err)
	}
	const (
		sonnet45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
		sonnet4  = "anthropic.claude-sonnet-4-20250514-v1:0"
		haiku45  = "anthropic.claude-haiku-4-5-20251001-v1:0"
		novaPro  = "amazon.nova-pro-v1:0"
		llama405 = "meta.llama3-1-405b-instruct-v1:0"
	)
	at := time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC)
	type line struct {
		tokens int64
		rate   string // USD per 1K tokens, as the catalogue entry states it
	}
	for _, tt := range []struct {
		name     string
		cat      *catalog.Catalog
		call     Call
		source   string // the catalogue entry's source, start
		long     bool
		lines    [NumKinds]line
		unpriced bool
	}{
		{
			name:   "in-region Sonnet 4.5 at the regional price (global + 10%)",
			call:   Call{ModelID: sonnet45, Region: "us-east-1", Usage: Usage{Input: 1000, Output: 500}},
			source: "Anthropic, Claude pricing docs: regional endpoints",
			lines:  [NumKinds]line{Input: {1000, "0.0033"}, Output: {500, "0.0165"}},
		},
		{
			name:   "geographic profile (us.) at the regional price",
			call:   Call{ModelID: sonnet45, Region: "us-west-2", Scope: catalog.ScopeGeo, Usage: Usage{Input: 1000, Output: 500}},
			source: "Anthropic, Claude pricing docs: regional endpoints",
			lines:  [NumKinds]line{Input: {1000, "0.0033"}, Output: {500, "0.0165"}},
		},
		{
			name:   "global profile at the global price",
			call:   Call{ModelID: sonnet45, Region: "us-east-1", Scope: catalog.ScopeGlobal, Usage: Usage{Input: 1000, Output: 500}},
			source: "Anthropic, Claude pricing docs: regional endpoints",
			lines:  [NumKinds]line{Input: {1000, "0.003"}, Output: {500, "0.015"}},
		},
		{
			name: "1-hour cache write, global",
			call: Call{ModelID: sonnet45, Region: "us-east-1", Scope: catalog.ScopeGlobal,
				Usage: Usage{Input: 100, Output: 100, CacheWrite1h: 2000}},
			source: "Anthropic, Claude pricing docs: regional endpoints",
			lines:  [NumKinds]line{Input: {100, "0.003"}, Output: {100, "0.015"}, CacheWrite1h: {2000, "0.006"}},
		},
		{
			name: "5-minute write, read and 1-hour write in one call, geographic",
			call: Call{ModelID: haiku45, Region: "eu-west-1", Scope: catalog.ScopeGeo,
				Usage: Usage{Input: 500, Output: 200, CacheRead: 10_000, CacheWrite: 3000, CacheWrite1h: 1000}},
			source: "Anthropic, Claude pricing docs: regional endpoints",
			lines: [NumKinds]line{Input: {500, "0.0011"}, Output: {200, "0.0055"}, CacheRead: {10_000, "0.00011"},
				CacheWrite: {3000, "0.001375"}, CacheWrite1h: {1000, "0.0022"}},
		},
		{
			name:   "long context: 150K input + 60K cache read > 200K, the whole call at the long rates",
			call:   Call{ModelID: sonnet4, Region: "us-east-1", Usage: Usage{Input: 150_000, Output: 1000, CacheRead: 60_000}},
			source: "Anthropic long-context pricing",
			long:   true,
			lines:  [NumKinds]line{Input: {150_000, "0.006"}, Output: {1000, "0.0225"}, CacheRead: {60_000, "0.0006"}},
		},
		{
			name:   "exactly 200K input is not long context",
			call:   Call{ModelID: sonnet4, Region: "us-east-1", Usage: Usage{Input: 140_000, Output: 1000, CacheRead: 60_000}},
			source: "Anthropic long-context pricing",
			lines:  [NumKinds]line{Input: {140_000, "0.003"}, Output: {1000, "0.015"}, CacheRead: {60_000, "0.0003"}},
		},
		{
			name: "long context, global Sonnet 4.5 with a 1-hour write",
			call: Call{ModelID: sonnet45, Region: "us-east-1", Scope: catalog.ScopeGlobal,
				Usage: Usage{Input: 190_000, Output: 2000, CacheWrite1h: 20_000}},
			source: "Anthropic, Claude pricing docs: regional endpoints",
			long:   true,
			lines:  [NumKinds]line{Input: {190_000, "0.006"}, Output: {2000, "0.0225"}, CacheWrite1h: {20_000, "0.012"}},
		},
		{
			name:   "flex served: the Flex price",
			cat:    flex,
			call:   Call{ModelID: "openai.gpt-oss-20b-1:0", Region: "us-east-1", Tier: catalog.TierFlex, Usage: Usage{Input: 10_000, Output: 4000}},
			source: "Flex at 50% of Standard",
			lines:  [NumKinds]line{Input: {10_000, "0.000035"}, Output: {4000, "0.00015"}},
		},
		{
			name:   "default tier is Standard",
			cat:    flex,
			call:   Call{ModelID: "openai.gpt-oss-20b-1:0", Region: "us-east-1", Tier: catalog.TierDefault, Usage: Usage{Input: 10_000, Output: 4000}},
			source: "AWS offer file",
			lines:  [NumKinds]line{Input: {10_000, "0.00007"}, Output: {4000, "0.0003"}},
		},
		{
			name:     "priority served without a published price: unpriced, not guessed",
			cat:      flex,
			call:     Call{ModelID: "openai.gpt-oss-20b-1:0", Region: "us-east-1", Tier: catalog.TierPriority, Usage: Usage{Input: 10, Output: 4}},
			unpriced: true,
		},
		{
			name:   "latency-optimized served: its own price",
			call:   Call{ModelID: llama405, Region: "us-east-2", Scope: catalog.ScopeGeo, LatencyOptimized: true, Usage: Usage{Input: 2000, Output: 800}},
			source: "AWS Bedrock pricing page",
			lines:  [NumKinds]line{Input: {2000, "0.003"}, Output: {800, "0.003"}},
		},
		{
			name:   "latency-optimized asked but Standard served: the Standard price",
			call:   Call{ModelID: llama405, Region: "us-east-2", Scope: catalog.ScopeGeo, Usage: Usage{Input: 2000, Output: 800}},
			source: "AWS Bedrock pricing page",
			lines:  [NumKinds]line{Input: {2000, "0.0024"}, Output: {800, "0.0024"}},
		},
		{
			name:   "Nova Pro flex served: the Flex price of the AWS Price List",
			call:   Call{ModelID: novaPro, Region: "us-east-1", Tier: catalog.TierFlex, Usage: Usage{Input: 10_000, Output: 4000}},
			source: "AWS Price List USE1-NovaPro",
			lines:  [NumKinds]line{Input: {10_000, "0.0004"}, Output: {4000, "0.0016"}},
		},
		{
			name:   "Nova Pro priority served: Standard x 1.75",
			call:   Call{ModelID: novaPro, Region: "us-east-1", Tier: catalog.TierPriority, Usage: Usage{Input: 10_000, Output: 4000}},
			source: "AWS Price List USE1-NovaPro",
			lines:  [NumKinds]line{Input: {10_000, "0.0014"}, Output: {4000, "0.0056"}},
		},
		{
			name:   "gpt-oss-120b priority in-region",
			call:   Call{ModelID: "openai.gpt-oss-120b-1:0", Region: "us-west-2", Tier: catalog.TierPriority, Usage: Usage{Input: 3000, Output: 1500}},
			source: "Standard x 1.75 (Priority)",
			lines:  [NumKinds]line{Input: {3000, "0.0002625"}, Output: {1500, "0.00105"}},
		},
		{
			name:   "Nova 2 Lite flex through a global profile",
			call:   Call{ModelID: "amazon.nova-2-lite-v1:0", Region: "eu-west-1", Scope: catalog.ScopeGlobal, Tier: catalog.TierFlex, Usage: Usage{Input: 8000, Output: 2000}},
			source: "Standard x 1.75 (Priority)",
			lines:  [NumKinds]line{Input: {8000, "0.00015"}, Output: {2000, "0.00125"}},
		},
		{
			name:   "Opus 4.6 long context through a geographic profile",
			call:   Call{ModelID: "anthropic.claude-opus-4-6-v1", Region: "us-east-1", Scope: catalog.ScopeGeo, Usage: Usage{Input: 210_000, Output: 1000, CacheWrite1h: 1000}},
			source: "LiteLLM @2026-03-15",
			long:   true,
			lines:  [NumKinds]line{Input: {210_000, "0.011"}, Output: {1000, "0.04125"}, CacheWrite1h: {1000, "0.022"}},
		},
		{
			name:   "region-specific price: Kimi K2.5 in ap-south-1 costs more than in the US",
			call:   Call{ModelID: "moonshotai.kimi-k2.5", Region: "ap-south-1", Usage: Usage{Input: 5000, Output: 1000}},
			source: "LiteLLM model_prices_and_context_window.json as of 2026-03-15",
			lines:  [NumKinds]line{Input: {5000, "0.00072"}, Output: {1000, "0.0036"}},
		},
		{
			name:   "MiniMax M2.1 in eu-west-2, its own regional price",
			call:   Call{ModelID: "minimax.minimax-m2.1", Region: "eu-west-2", Usage: Usage{Input: 5000, Output: 1000}},
			source: "LiteLLM model_prices_and_context_window.json as of 2026-03-15",
			lines:  [NumKinds]line{Input: {5000, "0.00047"}, Output: {1000, "0.00186"}},
		},
		{
			name:     "DeepSeek-V3.2 from a region no price names: unpriced",
			call:     Call{ModelID: "deepseek.v3.2", Region: "eu-west-1", Usage: Usage{Input: 10, Output: 4}},
			unpriced: true,
		},
		{
			name:     "Opus 4.6 has no in-region price: AWS offers it only through profiles",
			call:     Call{ModelID: "anthropic.claude-opus-4-6-v1", Region: "us-east-1", Usage: Usage{Input: 10, Output: 4}},
			unpriced: true,
		},
		{
			name:     "Nova 2 Lite cache read: AWS publishes no cache-write price, so unpriced",
			call:     Call{ModelID: "amazon.nova-2-lite-v1:0", Region: "us-east-1", Scope: catalog.ScopeGeo, Usage: Usage{Input: 10, CacheRead: 100}},
			unpriced: true,
		},
		{
			name:     "cache tokens on a model without cache prices",
			call:     Call{ModelID: novaPro, Region: "us-east-1", Usage: Usage{Input: 10, CacheRead: 5}},
			unpriced: true,
		},
		{
			name:     "1-hour write on a model with only 5-minute prices",
			call:     Call{ModelID: "anthropic.claude-3-7-sonnet-20250219-v1:0", Region: "us-east-1", Usage: Usage{Input: 10, CacheWrite1h: 5}},
			unpriced: true,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cat
			if c == nil {
				c = catalog.Default()
			}
			tt.call.At = at
			q, ok := Price(c, tt.call)
			if tt.unpriced {
				if ok {
					t.Fatalf("priced at %+v, want unpriced", q)
				}
				return
			}
			if !ok {
				t.Fatal("unpriced")
			}
			if len(q.Price.Source) < len(tt.source) || q.Price.Source[:len(tt.source)] != tt.source {
				t.Errorf("source = %q, want it to start with %q", q.Price.Source, tt.source)
			}
			if q.LongContext != tt.long {
				t.Errorf("LongContext = %v, want %v", q.LongContext, tt.long)
			}
			var total money.Amount
			for k := range NumKinds {
				l := tt.lines[k]
				if l.tokens != tt.call.Usage.Of(k) {
					t.Fatalf("%s: test lists %d tokens, call has %d", k, l.tokens, tt.call.Usage.Of(k))
				}
				var want money.Amount
				if l.tokens > 0 {
					want = recompute(t, l.tokens, l.rate)
					if r := money.PerThousand(money.MustParse(l.rate)); q.Rates[k] != r {
						t.Errorf("%s rate = %v, want %s", k, q.Rates[k], l.rate)
					}
				}
				if q.Costs[k] != want {
					t.Errorf("%s cost = %v, want %v (%d tokens at $%s/1K)", k, q.Costs[k], want, l.tokens, l.rate)
				}
				total += want
			}
			if q.Total != total {
				t.Errorf("Total = %v, want %v", q.Total, total)
			}
			if q.Version == "" || q.Version != Version(q.Price) {
				t.Errorf("Version = %q, want the price's %q", q.Version, Version(q.Price))
			}
		})
	}
}

// TestReservedServedIsFixedCost checks a call served by reserved capacity
// costs nothing per call: its capacity is billed as fixed cost.
func TestReservedServedIsFixedCost(t *testing.T) {
	q, ok := Price(catalog.Default(), Call{ModelID: "anthropic.claude-sonnet-4-5-20250929-v1:0", At: time.Now(), Region: "us-east-1",
		Tier: catalog.TierReserved, Usage: Usage{Input: 1000, Output: 1000}})
	if !ok || q.Total != 0 || q.Version != ReservedVersion {
		t.Errorf("Price(reserved) = %+v, %v; want zero cost under %q", q, ok, ReservedVersion)
	}
}

// TestVersion checks a price's version changes with any figure and with
// its source, and not otherwise.
func TestVersion(t *testing.T) {
	m, _ := catalog.Default().Model("anthropic.claude-sonnet-4-20250514-v1:0")
	p := m.Prices[0]
	v := Version(p)
	if Version(p) != v {
		t.Fatal("version is not deterministic")
	}
	changed := []func(*catalog.Price){
		func(p *catalog.Price) { p.Input++ },
		func(p *catalog.Price) { p.CacheWrite1h++ },
		func(p *catalog.Price) { lc := *p.LongContext; lc.Output++; p.LongContext = &lc },
		func(p *catalog.Price) { p.Source += "!" },
		func(p *catalog.Price) { p.Origin = "prices.yaml:3" },
		func(p *catalog.Price) { p.Scopes = []string{"global"} },
	}
	for i, f := range changed {
		q := p
		f(&q)
		if Version(q) == v {
			t.Errorf("change %d kept version %s", i, v)
		}
	}
}

// TestVersionUnchanged checks Version against the way it was first
// computed (hash/fnv and fmt), for every price of the default catalogue
// and an operator's override: versions are stored in the ledger, so a
// faster Version must give the same strings.
func TestVersionUnchanged(t *testing.T) {
	reference := func(p catalog.Price) string {
		h := fnv.New64a()
		w := func(s string) { h.Write([]byte(s)); h.Write([]byte{0}) }
		n := func(v int64) {
			var b [8]byte
			binary.LittleEndian.PutUint64(b[:], uint64(v))
			h.Write(b[:])
		}
		w(p.Effective.Format(time.DateOnly))
		w(strings.Join(p.Scopes, ","))
		w(p.Tier)
		w(p.Latency)
		w(strings.Join(p.Regions, ","))
		for _, v := range []money.PerThousand{p.Input, p.Output, p.CacheRead, p.CacheWrite, p.CacheWrite1h} {
			n(int64(v))
		}
		if lc := p.LongContext; lc != nil {
			n(lc.Above)
			for _, v := range []money.PerThousand{lc.Input, lc.Output, lc.CacheRead, lc.CacheWrite, lc.CacheWrite1h} {
				n(int64(v))
			}
		}
		if len(p.Units) > 0 || p.NoTokens {
			for _, u := range p.Units {
				w(u.Kind())
				n(int64(u.Price))
			}
			if p.NoTokens {
				h.Write([]byte{1})
			}
		}
		w(p.Source)
		w(p.Origin)
		return fmt.Sprintf("p%016x", h.Sum64())
	}
	var prices []catalog.Price
	for _, m := range catalog.Default().Models() {
		prices = append(prices, m.Prices...)
	}
	prices = append(prices, catalog.Price{Effective: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Scopes: []string{"geo", "global"},
		Regions: []string{"us-east-1", "eu-west-1"}, Tier: "flex", Input: -1, Output: 1 << 40, Source: "ops", Origin: "prices.yaml:3",
		LongContext: &catalog.LongContext{Above: 200_000, Input: 7, CacheWrite1h: 9}})
	if len(prices) < 10 {
		t.Fatalf("only %d prices", len(prices))
	}
	for _, p := range prices {
		if got, want := Version(p), reference(p); got != want {
			t.Errorf("Version(%+v) = %s, want %s", p, got, want)
		}
	}
}

// BenchmarkVersion is one price's version; one allocation.
func BenchmarkVersion(b *testing.B) {
	m, _ := catalog.Default().Model("anthropic.claude-sonnet-4-20250514-v1:0")
	b.ReportAllocs()
	for b.Loop() {
		_ = Version(m.Prices[0])
	}
}

// TestUsageTypes checks the usage types of a record carry region, model,
// kind and every variant suffix, in AWS's classic shape for a model
// Amazon Bedrock bills and in the marketplace shape for one AWS
// Marketplace bills, and that its lines sum to its cost.
func TestUsageTypes(t *testing.T) {
	n := NewNamer(catalog.Default())
	for _, tt := range []struct {
		name string
		r    ledger.Record
		want []string
		unit string
	}{
		{"marketplace plain", ledger.Record{RegionServed: "us-east-1", ModelID: "anthropic.claude-3-haiku-20240307-v1:0",
			InputTokens: 10, OutputTokens: 5, InputCost: 3, OutputCost: 4, Cost: 7},
			[]string{"USE1-MP:USE1_InputTokenCount-Units", "USE1-MP:USE1_OutputTokenCount-Units"}, MarketplacePricingUnit},
		{"marketplace global with both cache TTLs", ledger.Record{RegionServed: "us-west-2", ModelID: "anthropic.claude-sonnet-4-5-20250929-v1:0",
			Scope: "global", InputTokens: 1, CacheReadTokens: 2, CacheWriteTokens: 3, CacheWrite1hTokens: 4,
			InputCost: 1, CacheReadCost: 2, CacheWriteCost: 3, CacheWrite1hCost: 4, Cost: 10},
			[]string{"USW2-MP:USW2_InputTokenCount_Global-Units", "USW2-MP:USW2_CacheReadInputTokenCount_Global-Units",
				"USW2-MP:USW2_CacheWriteInputTokenCount_Global-Units", "USW2-MP:USW2_CacheWrite1hInputTokenCount_Global-Units"}, MarketplacePricingUnit},
		{"marketplace geo bills as in-region", ledger.Record{RegionServed: "eu-west-1", ModelID: "anthropic.claude-sonnet-4-5-20250929-v1:0",
			Scope: "geo", OutputTokens: 1, OutputCost: 1, Cost: 1},
			[]string{"EU-MP:EU_OutputTokenCount-Units"}, MarketplacePricingUnit},
		{"marketplace long context", ledger.Record{RegionServed: "us-east-1", ModelID: "anthropic.claude-sonnet-4-20250514-v1:0",
			LongContext: true, InputTokens: 300_000, InputCost: 1, Cost: 1},
			[]string{"USE1-MP:USE1_InputTokenCount_LCtx-Units"}, MarketplacePricingUnit},
		{"marketplace current scheme", ledger.Record{Region: "us-west-2", RegionServed: "us-east-2", ModelID: "anthropic.claude-opus-4-7",
			Scope: "global", InputTokens: 1, CacheWrite1hTokens: 2, InputCost: 1, CacheWrite1hCost: 2, Cost: 3},
			[]string{"USW2-MP:USW2_input_tokens_global_standard-Units", "USW2-MP:USW2_cache_write_tokens_1h_global_standard-Units"}, MarketplacePricingUnit},
		{"flex and priority", ledger.Record{RegionServed: "us-east-1", ModelID: "amazon.nova-pro-v1:0", ServiceTier: "flex",
			InputTokens: 1, InputCost: 1, Cost: 1},
			[]string{"USE1-NovaPro-input-tokens-flex"}, PricingUnit},
		{"confirmed model name", ledger.Record{RegionServed: "us-east-1", ModelID: "amazon.nova-2-lite-v1:0", Scope: "global", ServiceTier: "priority",
			InputTokens: 1, InputCost: 1, Cost: 1},
			[]string{"USE1-Nova2.0Lite-input-tokens-priority-cross-region-global"}, PricingUnit},
		{"latency optimized", ledger.Record{RegionServed: "us-east-2", ModelID: "meta.llama3-1-405b-instruct-v1:0", LatencyOptimized: true,
			OutputTokens: 1, OutputCost: 1, Cost: 1},
			[]string{"USE2-Llama3-1-405B-output-tokens-latency-optimized"}, PricingUnit},
		{"reserved capacity hour", ledger.Record{RegionServed: "us-east-1", ModelID: "anthropic.claude-sonnet-4-5-20250929-v1:0",
			Operation: ledger.OpFixedCost, FixedCost: 5, Cost: 5},
			[]string{"USE1-Claude4.5Sonnet-reserved-capacity-hours"}, "Hrs"},
		{"reserved tier keeps Tollgate's names", ledger.Record{RegionServed: "us-east-1", ModelID: "anthropic.claude-sonnet-4-5-20250929-v1:0",
			ServiceTier: "reserved", InputTokens: 7},
			[]string{"USE1-Claude4.5Sonnet-input-tokens-reserved"}, PricingUnit},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lines := n.UsageTypes(&tt.r)
			var got []string
			var sum money.Amount
			for _, l := range lines {
				got = append(got, l.UsageType)
				sum += l.Cost
				if l.PricingUnit != tt.unit {
					t.Errorf("%s: pricing unit %q, want %q", l.UsageType, l.PricingUnit, tt.unit)
				}
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("usage types (-got +want):\n%s", diff)
			}
			if sum != tt.r.Cost {
				t.Errorf("lines sum to %v, record costs %v", sum, tt.r.Cost)
			}
		})
	}
}
