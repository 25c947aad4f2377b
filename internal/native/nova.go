package native

import (
	"encoding/json"

	"github.com/tollgate-dev/tollgate/internal/converse"
)

// novaCodec speaks the Amazon Nova "messages-v1" schema, which mirrors
// Converse member for member.
type novaCodec struct{ env env }

func (c novaCodec) Request(body []byte) (*converse.Request, error) {
	o, err := parseBody(body)
	if err != nil {
		return nil, err
	}
	if v, ok, err := o.str("schemaVersion"); err != nil {
		return nil, err
	} else if ok && v != "messages-v1" {
		return nil, malformed("#/schemaVersion: %s is not a valid enum value", clip(v))
	}
	req := &converse.Request{}
	if req.Messages, err = novaMessages(o); err != nil {
		return nil, err
	}
	if req.System, err = novaSystem(o); err != nil {
		return nil, err
	}
	extra := map[string]json.RawMessage{}
	if req.InferenceConfig, err = novaInference(o, extra); err != nil {
		return nil, err
	}
	if req.ToolConfig, err = novaTools(o); err != nil {
		return nil, err
	}
	for k, v := range o.rest() {
		extra[k] = v
	}
	if req.AdditionalModelRequestFields, err = additional(extra); err != nil {
		return nil, err
	}
	return req, nil
}

func novaMessages(o *obj) ([]converse.Message, error) {
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
	msgs := make([]converse.Message, 0, len(items))
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
		blocks, ok, err := m.arr("content")
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, m.missing("content")
		}
		if len(blocks) == 0 {
			return nil, malformed("%s/content: expected minimum item count: 1, found: 0", m.path)
		}
		msg := converse.Message{Role: role, Content: make([]converse.ContentBlock, 0, len(blocks))}
		for j, raw := range blocks {
			path := m.elem("content", j)
			if _, err := asObj(path, raw); err != nil {
				return nil, err
			}
			var b converse.ContentBlock
			if err := json.Unmarshal(raw, &b); err != nil {
				return nil, malformed("%s: not a valid content block", path)
			}
			if isEmptyBlock(b) {
				return nil, malformed("%s: content block has no supported member", path)
			}
			msg.Content = append(msg.Content, b)
		}
		msgs = append(msgs, msg)
	}
	return msgs, nil
}

func isEmptyBlock(b converse.ContentBlock) bool {
	return b.Text == nil && b.Image == nil && b.ToolUse == nil && b.ToolResult == nil &&
		len(b.ReasoningContent) == 0 && len(b.CachePoint) == 0 && len(b.Document) == 0 &&
		len(b.Video) == 0 && len(b.Audio) == 0 && len(b.GuardContent) == 0 &&
		len(b.CitationsContent) == 0 && len(b.SearchResult) == 0
}

func novaSystem(o *obj) ([]converse.SystemBlock, error) {
	items, ok, err := o.arr("system")
	if err != nil || !ok {
		return nil, err
	}
	out := make([]converse.SystemBlock, 0, len(items))
	for i, raw := range items {
		path := o.elem("system", i)
		if _, err := asObj(path, raw); err != nil {
			return nil, err
		}
		var b converse.SystemBlock
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, malformed("%s: not a valid system block", path)
		}
		if b.Text == nil && len(b.GuardContent) == 0 && len(b.CachePoint) == 0 {
			return nil, malformed("%s: system block has no supported member", path)
		}
		out = append(out, b)
	}
	return out, nil
}

// novaInference reads inferenceConfig, accepting the camelCase names of the
// schema and the snake_case ones Nova's examples also use (max_new_tokens,
// top_p, top_k). Members without a Converse equivalent (topK,
// reasoningConfig) go to extra["inferenceConfig"].
func novaInference(o *obj, extra map[string]json.RawMessage) (*converse.InferenceConfig, error) {
	ic, ok, err := o.child("inferenceConfig")
	if err != nil || !ok {
		return nil, err
	}
	var cfg converse.InferenceConfig
	for _, k := range []string{"maxTokens", "max_new_tokens"} {
		if ic.has(k) {
			if cfg.MaxTokens, err = ic.maxTokens(k); err != nil {
				return nil, err
			}
		}
	}
	if cfg.Temperature, err = ic.sampling("temperature"); err != nil {
		return nil, err
	}
	for _, k := range []string{"topP", "top_p"} {
		if ic.has(k) {
			if cfg.TopP, err = ic.sampling(k); err != nil {
				return nil, err
			}
		}
	}
	if cfg.StopSequences, _, err = ic.strs("stopSequences"); err != nil {
		return nil, err
	}
	more := map[string]json.RawMessage{}
	for _, k := range []string{"topK", "top_k"} {
		if ic.has(k) {
			if _, _, err := ic.int(k); err != nil {
				return nil, err
			}
			more["topK"] = compact(ic.m[k])
		}
	}
	for k, v := range ic.rest() {
		more[k] = v
	}
	if len(more) > 0 {
		raw, err := json.Marshal(more)
		if err != nil {
			return nil, malformed("#/inferenceConfig: unreadable members")
		}
		extra["inferenceConfig"] = raw
	}
	return inferenceConfig(cfg), nil
}

