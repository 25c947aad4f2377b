// Package native translates between the model-native bodies of Amazon
// Bedrock's InvokeModel and InvokeModelWithResponseStream operations and
// Tollgate's canonical Converse form (package converse), so that native calls
// can be served by providers that only speak Converse: the simulator and
// OpenAI-compatible servers.
//
// One Codec per model family (the catalogue's Family) parses a native
// request body into a ConverseRequest, renders a ConverseResponse as the
// family's native response body, and turns a stream of Converse events into
// the family's native stream chunks: the JSON objects Bedrock base64-encodes
// into the "chunk" events of InvokeModelWithResponseStream, the last of which
// carries "amazon-bedrock-invocationMetrics". UsageFromResponse and
// UsageFromChunk read token usage out of native bodies a real Bedrock
// returns; Embed answers the embedding families with deterministic
// pseudo-embeddings for the simulator.
//
// Native members without a Converse equivalent (Anthropic's top_k,
// thinking or anthropic_beta, Mistral's top_k, Cohere's documents, and any
// other member a codec does not map) travel in
// AdditionalModelRequestFields, the way Converse passes them to Bedrock; Nova's
// topK goes to {"inferenceConfig":{"topK":…}} as Converse expects for Nova.
//
// Codecs are stateless and safe for concurrent use; a StreamEncoder belongs
// to one stream and is not.
package native

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// The families, as the catalogue spells them (catalog.Model.Family).
const (
	FamilyAnthropic     = "anthropic"
	FamilyNova          = "nova"
	FamilyTitanText     = "titan-text"
	FamilyTitanEmbed    = "titan-embed"
	FamilyLlama         = "llama"
	FamilyMistral       = "mistral"
	FamilyCohereCommand = "cohere-command"
	FamilyCohereEmbed   = "cohere-embed"
	FamilyJamba         = "jamba"
)

// Codec translates the native InvokeModel format of one model family to and
// from Converse. Implementations are safe for concurrent use.
type Codec interface {
	// Request parses a native request body into a Converse request. A
	// body that is not JSON or does not match the family's schema yields
	// an errkind.Invalid error whose message is safe to show the client.
	Request(body []byte) (*converse.Request, error)
	// Response renders a Converse response as the family's native response
	// body, with the field names Bedrock returns for the family, including
	// token usage where the family reports it. modelID is the foundation
	// model id (some families echo the model's name).
	Response(resp *converse.Response, modelID string) ([]byte, error)
	// Stream returns an encoder for one InvokeModelWithResponseStream call
	// on modelID.
	Stream(modelID string) StreamEncoder
}

// StreamEncoder turns the Converse stream events of one call, in order,
// into the family's native stream chunks (unencoded JSON; the caller
// base64-encodes each into a "chunk" event). It is not safe for concurrent
// use.
type StreamEncoder interface {
	// Encode returns zero or more chunks for one event. The metadata event,
	// which the Provider contract makes last, produces the final chunk(s);
	// the last one carries "amazon-bedrock-invocationMetrics". Events after
	// the metadata event produce nothing.
	Encode(ev converse.StreamEvent) ([][]byte, error)
}

// InputTokenHinter is implemented by every StreamEncoder of this package.
// Bedrock reports the prompt's token count in the first chunk of some
// families (Anthropic's message_start, Titan's and Llama's first chunk),
// but a Converse stream reports it only in its last event. A caller that
// knows the count beforehand (or a good estimate) passes it before the
// first Encode; otherwise the first chunk reports 0 (Anthropic) or null, and
// the true count arrives with the final chunk.
type InputTokenHinter interface {
	HintInputTokens(n int64)
}

// For returns the codec of a conversational family. It reports false for
// unknown families and for the embedding families (see Embed).
func For(family string) (Codec, bool) {
	return forEnv(family, defaultEnv)
}

// ForRequest is For for a family with more than one native request form:
// it returns a codec whose Response and Stream answer in the form body was
// written in. For Mistral, a body with "messages" (the chat-completion form
// of Mistral Large) gets chat-completion responses and one with "prompt"
// text-completion responses; a body of neither form gets For's codec.
func ForRequest(family string, body []byte) (Codec, bool) {
	c, ok := For(family)
	if !ok {
		return nil, false
	}
	if m, isMistral := c.(mistralCodec); isMistral {
		var probe map[string]json.RawMessage
		if json.Unmarshal(body, &probe) == nil {
			switch {
			case probe["messages"] != nil:
				m.form = mistralChat
			case probe["prompt"] != nil:
				m.form = mistralText
			}
		}
		return m, true
	}
	return c, true
}

