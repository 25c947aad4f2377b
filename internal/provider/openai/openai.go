// Package openai is the model provider for OpenAI-compatible
// chat-completions servers: vLLM, Ollama, the llama.cpp server, OpenAI
// itself and anything else that serves POST /chat/completions. It
// translates Tollgate's canonical Converse calls to chat-completions
// requests, and the replies (JSON or server-sent events) back to Converse
// responses and ConverseStream events, with the token usage the server
// reports.
//
// Translation choices that are not one-to-one:
//
//   - System text blocks are joined with "\n" into one leading system
//     message; several text blocks of one message are joined the same way
//     into a string content, unless the message also carries an image, in
//     which case content is an array of parts.
//   - A user turn's toolResult blocks become "tool" messages placed before
//     the rest of that turn; their text parts are joined with "\n" and json
//     parts are written as compact JSON. A result's status has no
//     chat-completions equivalent and is dropped.
//   - cachePoint and reasoningContent blocks are hints or history the
//     chat-completions API cannot carry and are dropped; guardContent text
//     is sent as ordinary text (there is no guardrail behind this
//     provider). Documents, video, audio, S3 image sources and system tools
//     are rejected as Invalid.
//   - additionalModelRequestFields must be a JSON object; its members are
//     added to the top level of the request body, but never replace a member
//     the translation sets itself (max_tokens, tools, ...), so the typed
//     Converse fields win; model, messages, stream, stream_options and n
//     cannot be set at all.
//   - prompt_tokens includes the cached prompt tokens, while Bedrock counts
//     cache reads apart from inputTokens. So inputTokens is prompt_tokens
//     minus prompt_tokens_details.cached_tokens, cacheReadInputTokens is the
//     cached count, and totalTokens is prompt_tokens + completion_tokens
//     (input + output + cache read), as the server reports it.
//   - A server that reports no usage is billed an estimate: one output token
//     per four characters (Unicode code points) of text and tool-call
//     arguments produced, rounded up, and zero input tokens.
//   - finish_reason maps stop -> end_turn, length -> max_tokens, tool_calls
//     (and the legacy function_call) -> tool_use, content_filter ->
//     content_filtered. A "stop" on a reply that carries tool calls is
//     tool_use (some servers report it so), and a "stop" for which vLLM
//     names the matched stop string (stop_reason) is stop_sequence.
package openai

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// Config configures a Provider.
type Config struct {
	// BaseURL is the server's API root, e.g. "http://127.0.0.1:8000/v1" or
	// "https://api.openai.com/v1"; "/chat/completions" is appended.
	// Required; http or https.
	BaseURL string
	// APIKey, when set, is sent as "Authorization: Bearer <APIKey>".
	// Default: none (vLLM, Ollama and llama.cpp need none by default).
	APIKey string
	// Models maps a catalogue foundation-model id to the model name the
	// server serves. A model without an entry is addressed by the call's
	// Upstream when set, else by the catalogue id itself. Default: empty.
	Models map[string]string
	// HTTPClient sends the requests. Default: a client with connect, TLS
	// handshake and idle-connection timeouts but no overall timeout, since
	// a stream may legitimately run for minutes; each call is bounded by
	// its context.
	HTTPClient *http.Client
	// Headers are extra request headers, e.g. OpenAI-Organization. They
	// cannot replace Content-Type, Accept or (when APIKey is set)
	// Authorization. Default: none.
	Headers map[string]string
}

// Provider is an invoke.Provider for one OpenAI-compatible server. It is
// safe for concurrent use.
type Provider struct {
	endpoint string
	apiKey   string
	models   map[string]string
	headers  map[string]string
	client   *http.Client
	// jsonHeader and streamHeader are the request headers of a call and of
	// a stream (extra headers, then Content-Type, Accept and Authorization),
	// cloned for each request.
	jsonHeader, streamHeader http.Header
	now                      func() time.Time // the clock measuring latency; tests replace it
}

