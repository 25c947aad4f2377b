package native

import (
	"encoding/json"
	"strings"

	"github.com/tollgate-dev/tollgate/internal/converse"
)

// mistralForm is the native form a Mistral codec answers in.
type mistralForm int

const (
	// mistralAuto picks the form from the model id: chat completion for
	// the models that only take it, text completion otherwise.
	mistralAuto mistralForm = iota
	// mistralText is the text-completion form: {"prompt"} in,
	// {"outputs":[{"text","stop_reason"}]} out.
	mistralText
	// mistralChat is the chat-completion form of Mistral Large:
	// {"messages"} in, {"choices":[…]} out.
	mistralChat
)

// mistralCodec speaks both Mistral forms. Request accepts either; Response
// and Stream answer in form.
type mistralCodec struct {
	env  env
	form mistralForm
}

func (c mistralCodec) Request(body []byte) (*converse.Request, error) {
	o, err := parseBody(body)
	if err != nil {
		return nil, err
	}
	var req *converse.Request
	if o.has("messages") || !o.has("prompt") && c.form == mistralChat {
		if req, err = chatRequest(o); err != nil {
			return nil, err
		}
	} else {
		prompt, err := o.reqStr("prompt")
		if err != nil {
			return nil, err
		}
		if prompt == "" {
			return nil, malformed("#/prompt: expected minLength: 1, actual: 0")
		}
		req = &converse.Request{}
		req.System, req.Messages = parsePrompt(prompt)
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
	}
	if _, _, err := o.int("top_k"); err != nil {
		return nil, err
	}
	extra := o.rest()
	if raw, ok := o.m["top_k"]; ok && !isNull(raw) {
		if extra == nil {
			extra = map[string]json.RawMessage{}
		}
		extra["top_k"] = compact(raw)
	}
	if req.AdditionalModelRequestFields, err = additional(extra); err != nil {
		return nil, err
	}
	return req, nil
}

// formFor resolves mistralAuto for modelID.
func (c mistralCodec) formFor(modelID string) mistralForm {
	if c.form != mistralAuto {
		return c.form
	}
	for _, m := range []string{"mistral-large-2407", "mistral-large-2411", "pixtral"} {
		if strings.Contains(modelID, m) {
			return mistralChat
		}
	}
	return mistralText
}

// mistralTextStop maps a Converse stop reason to a text-completion
// stop_reason.
func mistralTextStop(r string) string {
	if r == "max_tokens" || r == "model_context_window_exceeded" {
		return "length"
	}
	return "stop"
}

type mistralOutput struct {
	Text       string  `json:"text"`
	StopReason *string `json:"stop_reason"`
}

// mistralChatMessage is the message of a chat-completion choice.
type mistralChatMessage struct {
	Role      string         `json:"role"`
	Content   string         `json:"content"`
	ToolCalls []chatToolCall `json:"tool_calls,omitempty"`
}

// mistralChoice is a chat-completion choice. Bedrock's documentation names
// the reason stop_reason; OpenAI-style clients read finish_reason; both are
// sent.
type mistralChoice struct {
	Index        int                `json:"index"`
	Message      mistralChatMessage `json:"message"`
	StopReason   *string            `json:"stop_reason"`
	FinishReason *string            `json:"finish_reason"`
}

func (c mistralCodec) Response(resp *converse.Response, modelID string) ([]byte, error) {
	if resp == nil {
		return nil, errNilResponse
	}
	if c.formFor(modelID) == mistralChat {
		r := chatFinishReason(resp.StopReason)
		if r == "content_filter" {
			r = "stop"
		}
		out := struct {
			Choices []mistralChoice `json:"choices"`
		}{[]mistralChoice{{
			Message:      mistralChatMessage{Role: "assistant", Content: responseText(resp), ToolCalls: responseToolCalls(resp, "")},
			StopReason:   &r,
			FinishReason: &r,
		}}}
		return marshalResponse(out)
	}
	r := mistralTextStop(resp.StopReason)
	out := struct {
		Outputs []mistralOutput `json:"outputs"`
	}{[]mistralOutput{{Text: responseText(resp), StopReason: &r}}}
	return marshalResponse(out)
}

func (c mistralCodec) Stream(modelID string) StreamEncoder {
	return &mistralStream{streamBase: newStreamBase(c.env, modelID), chat: c.formFor(modelID) == mistralChat}
}

// mistralStream renders Converse events as Mistral chunks of either form.
// Tool calls (chat form) are sent whole when their block stops.
type mistralStream struct {
	streamBase
	chat       bool
	tools      toolCallCollector
	stopReason string
}

type mistralChunk struct {
	Outputs []mistralOutput    `json:"outputs,omitempty"`
	Choices []mistralChoice    `json:"choices,omitempty"`
	Metrics *invocationMetrics `json:"amazon-bedrock-invocationMetrics,omitempty"`
}

func (s *mistralStream) chunk(text string, calls []chatToolCall, reason *string) mistralChunk {
	if s.chat {
		return mistralChunk{Choices: []mistralChoice{{
			Message:      mistralChatMessage{Role: "assistant", Content: text, ToolCalls: calls},
			StopReason:   reason,
			FinishReason: reason,
		}}}
	}
	return mistralChunk{Outputs: []mistralOutput{{Text: text, StopReason: reason}}}
}

func (s *mistralStream) Encode(ev converse.StreamEvent) ([][]byte, error) {
	if s.done {
		return nil, nil
	}
	var chunk mistralChunk
	switch {
	case ev.ContentBlockStart != nil:
		s.tools.start(ev.ContentBlockStart, "")
		return nil, nil
	case ev.ContentBlockDelta != nil:
		if t := ev.ContentBlockDelta.Delta.Text; t != nil {
			chunk = s.chunk(*t, nil, nil)
			break
		}
		s.tools.delta(ev.ContentBlockDelta)
		return nil, nil
	case ev.ContentBlockStop != nil:
		call := s.tools.stop(ev.ContentBlockStop.ContentBlockIndex)
		if call == nil || !s.chat {
			return nil, nil
		}
		chunk = s.chunk("", []chatToolCall{*call}, nil)
	case ev.MessageStop != nil:
		s.stopReason = ev.MessageStop.StopReason
		return nil, nil
	case ev.Metadata != nil:
		s.done = true
		r := mistralTextStop(s.stopReason)
		if s.chat {
			if r = chatFinishReason(s.stopReason); r == "content_filter" {
				r = "stop"
			}
		}
		chunk = s.chunk("", nil, &r)
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
