package openai

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// chatRequest is the body of POST /chat/completions.
type chatRequest struct {
	Model         string          `json:"model"`
	Messages      []chatMessage   `json:"messages"`
	MaxTokens     *int32          `json:"max_tokens,omitempty"`
	Temperature   *float32        `json:"temperature,omitempty"`
	TopP          *float32        `json:"top_p,omitempty"`
	Stop          []string        `json:"stop,omitempty"`
	Tools         []chatTool      `json:"tools,omitempty"`
	ToolChoice    json.RawMessage `json:"tool_choice,omitempty"`
	Stream        bool            `json:"stream,omitempty"`
	StreamOptions *streamOptions  `json:"stream_options,omitempty"`
	ServiceTier   string          `json:"service_tier,omitempty"`
}

// chatServiceTier maps a Bedrock service tier to OpenAI's service_tier:
// "priority" and "flex" have the same names there; Standard ("default")
// and "reserved" (capacity OpenAI sells under contract, not per request)
// send nothing, so servers without tiers (vLLM, Ollama, llama.cpp) see
// the body they always did.
func chatServiceTier(tier string) string {
	if tier == "priority" || tier == "flex" {
		return tier
	}
	return ""
}

// bedrockServiceTier maps the service_tier an OpenAI response reports to
// the Bedrock tier that served the call: "priority" and "flex" as they
// are, "default" (and "auto", "scale" resolved to standard processing) as
// Standard; "" when the server says nothing.
func bedrockServiceTier(tier string) *converse.ServiceTier {
	switch tier {
	case "":
		return nil
	case "priority", "flex":
		return &converse.ServiceTier{Type: tier}
	}
	return &converse.ServiceTier{Type: "default"}
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// chatMessage is one request message. Content is a string or []chatPart;
// it is left out of an assistant message that only calls tools.
type chatMessage struct {
	Role       string         `json:"role"`
	Content    any            `json:"content,omitempty"`
	ToolCalls  []chatToolCall `json:"tool_calls,omitempty"`
	ToolCallID string         `json:"tool_call_id,omitempty"`
}

type chatPart struct {
	Type     string        `json:"type"` // text, image_url
	Text     string        `json:"text,omitempty"`
	ImageURL *chatImageURL `json:"image_url,omitempty"`
}

type chatImageURL struct {
	URL string `json:"url"`
}

type chatToolCall struct {
	ID       string           `json:"id"`
	Type     string           `json:"type"` // function
	Function chatFunctionCall `json:"function"`
}

type chatFunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"` // JSON text
}

type chatTool struct {
	Type     string       `json:"type"` // function
	Function chatFunction `json:"function"`
}

type chatFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// buildRequest translates req to the JSON body of a chat-completions
// request for model. Errors are Invalid.
func buildRequest(model string, req *converse.Request, stream bool, tier string) ([]byte, error) {
	cr := chatRequest{Model: model, ServiceTier: chatServiceTier(tier)}
	var err error
	if cr.Messages, err = chatMessages(req); err != nil {
		return nil, err
	}
	if ic := req.InferenceConfig; ic != nil {
		cr.MaxTokens = ic.MaxTokens
		cr.Temperature = ic.Temperature
		cr.TopP = ic.TopP
		cr.Stop = ic.StopSequences
	}
	if tc := req.ToolConfig; tc != nil {
		if cr.Tools, err = chatTools(tc.Tools); err != nil {
			return nil, err
		}
		if len(cr.Tools) > 0 {
			if cr.ToolChoice, err = chatToolChoice(tc.ToolChoice); err != nil {
				return nil, err
			}
		}
	}
	if stream {
		cr.Stream = true
		cr.StreamOptions = &streamOptions{IncludeUsage: true}
	}
	body, err := json.Marshal(cr)
	if err != nil {
		return nil, errkind.Wrap(errkind.Internal, err, "internal error")
	}
	return mergeFields(body, req.AdditionalModelRequestFields)
}

// reserved are the request members additionalModelRequestFields cannot
// set even when the translation leaves them out: the provider reads
// exactly one choice, streamed or not as the call says.
var reserved = map[string]bool{"model": true, "messages": true, "stream": true, "stream_options": true, "n": true}

