package openai

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

func TestConverseStream(t *testing.T) {
	tests := []struct {
		name      string
		reply     http.HandlerFunc
		want      []string
		wantUsage converse.Usage
	}{
		{
			name: "text",
			reply: sseReply(
				`{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}`,
				`{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}],"usage":null}`,
				`{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}],"usage":null}`,
				`{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":" world"},"finish_reason":null}],"usage":null}`,
				`{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}`,
				`{"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":8}}}`,
				`[DONE]`,
			),
			want: []string{
				`{"messageStart":{"role":"assistant"}}`,
				`{"contentBlockDelta":{"contentBlockIndex":0,"delta":{"text":"Hel"}}}`,
				`{"contentBlockDelta":{"contentBlockIndex":0,"delta":{"text":"lo"}}}`,
				`{"contentBlockDelta":{"contentBlockIndex":0,"delta":{"text":" world"}}}`,
				`{"contentBlockStop":{"contentBlockIndex":0}}`,
				`{"messageStop":{"stopReason":"end_turn"}}`,
				`{"metadata":{"usage":{"inputTokens":4,"outputTokens":3,"totalTokens":15,"cacheReadInputTokens":8},"metrics":{"latencyMs":7}}}`,
			},
			wantUsage: converse.Usage{InputTokens: 4, OutputTokens: 3, TotalTokens: 15, CacheReadInputTokens: 8},
		},
		{
			name: "tool calls in pieces",
			reply: sseReply(
				`{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`,
				`{"choices":[{"index":0,"delta":{"content":"Let me check."},"finish_reason":null}]}`,
				`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}`,
				`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"ci"}}]},"finish_reason":null}]}`,
				`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ty\": \"Paris\"}"}}]},"finish_reason":null}]}`,
				`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"get_time","arguments":"{}"}}]},"finish_reason":null}]}`,
				`{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
				`{"choices":[],"usage":{"prompt_tokens":40,"completion_tokens":25}}`,
				`[DONE]`,
			),
			want: []string{
				`{"messageStart":{"role":"assistant"}}`,
				`{"contentBlockDelta":{"contentBlockIndex":0,"delta":{"text":"Let me check."}}}`,
				`{"contentBlockStop":{"contentBlockIndex":0}}`,
				`{"contentBlockStart":{"contentBlockIndex":1,"start":{"toolUse":{"toolUseId":"call_1","name":"get_weather"}}}}`,
				`{"contentBlockDelta":{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{\"ci"}}}}`,
				`{"contentBlockDelta":{"contentBlockIndex":1,"delta":{"toolUse":{"input":"ty\": \"Paris\"}"}}}}`,
				`{"contentBlockStop":{"contentBlockIndex":1}}`,
				`{"contentBlockStart":{"contentBlockIndex":2,"start":{"toolUse":{"toolUseId":"call_2","name":"get_time"}}}}`,
				`{"contentBlockDelta":{"contentBlockIndex":2,"delta":{"toolUse":{"input":"{}"}}}}`,
				`{"contentBlockStop":{"contentBlockIndex":2}}`,
				`{"messageStop":{"stopReason":"tool_use"}}`,
				`{"metadata":{"usage":{"inputTokens":40,"outputTokens":25,"totalTokens":65},"metrics":{"latencyMs":7}}}`,
			},
			wantUsage: converse.Usage{InputTokens: 40, OutputTokens: 25, TotalTokens: 65},
		},
		{
			name: "tool call named late, finish stop, usage on the last choice chunk",
			reply: sseReply(
				`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_9","function":{"arguments":"{\"a\""}}]}}]}`,
				`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":":1}"}}]}}]}`,
				`{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":4}}`,
				`[DONE]`,
			),
			want: []string{
				`{"messageStart":{"role":"assistant"}}`,
				`{"contentBlockStart":{"contentBlockIndex":0,"start":{"toolUse":{"toolUseId":"call_9","name":"f"}}}}`,
				`{"contentBlockDelta":{"contentBlockIndex":0,"delta":{"toolUse":{"input":"{\"a\":1}"}}}}`,
				`{"contentBlockStop":{"contentBlockIndex":0}}`,
				`{"messageStop":{"stopReason":"tool_use"}}`,
				`{"metadata":{"usage":{"inputTokens":9,"outputTokens":4,"totalTokens":13},"metrics":{"latencyMs":7}}}`,
			},
			wantUsage: converse.Usage{InputTokens: 9, OutputTokens: 4, TotalTokens: 13},
		},
		{
			name: "text after a tool call opens a new block",
			reply: sseReply(
				`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","function":{"name":"f","arguments":"{}"}}]}}]}`,
				`{"choices":[{"index":0,"delta":{"content":"done"},"finish_reason":"tool_calls"}]}`,
				`{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}`,
				`[DONE]`,
			),
			want: []string{
				`{"messageStart":{"role":"assistant"}}`,
				`{"contentBlockStart":{"contentBlockIndex":0,"start":{"toolUse":{"toolUseId":"call_1","name":"f"}}}}`,
				`{"contentBlockDelta":{"contentBlockIndex":0,"delta":{"toolUse":{"input":"{}"}}}}`,
				`{"contentBlockStop":{"contentBlockIndex":0}}`,
				`{"contentBlockDelta":{"contentBlockIndex":1,"delta":{"text":"done"}}}`,
				`{"contentBlockStop":{"contentBlockIndex":1}}`,
				`{"messageStop":{"stopReason":"tool_use"}}`,
				`{"metadata":{"usage":{"inputTokens":1,"outputTokens":2,"totalTokens":3},"metrics":{"latencyMs":7}}}`,
			},
			wantUsage: converse.Usage{InputTokens: 1, OutputTokens: 2, TotalTokens: 3},
		},
		{
			name: "no usage, no [DONE], length",
			reply: sseReply(
				`{"choices":[{"index":0,"delta":{"content":"abcdefghi"}}]}`,
				`{"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}`,
			),
			want: []string{
				`{"messageStart":{"role":"assistant"}}`,
				`{"contentBlockDelta":{"contentBlockIndex":0,"delta":{"text":"abcdefghi"}}}`,
				`{"contentBlockStop":{"contentBlockIndex":0}}`,
				`{"messageStop":{"stopReason":"max_tokens"}}`,
				`{"metadata":{"usage":{"inputTokens":0,"outputTokens":3,"totalTokens":3},"metrics":{"latencyMs":7}}}`,
			},
			wantUsage: converse.Usage{OutputTokens: 3, TotalTokens: 3},
		},
		{
			name: "sse comments, CRLF and vllm stop string",
			reply: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
				io.WriteString(w, ": keep-alive\r\n\r\nevent: message\r\ndata:{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a: b\"}}]}\r\n\r\n")
				io.WriteString(w, "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\",\"stop_reason\":\"END\"}]}\r\n\r\ndata: [DONE]\r\n\r\n")
			},
			want: []string{
				`{"messageStart":{"role":"assistant"}}`,
				`{"contentBlockDelta":{"contentBlockIndex":0,"delta":{"text":"a: b"}}}`,
				`{"contentBlockStop":{"contentBlockIndex":0}}`,
				`{"messageStop":{"stopReason":"stop_sequence"}}`,
				`{"metadata":{"usage":{"inputTokens":0,"outputTokens":1,"totalTokens":1},"metrics":{"latencyMs":7}}}`,
			},
			wantUsage: converse.Usage{OutputTokens: 1, TotalTokens: 1},
		},
		{
			name: "unindexed tool calls, [DONE] without finish_reason",
			reply: sseReply(
				`{"choices":[{"index":0,"delta":{"tool_calls":[{"id":"a","function":{"name":"f","arguments":"{\"x\":"}}]}}]}`,
				`{"choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":"1}"}}]}}]}`,
				`{"choices":[{"index":0,"delta":{"tool_calls":[{"id":"b","function":{"name":"g","arguments":{}}}]}}]}`,
				`[DONE]`,
			),
			want: []string{
				`{"messageStart":{"role":"assistant"}}`,
				`{"contentBlockStart":{"contentBlockIndex":0,"start":{"toolUse":{"toolUseId":"a","name":"f"}}}}`,
				`{"contentBlockDelta":{"contentBlockIndex":0,"delta":{"toolUse":{"input":"{\"x\":"}}}}`,
				`{"contentBlockDelta":{"contentBlockIndex":0,"delta":{"toolUse":{"input":"1}"}}}}`,
				`{"contentBlockStop":{"contentBlockIndex":0}}`,
				`{"contentBlockStart":{"contentBlockIndex":1,"start":{"toolUse":{"toolUseId":"b","name":"g"}}}}`,
				`{"contentBlockDelta":{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{}"}}}}`,
				`{"contentBlockStop":{"contentBlockIndex":1}}`,
				`{"messageStop":{"stopReason":"tool_use"}}`,
				`{"metadata":{"usage":{"inputTokens":0,"outputTokens":3,"totalTokens":3},"metrics":{"latencyMs":7}}}`,
			},
			wantUsage: converse.Usage{OutputTokens: 3, TotalTokens: 3},
		},
		{
			name:  "server ignores stream",
			reply: jsonReply(http.StatusOK, `{"choices":[{"index":0,"message":{"role":"assistant","content":"Hi.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":2,"completion_tokens":3}}`),
			want: []string{
				`{"messageStart":{"role":"assistant"}}`,
				`{"contentBlockDelta":{"contentBlockIndex":0,"delta":{"text":"Hi."}}}`,
				`{"contentBlockStop":{"contentBlockIndex":0}}`,
				`{"contentBlockStart":{"contentBlockIndex":1,"start":{"toolUse":{"toolUseId":"call_1","name":"f"}}}}`,
				`{"contentBlockDelta":{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{\"x\":1}"}}}}`,
				`{"contentBlockStop":{"contentBlockIndex":1}}`,
				`{"messageStop":{"stopReason":"tool_use"}}`,
				`{"metadata":{"usage":{"inputTokens":2,"outputTokens":3,"totalTokens":5},"metrics":{"latencyMs":7}}}`,
			},
			wantUsage: converse.Usage{InputTokens: 2, OutputTokens: 3, TotalTokens: 5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.reply)
			req := converseRequest(t, `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`)
			var r recorder
			usage, err := f.p.ConverseStream(t.Context(), call, req, r.emit)
			if err != nil {
				t.Fatalf("ConverseStream: %v", err)
			}
			if diff := cmp.Diff(r.events, tt.want); diff != "" {
				t.Errorf("events mismatch (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(usage, tt.wantUsage); diff != "" {
				t.Errorf("usage mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestConverseStreamMidStreamErrors(t *testing.T) {
	tests := []struct {
		name      string
		reply     http.HandlerFunc
		kind      errkind.Kind
		want      []string
		wantUsage converse.Usage
	}{
		{
			name: "ends early",
			reply: sseReply(
				`{"choices":[{"index":0,"delta":{"content":"abcde"}}]}`,
			),
			kind: errkind.Unavailable,
			want: []string{
				`{"messageStart":{"role":"assistant"}}`,
				`{"contentBlockDelta":{"contentBlockIndex":0,"delta":{"text":"abcde"}}}`,
			},
			wantUsage: converse.Usage{OutputTokens: 2, TotalTokens: 2},
		},
		{
			name: "error event",
			reply: sseReply(
				`{"choices":[{"index":0,"delta":{"content":"abcd"}}]}`,
				`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{\"x\""}}]}}]}`,
				`{"error":{"message":"engine died","type":"InternalServerError","code":500}}`,
			),
			kind: errkind.Unavailable,
			want: []string{
				`{"messageStart":{"role":"assistant"}}`,
				`{"contentBlockDelta":{"contentBlockIndex":0,"delta":{"text":"abcd"}}}`,
				`{"contentBlockStop":{"contentBlockIndex":0}}`,
				`{"contentBlockStart":{"contentBlockIndex":1,"start":{"toolUse":{"toolUseId":"c","name":"f"}}}}`,
				`{"contentBlockDelta":{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{\"x\""}}}}`,
			},
			wantUsage: converse.Usage{OutputTokens: 2, TotalTokens: 2}, // 4 + 4 characters
		},
		{
			name: "llama.cpp error line",
			reply: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n")
				io.WriteString(w, "error: {\"code\":400,\"message\":\"the request exceeds the available context size\",\"type\":\"exceed_context_size_error\"}\n\n")
			},
			kind: errkind.Invalid,
			want: []string{
				`{"messageStart":{"role":"assistant"}}`,
				`{"contentBlockDelta":{"contentBlockIndex":0,"delta":{"text":"x"}}}`,
			},
			wantUsage: converse.Usage{OutputTokens: 1, TotalTokens: 1},
		},
		{
			name: "malformed chunk keeps reported usage",
			reply: sseReply(
				`{"choices":[{"index":0,"delta":{"content":"abcd"}}],"usage":{"prompt_tokens":7,"completion_tokens":1}}`,
				`{"choices":[{`,
			),
			kind: errkind.Unavailable,
			want: []string{
				`{"messageStart":{"role":"assistant"}}`,
				`{"contentBlockDelta":{"contentBlockIndex":0,"delta":{"text":"abcd"}}}`,
			},
			wantUsage: converse.Usage{InputTokens: 7, OutputTokens: 1, TotalTokens: 8},
		},
		{
			name:  "error as the first event",
			reply: sseReply(`{"error":{"message":"prompt too long","type":"BadRequestError","code":400}}`),
			kind:  errkind.Invalid,
		},
		{
			name:  "empty stream",
			reply: sseReply(),
			kind:  errkind.Unavailable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.reply)
			req := converseRequest(t, `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`)
			var r recorder
			usage, err := f.p.ConverseStream(t.Context(), call, req, r.emit)
			checkKind(t, err, tt.kind)
			if diff := cmp.Diff(r.events, tt.want); diff != "" {
				t.Errorf("events mismatch (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(usage, tt.wantUsage); diff != "" {
				t.Errorf("usage mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

// slowStream is a server that sends chunks, then holds the stream open
// until the client goes away, closing done when it sees that.
func slowStream(done chan<- struct{}, chunks ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, c := range chunks {
			fmt.Fprintf(w, "data: %s\n\n", c)
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
			close(done)
		case <-time.After(10 * time.Second):
		}
	}
}

func waitClosed(t *testing.T, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("the upstream request was not closed")
	}
}

func TestConverseStreamEmitError(t *testing.T) {
	done := make(chan struct{})
	f := newFake(t, slowStream(done,
		`{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}`,
		`{"choices":[{"index":0,"delta":{"content":"abcdefgh"}}]}`,
		`{"choices":[{"index":0,"delta":{"content":"ijkl"}}]}`,
	))
	errGone := errors.New("client went away")
	r := recorder{fail: errGone, failAt: 3} // messageStart and the first delta go through
	req := converseRequest(t, `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`)
	usage, err := f.p.ConverseStream(t.Context(), call, req, r.emit)
	if err != errGone {
		t.Errorf("err = %v, want emit's error", err)
	}
	want := []string{
		`{"messageStart":{"role":"assistant"}}`,
		`{"contentBlockDelta":{"contentBlockIndex":0,"delta":{"text":"abcdefgh"}}}`,
	}
	if diff := cmp.Diff(r.events, want); diff != "" {
		t.Errorf("events mismatch (-got +want):\n%s", diff)
	}
	// 12 characters were produced, the last 4 of them not delivered.
	if diff := cmp.Diff(usage, converse.Usage{OutputTokens: 3, TotalTokens: 3}); diff != "" {
		t.Errorf("usage mismatch (-got +want):\n%s", diff)
	}
	waitClosed(t, done)
}

func TestConverseStreamCancel(t *testing.T) {
	done := make(chan struct{})
	f := newFake(t, slowStream(done,
		`{"choices":[{"index":0,"delta":{"content":"abcd"}}],"usage":{"prompt_tokens":6,"completion_tokens":1}}`,
	))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r := recorder{on: func(n int, ev converse.StreamEvent) {
		if ev.ContentBlockDelta != nil {
			cancel()
		}
	}}
	req := converseRequest(t, `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`)
	usage, err := f.p.ConverseStream(ctx, call, req, r.emit)
	checkError(t, err, errkind.Unavailable, "The request was cancelled.")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want it to wrap context.Canceled", err)
	}
	if diff := cmp.Diff(usage, converse.Usage{InputTokens: 6, OutputTokens: 1, TotalTokens: 7}); diff != "" {
		t.Errorf("usage mismatch (-got +want):\n%s", diff)
	}
	waitClosed(t, done)
}
