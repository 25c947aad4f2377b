package sim

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/converse"
)

const testModel = "anthropic.claude-3-haiku-20240307-v1:0"

var testCall = converse.Call{RequestID: "req-1", ModelID: testModel, Region: "us-east-1"}

func ptr[T any](v T) *T { return &v }

func text(s string) converse.ContentBlock { return converse.ContentBlock{Text: &s} }

func cachePoint() converse.ContentBlock {
	return converse.ContentBlock{CachePoint: json.RawMessage(`{"type":"default"}`)}
}

func user(blocks ...converse.ContentBlock) converse.Message {
	return converse.Message{Role: "user", Content: blocks}
}

func assistant(blocks ...converse.ContentBlock) converse.Message {
	return converse.Message{Role: "assistant", Content: blocks}
}

func say(s string) *converse.Request {
	return &converse.Request{Messages: []converse.Message{user(text(s))}}
}

func toolSpec(name, desc, schema string) converse.Tool {
	s := &converse.ToolSpec{Name: name, Description: desc}
	if schema != "" {
		s.InputSchema.JSON = json.RawMessage(schema)
	}
	return converse.Tool{ToolSpec: s}
}

func toolResult(id, status string, content ...converse.ToolResultContent) converse.ContentBlock {
	return converse.ContentBlock{ToolResult: &converse.ToolResultBlock{ToolUseID: id, Status: status, Content: content}}
}

// fakeClock is a clock whose Sleep advances time at once. hook, when set,
// runs after the n-th sleep (1-based) and before Sleep returns.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
	hook  func(n int)
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	n := len(c.slept)
	hook := c.hook
	c.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	return ctx.Err()
}

func (c *fakeClock) sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

// fixedClock returns a Config whose clock never moves, so latencyMs is 0.
func fixedClock() Config {
	c := newFakeClock()
	return Config{Now: c.Now, Sleep: c.Sleep}
}

func callConverse(t testing.TB, p *Provider, req *converse.Request) *converse.Response {
	t.Helper()
	resp, err := p.Converse(t.Context(), testCall, req)
	if err != nil {
		t.Fatalf("Converse: %v", err)
	}
	return resp
}

// replyText is the text of a Converse response's first block.
func replyText(resp *converse.Response) string {
	for _, b := range resp.Output.Message.Content {
		if b.Text != nil {
			return *b.Text
		}
	}
	return ""
}

// collected is what a ConverseStream call produced.
type collected struct {
	events []converse.StreamEvent
	usage  converse.Usage
	err    error
}

func collect(ctx context.Context, p *Provider, call converse.Call, req *converse.Request) collected {
	var c collected
	c.usage, c.err = p.ConverseStream(ctx, call, req, func(ev converse.StreamEvent) error {
		c.events = append(c.events, ev)
		return nil
	})
	return c
}

// kinds names each event, e.g. "delta0" or "start1".
func kinds(events []converse.StreamEvent) []string {
	var out []string
	for _, ev := range events {
		switch {
		case ev.MessageStart != nil:
			out = append(out, "messageStart")
		case ev.ContentBlockStart != nil:
			out = append(out, "start"+string(rune('0'+ev.ContentBlockStart.ContentBlockIndex)))
		case ev.ContentBlockDelta != nil:
			out = append(out, "delta"+string(rune('0'+ev.ContentBlockDelta.ContentBlockIndex)))
		case ev.ContentBlockStop != nil:
			out = append(out, "stop"+string(rune('0'+ev.ContentBlockStop.ContentBlockIndex)))
		case ev.MessageStop != nil:
			out = append(out, "messageStop")
		case ev.Metadata != nil:
			out = append(out, "metadata")
		}
	}
	return out
}

// streamed reassembles a stream: its text, tool use (nil if none), stop
// reason and metadata usage.
type streamed struct {
	text       string
	tool       *converse.ToolUseBlock
	stopReason string
	usage      *converse.Usage
}

func reassemble(events []converse.StreamEvent) streamed {
	var s streamed
	var b strings.Builder
	var input strings.Builder
	for _, ev := range events {
		switch {
		case ev.ContentBlockStart != nil && ev.ContentBlockStart.Start.ToolUse != nil:
			tu := ev.ContentBlockStart.Start.ToolUse
			s.tool = &converse.ToolUseBlock{ToolUseID: tu.ToolUseID, Name: tu.Name}
		case ev.ContentBlockDelta != nil && ev.ContentBlockDelta.Delta.Text != nil:
			b.WriteString(*ev.ContentBlockDelta.Delta.Text)
		case ev.ContentBlockDelta != nil && ev.ContentBlockDelta.Delta.ToolUse != nil:
			input.WriteString(ev.ContentBlockDelta.Delta.ToolUse.Input)
		case ev.MessageStop != nil:
			s.stopReason = ev.MessageStop.StopReason
		case ev.Metadata != nil:
			u := ev.Metadata.Usage
			s.usage = &u
		}
	}
	s.text = b.String()
	if s.tool != nil {
		s.tool.Input = json.RawMessage(input.String())
	}
	return s
}
