package openai

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{"http", Config{BaseURL: "http://127.0.0.1:8000/v1"}, false},
		{"https with trailing slash", Config{BaseURL: "https://api.openai.com/v1/"}, false},
		{"empty", Config{}, true},
		{"no scheme", Config{BaseURL: "127.0.0.1:8000/v1"}, true},
		{"ftp", Config{BaseURL: "ftp://host/v1"}, true},
		{"no host", Config{BaseURL: "http:///v1"}, true},
		{"query", Config{BaseURL: "http://host/v1?x=1"}, true},
		{"bad header", Config{BaseURL: "http://host/v1", Headers: map[string]string{"Bad Name": "x"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if got := err != nil; got != tt.wantErr {
				t.Errorf("New(%+v) error = %v, want error: %v", tt.cfg, err, tt.wantErr)
			}
		})
	}
}

func TestHeaders(t *testing.T) {
	f := newFake(t, jsonReply(http.StatusOK, okReply), func(c *Config) {
		c.BaseURL += "/"
		c.APIKey = "sk-test"
		c.Headers = map[string]string{"OpenAI-Organization": "org-1", "Content-Type": "text/plain"}
	})
	req := converseRequest(t, `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`)
	if _, err := f.p.Converse(t.Context(), call, req); err != nil {
		t.Fatalf("Converse: %v", err)
	}
	got := f.last(t)
	if got.path != "/v1/chat/completions" {
		t.Errorf("path = %q, want /v1/chat/completions", got.path)
	}
	for k, want := range map[string]string{
		"Authorization":       "Bearer sk-test",
		"OpenAI-Organization": "org-1",
		"Content-Type":        "application/json",
		"Accept":              "application/json",
	} {
		if got := got.header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
}

func TestNoAPIKeyNoAuthorization(t *testing.T) {
	f := newFake(t, jsonReply(http.StatusOK, okReply))
	req := converseRequest(t, `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`)
	if _, err := f.p.Converse(t.Context(), call, req); err != nil {
		t.Fatalf("Converse: %v", err)
	}
	if got := f.last(t).header.Get("Authorization"); got != "" {
		t.Errorf("Authorization = %q, want none", got)
	}
}

func TestConverseResponse(t *testing.T) {
	tests := []struct {
		name  string
		reply string // chat-completions response
		want  string // Converse response
	}{
		{
			name: "text with cached tokens",
			reply: `{"id":"c1","object":"chat.completion","model":"served","choices":[{"index":0,
				"message":{"role":"assistant","content":"Hello there."},"finish_reason":"stop"}],
				"usage":{"prompt_tokens":100,"completion_tokens":20,"total_tokens":120,"prompt_tokens_details":{"cached_tokens":30}}}`,
			want: `{"output":{"message":{"role":"assistant","content":[{"text":"Hello there."}]}},"stopReason":"end_turn",
				"usage":{"inputTokens":70,"outputTokens":20,"totalTokens":120,"cacheReadInputTokens":30},"metrics":{"latencyMs":7}}`,
		},
		{
			name: "tool calls",
			reply: `{"choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[
					{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Paris\"}"}},
					{"id":"call_2","type":"function","function":{"name":"broken","arguments":"{\"city\":"}},
					{"id":"call_3","type":"function","function":{"name":"noargs","arguments":""}}
				]},"finish_reason":"tool_calls"}],
				"usage":{"prompt_tokens":50,"completion_tokens":30,"prompt_tokens_details":null}}`,
			want: `{"output":{"message":{"role":"assistant","content":[
					{"toolUse":{"toolUseId":"call_1","name":"get_weather","input":{"city":"Paris"}}},
					{"toolUse":{"toolUseId":"call_2","name":"broken","input":"{\"city\":"}},
					{"toolUse":{"toolUseId":"call_3","name":"noargs","input":{}}}
				]}},"stopReason":"tool_use",
				"usage":{"inputTokens":50,"outputTokens":30,"totalTokens":80},"metrics":{"latencyMs":7}}`,
		},
		{
			name: "text and tool call with stop",
			reply: `{"choices":[{"index":0,"message":{"role":"assistant","content":"Checking.","tool_calls":[
					{"id":"call_1","type":"function","function":{"name":"f","arguments":{"a":1}}}]},"finish_reason":"stop"}],
				"usage":{"prompt_tokens":5,"completion_tokens":6}}`,
			want: `{"output":{"message":{"role":"assistant","content":[
					{"text":"Checking."},{"toolUse":{"toolUseId":"call_1","name":"f","input":{"a":1}}}]}},"stopReason":"tool_use",
				"usage":{"inputTokens":5,"outputTokens":6,"totalTokens":11},"metrics":{"latencyMs":7}}`,
		},
		{
			name:  "length",
			reply: `{"choices":[{"index":0,"message":{"role":"assistant","content":"Once upon"},"finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":2}}`,
			want: `{"output":{"message":{"role":"assistant","content":[{"text":"Once upon"}]}},"stopReason":"max_tokens",
				"usage":{"inputTokens":3,"outputTokens":2,"totalTokens":5},"metrics":{"latencyMs":7}}`,
		},
		{
			name:  "content filter",
			reply: `{"choices":[{"index":0,"message":{"role":"assistant","content":""},"finish_reason":"content_filter"}],"usage":{"prompt_tokens":3,"completion_tokens":0}}`,
			want: `{"output":{"message":{"role":"assistant","content":[{"text":""}]}},"stopReason":"content_filtered",
				"usage":{"inputTokens":3,"outputTokens":0,"totalTokens":3},"metrics":{"latencyMs":7}}`,
		},
		{
			name:  "vllm stop sequence",
			reply: `{"choices":[{"index":0,"message":{"role":"assistant","content":"one two"},"finish_reason":"stop","stop_reason":"END"}],"usage":{"prompt_tokens":3,"completion_tokens":2}}`,
			want: `{"output":{"message":{"role":"assistant","content":[{"text":"one two"}]}},"stopReason":"stop_sequence",
				"usage":{"inputTokens":3,"outputTokens":2,"totalTokens":5},"metrics":{"latencyMs":7}}`,
		},
		{
			name:  "vllm end of sequence token",
			reply: `{"choices":[{"index":0,"message":{"role":"assistant","content":"done"},"finish_reason":"stop","stop_reason":128009}],"usage":{"prompt_tokens":3,"completion_tokens":1}}`,
			want: `{"output":{"message":{"role":"assistant","content":[{"text":"done"}]}},"stopReason":"end_turn",
				"usage":{"inputTokens":3,"outputTokens":1,"totalTokens":4},"metrics":{"latencyMs":7}}`,
		},
		{
			name:  "content as parts",
			reply: `{"choices":[{"index":1,"message":{"content":"other choice"}},{"index":0,"message":{"role":"assistant","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}`,
			want: `{"output":{"message":{"role":"assistant","content":[{"text":"ab"}]}},"stopReason":"end_turn",
				"usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2},"metrics":{"latencyMs":7}}`,
		},
		{
			name:  "no usage is estimated",
			reply: `{"choices":[{"index":0,"message":{"role":"assistant","content":"héllo wörld!"},"finish_reason":"stop"}]}`,
			want: `{"output":{"message":{"role":"assistant","content":[{"text":"héllo wörld!"}]}},"stopReason":"end_turn",
				"usage":{"inputTokens":0,"outputTokens":3,"totalTokens":3},"metrics":{"latencyMs":7}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, jsonReply(http.StatusOK, tt.reply))
			req := converseRequest(t, `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`)
			resp, err := f.p.Converse(t.Context(), call, req)
			if err != nil {
				t.Fatalf("Converse: %v", err)
			}
			got, err := json.Marshal(resp)
			if err != nil {
				t.Fatal(err)
			}
			if diff := diffJSON(t, got, tt.want); diff != "" {
				t.Errorf("response mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestConverseMissingToolCallID(t *testing.T) {
	f := newFake(t, jsonReply(http.StatusOK, `{"choices":[{"index":0,"message":{"role":"assistant","tool_calls":[
		{"type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}`))
	req := converseRequest(t, `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`)
	resp, err := f.p.Converse(t.Context(), call, req)
	if err != nil {
		t.Fatalf("Converse: %v", err)
	}
	tu := resp.Output.Message.Content[0].ToolUse
	if tu == nil || !strings.HasPrefix(tu.ToolUseID, "tooluse_") || len(tu.ToolUseID) != len("tooluse_")+22 {
		t.Errorf("toolUse = %+v, want a generated tooluse_ id", tu)
	}
}

// errorCases are the upstream failures both Converse and ConverseStream
// must classify.
var errorCases = []struct {
	name    string
	status  int
	body    string
	kind    errkind.Kind
	message string // the client message; "" to skip the check
}{
	{"400 openai", 400, `{"error":{"message":"max_tokens is too large","type":"invalid_request_error","param":"max_tokens","code":null}}`, errkind.Invalid, "max_tokens is too large"},
	{"400 vllm", 400, `{"object":"error","message":"This model's maximum context length is 4096 tokens.","type":"BadRequestError","param":null,"code":400}`, errkind.Invalid, "This model's maximum context length is 4096 tokens."},
	{"404 model", 404, `{"error":{"message":"The model 'x' does not exist","type":"invalid_request_error","code":"model_not_found"}}`, errkind.Invalid, "The model 'x' does not exist"},
	{"422 fastapi", 422, `{"detail":"messages: field required"}`, errkind.Invalid, "messages: field required"},
	{"400 plain text", 400, `bad request`, errkind.Invalid, "bad request"},
	{"401", 401, `{"error":{"message":"Incorrect API key provided: sk-secret"}}`, errkind.Denied, "upstream rejected the provider's credentials"},
	{"403", 403, `{"error":{"message":"key sk-secret is revoked"}}`, errkind.Denied, "upstream rejected the provider's credentials"},
	{"429", 429, `{"error":{"message":"Rate limit reached for org-secret"}}`, errkind.Throttled, ""},
	{"500", 500, `{"error":{"message":"boom"}}`, errkind.Unavailable, ""},
	{"502", 502, `<html>bad gateway</html>`, errkind.Unavailable, ""},
	{"503", 503, ``, errkind.Unavailable, ""},
	{"408", 408, ``, errkind.Unavailable, ""},
	{"200 error body", 200, `{"error":{"message":"engine crashed","type":"server_error","code":500}}`, errkind.Unavailable, ""},
	{"200 garbage", 200, `{"choices":`, errkind.Unavailable, ""},
	{"200 no choices", 200, `{"choices":[]}`, errkind.Unavailable, ""},
}

func TestConverseErrors(t *testing.T) {
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, jsonReply(tt.status, tt.body))
			req := converseRequest(t, `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`)
			_, err := f.p.Converse(t.Context(), call, req)
			checkError(t, err, tt.kind, tt.message)
		})
	}
}

func TestConverseStreamErrorsBeforeEmit(t *testing.T) {
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, jsonReply(tt.status, tt.body))
			req := converseRequest(t, `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`)
			var r recorder
			usage, err := f.p.ConverseStream(t.Context(), call, req, r.emit)
			checkError(t, err, tt.kind, tt.message)
			if len(r.events) != 0 {
				t.Errorf("emitted %v before failing, want nothing", r.events)
			}
			if usage != (converse.Usage{}) {
				t.Errorf("usage = %+v, want zero", usage)
			}
		})
	}
}

// checkError checks err's kind, its client message if want is set, and
// that no secret from the fake's bodies leaks into it.
func checkError(t *testing.T, err error, kind errkind.Kind, message string) {
	t.Helper()
	checkKind(t, err, kind)
	if err == nil {
		return
	}
	e := errkind.As(err)
	if message != "" && e.Message != message {
		t.Errorf("message = %q, want %q", e.Message, message)
	}
	if strings.Contains(e.Message, "secret") {
		t.Errorf("message %q shows the upstream's message", e.Message)
	}
	if kind == errkind.Denied && strings.Contains(err.Error(), "secret") {
		t.Errorf("error %q keeps the credentials message", err)
	}
}

func TestTransportErrors(t *testing.T) {
	req := converseRequest(t, `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`)
	t.Run("connection refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		p, err := New(Config{BaseURL: url + "/v1"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Converse(t.Context(), call, req)
		checkKind(t, err, errkind.Unavailable)
		var r recorder
		_, err = p.ConverseStream(t.Context(), call, req, r.emit)
		checkKind(t, err, errkind.Unavailable)
		if len(r.events) != 0 {
			t.Errorf("emitted %v, want nothing", r.events)
		}
	})
	t.Run("client timeout", func(t *testing.T) {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}, func(c *Config) { c.HTTPClient = &http.Client{Timeout: 50 * time.Millisecond} })
		_, err := f.p.Converse(t.Context(), call, req)
		checkError(t, err, errkind.Unavailable, "The model provider did not answer in time.")
	})
	t.Run("context deadline", func(t *testing.T) {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		})
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err := f.p.Converse(ctx, call, req)
		checkError(t, err, errkind.Unavailable, "The model provider did not answer in time.")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want it to wrap context.DeadlineExceeded", err)
		}
	})
}

