package sim

import (
	"encoding/binary"
	"encoding/json"
	"strings"

	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// imageTokens is the fixed input-token count of one image.
const imageTokens = 1000

const (
	msgStartUser = "A conversation must start with a user message. Try again with a conversation that starts with a user message."
	msgAlternate = "A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again."
)

// toolChoice is the decoded toolConfig.toolChoice union.
type toolChoice struct {
	Auto *json.RawMessage `json:"auto"`
	Any  *json.RawMessage `json:"any"`
	Tool *struct {
		Name string `json:"name"`
	} `json:"tool"`
}

// validate checks req the way Bedrock does and returns the decoded tool
// choice (nil when absent).
func validate(req *converse.Request) (*toolChoice, error) {
	if req == nil || len(req.Messages) == 0 || req.Messages[0].Role != "user" {
		return nil, errkind.New(errkind.Invalid, msgStartUser)
	}
	for i, m := range req.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			return nil, errkind.New(errkind.Invalid, "1 validation error detected: Value '%s' at 'messages.%d.member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]", m.Role, i+1)
		}
		if i > 0 && m.Role == req.Messages[i-1].Role {
			return nil, errkind.New(errkind.Invalid, msgAlternate)
		}
		if len(m.Content) == 0 {
			return nil, errkind.New(errkind.Invalid, "The content field in the Message object at messages.%d is empty. Add a ContentBlock object to the content field and try again.", i)
		}
		for j, b := range m.Content {
			if n := members(b); n != 1 {
				return nil, errkind.New(errkind.Invalid, "The ContentBlock object at messages.%d.content.%d must set exactly one member, not %d.", i, j, n)
			}
			if b.Text != nil && strings.TrimSpace(*b.Text) == "" {
				return nil, errkind.New(errkind.Invalid, "The text field in the ContentBlock object at messages.%d.content.%d is blank. Add text to the text field, and try again.", i, j)
			}
		}
	}
	for i, b := range req.System {
		n := 0
		for _, set := range []bool{b.Text != nil, b.GuardContent != nil, b.CachePoint != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			return nil, errkind.New(errkind.Invalid, "The SystemContentBlock object at system.%d must set exactly one member, not %d.", i, n)
		}
		if b.Text != nil && strings.TrimSpace(*b.Text) == "" {
			return nil, errkind.New(errkind.Invalid, "The text field in the SystemContentBlock object at system.%d is blank. Add text to the text field, and try again.", i)
		}
	}
	if ic := req.InferenceConfig; ic != nil && ic.MaxTokens != nil && *ic.MaxTokens < 1 {
		return nil, errkind.New(errkind.Invalid, "1 validation error detected: Value '%d' at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1", *ic.MaxTokens)
	}
	tc := req.ToolConfig
	if tc == nil {
		return nil, nil
	}
	if len(tc.Tools) == 0 {
		return nil, errkind.New(errkind.Invalid, "1 validation error detected: Value at 'toolConfig.tools' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	for i, t := range tc.Tools {
		if s := t.ToolSpec; s != nil {
			if s.Name == "" {
				return nil, errkind.New(errkind.Invalid, "The toolSpec at toolConfig.tools.%d has no name.", i)
			}
			if len(s.InputSchema.JSON) > 0 && !json.Valid(s.InputSchema.JSON) {
				return nil, errkind.New(errkind.Invalid, "The input schema of tool %s is not valid JSON.", s.Name)
			}
		}
	}
	if len(tc.ToolChoice) == 0 || string(tc.ToolChoice) == "null" {
		return nil, nil
	}
	var c toolChoice
	if err := json.Unmarshal(tc.ToolChoice, &c); err != nil || (c.Auto == nil && c.Any == nil && c.Tool == nil) {
		return nil, errkind.New(errkind.Invalid, "The toolChoice must be one of auto, any or tool.")
	}
	if c.Tool != nil && findTool(tc, c.Tool.Name) == nil {
		return nil, errkind.New(errkind.Invalid, "The tool %q named by toolChoice is not in toolConfig.tools.", c.Tool.Name)
	}
	return &c, nil
}

// members counts the members set in a content block union.
func members(b converse.ContentBlock) int {
	n := 0
	for _, set := range []bool{
		b.Text != nil, b.Image != nil, b.ToolUse != nil, b.ToolResult != nil,
		b.ReasoningContent != nil, b.CachePoint != nil, b.Document != nil,
		b.Video != nil, b.Audio != nil, b.GuardContent != nil,
		b.CitationsContent != nil, b.SearchResult != nil,
	} {
		if set {
			n++
		}
	}
	return n
}

// findTool returns the toolSpec named name, or nil.
func findTool(tc *converse.ToolConfig, name string) *converse.ToolSpec {
	for _, t := range tc.Tools {
		if t.ToolSpec != nil && t.ToolSpec.Name == name {
			return t.ToolSpec
		}
	}
	return nil
}

// prompt is the result of reading a request's prompt: its input tokens,
// the cacheable prefix and the hash that seeds the reply.
type prompt struct {
	tokens int64 // all input tokens, cache prefix included
	// cached reports whether a cachePoint was found; prefixTokens and
	// prefixHash then describe what precedes the first one.
	cached       bool
	prefixTokens int64
	prefixHash   uint64
	prefixTTL    string // the first cachePoint's ttl ("" = 5 minutes)
	hash         uint64 // FNV-1a of the whole canonical encoding
}