// New returns a Provider for the server at cfg.BaseURL. It returns an error
// if BaseURL is not an absolute http or https URL.
func New(cfg Config) (*Provider, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("openai: base URL is required")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("openai: base URL %q: %v", cfg.BaseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("openai: base URL %q: scheme must be http or https", cfg.BaseURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("openai: base URL %q has no host", cfg.BaseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("openai: base URL %q must not have a query or fragment", cfg.BaseURL)
	}
	for k := range cfg.Headers {
		if k == "" || strings.ContainsAny(k, " \t\r\n:") {
			return nil, fmt.Errorf("openai: header name %q is invalid", k)
		}
	}
	client := cfg.HTTPClient
	if client == nil {
		client = defaultClient()
	}
	p := &Provider{
		endpoint: strings.TrimRight(cfg.BaseURL, "/") + "/chat/completions",
		apiKey:   cfg.APIKey,
		models:   maps.Clone(cfg.Models),
		headers:  maps.Clone(cfg.Headers),
		client:   client,
		now:      time.Now,
	}
	p.jsonHeader, p.streamHeader = p.requestHeader(false), p.requestHeader(true)
	return p, nil
}

// requestHeader returns the headers of a request, streamed or not.
func (p *Provider) requestHeader(stream bool) http.Header {
	h := http.Header{}
	for k, v := range p.headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	if stream {
		h.Set("Accept", "text/event-stream")
	} else {
		h.Set("Accept", "application/json")
	}
	if p.apiKey != "" {
		h.Set("Authorization", "Bearer "+p.apiKey)
	}
	return h
}

// respBufs hold the bodies of non-streaming responses while they are
// decoded (the decoder copies what it keeps), reused from call to call.
var respBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledResponse is the largest response buffer put back in respBufs.
const maxPooledResponse = 1 << 20

// defaultClient bounds connecting and handshakes but not the response: a
// non-streaming generation can take minutes before the first byte, and the
// caller's context is what bounds a call.
func defaultClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   32,
	}}
}

// maxMessage bounds the upstream error message shown to a client.
const maxMessage = 1024

// maxResponse bounds a non-streaming response body and one stream event.
const maxResponse = 32 << 20

// model is the name the server knows call's model by.
func (p *Provider) model(call converse.Call) string {
	if m, ok := p.models[call.ModelID]; ok && m != "" {
		return m
	}
	if call.Upstream != "" {
		return call.Upstream
	}
	return call.ModelID
}

// Converse runs one non-streaming chat completion.
func (p *Provider) Converse(ctx context.Context, call converse.Call, req *converse.Request) (*converse.Response, error) {
	start := p.now()
	body, err := buildRequest(p.model(call), req, false, call.ServiceTier)
	if err != nil {
		return nil, err
	}
	resp, err := p.post(ctx, body, false)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	buf := respBufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxPooledResponse {
			respBufs.Put(buf)
		}
	}()
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, maxResponse+1)); err != nil {
		return nil, transportError(ctx, err)
	}
	data := buf.Bytes()
	if len(data) > maxResponse {
		return nil, errkind.New(errkind.Unavailable, "The model provider's response is too large.")
	}
	var cr chatResponse
	if err := json.Unmarshal(data, &cr); err != nil {
		return nil, malformed(err)
	}
	out, err := fromChat(&cr)
	if err != nil {
		return nil, err
	}
	out.Metrics.LatencyMs = p.now().Sub(start).Milliseconds()
	return out, nil
}

// ConverseStream runs one streaming chat completion; see invoke.Provider
// for the contract. The events follow Bedrock's order: messageStart, then
// per content block an optional contentBlockStart (tool use only), deltas
// and contentBlockStop, then messageStop and metadata.
func (p *Provider) ConverseStream(ctx context.Context, call converse.Call, req *converse.Request, emit func(converse.StreamEvent) error) (converse.Usage, error) {
	start := p.now()
	body, err := buildRequest(p.model(call), req, true, call.ServiceTier)
	if err != nil {
		return converse.Usage{}, err
	}
	// A cancel of our own makes sure the upstream request is torn down
	// however we return (emit failing, a malformed event, ...).
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp, err := p.post(sctx, body, true)
	if err != nil {
		return converse.Usage{}, err
	}
	defer resp.Body.Close()
	s := newStreamer(emit, func() converse.Metrics {
		return converse.Metrics{LatencyMs: p.now().Sub(start).Milliseconds()}
	})
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/json" {
		// The server ignored "stream": answer from the whole response.
		return s.replay(ctx, resp.Body)
	}
	return s.run(ctx, resp.Body)
}

