package native

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tollgate-dev/tollgate/internal/converse"
)

func TestCohereRequest(t *testing.T) {
	c, _ := testCodec(t, FamilyCohereCommand)
	body := `{"message":"And in Paris?","preamble":"You are a weather bot.",
		"chat_history":[{"role":"USER","message":"Weather in Rome?"},{"role":"CHATBOT","message":"Sunny."}],
		"max_tokens":300,"temperature":0.3,"p":0.75,"k":40,"stop_sequences":["--"],
		"documents":[{"title":"forecast","snippet":"Paris: rain"}]}`
	got, err := c.Request([]byte(body))
	if err != nil {
		t.Fatalf("Request: %v", err)
	}
	want := &converse.Request{
		System:   []converse.SystemBlock{sys("You are a weather bot.")},
		Messages: []converse.Message{user(text("Weather in Rome?")), assistant(text("Sunny.")), user(text("And in Paris?"))},
		InferenceConfig: &converse.InferenceConfig{
			MaxTokens: ptr[int32](300), Temperature: ptr[float32](0.3), TopP: ptr[float32](0.75), StopSequences: []string{"--"},
		},
		AdditionalModelRequestFields: json.RawMessage(`{"documents":[{"title":"forecast","snippet":"Paris: rain"}],"k":40}`),
	}
	if diff := cmp.Diff(got, want, rawJSON); diff != "" {
		t.Errorf("Request mismatch (-got +want):\n%s", diff)
	}
}

func TestCohereResponse(t *testing.T) {
	const ids = `"response_id":"00000000-0000-4000-8000-000000000000","generation_id":"00000000-0000-4000-8000-000000000000"`
	tests := []struct {
		name string
		resp *converse.Response
		want string
	}{
		{
			name: "text",
			resp: textResponse("end_turn"),
			want: `{` + ids + `,"text":"Hello world","finish_reason":"COMPLETE",
				"meta":{"api_version":{"version":"1"},"billed_units":{"input_tokens":12,"output_tokens":5}}}`,
		},
		{
			name: "tool use",
			resp: toolResponse(),
			want: `{` + ids + `,"text":"Let me check.","finish_reason":"COMPLETE",
				"tool_calls":[{"name":"get_weather","parameters":{"city":"Paris"}}],
				"meta":{"api_version":{"version":"1"},"billed_units":{"input_tokens":20,"output_tokens":30}}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := testCodec(t, FamilyCohereCommand)
			got, err := c.Response(tt.resp, "cohere.command-r-v1:0")
			if err != nil {
				t.Fatalf("Response: %v", err)
			}
			if diff := diffJSON(t, got, []byte(tt.want)); diff != "" {
				t.Errorf("Response mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestCohereStream(t *testing.T) {
	const uuid = "00000000-0000-4000-8000-000000000000"
	c, clk := testCodec(t, FamilyCohereCommand)
	got := runStream(t, c.Stream("cohere.command-r-v1:0"), clk, textSteps())
	want := decodeAll(t, []string{
		`{"is_finished":false,"event_type":"stream-start","generation_id":"` + uuid + `"}`,
		`{"is_finished":false,"event_type":"text-generation","text":"Hello"}`,
		`{"is_finished":false,"event_type":"text-generation","text":" world"}`,
		`{"is_finished":true,"event_type":"stream-end","finish_reason":"COMPLETE",
		  "response":{"response_id":"` + uuid + `","text":"Hello world","generation_id":"` + uuid + `","finish_reason":"COMPLETE",
			"meta":{"api_version":{"version":"1"},"billed_units":{"input_tokens":12,"output_tokens":5}}},
		  "amazon-bedrock-invocationMetrics":{"inputTokenCount":12,"outputTokenCount":5,"invocationLatency":600,"firstByteLatency":100}}`,
	})
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("chunks mismatch (-got +want):\n%s", diff)
	}
}