// mergeFields adds the members of extra, a JSON object, to the top level
// of body; members body already has, and reserved ones, are left alone.
func mergeFields(body []byte, extra json.RawMessage) ([]byte, error) {
	extra = bytes.TrimSpace(extra)
	if len(extra) == 0 || string(extra) == "null" {
		return body, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(extra, &fields); err != nil {
		return nil, errkind.New(errkind.Invalid, "additionalModelRequestFields must be a JSON object for this model.")
	}
	if len(fields) == 0 {
		return body, nil
	}
	var merged map[string]json.RawMessage
	if err := json.Unmarshal(body, &merged); err != nil {
		return nil, errkind.Wrap(errkind.Internal, err, "internal error")
	}
	for k, v := range fields {
		if _, set := merged[k]; !set && !reserved[k] {
			merged[k] = v
		}
	}
	out, err := json.Marshal(merged)
	if err != nil {
		return nil, errkind.Wrap(errkind.Internal, err, "internal error")
	}
	return out, nil
}

// chatMessages translates the system prompt and the conversation.
func chatMessages(req *converse.Request) ([]chatMessage, error) {
	var out []chatMessage
	var system []string
	for i, b := range req.System {
		switch {
		case b.Text != nil:
			system = append(system, *b.Text)
		case b.GuardContent != nil:
			t, err := guardText(b.GuardContent)
			if err != nil {
				return nil, errkind.New(errkind.Invalid, "system[%d].guardContent: only text is supported by this model.", i)
			}
			system = append(system, t)
		case b.CachePoint != nil:
			// A caching hint; these servers cache prefixes by themselves.
		default:
			return nil, errkind.New(errkind.Invalid, "system[%d] is empty or of an unsupported type.", i)
		}
	}
	if len(system) > 0 {
		out = append(out, chatMessage{Role: "system", Content: strings.Join(system, "\n")})
	}
	for i, m := range req.Messages {
		var msgs []chatMessage
		var err error
		switch m.Role {
		case "user":
			msgs, err = userMessages(i, m)
		case "assistant":
			msgs, err = assistantMessage(i, m)
		default:
			err = errkind.New(errkind.Invalid, "messages[%d].role %q is not supported; use user or assistant.", i, m.Role)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
	}
	return out, nil
}

// userMessages translates a user turn: its tool results become "tool"
// messages, followed by one user message with the rest of its content.
func userMessages(i int, m converse.Message) ([]chatMessage, error) {
	var out []chatMessage
	var parts []chatPart
	for j, b := range m.Content {
		switch {
		case b.Text != nil:
			parts = append(parts, chatPart{Type: "text", Text: *b.Text})
		case b.Image != nil:
			u, err := imageURL(b.Image)
			if err != nil {
				return nil, errkind.New(errkind.Invalid, "messages[%d].content[%d].image: %s", i, j, err.Message)
			}
			parts = append(parts, chatPart{Type: "image_url", ImageURL: &chatImageURL{URL: u}})
		case b.ToolResult != nil:
			text, err := toolResultText(b.ToolResult)
			if err != nil {
				return nil, errkind.New(errkind.Invalid, "messages[%d].content[%d].toolResult: %s", i, j, err.Message)
			}
			out = append(out, chatMessage{Role: "tool", ToolCallID: b.ToolResult.ToolUseID, Content: text})
		case b.GuardContent != nil:
			t, err := guardText(b.GuardContent)
			if err != nil {
				return nil, errkind.New(errkind.Invalid, "messages[%d].content[%d].guardContent: only text is supported by this model.", i, j)
			}
			parts = append(parts, chatPart{Type: "text", Text: t})
		case b.CachePoint != nil, b.ReasoningContent != nil:
			// Nothing to send.
		default:
			return nil, unsupportedBlock(i, j, b)
		}
	}
	if len(parts) > 0 {
		out = append(out, chatMessage{Role: "user", Content: partsContent(parts)})
	}
	return out, nil
}

// assistantMessage translates an assistant turn: text to content, tool
// uses to tool_calls. A turn with nothing to send stays as an empty
// message, so user and assistant turns keep alternating.
func assistantMessage(i int, m converse.Message) ([]chatMessage, error) {
	var parts []chatPart
	var calls []chatToolCall
	for j, b := range m.Content {
		switch {
		case b.Text != nil:
			parts = append(parts, chatPart{Type: "text", Text: *b.Text})
		case b.ToolUse != nil:
			args, err := compactJSON(b.ToolUse.Input)
			if err != nil {
				return nil, errkind.New(errkind.Invalid, "messages[%d].content[%d].toolUse.input is not valid JSON.", i, j)
			}
			if args == "" || args == "null" {
				args = "{}"
			}
			calls = append(calls, chatToolCall{
				ID:       b.ToolUse.ToolUseID,
				Type:     "function",
				Function: chatFunctionCall{Name: b.ToolUse.Name, Arguments: args},
			})
		case b.CachePoint != nil, b.ReasoningContent != nil:
			// Chat-completions history carries no reasoning.
		default:
			return nil, unsupportedBlock(i, j, b)
		}
	}
	msg := chatMessage{Role: "assistant", ToolCalls: calls}
	if len(parts) > 0 {
		msg.Content = partsContent(parts)
	} else if len(calls) == 0 {
		msg.Content = ""
	}
	return []chatMessage{msg}, nil
}

// partsContent is the content for parts: a string when they are all text,
// else the parts themselves.
func partsContent(parts []chatPart) any {
	texts := make([]string, 0, len(parts))
	for _, p := range parts {
		if p.Type != "text" {
			return parts
		}
		texts = append(texts, p.Text)
	}
	return strings.Join(texts, "\n")
}

// imageURL makes a data: URL of an image given by its bytes.
func imageURL(img *converse.ImageBlock) (string, *errkind.Error) {
	switch img.Format {
	case "png", "jpeg", "gif", "webp":
	default:
		return "", errkind.New(errkind.Invalid, "format %q is not supported; use png, jpeg, gif or webp.", img.Format)
	}
	if len(img.Source.Bytes) == 0 {
		return "", errkind.New(errkind.Invalid, "only images given by bytes are supported by this model.")
	}
	return "data:image/" + img.Format + ";base64," + base64.StdEncoding.EncodeToString(img.Source.Bytes), nil
}

// toolResultText flattens a tool result to the text of a tool message.
func toolResultText(r *converse.ToolResultBlock) (string, *errkind.Error) {
	texts := make([]string, 0, len(r.Content))
	for k, c := range r.Content {
		switch {
		case c.Text != nil:
			texts = append(texts, *c.Text)
		case len(c.JSON) > 0:
			s, err := compactJSON(c.JSON)
			if err != nil {
				return "", errkind.New(errkind.Invalid, "content[%d].json is not valid JSON.", k)
			}
			texts = append(texts, s)
		default:
			return "", errkind.New(errkind.Invalid, "content[%d]: only text and json tool results are supported by this model.", k)
		}
	}
	return strings.Join(texts, "\n"), nil
}

// guardText returns the text of a guardContent block
// ({"text":{"text":"..."}}).
func guardText(raw json.RawMessage) (string, error) {
	var g struct {
		Text *struct {
			Text string `json:"text"`
		} `json:"text"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		return "", err
	}
	if g.Text == nil {
		return "", errors.New("guardContent has no text")
	}
	return g.Text.Text, nil
}

// unsupportedBlock is the error for a content block this provider cannot
// translate.
func unsupportedBlock(i, j int, b converse.ContentBlock) *errkind.Error {
	kind := "this content block"
	switch {
	case b.Image != nil:
		kind = "image"
	case b.ToolUse != nil:
		kind = "toolUse"
	case b.ToolResult != nil:
		kind = "toolResult"
	case b.Document != nil:
		kind = "document"
	case b.Video != nil:
		kind = "video"
	case b.Audio != nil:
		kind = "audio"
	case b.GuardContent != nil:
		kind = "guardContent"
	case b.CitationsContent != nil:
		kind = "citationsContent"
	case b.SearchResult != nil:
		kind = "searchResult"
	}
	return errkind.New(errkind.Invalid, "messages[%d].content[%d]: %s is not supported in this message by this model.", i, j, kind)
}

// chatTools translates the tool specs; cache points are dropped.
func chatTools(tools []converse.Tool) ([]chatTool, error) {
	var out []chatTool
	for i, t := range tools {
		switch {
		case t.ToolSpec != nil:
			params := bytes.TrimSpace(t.ToolSpec.InputSchema.JSON)
			if string(params) == "null" {
				params = nil
			}
			out = append(out, chatTool{Type: "function", Function: chatFunction{
				Name:        t.ToolSpec.Name,
				Description: t.ToolSpec.Description,
				Parameters:  json.RawMessage(params),
				Strict:      t.ToolSpec.Strict,
			}})
		case t.CachePoint != nil:
		case t.SystemTool != nil:
			return nil, errkind.New(errkind.Invalid, "toolConfig.tools[%d]: system tools are not supported by this model.", i)
		default:
			return nil, errkind.New(errkind.Invalid, "toolConfig.tools[%d] is empty or of an unsupported type.", i)
		}
	}
	return out, nil
}

// chatToolChoice translates a Converse toolChoice: auto -> "auto", any ->
// "required", tool -> that function. Absent stays absent (the server's
// default, auto).
func chatToolChoice(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var c struct {
		Auto json.RawMessage `json:"auto"`
		Any  json.RawMessage `json:"any"`
		Tool *struct {
			Name string `json:"name"`
		} `json:"tool"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, errkind.New(errkind.Invalid, "toolConfig.toolChoice must be one of auto, any or tool.")
	}
	switch {
	case c.Auto != nil:
		return json.RawMessage(`"auto"`), nil
	case c.Any != nil:
		return json.RawMessage(`"required"`), nil
	case c.Tool != nil && c.Tool.Name != "":
		b, err := json.Marshal(map[string]any{"type": "function", "function": map[string]string{"name": c.Tool.Name}})
		if err != nil {
			return nil, errkind.Wrap(errkind.Internal, err, "internal error")
		}
		return b, nil
	}
	return nil, errkind.New(errkind.Invalid, "toolConfig.toolChoice must be one of auto, any or tool (with a name).")
}

// compactJSON returns raw as compact JSON text ("" for none).
func compactJSON(raw json.RawMessage) (string, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return "", nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return "", err
	}
	return b.String(), nil
}
