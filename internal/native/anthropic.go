package native

import (
	"encoding/base64"
	"encoding/json"
	"regexp"
	"sort"
	"strings"

	"github.com/tollgate-dev/tollgate/internal/converse"
)

// anthropicVersion is the only anthropic_version Bedrock accepts for the
// Messages API.
const anthropicVersion = "bedrock-2023-05-31"

// anthropicCodec speaks the Anthropic Messages API as Bedrock hosts it.
type anthropicCodec struct{ env env }

func (c anthropicCodec) Request(body []byte) (*converse.Request, error) {
	o, err := parseBody(body)
	if err != nil {
		return nil, err
	}
	ver, err := o.reqStr("anthropic_version")
	if err != nil {
		return nil, err
	}
	if ver != anthropicVersion {
		return nil, malformed("#/anthropic_version: %s is not a valid enum value", clip(ver))
	}
	if !o.has("max_tokens") {
		return nil, o.missing("max_tokens")
	}
	req := &converse.Request{}
	var cfg converse.InferenceConfig
	if cfg.MaxTokens, err = o.maxTokens("max_tokens"); err != nil {
		return nil, err
	}
	if cfg.Temperature, err = o.unit("temperature"); err != nil {
		return nil, err
	}
	if cfg.TopP, err = o.unit("top_p"); err != nil {
		return nil, err
	}
	if cfg.StopSequences, _, err = o.strs("stop_sequences"); err != nil {
		return nil, err
	}
	req.InferenceConfig = inferenceConfig(cfg)

	if req.System, err = anthropicSystem(o); err != nil {
		return nil, err
	}
	if req.Messages, err = anthropicMessages(o); err != nil {
		return nil, err
	}
	extra := map[string]json.RawMessage{}
	if req.ToolConfig, err = anthropicTools(o, extra); err != nil {
		return nil, err
	}
	if k, _, err := o.int("top_k"); err != nil {
		return nil, err
	} else if k < 0 {
		return nil, malformed("%s: %d is not greater or equal to 0", o.at("top_k"), k)
	}
	for k, v := range o.rest() {
		extra[k] = v
	}
	if raw, ok := o.m["top_k"]; ok && !isNull(raw) {
		extra["top_k"] = compact(raw)
	}
	if req.AdditionalModelRequestFields, err = additional(extra); err != nil {
		return nil, err
	}
	return req, nil
}

var cachePoint = json.RawMessage(`{"type":"default"}`)

// cacheControl reports whether block b asks for a cache breakpoint.
func cacheControl(b *obj) (bool, error) {
	_, ok, err := b.object("cache_control")
	return ok, err
}

func anthropicSystem(o *obj) ([]converse.SystemBlock, error) {
	raw, ok := o.get("system")
	if !ok {
		return nil, nil
	}
	switch jsonType(raw) {
	case "String":
		var s string
		_ = json.Unmarshal(raw, &s)
		if s == "" {
			return nil, nil
		}
		return []converse.SystemBlock{systemText(s)}, nil
	case "JSONArray":
	default:
		return nil, o.wrongType("system", "String or JSONArray", raw)
	}
	items, _, err := o.arr("system")
	if err != nil {
		return nil, err
	}
	var out []converse.SystemBlock
	for i, item := range items {
		b, err := asObj(o.elem("system", i), item)
		if err != nil {
			return nil, err
		}
		typ, err := b.reqStr("type")
		if err != nil {
			return nil, err
		}
		if typ != "text" {
			return nil, malformed("%s/type: %s is not a valid enum value", b.path, clip(typ))
		}
		text, err := b.reqStr("text")
		if err != nil {
			return nil, err
		}
		out = append(out, systemText(text))
		if cc, err := cacheControl(b); err != nil {
			return nil, err
		} else if cc {
			out = append(out, converse.SystemBlock{CachePoint: cachePoint})
		}
	}
	return out, nil
}