func novaTools(o *obj) (*converse.ToolConfig, error) {
	raw, ok := o.get("toolConfig")
	if !ok {
		return nil, nil
	}
	tc, err := asObj("#/toolConfig", raw)
	if err != nil {
		return nil, err
	}
	if !tc.has("tools") {
		return nil, tc.missing("tools")
	}
	if _, _, err := tc.arr("tools"); err != nil {
		return nil, err
	}
	if _, _, err := tc.object("toolChoice"); err != nil {
		return nil, err
	}
	var cfg converse.ToolConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, malformed("#/toolConfig: not a valid tool configuration")
	}
	if len(cfg.Tools) == 0 {
		return nil, malformed("#/toolConfig/tools: expected minimum item count: 1, found: 0")
	}
	for i, t := range cfg.Tools {
		if t.ToolSpec == nil && len(t.SystemTool) == 0 && len(t.CachePoint) == 0 {
			return nil, malformed("#/toolConfig/tools/%d: tool has no supported member", i)
		}
		if t.ToolSpec != nil && t.ToolSpec.Name == "" {
			return nil, malformed("#/toolConfig/tools/%d/toolSpec: required key [name] not found", i)
		}
	}
	return &cfg, nil
}

// novaUsage is the usage member of Nova responses.
type novaUsage struct {
	InputTokens               int64 `json:"inputTokens"`
	OutputTokens              int64 `json:"outputTokens"`
	TotalTokens               int64 `json:"totalTokens"`
	CacheReadInputTokenCount  int64 `json:"cacheReadInputTokenCount"`
	CacheWriteInputTokenCount int64 `json:"cacheWriteInputTokenCount"`
}

func (c novaCodec) Response(resp *converse.Response, modelID string) ([]byte, error) {
	if resp == nil {
		return nil, errNilResponse
	}
	msg := resp.Output.Message
	if msg == nil {
		msg = &converse.Message{Role: "assistant", Content: []converse.ContentBlock{}}
	}
	total := resp.Usage.TotalTokens
	if total == 0 {
		total = resp.Usage.InputTokens + resp.Usage.OutputTokens
	}
	out := struct {
		Output struct {
			Message *converse.Message `json:"message"`
		} `json:"output"`
		StopReason string    `json:"stopReason"`
		Usage      novaUsage `json:"usage"`
	}{StopReason: resp.StopReason}
	out.Output.Message = msg
	out.Usage = novaUsage{
		InputTokens:               resp.Usage.InputTokens,
		OutputTokens:              resp.Usage.OutputTokens,
		TotalTokens:               total,
		CacheReadInputTokenCount:  resp.Usage.CacheReadInputTokens,
		CacheWriteInputTokenCount: resp.Usage.CacheWriteInputTokens,
	}
	return marshalResponse(out)
}

func (c novaCodec) Stream(modelID string) StreamEncoder {
	return &novaStream{streamBase: newStreamBase(c.env, modelID)}
}

// novaStream renders Converse events as Nova stream chunks, which are the
// Converse events themselves wrapped in their member name.
type novaStream struct{ streamBase }

func (s *novaStream) Encode(ev converse.StreamEvent) ([][]byte, error) {
	if s.done {
		return nil, nil
	}
	var chunk any
	switch {
	case ev.MessageStart != nil:
		chunk = map[string]any{"messageStart": ev.MessageStart}
	case ev.ContentBlockStart != nil:
		chunk = map[string]any{"contentBlockStart": ev.ContentBlockStart}
	case ev.ContentBlockDelta != nil:
		chunk = map[string]any{"contentBlockDelta": ev.ContentBlockDelta}
	case ev.ContentBlockStop != nil:
		chunk = map[string]any{"contentBlockStop": ev.ContentBlockStop}
	case ev.MessageStop != nil:
		chunk = map[string]any{"messageStop": map[string]string{"stopReason": ev.MessageStop.StopReason}}
	case ev.Metadata != nil:
		s.done = true
		u := ev.Metadata.Usage
		usage := map[string]int64{"inputTokens": u.InputTokens, "outputTokens": u.OutputTokens}
		if u.CacheReadInputTokens != 0 {
			usage["cacheReadInputTokenCount"] = u.CacheReadInputTokens
		}
		if u.CacheWriteInputTokens != 0 {
			usage["cacheWriteInputTokenCount"] = u.CacheWriteInputTokens
		}
		chunk = map[string]any{
			"metadata": map[string]any{"usage": usage, "metrics": struct{}{}, "trace": struct{}{}},
			metricsKey: s.metrics(ev.Metadata),
		}
	default:
		return nil, nil
	}
	chunks, err := marshalChunks(chunk)
	if err != nil {
		return nil, err
	}
	return s.produced(chunks), nil
}
