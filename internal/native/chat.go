package native

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/tollgate-dev/tollgate/internal/converse"
)

// The chat-completion families (Mistral Large's chat form, AI21 Jamba)
// take OpenAI-style messages: {"role":"system"|"user"|"assistant"|"tool",
// "content", "tool_calls":[{"id","type":"function","function":{"name",
// "arguments"}}], "tool_call_id"}, and tools as [{"type":"function",
// "function":{"name","description","parameters"}}].

// chatMessages reads the messages member.
func chatMessages(o *obj) ([]converse.SystemBlock, []converse.Message, error) {
	items, ok, err := o.arr("messages")
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, o.missing("messages")
	}
	if len(items) == 0 {
		return nil, nil, malformed("#/messages: expected minimum item count: 1, found: 0")
	}
	var sys []converse.SystemBlock
	var msgs []converse.Message
	for i, item := range items {
		m, err := asObj(o.elem("messages", i), item)
		if err != nil {
			return nil, nil, err
		}
		role, err := m.reqStr("role")
		if err != nil {
			return nil, nil, err
		}
		switch role {
		case "system", "developer":
			text, err := chatText(m, false)
			if err != nil {
				return nil, nil, err
			}
			if text != "" {
				sys = append(sys, systemText(text))
			}
		case "user":
			blocks, err := chatUserContent(m)
			if err != nil {
				return nil, nil, err
			}
			if len(blocks) == 0 {
				return nil, nil, malformed("%s/content: must be non-empty", m.path)
			}
			msgs = appendTurn(msgs, "user", blocks)
		case "assistant":
			text, err := chatText(m, true)
			if err != nil {
				return nil, nil, err
			}
			var blocks []converse.ContentBlock
			if text != "" {
				blocks = append(blocks, textBlock(text))
			}
			calls, err := chatToolCalls(m)
			if err != nil {
				return nil, nil, err
			}
			blocks = append(blocks, calls...)
			msgs = appendTurn(msgs, "assistant", blocks)
		case "tool":
			id, err := m.reqStr("tool_call_id")
			if err != nil {
				return nil, nil, err
			}
			text, err := chatText(m, true)
			if err != nil {
				return nil, nil, err
			}
			tr := &converse.ToolResultBlock{ToolUseID: id, Content: []converse.ToolResultContent{{Text: &text}}}
			msgs = appendTurn(msgs, "user", []converse.ContentBlock{{ToolResult: tr}})
		default:
			return nil, nil, malformed("%s/role: %s is not a valid enum value", m.path, clip(role))
		}
	}
	if len(msgs) == 0 {
		return nil, nil, malformed("#/messages: must contain a user message")
	}
	return sys, msgs, nil
}

// chatText reads content as text: a string, or an array of
// {"type":"text","text"} parts joined together.
func chatText(m *obj, optional bool) (string, error) {
	raw, ok := m.get("content")
	if !ok {
		if optional {
			return "", nil
		}
		return "", m.missing("content")
	}
	switch jsonType(raw) {
	case "String":
		var s string
		_ = json.Unmarshal(raw, &s)
		return s, nil
	case "JSONArray":
		items, _, err := m.arr("content")
		if err != nil {
			return "", err
		}
		var sb strings.Builder
		for i, item := range items {
			p, err := asObj(m.elem("content", i), item)
			if err != nil {
				return "", err
			}
			typ, err := p.reqStr("type")
			if err != nil {
				return "", err
			}
			if typ != "text" {
				return "", malformed("%s/type: %s is not a valid enum value", p.path, clip(typ))
			}
			text, err := p.reqStr("text")
			if err != nil {
				return "", err
			}
			sb.WriteString(text)
		}
		return sb.String(), nil
	}
	return "", m.wrongType("content", "String or JSONArray", raw)
}

// chatUserContent reads a user message's content: a string, or an array of
// text and image_url parts (images as base64 data URLs, as Pixtral takes
// them).
func chatUserContent(m *obj) ([]converse.ContentBlock, error) {
	raw, ok := m.get("content")
	if !ok {
		return nil, m.missing("content")
	}
	switch jsonType(raw) {
	case "String":
		var s string
		_ = json.Unmarshal(raw, &s)
		if s == "" {
			return nil, nil
		}
		return []converse.ContentBlock{textBlock(s)}, nil
	case "JSONArray":
	default:
		return nil, m.wrongType("content", "String or JSONArray", raw)
	}
	items, _, err := m.arr("content")
	if err != nil {
		return nil, err
	}
	var out []converse.ContentBlock
	for i, item := range items {
		p, err := asObj(m.elem("content", i), item)
		if err != nil {
			return nil, err
		}
		typ, err := p.reqStr("type")
		if err != nil {
			return nil, err
		}
		switch typ {
		case "text":
			text, err := p.reqStr("text")
			if err != nil {
				return nil, err
			}
			out = append(out, textBlock(text))
		case "image_url":
			img, err := chatImage(p)
			if err != nil {
				return nil, err
			}
			out = append(out, converse.ContentBlock{Image: img})
		default:
			return nil, malformed("%s/type: %s is not a valid enum value", p.path, clip(typ))
		}
	}
	return out, nil
}