func anthropicMessages(o *obj) ([]converse.Message, error) {
	items, ok, err := o.arr("messages")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, o.missing("messages")
	}
	if len(items) == 0 {
		return nil, malformed("#/messages: expected minimum item count: 1, found: 0")
	}
	var msgs []converse.Message
	for i, item := range items {
		m, err := asObj(o.elem("messages", i), item)
		if err != nil {
			return nil, err
		}
		role, err := m.reqStr("role")
		if err != nil {
			return nil, err
		}
		if role != "user" && role != "assistant" {
			return nil, malformed("%s/role: %s is not a valid enum value", m.path, clip(role))
		}
		blocks, err := anthropicContent(m, "content")
		if err != nil {
			return nil, err
		}
		msgs = appendTurn(msgs, role, blocks)
	}
	return msgs, nil
}

// anthropicContent reads member key of m: a string or an array of blocks.
func anthropicContent(m *obj, key string) ([]converse.ContentBlock, error) {
	raw, ok := m.get(key)
	if !ok {
		return nil, m.missing(key)
	}
	switch jsonType(raw) {
	case "String":
		var s string
		_ = json.Unmarshal(raw, &s)
		if s == "" {
			return nil, malformed("%s: text content blocks must be non-empty", m.at(key))
		}
		return []converse.ContentBlock{textBlock(s)}, nil
	case "JSONArray":
	default:
		return nil, m.wrongType(key, "String or JSONArray", raw)
	}
	items, _, err := m.arr(key)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, malformed("%s: expected minimum item count: 1, found: 0", m.at(key))
	}
	var out []converse.ContentBlock
	for i, item := range items {
		b, err := asObj(m.elem(key, i), item)
		if err != nil {
			return nil, err
		}
		blk, err := anthropicBlock(b)
		if err != nil {
			return nil, err
		}
		out = append(out, blk)
		if cc, err := cacheControl(b); err != nil {
			return nil, err
		} else if cc {
			out = append(out, converse.ContentBlock{CachePoint: cachePoint})
		}
	}
	return out, nil
}

func anthropicBlock(b *obj) (converse.ContentBlock, error) {
	typ, err := b.reqStr("type")
	if err != nil {
		return converse.ContentBlock{}, err
	}
	switch typ {
	case "text":
		text, err := b.reqStr("text")
		if err != nil {
			return converse.ContentBlock{}, err
		}
		if text == "" {
			return converse.ContentBlock{}, malformed("%s/text: text content blocks must be non-empty", b.path)
		}
		return textBlock(text), nil
	case "image":
		img, err := anthropicImage(b)
		if err != nil {
			return converse.ContentBlock{}, err
		}
		return converse.ContentBlock{Image: img}, nil
	case "document":
		doc, err := anthropicDocument(b)
		if err != nil {
			return converse.ContentBlock{}, err
		}
		return converse.ContentBlock{Document: doc}, nil
	case "tool_use":
		id, err := b.reqStr("id")
		if err != nil {
			return converse.ContentBlock{}, err
		}
		name, err := b.reqStr("name")
		if err != nil {
			return converse.ContentBlock{}, err
		}
		input, ok, err := b.object("input")
		if err != nil {
			return converse.ContentBlock{}, err
		}
		if !ok {
			return converse.ContentBlock{}, b.missing("input")
		}
		return converse.ContentBlock{ToolUse: &converse.ToolUseBlock{ToolUseID: id, Name: name, Input: input}}, nil
	case "tool_result":
		return anthropicToolResult(b)
	case "thinking":
		text, err := b.reqStr("thinking")
		if err != nil {
			return converse.ContentBlock{}, err
		}
		sig, _, err := b.str("signature")
		if err != nil {
			return converse.ContentBlock{}, err
		}
		type reasoningText struct {
			Text      string `json:"text"`
			Signature string `json:"signature,omitempty"`
		}
		raw, err := json.Marshal(map[string]reasoningText{"reasoningText": {Text: text, Signature: sig}})
		if err != nil {
			return converse.ContentBlock{}, malformed("%s: unreadable thinking block", b.path)
		}
		return converse.ContentBlock{ReasoningContent: raw}, nil
	case "redacted_thinking":
		data, err := b.reqStr("data")
		if err != nil {
			return converse.ContentBlock{}, err
		}
		raw, err := json.Marshal(map[string]string{"redactedContent": data})
		if err != nil {
			return converse.ContentBlock{}, malformed("%s: unreadable redacted_thinking block", b.path)
		}
		return converse.ContentBlock{ReasoningContent: raw}, nil
	}
	return converse.ContentBlock{}, malformed("%s/type: %s is not a valid enum value", b.path, clip(typ))
}

