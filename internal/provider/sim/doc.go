// Package sim is Tollgate's built-in model simulator: a deterministic
// invoke.Provider that answers Converse and ConverseStream calls for any
// catalogue model without a network, a GPU or a bill. It is the default
// provider of every catalogue model and what demos, tests and load tests
// run against. Every number it reports follows from the rules below, so a
// test can work out the expected usage of a request by hand.
//
// # Tokens
//
// [Tokens] splits a text into tokens: a token is a maximal run of word
// characters, or one single character that is neither a word character nor
// a space. Word characters are Unicode letters, marks and numbers
// (categories L, M and N: "naïve", "日本語", "x²" are one token each).
// Spaces are the characters for which unicode.IsSpace reports true; they
// only separate tokens. Every other character (punctuation, symbols, emoji,
// "_", each byte of invalid UTF-8) is a token of its own. So "Hello,
// world!" is 4 tokens, "don't" is 3, "3.14" is 3 and "" is 0.
//
// # Input tokens
//
// The prompt is read in Bedrock's cache order: tools, then system, then
// messages. The input tokens of a request are the sum of:
//
//   - each toolConfig tool: Tokens(name) + Tokens(description) +
//     Tokens(input schema JSON text) for a toolSpec; Tokens(JSON text) for
//     any other tool member; 0 for a cachePoint;
//   - each system block: 1 + Tokens(text), or 1 + Tokens(JSON text) for a
//     guardContent block; 0 for a cachePoint;
//   - each message: 3, plus for each content block:
//     text: Tokens(text);
//     image: 1,000 (fixed, whatever its size);
//     toolUse: Tokens(input JSON text);
//     toolResult: the sum over its content of Tokens(text),
//     Tokens(JSON text) for json and document members, and 1,000 per image;
//     cachePoint: 0;
//     any other block (document, video, reasoningContent, ...):
//     Tokens(its JSON text).
//
// JSON text is the member's JSON as the client sent it; whitespace between
// JSON tokens never changes the count.
//
// # Prompt caching
//
// When the tools, system or messages hold a cachePoint block, the input
// tokens counted before the first cachePoint (in the order above, including
// the per-block and per-message overheads already reached) are cache
// tokens. The first time a given prefix is seen by a Provider for a given
// model id, they are reported as cacheWriteInputTokens; afterwards as
// cacheReadInputTokens. As on Bedrock, cache tokens are not also counted in
// inputTokens. There is no minimum prefix length and no TTL; a Provider
// remembers the 10,000 most recently used prefixes.
//
// # Usage
//
// outputTokens is Tokens of the reply text plus, for a tool call, Tokens of
// the tool input JSON text. totalTokens is inputTokens + outputTokens +
// cacheReadInputTokens + cacheWriteInputTokens: every token the model read
// or wrote, which is what Bedrock reports. metrics.latencyMs is the time
// from the call's start to the response (or to the metadata event) on the
// configured clock.
//
// # Replies
//
// The reply is chosen from the last user message (the last message whose
// role is user), in this order:
//
//  1. A tool call (see below) when the tool rules ask for one.
//  2. If the last user message holds a toolResult: "The tool returned:
//     <text>." where <text> is the first text of the first toolResult (or
//     the JSON text of its first json member, or "nothing"); when the
//     toolResult's status is "error", "The tool failed: <text>." instead.
//  3. If one of its text blocks contains "echo:": the rest of that block
//     after the first "echo:", with surrounding spaces trimmed (when that
//     leaves nothing, the next rules apply).
//  4. If one of its text blocks has a token equal to "ping" under any
//     letter case: exactly "pong".
//  5. Otherwise a sentence of 16 + h%48 tokens, where h is the FNV-1a
//     64-bit hash of a canonical encoding of the tools, system and
//     messages: 15 + h%48 words drawn from a fixed list by a generator
//     seeded with h, the first capitalised, separated by single spaces and
//     ending in ".". Model id, region and inference parameters other than
//     maxTokens and stopSequences do not change the reply.
//
// Then inferenceConfig.maxTokens cuts the reply after its maxTokens-th
// token (stopReason "max_tokens"), and the first occurrence of any
// stopSequence in what remains cuts the reply just before it (stopReason
// "stop_sequence"); otherwise the stopReason is "end_turn".
//
// # Tool use
//
// A tool call happens when toolConfig has at least one toolSpec, the last
// message is a user message without a toolResult block, and either
// toolChoice is {"any":{}} or {"tool":{"name":...}}, or toolChoice is
// {"auto":{}} or absent and the message triggers neither echo: nor ping
// (rules 3 and 4). The tool called is the one toolChoice names, else the
// first toolSpec. The reply is then the text "Calling tool <name>." followed
// by a toolUse block whose toolUseId is "tooluse_" and 20 letters and
// digits derived from h, and whose input is a JSON object with one member
// per property listed in the input schema's "required" array: the first
// "enum" value if the property has one, else "sim" for type string, 42 for
// number or integer, true for boolean and null otherwise ({} when there is
// no schema). The stopReason is "tool_use". If maxTokens does not leave
// room for the text and the tool input, or a stop sequence occurs in the
// text, the toolUse block is dropped and the rules above apply to the text.
//
// # Streaming
//
// ConverseStream emits messageStart; then one contentBlockDelta at index 0
// per output token of the reply text (each delta carries one token with the
// spaces before it; trailing spaces ride on the last delta; an empty reply
// is one empty delta); contentBlockStop 0; for a tool call,
// contentBlockStart 1 with the toolUseId and name, two contentBlockDelta
// events at index 1 whose toolUse.input pieces concatenate to the input
// JSON (split between two tokens), contentBlockStop 1; then messageStop
// and metadata. The concatenated text deltas equal the Converse reply text
// and the metadata usage equals the Converse usage for the same request
// (prompt caching aside: the first call writes, the next reads).
//
// When ConverseStream stops early, because emit failed, the context ended
// or an injected fault fired mid-stream, it returns the usage so far: the
// input and cache tokens plus the output tokens of the deltas already
// emitted successfully, with totalTokens to match. A context error is
// returned as is (errors.Is(err, context.Canceled) holds).
//
// # Timing
//
// Config.Latency is slept before the response of Converse and before the
// messageStart event of ConverseStream; Config.TimeToFirstToken before the
// first content delta; with Config.TokensPerSecond > 0, each content delta
// carrying k output tokens is preceded by a sleep of k/TokensPerSecond
// seconds. Converse sleeps once for the sum, so both take equally long.
// Durations of zero do not sleep at all.
//
// # Faults
//
// Each [Fault] counts the calls that match its Regions and Models (and, for
// a MidStream fault, that are streams), 1-based, and fires on calls
// After+1, After+1+Every, After+1+2*Every, ... A firing fault fails the
// call with an *errkind.Error of its Kind wrapping [ErrInjected] before any
// work is done; a firing MidStream fault lets a stream emit messageStart
// and MidStreamAfter content deltas and then returns the error with the
// partial usage (if the reply has fewer deltas, it fires before
// messageStop). A fault that fails before the call starts takes precedence
// over a MidStream one; among several, the first in Config.Faults wins.
//
// # Validation
//
// Requests are checked like Bedrock checks them, before any token is
// counted, and rejected with errkind.Invalid: there must be at least one
// message; the first must be a user message; roles must be user or
// assistant and alternate; a message needs at least one content block;
// every content and system block must set exactly one member; text must
// not be blank; maxTokens must be at least 1; toolConfig needs at least one
// tool, every toolSpec a name and an input schema that is JSON; toolChoice
// must be auto, any or a tool that toolConfig declares.
//
// A Provider is safe for concurrent use.
package sim
