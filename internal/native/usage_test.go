package native

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tollgate-dev/tollgate/internal/converse"
)

func TestUsageFromResponse(t *testing.T) {
	tests := []struct {
		name, family, body string
		want               converse.Usage
		wantOK             bool
	}{
		{
			name:   "anthropic",
			family: FamilyAnthropic,
			body: `{"id":"msg_bdrk_01Xyz","type":"message","role":"assistant","model":"claude-3-haiku-20240307",
				"content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn","stop_sequence":null,
				"usage":{"input_tokens":14,"cache_creation_input_tokens":0,"cache_read_input_tokens":100,"output_tokens":8}}`,
			want:   converse.Usage{InputTokens: 14, OutputTokens: 8, TotalTokens: 22, CacheReadInputTokens: 100},
			wantOK: true,
		},
		{
			name:   "nova",
			family: FamilyNova,
			body: `{"output":{"message":{"role":"assistant","content":[{"text":"Hi"}]}},"stopReason":"end_turn",
				"usage":{"inputTokens":5,"outputTokens":9,"totalTokens":14,"cacheReadInputTokenCount":0,"cacheWriteInputTokenCount":3}}`,
			want:   converse.Usage{InputTokens: 5, OutputTokens: 9, TotalTokens: 14, CacheWriteInputTokens: 3},
			wantOK: true,
		},
		{
			name:   "titan text",
			family: FamilyTitanText,
			body:   `{"inputTextTokenCount":6,"results":[{"tokenCount":40,"outputText":"...","completionReason":"FINISH"}]}`,
			want:   converse.Usage{InputTokens: 6, OutputTokens: 40, TotalTokens: 46},
			wantOK: true,
		},
		{
			name:   "titan embed",
			family: FamilyTitanEmbed,
			body:   `{"embedding":[0.1,0.2],"inputTextTokenCount":7}`,
			want:   converse.Usage{InputTokens: 7, TotalTokens: 7},
			wantOK: true,
		},
		{
			name:   "llama",
			family: FamilyLlama,
			body:   `{"generation":"Paris.","prompt_token_count":23,"generation_token_count":3,"stop_reason":"stop"}`,
			want:   converse.Usage{InputTokens: 23, OutputTokens: 3, TotalTokens: 26},
			wantOK: true,
		},
		{
			name:   "mistral text has no usage",
			family: FamilyMistral,
			body:   `{"outputs":[{"text":"Lemon.","stop_reason":"stop"}]}`,
		},
		{
			name:   "jamba",
			family: FamilyJamba,
			body:   `{"id":"chat-1","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":4,"total_tokens":14}}`,
			want:   converse.Usage{InputTokens: 10, OutputTokens: 4, TotalTokens: 14},
			wantOK: true,
		},
		{
			name:   "cohere command",
			family: FamilyCohereCommand,
			body:   `{"response_id":"r","text":"Hi","generation_id":"g","finish_reason":"COMPLETE","meta":{"api_version":{"version":"1"},"billed_units":{"input_tokens":11,"output_tokens":2}}}`,
			want:   converse.Usage{InputTokens: 11, OutputTokens: 2, TotalTokens: 13},
			wantOK: true,
		},
		{name: "not JSON", family: FamilyAnthropic, body: `not json`},
		{name: "no usage", family: FamilyAnthropic, body: `{"type":"message"}`},
		{name: "negative count", family: FamilyLlama, body: `{"prompt_token_count":-1}`},
		{name: "count of wrong type", family: FamilyLlama, body: `{"prompt_token_count":"3"}`},
		{name: "unknown family", family: "nope", body: `{"usage":{"input_tokens":1}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := UsageFromResponse(tt.family, []byte(tt.body))
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("usage mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestUsageFromChunk(t *testing.T) {
	tests := []struct {
		name, family, chunk string
		want                converse.Usage
		wantOK              bool
	}{
		{
			name:   "anthropic message_start",
			family: FamilyAnthropic,
			chunk: `{"type":"message_start","message":{"id":"msg_bdrk_01","type":"message","role":"assistant","model":"claude-3-haiku-20240307",
				"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":1}}}`,
			want:   converse.Usage{InputTokens: 25, OutputTokens: 1, TotalTokens: 26},
			wantOK: true,
		},
		{
			name:   "anthropic message_delta",
			family: FamilyAnthropic,
			chunk:  `{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}`,
			want:   converse.Usage{OutputTokens: 15, TotalTokens: 15},
			wantOK: true,
		},
		{
			name:   "anthropic text delta",
			family: FamilyAnthropic,
			chunk:  `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}`,
		},
		{
			name:   "anthropic message_stop metrics",
			family: FamilyAnthropic,
			chunk: `{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":25,"outputTokenCount":15,
				"invocationLatency":812,"firstByteLatency":301,"cacheReadInputTokenCount":4}}`,
			want:   converse.Usage{InputTokens: 25, OutputTokens: 15, TotalTokens: 40, CacheReadInputTokens: 4},
			wantOK: true,
		},
		{
			name:   "nova metadata",
			family: FamilyNova,
			chunk: `{"metadata":{"usage":{"inputTokens":8,"outputTokens":53},"metrics":{},"trace":{}},
				"amazon-bedrock-invocationMetrics":{"inputTokenCount":8,"outputTokenCount":53,"invocationLatency":700,"firstByteLatency":200}}`,
			want:   converse.Usage{InputTokens: 8, OutputTokens: 53, TotalTokens: 61},
			wantOK: true,
		},
		{
			name:   "nova delta",
			family: FamilyNova,
			chunk:  `{"contentBlockDelta":{"delta":{"text":"Hi"},"contentBlockIndex":0}}`,
		},
		{
			name:   "titan first chunk",
			family: FamilyTitanText,
			chunk:  `{"outputText":"Hi","index":0,"totalOutputTextTokenCount":null,"completionReason":null,"inputTextTokenCount":9}`,
			want:   converse.Usage{InputTokens: 9, TotalTokens: 9},
			wantOK: true,
		},
		{
			name:   "llama intermediate chunk",
			family: FamilyLlama,
			chunk:  `{"generation":" the","prompt_token_count":null,"generation_token_count":4,"stop_reason":null}`,
			want:   converse.Usage{OutputTokens: 4, TotalTokens: 4},
			wantOK: true,
		},
		{
			name:   "llama last chunk",
			family: FamilyLlama,
			chunk: `{"generation":"","prompt_token_count":null,"generation_token_count":40,"stop_reason":"stop",
				"amazon-bedrock-invocationMetrics":{"inputTokenCount":18,"outputTokenCount":40,"invocationLatency":1200,"firstByteLatency":150}}`,
			want:   converse.Usage{InputTokens: 18, OutputTokens: 40, TotalTokens: 58},
			wantOK: true,
		},
		{
			name:   "mistral text chunk",
			family: FamilyMistral,
			chunk:  `{"outputs":[{"text":"Lemon","stop_reason":null}]}`,
		},
		{
			name:   "cohere stream-end",
			family: FamilyCohereCommand,
			chunk:  `{"is_finished":true,"event_type":"stream-end","response":{"meta":{"billed_units":{"input_tokens":3,"output_tokens":2}}},"finish_reason":"COMPLETE"}`,
			want:   converse.Usage{InputTokens: 3, OutputTokens: 2, TotalTokens: 5},
			wantOK: true,
		},
		{name: "not JSON", family: FamilyLlama, chunk: `{"generation":`},
		{name: "JSON array", family: FamilyLlama, chunk: `[1,2]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := UsageFromChunk(tt.family, []byte(tt.chunk))
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("usage mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

// TestUsageRoundTrip checks that every encoder's final chunk and every
// codec's response report the usage they were given.
func TestUsageRoundTrip(t *testing.T) {
	for _, family := range []string{FamilyAnthropic, FamilyNova, FamilyTitanText, FamilyLlama, FamilyMistral, FamilyCohereCommand, FamilyJamba} {
		t.Run(family, func(t *testing.T) {
			c, clk := testCodec(t, family)
			chunks := runStreamRaw(t, c.Stream("model"), clk, textSteps())
			got, ok := UsageFromChunk(family, chunks[len(chunks)-1])
			if !ok {
				t.Fatalf("UsageFromChunk(last chunk %s): no usage", chunks[len(chunks)-1])
			}
			if diff := cmp.Diff(got, converse.Usage{InputTokens: 12, OutputTokens: 5, TotalTokens: 17}); diff != "" {
				t.Errorf("stream usage mismatch (-got +want):\n%s", diff)
			}
			body, err := c.Response(textResponse("end_turn"), "model")
			if err != nil {
				t.Fatalf("Response: %v", err)
			}
			got, ok = UsageFromResponse(family, body)
			if family == FamilyMistral {
				if ok {
					t.Errorf("UsageFromResponse(mistral) = %+v, want none", got)
				}
				return
			}
			if diff := cmp.Diff(got, converse.Usage{InputTokens: 12, OutputTokens: 5, TotalTokens: 17}); !ok || diff != "" {
				t.Errorf("response usage mismatch, ok=%v (-got +want):\n%s", ok, diff)
			}
		})
	}
}

func runStreamRaw(t *testing.T, enc StreamEncoder, clk *fakeClock, steps []streamStep) [][]byte {
	t.Helper()
	var out [][]byte
	for _, s := range steps {
		clk.t = clk.t.Add(s.after)
		chunks, err := enc.Encode(s.ev)
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		out = append(out, chunks...)
	}
	return out
}