func TestConverseCancel(t *testing.T) {
	arrived := make(chan struct{})
	upstreamDone := make(chan struct{})
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		select {
		case <-r.Context().Done():
			close(upstreamDone)
		case <-time.After(10 * time.Second):
		}
	})
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-arrived
		cancel()
	}()
	req := converseRequest(t, `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`)
	_, err := f.p.Converse(ctx, call, req)
	checkError(t, err, errkind.Unavailable, "The request was cancelled.")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want it to wrap context.Canceled", err)
	}
	select {
	case <-upstreamDone:
	case <-time.After(5 * time.Second):
		t.Error("the upstream request was not cancelled")
	}
}

func TestUsageMapping(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want converse.Usage
	}{
		{"plain", `{"prompt_tokens":10,"completion_tokens":5}`, converse.Usage{InputTokens: 10, OutputTokens: 5, TotalTokens: 15}},
		{"cached", `{"prompt_tokens":10,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":4}}`, converse.Usage{InputTokens: 6, OutputTokens: 5, TotalTokens: 15, CacheReadInputTokens: 4}},
		{"all cached", `{"prompt_tokens":10,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":10}}`, converse.Usage{InputTokens: 0, OutputTokens: 5, TotalTokens: 15, CacheReadInputTokens: 10}},
		{"cached beyond prompt", `{"prompt_tokens":10,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":12}}`, converse.Usage{InputTokens: 0, OutputTokens: 5, TotalTokens: 15, CacheReadInputTokens: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var u chatUsage
			if err := json.Unmarshal([]byte(tt.in), &u); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(u.usage(), tt.want); diff != "" {
				t.Errorf("usage mismatch (-got +want):\n%s", diff)
			}
		})
	}
}
