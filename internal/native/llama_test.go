package native

import (
	"encoding/base64"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tollgate-dev/tollgate/internal/converse"
)

func TestLlamaRequest(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n")
	tests := []struct {
		name string
		body string
		want *converse.Request
	}{
		{
			name: "llama 3 template",
			body: `{"prompt":"<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWhat is the capital of France?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
				"max_gen_len":512,"temperature":0.5,"top_p":0.9}`,
			want: &converse.Request{
				System:   []converse.SystemBlock{sys("You are helpful.")},
				Messages: []converse.Message{user(text("What is the capital of France?"))},
				InferenceConfig: &converse.InferenceConfig{
					MaxTokens: ptr[int32](512), Temperature: ptr[float32](0.5), TopP: ptr[float32](0.9),
				},
			},
		},
		{
			name: "plain prompt",
			body: `{"prompt":"Tell me a joke."}`,
			want: &converse.Request{Messages: []converse.Message{user(text("Tell me a joke."))}},
		},
		{
			name: "vision image joins the first user turn",
			body: `{"prompt":"<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n<|image|>What is this?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
				"images":["` + base64.StdEncoding.EncodeToString(png) + `"]}`,
			want: &converse.Request{Messages: []converse.Message{user(image("png", png), text("<|image|>What is this?"))}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := testCodec(t, FamilyLlama)
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

func TestParsePrompt(t *testing.T) {
	tests := []struct {
		name     string
		prompt   string
		wantSys  []converse.SystemBlock
		wantMsgs []converse.Message
	}{
		{
			name: "llama 3 multi-turn",
			prompt: "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>" +
				"<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>" +
				"<|start_header_id|>user<|end_header_id|>\n\nHow are you?<|eot_id|>" +
				"<|start_header_id|>assistant<|end_header_id|>\n\n",
			wantMsgs: []converse.Message{user(text("Hi")), assistant(text("Hello!")), user(text("How are you?"))},
		},
		{
			name:     "llama 3 header without end falls back",
			prompt:   "<|start_header_id|>user Hi",
			wantMsgs: []converse.Message{user(text("<|start_header_id|>user Hi"))},
		},
		{
			name:     "llama 3 text before the first header falls back",
			prompt:   "Preamble <|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
			wantMsgs: []converse.Message{user(text("Preamble <|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"))},
		},
		{
			name:     "llama 2 with system",
			prompt:   "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nName a colour. [/INST]",
			wantSys:  []converse.SystemBlock{sys("You are terse.")},
			wantMsgs: []converse.Message{user(text("Name a colour."))},
		},
		{
			name:   "mistral multi-turn",
			prompt: "<s>[INST] What is your favourite condiment? [/INST] Lemon juice.</s> [INST] Do you have mayonnaise recipes? [/INST]",
			wantMsgs: []converse.Message{
				user(text("What is your favourite condiment?")),
				assistant(text("Lemon juice.")),
				user(text("Do you have mayonnaise recipes?")),
			},
		},
		{
			name:     "unclosed [INST] falls back",
			prompt:   "[INST] Hello",
			wantMsgs: []converse.Message{user(text("[INST] Hello"))},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotSys, gotMsgs := parsePrompt(tt.prompt)
			if diff := cmp.Diff(gotSys, tt.wantSys); diff != "" {
				t.Errorf("system mismatch (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(gotMsgs, tt.wantMsgs); diff != "" {
				t.Errorf("messages mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestLlamaResponse(t *testing.T) {
	tests := []struct {
		name string
		resp *converse.Response
		want string
	}{
		{"stop", textResponse("end_turn"), `{"generation":"Hello world","prompt_token_count":12,"generation_token_count":5,"stop_reason":"stop"}`},
		{"length", textResponse("max_tokens"), `{"generation":"Hello world","prompt_token_count":12,"generation_token_count":5,"stop_reason":"length"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := testCodec(t, FamilyLlama)
			got, err := c.Response(tt.resp, "meta.llama3-8b-instruct-v1:0")
			if err != nil {
				t.Fatalf("Response: %v", err)
			}
			if diff := diffJSON(t, got, []byte(tt.want)); diff != "" {
				t.Errorf("Response mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestLlamaStream(t *testing.T) {
	tests := []struct {
		name string
		hint *int64
		want []string
	}{
		{
			name: "no hint",
			want: []string{
				`{"generation":"Hello","prompt_token_count":null,"generation_token_count":1,"stop_reason":null}`,
				`{"generation":" world","prompt_token_count":null,"generation_token_count":2,"stop_reason":null}`,
				`{"generation":"","prompt_token_count":12,"generation_token_count":5,"stop_reason":"stop",
				  "amazon-bedrock-invocationMetrics":{"inputTokenCount":12,"outputTokenCount":5,"invocationLatency":600,"firstByteLatency":200}}`,
			},
		},
		{
			name: "hint",
			hint: ptr[int64](12),
			want: []string{
				`{"generation":"Hello","prompt_token_count":12,"generation_token_count":1,"stop_reason":null}`,
				`{"generation":" world","prompt_token_count":null,"generation_token_count":2,"stop_reason":null}`,
				`{"generation":"","prompt_token_count":null,"generation_token_count":5,"stop_reason":"stop",
				  "amazon-bedrock-invocationMetrics":{"inputTokenCount":12,"outputTokenCount":5,"invocationLatency":600,"firstByteLatency":200}}`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, clk := testCodec(t, FamilyLlama)
			enc := c.Stream("meta.llama3-8b-instruct-v1:0")
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
