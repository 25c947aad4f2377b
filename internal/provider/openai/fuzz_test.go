package openai

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// FuzzSSE feeds arbitrary server-sent events to the stream decoder: it
// never panics; a failure is an errkind error other than Internal (a bad
// upstream is Unavailable, a refusal the provider's own); and a stream
// that succeeds emitted a well-formed Converse event sequence: messageStart
// first, metadata last, every block delta inside a block that was opened
// and not yet closed.
func FuzzSSE(f *testing.F) {
	for _, s := range []string{
		"data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\ndata: [DONE]\n",
		"data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c1\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\"\"}}]}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\":1}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\ndata: [DONE]\n",
		"error: {\"code\":500,\"message\":\"boom\",\"type\":\"server_error\"}\n",
		"data: {not json}\n",
		"data: {\"choices\":[]}\n",
		": keep-alive\n\ndata: [DONE]\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var evs []converse.StreamEvent
		s := newStreamer(func(ev converse.StreamEvent) error { evs = append(evs, ev); return nil }, func() converse.Metrics { return converse.Metrics{} })
		_, err := s.run(context.Background(), bytes.NewReader(body))
		if err != nil {
			var e *errkind.Error
			if !errors.As(err, &e) || e.Kind == errkind.Internal {
				t.Fatalf("error %v (%T) is not a classified errkind error", err, err)
			}
			return
		}
		if len(evs) < 2 || evs[0].MessageStart == nil || evs[len(evs)-1].Metadata == nil {
			t.Fatalf("a successful stream must open with messageStart and end with metadata: %d events", len(evs))
		}
		open := map[int]bool{}
		for _, ev := range evs[1 : len(evs)-1] {
			switch {
			case ev.ContentBlockStart != nil:
				open[ev.ContentBlockStart.ContentBlockIndex] = true
			case ev.ContentBlockDelta != nil:
				i := ev.ContentBlockDelta.ContentBlockIndex
				if ev.ContentBlockDelta.Delta.ToolUse != nil && !open[i] {
					t.Fatalf("tool input delta for block %d, which was not started", i)
				}
				open[i] = true // a text block opens with its first delta
			case ev.ContentBlockStop != nil:
				if !open[ev.ContentBlockStop.ContentBlockIndex] {
					t.Fatalf("stop of block %d, which is not open", ev.ContentBlockStop.ContentBlockIndex)
				}
				delete(open, ev.ContentBlockStop.ContentBlockIndex)
			case ev.MessageStart != nil || ev.Metadata != nil:
				t.Fatal("messageStart or metadata in the middle of the stream")
			}
		}
	})
}