// FNV-1a 64-bit parameters.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// Tags of the canonical encoding; each value is written as tag, length,
// bytes so that no two different prompts encode alike.
const (
	tagTool byte = iota + 1
	tagSystem
	tagMessage
	tagText
	tagImage
	tagToolUse
	tagToolResult
	tagJSON
	tagCachePoint
	tagOther
)

func (p *prompt) byte(b byte) {
	p.hash = (p.hash ^ uint64(b)) * fnvPrime
}

func (p *prompt) str(tag byte, s string) {
	p.byte(tag)
	var n [binary.MaxVarintLen64]byte
	for _, c := range n[:binary.PutUvarint(n[:], uint64(len(s)))] {
		p.byte(c)
	}
	for i := 0; i < len(s); i++ {
		p.byte(s[i])
	}
}

func (p *prompt) raw(tag byte, b []byte) {
	p.byte(tag)
	var n [binary.MaxVarintLen64]byte
	for _, c := range n[:binary.PutUvarint(n[:], uint64(len(b)))] {
		p.byte(c)
	}
	for _, c := range b {
		p.byte(c)
	}
}

// mark records the first cachePoint and its TTL.
func (p *prompt) mark(cp json.RawMessage) {
	p.byte(tagCachePoint)
	if !p.cached {
		p.cached = true
		p.prefixTokens = p.tokens
		p.prefixHash = p.hash
		var v struct {
			TTL string `json:"ttl"`
		}
		if json.Unmarshal(cp, &v) == nil {
			p.prefixTTL = v.TTL
		}
	}
}

// readPrompt counts the input tokens of a validated request in the order
// tools, system, messages, hashing a canonical encoding as it goes.
func readPrompt(req *converse.Request) prompt {
	p := prompt{hash: fnvOffset}
	if tc := req.ToolConfig; tc != nil {
		for _, t := range tc.Tools {
			p.byte(tagTool)
			switch {
			case t.ToolSpec != nil:
				s := t.ToolSpec
				p.str(tagText, s.Name)
				p.str(tagText, s.Description)
				p.raw(tagJSON, s.InputSchema.JSON)
				p.tokens += Tokens(s.Name) + Tokens(s.Description) + tokensOf(s.InputSchema.JSON)
			case t.CachePoint != nil:
				p.mark(t.CachePoint)
			default:
				p.raw(tagOther, t.SystemTool)
				p.tokens += tokensOf(t.SystemTool)
			}
		}
	}
	for _, b := range req.System {
		switch {
		case b.CachePoint != nil:
			p.mark(b.CachePoint)
		case b.Text != nil:
			p.byte(tagSystem)
			p.str(tagText, *b.Text)
			p.tokens += 1 + Tokens(*b.Text)
		default:
			p.byte(tagSystem)
			p.raw(tagOther, b.GuardContent)
			p.tokens += 1 + tokensOf(b.GuardContent)
		}
	}
	for _, m := range req.Messages {
		p.str(tagMessage, m.Role)
		p.tokens += 3
		for _, b := range m.Content {
			p.block(b)
		}
	}
	return p
}

// block reads one message content block.
func (p *prompt) block(b converse.ContentBlock) {
	switch {
	case b.Text != nil:
		p.str(tagText, *b.Text)
		p.tokens += Tokens(*b.Text)
	case b.Image != nil:
		p.image(b.Image)
	case b.ToolUse != nil:
		p.str(tagToolUse, b.ToolUse.ToolUseID)
		p.str(tagText, b.ToolUse.Name)
		p.raw(tagJSON, b.ToolUse.Input)
		p.tokens += tokensOf(b.ToolUse.Input)
	case b.ToolResult != nil:
		r := b.ToolResult
		p.str(tagToolResult, r.ToolUseID)
		p.str(tagText, r.Status)
		for _, c := range r.Content {
			switch {
			case c.Text != nil:
				p.str(tagText, *c.Text)
				p.tokens += Tokens(*c.Text)
			case c.Image != nil:
				p.image(c.Image)
			case c.JSON != nil:
				p.raw(tagJSON, c.JSON)
				p.tokens += tokensOf(c.JSON)
			default:
				p.raw(tagOther, c.Document)
				p.tokens += tokensOf(c.Document)
			}
		}
	case b.CachePoint != nil:
		p.mark(b.CachePoint)
	default:
		i, raw := otherMember(b)
		p.raw(tagOther+byte(i), raw)
		p.tokens += tokensOf(raw)
	}
}

func (p *prompt) image(img *converse.ImageBlock) {
	p.str(tagImage, img.Format)
	p.raw(tagOther, img.Source.Bytes)
	p.raw(tagOther, img.Source.S3Location)
	p.tokens += imageTokens
}

// otherMember returns the raw member, and its position in the list below,
// of a block that is not text, image, toolUse, toolResult or cachePoint.
func otherMember(b converse.ContentBlock) (int, json.RawMessage) {
	for i, raw := range []json.RawMessage{
		b.ReasoningContent, b.Document, b.Video, b.Audio,
		b.GuardContent, b.CitationsContent, b.SearchResult,
	} {
		if raw != nil {
			return i, raw
		}
	}
	return 0, nil
}
