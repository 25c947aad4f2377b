// Package quota owns Tollgate's runtime quotas and priority admission, in
// Bedrock's terms: requests-per-minute and tokens-per-minute quotas per
// account, model and endpoint scope (on-demand in-region, or cross-region
// through a system-defined profile), optionally per application profile,
// shared by every service tier and by Converse and InvokeModel, counted
// with Bedrock's token maths (Reservation at the start of a call, Settled
// at its end, output tokens at the model's Burndown rate); TPM reserved
// for a profile that overflows to Standard; and the Gate, which bounds the
// calls in flight to each provider, model and region with an adaptive
// (AIMD) limit and, when it is full, admits priority before default before
// flex, profiles of one class in turn.
//
// On one node the minute windows count in memory; a fleet sharing a store
// claims slices of each window from it (Claimer, the store's ClaimRate),
// so the fleet together stays within the quota.
//
// It is plain Go: the runtime pipeline reaches it through the
// internal/admission vocabulary.
package quota

import "strings"

// The token maths (Amazon Bedrock User Guide, "How tokens are counted in
// Amazon Bedrock", docs.aws.amazon.com/bedrock/latest/userguide/quotas-token-burndown.html,
// and "Quotas for Amazon Bedrock", .../quotas.html):
//
//   - at the start of a request, the quota is charged the request's
//     input tokens, cache-write and cache-read input tokens, and its
//     max_tokens (the model's maximum output when the request sets none);
//   - at its end the charge is settled to what the call used: input +
//     cache-write tokens + output tokens times the model's burndown rate;
//     cache-read tokens are released (they do not count towards TPM);
//   - the burndown rate is 1 for most models and 5 for the Anthropic
//     Claude models the page lists (1 output token consumes 5 tokens of
//     quota).

// fiveTimes are the model-id prefixes whose output tokens burn quota at
// 5x (quotas-token-burndown.html: Claude 3.7 Sonnet, Opus 4, Opus 4.1,
// Sonnet 4, Sonnet 4.5, Haiku 4.5, Opus 4.5).
//
// ASSUMED, not sourced (December 2026): the copies of the burndown page
// found list no model after Opus 4.5. Claude Opus 4.6, 4.7, 4.8 and
// Sonnet 4.6 count 5x only because their ids share the prefixes below;
// Claude Opus 5, Opus 5.5, Sonnet 5 and Fable 5 count 1x only because no
// prefix matches them. Either may be wrong; docs/priority.md says so too.
var fiveTimes = []string{
	"anthropic.claude-3-7-sonnet",
	"anthropic.claude-opus-4",
	"anthropic.claude-sonnet-4",
	"anthropic.claude-haiku-4",
}

// Burndown returns the rate at which a model's output tokens burn its
// token quota.
func Burndown(modelID string) int64 {
	for _, p := range fiveTimes {
		if strings.HasPrefix(modelID, p) {
			return 5
		}
	}
	return 1
}

// maxOutput are the largest outputs models produce (their model cards'
// maximum output tokens), by id prefix, longest first where they nest.
var maxOutput = []struct {
	prefix string
	tokens int64
}{
	{"anthropic.claude-3-haiku", 4096},
	{"anthropic.claude-3-sonnet", 4096},
	{"anthropic.claude-3-opus", 4096},
	{"anthropic.claude-3-5", 8192},
	{"anthropic.claude-3-7-sonnet", 64000},
	{"anthropic.claude-opus-4-6", 128000}, // model card: max output 128K
	// Model cards (AWS model-card-anthropic-claude-opus-4-7; Anthropic
	// platform.claude.com models/<model>/overview, seen 2026-12-06): 128K.
	{"anthropic.claude-opus-4-7", 128000},
	{"anthropic.claude-opus-4-8", 128000},
	{"anthropic.claude-opus-5", 128000},
	{"anthropic.claude-sonnet-5", 128000},
	{"anthropic.claude-fable-5", 128000}, // AWS model-card-anthropic-claude-fable-5: 128K
	{"anthropic.claude-opus-4-5", 64000},
	{"anthropic.claude-opus-4", 32000},
	{"anthropic.claude-sonnet-4-6", 128000},
	{"anthropic.claude-sonnet-4", 64000},
	{"anthropic.claude-haiku-4", 64000},
	{"amazon.nova", 10000},
	{"amazon.titan-text", 8192},
	{"meta.llama", 2048},
	{"mistral.", 8192},
	{"cohere.command", 4000},
	{"ai21.jamba", 4096},
}

// DefaultMaxOutputTokens is the output bound of a model this package
// does not know, for a request that sets none.
const DefaultMaxOutputTokens = 4096

// MaxOutputTokens returns a model's maximum output, which Bedrock
// reserves for a request that sets no max_tokens.
func MaxOutputTokens(modelID string) int64 {
	for _, m := range maxOutput {
		if strings.HasPrefix(modelID, m.prefix) {
			return m.tokens
		}
	}
	return DefaultMaxOutputTokens
}

// Tokens are the token counts of a call.
type Tokens struct {
	Input, Output, CacheRead, CacheWrite int64
}

// Reservation returns what a call holds from a tokens-per-minute quota
// from its start: input, cache-write and cache-read tokens plus
// maxTokens (MaxOutputTokens of the model when maxTokens is 0).
func Reservation(modelID string, in Tokens, maxTokens int64) int64 {
	if maxTokens <= 0 {
		maxTokens = MaxOutputTokens(modelID)
	}
	return in.Input + in.CacheWrite + in.CacheRead + maxTokens
}

// Settled returns what a call counts against a tokens-per-minute quota
// once it ended: input and cache-write tokens plus output tokens at the
// model's burndown rate; cache reads are released.
func Settled(modelID string, used Tokens) int64 {
	return used.Input + used.CacheWrite + used.Output*Burndown(modelID)
}
