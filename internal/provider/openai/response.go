package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/tollgate-dev/tollgate/internal/converse"
)

// chatResponse is a chat-completions response body, and also one streamed
// chunk (whose choices carry a delta instead of a message). Error is set
// when a server reports a failure inside a 200 response.
type chatResponse struct {
	Choices []chatChoice `json:"choices"`
	Usage   *chatUsage   `json:"usage"`
	Error   *chatError   `json:"error"`
	// ServiceTier is the tier that served the request (OpenAI's
	// service_tier), absent on servers without tiers.
	ServiceTier string `json:"service_tier"`
}

type chatChoice struct {
	Index        int          `json:"index"`
	Message      replyMessage `json:"message"`
	Delta        replyMessage `json:"delta"`
	FinishReason *string      `json:"finish_reason"`
	// StopReason is vLLM's: the stop string or token id that ended the
	// generation, null for end of sequence.
	StopReason json.RawMessage `json:"stop_reason"`
}

// replyMessage is a response message or a stream delta.
type replyMessage struct {
	Content   json.RawMessage `json:"content"` // a string, null, or (rarely) an array of parts
	ToolCalls []replyToolCall `json:"tool_calls"`
}

// replyToolCall is a tool call, or in a stream a piece of one.
type replyToolCall struct {
	Index    *int   `json:"index"` // streams only
	ID       string `json:"id"`
	Function struct {
		Name string `json:"name"`
		// Arguments is JSON text in a string; some servers send the
		// object itself.
		Arguments json.RawMessage `json:"arguments"`
	} `json:"function"`
}

type chatUsage struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	PromptTokensDetails *struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

// usage converts to Bedrock's usage: cached prompt tokens are counted as
// cache reads, apart from inputTokens (see the package comment).
func (u *chatUsage) usage() converse.Usage {
	var cached int64
	if d := u.PromptTokensDetails; d != nil {
		cached = min(max(d.CachedTokens, 0), u.PromptTokens)
	}
	in := u.PromptTokens - cached
	return converse.Usage{
		InputTokens:          in,
		OutputTokens:         u.CompletionTokens,
		CacheReadInputTokens: cached,
		TotalTokens:          in + cached + u.CompletionTokens,
	}
}

// estimatedUsage is the usage billed when the server reports none: one
// output token per four characters produced, rounded up.
func estimatedUsage(outChars int) converse.Usage {
	out := int64(outChars+3) / 4
	return converse.Usage{OutputTokens: out, TotalTokens: out}
}

// fromChat translates a non-streaming response (without metrics).
func fromChat(r *chatResponse) (*converse.Response, error) {
	if r.Error != nil {
		return nil, r.Error.err()
	}
	c := firstChoice(r.Choices)
	if c == nil {
		return nil, malformed(errors.New("no choices"))
	}
	msg := &converse.Message{Role: "assistant", Content: []converse.ContentBlock{}}
	chars := 0
	text, err := contentText(c.Message.Content)
	if err != nil {
		return nil, malformed(err)
	}
	if text != "" {
		msg.Content = append(msg.Content, converse.ContentBlock{Text: &text})
		chars += utf8.RuneCountInString(text)
	}
	for _, tc := range c.Message.ToolCalls {
		args := toolArgs(tc.Function.Arguments)
		chars += utf8.RuneCountInString(args)
		id := tc.ID
		if id == "" {
			id = newToolUseID()
		}
		msg.Content = append(msg.Content, converse.ContentBlock{ToolUse: &converse.ToolUseBlock{
			ToolUseID: id,
			Name:      tc.Function.Name,
			Input:     toolInput(args),
		}})
	}
	if len(msg.Content) == 0 {
		// Clients read content[0]; Bedrock never sends an empty message.
		empty := ""
		msg.Content = append(msg.Content, converse.ContentBlock{Text: &empty})
	}
	out := &converse.Response{
		StopReason: stopReason(c.FinishReason, c.StopReason, len(c.Message.ToolCalls) > 0),
	}
	out.Output.Message = msg
	out.ServiceTier = bedrockServiceTier(r.ServiceTier)
	if r.Usage != nil {
		out.Usage = r.Usage.usage()
	} else {
		out.Usage = estimatedUsage(chars)
	}
	return out, nil
}

// firstChoice returns the choice with index 0 (the only one, as Tollgate
// never asks for n > 1), or nil.
func firstChoice(cs []chatChoice) *chatChoice {
	for i := range cs {
		if cs[i].Index == 0 {
			return &cs[i]
		}
	}
	return nil
}

// contentText returns the text of a message content: a string, null, or
// an array of text parts.
func contentText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] == '"' {
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", err
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String(), nil
}

// toolArgs returns the arguments of a tool call as JSON text, whether the
// server sent them as a string or as the JSON value itself.
func toolArgs(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// toolInput is the toolUse input for a complete arguments text: the
// parsed JSON; {} for none; the text as a JSON string when it does not
// parse (the model produced malformed arguments; the client sees them).
func toolInput(args string) json.RawMessage {
	args = strings.TrimSpace(args)
	if args == "" {
		return json.RawMessage("{}")
	}
	if json.Valid([]byte(args)) {
		s, err := compactJSON(json.RawMessage(args))
		if err == nil {
			return json.RawMessage(s)
		}
	}
	b, _ := json.Marshal(args)
	return b
}

// stopReason maps a finish_reason to a Bedrock stop reason.
func stopReason(finish *string, vllmStop json.RawMessage, toolCalls bool) string {
	f := ""
	if finish != nil {
		f = *finish
	}
	switch f {
	case "length":
		return "max_tokens"
	case "content_filter":
		return "content_filtered"
	case "tool_calls", "function_call":
		return "tool_use"
	}
	if toolCalls {
		return "tool_use"
	}
	if f == "stop" {
		if s := bytes.TrimSpace(vllmStop); len(s) > 0 && s[0] == '"' {
			return "stop_sequence"
		}
	}
	return "end_turn"
}
