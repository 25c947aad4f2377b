package native

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tollgate-dev/tollgate/internal/converse"
)

func TestMistralRequest(t *testing.T) {
	tests := []struct {
		name string
		body string
		want *converse.Request
	}{
		{
			name: "text completion",
			body: `{"prompt":"<s>[INST] What is your favourite condiment? [/INST]","max_tokens":200,"temperature":0.5,"top_p":0.9,"top_k":50,"stop":["</s>"]}`,
			want: &converse.Request{
				Messages: []converse.Message{user(text("What is your favourite condiment?"))},
				InferenceConfig: &converse.InferenceConfig{
					MaxTokens: ptr[int32](200), Temperature: ptr[float32](0.5), TopP: ptr[float32](0.9), StopSequences: []string{"</s>"},
				},
				AdditionalModelRequestFields: json.RawMessage(`{"top_k":50}`),
			},
		},
		{
			name: "chat completion with tools",
			body: `{"messages":[
					{"role":"system","content":"You are a DJ."},
					{"role":"user","content":"What is the most popular song on WZPZ?"},
					{"role":"assistant","content":"","tool_calls":[{"id":"bbc5b7ede","function":{"name":"top_song","arguments":"{\"sign\": \"WZPZ\"}"}}]},
					{"role":"tool","tool_call_id":"bbc5b7ede","content":"Elemental Hotel"}],
				"tools":[{"type":"function","function":{"name":"top_song","description":"Get the top song","parameters":{"type":"object","properties":{"sign":{"type":"string"}}}}}],
				"tool_choice":"any","max_tokens":100,"temperature":0.2}`,
			want: &converse.Request{
				System: []converse.SystemBlock{sys("You are a DJ.")},
				Messages: []converse.Message{
					user(text("What is the most popular song on WZPZ?")),
					assistant(toolUse("bbc5b7ede", "top_song", `{"sign":"WZPZ"}`)),
					user(converse.ContentBlock{ToolResult: &converse.ToolResultBlock{ToolUseID: "bbc5b7ede", Content: []converse.ToolResultContent{{Text: ptr("Elemental Hotel")}}}}),
				},
				InferenceConfig: &converse.InferenceConfig{MaxTokens: ptr[int32](100), Temperature: ptr[float32](0.2)},
				ToolConfig: &converse.ToolConfig{
					Tools:      []converse.Tool{toolSpec("top_song", "Get the top song", `{"type":"object","properties":{"sign":{"type":"string"}}}`)},
					ToolChoice: json.RawMessage(`{"any":{}}`),
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := testCodec(t, FamilyMistral)
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

func TestMistralResponse(t *testing.T) {
	tests := []struct {
		name    string
		form    mistralForm
		modelID string
		resp    *converse.Response
		want    string
	}{
		{
			name:    "text form by model id",
			modelID: "mistral.mistral-7b-instruct-v0:2",
			resp:    textResponse("end_turn"),
			want:    `{"outputs":[{"text":"Hello world","stop_reason":"stop"}]}`,
		},
		{
			name:    "text form, length",
			modelID: "mistral.mixtral-8x7b-instruct-v0:1",
			resp:    textResponse("max_tokens"),
			want:    `{"outputs":[{"text":"Hello world","stop_reason":"length"}]}`,
		},
		{
			name:    "chat form by model id",
			modelID: "mistral.mistral-large-2407-v1:0",
			resp:    textResponse("end_turn"),
			want:    `{"choices":[{"index":0,"message":{"role":"assistant","content":"Hello world"},"stop_reason":"stop","finish_reason":"stop"}]}`,
		},
		{
			name:    "chat form by request, tool calls",
			form:    mistralChat,
			modelID: "mistral.mistral-large-2402-v1:0",
			resp:    toolResponse(),
			want: `{"choices":[{"index":0,"message":{"role":"assistant","content":"Let me check.",
				"tool_calls":[{"id":"toolu_01","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
				"stop_reason":"tool_calls","finish_reason":"tool_calls"}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := testCodec(t, FamilyMistral)
			m := c.(mistralCodec)
			m.form = tt.form
			got, err := m.Response(tt.resp, tt.modelID)
			if err != nil {
				t.Fatalf("Response: %v", err)
			}
			if diff := diffJSON(t, got, []byte(tt.want)); diff != "" {
				t.Errorf("Response mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestMistralForRequest(t *testing.T) {
	tests := []struct {
		name string
		body string
		want mistralForm
	}{
		{"chat", `{"messages":[{"role":"user","content":"hi"}]}`, mistralChat},
		{"text", `{"prompt":"hi"}`, mistralText},
		{"neither", `{"max_tokens":5}`, mistralAuto},
		{"not JSON", `{`, mistralAuto},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := ForRequest(FamilyMistral, []byte(tt.body))
			if !ok {
				t.Fatal("ForRequest: no codec")
			}
			if got := c.(mistralCodec).form; got != tt.want {
				t.Errorf("form = %v, want %v", got, tt.want)
			}
		})
	}
	if _, ok := ForRequest("nope", nil); ok {
		t.Error("ForRequest(nope) reported a codec")
	}
	if c, ok := ForRequest(FamilyLlama, []byte(`{}`)); !ok || c == nil {
		t.Error("ForRequest(llama) reported no codec")
	}
}

func TestMistralStream(t *testing.T) {
	const d = 100 * time.Millisecond
	tests := []struct {
		name    string
		modelID string
		steps   []streamStep
		want    []string
	}{
		{
			name:    "text form",
			modelID: "mistral.mistral-7b-instruct-v0:2",
			steps:   textSteps(),
			want: []string{
				`{"outputs":[{"text":"Hello","stop_reason":null}]}`,
				`{"outputs":[{"text":" world","stop_reason":null}]}`,
				`{"outputs":[{"text":"","stop_reason":"stop"}],
				  "amazon-bedrock-invocationMetrics":{"inputTokenCount":12,"outputTokenCount":5,"invocationLatency":600,"firstByteLatency":200}}`,
			},
		},
		{
			name:    "chat form with a tool call",
			modelID: "mistral.mistral-large-2407-v1:0",
			steps: []streamStep{
				{d, evStart()},
				{d, evText(0, "Checking.")},
				{d, evBlockStop(0)},
				{d, evToolStart(1, "abc123def", "top_song")},
				{d, evToolInput(1, `{"sign":`)},
				{d, evToolInput(1, `"WZPZ"}`)},
				{d, evBlockStop(1)},
				{d, evStop("tool_use")},
				{d, evMetadata(40, 12, 0)},
			},
			want: []string{
				`{"choices":[{"index":0,"message":{"role":"assistant","content":"Checking."},"stop_reason":null,"finish_reason":null}]}`,
				`{"choices":[{"index":0,"message":{"role":"assistant","content":"",
					"tool_calls":[{"id":"abc123def","function":{"name":"top_song","arguments":"{\"sign\":\"WZPZ\"}"}}]},
					"stop_reason":null,"finish_reason":null}]}`,
				`{"choices":[{"index":0,"message":{"role":"assistant","content":""},"stop_reason":"tool_calls","finish_reason":"tool_calls"}],
				  "amazon-bedrock-invocationMetrics":{"inputTokenCount":40,"outputTokenCount":12,"invocationLatency":900,"firstByteLatency":200}}`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, clk := testCodec(t, FamilyMistral)
			got := runStream(t, c.Stream(tt.modelID), clk, tt.steps)
			if diff := cmp.Diff(got, decodeAll(t, tt.want)); diff != "" {
				t.Errorf("chunks mismatch (-got +want):\n%s", diff)
			}
		})
	}
}
