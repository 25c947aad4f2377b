package native

import (
	"bytes"
	"encoding/json"
	"math"

	"github.com/tollgate-dev/tollgate/internal/converse"
)

// UsageFromResponse reads the token usage a native InvokeModel response
// body of family reports (used when a real Bedrock answers natively). It
// reports false when the body is not JSON or carries no usage, as
// Mistral's text-completion responses do (Bedrock reports their usage only
// in the X-Amzn-Bedrock-Input-Token-Count and -Output-Token-Count headers).
func UsageFromResponse(family string, body []byte) (converse.Usage, bool) {
	m, ok := decodeMap(body)
	if !ok {
		return converse.Usage{}, false
	}
	var u usageReader
	switch family {
	case FamilyAnthropic:
		usage := dig(m, "usage")
		u.in(usage, "input_tokens")
		u.out(usage, "output_tokens")
		u.cacheRead(usage, "cache_read_input_tokens")
		u.cacheWrite(usage, "cache_creation_input_tokens")
	case FamilyNova:
		usage := dig(m, "usage")
		u.in(usage, "inputTokens")
		u.out(usage, "outputTokens")
		u.cacheRead(usage, "cacheReadInputTokenCount")
		u.cacheWrite(usage, "cacheWriteInputTokenCount")
	case FamilyTitanText:
		u.in(m, "inputTextTokenCount")
		if results, ok := m["results"].([]any); ok {
			for _, r := range results {
				if r, ok := r.(map[string]any); ok {
					if n, ok := num(r["tokenCount"]); ok {
						u.u.OutputTokens += n
						u.found = true
					}
				}
			}
		}
	case FamilyTitanEmbed:
		u.in(m, "inputTextTokenCount")
	case FamilyLlama:
		u.in(m, "prompt_token_count")
		u.out(m, "generation_token_count")
	case FamilyMistral, FamilyJamba:
		usage := dig(m, "usage")
		u.in(usage, "prompt_tokens")
		u.out(usage, "completion_tokens")
	case FamilyCohereCommand, FamilyCohereEmbed:
		billed := dig(m, "meta", "billed_units")
		u.in(billed, "input_tokens")
		u.out(billed, "output_tokens")
	}
	return u.result()
}

// UsageFromChunk reads the token usage a native stream chunk of family
// reports: the "amazon-bedrock-invocationMetrics" block Bedrock adds to the
// last chunk (the call's totals), or else the family's own counts
// (Anthropic message_start.message.usage and message_delta.usage, Nova
// metadata.usage, Titan inputTextTokenCount and totalOutputTextTokenCount,
// Llama prompt_token_count and generation_token_count, Jamba usage, Cohere
// stream-end billed units). Counts a chunk does not report are zero; the
// counts are running totals, so a caller keeps the largest value seen for
// each member and prefers the invocation metrics when they come. It
// reports false when the chunk is not JSON or carries no usage.
func UsageFromChunk(family string, chunk []byte) (converse.Usage, bool) {
	m, ok := decodeMap(chunk)
	if !ok {
		return converse.Usage{}, false
	}
	var u usageReader
	if metrics := dig(m, metricsKey); metrics != nil {
		u.in(metrics, "inputTokenCount")
		u.out(metrics, "outputTokenCount")
		u.cacheRead(metrics, "cacheReadInputTokenCount")
		u.cacheWrite(metrics, "cacheWriteInputTokenCount")
		if u.found {
			return u.result()
		}
	}
	switch family {
	case FamilyAnthropic:
		usage := dig(m, "usage")
		if t, _ := m["type"].(string); t == "message_start" {
			usage = dig(m, "message", "usage")
		}
		u.in(usage, "input_tokens")
		u.out(usage, "output_tokens")
		u.cacheRead(usage, "cache_read_input_tokens")
		u.cacheWrite(usage, "cache_creation_input_tokens")
	case FamilyNova:
		usage := dig(m, "metadata", "usage")
		u.in(usage, "inputTokens")
		u.out(usage, "outputTokens")
		u.cacheRead(usage, "cacheReadInputTokenCount")
		u.cacheWrite(usage, "cacheWriteInputTokenCount")
	case FamilyTitanText:
		u.in(m, "inputTextTokenCount")
		u.out(m, "totalOutputTextTokenCount")
	case FamilyLlama:
		u.in(m, "prompt_token_count")
		u.out(m, "generation_token_count")
	case FamilyMistral, FamilyJamba:
		usage := dig(m, "usage")
		u.in(usage, "prompt_tokens")
		u.out(usage, "completion_tokens")
	case FamilyCohereCommand:
		billed := dig(m, "response", "meta", "billed_units")
		u.in(billed, "input_tokens")
		u.out(billed, "output_tokens")
	}
	return u.result()
}

// usageReader accumulates the counts found in a decoded body.
type usageReader struct {
	u     converse.Usage
	found bool
}

func (r *usageReader) read(m map[string]any, key string, dst *int64) {
	if n, ok := num(m[key]); ok {
		*dst = n
		r.found = true
	}
}

func (r *usageReader) in(m map[string]any, key string)  { r.read(m, key, &r.u.InputTokens) }
func (r *usageReader) out(m map[string]any, key string) { r.read(m, key, &r.u.OutputTokens) }
func (r *usageReader) cacheRead(m map[string]any, key string) {
	r.read(m, key, &r.u.CacheReadInputTokens)
}
func (r *usageReader) cacheWrite(m map[string]any, key string) {
	r.read(m, key, &r.u.CacheWriteInputTokens)
}

func (r *usageReader) result() (converse.Usage, bool) {
	if !r.found {
		return converse.Usage{}, false
	}
	r.u.TotalTokens = r.u.InputTokens + r.u.OutputTokens
	return r.u, true
}

// decodeMap decodes a JSON object, keeping numbers exact.
func decodeMap(b []byte) (map[string]any, bool) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if d.Decode(&m) != nil || m == nil {
		return nil, false
	}
	return m, true
}

// dig follows keys through nested objects; it returns nil when a key is
// missing or not an object.
func dig(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		if m == nil {
			return nil
		}
		m, _ = m[k].(map[string]any)
	}
	return m
}

// num reads a non-negative integral JSON number.
func num(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	if i, err := n.Int64(); err == nil {
		return i, i >= 0
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f != math.Trunc(f) || f > math.MaxInt64/2 {
		return 0, false
	}
	return int64(f), true
}