// chatImage reads an image_url part whose URL is a base64 data URL;
// "image_url" may be the URL itself or {"url": …}.
func chatImage(p *obj) (*converse.ImageBlock, error) {
	raw, ok := p.get("image_url")
	if !ok {
		return nil, p.missing("image_url")
	}
	var url string
	switch jsonType(raw) {
	case "String":
		_ = json.Unmarshal(raw, &url)
	case "JSONObject":
		c, _ := asObj(p.at("image_url"), raw)
		u, err := c.reqStr("url")
		if err != nil {
			return nil, err
		}
		url = u
	default:
		return nil, p.wrongType("image_url", "String or JSONObject", raw)
	}
	meta, data, ok := strings.Cut(url, ",")
	mediaType, isBase64 := strings.CutSuffix(strings.TrimPrefix(meta, "data:"), ";base64")
	if !ok || !strings.HasPrefix(meta, "data:") || !isBase64 {
		return nil, malformed("%s/image_url: only base64 data URLs are supported", p.path)
	}
	format, ok := imageFormats[mediaType]
	if !ok {
		return nil, malformed("%s/image_url: %s is not a supported image type", p.path, clip(mediaType))
	}
	b, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, malformed("%s/image_url: not valid base64", p.path)
	}
	img := &converse.ImageBlock{Format: format}
	img.Source.Bytes = b
	return img, nil
}

// chatToolCalls reads an assistant message's tool_calls.
func chatToolCalls(m *obj) ([]converse.ContentBlock, error) {
	items, ok, err := m.arr("tool_calls")
	if err != nil || !ok {
		return nil, err
	}
	var out []converse.ContentBlock
	for i, item := range items {
		c, err := asObj(m.elem("tool_calls", i), item)
		if err != nil {
			return nil, err
		}
		id, err := c.reqStr("id")
		if err != nil {
			return nil, err
		}
		fn, ok, err := c.child("function")
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, c.missing("function")
		}
		name, err := fn.reqStr("name")
		if err != nil {
			return nil, err
		}
		input := json.RawMessage(`{}`)
		if raw, ok := fn.get("arguments"); ok {
			switch jsonType(raw) {
			case "String":
				var s string
				_ = json.Unmarshal(raw, &s)
				if strings.TrimSpace(s) != "" {
					if !json.Valid([]byte(s)) || jsonType(json.RawMessage(s)) != "JSONObject" {
						return nil, malformed("%s/arguments: not a JSON object", fn.path)
					}
					input = compact(json.RawMessage(s))
				}
			case "JSONObject":
				input = compact(raw)
			default:
				return nil, fn.wrongType("arguments", "String", raw)
			}
		}
		out = append(out, converse.ContentBlock{ToolUse: &converse.ToolUseBlock{ToolUseID: id, Name: name, Input: input}})
	}
	return out, nil
}

// chatTools reads tools and tool_choice ("auto", "any"/"required", "none",
// or {"type":"function","function":{"name"}}).
func chatTools(o *obj) (*converse.ToolConfig, error) {
	items, ok, err := o.arr("tools")
	if err != nil {
		return nil, err
	}
	var choice json.RawMessage
	if raw, has := o.get("tool_choice"); has {
		switch jsonType(raw) {
		case "String":
			var s string
			_ = json.Unmarshal(raw, &s)
			switch s {
			case "auto":
				choice = json.RawMessage(`{"auto":{}}`)
			case "any", "required":
				choice = json.RawMessage(`{"any":{}}`)
			case "none":
			default:
				return nil, malformed("#/tool_choice: %s is not a valid enum value", clip(s))
			}
		case "JSONObject":
			c, _ := asObj("#/tool_choice", raw)
			fn, ok, err := c.child("function")
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, c.missing("function")
			}
			name, err := fn.reqStr("name")
			if err != nil {
				return nil, err
			}
			choice, _ = json.Marshal(map[string]map[string]string{"tool": {"name": name}})
		default:
			return nil, o.wrongType("tool_choice", "String", raw)
		}
	}
	if !ok || len(items) == 0 {
		return nil, nil
	}
	tc := &converse.ToolConfig{ToolChoice: choice}
	for i, item := range items {
		t, err := asObj(o.elem("tools", i), item)
		if err != nil {
			return nil, err
		}
		if typ, _, err := t.str("type"); err != nil {
			return nil, err
		} else if typ != "" && typ != "function" {
			return nil, malformed("%s/type: %s is not a valid enum value", t.path, clip(typ))
		}
		fn, ok, err := t.child("function")
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, t.missing("function")
		}
		name, err := fn.reqStr("name")
		if err != nil {
			return nil, err
		}
		desc, _, err := fn.str("description")
		if err != nil {
			return nil, err
		}
		params, ok, err := fn.object("parameters")
		if err != nil {
			return nil, err
		}
		if !ok {
			params = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		spec := &converse.ToolSpec{Name: name, Description: desc}
		spec.InputSchema.JSON = params
		tc.Tools = append(tc.Tools, converse.Tool{ToolSpec: spec})
	}
	return tc, nil
}

