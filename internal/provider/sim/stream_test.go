package sim

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tollgate-dev/tollgate/internal/converse"
)

// streamRequests are requests that exercise every reply rule.
func streamRequests() map[string]*converse.Request {
	image := converse.ContentBlock{Image: &converse.ImageBlock{Format: "jpeg"}}
	image.Image.Source.Bytes = []byte{0xff, 0xd8, 0xff}
	maxed := say("Write a poem.")
	maxed.InferenceConfig = &converse.InferenceConfig{MaxTokens: ptr[int32](7)}
	stopped := say("echo: first part || second part")
	stopped.InferenceConfig = &converse.InferenceConfig{StopSequences: []string{"||"}}
	stoppedAtOnce := say("echo: || nothing before")
	stoppedAtOnce.InferenceConfig = &converse.InferenceConfig{StopSequences: []string{"||"}}
	return map[string]*converse.Request{
		"sentence":      say("Tell me about the sea."),
		"ping":          say("ping"),
		"echo":          say("echo:  Hello,   spaced\tworld!  "),
		"echo unicode":  say("echo: naïve 日本 👍🏽 ok x²"),
		"max tokens":    maxed,
		"stop sequence": stopped,
		"empty reply":   stoppedAtOnce,
		"image":         {Messages: []converse.Message{user(image, text("Describe it."))}},
		"multi-turn": {
			System:   []converse.SystemBlock{{Text: ptr("Be kind.")}},
			Messages: []converse.Message{user(text("hi")), assistant(text("Hello!")), user(text("How are you?"))},
		},
		"cache": {
			System:   []converse.SystemBlock{{Text: ptr("A long and stable system prompt.")}, {CachePoint: json.RawMessage(`{"type":"default"}`)}},
			Messages: []converse.Message{user(text("question"))},
		},
		"tool use": {
			Messages:   []converse.Message{user(text("What's the weather?"))},
			ToolConfig: weatherTools(),
		},
		"tool use without schema": {
			Messages:   []converse.Message{user(text("What time is it?"))},
			ToolConfig: &converse.ToolConfig{Tools: []converse.Tool{toolSpec("get_time", "", "")}},
		},
		"tool result": {
			Messages: []converse.Message{
				user(text("weather?")),
				assistant(converse.ContentBlock{ToolUse: &converse.ToolUseBlock{ToolUseID: "tooluse_1", Name: "get_weather", Input: json.RawMessage(`{"city":"sim"}`)}}),
				user(toolResult("tooluse_1", "success", converse.ToolResultContent{Text: ptr("sunny")})),
			},
			ToolConfig: weatherTools(),
		},
	}
}

