package native

import (
	"encoding/json"
	"strings"

	"github.com/tollgate-dev/tollgate/internal/converse"
)

// cohereCodec speaks Cohere Command R's chat format: {"message",
// "chat_history":[{"role":"USER"|"CHATBOT"|"SYSTEM","message"}],
// "preamble","max_tokens","temperature","p","k","stop_sequences",…} in,
// {"response_id","text","generation_id","finish_reason","meta":{…}} out.
// Members without a Converse equivalent (documents, tools, tool_results,
// k, …) travel in AdditionalModelRequestFields.
type cohereCodec struct{ env env }

func (c cohereCodec) Request(body []byte) (*converse.Request, error) {
	o, err := parseBody(body)
	if err != nil {
		return nil, err
	}
	message, err := o.reqStr("message")
	if err != nil {
		return nil, err
	}
	req := &converse.Request{}
	preamble, _, err := o.str("preamble")
	if err != nil {
		return nil, err
	}
	if preamble != "" {
		req.System = append(req.System, systemText(preamble))
	}
	history, _, err := o.arr("chat_history")
	if err != nil {
		return nil, err
	}
	for i, item := range history {
		h, err := asObj(o.elem("chat_history", i), item)
		if err != nil {
			return nil, err
		}
		role, err := h.reqStr("role")
		if err != nil {
			return nil, err
		}
		text, _, err := h.str("message")
		if err != nil {
			return nil, err
		}
		switch strings.ToUpper(role) {
		case "USER":
			if text != "" {
				req.Messages = appendTurn(req.Messages, "user", []converse.ContentBlock{textBlock(text)})
			}
		case "CHATBOT":
			if text != "" {
				req.Messages = appendTurn(req.Messages, "assistant", []converse.ContentBlock{textBlock(text)})
			}
		case "SYSTEM":
			if text != "" {
				req.System = append(req.System, systemText(text))
			}
		case "TOOL":
			// Tool results in history have no Converse tool-use ids to
			// pair with; they stay in the raw body only.
		default:
			return nil, malformed("%s/role: %s is not a valid enum value", h.path, clip(role))
		}
	}
	if message != "" {
		req.Messages = appendTurn(req.Messages, "user", []converse.ContentBlock{textBlock(message)})
	}
	if len(req.Messages) == 0 {
		return nil, malformed("#/message: expected minLength: 1, actual: 0")
	}
	var cfg converse.InferenceConfig
	if cfg.MaxTokens, err = o.maxTokens("max_tokens"); err != nil {
		return nil, err
	}
	if cfg.Temperature, err = o.sampling("temperature"); err != nil {
		return nil, err
	}
	if cfg.TopP, err = o.sampling("p"); err != nil {
		return nil, err
	}
	if cfg.StopSequences, _, err = o.strs("stop_sequences"); err != nil {
		return nil, err
	}
	req.InferenceConfig = inferenceConfig(cfg)
	if _, _, err := o.int("k"); err != nil {
		return nil, err
	}
	extra := o.rest()
	if raw, ok := o.m["k"]; ok && !isNull(raw) {
		if extra == nil {
			extra = map[string]json.RawMessage{}
		}
		extra["k"] = compact(raw)
	}
	if req.AdditionalModelRequestFields, err = additional(extra); err != nil {
		return nil, err
	}
	return req, nil
}

// cohereFinishReason maps a Converse stop reason to Cohere's.
func cohereFinishReason(r string) string {
	switch r {
	case "max_tokens", "model_context_window_exceeded":
		return "MAX_TOKENS"
	case "content_filtered", "guardrail_intervened":
		return "ERROR_TOXIC"
	}
	return "COMPLETE"
}

type cohereToolCall struct {
	Name       string          `json:"name"`
	Parameters json.RawMessage `json:"parameters"`
}

type cohereMeta struct {
	APIVersion struct {
		Version string `json:"version"`
	} `json:"api_version"`
	BilledUnits struct {
		InputTokens  int64 `json:"input_tokens"`
		OutputTokens int64 `json:"output_tokens"`
	} `json:"billed_units"`
}

type cohereResponse struct {
	ResponseID   string           `json:"response_id"`
	Text         string           `json:"text"`
	GenerationID string           `json:"generation_id"`
	FinishReason string           `json:"finish_reason"`
	ToolCalls    []cohereToolCall `json:"tool_calls,omitempty"`
	Meta         cohereMeta       `json:"meta"`
}

