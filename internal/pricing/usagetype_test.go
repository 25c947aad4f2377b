package pricing

import (
	"testing"

	"github.com/tollgate-dev/tollgate/internal/catalog"
)

// TestConfirmedModelNames checks the usage-type model name of every model
// whose name AWS is seen to write differently from the display-name rule
// (the catalogue's usageTypeName), and of some whose derived name AWS is
// seen to write as derived, in a full usage type.
func TestConfirmedModelNames(t *testing.T) {
	n := NewNamer(catalog.Default())
	global := Variant{Scope: catalog.ScopeGlobal}
	for _, tt := range []struct {
		model    string
		name     string // ModelName
		region   string
		kind     Kind
		v        Variant
		wantType string
	}{
		// Spelled by AWS, not derived.
		{"amazon.nova-2-lite-v1:0", "Nova2.0Lite", "us-east-1", Input, global, "USE1-Nova2.0Lite-input-tokens-cross-region-global"},
		{"amazon.titan-text-premier-v1:0", "TitanText-Premier", "us-east-1", Output, Variant{}, "USE1-TitanText-Premier-output-tokens"},
		{"amazon.titan-embed-text-v2:0", "TitanEmbeddingV2-Text", "us-west-2", Input, Variant{}, "USW2-TitanEmbeddingV2-Text-input-tokens"},
		{"meta.llama3-8b-instruct-v1:0", "Llama3-8B", "us-east-1", Input, Variant{}, "USE1-Llama3-8B-input-tokens"},
		{"meta.llama3-1-8b-instruct-v1:0", "Llama3-1-8B", "us-west-2", Output, Variant{}, "USW2-Llama3-1-8B-output-tokens"},
		{"meta.llama3-1-70b-instruct-v1:0", "Llama3-1-70B", "us-east-2", Input, Variant{LatencyOptimized: true}, "USE2-Llama3-1-70B-input-tokens-latency-optimized"},
		{"meta.llama3-1-405b-instruct-v1:0", "Llama3-1-405B", "us-east-1", Input, Variant{}, "USE1-Llama3-1-405B-input-tokens"},
		{"meta.llama3-3-70b-instruct-v1:0", "Llama3-3-70B", "us-east-1", Input, Variant{}, "USE1-Llama3-3-70B-input-tokens"},
		{"meta.llama4-scout-17b-instruct-v1:0", "Llama4-Scout-17B", "us-east-1", Input, Variant{}, "USE1-Llama4-Scout-17B-input-tokens"},
		{"meta.llama4-maverick-17b-instruct-v1:0", "Llama4-Maverick-17B", "us-east-1", Output, Variant{}, "USE1-Llama4-Maverick-17B-output-tokens"},
		{"mistral.mixtral-8x7b-instruct-v0:1", "Mixtral8x7B", "us-west-2", Input, Variant{}, "USW2-Mixtral8x7B-input-tokens"},
		{"mistral.mistral-large-2402-v1:0", "MistralLarge", "us-east-1", Input, Variant{}, "USE1-MistralLarge-input-tokens"},
		{"mistral.pixtral-large-2502-v1:0", "PixtralLarge2502", "us-east-1", Input, Variant{}, "USE1-PixtralLarge2502-input-tokens"},
		{"mistral.mistral-large-3-675b-instruct", "Mistral-Large-3-675b-Instruct", "us-east-1", Output, Variant{}, "USE1-Mistral-Large-3-675b-Instruct-output-tokens"},
		{"qwen.qwen3-coder-30b-a3b-v1:0", "Qwen3Coder-30B-A3B", "us-east-1", Input, Variant{Tier: catalog.TierFlex}, "USE1-Qwen3Coder-30B-A3B-input-tokens-flex"},
		// Derived, and seen as derived.
		{"amazon.nova-pro-v1:0", "NovaPro", "us-east-1", CacheRead, Variant{}, "USE1-NovaPro-cache-read-input-token-count"},
		{"amazon.nova-premier-v1:0", "NovaPremier", "us-east-1", Input, global, "USE1-NovaPremier-input-tokens-cross-region-global"},
		{"amazon.titan-text-express-v1", "TitanTextG1-Express", "us-east-1", Output, Variant{}, "USE1-TitanTextG1-Express-output-tokens"},
		{"amazon.titan-text-lite-v1", "TitanTextG1-Lite", "us-east-1", Input, Variant{}, "USE1-TitanTextG1-Lite-input-tokens"},
		{"amazon.titan-embed-text-v1", "TitanEmbeddingsG1-Text", "ap-northeast-1", Input, Variant{}, "APN1-TitanEmbeddingsG1-Text-input-tokens"},
		{"qwen.qwen3-32b-v1:0", "Qwen3-32B", "us-east-1", Output, Variant{Tier: catalog.TierPriority}, "USE1-Qwen3-32B-output-tokens-priority"},
		{"deepseek.r1-v1:0", "DeepSeek-R1", "us-east-1", Input, Variant{}, "USE1-DeepSeek-R1-input-tokens"},
		{"openai.gpt-oss-120b-1:0", "gpt-oss-120b", "us-west-2", Input, Variant{}, "USW2-gpt-oss-120b-input-tokens"},
	} {
		t.Run(tt.model, func(t *testing.T) {
			if got := n.ModelName(tt.model); got != tt.name {
				t.Errorf("ModelName = %q, want %q", got, tt.name)
			}
			if got := n.UsageTypeOf(tt.region, tt.model, tt.kind, tt.v); got != tt.wantType {
				t.Errorf("UsageTypeOf = %q, want %q", got, tt.wantType)
			}
			if got := n.Service(tt.model); got != ServiceName {
				t.Errorf("Service = %q, want %q", got, ServiceName)
			}
			if got := n.ProductCode(tt.model); got != ServiceCode {
				t.Errorf("ProductCode = %q, want %q", got, ServiceCode)
			}
			if got := n.PricingUnit(tt.model, tt.v); got != PricingUnit {
				t.Errorf("PricingUnit = %q, want %q", got, PricingUnit)
			}
		})
	}
}