func TestStreamMatchesConverse(t *testing.T) {
	for name, req := range streamRequests() {
		t.Run(name, func(t *testing.T) {
			// Separate Providers, so that both calls write the cache.
			resp := callConverse(t, New(fixedClock()), req)
			c := collect(t.Context(), New(fixedClock()), testCall, req)
			if c.err != nil {
				t.Fatalf("ConverseStream: %v", c.err)
			}

			want := streamed{text: replyText(resp), stopReason: resp.StopReason, usage: &resp.Usage}
			if content := resp.Output.Message.Content; len(content) == 2 {
				want.tool = content[1].ToolUse
			}
			got := reassemble(c.events)
			if diff := cmp.Diff(got, want, cmp.AllowUnexported(streamed{})); diff != "" {
				t.Errorf("stream differs from Converse (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(c.usage, resp.Usage); diff != "" {
				t.Errorf("returned usage differs from Converse (-got +want):\n%s", diff)
			}

			// Event order: one text delta per token (at least one).
			deltas := max(Tokens(want.text), 1)
			wantKinds := []string{"messageStart"}
			for range deltas {
				wantKinds = append(wantKinds, "delta0")
			}
			wantKinds = append(wantKinds, "stop0")
			if want.tool != nil {
				wantKinds = append(wantKinds, "start1", "delta1", "delta1", "stop1")
			}
			wantKinds = append(wantKinds, "messageStop", "metadata")
			if diff := cmp.Diff(kinds(c.events), wantKinds); diff != "" {
				t.Errorf("event order (-got +want):\n%s", diff)
			}
			for i, ev := range c.events {
				if d := ev.ContentBlockDelta; d != nil && d.Delta.Text != nil && want.text != "" {
					if n := Tokens(*d.Delta.Text); n != 1 {
						t.Errorf("text delta %d %q has %d tokens, want 1", i, *d.Delta.Text, n)
					}
				}
				if d := ev.ContentBlockDelta; d != nil && d.Delta.ToolUse != nil && d.Delta.ToolUse.Input == "" {
					t.Errorf("tool delta %d is empty", i)
				}
			}
		})
	}
}

// deltaTokens is the output tokens an event carries.
func deltaTokens(ev converse.StreamEvent) int64 {
	d := ev.ContentBlockDelta
	switch {
	case d == nil:
		return 0
	case d.Delta.Text != nil:
		return Tokens(*d.Delta.Text)
	case d.Delta.ToolUse != nil:
		return Tokens(d.Delta.ToolUse.Input)
	}
	return 0
}

func TestStreamEmitError(t *testing.T) {
	for name, req := range streamRequests() {
		t.Run(name, func(t *testing.T) {
			full := collect(t.Context(), New(fixedClock()), testCall, req)
			if full.err != nil {
				t.Fatalf("ConverseStream: %v", full.err)
			}
			errGone := errors.New("client went away")
			for fail := range full.events {
				var emitted []converse.StreamEvent
				usage, err := New(fixedClock()).ConverseStream(t.Context(), testCall, req, func(ev converse.StreamEvent) error {
					if len(emitted) == fail {
						return errGone
					}
					emitted = append(emitted, ev)
					return nil
				})
				if !errors.Is(err, errGone) {
					t.Fatalf("failing event %d: error = %v, want the emit error", fail, err)
				}
				if len(emitted) != fail {
					t.Errorf("failing event %d: %d events emitted, want %d", fail, len(emitted), fail)
				}
				var out int64
				for _, ev := range emitted {
					out += deltaTokens(ev)
				}
				want := full.usage
				want.OutputTokens = out
				want.TotalTokens = full.usage.TotalTokens - full.usage.OutputTokens + out
				if diff := cmp.Diff(usage, want); diff != "" {
					t.Errorf("failing event %d (%s): usage (-got +want):\n%s", fail, kinds(full.events[fail : fail+1])[0], diff)
				}
			}
		})
	}
}

func TestStreamCancel(t *testing.T) {
	req := say("echo: one two three four five") // 5 deltas
	tests := []struct {
		name      string
		cfg       Config
		cancelAt  int // the sleep during which the context is cancelled
		wantOut   int64
		wantKinds []string
	}{
		{"during latency", Config{Latency: 1}, 1, 0, nil},
		{"before the first token", Config{TimeToFirstToken: 1}, 1, 0, []string{"messageStart"}},
		{"before the first delta", Config{TokensPerSecond: 100}, 1, 0, []string{"messageStart"}},
		{"before the third delta", Config{TokensPerSecond: 100}, 3, 2, []string{"messageStart", "delta0", "delta0"}},
		{"before the last delta", Config{TokensPerSecond: 100}, 5, 4, []string{"messageStart", "delta0", "delta0", "delta0", "delta0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			clock := newFakeClock()
			clock.hook = func(n int) {
				if n == tt.cancelAt {
					cancel()
				}
			}
			cfg := tt.cfg
			cfg.Now, cfg.Sleep = clock.Now, clock.Sleep
			c := collect(ctx, New(cfg), testCall, req)
			if !errors.Is(c.err, context.Canceled) {
				t.Fatalf("error = %v, want context.Canceled", c.err)
			}
			const input = 3 + 7
			want := converse.Usage{InputTokens: input, OutputTokens: tt.wantOut, TotalTokens: input + tt.wantOut}
			if diff := cmp.Diff(c.usage, want); diff != "" {
				t.Errorf("usage (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(kinds(c.events), tt.wantKinds); diff != "" {
				t.Errorf("events (-got +want):\n%s", diff)
			}
		})
	}
}

func TestStreamCancelWithoutSleeping(t *testing.T) {
	// With no pacing there is no Sleep to notice; the stream checks the
	// context before each delta.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var events []string
	usage, err := New(fixedClock()).ConverseStream(ctx, testCall, say("echo: a b c d"), func(ev converse.StreamEvent) error {
		events = append(events, kinds([]converse.StreamEvent{ev})...)
		if len(events) == 3 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	if got, want := usage.OutputTokens, int64(2); got != want {
		t.Errorf("OutputTokens = %d, want %d", got, want)
	}
	if diff := cmp.Diff(events, []string{"messageStart", "delta0", "delta0"}); diff != "" {
		t.Errorf("events (-got +want):\n%s", diff)
	}
}

func TestSplitJSON(t *testing.T) {
	tests := []string{
		`{}`,
		`{"a":1}`,
		`{"city":"sim","days":42,"lat":42,"metric":true}`,
		`{"text":"two words here"}`,
		`{"name":"日本語テキスト"}`,
	}
	for _, in := range tests {
		t.Run(in, func(t *testing.T) {
			a, b := splitJSON(in)
			if a == "" || b == "" || a+b != in {
				t.Errorf("splitJSON(%q) = %q, %q, want two non-empty pieces of it", in, a, b)
			}
			if got, want := Tokens(a)+Tokens(b), Tokens(in); got != want {
				t.Errorf("pieces have %d tokens, want %d", got, want)
			}
			if Tokens(a) == 0 || Tokens(b) == 0 {
				t.Errorf("splitJSON(%q) = %q, %q: a piece has no token", in, a, b)
			}
		})
	}
}