// chatRequest reads the members the chat-completion families share.
func chatRequest(o *obj) (*converse.Request, error) {
	req := &converse.Request{}
	var err error
	if req.System, req.Messages, err = chatMessages(o); err != nil {
		return nil, err
	}
	var cfg converse.InferenceConfig
	if cfg.MaxTokens, err = o.maxTokens("max_tokens"); err != nil {
		return nil, err
	}
	if cfg.Temperature, err = o.sampling("temperature"); err != nil {
		return nil, err
	}
	if cfg.TopP, err = o.sampling("top_p"); err != nil {
		return nil, err
	}
	if cfg.StopSequences, err = stopList(o, "stop"); err != nil {
		return nil, err
	}
	req.InferenceConfig = inferenceConfig(cfg)
	if req.ToolConfig, err = chatTools(o); err != nil {
		return nil, err
	}
	return req, nil
}

// stopList reads a stop member given as a string or an array of strings.
func stopList(o *obj, key string) ([]string, error) {
	raw, ok := o.m[key]
	if ok && jsonType(raw) == "String" {
		s, _, err := o.str(key)
		return []string{s}, err
	}
	list, _, err := o.strs(key)
	return list, err
}

// chatToolCall is a tool call in a chat-completion response.
type chatToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type,omitempty"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// chatToolCalls returns the response's tool uses as chat tool calls; typ is
// the "type" member to set ("function", or "" to omit it).
func responseToolCalls(resp *converse.Response, typ string) []chatToolCall {
	var out []chatToolCall
	for _, tu := range responseToolUses(resp) {
		c := chatToolCall{ID: tu.ToolUseID, Type: typ}
		c.Function.Name = tu.Name
		c.Function.Arguments = string(toolInput(tu.Input))
		out = append(out, c)
	}
	return out
}

// chatFinishReason maps a Converse stop reason to an OpenAI-style one.
func chatFinishReason(r string) string {
	switch r {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "content_filtered", "guardrail_intervened":
		return "content_filter"
	}
	return "stop"
}

// toolCallCollector gathers streamed tool-use blocks so chat encoders can
// emit each call whole when its block stops.
type toolCallCollector struct {
	calls map[int]*chatToolCall
	input map[int]*strings.Builder
	order []int
}

func (t *toolCallCollector) start(ev *converse.ContentBlockStartEvent, typ string) {
	if ev.Start.ToolUse == nil {
		return
	}
	if t.calls == nil {
		t.calls = map[int]*chatToolCall{}
		t.input = map[int]*strings.Builder{}
	}
	c := &chatToolCall{ID: ev.Start.ToolUse.ToolUseID, Type: typ}
	c.Function.Name = ev.Start.ToolUse.Name
	t.calls[ev.ContentBlockIndex] = c
	t.input[ev.ContentBlockIndex] = &strings.Builder{}
	t.order = append(t.order, ev.ContentBlockIndex)
}

func (t *toolCallCollector) delta(ev *converse.ContentBlockDeltaEvent) {
	if ev.Delta.ToolUse == nil {
		return
	}
	if b, ok := t.input[ev.ContentBlockIndex]; ok {
		b.WriteString(ev.Delta.ToolUse.Input)
	}
}

// stop returns the finished call of block idx, if it is a tool-use block.
func (t *toolCallCollector) stop(idx int) *chatToolCall {
	c, ok := t.calls[idx]
	if !ok {
		return nil
	}
	in := strings.TrimSpace(t.input[idx].String())
	if in == "" {
		in = "{}"
	}
	c.Function.Arguments = in
	delete(t.calls, idx)
	return c
}