// imageFormats maps Anthropic media types to Converse image formats.
var imageFormats = map[string]string{
	"image/jpeg": "jpeg",
	"image/png":  "png",
	"image/gif":  "gif",
	"image/webp": "webp",
}

// base64Source reads a {"type":"base64","media_type","data"} source.
func base64Source(b *obj) (mediaType string, data []byte, err error) {
	src, ok, err := b.child("source")
	if err != nil {
		return "", nil, err
	}
	if !ok {
		return "", nil, b.missing("source")
	}
	typ, err := src.reqStr("type")
	if err != nil {
		return "", nil, err
	}
	mediaType, err = src.reqStr("media_type")
	if err != nil {
		return "", nil, err
	}
	text, err := src.reqStr("data")
	if err != nil {
		return "", nil, err
	}
	switch typ {
	case "base64":
		data, err = base64.StdEncoding.DecodeString(text)
		if err != nil {
			return "", nil, malformed("%s/data: not valid base64", src.path)
		}
	case "text":
		data = []byte(text)
	default:
		return "", nil, malformed("%s/type: %s is not a valid enum value", src.path, clip(typ))
	}
	return mediaType, data, nil
}

func anthropicImage(b *obj) (*converse.ImageBlock, error) {
	mediaType, data, err := base64Source(b)
	if err != nil {
		return nil, err
	}
	format, ok := imageFormats[mediaType]
	if !ok {
		return nil, malformed("%s/source/media_type: %s is not a valid enum value", b.path, clip(mediaType))
	}
	img := &converse.ImageBlock{Format: format}
	img.Source.Bytes = data
	return img, nil
}

// documentFormats maps document media types to Converse document formats.
var documentFormats = map[string]string{
	"application/pdf": "pdf",
	"text/plain":      "txt",
	"text/csv":        "csv",
	"text/html":       "html",
	"text/markdown":   "md",
}

func anthropicDocument(b *obj) (json.RawMessage, error) {
	mediaType, data, err := base64Source(b)
	if err != nil {
		return nil, err
	}
	format, ok := documentFormats[mediaType]
	if !ok {
		return nil, malformed("%s/source/media_type: %s is not a valid enum value", b.path, clip(mediaType))
	}
	name, _, err := b.str("title")
	if err != nil {
		return nil, err
	}
	if name == "" {
		name = "document"
	}
	if _, _, err := b.object("citations"); err != nil {
		return nil, err
	}
	type source struct {
		Bytes []byte `json:"bytes"`
	}
	doc := struct {
		Format string `json:"format"`
		Name   string `json:"name"`
		Source source `json:"source"`
	}{format, name, source{data}}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, malformed("%s: unreadable document", b.path)
	}
	return raw, nil
}

