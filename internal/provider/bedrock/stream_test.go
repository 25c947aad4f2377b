package bedrock_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/smithy-go/eventstream"
	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// Converse stream frames of a typical tool-using answer.
var (
	evMessageStart = event("messageStart", `{"p":"abcd","role":"assistant"}`)
	evTextDelta    = event("contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"Hello world!"},"p":"ab"}`)
	evTextStop     = event("contentBlockStop", `{"contentBlockIndex":0}`)
	evToolStart    = event("contentBlockStart", `{"contentBlockIndex":1,"start":{"toolUse":{"toolUseId":"tooluse_1","name":"get_weather"}}}`)
	evToolDelta    = event("contentBlockDelta", `{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{\"city\":\"Paris\"}"}}}`)
	evReasonDelta  = event("contentBlockDelta", `{"contentBlockIndex":2,"delta":{"reasoningContent":{"text":"thinking"}}}`)
	evMessageStop  = event("messageStop", `{"stopReason":"tool_use"}`)
	evMetadata     = event("metadata", `{"usage":{"inputTokens":20,"outputTokens":9,"totalTokens":29},"metrics":{"latencyMs":321}}`)
	evUnknown      = event("somethingNew", `{"x":1}`)
	evCitation     = event("contentBlockDelta", `{"contentBlockIndex":0,"delta":{"citation":{"title":"t"}}}`)
	evImageStart   = event("contentBlockStart", `{"contentBlockIndex":3,"start":{"image":{"format":"png"}}}`)
)

// The same events as Tollgate sees them.
func wantEvents() []converse.StreamEvent {
	toolStart := &converse.ContentBlockStartEvent{ContentBlockIndex: 1}
	toolStart.Start.ToolUse = &struct {
		ToolUseID string `json:"toolUseId"`
		Name      string `json:"name"`
	}{"tooluse_1", "get_weather"}
	text := &converse.ContentBlockDeltaEvent{}
	text.Delta.Text = ptr("Hello world!")
	tool := &converse.ContentBlockDeltaEvent{ContentBlockIndex: 1}
	tool.Delta.ToolUse = &struct {
		Input string `json:"input"`
	}{`{"city":"Paris"}`}
	reason := &converse.ContentBlockDeltaEvent{ContentBlockIndex: 2}
	reason.Delta.ReasoningContent = json.RawMessage(`{"text":"thinking"}`)
	return []converse.StreamEvent{
		{MessageStart: &converse.MessageStartEvent{Role: "assistant"}},
		{ContentBlockDelta: text},
		{ContentBlockStop: &converse.ContentBlockStopEvent{ContentBlockIndex: 0}},
		{ContentBlockStart: toolStart},
		{ContentBlockDelta: tool},
		{ContentBlockDelta: reason},
		{MessageStop: &converse.MessageStopEvent{StopReason: "tool_use"}},
		{Metadata: &converse.MetadataEvent{
			Usage:   converse.Usage{InputTokens: 20, OutputTokens: 9, TotalTokens: 29},
			Metrics: converse.Metrics{LatencyMs: 321},
		}},
	}
}

func TestConverseStream(t *testing.T) {
	f := newFake(t, true, func(w http.ResponseWriter, r *http.Request) {
		writeFrames(t, w, evMessageStart, evTextDelta, evCitation, evTextStop, evUnknown, evToolStart, evToolDelta,
			evReasonDelta, evImageStart, evMessageStop, evMetadata)
	})
	p := newProvider(t, f.URL)
	call := converse.Call{ModelID: haikuID, Region: "us-east-1", Upstream: profileARN}

	var got []converse.StreamEvent
	u, err := p.ConverseStream(t.Context(), call, converseRequest(), func(ev converse.StreamEvent) error {
		got = append(got, ev)
		return nil
	})
	if err != nil {
		t.Fatalf("ConverseStream: %v", err)
	}
	if diff := cmp.Diff(got, wantEvents()); diff != "" {
		t.Errorf("events (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(u, converse.Usage{InputTokens: 20, OutputTokens: 9, TotalTokens: 29}); diff != "" {
		t.Errorf("usage (-got +want):\n%s", diff)
	}
	rec := f.last(t)
	gotReq := struct{ Path, Body string }{rec.Path, rec.Body}
	wantReq := struct{ Path, Body string }{profilePath + "/converse-stream", converseRequestJSON}
	if diff := cmp.Diff(gotReq, wantReq); diff != "" {
		t.Errorf("request (-got +want):\n%s", diff)
	}
}

// "Hello world!" (12 bytes) + `{"city":"Paris"}` (16) + "thinking" (8) =
// 36 bytes: 9 estimated output tokens.
var estimated = converse.Usage{OutputTokens: 9, TotalTokens: 9}

func TestConverseStreamStopsEarly(t *testing.T) {
	partial := []eventstream.Message{evMessageStart, evTextDelta, evTextStop, evToolStart, evToolDelta, evReasonDelta}
	tests := []struct {
		name      string
		frames    []eventstream.Message
		raw       []byte // written after the frames
		want      kindAndMessage
		wantUsage converse.Usage
	}{
		{
			name:      "throttling",
			frames:    append(partial[:len(partial):len(partial)], exception("throttlingException", `{"message":"Too many tokens, please wait."}`)),
			want:      kindAndMessage{errkind.Throttled, "Too many tokens, please wait."},
			wantUsage: estimated,
		},
		{
			name:      "service unavailable",
			frames:    append(partial[:len(partial):len(partial)], exception("serviceUnavailableException", `{"message":"try later"}`)),
			want:      kindAndMessage{errkind.Unavailable, "Amazon Bedrock is unavailable."},
			wantUsage: estimated,
		},
		{
			name:      "internal server",
			frames:    append(partial[:len(partial):len(partial)], exception("internalServerException", `{"message":"oops"}`)),
			want:      kindAndMessage{errkind.Unavailable, "Amazon Bedrock is unavailable."},
			wantUsage: estimated,
		},
		{
			name: "model stream error",
			frames: append(partial[:len(partial):len(partial)], exception("modelStreamErrorException",
				`{"message":"model failed","originalStatusCode":500,"originalMessage":"upstream"}`)),
			want:      kindAndMessage{errkind.Unavailable, "Amazon Bedrock is unavailable."},
			wantUsage: estimated,
		},
		{
			name:      "model timeout",
			frames:    append(partial[:len(partial):len(partial)], exception("modelTimeoutException", `{"message":"slow"}`)),
			want:      kindAndMessage{errkind.Unavailable, "Amazon Bedrock is unavailable."},
			wantUsage: estimated,
		},
		{
			name:      "validation",
			frames:    append(partial[:len(partial):len(partial)], exception("validationException", `{"message":"Output blocked by content filtering policy"}`)),
			want:      kindAndMessage{errkind.Invalid, "Output blocked by content filtering policy"},
			wantUsage: estimated,
		},
		{
			name:      "unknown exception",
			frames:    append(partial[:len(partial):len(partial)], exception("brandNewException", `{"message":"?"}`)),
			want:      kindAndMessage{errkind.Unavailable, "Amazon Bedrock is unavailable."},
			wantUsage: estimated,
		},
		{
			name:      "unmodeled error message",
			frames:    append(partial[:len(partial):len(partial)], errorMessage("InternalFailure", "broken")),
			want:      kindAndMessage{errkind.Unavailable, "Amazon Bedrock is unavailable."},
			wantUsage: estimated,
		},
		{
			name:      "exception after metadata keeps the metadata usage",
			frames:    []eventstream.Message{evMessageStart, evTextDelta, evMessageStop, evMetadata, exception("internalServerException", `{"message":"late"}`)},
			want:      kindAndMessage{errkind.Unavailable, "Amazon Bedrock is unavailable."},
			wantUsage: converse.Usage{InputTokens: 20, OutputTokens: 9, TotalTokens: 29},
		},
		{
			name:      "stream ends without metadata",
			frames:    append(partial[:len(partial):len(partial)], evMessageStop),
			want:      kindAndMessage{errkind.Unavailable, "Amazon Bedrock ended the stream before its metadata event."},
			wantUsage: estimated,
		},
		{
			name:      "truncated frame",
			frames:    partial,
			raw:       frameBytes(t, evMessageStop)[:10],
			want:      kindAndMessage{errkind.Unavailable, "Amazon Bedrock is unavailable."},
			wantUsage: estimated,
		},
		{
			name:   "corrupt frame",
			frames: partial,
			raw: func() []byte {
				b := frameBytes(t, evMessageStop)
				b[len(b)-1] ^= 0xff
				return b
			}(),
			want:      kindAndMessage{errkind.Unavailable, "Amazon Bedrock sent a malformed response."},
			wantUsage: estimated,
		},
		{
			name:      "frame too large",
			frames:    partial,
			raw:       []byte{0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0},
			want:      kindAndMessage{errkind.Unavailable, "Amazon Bedrock sent a malformed response."},
			wantUsage: estimated,
		},
		{
			name:      "malformed event payload",
			frames:    append(partial[:len(partial):len(partial)], event("messageStop", `{"stopReason":`)),
			want:      kindAndMessage{errkind.Unavailable, "Amazon Bedrock sent a malformed response."},
			wantUsage: estimated,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, true, func(w http.ResponseWriter, r *http.Request) {
				writeFrames(t, w, tt.frames...)
				w.Write(tt.raw)
			})
			p := newProvider(t, f.URL)
			n := 0
			u, err := p.ConverseStream(t.Context(), haikuCall, converseRequest(), func(converse.StreamEvent) error {
				n++
				return nil
			})
			if diff := cmp.Diff(describe(err), tt.want); diff != "" {
				t.Errorf("error %v (-got +want):\n%s", err, diff)
			}
			if diff := cmp.Diff(u, tt.wantUsage); diff != "" {
				t.Errorf("usage (-got +want):\n%s", diff)
			}
			if n == 0 {
				t.Error("no event was emitted before the failure")
			}
		})
	}
}

