// Package converse is Tollgate's canonical vocabulary of a model call: the
// Bedrock Converse shapes (Request, Response, StreamEvent, Usage and the
// blocks they carry), the model-native InvokeModel body (NativeRequest,
// NativeResponse), and the Call that identifies one provider attempt.
//
// The conversation types follow the Bedrock Converse API member for member
// (same JSON names), because Converse is the lingua franca every provider
// is translated to and from; documents (tool input, additional fields) stay
// raw JSON so nothing a client sends is lost on the way to a provider.
//
// It is a leaf: the runtime pipeline (internal/invoke), the providers
// (internal/provider/...), the native codecs (internal/native) and the
// runtime API speak it without depending on one another.
package converse

import (
	"encoding/json"
)

// Request is a Converse or ConverseStream request body.
type Request struct {
	// Raw is the request body exactly as the client sent it, when it came
	// from the wire; providers that speak Converse natively forward it
	// as is. Never serialised.
	Raw []byte `json:"-"`

	Messages                          []Message         `json:"messages,omitempty"`
	System                            []SystemBlock     `json:"system,omitempty"`
	InferenceConfig                   *InferenceConfig  `json:"inferenceConfig,omitempty"`
	ToolConfig                        *ToolConfig       `json:"toolConfig,omitempty"`
	GuardrailConfig                   json.RawMessage   `json:"guardrailConfig,omitempty"`
	AdditionalModelRequestFields      json.RawMessage   `json:"additionalModelRequestFields,omitempty"`
	AdditionalModelResponseFieldPaths []string          `json:"additionalModelResponseFieldPaths,omitempty"`
	PromptVariables                   json.RawMessage   `json:"promptVariables,omitempty"`
	RequestMetadata                   map[string]string `json:"requestMetadata,omitempty"`
	PerformanceConfig                 json.RawMessage   `json:"performanceConfig,omitempty"`
	ServiceTier                       *ServiceTier      `json:"serviceTier,omitempty"`
	OutputConfig                      json.RawMessage   `json:"outputConfig,omitempty"`
}

// Message is one turn of a conversation.
type Message struct {
	Role    string         `json:"role"` // "user" or "assistant"
	Content []ContentBlock `json:"content"`
}

// ContentBlock is a union: exactly one member is set. Members Tollgate does
// not interpret are kept as raw JSON; the Bedrock provider forwards the
// client's original body (Request.Raw), so nothing is lost there.
type ContentBlock struct {
	Text             *string          `json:"text,omitempty"`
	Image            *ImageBlock      `json:"image,omitempty"`
	ToolUse          *ToolUseBlock    `json:"toolUse,omitempty"`
	ToolResult       *ToolResultBlock `json:"toolResult,omitempty"`
	ReasoningContent json.RawMessage  `json:"reasoningContent,omitempty"`
	CachePoint       json.RawMessage  `json:"cachePoint,omitempty"`
	Document         json.RawMessage  `json:"document,omitempty"`
	Video            json.RawMessage  `json:"video,omitempty"`
	Audio            json.RawMessage  `json:"audio,omitempty"`
	GuardContent     json.RawMessage  `json:"guardContent,omitempty"`
	CitationsContent json.RawMessage  `json:"citationsContent,omitempty"`
	SearchResult     json.RawMessage  `json:"searchResult,omitempty"`
}

// ImageBlock is an image content block.
type ImageBlock struct {
	Format string `json:"format"` // png, jpeg, gif, webp
	Source struct {
		Bytes      []byte          `json:"bytes,omitempty"` // base64 in JSON
		S3Location json.RawMessage `json:"s3Location,omitempty"`
	} `json:"source"`
}