func anthropicToolResult(b *obj) (converse.ContentBlock, error) {
	id, err := b.reqStr("tool_use_id")
	if err != nil {
		return converse.ContentBlock{}, err
	}
	tr := &converse.ToolResultBlock{ToolUseID: id, Content: []converse.ToolResultContent{}}
	isErr, _, err := b.boolean("is_error")
	if err != nil {
		return converse.ContentBlock{}, err
	}
	if isErr {
		tr.Status = "error"
	}
	raw, ok := b.get("content")
	if ok {
		switch jsonType(raw) {
		case "String":
			var s string
			_ = json.Unmarshal(raw, &s)
			tr.Content = append(tr.Content, converse.ToolResultContent{Text: &s})
		case "JSONArray":
			items, _, err := b.arr("content")
			if err != nil {
				return converse.ContentBlock{}, err
			}
			for i, item := range items {
				c, err := asObj(b.elem("content", i), item)
				if err != nil {
					return converse.ContentBlock{}, err
				}
				typ, err := c.reqStr("type")
				if err != nil {
					return converse.ContentBlock{}, err
				}
				switch typ {
				case "text":
					text, err := c.reqStr("text")
					if err != nil {
						return converse.ContentBlock{}, err
					}
					tr.Content = append(tr.Content, converse.ToolResultContent{Text: &text})
				case "image":
					img, err := anthropicImage(c)
					if err != nil {
						return converse.ContentBlock{}, err
					}
					tr.Content = append(tr.Content, converse.ToolResultContent{Image: img})
				case "document":
					doc, err := anthropicDocument(c)
					if err != nil {
						return converse.ContentBlock{}, err
					}
					tr.Content = append(tr.Content, converse.ToolResultContent{Document: doc})
				default:
					return converse.ContentBlock{}, malformed("%s/type: %s is not a valid enum value", c.path, clip(typ))
				}
			}
		default:
			return converse.ContentBlock{}, b.wrongType("content", "String or JSONArray", raw)
		}
	}
	return converse.ContentBlock{ToolResult: tr}, nil
}

// anthropicTools reads tools and tool_choice. Client tools become Converse
// tool specs; Anthropic-defined tools (bash, computer, text editor, web
// search: a "type" other than "custom" and no input_schema) have no
// Converse spec and go to extra["tools"], as Converse passes them.
func anthropicTools(o *obj, extra map[string]json.RawMessage) (*converse.ToolConfig, error) {
	items, ok, err := o.arr("tools")
	if err != nil {
		return nil, err
	}
	choice, err := anthropicToolChoice(o)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, nil
	}
	tc := &converse.ToolConfig{}
	var builtin []json.RawMessage
	for i, item := range items {
		t, err := asObj(o.elem("tools", i), item)
		if err != nil {
			return nil, err
		}
		typ, _, err := t.str("type")
		if err != nil {
			return nil, err
		}
		if typ != "" && typ != "custom" && !t.has("input_schema") {
			builtin = append(builtin, compact(item))
			continue
		}
		name, err := t.reqStr("name")
		if err != nil {
			return nil, err
		}
		desc, _, err := t.str("description")
		if err != nil {
			return nil, err
		}
		schema, ok, err := t.object("input_schema")
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, t.missing("input_schema")
		}
		spec := &converse.ToolSpec{Name: name, Description: desc}
		spec.InputSchema.JSON = schema
		tc.Tools = append(tc.Tools, converse.Tool{ToolSpec: spec})
		if cc, err := cacheControl(t); err != nil {
			return nil, err
		} else if cc {
			tc.Tools = append(tc.Tools, converse.Tool{CachePoint: cachePoint})
		}
	}
	if len(builtin) > 0 {
		raw, err := json.Marshal(builtin)
		if err != nil {
			return nil, malformed("#/tools: unreadable tools")
		}
		extra["tools"] = raw
	}
	if len(tc.Tools) == 0 {
		return nil, nil
	}
	tc.ToolChoice = choice
	return tc, nil
}

// anthropicToolChoice maps tool_choice to a Converse toolChoice. "none" has
// no Converse equivalent and maps to nothing (auto).
func anthropicToolChoice(o *obj) (json.RawMessage, error) {
	c, ok, err := o.child("tool_choice")
	if err != nil || !ok {
		return nil, err
	}
	typ, err := c.reqStr("type")
	if err != nil {
		return nil, err
	}
	if _, _, err := c.boolean("disable_parallel_tool_use"); err != nil {
		return nil, err
	}
	switch typ {
	case "auto":
		return json.RawMessage(`{"auto":{}}`), nil
	case "any":
		return json.RawMessage(`{"any":{}}`), nil
	case "none":
		return nil, nil
	case "tool":
		name, err := c.reqStr("name")
		if err != nil {
			return nil, err
		}
		return json.Marshal(map[string]map[string]string{"tool": {"name": name}})
	}
	return nil, malformed("%s/type: %s is not a valid enum value", c.path, clip(typ))
}

