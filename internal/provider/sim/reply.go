package sim

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// Stop reasons, as Bedrock spells them.
const (
	stopEndTurn      = "end_turn"
	stopMaxTokens    = "max_tokens"
	stopSequence     = "stop_sequence"
	stopToolUse      = "tool_use"
	toolUseIDPrefix  = "tooluse_"
	toolUseIDLength  = 20
	echoMarker       = "echo:"
	minSentenceToken = 16
	sentenceSpread   = 48
)

// words is the fixed word list generated sentences draw from.
var words = [...]string{
	"alpha", "amber", "anchor", "apple", "arrow", "autumn", "basin", "beacon",
	"birch", "breeze", "bright", "canyon", "cedar", "cloud", "copper", "coral",
	"crisp", "delta", "dune", "ember", "falcon", "field", "forest", "gentle",
	"glacier", "harbor", "harvest", "hazel", "island", "jade", "kernel", "lantern",
	"linen", "lumen", "maple", "meadow", "mirror", "nimble", "north", "ocean",
	"orbit", "pebble", "pine", "prairie", "quartz", "quiet", "river", "saffron",
	"signal", "silver", "slate", "spark", "spruce", "steady", "stone", "summit",
	"tidal", "timber", "velvet", "violet", "willow", "winter", "yonder", "zenith",
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// reply is what the simulated model answers.
type reply struct {
	text       string
	tool       *converse.ToolUseBlock // nil unless the model calls a tool
	stopReason string
	textTokens int64
	toolTokens int64 // Tokens of tool.Input
}

func (r *reply) outputTokens() int64 { return r.textTokens + r.toolTokens }

// makeReply applies the reply rules of the package documentation to a
// validated request whose prompt hashes to h.
func makeReply(req *converse.Request, choice *toolChoice, h uint64) (reply, error) {
	last := &req.Messages[len(req.Messages)-1]
	user := last
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == "user" {
			user = &req.Messages[i]
			break
		}
	}
	result := firstToolResult(user)
	echo, ping := echoText(user), hasPing(user)

	var spec *converse.ToolSpec
	if tc := req.ToolConfig; tc != nil && last.Role == "user" && result == nil {
		switch {
		case choice != nil && choice.Tool != nil:
			spec = findTool(tc, choice.Tool.Name)
		case choice != nil && choice.Any != nil, echo == "" && !ping:
			spec = firstSpec(tc)
		}
	}

	var r reply
	switch {
	case spec != nil:
		input, err := toolInput(spec)
		if err != nil {
			return reply{}, err
		}
		r.text = "Calling tool " + spec.Name + "."
		r.tool = &converse.ToolUseBlock{ToolUseID: toolUseID(h), Name: spec.Name, Input: input}
		r.toolTokens = tokensOf(input)
	case result != nil:
		r.text = resultText(result)
	case echo != "":
		r.text = echo
	case ping:
		r.text = "pong"
	default:
		r.text = sentence(h)
	}
	r.textTokens = Tokens(r.text)

	ic := req.InferenceConfig
	if ic != nil && ic.MaxTokens != nil {
		limit := int64(*ic.MaxTokens)
		if cut, ok := cutTokens(r.text, limit); ok {
			r.text, r.textTokens, r.tool, r.toolTokens = cut, limit, nil, 0
			r.stopReason = stopMaxTokens
		} else if r.outputTokens() > limit {
			r.tool, r.toolTokens = nil, 0
			r.stopReason = stopMaxTokens
		}
	}
	if ic != nil {
		if i := firstStop(r.text, ic.StopSequences); i >= 0 {
			r.text = r.text[:i]
			r.textTokens = Tokens(r.text)
			r.tool, r.toolTokens = nil, 0
			r.stopReason = stopSequence
		}
	}
	switch {
	case r.tool != nil:
		r.stopReason = stopToolUse
	case r.stopReason == "":
		r.stopReason = stopEndTurn
	}
	return r, nil
}

// firstStop returns the offset of the earliest occurrence in text of any
// non-empty stop sequence, or -1.
func firstStop(text string, stops []string) int {
	first := -1
	for _, s := range stops {
		if s == "" {
			continue
		}
		if i := strings.Index(text, s); i >= 0 && (first < 0 || i < first) {
			first = i
		}
	}
	return first
}

func firstSpec(tc *converse.ToolConfig) *converse.ToolSpec {
	for _, t := range tc.Tools {
		if t.ToolSpec != nil {
			return t.ToolSpec
		}
	}
	return nil
}

func firstToolResult(m *converse.Message) *converse.ToolResultBlock {
	for _, b := range m.Content {
		if b.ToolResult != nil {
			return b.ToolResult
		}
	}
	return nil
}

