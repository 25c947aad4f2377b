package openai

import (
	"encoding/json"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/converse"
)

// TestServiceTier checks Bedrock tiers map to OpenAI's service_tier where
// they mean the same (priority, flex), Standard and reserved send none,
// and the tier an answer reports maps back.
func TestServiceTier(t *testing.T) {
	text := "hi"
	req := &converse.Request{Messages: []converse.Message{{Role: "user", Content: []converse.ContentBlock{{Text: &text}}}}}
	for tier, want := range map[string]string{"priority": "priority", "flex": "flex", "default": "", "reserved": "", "": ""} {
		body, err := buildRequest("m", req, false, tier)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			ServiceTier *string `json:"service_tier"`
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		if (want == "") != (got.ServiceTier == nil) || (got.ServiceTier != nil && *got.ServiceTier != want) {
			t.Errorf("tier %q: service_tier %v, want %q", tier, got.ServiceTier, want)
		}
	}
	for answer, want := range map[string]string{"priority": "priority", "flex": "flex", "default": "default", "auto": "default", "scale": "default", "": ""} {
		if got := bedrockServiceTier(answer).Tier(); got != want {
			t.Errorf("service_tier %q answered: served %q, want %q", answer, got, want)
		}
	}
	r := chatResponse{ServiceTier: "flex", Choices: []chatChoice{{}}}
	r.Choices[0].Message.Content = json.RawMessage(`"hello"`)
	out, err := fromChat(&r)
	if err != nil || out.ServiceTier.Tier() != "flex" {
		t.Errorf("fromChat: %+v, %v", out, err)
	}
}