// anthropicModelName derives the model name Claude responses carry from a
// Bedrock model id: "us.anthropic.claude-3-haiku-20240307-v1:0" becomes
// "claude-3-haiku-20240307".
func anthropicModelName(modelID string) string {
	id := modelID
	if i := strings.LastIndex(id, "/"); i >= 0 {
		id = id[i+1:]
	}
	if i := strings.Index(id, "anthropic."); i >= 0 {
		id = id[i+len("anthropic."):]
	}
	return versionSuffix.ReplaceAllString(id, "")
}

var versionSuffix = regexp.MustCompile(`-v\d+(:\d+)?$`)

// anthropicStopReason maps a Converse stop reason to Anthropic's.
func anthropicStopReason(r string) string {
	switch r {
	case "end_turn", "max_tokens", "stop_sequence", "tool_use", "model_context_window_exceeded":
		return r
	case "content_filtered":
		return "refusal"
	}
	return "end_turn"
}

// stopSequence returns the stop sequence a Converse response reports in its
// additional fields (Claude's "stop_sequence"), or nil.
func stopSequence(fields json.RawMessage) *string {
	if len(fields) == 0 {
		return nil
	}
	var f struct {
		StopSequence *string `json:"stop_sequence"`
	}
	if json.Unmarshal(fields, &f) != nil {
		return nil
	}
	return f.StopSequence
}

type anthropicOutBlock struct {
	Type      string          `json:"type"`
	Text      *string         `json:"text,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	Thinking  *string         `json:"thinking,omitempty"`
	Signature *string         `json:"signature,omitempty"`
	Data      string          `json:"data,omitempty"`
}

type anthropicUsage struct {
	InputTokens              int64 `json:"input_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens,omitempty"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens,omitempty"`
	OutputTokens             int64 `json:"output_tokens"`
}

type anthropicMessage struct {
	ID           string              `json:"id"`
	Type         string              `json:"type"`
	Role         string              `json:"role"`
	Model        string              `json:"model"`
	Content      []anthropicOutBlock `json:"content"`
	StopReason   *string             `json:"stop_reason"`
	StopSequence *string             `json:"stop_sequence"`
	Usage        anthropicUsage      `json:"usage"`
}

// reasoning is a Converse reasoningContent member.
type reasoning struct {
	ReasoningText *struct {
		Text      string  `json:"text"`
		Signature *string `json:"signature"`
	} `json:"reasoningText"`
	RedactedContent *string `json:"redactedContent"`
	// Stream deltas carry these instead.
	Text      *string `json:"text"`
	Signature *string `json:"signature"`
}

