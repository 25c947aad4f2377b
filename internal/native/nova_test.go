package native

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tollgate-dev/tollgate/internal/converse"
)

func TestNovaRequest(t *testing.T) {
	tests := []struct {
		name string
		body string
		want *converse.Request
	}{
		{
			name: "messages-v1 with camelCase config",
			body: `{"schemaVersion":"messages-v1",
				"system":[{"text":"Be brief."}],
				"messages":[{"role":"user","content":[{"text":"Hi"},{"image":{"format":"png","source":{"bytes":"iVBORw0KGgo="}}}]}],
				"inferenceConfig":{"maxTokens":300,"temperature":0.7,"topP":0.9,"topK":20,"stopSequences":["END"]}}`,
			want: &converse.Request{
				System:   []converse.SystemBlock{sys("Be brief.")},
				Messages: []converse.Message{user(text("Hi"), image("png", []byte("\x89PNG\r\n\x1a\n")))},
				InferenceConfig: &converse.InferenceConfig{
					MaxTokens: ptr[int32](300), Temperature: ptr[float32](0.7), TopP: ptr[float32](0.9), StopSequences: []string{"END"},
				},
				AdditionalModelRequestFields: json.RawMessage(`{"inferenceConfig":{"topK":20}}`),
			},
		},
		{
			name: "snake_case config and tools",
			body: `{"messages":[
					{"role":"user","content":[{"text":"Weather?"}]},
					{"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"get_weather","input":{"city":"Paris"}}}]},
					{"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[{"json":{"temp":18}}]}}]}],
				"inferenceConfig":{"max_new_tokens":100,"top_p":0.5},
				"toolConfig":{"tools":[{"toolSpec":{"name":"get_weather","description":"d","inputSchema":{"json":{"type":"object"}}}}],"toolChoice":{"any":{}}}}`,
			want: &converse.Request{
				Messages: []converse.Message{
					user(text("Weather?")),
					assistant(toolUse("t1", "get_weather", `{"city":"Paris"}`)),
					user(converse.ContentBlock{ToolResult: &converse.ToolResultBlock{ToolUseID: "t1", Content: []converse.ToolResultContent{{JSON: json.RawMessage(`{"temp":18}`)}}}}),
				},
				InferenceConfig: &converse.InferenceConfig{MaxTokens: ptr[int32](100), TopP: ptr[float32](0.5)},
				ToolConfig: &converse.ToolConfig{
					Tools:      []converse.Tool{toolSpec("get_weather", "d", `{"type":"object"}`)},
					ToolChoice: json.RawMessage(`{"any":{}}`),
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := testCodec(t, FamilyNova)
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

func TestNovaResponse(t *testing.T) {
	tests := []struct {
		name string
		resp *converse.Response
		want string
	}{
		{
			name: "text",
			resp: textResponse("end_turn"),
			want: `{"output":{"message":{"role":"assistant","content":[{"text":"Hello world"}]}},"stopReason":"end_turn",
				"usage":{"inputTokens":12,"outputTokens":5,"totalTokens":17,"cacheReadInputTokenCount":0,"cacheWriteInputTokenCount":0}}`,
		},
		{
			name: "tool use",
			resp: toolResponse(),
			want: `{"output":{"message":{"role":"assistant","content":[{"text":"Let me check."},
					{"toolUse":{"toolUseId":"toolu_01","name":"get_weather","input":{"city":"Paris"}}}]}},
				"stopReason":"tool_use",
				"usage":{"inputTokens":20,"outputTokens":30,"totalTokens":50,"cacheReadInputTokenCount":0,"cacheWriteInputTokenCount":0}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := testCodec(t, FamilyNova)
			got, err := c.Response(tt.resp, "amazon.nova-lite-v1:0")
			if err != nil {
				t.Fatalf("Response: %v", err)
			}
			if diff := diffJSON(t, got, []byte(tt.want)); diff != "" {
				t.Errorf("Response mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestNovaStream(t *testing.T) {
	const d = 100 * time.Millisecond
	tests := []struct {
		name  string
		steps []streamStep
		want  []string
	}{
		{
			name:  "text",
			steps: textSteps(),
			want: []string{
				`{"messageStart":{"role":"assistant"}}`,
				`{"contentBlockDelta":{"delta":{"text":"Hello"},"contentBlockIndex":0}}`,
				`{"contentBlockDelta":{"delta":{"text":" world"},"contentBlockIndex":0}}`,
				`{"contentBlockStop":{"contentBlockIndex":0}}`,
				`{"messageStop":{"stopReason":"end_turn"}}`,
				`{"metadata":{"usage":{"inputTokens":12,"outputTokens":5},"metrics":{},"trace":{}},
				  "amazon-bedrock-invocationMetrics":{"inputTokenCount":12,"outputTokenCount":5,"invocationLatency":600,"firstByteLatency":100}}`,
			},
		},
		{
			name: "tool use",
			steps: []streamStep{
				{d, evStart()},
				{d, evToolStart(0, "t1", "get_weather")},
				{d, evToolInput(0, `{"city":"Paris"}`)},
				{d, evBlockStop(0)},
				{d, evStop("tool_use")},
				{d, evMetadata(20, 30, 900)},
			},
			want: []string{
				`{"messageStart":{"role":"assistant"}}`,
				`{"contentBlockStart":{"start":{"toolUse":{"toolUseId":"t1","name":"get_weather"}},"contentBlockIndex":0}}`,
				`{"contentBlockDelta":{"delta":{"toolUse":{"input":"{\"city\":\"Paris\"}"}},"contentBlockIndex":0}}`,
				`{"contentBlockStop":{"contentBlockIndex":0}}`,
				`{"messageStop":{"stopReason":"tool_use"}}`,
				`{"metadata":{"usage":{"inputTokens":20,"outputTokens":30},"metrics":{},"trace":{}},
				  "amazon-bedrock-invocationMetrics":{"inputTokenCount":20,"outputTokenCount":30,"invocationLatency":900,"firstByteLatency":100}}`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, clk := testCodec(t, FamilyNova)
			got := runStream(t, c.Stream("amazon.nova-lite-v1:0"), clk, tt.steps)
			if diff := cmp.Diff(got, decodeAll(t, tt.want)); diff != "" {
				t.Errorf("chunks mismatch (-got +want):\n%s", diff)
			}
		})
	}
}
