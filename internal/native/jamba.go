package native

import "github.com/tollgate-dev/tollgate/internal/converse"

// jambaCodec speaks AI21 Jamba's OpenAI-style chat format: {"messages",
// "max_tokens","temperature","top_p","stop","tools",…} in, {"id",
// "choices":[{"index","message","finish_reason"}],"usage":{"prompt_tokens",
// "completion_tokens","total_tokens"}} out.
type jambaCodec struct{ env env }

func (c jambaCodec) Request(body []byte) (*converse.Request, error) {
	o, err := parseBody(body)
	if err != nil {
		return nil, err
	}
	req, err := chatRequest(o)
	if err != nil {
		return nil, err
	}
	if req.AdditionalModelRequestFields, err = additional(o.rest()); err != nil {
		return nil, err
	}
	return req, nil
}

type chatUsage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	TotalTokens      int64 `json:"total_tokens"`
}

func usageOf(u converse.Usage) chatUsage {
	return chatUsage{u.InputTokens, u.OutputTokens, u.InputTokens + u.OutputTokens}
}

type jambaMessage struct {
	Role      string         `json:"role,omitempty"`
	Content   *string        `json:"content,omitempty"`
	ToolCalls []chatToolCall `json:"tool_calls,omitempty"`
}

type jambaChoice struct {
	Index        int           `json:"index"`
	Message      *jambaMessage `json:"message,omitempty"`
	Delta        *jambaMessage `json:"delta,omitempty"`
	FinishReason *string       `json:"finish_reason"`
}

func (c jambaCodec) Response(resp *converse.Response, modelID string) ([]byte, error) {
	if resp == nil {
		return nil, errNilResponse
	}
	text := responseText(resp)
	r := chatFinishReason(resp.StopReason)
	out := struct {
		ID      string        `json:"id"`
		Choices []jambaChoice `json:"choices"`
		Usage   chatUsage     `json:"usage"`
	}{
		ID: c.env.hexID("chatcmpl-"),
		Choices: []jambaChoice{{
			Message:      &jambaMessage{Role: "assistant", Content: &text, ToolCalls: responseToolCalls(resp, "function")},
			FinishReason: &r,
		}},
		Usage: usageOf(resp.Usage),
	}
	return marshalResponse(out)
}

func (c jambaCodec) Stream(modelID string) StreamEncoder {
	return &jambaStream{streamBase: newStreamBase(c.env, modelID), id: c.env.hexID("chatcmpl-")}
}

// jambaStream renders Converse events as OpenAI-style chunks with deltas;
// the final chunk carries finish_reason, usage and the invocation metrics.
type jambaStream struct {
	streamBase
	id         string
	tools      toolCallCollector
	stopReason string
}

type jambaChunk struct {
	ID      string             `json:"id"`
	Choices []jambaChoice      `json:"choices"`
	Usage   *chatUsage         `json:"usage,omitempty"`
	Metrics *invocationMetrics `json:"amazon-bedrock-invocationMetrics,omitempty"`
}

func (s *jambaStream) chunk(delta jambaMessage, reason *string) jambaChunk {
	return jambaChunk{ID: s.id, Choices: []jambaChoice{{Delta: &delta, FinishReason: reason}}}
}

func (s *jambaStream) Encode(ev converse.StreamEvent) ([][]byte, error) {
	if s.done {
		return nil, nil
	}
	var chunk jambaChunk
	switch {
	case ev.MessageStart != nil:
		empty := ""
		chunk = s.chunk(jambaMessage{Role: "assistant", Content: &empty}, nil)
	case ev.ContentBlockStart != nil:
		s.tools.start(ev.ContentBlockStart, "function")
		return nil, nil
	case ev.ContentBlockDelta != nil:
		if t := ev.ContentBlockDelta.Delta.Text; t != nil {
			chunk = s.chunk(jambaMessage{Content: t}, nil)
			break
		}
		s.tools.delta(ev.ContentBlockDelta)
		return nil, nil
	case ev.ContentBlockStop != nil:
		call := s.tools.stop(ev.ContentBlockStop.ContentBlockIndex)
		if call == nil {
			return nil, nil
		}
		chunk = s.chunk(jambaMessage{ToolCalls: []chatToolCall{*call}}, nil)
	case ev.MessageStop != nil:
		s.stopReason = ev.MessageStop.StopReason
		return nil, nil
	case ev.Metadata != nil:
		s.done = true
		r := chatFinishReason(s.stopReason)
		chunk = s.chunk(jambaMessage{}, &r)
		u := usageOf(ev.Metadata.Usage)
		chunk.Usage = &u
		m := s.metrics(ev.Metadata)
		chunk.Metrics = &m
	default:
		return nil, nil
	}
	chunks, err := marshalChunks(chunk)
	if err != nil {
		return nil, err
	}
	return s.produced(chunks), nil
}