func (c anthropicCodec) Response(resp *converse.Response, modelID string) ([]byte, error) {
	if resp == nil {
		return nil, errNilResponse
	}
	stop := anthropicStopReason(resp.StopReason)
	out := anthropicMessage{
		ID:           c.env.anthropicID(),
		Type:         "message",
		Role:         "assistant",
		Model:        anthropicModelName(modelID),
		Content:      []anthropicOutBlock{},
		StopReason:   &stop,
		StopSequence: stopSequence(resp.AdditionalModelResponseFields),
		Usage: anthropicUsage{
			InputTokens:              resp.Usage.InputTokens,
			CacheCreationInputTokens: resp.Usage.CacheWriteInputTokens,
			CacheReadInputTokens:     resp.Usage.CacheReadInputTokens,
			OutputTokens:             resp.Usage.OutputTokens,
		},
	}
	if resp.Output.Message != nil {
		for _, b := range resp.Output.Message.Content {
			switch {
			case b.Text != nil:
				out.Content = append(out.Content, anthropicOutBlock{Type: "text", Text: b.Text})
			case b.ToolUse != nil:
				out.Content = append(out.Content, anthropicOutBlock{
					Type: "tool_use", ID: b.ToolUse.ToolUseID, Name: b.ToolUse.Name, Input: toolInput(b.ToolUse.Input),
				})
			case len(b.ReasoningContent) > 0:
				var r reasoning
				if json.Unmarshal(b.ReasoningContent, &r) != nil {
					continue
				}
				switch {
				case r.ReasoningText != nil:
					text := r.ReasoningText.Text
					sig := ""
					if r.ReasoningText.Signature != nil {
						sig = *r.ReasoningText.Signature
					}
					out.Content = append(out.Content, anthropicOutBlock{Type: "thinking", Thinking: &text, Signature: &sig})
				case r.RedactedContent != nil:
					out.Content = append(out.Content, anthropicOutBlock{Type: "redacted_thinking", Data: *r.RedactedContent})
				}
			}
		}
	}
	return marshalResponse(out)
}

func (c anthropicCodec) Stream(modelID string) StreamEncoder {
	return &anthropicStream{streamBase: newStreamBase(c.env, modelID), open: map[int]string{}}
}

// anthropicStream renders Converse events as Messages API stream events.
// Converse sends no contentBlockStart for text, and its usage comes after
// messageStop, so text blocks are opened on their first delta and
// message_delta waits for the metadata event.
type anthropicStream struct {
	streamBase
	started    bool
	open       map[int]string // block index -> Anthropic block type
	stopReason string
	stopSeq    *string
	startInput int64
}

type anthropicEvent struct {
	Type         string             `json:"type"`
	Message      *anthropicMessage  `json:"message,omitempty"`
	Index        *int               `json:"index,omitempty"`
	ContentBlock *anthropicOutBlock `json:"content_block,omitempty"`
	Delta        any                `json:"delta,omitempty"`
	Usage        any                `json:"usage,omitempty"`
	Metrics      *invocationMetrics `json:"amazon-bedrock-invocationMetrics,omitempty"`
}

type anthropicDelta struct {
	Type        string  `json:"type"`
	Text        *string `json:"text,omitempty"`
	PartialJSON *string `json:"partial_json,omitempty"`
	Thinking    *string `json:"thinking,omitempty"`
	Signature   *string `json:"signature,omitempty"`
}

func (s *anthropicStream) messageStart() anthropicEvent {
	s.started = true
	if s.hint != nil {
		s.startInput = *s.hint
	}
	return anthropicEvent{Type: "message_start", Message: &anthropicMessage{
		ID:      s.env.anthropicID(),
		Type:    "message",
		Role:    "assistant",
		Model:   anthropicModelName(s.modelID),
		Content: []anthropicOutBlock{},
		Usage:   anthropicUsage{InputTokens: s.startInput, OutputTokens: 1},
	}}
}

func (s *anthropicStream) startBlock(idx int, blk anthropicOutBlock) anthropicEvent {
	s.open[idx] = blk.Type
	return anthropicEvent{Type: "content_block_start", Index: &idx, ContentBlock: &blk}
}

