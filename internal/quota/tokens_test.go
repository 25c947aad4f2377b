package quota

import "testing"

// TestTokenMaths checks the token rule against the worked examples of the
// sources cited in tokens.go.
func TestTokenMaths(t *testing.T) {
	const sonnet4 = "anthropic.claude-sonnet-4-20250514-v1:0"
	tests := []struct {
		name     string
		model    string
		used     Tokens
		settled  int64
		maxOut   int64
		reserved int64
	}{
		// "Why Claude 4 API hits rate limits" (community.aws, an AWS
		// employee's worked examples of the burndown page): 10 input
		// tokens and ~750 output count 10 + 750x5 = 3,760.
		{"writing assistant", sonnet4, Tokens{Input: 10, Output: 750}, 3760, 1000, 1010},
		// 2,005 input tokens and 200 output: 2,005 + 200x5 = 3,005.
		{"code analysis", sonnet4, Tokens{Input: 2005, Output: 200}, 3005, 500, 2505},
		// 6 input and 12 output: 6 + 12x5 = 66.
		{"chatbot", sonnet4, Tokens{Input: 6, Output: 12}, 66, 100, 106},
		// 10,000 output tokens of a 5x model burn 50,000 of a 100,000
		// TPM quota, half of it.
		{"half the minute", sonnet4, Tokens{Output: 10000}, 50000, 10000, 10000},
		// A model at 1x counts its output once.
		{"burndown 1", "amazon.nova-pro-v1:0", Tokens{Input: 1000, Output: 100}, 1100, 200, 1200},
		// Cache reads are reserved at the start and released at the
		// end; cache writes count both times.
		{"prompt cache", sonnet4, Tokens{Input: 100, CacheRead: 5000, CacheWrite: 300, Output: 10}, 100 + 300 + 50, 1000, 100 + 5000 + 300 + 1000},
		// With max_tokens unset Bedrock reserves the model's maximum
		// output (64,000 for Claude Sonnet 4): 500 input reserve 64,500.
		{"max_tokens unset", sonnet4, Tokens{Input: 500, Output: 20}, 600, 0, 64500},
		// Claude Opus 4.6's model card gives 128K of output, not the
		// 32,000 of the Opus 4 prefix it shares.
		{"max_tokens unset, Opus 4.6", "anthropic.claude-opus-4-6-v1", Tokens{Input: 500, Output: 20}, 600, 0, 128500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := Tokens{Input: tc.used.Input, CacheRead: tc.used.CacheRead, CacheWrite: tc.used.CacheWrite}
			if got := Reservation(tc.model, in, tc.maxOut); got != tc.reserved {
				t.Errorf("Reservation = %d, want %d", got, tc.reserved)
			}
			if got := Settled(tc.model, tc.used); got != tc.settled {
				t.Errorf("Settled = %d, want %d", got, tc.settled)
			}
		})
	}
	for model, want := range map[string]int64{
		sonnet4: 5, "anthropic.claude-opus-4-1-20250805-v1:0": 5, "anthropic.claude-haiku-4-5-20251001-v1:0": 5,
		"anthropic.claude-3-7-sonnet-20250219-v1:0": 5, "anthropic.claude-3-5-sonnet-20240620-v1:0": 1,
		"anthropic.claude-3-haiku-20240307-v1:0": 1, "amazon.nova-pro-v1:0": 1,
	} {
		if got := Burndown(model); got != want {
			t.Errorf("Burndown(%s) = %d, want %d", model, got, want)
		}
	}
}

// The Claude models after Opus 4.6 produce up to 128K tokens (their
// model cards); Opus 4.7 and 4.8 must not fall to the 32,000 of the Opus 4
// prefix, nor Opus 5, Sonnet 5 and Fable 5 to the default.
func TestMaxOutputTokensNewerClaude(t *testing.T) {
	for _, id := range []string{
		"anthropic.claude-opus-4-7",
		"anthropic.claude-opus-4-8",
		"anthropic.claude-opus-5",
		"anthropic.claude-sonnet-5",
		"anthropic.claude-fable-5",
		"anthropic.claude-opus-5-5",
	} {
		if got := MaxOutputTokens(id); got != 128000 {
			t.Errorf("MaxOutputTokens(%q) = %d, want 128000", id, got)
		}
	}
	if got := MaxOutputTokens("anthropic.claude-opus-4-20250514-v1:0"); got != 32000 {
		t.Errorf("Opus 4 = %d, want 32000", got)
	}
}
