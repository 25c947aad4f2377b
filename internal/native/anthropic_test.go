package native

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tollgate-dev/tollgate/internal/converse"
)

func TestAnthropicRequest(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n")
	tests := []struct {
		name string
		body string
		want *converse.Request
	}{
		{
			name: "string content",
			body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":512,
				"messages":[{"role":"user","content":"Hello"}]}`,
			want: &converse.Request{
				Messages:        []converse.Message{user(text("Hello"))},
				InferenceConfig: &converse.InferenceConfig{MaxTokens: ptr[int32](512)},
			},
		},
		{
			name: "blocks, tools and sampling",
			body: `{
				"anthropic_version": "bedrock-2023-05-31",
				"max_tokens": 1024,
				"system": "You are a weather bot.",
				"temperature": 0.5, "top_p": 0.9, "top_k": 250,
				"stop_sequences": ["\n\nHuman:"],
				"messages": [
					{"role": "user", "content": [
						{"type": "text", "text": "Weather here?"},
						{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
					]},
					{"role": "assistant", "content": [
						{"type": "text", "text": "Let me check."},
						{"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}}
					]},
					{"role": "user", "content": [
						{"type": "tool_result", "tool_use_id": "toolu_01", "content": "18 C, sunny"}
					]}
				],
				"tools": [{"name": "get_weather", "description": "Current weather",
					"input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}],
				"tool_choice": {"type": "auto"}
			}`,
			want: &converse.Request{
				System: []converse.SystemBlock{sys("You are a weather bot.")},
				Messages: []converse.Message{
					user(text("Weather here?"), image("png", png)),
					assistant(text("Let me check."), toolUse("toolu_01", "get_weather", `{"city":"Paris"}`)),
					user(converse.ContentBlock{ToolResult: &converse.ToolResultBlock{
						ToolUseID: "toolu_01",
						Content:   []converse.ToolResultContent{{Text: ptr("18 C, sunny")}},
					}}),
				},
				InferenceConfig: &converse.InferenceConfig{
					MaxTokens:     ptr[int32](1024),
					Temperature:   ptr[float32](0.5),
					TopP:          ptr[float32](0.9),
					StopSequences: []string{"\n\nHuman:"},
				},
				ToolConfig: &converse.ToolConfig{
					Tools:      []converse.Tool{toolSpec("get_weather", "Current weather", `{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`)},
					ToolChoice: json.RawMessage(`{"auto":{}}`),
				},
				AdditionalModelRequestFields: json.RawMessage(`{"top_k":250}`),
			},
		},
		{
			name: "cache control, thinking, merged turns, pass-through members",
			body: `{
				"anthropic_version": "bedrock-2023-05-31",
				"max_tokens": 2048,
				"system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
				"thinking": {"type": "enabled", "budget_tokens": 1024},
				"anthropic_beta": ["interleaved-thinking-2025-05-14"],
				"messages": [
					{"role": "user", "content": "Part one."},
					{"role": "user", "content": [{"type": "text", "text": "Part two.", "cache_control": {"type": "ephemeral"}}]},
					{"role": "assistant", "content": [
						{"type": "thinking", "thinking": "Hmm.", "signature": "c2ln"},
						{"type": "redacted_thinking", "data": "cmVk"},
						{"type": "text", "text": "Done."}
					]},
					{"role": "user", "content": [
						{"type": "tool_result", "tool_use_id": "toolu_02", "is_error": true,
						 "content": [{"type": "text", "text": "timeout"}]}
					]}
				],
				"tools": [
					{"name": "lookup", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}},
					{"type": "bash_20250124", "name": "bash"}
				],
				"tool_choice": {"type": "tool", "name": "lookup"}
			}`,
			want: &converse.Request{
				System: []converse.SystemBlock{sys("Be brief."), {CachePoint: json.RawMessage(`{"type":"default"}`)}},
				Messages: []converse.Message{
					user(text("Part one."), text("Part two."), converse.ContentBlock{CachePoint: json.RawMessage(`{"type":"default"}`)}),
					assistant(
						converse.ContentBlock{ReasoningContent: json.RawMessage(`{"reasoningText":{"text":"Hmm.","signature":"c2ln"}}`)},
						converse.ContentBlock{ReasoningContent: json.RawMessage(`{"redactedContent":"cmVk"}`)},
						text("Done."),
					),
					user(converse.ContentBlock{ToolResult: &converse.ToolResultBlock{
						ToolUseID: "toolu_02",
						Content:   []converse.ToolResultContent{{Text: ptr("timeout")}},
						Status:    "error",
					}}),
				},
				InferenceConfig: &converse.InferenceConfig{MaxTokens: ptr[int32](2048)},
				ToolConfig: &converse.ToolConfig{
					Tools:      []converse.Tool{toolSpec("lookup", "", `{"type":"object"}`), {CachePoint: json.RawMessage(`{"type":"default"}`)}},
					ToolChoice: json.RawMessage(`{"tool":{"name":"lookup"}}`),
				},
				AdditionalModelRequestFields: json.RawMessage(`{
					"anthropic_beta": ["interleaved-thinking-2025-05-14"],
					"thinking": {"type": "enabled", "budget_tokens": 1024},
					"tools": [{"type": "bash_20250124", "name": "bash"}]
				}`),
			},
		},
		{
			name: "tool_choice none keeps the tools, drops the choice",
			body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,
				"messages":[{"role":"user","content":"hi"}],
				"tools":[{"name":"t","input_schema":{"type":"object"}}],
				"tool_choice":{"type":"none"}}`,
			want: &converse.Request{
				Messages:        []converse.Message{user(text("hi"))},
				InferenceConfig: &converse.InferenceConfig{MaxTokens: ptr[int32](10)},
				ToolConfig:      &converse.ToolConfig{Tools: []converse.Tool{toolSpec("t", "", `{"type":"object"}`)}},
			},
		},
		{
			name: "document block",
			body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,
				"messages":[{"role":"user","content":[
					{"type":"document","title":"notes","source":{"type":"text","media_type":"text/plain","data":"abc"}},
					{"type":"text","text":"Summarise."}]}]}`,
			want: &converse.Request{
				Messages: []converse.Message{user(
					converse.ContentBlock{Document: json.RawMessage(`{"format":"txt","name":"notes","source":{"bytes":"YWJj"}}`)},
					text("Summarise."),
				)},
				InferenceConfig: &converse.InferenceConfig{MaxTokens: ptr[int32](10)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := testCodec(t, FamilyAnthropic)
			got, err := c.Request([]byte(tt.body))
			if err != nil {
				t.Fatalf("Request: %v", err)
			}
			if diff := cmp.Diff(got, tt.want, rawJSON); diff != "" {
				t.Errorf("Request mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestAnthropicResponse(t *testing.T) {
	thinking := &converse.Response{StopReason: "max_tokens"}
	thinking.Output.Message = &converse.Message{Role: "assistant", Content: []converse.ContentBlock{
		{ReasoningContent: json.RawMessage(`{"reasoningText":{"text":"Let me think.","signature":"sig"}}`)},
		text("Answer"),
	}}
	thinking.Usage = converse.Usage{InputTokens: 5, OutputTokens: 7, CacheReadInputTokens: 100, CacheWriteInputTokens: 20}
	thinking.AdditionalModelResponseFields = json.RawMessage(`{"stop_sequence":null}`)

	tests := []struct {
		name    string
		resp    *converse.Response
		modelID string
		want    string
	}{
		{
			name:    "text",
			resp:    textResponse("end_turn"),
			modelID: "anthropic.claude-3-haiku-20240307-v1:0",
			want: `{"id":"msg_bdrk_011111111111111111111111","type":"message","role":"assistant",
				"model":"claude-3-haiku-20240307",
				"content":[{"type":"text","text":"Hello world"}],
				"stop_reason":"end_turn","stop_sequence":null,
				"usage":{"input_tokens":12,"output_tokens":5}}`,
		},
		{
			name:    "tool use",
			resp:    toolResponse(),
			modelID: "us.anthropic.claude-sonnet-4-20250514-v1:0",
			want: `{"id":"msg_bdrk_011111111111111111111111","type":"message","role":"assistant",
				"model":"claude-sonnet-4-20250514",
				"content":[{"type":"text","text":"Let me check."},
					{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{"city":"Paris"}}],
				"stop_reason":"tool_use","stop_sequence":null,
				"usage":{"input_tokens":20,"output_tokens":30}}`,
		},
		{
			name:    "thinking and cache usage",
			resp:    thinking,
			modelID: "anthropic.claude-3-7-sonnet-20250219-v1:0",
			want: `{"id":"msg_bdrk_011111111111111111111111","type":"message","role":"assistant",
				"model":"claude-3-7-sonnet-20250219",
				"content":[{"type":"thinking","thinking":"Let me think.","signature":"sig"},{"type":"text","text":"Answer"}],
				"stop_reason":"max_tokens","stop_sequence":null,
				"usage":{"input_tokens":5,"cache_creation_input_tokens":20,"cache_read_input_tokens":100,"output_tokens":7}}`,
		},
		{
			name: "stop sequence reported in additional fields",
			resp: func() *converse.Response {
				r := textResponse("stop_sequence")
				r.AdditionalModelResponseFields = json.RawMessage(`{"stop_sequence":"END"}`)
				return r
			}(),
			modelID: "anthropic.claude-3-haiku-20240307-v1:0",
			want: `{"id":"msg_bdrk_011111111111111111111111","type":"message","role":"assistant",
				"model":"claude-3-haiku-20240307",
				"content":[{"type":"text","text":"Hello world"}],
				"stop_reason":"stop_sequence","stop_sequence":"END",
				"usage":{"input_tokens":12,"output_tokens":5}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := testCodec(t, FamilyAnthropic)
			got, err := c.Response(tt.resp, tt.modelID)
			if err != nil {
				t.Fatalf("Response: %v", err)
			}
			if diff := diffJSON(t, got, []byte(tt.want)); diff != "" {
				t.Errorf("Response mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestAnthropicStream(t *testing.T) {
	const d = 100 * time.Millisecond
	tests := []struct {
		name  string
		hint  *int64
		steps []streamStep
		want  []string
	}{
		{
			name:  "text",
			steps: textSteps(),
			want: []string{
				`{"type":"message_start","message":{"id":"msg_bdrk_011111111111111111111111","type":"message","role":"assistant",
					"model":"claude-3-haiku-20240307","content":[],"stop_reason":null,"stop_sequence":null,
					"usage":{"input_tokens":0,"output_tokens":1}}}`,
				`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
				`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}`,
				`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" world"}}`,
				`{"type":"content_block_stop","index":0}`,
				`{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":5,"input_tokens":12}}`,
				`{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":12,"outputTokenCount":5,"invocationLatency":600,"firstByteLatency":100}}`,
			},
		},
		{
			name:  "text with input hint",
			hint:  ptr[int64](12),
			steps: textSteps(),
			want: []string{
				`{"type":"message_start","message":{"id":"msg_bdrk_011111111111111111111111","type":"message","role":"assistant",
					"model":"claude-3-haiku-20240307","content":[],"stop_reason":null,"stop_sequence":null,
					"usage":{"input_tokens":12,"output_tokens":1}}}`,
				`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
				`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}`,
				`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" world"}}`,
				`{"type":"content_block_stop","index":0}`,
				`{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":5}}`,
				`{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":12,"outputTokenCount":5,"invocationLatency":600,"firstByteLatency":100}}`,
			},
		},
		{
			name: "tool use",
			steps: []streamStep{
				{d, evStart()},
				{d, evText(0, "Let me check.")},
				{d, evBlockStop(0)},
				{d, evToolStart(1, "toolu_01", "get_weather")},
				{d, evToolInput(1, `{"city":`)},
				{d, evToolInput(1, `"Paris"}`)},
				{d, evBlockStop(1)},
				{d, evStop("tool_use")},
				{d, evMetadata(20, 30, 1500)},
			},
			want: []string{
				`{"type":"message_start","message":{"id":"msg_bdrk_011111111111111111111111","type":"message","role":"assistant",
					"model":"claude-3-haiku-20240307","content":[],"stop_reason":null,"stop_sequence":null,
					"usage":{"input_tokens":0,"output_tokens":1}}}`,
				`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
				`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Let me check."}}`,
				`{"type":"content_block_stop","index":0}`,
				`{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{}}}`,
				`{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}}`,
				`{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"Paris\"}"}}`,
				`{"type":"content_block_stop","index":1}`,
				`{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":30,"input_tokens":20}}`,
				`{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":20,"outputTokenCount":30,"invocationLatency":1500,"firstByteLatency":100}}`,
			},
		},
		{
			name: "no messageStart, open block closed by messageStop",
			steps: []streamStep{
				{d, evText(0, "Hi")},
				{d, evStop("max_tokens")},
				{d, evMetadata(3, 1, 50)},
				{d, evText(0, "ignored after metadata")},
			},
			want: []string{
				`{"type":"message_start","message":{"id":"msg_bdrk_011111111111111111111111","type":"message","role":"assistant",
					"model":"claude-3-haiku-20240307","content":[],"stop_reason":null,"stop_sequence":null,
					"usage":{"input_tokens":0,"output_tokens":1}}}`,
				`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
				`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}`,
				`{"type":"content_block_stop","index":0}`,
				`{"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},"usage":{"output_tokens":1,"input_tokens":3}}`,
				`{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":3,"outputTokenCount":1,"invocationLatency":50,"firstByteLatency":50}}`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, clk := testCodec(t, FamilyAnthropic)
			enc := c.Stream("anthropic.claude-3-haiku-20240307-v1:0")
			if tt.hint != nil {
				enc.(InputTokenHinter).HintInputTokens(*tt.hint)
			}
			got := runStream(t, enc, clk, tt.steps)
			if diff := cmp.Diff(got, decodeAll(t, tt.want)); diff != "" {
				t.Errorf("chunks mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestAnthropicModelName(t *testing.T) {
	tests := []struct{ id, want string }{
		{"anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku-20240307"},
		{"eu.anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet-20241022"},
		{"global.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5-20251001"},
		{"arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-opus-20240229-v1:0", "claude-3-opus-20240229"},
		{"custom-model", "custom-model"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			if got := anthropicModelName(tt.id); got != tt.want {
				t.Errorf("anthropicModelName(%q) = %q, want %q", tt.id, got, tt.want)
			}
		})
	}
}