func (s *anthropicStream) Encode(ev converse.StreamEvent) ([][]byte, error) {
	if s.done {
		return nil, nil
	}
	var evs []any
	if !s.started {
		evs = append(evs, s.messageStart())
	}
	switch {
	case ev.ContentBlockStart != nil:
		idx := ev.ContentBlockStart.ContentBlockIndex
		if tu := ev.ContentBlockStart.Start.ToolUse; tu != nil && s.open[idx] == "" {
			evs = append(evs, s.startBlock(idx, anthropicOutBlock{Type: "tool_use", ID: tu.ToolUseID, Name: tu.Name, Input: json.RawMessage(`{}`)}))
		}
	case ev.ContentBlockDelta != nil:
		evs = append(evs, s.delta(ev.ContentBlockDelta)...)
	case ev.ContentBlockStop != nil:
		idx := ev.ContentBlockStop.ContentBlockIndex
		if s.open[idx] != "" {
			delete(s.open, idx)
			evs = append(evs, anthropicEvent{Type: "content_block_stop", Index: &idx})
		}
	case ev.MessageStop != nil:
		s.stopReason = ev.MessageStop.StopReason
		s.stopSeq = stopSequence(ev.MessageStop.AdditionalModelResponseFields)
		evs = append(evs, s.closeAll()...)
	case ev.Metadata != nil:
		evs = append(evs, s.closeAll()...)
		usage := map[string]int64{"output_tokens": ev.Metadata.Usage.OutputTokens}
		if in := ev.Metadata.Usage.InputTokens; in != s.startInput {
			// message_start did not know it; message_delta usage is
			// cumulative, so the true count goes here.
			usage["input_tokens"] = in
		}
		stop := anthropicStopReason(s.stopReason)
		evs = append(evs, anthropicEvent{
			Type:  "message_delta",
			Delta: map[string]*string{"stop_reason": &stop, "stop_sequence": s.stopSeq},
			Usage: usage,
		})
		s.done = true
		m := s.metrics(ev.Metadata)
		evs = append(evs, anthropicEvent{Type: "message_stop", Metrics: &m})
	}
	chunks, err := marshalChunks(evs...)
	if err != nil {
		return nil, err
	}
	return s.produced(chunks), nil
}

func (s *anthropicStream) delta(d *converse.ContentBlockDeltaEvent) []any {
	idx := d.ContentBlockIndex
	var evs []any
	switch {
	case d.Delta.Text != nil:
		if s.open[idx] == "" {
			empty := ""
			evs = append(evs, s.startBlock(idx, anthropicOutBlock{Type: "text", Text: &empty}))
		}
		evs = append(evs, anthropicEvent{Type: "content_block_delta", Index: &idx, Delta: anthropicDelta{Type: "text_delta", Text: d.Delta.Text}})
	case d.Delta.ToolUse != nil:
		if s.open[idx] == "" {
			evs = append(evs, s.startBlock(idx, anthropicOutBlock{Type: "tool_use", Input: json.RawMessage(`{}`)}))
		}
		in := d.Delta.ToolUse.Input
		evs = append(evs, anthropicEvent{Type: "content_block_delta", Index: &idx, Delta: anthropicDelta{Type: "input_json_delta", PartialJSON: &in}})
	case len(d.Delta.ReasoningContent) > 0:
		var r reasoning
		if json.Unmarshal(d.Delta.ReasoningContent, &r) != nil {
			return nil
		}
		if r.RedactedContent != nil {
			if s.open[idx] == "" {
				evs = append(evs, s.startBlock(idx, anthropicOutBlock{Type: "redacted_thinking", Data: *r.RedactedContent}))
			}
			return evs
		}
		if s.open[idx] == "" {
			empty := ""
			evs = append(evs, s.startBlock(idx, anthropicOutBlock{Type: "thinking", Thinking: &empty}))
		}
		if r.Text != nil {
			evs = append(evs, anthropicEvent{Type: "content_block_delta", Index: &idx, Delta: anthropicDelta{Type: "thinking_delta", Thinking: r.Text}})
		}
		if r.Signature != nil {
			evs = append(evs, anthropicEvent{Type: "content_block_delta", Index: &idx, Delta: anthropicDelta{Type: "signature_delta", Signature: r.Signature}})
		}
	}
	return evs
}

// closeAll stops the blocks still open, in index order.
func (s *anthropicStream) closeAll() []any {
	idxs := make([]int, 0, len(s.open))
	for i := range s.open {
		idxs = append(idxs, i)
	}
	sort.Ints(idxs)
	var evs []any
	for _, i := range idxs {
		delete(s.open, i)
		evs = append(evs, anthropicEvent{Type: "content_block_stop", Index: &i})
	}
	return evs
}