func (c cohereCodec) response(text, stop string, calls []cohereToolCall, u converse.Usage, generationID string) cohereResponse {
	r := cohereResponse{
		ResponseID:   c.env.uuid(),
		Text:         text,
		GenerationID: generationID,
		FinishReason: cohereFinishReason(stop),
		ToolCalls:    calls,
	}
	r.Meta.APIVersion.Version = "1"
	r.Meta.BilledUnits.InputTokens = u.InputTokens
	r.Meta.BilledUnits.OutputTokens = u.OutputTokens
	return r
}

func cohereCalls(resp *converse.Response) []cohereToolCall {
	var out []cohereToolCall
	for _, tu := range responseToolUses(resp) {
		out = append(out, cohereToolCall{Name: tu.Name, Parameters: toolInput(tu.Input)})
	}
	return out
}

func (c cohereCodec) Response(resp *converse.Response, modelID string) ([]byte, error) {
	if resp == nil {
		return nil, errNilResponse
	}
	gen := c.env.uuid()
	return marshalResponse(c.response(responseText(resp), resp.StopReason, cohereCalls(resp), resp.Usage, gen))
}

func (c cohereCodec) Stream(modelID string) StreamEncoder {
	return &cohereStream{streamBase: newStreamBase(c.env, modelID), codec: c}
}

// cohereStream renders Converse events as Cohere chat stream events:
// stream-start, text-generation, tool-calls-generation and stream-end, the
// last carrying the whole response and the invocation metrics.
type cohereStream struct {
	streamBase
	codec        cohereCodec
	generationID string
	text         strings.Builder
	tools        toolCallCollector
	calls        []cohereToolCall
	stopReason   string
}

type cohereEvent struct {
	IsFinished   bool               `json:"is_finished"`
	EventType    string             `json:"event_type"`
	GenerationID string             `json:"generation_id,omitempty"`
	Text         *string            `json:"text,omitempty"`
	ToolCalls    []cohereToolCall   `json:"tool_calls,omitempty"`
	Response     *cohereResponse    `json:"response,omitempty"`
	FinishReason string             `json:"finish_reason,omitempty"`
	Metrics      *invocationMetrics `json:"amazon-bedrock-invocationMetrics,omitempty"`
}

func (s *cohereStream) Encode(ev converse.StreamEvent) ([][]byte, error) {
	if s.done {
		return nil, nil
	}
	var evs []any
	if s.generationID == "" {
		s.generationID = s.env.uuid()
		evs = append(evs, cohereEvent{EventType: "stream-start", GenerationID: s.generationID})
	}
	switch {
	case ev.ContentBlockStart != nil:
		s.tools.start(ev.ContentBlockStart, "")
	case ev.ContentBlockDelta != nil:
		if t := ev.ContentBlockDelta.Delta.Text; t != nil {
			s.text.WriteString(*t)
			evs = append(evs, cohereEvent{EventType: "text-generation", Text: t})
		} else {
			s.tools.delta(ev.ContentBlockDelta)
		}
	case ev.ContentBlockStop != nil:
		if call := s.tools.stop(ev.ContentBlockStop.ContentBlockIndex); call != nil {
			tc := cohereToolCall{Name: call.Function.Name, Parameters: json.RawMessage(call.Function.Arguments)}
			if !json.Valid(tc.Parameters) {
				tc.Parameters = json.RawMessage(`{}`)
			}
			s.calls = append(s.calls, tc)
			evs = append(evs, cohereEvent{EventType: "tool-calls-generation", ToolCalls: []cohereToolCall{tc}})
		}
	case ev.MessageStop != nil:
		s.stopReason = ev.MessageStop.StopReason
	case ev.Metadata != nil:
		s.done = true
		resp := s.codec.response(s.text.String(), s.stopReason, s.calls, ev.Metadata.Usage, s.generationID)
		m := s.metrics(ev.Metadata)
		evs = append(evs, cohereEvent{
			IsFinished:   true,
			EventType:    "stream-end",
			Response:     &resp,
			FinishReason: resp.FinishReason,
			Metrics:      &m,
		})
	}
	chunks, err := marshalChunks(evs...)
	if err != nil {
		return nil, err
	}
	return s.produced(chunks), nil
}
