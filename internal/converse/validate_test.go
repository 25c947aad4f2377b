package converse

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

func TestValidateInput(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       string // "" for valid; else a part of the message
	}{
		{"plain", `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`, ""},
		{"bounds", `{"inferenceConfig":{"maxTokens":1,"temperature":0,"topP":1,"stopSequences":["x"]}}`, ""},
		{"all formats", `{"messages":[{"role":"user","content":[{"image":{"format":"webp","source":{"bytes":""}}},{"document":{"format":"md","name":"d"}},{"video":{"format":"three_gp"}}]}]}`, ""},
		{"temperature 7.5", `{"inferenceConfig":{"temperature":7.5}}`, "1 validation error detected: Value '7.5' at 'inferenceConfig.temperature' failed to satisfy constraint: Member must have value less than or equal to 1"},
		{"topP -3", `{"inferenceConfig":{"topP":-3}}`, "Value '-3.0' at 'inferenceConfig.topP' failed to satisfy constraint: Member must have value greater than or equal to 0"},
		{"maxTokens 0", `{"inferenceConfig":{"maxTokens":0}}`, "Value '0' at 'inferenceConfig.maxTokens'"},
		{"empty stop sequence", `{"inferenceConfig":{"stopSequences":[""]}}`, "'inferenceConfig.stopSequences.1.member'"},
		{"image exe", `{"messages":[{"role":"user","content":[{"text":"a"},{"image":{"format":"exe","source":{}}}]}]}`, "Value 'exe' at 'messages.1.member.content.2.member.image.format'"},
		{"document exe", `{"messages":[{"role":"user","content":[{"document":{"format":"exe"}}]}]}`, "document.format"},
		{"video exe", `{"messages":[{"role":"user","content":[{"video":{"format":"exe"}}]}]}`, "video.format"},
		{"tool result image", `{"messages":[{"role":"user","content":[{"toolResult":{"toolUseId":"t","content":[{"image":{"format":"bmp","source":{}}}]}}]}]}`, "toolResult.content.1.member.image.format"},
		{"two", `{"inferenceConfig":{"temperature":2,"topP":2}}`, "2 validation errors detected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r Request
			if err := json.Unmarshal([]byte(tc.body), &r); err != nil {
				t.Fatal(err)
			}
			err := r.ValidateInput()
			if tc.want == "" {
				if err != nil {
					t.Errorf("ValidateInput = %v, want nil", err)
				}
				return
			}
			if !errkind.Is(err, errkind.Invalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ValidateInput = %v, want Invalid with %q", err, tc.want)
			}
		})
	}
	many := Request{InferenceConfig: &InferenceConfig{StopSequences: make([]string, maxStopSequences+1)}}
	for i := range many.InferenceConfig.StopSequences {
		many.InferenceConfig.StopSequences[i] = "s"
	}
	if err := many.ValidateInput(); err == nil || !strings.Contains(err.Error(), "less than or equal to 2500") {
		t.Errorf("2501 stop sequences: %v", err)
	}
}