func forEnv(family string, e env) (Codec, bool) {
	switch family {
	case FamilyAnthropic:
		return anthropicCodec{env: e}, true
	case FamilyNova:
		return novaCodec{env: e}, true
	case FamilyTitanText:
		return titanCodec{env: e}, true
	case FamilyLlama:
		return llamaCodec{env: e}, true
	case FamilyMistral:
		return mistralCodec{env: e}, true
	case FamilyCohereCommand:
		return cohereCodec{env: e}, true
	case FamilyJamba:
		return jambaCodec{env: e}, true
	}
	return nil, false
}

// env holds what codecs take from the outside world, so tests can fix it.
type env struct {
	now  func() time.Time
	rand io.Reader // source of response and message ids
}

var defaultEnv = env{now: time.Now, rand: rand.Reader}

// randomBytes returns n bytes from the env's source (zeros if it fails).
func (e env) randomBytes(n int) []byte {
	b := make([]byte, n)
	if e.rand != nil {
		_, _ = io.ReadFull(e.rand, b)
	}
	return b
}

const base58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// anthropicID returns a message id of the form Bedrock gives Claude
// messages, "msg_bdrk_01" followed by 22 base58 characters.
func (e env) anthropicID() string {
	b := e.randomBytes(22)
	var sb strings.Builder
	sb.WriteString("msg_bdrk_01")
	for _, c := range b {
		sb.WriteByte(base58[int(c)%len(base58)])
	}
	return sb.String()
}

// uuid returns a random (version 4) UUID in its canonical text form.
func (e env) uuid() string {
	b := e.randomBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// hexID returns prefix followed by 32 random hex digits.
func (e env) hexID(prefix string) string {
	return prefix + hex.EncodeToString(e.randomBytes(16))
}

// errNilResponse is returned by Response for a nil response.
var errNilResponse = errkind.New(errkind.Internal, "no response to render")

// appendTurn appends blocks as a turn of role, merging them into the last
// message when it has the same role: native formats allow consecutive
// turns of one role, Converse wants them alternating.
func appendTurn(msgs []converse.Message, role string, blocks []converse.ContentBlock) []converse.Message {
	if len(blocks) == 0 {
		return msgs
	}
	if n := len(msgs); n > 0 && msgs[n-1].Role == role {
		msgs[n-1].Content = append(msgs[n-1].Content, blocks...)
		return msgs
	}
	return append(msgs, converse.Message{Role: role, Content: blocks})
}

func textBlock(s string) converse.ContentBlock { return converse.ContentBlock{Text: &s} }

func systemText(s string) converse.SystemBlock { return converse.SystemBlock{Text: &s} }

// responseText concatenates the text blocks of a response's message.
func responseText(resp *converse.Response) string {
	if resp.Output.Message == nil {
		return ""
	}
	var sb strings.Builder
	for _, b := range resp.Output.Message.Content {
		if b.Text != nil {
			sb.WriteString(*b.Text)
		}
	}
	return sb.String()
}

// responseToolUses returns the tool-use blocks of a response's message.
func responseToolUses(resp *converse.Response) []*converse.ToolUseBlock {
	if resp.Output.Message == nil {
		return nil
	}
	var out []*converse.ToolUseBlock
	for _, b := range resp.Output.Message.Content {
		if b.ToolUse != nil {
			out = append(out, b.ToolUse)
		}
	}
	return out
}

// toolInput returns a tool-use input as a JSON object text ({} if empty).
func toolInput(raw json.RawMessage) json.RawMessage {
	if isNull(raw) {
		return json.RawMessage(`{}`)
	}
	return compact(raw)
}

// inferenceConfig returns cfg, or nil when no member is set.
func inferenceConfig(cfg converse.InferenceConfig) *converse.InferenceConfig {
	if len(cfg.StopSequences) == 0 {
		cfg.StopSequences = nil
	}
	if cfg.MaxTokens == nil && cfg.Temperature == nil && cfg.TopP == nil && cfg.StopSequences == nil {
		return nil
	}
	return &cfg
}

// additional marshals the members collected for AdditionalModelRequestFields,
// or returns nil when there are none.
func additional(m map[string]json.RawMessage) (json.RawMessage, error) {
	if len(m) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, errkind.Wrap(errkind.Invalid, err, "Malformed input request: unreadable members, please reformat your input and try again.")
	}
	return b, nil
}

// marshalChunks marshals each chunk.
func marshalChunks(chunks ...any) ([][]byte, error) {
	out := make([][]byte, 0, len(chunks))
	for _, c := range chunks {
		b, err := json.Marshal(c)
		if err != nil {
			return nil, errkind.Wrap(errkind.Internal, err, "encoding a stream chunk")
		}
		out = append(out, b)
	}
	return out, nil
}

func marshalResponse(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, errkind.Wrap(errkind.Internal, err, "encoding a native response")
	}
	return b, nil
}
