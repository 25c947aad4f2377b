package native

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tollgate-dev/tollgate/internal/converse"
)

func TestTitanRequest(t *testing.T) {
	tests := []struct {
		name string
		body string
		want *converse.Request
	}{
		{
			name: "input text only",
			body: `{"inputText":"User: Hi\nBot:"}`,
			want: &converse.Request{Messages: []converse.Message{user(text("User: Hi\nBot:"))}},
		},
		{
			name: "generation config",
			body: `{"inputText":"Hi","textGenerationConfig":{"maxTokenCount":512,"stopSequences":[],"temperature":0,"topP":0.9}}`,
			want: &converse.Request{
				Messages:        []converse.Message{user(text("Hi"))},
				InferenceConfig: &converse.InferenceConfig{MaxTokens: ptr[int32](512), Temperature: ptr[float32](0), TopP: ptr[float32](0.9)},
			},
		},
		{
			name: "unknown members pass through",
			body: `{"inputText":"Hi","textGenerationConfig":{"stopSequences":["User:"],"seed":7}}`,
			want: &converse.Request{
				Messages:                     []converse.Message{user(text("Hi"))},
				InferenceConfig:              &converse.InferenceConfig{StopSequences: []string{"User:"}},
				AdditionalModelRequestFields: json.RawMessage(`{"textGenerationConfig":{"seed":7}}`),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := testCodec(t, FamilyTitanText)
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

func TestTitanResponse(t *testing.T) {
	tests := []struct {
		name string
		resp *converse.Response
		want string
	}{
		{"finish", textResponse("end_turn"), `{"inputTextTokenCount":12,"results":[{"tokenCount":5,"outputText":"Hello world","completionReason":"FINISH"}]}`},
		{"length", textResponse("max_tokens"), `{"inputTextTokenCount":12,"results":[{"tokenCount":5,"outputText":"Hello world","completionReason":"LENGTH"}]}`},
		{"stop sequence", textResponse("stop_sequence"), `{"inputTextTokenCount":12,"results":[{"tokenCount":5,"outputText":"Hello world","completionReason":"STOP_CRITERIA_MET"}]}`},
		{"filtered", textResponse("content_filtered"), `{"inputTextTokenCount":12,"results":[{"tokenCount":5,"outputText":"Hello world","completionReason":"CONTENT_FILTERED"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := testCodec(t, FamilyTitanText)
			got, err := c.Response(tt.resp, "amazon.titan-text-express-v1")
			if err != nil {
				t.Fatalf("Response: %v", err)
			}
			if diff := diffJSON(t, got, []byte(tt.want)); diff != "" {
				t.Errorf("Response mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestTitanStream(t *testing.T) {
	tests := []struct {
		name string
		hint *int64
		want []string
	}{
		{
			name: "no hint: input count in the final chunk",
			want: []string{
				`{"outputText":"Hello","index":0,"totalOutputTextTokenCount":null,"completionReason":null,"inputTextTokenCount":null}`,
				`{"outputText":" world","index":0,"totalOutputTextTokenCount":null,"completionReason":null,"inputTextTokenCount":null}`,
				`{"outputText":"","index":0,"totalOutputTextTokenCount":5,"completionReason":"FINISH","inputTextTokenCount":12,
				  "amazon-bedrock-invocationMetrics":{"inputTokenCount":12,"outputTokenCount":5,"invocationLatency":600,"firstByteLatency":200}}`,
			},
		},
		{
			name: "hint: input count in the first chunk",
			hint: ptr[int64](12),
			want: []string{
				`{"outputText":"Hello","index":0,"totalOutputTextTokenCount":null,"completionReason":null,"inputTextTokenCount":12}`,
				`{"outputText":" world","index":0,"totalOutputTextTokenCount":null,"completionReason":null,"inputTextTokenCount":null}`,
				`{"outputText":"","index":0,"totalOutputTextTokenCount":5,"completionReason":"FINISH","inputTextTokenCount":null,
				  "amazon-bedrock-invocationMetrics":{"inputTokenCount":12,"outputTokenCount":5,"invocationLatency":600,"firstByteLatency":200}}`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, clk := testCodec(t, FamilyTitanText)
			enc := c.Stream("amazon.titan-text-express-v1")
			if tt.hint != nil {
				enc.(InputTokenHinter).HintInputTokens(*tt.hint)
			}
			got := runStream(t, enc, clk, textSteps())
			if diff := cmp.Diff(got, decodeAll(t, tt.want)); diff != "" {
				t.Errorf("chunks mismatch (-got +want):\n%s", diff)
			}
		})
	}
}