// echoText returns what follows "echo:" in the first text block of m that
// holds it, trimmed; "" when there is none.
func echoText(m *converse.Message) string {
	for _, b := range m.Content {
		if b.Text == nil {
			continue
		}
		if _, rest, ok := strings.Cut(*b.Text, echoMarker); ok {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}

// hasPing reports whether a text block of m has the token "ping" in any
// letter case.
func hasPing(m *converse.Message) bool {
	for _, b := range m.Content {
		if b.Text == nil {
			continue
		}
		s := *b.Text
		for i := 0; ; {
			start, end := nextToken(s, i)
			if start == end {
				break
			}
			if strings.EqualFold(s[start:end], "ping") {
				return true
			}
			i = end
		}
	}
	return false
}

// resultText is the reply to a tool result.
func resultText(r *converse.ToolResultBlock) string {
	text, found := "nothing", false
	for _, c := range r.Content {
		if c.Text != nil {
			text, found = *c.Text, true
			break
		}
	}
	for _, c := range r.Content {
		if found {
			break
		}
		if c.JSON != nil {
			var buf bytes.Buffer
			if json.Compact(&buf, c.JSON) == nil {
				text = buf.String()
			} else {
				text = string(c.JSON)
			}
			found = true
		}
	}
	if r.Status == "error" {
		return "The tool failed: " + text + "."
	}
	return "The tool returned: " + text + "."
}

// sentence generates the default reply: 16 + h%48 tokens.
func sentence(h uint64) string {
	n := minSentenceToken + int(h%sentenceSpread) - 1 // words; the period is the last token
	var b strings.Builder
	b.Grow(n * 8)
	seed := h
	for i := range n {
		w := words[splitmix(&seed)%uint64(len(words))]
		if i == 0 {
			b.WriteByte(w[0] - 'a' + 'A')
			b.WriteString(w[1:])
			continue
		}
		b.WriteByte(' ')
		b.WriteString(w)
	}
	b.WriteByte('.')
	return b.String()
}

// toolUseID derives "tooluse_" and 20 letters and digits from h.
func toolUseID(h uint64) string {
	var b [len(toolUseIDPrefix) + toolUseIDLength]byte
	copy(b[:], toolUseIDPrefix)
	seed := h ^ 0x746f6f6c75736521 // a different stream from sentence's
	for i := len(toolUseIDPrefix); i < len(b); i++ {
		b[i] = idAlphabet[splitmix(&seed)%uint64(len(idAlphabet))]
	}
	return string(b[:])
}

// splitmix advances a SplitMix64 generator.
func splitmix(x *uint64) uint64 {
	*x += 0x9e3779b97f4a7c15
	z := *x
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// schemaProperty is the part of a JSON-schema property the simulator reads.
type schemaProperty struct {
	Type json.RawMessage   `json:"type"`
	Enum []json.RawMessage `json:"enum"`
}

// toolInput builds the deterministic input object for a tool call from
// the required properties of its input schema.
func toolInput(spec *converse.ToolSpec) (json.RawMessage, error) {
	raw := spec.InputSchema.JSON
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return json.RawMessage("{}"), nil
	}
	var schema struct {
		Properties map[string]schemaProperty `json:"properties"`
		Required   []string                  `json:"required"`
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		return nil, errkind.Wrap(errkind.Invalid, err, "The input schema of tool %s is not a JSON schema object.", spec.Name)
	}
	input := make(map[string]json.RawMessage, len(schema.Required))
	for _, name := range schema.Required {
		input[name] = sampleValue(schema.Properties[name])
	}
	b, err := json.Marshal(input) // sorted keys, compact
	if err != nil {
		return nil, errkind.Wrap(errkind.Invalid, err, "The input schema of tool %s has an enum value that is not JSON.", spec.Name)
	}
	return b, nil
}

// sampleValue is the value the simulator gives a required property.
func sampleValue(p schemaProperty) json.RawMessage {
	if len(p.Enum) > 0 {
		return p.Enum[0]
	}
	var one string
	var many []string
	typ := ""
	if json.Unmarshal(p.Type, &one) == nil {
		typ = one
	} else if json.Unmarshal(p.Type, &many) == nil {
		for _, t := range many {
			if t != "null" {
				typ = t
				break
			}
		}
	}
	switch typ {
	case "string":
		return json.RawMessage(`"sim"`)
	case "number", "integer":
		return json.RawMessage(`42`)
	case "boolean":
		return json.RawMessage(`true`)
	}
	return json.RawMessage(`null`)
}
