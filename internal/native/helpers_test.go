package native

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tollgate-dev/tollgate/internal/converse"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// testCodec returns the codec of family with a fixed clock and an id source
// of zero bytes, so ids are fixed too.
func testCodec(t *testing.T, family string) (Codec, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: t0}
	c, ok := forEnv(family, env{now: clk.now, rand: bytes.NewReader(make([]byte, 1<<16))})
	if !ok {
		t.Fatalf("forEnv(%q): no codec", family)
	}
	return c, clk
}

// rawJSON compares json.RawMessage values by meaning, not bytes.
var rawJSON = cmp.Transformer("rawJSON", func(r json.RawMessage) any {
	if len(r) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(r, &v); err != nil {
		return "invalid JSON: " + string(r)
	}
	return v
})

// decodeJSON unmarshals s into a generic value, failing the test on error.
func decodeJSON(t *testing.T, s []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(s, &v); err != nil {
		t.Fatalf("invalid JSON %s: %v", s, err)
	}
	return v
}

// diffJSON compares two JSON texts by meaning.
func diffJSON(t *testing.T, got, want []byte) string {
	t.Helper()
	return cmp.Diff(decodeJSON(t, got), decodeJSON(t, want))
}

// streamStep is one event of a test stream and how long it arrives after
// the previous one.
type streamStep struct {
	after time.Duration
	ev    converse.StreamEvent
}

// runStream feeds steps to enc, moving clk, and returns every chunk decoded.
func runStream(t *testing.T, enc StreamEncoder, clk *fakeClock, steps []streamStep) []any {
	t.Helper()
	var out []any
	for _, s := range steps {
		clk.t = clk.t.Add(s.after)
		chunks, err := enc.Encode(s.ev)
		if err != nil {
			t.Fatalf("Encode(%+v): %v", s.ev, err)
		}
		for _, c := range chunks {
			out = append(out, decodeJSON(t, c))
		}
	}
	return out
}

// decodeAll decodes want chunks written as JSON texts.
func decodeAll(t *testing.T, chunks []string) []any {
	t.Helper()
	out := make([]any, 0, len(chunks))
	for _, c := range chunks {
		out = append(out, decodeJSON(t, []byte(c)))
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func text(s string) converse.ContentBlock { return converse.ContentBlock{Text: &s} }

func sys(s string) converse.SystemBlock { return converse.SystemBlock{Text: &s} }

func user(blocks ...converse.ContentBlock) converse.Message {
	return converse.Message{Role: "user", Content: blocks}
}

func assistant(blocks ...converse.ContentBlock) converse.Message {
	return converse.Message{Role: "assistant", Content: blocks}
}

func toolUse(id, name, input string) converse.ContentBlock {
	return converse.ContentBlock{ToolUse: &converse.ToolUseBlock{ToolUseID: id, Name: name, Input: json.RawMessage(input)}}
}

func toolSpec(name, desc, schema string) converse.Tool {
	s := &converse.ToolSpec{Name: name, Description: desc}
	s.InputSchema.JSON = json.RawMessage(schema)
	return converse.Tool{ToolSpec: s}
}

func image(format string, data []byte) converse.ContentBlock {
	img := &converse.ImageBlock{Format: format}
	img.Source.Bytes = data
	return converse.ContentBlock{Image: img}
}

// Stream events.

func evStart() converse.StreamEvent {
	return converse.StreamEvent{MessageStart: &converse.MessageStartEvent{Role: "assistant"}}
}

func evText(idx int, s string) converse.StreamEvent {
	d := &converse.ContentBlockDeltaEvent{ContentBlockIndex: idx}
	d.Delta.Text = &s
	return converse.StreamEvent{ContentBlockDelta: d}
}

func evToolStart(idx int, id, name string) converse.StreamEvent {
	s := &converse.ContentBlockStartEvent{ContentBlockIndex: idx}
	s.Start.ToolUse = &struct {
		ToolUseID string `json:"toolUseId"`
		Name      string `json:"name"`
	}{id, name}
	return converse.StreamEvent{ContentBlockStart: s}
}

func evToolInput(idx int, partial string) converse.StreamEvent {
	d := &converse.ContentBlockDeltaEvent{ContentBlockIndex: idx}
	d.Delta.ToolUse = &struct {
		Input string `json:"input"`
	}{partial}
	return converse.StreamEvent{ContentBlockDelta: d}
}

func evBlockStop(idx int) converse.StreamEvent {
	return converse.StreamEvent{ContentBlockStop: &converse.ContentBlockStopEvent{ContentBlockIndex: idx}}
}

func evStop(reason string) converse.StreamEvent {
	return converse.StreamEvent{MessageStop: &converse.MessageStopEvent{StopReason: reason}}
}

func evMetadata(in, out, latencyMs int64) converse.StreamEvent {
	return converse.StreamEvent{Metadata: &converse.MetadataEvent{
		Usage:   converse.Usage{InputTokens: in, OutputTokens: out, TotalTokens: in + out},
		Metrics: converse.Metrics{LatencyMs: latencyMs},
	}}
}

// textSteps is a plain text stream: "Hello" + " world", 100 ms apart,
// 12 input and 5 output tokens, latency measured (600 ms in all).
func textSteps() []streamStep {
	const d = 100 * time.Millisecond
	return []streamStep{
		{d, evStart()},
		{d, evText(0, "Hello")},
		{d, evText(0, " world")},
		{d, evBlockStop(0)},
		{d, evStop("end_turn")},
		{d, evMetadata(12, 5, 0)},
	}
}

// textResponse is a plain text Converse response.
func textResponse(stop string) *converse.Response {
	r := &converse.Response{StopReason: stop}
	r.Output.Message = &converse.Message{Role: "assistant", Content: []converse.ContentBlock{text("Hello world")}}
	r.Usage = converse.Usage{InputTokens: 12, OutputTokens: 5, TotalTokens: 17}
	r.Metrics.LatencyMs = 321
	return r
}

// toolResponse is a Converse response with text and a tool call.
func toolResponse() *converse.Response {
	r := &converse.Response{StopReason: "tool_use"}
	r.Output.Message = &converse.Message{Role: "assistant", Content: []converse.ContentBlock{
		text("Let me check."),
		toolUse("toolu_01", "get_weather", `{"city":"Paris"}`),
	}}
	r.Usage = converse.Usage{InputTokens: 20, OutputTokens: 30, TotalTokens: 50}
	return r
}
