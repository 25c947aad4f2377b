package native

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tollgate-dev/tollgate/internal/converse"
)

func TestJambaRequest(t *testing.T) {
	c, _ := testCodec(t, FamilyJamba)
	body := `{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},
		{"role":"assistant","content":"Hello."},{"role":"user","content":[{"type":"text","text":"Again"}]}],
		"max_tokens":256,"temperature":0.4,"top_p":0.8,"stop":"###","n":1}`
	got, err := c.Request([]byte(body))
	if err != nil {
		t.Fatalf("Request: %v", err)
	}
	want := &converse.Request{
		System:   []converse.SystemBlock{sys("Be brief.")},
		Messages: []converse.Message{user(text("Hi")), assistant(text("Hello.")), user(text("Again"))},
		InferenceConfig: &converse.InferenceConfig{
			MaxTokens: ptr[int32](256), Temperature: ptr[float32](0.4), TopP: ptr[float32](0.8), StopSequences: []string{"###"},
		},
		AdditionalModelRequestFields: []byte(`{"n":1}`),
	}
	if diff := cmp.Diff(got, want, rawJSON); diff != "" {
		t.Errorf("Request mismatch (-got +want):\n%s", diff)
	}
}

func TestJambaResponse(t *testing.T) {
	tests := []struct {
		name string
		resp *converse.Response
		want string
	}{
		{
			name: "text",
			resp: textResponse("end_turn"),
			want: `{"id":"chatcmpl-00000000000000000000000000000000",
				"choices":[{"index":0,"message":{"role":"assistant","content":"Hello world"},"finish_reason":"stop"}],
				"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}}`,
		},
		{
			name: "tool use",
			resp: toolResponse(),
			want: `{"id":"chatcmpl-00000000000000000000000000000000",
				"choices":[{"index":0,"message":{"role":"assistant","content":"Let me check.",
					"tool_calls":[{"id":"toolu_01","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
					"finish_reason":"tool_calls"}],
				"usage":{"prompt_tokens":20,"completion_tokens":30,"total_tokens":50}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := testCodec(t, FamilyJamba)
			got, err := c.Response(tt.resp, "ai21.jamba-1-5-mini-v1:0")
			if err != nil {
				t.Fatalf("Response: %v", err)
			}
			if diff := diffJSON(t, got, []byte(tt.want)); diff != "" {
				t.Errorf("Response mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestJambaStream(t *testing.T) {
	const id = `"id":"chatcmpl-00000000000000000000000000000000"`
	c, clk := testCodec(t, FamilyJamba)
	const d = 100 * time.Millisecond
	steps := append(textSteps()[:4:4], []streamStep{
		{d, evToolStart(1, "call_1", "f")},
		{d, evToolInput(1, `{}`)},
		{d, evBlockStop(1)},
		{d, evStop("tool_use")},
		{d, evMetadata(12, 9, 0)},
	}...)
	got := runStream(t, c.Stream("ai21.jamba-1-5-mini-v1:0"), clk, steps)
	want := decodeAll(t, []string{
		`{` + id + `,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`,
		`{` + id + `,"choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}`,
		`{` + id + `,"choices":[{"index":0,"delta":{"content":" world"},"finish_reason":null}]}`,
		`{` + id + `,"choices":[{"index":0,"delta":{"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":null}]}`,
		`{` + id + `,"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],
		  "usage":{"prompt_tokens":12,"completion_tokens":9,"total_tokens":21},
		  "amazon-bedrock-invocationMetrics":{"inputTokenCount":12,"outputTokenCount":9,"invocationLatency":900,"firstByteLatency":100}}`,
	})
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("chunks mismatch (-got +want):\n%s", diff)
	}
}