// ToolUseBlock is a model's request to call a tool.
type ToolUseBlock struct {
	ToolUseID string          `json:"toolUseId"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	Type      string          `json:"type,omitempty"`
}

// ToolResultBlock is the result of a tool call, sent back by the client.
type ToolResultBlock struct {
	ToolUseID string              `json:"toolUseId"`
	Content   []ToolResultContent `json:"content"`
	Status    string              `json:"status,omitempty"` // success, error
	Type      string              `json:"type,omitempty"`
}

// ToolResultContent is a union inside a tool result.
type ToolResultContent struct {
	Text     *string         `json:"text,omitempty"`
	JSON     json.RawMessage `json:"json,omitempty"`
	Image    *ImageBlock     `json:"image,omitempty"`
	Document json.RawMessage `json:"document,omitempty"`
}

// SystemBlock is a union of system prompt members.
type SystemBlock struct {
	Text         *string         `json:"text,omitempty"`
	GuardContent json.RawMessage `json:"guardContent,omitempty"`
	CachePoint   json.RawMessage `json:"cachePoint,omitempty"`
}

// InferenceConfig holds the common inference parameters.
type InferenceConfig struct {
	MaxTokens     *int32   `json:"maxTokens,omitempty"`
	Temperature   *float32 `json:"temperature,omitempty"`
	TopP          *float32 `json:"topP,omitempty"`
	StopSequences []string `json:"stopSequences,omitempty"`
}

// ToolConfig declares the tools a model may call.
type ToolConfig struct {
	Tools      []Tool          `json:"tools"`
	ToolChoice json.RawMessage `json:"toolChoice,omitempty"` // {"auto":{}} | {"any":{}} | {"tool":{"name":...}}
}

// Tool is a union; ToolSpec is the member Tollgate interprets.
type Tool struct {
	ToolSpec   *ToolSpec       `json:"toolSpec,omitempty"`
	SystemTool json.RawMessage `json:"systemTool,omitempty"`
	CachePoint json.RawMessage `json:"cachePoint,omitempty"`
}

// ToolSpec describes one tool.
type ToolSpec struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	InputSchema struct {
		JSON json.RawMessage `json:"json"`
	} `json:"inputSchema"`
	Strict *bool `json:"strict,omitempty"`
}

// Response is a Converse response body.
type Response struct {
	Output struct {
		Message *Message `json:"message,omitempty"`
	} `json:"output"`
	StopReason                    string          `json:"stopReason"`
	Usage                         Usage           `json:"usage"`
	Metrics                       Metrics         `json:"metrics"`
	AdditionalModelResponseFields json.RawMessage `json:"additionalModelResponseFields,omitempty"`
	Trace                         json.RawMessage `json:"trace,omitempty"`
	PerformanceConfig             json.RawMessage `json:"performanceConfig,omitempty"`
	ServiceTier                   *ServiceTier    `json:"serviceTier,omitempty"`
}

// ServiceTier is Bedrock's ServiceTier structure: the tier a request asks
// for, and the tier that served it in a response.
type ServiceTier struct {
	// Type is "priority", "default", "flex" or "reserved".
	Type string `json:"type"`
}

// Tier returns t's type, or "" when t is nil.
func (t *ServiceTier) Tier() string {
	if t == nil {
		return ""
	}
	return t.Type
}

// ServiceTiers are the values of Bedrock's ServiceTierType, in the order
// the service model lists them.
var ServiceTiers = []string{"priority", "default", "flex", "reserved"}

// Usage is the token usage of one call, as Bedrock reports it.
type Usage struct {
	InputTokens           int64 `json:"inputTokens"`
	OutputTokens          int64 `json:"outputTokens"`
	TotalTokens           int64 `json:"totalTokens"`
	CacheReadInputTokens  int64 `json:"cacheReadInputTokens,omitempty"`
	CacheWriteInputTokens int64 `json:"cacheWriteInputTokens,omitempty"`
	// CacheDetails splits CacheWriteInputTokens by cache TTL, as
	// Bedrock's cacheDetails list reports it; zero without cache writes.
	CacheDetails CacheDetails `json:"cacheDetails,omitzero"`
}

// CacheDetails are the cache writes by TTL. On the wire it is Bedrock's
// list of {inputTokens, ttl}, 1h before 5m, holding only TTLs with
// writes; it is a struct here so Usage stays comparable.
type CacheDetails struct {
	FiveMinutes, OneHour int64
}

type cacheDetail struct {
	InputTokens int64  `json:"inputTokens"`
	TTL         string `json:"ttl"`
}

// MarshalJSON writes the list form.
func (d CacheDetails) MarshalJSON() ([]byte, error) {
	l := []cacheDetail{}
	if d.OneHour > 0 {
		l = append(l, cacheDetail{d.OneHour, "1h"})
	}
	if d.FiveMinutes > 0 {
		l = append(l, cacheDetail{d.FiveMinutes, "5m"})
	}
	return json.Marshal(l)
}

// UnmarshalJSON reads the list form; TTLs other than 5m and 1h are
// ignored.
func (d *CacheDetails) UnmarshalJSON(b []byte) error {
	var l []cacheDetail
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	*d = CacheDetails{}
	for _, e := range l {
		switch e.TTL {
		case "1h":
			d.OneHour += e.InputTokens
		case "5m":
			d.FiveMinutes += e.InputTokens
		}
	}
	return nil
}

// CacheWrite1h returns the cache writes with the 1-hour TTL (never more
// than all cache writes).
func (u Usage) CacheWrite1h() int64 { return min(u.CacheDetails.OneHour, u.CacheWriteInputTokens) }

// Total returns the total Bedrock reports: input, output and both cache
// classes (cache tokens are not part of InputTokens).
func (u Usage) Total() int64 {
	return u.InputTokens + u.OutputTokens + u.CacheReadInputTokens + u.CacheWriteInputTokens
}

// Metrics is the latency report of a call.
type Metrics struct {
	LatencyMs int64 `json:"latencyMs"`
}

// StreamEvent is one ConverseStream event: exactly one member is set, and
// its JSON name is the event-stream :event-type.
type StreamEvent struct {
	MessageStart      *MessageStartEvent      `json:"messageStart,omitempty"`
	ContentBlockStart *ContentBlockStartEvent `json:"contentBlockStart,omitempty"`
	ContentBlockDelta *ContentBlockDeltaEvent `json:"contentBlockDelta,omitempty"`
	ContentBlockStop  *ContentBlockStopEvent  `json:"contentBlockStop,omitempty"`
	MessageStop       *MessageStopEvent       `json:"messageStop,omitempty"`
	Metadata          *MetadataEvent          `json:"metadata,omitempty"`
}

// MessageStartEvent opens the assistant message.
type MessageStartEvent struct {
	Role string `json:"role"`
}

// ContentBlockStartEvent opens a non-text block (tool use).
type ContentBlockStartEvent struct {
	ContentBlockIndex int `json:"contentBlockIndex"`
	Start             struct {
		ToolUse *struct {
			ToolUseID string `json:"toolUseId"`
			Name      string `json:"name"`
		} `json:"toolUse,omitempty"`
	} `json:"start"`
}

// ContentBlockDeltaEvent carries a piece of a block.
type ContentBlockDeltaEvent struct {
	ContentBlockIndex int `json:"contentBlockIndex"`
	Delta             struct {
		Text    *string `json:"text,omitempty"`
		ToolUse *struct {
			Input string `json:"input"` // partial JSON text
		} `json:"toolUse,omitempty"`
		ReasoningContent json.RawMessage `json:"reasoningContent,omitempty"`
	} `json:"delta"`
}

// ContentBlockStopEvent closes a block.
type ContentBlockStopEvent struct {
	ContentBlockIndex int `json:"contentBlockIndex"`
}

// MessageStopEvent closes the message.
type MessageStopEvent struct {
	StopReason                    string          `json:"stopReason"`
	AdditionalModelResponseFields json.RawMessage `json:"additionalModelResponseFields,omitempty"`
}

// MetadataEvent is the last event: usage, latency, the latency mode and
// the tier served.
type MetadataEvent struct {
	Usage             Usage           `json:"usage"`
	Metrics           Metrics         `json:"metrics"`
	Trace             json.RawMessage `json:"trace,omitempty"`
	PerformanceConfig json.RawMessage `json:"performanceConfig,omitempty"`
	ServiceTier       *ServiceTier    `json:"serviceTier,omitempty"`
}

// Latency modes of Bedrock's PerformanceConfiguration (and of the
// X-Amzn-Bedrock-PerformanceConfig-Latency header).
const (
	LatencyStandard  = "standard"
	LatencyOptimized = "optimized"
)

// LatencyOf returns the latency mode a performanceConfig member states
// ({"latency":"optimized"}), or "" when raw is absent or says none.
func LatencyOf(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var pc struct {
		Latency string `json:"latency"`
	}
	if json.Unmarshal(raw, &pc) != nil {
		return ""
	}
	return pc.Latency
}

// Call identifies one provider attempt.
type Call struct {
	RequestID string
	// ModelID is the catalogue's foundation-model id, e.g.
	// "anthropic.claude-3-haiku-20240307-v1:0".
	ModelID string
	// Region is the region this attempt is routed to.
	Region string
	// Upstream, when set, is what the provider should address instead of
	// ModelID: an upstream application-profile ARN on real Bedrock, or the
	// served model name on an OpenAI-compatible server.
	Upstream string
	// ServiceTier is the service tier to ask the provider for ("" for
	// the provider's default); the pipeline has resolved it from the
	// request and the profile, and checked the model offers it.
	ServiceTier string
	// OnServed, when set, is called by a provider that learns the tier
	// actually serving the call from its upstream before the call's
	// first event (the response header of a native stream).
	OnServed func(tier string)
	// OnLatency, when set, is called likewise with the latency mode
	// ("standard" or "optimized") the upstream says serves the call.
	OnLatency func(mode string)
}

// NativeRequest is an InvokeModel body in the model's own format.
type NativeRequest struct {
	Body        []byte
	ContentType string
	Accept      string
	// ServiceTier is the X-Amzn-Bedrock-Service-Tier header ("" when absent).
	ServiceTier string
	// Latency is the X-Amzn-Bedrock-PerformanceConfig-Latency header:
	// "standard", "optimized" or "" when absent.
	Latency string
}

// NativeResponse is an InvokeModel response in the model's own format.
type NativeResponse struct {
	Body        []byte
	ContentType string
	Usage       Usage
	LatencyMs   int64 // set by the pipeline: the whole call's latency
	// ServiceTier is the tier that served the call (the response's
	// X-Amzn-Bedrock-Service-Tier header); "" when the provider does not say.
	ServiceTier string
	// Latency is the latency mode that served the call (the response's
	// X-Amzn-Bedrock-PerformanceConfig-Latency header); "" when the
	// provider does not say.
	Latency string
}