// blockingStream answers with frames, then holds the response open until
// the client goes away, reporting on cancelled whether it did.
func blockingStream(t *testing.T, cancelled chan<- bool, frames ...eventstream.Message) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeFrames(t, w, frames...)
		select {
		case <-r.Context().Done():
			cancelled <- true
		case <-time.After(10 * time.Second):
			cancelled <- false
		}
	}
}

var errClientGone = errors.New("client went away")

func TestConverseStreamEmitError(t *testing.T) {
	cancelled := make(chan bool, 1)
	f := newFake(t, true, blockingStream(t, cancelled, evMessageStart, evTextDelta, evTextStop))
	p := newProvider(t, f.URL)
	n := 0
	u, err := p.ConverseStream(t.Context(), haikuCall, converseRequest(), func(converse.StreamEvent) error {
		n++
		if n == 2 {
			return errClientGone
		}
		return nil
	})
	if err != errClientGone {
		t.Errorf("error = %v, want emit's error", err)
	}
	if diff := cmp.Diff(u, converse.Usage{OutputTokens: 3, TotalTokens: 3}); diff != "" {
		t.Errorf("usage (-got +want):\n%s", diff)
	}
	if n != 2 {
		t.Errorf("emit called %d times, want 2", n)
	}
	if !<-cancelled {
		t.Error("the server's request context was not cancelled")
	}
}