// TestMarketplaceUsageTypes checks the marketplace usage type of every
// kind in every endpoint scope, tier, long-context tier and latency mode,
// in both schemes. The rows AWS is seen to bill or price are marked; the
// others follow the same grammar (docs/pricing.md lists what is seen).
func TestMarketplaceUsageTypes(t *testing.T) {
	const (
		sonnet46 = "anthropic.claude-sonnet-4-6" // legacy scheme
		opus47   = "anthropic.claude-opus-4-7"   // current scheme
		haiku35  = "anthropic.claude-3-5-haiku-20241022-v1:0"
	)
	n := NewNamer(catalog.Default())
	inRegion := Variant{Scope: catalog.ScopeInRegion}
	geo := Variant{Scope: catalog.ScopeGeo}
	global := Variant{Scope: catalog.ScopeGlobal}
	for _, tt := range []struct {
		name   string
		model  string
		region string
		kind   Kind
		v      Variant
		want   string
	}{
		// Legacy scheme, every kind in every scope.
		{"legacy input in-region", sonnet46, "us-east-1", Input, inRegion, "USE1-MP:USE1_InputTokenCount-Units"},      // seen
		{"legacy input geo", sonnet46, "us-east-2", Input, geo, "USE2-MP:USE2_InputTokenCount-Units"},                 // seen (bill)
		{"legacy input global", sonnet46, "us-east-2", Input, global, "USE2-MP:USE2_InputTokenCount_Global-Units"},    // seen (bill)
		{"legacy output in-region", sonnet46, "us-east-1", Output, inRegion, "USE1-MP:USE1_OutputTokenCount-Units"},   // seen
		{"legacy output geo", sonnet46, "us-east-2", Output, geo, "USE2-MP:USE2_OutputTokenCount-Units"},              // seen (bill)
		{"legacy output global", sonnet46, "us-east-2", Output, global, "USE2-MP:USE2_OutputTokenCount_Global-Units"}, // seen (bill)
		{"legacy cache read in-region", sonnet46, "us-west-2", CacheRead, inRegion, "USW2-MP:USW2_CacheReadInputTokenCount-Units"},
		{"legacy cache read geo", sonnet46, "us-west-2", CacheRead, geo, "USW2-MP:USW2_CacheReadInputTokenCount-Units"},
		{"legacy cache read global", sonnet46, "us-west-2", CacheRead, global, "USW2-MP:USW2_CacheReadInputTokenCount_Global-Units"},
		{"legacy cache write in-region", sonnet46, "us-east-2", CacheWrite, inRegion, "USE2-MP:USE2_CacheWriteInputTokenCount-Units"}, // seen (bill)
		{"legacy cache write geo", sonnet46, "us-east-2", CacheWrite, geo, "USE2-MP:USE2_CacheWriteInputTokenCount-Units"},
		{"legacy cache write global", sonnet46, "us-east-2", CacheWrite, global, "USE2-MP:USE2_CacheWriteInputTokenCount_Global-Units"},
		{"legacy 1h write in-region", sonnet46, "us-east-1", CacheWrite1h, inRegion, "USE1-MP:USE1_CacheWrite1hInputTokenCount-Units"},
		{"legacy 1h write geo", sonnet46, "us-east-1", CacheWrite1h, geo, "USE1-MP:USE1_CacheWrite1hInputTokenCount-Units"},
		{"legacy 1h write global", sonnet46, "us-east-1", CacheWrite1h, global, "USE1-MP:USE1_CacheWrite1hInputTokenCount_Global-Units"}, // seen
		// Legacy qualifiers.
		{"legacy long context", sonnet46, "us-east-1", Input, Variant{LongContext: true}, "USE1-MP:USE1_InputTokenCount_LCtx-Units"}, // seen (rate card)
		{"legacy long context global 1h", sonnet46, "ap-northeast-2", CacheWrite1h, Variant{Scope: catalog.ScopeGlobal, LongContext: true},
			"APN2-MP:APN2_CacheWrite1hInputTokenCount_LCtx_Global-Units"},
		{"legacy latency optimized", haiku35, "us-west-2", Output, Variant{LatencyOptimized: true}, "USW2-MP:USW2_OutputTokenCount_LatencyOptimized-Units"},
		{"legacy priority", sonnet46, "us-east-1", Input, Variant{Tier: catalog.TierPriority}, "USE1-MP:USE1_InputTokenCount_Priority-Units"},
		{"legacy flex global", sonnet46, "us-east-1", Output, Variant{Tier: catalog.TierFlex, Scope: catalog.ScopeGlobal}, "USE1-MP:USE1_OutputTokenCount_Global_Flex-Units"},
		{"legacy default tier is Standard", sonnet46, "us-east-1", Input, Variant{Tier: catalog.TierDefault}, "USE1-MP:USE1_InputTokenCount-Units"},
		{"legacy eu-west-1 code", sonnet46, "eu-west-1", Input, geo, "EU-MP:EU_InputTokenCount-Units"},
		// Current scheme, every kind in every scope.
		{"current input in-region", opus47, "us-east-1", Input, inRegion, "USE1-MP:USE1_input_tokens_standard-Units"},      // seen
		{"current input geo", opus47, "us-east-1", Input, geo, "USE1-MP:USE1_input_tokens_standard-Units"},                 // seen
		{"current input global", opus47, "us-west-2", Input, global, "USW2-MP:USW2_input_tokens_global_standard-Units"},    // seen
		{"current output in-region", opus47, "us-west-2", Output, inRegion, "USW2-MP:USW2_output_tokens_standard-Units"},   // seen
		{"current output geo", opus47, "us-west-2", Output, geo, "USW2-MP:USW2_output_tokens_standard-Units"},              // seen
		{"current output global", opus47, "us-west-2", Output, global, "USW2-MP:USW2_output_tokens_global_standard-Units"}, // seen
		{"current cache read in-region", opus47, "us-west-2", CacheRead, inRegion, "USW2-MP:USW2_cache_read_tokens_standard-Units"},
		{"current cache read geo", opus47, "us-west-2", CacheRead, geo, "USW2-MP:USW2_cache_read_tokens_standard-Units"},
		{"current cache read global", opus47, "us-west-2", CacheRead, global, "USW2-MP:USW2_cache_read_tokens_global_standard-Units"},
		{"current cache write in-region", opus47, "us-west-2", CacheWrite, inRegion, "USW2-MP:USW2_cache_write_tokens_standard-Units"},
		{"current cache write geo", opus47, "us-west-2", CacheWrite, geo, "USW2-MP:USW2_cache_write_tokens_standard-Units"},
		{"current cache write global", opus47, "us-west-2", CacheWrite, global, "USW2-MP:USW2_cache_write_tokens_global_standard-Units"},
		{"current 1h write in-region", opus47, "us-west-2", CacheWrite1h, inRegion, "USW2-MP:USW2_cache_write_tokens_1h_standard-Units"},
		{"current 1h write geo", opus47, "us-west-2", CacheWrite1h, geo, "USW2-MP:USW2_cache_write_tokens_1h_standard-Units"},
		{"current 1h write global", opus47, "us-west-2", CacheWrite1h, global, "USW2-MP:USW2_cache_write_tokens_1h_global_standard-Units"},
		// Current qualifiers.
		{"current long context", opus47, "us-east-1", Input, Variant{LongContext: true}, "USE1-MP:USE1_input_tokens_long_ctx_standard-Units"},
		{"current long context global", opus47, "us-east-1", Output, Variant{Scope: catalog.ScopeGlobal, LongContext: true},
			"USE1-MP:USE1_output_tokens_long_ctx_global_standard-Units"},
		{"current long context 1h", opus47, "us-east-1", CacheWrite1h, Variant{LongContext: true}, "USE1-MP:USE1_cache_write_tokens_1h_long_ctx_standard-Units"},
		{"current priority", opus47, "ap-northeast-1", Input, Variant{Tier: catalog.TierPriority}, "APN1-MP:APN1_input_tokens_priority-Units"},
		{"current flex global", opus47, "us-east-1", Input, Variant{Tier: catalog.TierFlex, Scope: catalog.ScopeGlobal}, "USE1-MP:USE1_input_tokens_global_flex-Units"},
		{"current flex cache read long context", opus47, "us-east-1", CacheRead, Variant{Tier: catalog.TierFlex, LongContext: true},
			"USE1-MP:USE1_cache_read_tokens_long_ctx_flex-Units"},
		{"current latency optimized", opus47, "us-east-1", Input, Variant{LatencyOptimized: true}, "USE1-MP:USE1_input_tokens_standard_latency_optimized-Units"},
		{"current eu-west-1 code", opus47, "eu-west-1", CacheRead, geo, "EU-MP:EU_cache_read_tokens_standard-Units"},
		// No region: the dimension without the region code.
		{"no region", sonnet46, "", Input, Variant{}, "MP:InputTokenCount-Units"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := n.UsageTypeOf(tt.region, tt.model, tt.kind, tt.v); got != tt.want {
				t.Errorf("UsageTypeOf(%q, %s, %v, %+v) = %q, want %q", tt.region, tt.model, tt.kind, tt.v, got, tt.want)
			}
			if got := n.PricingUnit(tt.model, tt.v); got != MarketplacePricingUnit {
				t.Errorf("PricingUnit = %q, want %q", got, MarketplacePricingUnit)
			}
		})
	}
}