// post sends body to the chat-completions endpoint and returns the
// response if its status is 2xx; otherwise it returns the status's error.
func (p *Provider) post(ctx context.Context, body []byte, stream bool) (*http.Response, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, errkind.Wrap(errkind.Internal, err, "internal error")
	}
	if stream {
		hreq.Header = p.streamHeader.Clone()
	} else {
		hreq.Header = p.jsonHeader.Clone()
	}
	resp, err := p.client.Do(hreq)
	if err != nil {
		return nil, transportError(ctx, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, statusError(resp.StatusCode, errorMessage(data))
	}
	return resp, nil
}

// transportError classifies a failure to send a request or read a
// response: all of them are Unavailable, so the pipeline may fail over;
// the cause (kept for the log and errors.Is) says whether it was the
// caller's context.
func transportError(ctx context.Context, err error) *errkind.Error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w: %w", cerr, err)
	}
	switch {
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return errkind.Wrap(errkind.Unavailable, err, "The model provider did not answer in time.")
	case ctx.Err() != nil:
		return errkind.Wrap(errkind.Unavailable, err, "The request was cancelled.")
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errkind.Wrap(errkind.Unavailable, err, "The model provider did not answer in time.")
	}
	return errkind.Wrap(errkind.Unavailable, err, "The model provider is unavailable.")
}

// statusError maps an HTTP error status and the server's error message to
// an error. Only Invalid shows the server's message to the client: it
// explains what is wrong with the request. Other messages may name
// accounts or keys, so they are kept for the log; 401 and 403 messages are
// not kept at all.
func statusError(status int, msg string) *errkind.Error {
	detail := fmt.Errorf("status %d: %s", status, msg)
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return errkind.Wrap(errkind.Denied, fmt.Errorf("status %d", status), "upstream rejected the provider's credentials")
	case status == http.StatusTooManyRequests:
		return errkind.Wrap(errkind.Throttled, detail, "The model provider is throttling requests; try again later.")
	case status == http.StatusRequestTimeout || status >= 500:
		return errkind.Wrap(errkind.Unavailable, detail, "The model provider is unavailable.")
	case status >= 400:
		if msg == "" {
			msg = fmt.Sprintf("The model provider rejected the request (HTTP %d).", status)
		} else if len(msg) > maxMessage {
			msg = strings.ToValidUTF8(msg[:maxMessage], "") + "..."
		}
		return errkind.Wrap(errkind.Invalid, detail, "%s", msg)
	default:
		return errkind.Wrap(errkind.Internal, detail, "The model provider answered with an unexpected HTTP status.")
	}
}

// errorMessage extracts the message from an error body in the shapes
// OpenAI-compatible servers use: {"error":{"message"}} (OpenAI, llama.cpp,
// Ollama), {"error":"..."}, {"message"} (vLLM), {"detail"} (FastAPI).
func errorMessage(body []byte) string {
	var e struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(body, &e) != nil {
		return strings.TrimSpace(string(body))
	}
	var ce chatError
	var s string
	switch {
	case json.Unmarshal(e.Error, &ce) == nil && ce.Message != "":
		return ce.Message
	case json.Unmarshal(e.Error, &s) == nil && s != "":
		return s
	case e.Message != "":
		return e.Message
	case json.Unmarshal(e.Detail, &s) == nil && s != "":
		return s
	case len(e.Detail) > 0:
		return string(e.Detail)
	}
	return ""
}

// chatError is the error object in an error body or stream event.
type chatError struct {
	Message string          `json:"message"`
	Type    string          `json:"type"`
	Code    json.RawMessage `json:"code"` // an HTTP status, a string code, or null
}

// err maps an error the server reports inside a 200 response (a stream
// event, or a JSON body) to an error; a numeric code is read as an HTTP
// status, anything else is Unavailable.
func (e *chatError) err() *errkind.Error {
	var status int
	if json.Unmarshal(e.Code, &status) == nil && status >= 400 {
		return statusError(status, e.Message)
	}
	return errkind.Wrap(errkind.Unavailable, fmt.Errorf("%s: %s", e.Type, e.Message), "The model provider failed while generating the response.")
}

// malformed is the error for a response Tollgate cannot parse.
func malformed(err error) *errkind.Error {
	return errkind.Wrap(errkind.Unavailable, err, "The model provider sent a malformed response.")
}

// newToolUseID makes an id for a tool call the server did not name, in
// Bedrock's style.
func newToolUseID() string {
	return "tooluse_" + rand.Text()[:22]
}