func TestConverseStreamContextCancelled(t *testing.T) {
	cancelled := make(chan bool, 1)
	f := newFake(t, true, blockingStream(t, cancelled, evMessageStart, evTextDelta))
	p := newProvider(t, f.URL)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	n := 0
	u, err := p.ConverseStream(ctx, haikuCall, converseRequest(), func(converse.StreamEvent) error {
		if n++; n == 2 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || !errkind.Is(err, errkind.Unavailable) {
		t.Errorf("error = %v, want Unavailable wrapping context.Canceled", err)
	}
	if diff := cmp.Diff(u, converse.Usage{OutputTokens: 3, TotalTokens: 3}); diff != "" {
		t.Errorf("usage (-got +want):\n%s", diff)
	}
	if !<-cancelled {
		t.Error("the server's request context was not cancelled")
	}
}

// Native Anthropic chunks of a streamed answer.
const (
	anthropicStart = `{"type":"message_start","message":{"id":"msg_1","role":"assistant","content":[],"usage":{"input_tokens":12,"output_tokens":1}}}`
	anthropicDelta = `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello world, again"}}`
	anthropicStop  = `{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":12,"outputTokenCount":5,"invocationLatency":812,"firstByteLatency":203,"cacheReadInputTokenCount":30,"cacheWriteInputTokenCount":7}}`
)

func TestInvokeModelStream(t *testing.T) {
	const native = `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
	tests := []struct {
		name      string
		in        converse.NativeRequest
		frames    []eventstream.Message
		want      []string
		wantUsage converse.Usage
		wantHdr   map[string]string
	}{
		{
			name:      "anthropic with cache metrics",
			in:        converse.NativeRequest{Body: []byte(native), ContentType: "application/json", Accept: "application/json"},
			frames:    []eventstream.Message{chunk(anthropicStart), chunk(anthropicDelta), evUnknown, chunk(anthropicStop)},
			want:      []string{anthropicStart, anthropicDelta, anthropicStop},
			wantUsage: converse.Usage{InputTokens: 12, OutputTokens: 5, TotalTokens: 54, CacheReadInputTokens: 30, CacheWriteInputTokens: 7},
			wantHdr:   map[string]string{"Content-Type": "application/json", "X-Amzn-Bedrock-Accept": "application/json", "Accept": ""},
		},
		{
			name: "titan",
			in:   converse.NativeRequest{Body: []byte(native)},
			frames: []eventstream.Message{
				chunk(`{"outputText":"Hi there","index":0,"totalOutputTextTokenCount":null,"completionReason":null,"inputTextTokenCount":4}`),
				chunk(`{"outputText":"!","index":0,"totalOutputTextTokenCount":3,"completionReason":"FINISH","inputTextTokenCount":null,"amazon-bedrock-invocationMetrics":{"inputTokenCount":4,"outputTokenCount":3,"invocationLatency":100,"firstByteLatency":50}}`),
			},
			want: []string{
				`{"outputText":"Hi there","index":0,"totalOutputTextTokenCount":null,"completionReason":null,"inputTextTokenCount":4}`,
				`{"outputText":"!","index":0,"totalOutputTextTokenCount":3,"completionReason":"FINISH","inputTextTokenCount":null,"amazon-bedrock-invocationMetrics":{"inputTokenCount":4,"outputTokenCount":3,"invocationLatency":100,"firstByteLatency":50}}`,
			},
			wantUsage: converse.Usage{InputTokens: 4, OutputTokens: 3, TotalTokens: 7},
			wantHdr:   map[string]string{"Content-Type": "application/json", "X-Amzn-Bedrock-Accept": ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, true, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Amzn-Bedrock-Content-Type", "application/json")
				writeFrames(t, w, tt.frames...)
			})
			p := newProvider(t, f.URL)
			call := converse.Call{ModelID: haikuID, Region: "us-east-1", Upstream: profileARN}
			var got []string
			u, err := p.InvokeModelStream(t.Context(), call, tt.in, func(c []byte) error {
				got = append(got, string(c))
				return nil
			})
			if err != nil {
				t.Fatalf("InvokeModelStream: %v", err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("chunks (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(u, tt.wantUsage); diff != "" {
				t.Errorf("usage (-got +want):\n%s", diff)
			}
			rec := f.last(t)
			gotReq := struct{ Path, Body string }{rec.Path, rec.Body}
			wantReq := struct{ Path, Body string }{profilePath + "/invoke-with-response-stream", native}
			if diff := cmp.Diff(gotReq, wantReq); diff != "" {
				t.Errorf("request (-got +want):\n%s", diff)
			}
			gotHdr := map[string]string{}
			for k := range tt.wantHdr {
				gotHdr[k] = rec.Header.Get(k)
			}
			if diff := cmp.Diff(gotHdr, tt.wantHdr); diff != "" {
				t.Errorf("request headers (-got +want):\n%s", diff)
			}
		})
	}
}

func TestInvokeModelStreamStopsEarly(t *testing.T) {
	tests := []struct {
		name      string
		frames    []eventstream.Message
		want      kindAndMessage
		wantUsage converse.Usage
	}{
		{
			// input_tokens 12 is known; "Hello world, again" is 18 bytes:
			// 5 tokens, more than message_start's output_tokens 1.
			name:      "anthropic throttled",
			frames:    []eventstream.Message{chunk(anthropicStart), chunk(anthropicDelta), exception("throttlingException", `{"message":"Too many requests"}`)},
			want:      kindAndMessage{errkind.Throttled, "Too many requests"},
			wantUsage: converse.Usage{InputTokens: 12, OutputTokens: 5, TotalTokens: 17},
		},
		{
			name: "anthropic message_delta output count wins when larger",
			frames: []eventstream.Message{chunk(anthropicStart), chunk(anthropicDelta),
				chunk(`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":6}}`),
				exception("internalServerException", `{"message":"x"}`)},
			want:      kindAndMessage{errkind.Unavailable, "Amazon Bedrock is unavailable."},
			wantUsage: converse.Usage{InputTokens: 12, OutputTokens: 6, TotalTokens: 18},
		},
		{
			name: "llama model stream error",
			frames: []eventstream.Message{chunk(`{"generation":"Once upon a time","prompt_token_count":9,"generation_token_count":4,"stop_reason":null}`),
				exception("modelStreamErrorException", `{"message":"boom","originalStatusCode":500,"originalMessage":"x"}`)},
			want:      kindAndMessage{errkind.Unavailable, "Amazon Bedrock is unavailable."},
			wantUsage: converse.Usage{OutputTokens: 4, TotalTokens: 4},
		},
		{
			name:      "validation",
			frames:    []eventstream.Message{chunk(`{"outputText":"abcdefgh"}`), exception("validationException", `{"message":"bad input"}`)},
			want:      kindAndMessage{errkind.Invalid, "bad input"},
			wantUsage: converse.Usage{OutputTokens: 2, TotalTokens: 2},
		},
		{
			name:      "ends without metrics",
			frames:    []eventstream.Message{chunk(anthropicStart), chunk(anthropicDelta)},
			want:      kindAndMessage{errkind.Unavailable, "Amazon Bedrock ended the stream before its invocation metrics."},
			wantUsage: converse.Usage{InputTokens: 12, OutputTokens: 5, TotalTokens: 17},
		},
		{
			name:      "malformed chunk",
			frames:    []eventstream.Message{chunk(anthropicStart), event("chunk", `{"bytes":"not base64!"}`)},
			want:      kindAndMessage{errkind.Unavailable, "Amazon Bedrock sent a malformed response."},
			wantUsage: converse.Usage{InputTokens: 12, OutputTokens: 1, TotalTokens: 13},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, true, func(w http.ResponseWriter, r *http.Request) {
				writeFrames(t, w, tt.frames...)
			})
			p := newProvider(t, f.URL)
			u, err := p.InvokeModelStream(t.Context(), haikuCall, converse.NativeRequest{Body: []byte(`{}`)}, func([]byte) error { return nil })
			if diff := cmp.Diff(describe(err), tt.want); diff != "" {
				t.Errorf("error %v (-got +want):\n%s", err, diff)
			}
			if diff := cmp.Diff(u, tt.wantUsage); diff != "" {
				t.Errorf("usage (-got +want):\n%s", diff)
			}
		})
	}
}

func TestInvokeModelStreamEmitError(t *testing.T) {
	cancelled := make(chan bool, 1)
	f := newFake(t, true, blockingStream(t, cancelled, chunk(anthropicStart), chunk(anthropicDelta), chunk(anthropicDelta)))
	p := newProvider(t, f.URL)
	n := 0
	u, err := p.InvokeModelStream(t.Context(), haikuCall, converse.NativeRequest{Body: []byte(`{}`)}, func([]byte) error {
		if n++; n == 2 {
			return errClientGone
		}
		return nil
	})
	if err != errClientGone {
		t.Errorf("error = %v, want emit's error", err)
	}
	if diff := cmp.Diff(u, converse.Usage{InputTokens: 12, OutputTokens: 5, TotalTokens: 17}); diff != "" {
		t.Errorf("usage (-got +want):\n%s", diff)
	}
	if n != 2 {
		t.Errorf("emit called %d times, want 2", n)
	}
	if !<-cancelled {
		t.Error("the server's request context was not cancelled")
	}
}