// TestMarketplaceReservedKeepsTollgateNames checks that a marketplace
// model's reserved-tier tokens and reserved-capacity hours keep
// Tollgate's classic-shaped names: AWS's reserved rows are commitments per
// tokens-per-minute, which Tollgate does not name.
func TestMarketplaceReservedKeepsTollgateNames(t *testing.T) {
	n := NewNamer(catalog.Default())
	const sonnet45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
	v := Variant{Tier: catalog.TierReserved}
	if got, want := n.UsageTypeOf("us-east-1", sonnet45, Output, v), "USE1-Claude4.5Sonnet-output-tokens-reserved"; got != want {
		t.Errorf("reserved tier usage type = %q, want %q", got, want)
	}
	if got := n.PricingUnit(sonnet45, v); got != PricingUnit {
		t.Errorf("reserved tier pricing unit = %q, want %q", got, PricingUnit)
	}
	if got, want := n.FixedUsageType("us-east-1", sonnet45), "USE1-Claude4.5Sonnet-reserved-capacity-hours"; got != want {
		t.Errorf("FixedUsageType = %q, want %q", got, want)
	}
}

// TestMarketplaceProducts checks the service and product code of
// marketplace models, and that an operator's catalogue can give the
// Marketplace product code.
func TestMarketplaceProducts(t *testing.T) {
	n := NewNamer(catalog.Default())
	for model, want := range map[string]string{
		"anthropic.claude-3-haiku-20240307-v1:0":    "Claude 3 Haiku (Amazon Bedrock Edition)",
		"anthropic.claude-3-5-sonnet-20241022-v2:0": "Claude 3.5 Sonnet v2 (Amazon Bedrock Edition)",
		"anthropic.claude-sonnet-4-5-20250929-v1:0": "Claude Sonnet 4.5 (Amazon Bedrock Edition)",
		"anthropic.claude-opus-5":                   "Claude Opus 5 (Amazon Bedrock Edition)",
		"cohere.command-r-plus-v1:0":                "Cohere Command R+ (Amazon Bedrock Edition)",
		"ai21.jamba-1-5-large-v1:0":                 "Jamba 1.5 Large (Amazon Bedrock Edition)",
		"writer.palmyra-x5-v1:0":                    "Palmyra X5 (Amazon Bedrock Edition)",
	} {
		if got := n.Service(model); got != want {
			t.Errorf("Service(%s) = %q, want %q", model, got, want)
		}
		if got := n.ProductCode(model); got != MarketplaceServiceCode {
			t.Errorf("ProductCode(%s) = %q, want %q", model, got, MarketplaceServiceCode)
		}
		if _, ok := n.Marketplace(model); !ok {
			t.Errorf("Marketplace(%s) = false, want true", model)
		}
	}
	if _, ok := n.Marketplace("amazon.nova-pro-v1:0"); ok {
		t.Error("Marketplace(Nova Pro) = true: Amazon Bedrock bills Nova itself")
	}

	op, err := catalog.Parse([]byte(`models:
  - id: vendor.model-v1:0
    name: Vendor Model
    provider: Vendor
    inputModalities: [TEXT]
    outputModalities: [TEXT]
    inferenceTypes: [ON_DEMAND]
    lifecycle: ACTIVE
    regions: [us-east-1]
    family: converse-only
    marketplace: {product: "Vendor Model (Amazon Bedrock Edition)", productCode: 8jp8ymn3kcx5l8xvdq2udu5j3, usageTypes: current}
    prices: [{effective: 2026-01-01, input: "1", output: "1", source: test}]
`))
	if err != nil {
		t.Fatal(err)
	}
	on := NewNamer(op)
	if got, want := on.ProductCode("vendor.model-v1:0"), "8jp8ymn3kcx5l8xvdq2udu5j3"; got != want {
		t.Errorf("ProductCode with a catalogued product code = %q, want %q", got, want)
	}
	if got, want := on.UsageTypeOf("us-east-1", "vendor.model-v1:0", Output, Variant{}), "USE1-MP:USE1_output_tokens_standard-Units"; got != want {
		t.Errorf("UsageTypeOf = %q, want %q", got, want)
	}
	unknown := NewNamer(nil)
	if got := unknown.Service("anthropic.claude-3-haiku-20240307-v1:0"); got != ServiceName {
		t.Errorf("a Namer without a catalogue: Service = %q, want %q", got, ServiceName)
	}
	if got, want := unknown.UsageTypeOf("us-east-1", "vendor.new-model", Input, Variant{}), "USE1-vendor.new-model-input-tokens"; got != want {
		t.Errorf("unknown model: UsageTypeOf = %q, want %q", got, want)
	}
}
