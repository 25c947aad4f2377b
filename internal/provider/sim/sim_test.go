package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

func TestDeterminism(t *testing.T) {
	reqs := map[string]*converse.Request{
		"short":   say("Tell me a story."),
		"long":    say(strings.Repeat("The quick brown fox jumps over the lazy dog. ", 40)),
		"unicode": say("Erzähl mir etwas über 日本."),
		"system": {
			System:   []converse.SystemBlock{{Text: ptr("You are terse.")}},
			Messages: []converse.Message{user(text("hi")), assistant(text("Hello.")), user(text("And then?"))},
		},
	}
	a, b := New(fixedClock()), New(fixedClock())
	for name, req := range reqs {
		t.Run(name, func(t *testing.T) {
			got := callConverse(t, a, req)
			want := callConverse(t, b, req)
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("two Providers disagree (-got +want):\n%s", diff)
			}
			again := callConverse(t, a, req)
			if diff := cmp.Diff(again, want); diff != "" {
				t.Errorf("the same Provider disagrees with itself (-got +want):\n%s", diff)
			}
		})
	}
}

func TestGeneratedSentence(t *testing.T) {
	p := New(fixedClock())
	seen := map[string]bool{}
	sentence := regexp.MustCompile(`^[A-Z][a-z]+( [a-z]+)+\.$`)
	for i := range 50 {
		resp := callConverse(t, p, say(fmt.Sprintf("Question number %d", i)))
		got := replyText(resp)
		if !sentence.MatchString(got) {
			t.Errorf("reply %q is not a generated sentence", got)
		}
		if n := resp.Usage.OutputTokens; n < 16 || n > 63 || n != Tokens(got) {
			t.Errorf("OutputTokens = %d for %q, want Tokens(reply) in [16, 63]", n, got)
		}
		if resp.StopReason != "end_turn" {
			t.Errorf("StopReason = %q, want end_turn", resp.StopReason)
		}
		seen[got] = true
	}
	if len(seen) < 45 {
		t.Errorf("only %d distinct replies to 50 distinct prompts", len(seen))
	}
}

func TestReplyRules(t *testing.T) {
	tests := []struct {
		name string
		req  *converse.Request
		want string // "" means a generated sentence
	}{
		{"ping", say("ping"), "pong"},
		{"ping in a sentence", say("Just a quick PING, are you there?"), "pong"},
		{"ping inside a word is not ping", say("shipping news"), ""},
		{"echo", say("echo: Hello, world!"), "Hello, world!"},
		{"echo after other text", say("Please echo:   repeat after me  "), "repeat after me"},
		{"echo wins over ping", say("echo: ping"), "ping"},
		{"empty echo falls through to ping", say("ping echo:   "), "pong"},
		{"empty echo falls through to a sentence", say("echo:"), ""},
		{"echo in a later block", &converse.Request{Messages: []converse.Message{user(text("first"), text("echo: second"))}}, "second"},
		{"last user message decides", &converse.Request{Messages: []converse.Message{
			user(text("echo: old")), assistant(text("old")), user(text("ping")),
		}}, "pong"},
		{"assistant prefill reads the user message before it", &converse.Request{Messages: []converse.Message{
			user(text("ping")), assistant(text("Sure:")),
		}}, "pong"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := callConverse(t, New(fixedClock()), tt.req)
			got := replyText(resp)
			if tt.want == "" {
				if !strings.HasSuffix(got, ".") || resp.Usage.OutputTokens < 16 {
					t.Errorf("reply = %q, want a generated sentence", got)
				}
				return
			}
			if got != tt.want {
				t.Errorf("reply = %q, want %q", got, tt.want)
			}
			if got, want := resp.Usage.OutputTokens, Tokens(tt.want); got != want {
				t.Errorf("OutputTokens = %d, want %d", got, want)
			}
		})
	}
}

func TestMaxTokensAndStopSequences(t *testing.T) {
	withConfig := func(s string, ic converse.InferenceConfig) *converse.Request {
		r := say(s)
		r.InferenceConfig = &ic
		return r
	}
	tests := []struct {
		name     string
		req      *converse.Request
		wantText string
		wantStop string
	}{
		{"max tokens cuts", withConfig("echo: one two, three four", converse.InferenceConfig{MaxTokens: ptr[int32](3)}), "one two,", "max_tokens"},
		{"max tokens exactly enough", withConfig("echo: one two three", converse.InferenceConfig{MaxTokens: ptr[int32](3)}), "one two three", "end_turn"},
		{"max tokens of one", withConfig("ping", converse.InferenceConfig{MaxTokens: ptr[int32](1)}), "pong", "end_turn"},
		{"stop sequence", withConfig("echo: alpha beta END gamma", converse.InferenceConfig{StopSequences: []string{"END"}}), "alpha beta ", "stop_sequence"},
		{"earliest stop sequence wins", withConfig("echo: a b c d", converse.InferenceConfig{StopSequences: []string{"d", "b"}}), "a ", "stop_sequence"},
		{"stop sequence at the start", withConfig("echo: STOP here", converse.InferenceConfig{StopSequences: []string{"STOP"}}), "", "stop_sequence"},
		{"absent stop sequence", withConfig("echo: a b", converse.InferenceConfig{StopSequences: []string{"zzz", ""}}), "a b", "end_turn"},
		{"stop sequence before the cut", withConfig("echo: a b c d e", converse.InferenceConfig{MaxTokens: ptr[int32](4), StopSequences: []string{"b"}}), "a ", "stop_sequence"},
		{"stop sequence after the cut", withConfig("echo: a b c d e", converse.InferenceConfig{MaxTokens: ptr[int32](2), StopSequences: []string{"d"}}), "a b", "max_tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := callConverse(t, New(fixedClock()), tt.req)
			got := struct {
				Text, Stop string
				Out        int64
			}{replyText(resp), resp.StopReason, resp.Usage.OutputTokens}
			want := struct {
				Text, Stop string
				Out        int64
			}{tt.wantText, tt.wantStop, Tokens(tt.wantText)}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("reply mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestMaxTokensTruncatesGeneratedSentence(t *testing.T) {
	req := say("Write a long essay.")
	full := callConverse(t, New(fixedClock()), req)
	req.InferenceConfig = &converse.InferenceConfig{MaxTokens: ptr[int32](5)}
	cut := callConverse(t, New(fixedClock()), req)
	if got, want := cut.Usage.OutputTokens, int64(5); got != want {
		t.Errorf("OutputTokens = %d, want %d", got, want)
	}
	if cut.StopReason != "max_tokens" {
		t.Errorf("StopReason = %q, want max_tokens", cut.StopReason)
	}
	if !strings.HasPrefix(replyText(full), replyText(cut)) {
		t.Errorf("cut reply %q is not a prefix of %q", replyText(cut), replyText(full))
	}
}

func weatherTools() *converse.ToolConfig {
	return &converse.ToolConfig{Tools: []converse.Tool{
		toolSpec("get_weather", "Get the weather for a city.", `{
			"type": "object",
			"properties": {
				"city": {"type": "string"},
				"days": {"type": "integer"},
				"metric": {"type": "boolean"},
				"unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
				"lat": {"type": ["null", "number"]},
				"tags": {"type": "array"},
				"optional": {"type": "string"}
			},
			"required": ["city", "days", "metric", "unit", "lat", "tags", "undeclared"]
		}`),
		toolSpec("get_time", "Get the time.", ""),
	}}
}

func TestToolUseRoundTrip(t *testing.T) {
	p := New(fixedClock())
	req := &converse.Request{
		Messages:   []converse.Message{user(text("What's the weather in Paris?"))},
		ToolConfig: weatherTools(),
	}
	resp := callConverse(t, p, req)
	if resp.StopReason != "tool_use" {
		t.Fatalf("StopReason = %q, want tool_use", resp.StopReason)
	}
	content := resp.Output.Message.Content
	if len(content) != 2 || content[0].Text == nil || content[1].ToolUse == nil {
		t.Fatalf("content = %+v, want [text, toolUse]", content)
	}
	use := content[1].ToolUse
	if !regexp.MustCompile(`^tooluse_[A-Za-z0-9]{20}$`).MatchString(use.ToolUseID) {
		t.Errorf("ToolUseID = %q, want tooluse_ and 20 alphanumerics", use.ToolUseID)
	}
	got := struct {
		Text, Name, Input string
		Out               int64
	}{*content[0].Text, use.Name, string(use.Input), resp.Usage.OutputTokens}
	wantInput := `{"city":"sim","days":42,"lat":42,"metric":true,"tags":null,"undeclared":null,"unit":"celsius"}`
	want := struct {
		Text, Name, Input string
		Out               int64
	}{"Calling tool get_weather.", "get_weather", wantInput, Tokens("Calling tool get_weather.") + Tokens(wantInput)}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("tool call mismatch (-got +want):\n%s", diff)
	}

	// The client runs the tool and sends the result back.
	req.Messages = append(req.Messages,
		*resp.Output.Message,
		user(toolResult(use.ToolUseID, "success", converse.ToolResultContent{Text: ptr("18C and sunny")})),
	)
	resp = callConverse(t, p, req)
	if got, want := replyText(resp), "The tool returned: 18C and sunny."; got != want {
		t.Errorf("reply = %q, want %q", got, want)
	}
	if resp.StopReason != "end_turn" || len(resp.Output.Message.Content) != 1 {
		t.Errorf("StopReason = %q with %d blocks, want end_turn with 1", resp.StopReason, len(resp.Output.Message.Content))
	}
}

func TestToolChoice(t *testing.T) {
	tests := []struct {
		name     string
		prompt   string
		choice   string
		wantTool string // "" means no tool call
		wantText string
	}{
		{"auto calls the first tool", "weather?", `{"auto":{}}`, "get_weather", "Calling tool get_weather."},
		{"absent calls the first tool", "weather?", ``, "get_weather", "Calling tool get_weather."},
		{"named tool", "time?", `{"tool":{"name":"get_time"}}`, "get_time", "Calling tool get_time."},
		{"auto lets ping through", "ping", `{"auto":{}}`, "", "pong"},
		{"auto lets echo through", "echo: hi", ``, "", "hi"},
		{"any forces a call over ping", "ping", `{"any":{}}`, "get_weather", "Calling tool get_weather."},
		{"named tool forces a call over echo", "echo: hi", `{"tool":{"name":"get_time"}}`, "get_time", "Calling tool get_time."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := weatherTools()
			tc.ToolChoice = json.RawMessage(tt.choice)
			resp := callConverse(t, New(fixedClock()), &converse.Request{
				Messages:   []converse.Message{user(text(tt.prompt))},
				ToolConfig: tc,
			})
			gotTool := ""
			for _, b := range resp.Output.Message.Content {
				if b.ToolUse != nil {
					gotTool = b.ToolUse.Name
				}
			}
			if gotTool != tt.wantTool || replyText(resp) != tt.wantText {
				t.Errorf("got tool %q text %q, want tool %q text %q", gotTool, replyText(resp), tt.wantTool, tt.wantText)
			}
			if gotTool == "get_time" {
				if got := string(resp.Output.Message.Content[1].ToolUse.Input); got != "{}" {
					t.Errorf("input of a tool without schema = %s, want {}", got)
				}
			}
		})
	}
}

func TestToolUseLimits(t *testing.T) {
	base := func(ic *converse.InferenceConfig) *converse.Request {
		return &converse.Request{
			Messages:        []converse.Message{user(text("time?"))},
			ToolConfig:      &converse.ToolConfig{Tools: []converse.Tool{toolSpec("get_time", "", "")}},
			InferenceConfig: ic,
		}
	}
	// "Calling tool get_time." is 6 tokens, "{}" 2.
	tests := []struct {
		name     string
		ic       *converse.InferenceConfig
		wantText string
		wantStop string
		wantTool bool
	}{
		{"room for both", &converse.InferenceConfig{MaxTokens: ptr[int32](8)}, "Calling tool get_time.", "tool_use", true},
		{"room for the text only", &converse.InferenceConfig{MaxTokens: ptr[int32](7)}, "Calling tool get_time.", "max_tokens", false},
		{"text cut", &converse.InferenceConfig{MaxTokens: ptr[int32](2)}, "Calling tool", "max_tokens", false},
		{"stop sequence in the text", &converse.InferenceConfig{StopSequences: []string{"get"}}, "Calling tool ", "stop_sequence", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := callConverse(t, New(fixedClock()), base(tt.ic))
			gotTool := len(resp.Output.Message.Content) == 2
			if replyText(resp) != tt.wantText || resp.StopReason != tt.wantStop || gotTool != tt.wantTool {
				t.Errorf("got %q %s tool=%v, want %q %s tool=%v", replyText(resp), resp.StopReason, gotTool, tt.wantText, tt.wantStop, tt.wantTool)
			}
			if got, want := resp.Usage.OutputTokens, Tokens(replyText(resp))+toolTokens(resp); got != want {
				t.Errorf("OutputTokens = %d, want %d", got, want)
			}
		})
	}
}

func TestToolResultReplies(t *testing.T) {
	tests := []struct {
		name   string
		result converse.ContentBlock
		want   string
	}{
		{"first text", toolResult("t", "", converse.ToolResultContent{JSON: json.RawMessage(`{"a":1}`)}, converse.ToolResultContent{Text: ptr("one")}, converse.ToolResultContent{Text: ptr("two")}), "The tool returned: one."},
		{"json when no text", toolResult("t", "success", converse.ToolResultContent{JSON: json.RawMessage(`{ "a" : 1 }`)}), `The tool returned: {"a":1}.`},
		{"nothing", toolResult("t", "", converse.ToolResultContent{Document: json.RawMessage(`{"name":"d"}`)}), "The tool returned: nothing."},
		{"error status", toolResult("t", "error", converse.ToolResultContent{Text: ptr("city not found")}), "The tool failed: city not found."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := callConverse(t, New(fixedClock()), &converse.Request{
				Messages:   []converse.Message{user(tt.result)},
				ToolConfig: weatherTools(),
			})
			if got := replyText(resp); got != tt.want {
				t.Errorf("reply = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCache(t *testing.T) {
	system := []converse.SystemBlock{
		{Text: ptr("You are a helpful assistant.")}, // 1 + 6
		{CachePoint: json.RawMessage(`{"type":"default"}`)},
	}
	p := New(fixedClock())
	req := &converse.Request{System: system, Messages: []converse.Message{user(text("hi"))}}
	other := &converse.Request{System: system, Messages: []converse.Message{user(text("something else"))}}
	inMessages := &converse.Request{Messages: []converse.Message{
		user(text("a long document"), cachePoint(), text("question?"), cachePoint()),
	}}
	// The first cache point's TTL is the write's.
	hour := &converse.Request{System: []converse.SystemBlock{
		{Text: ptr("You are a patient assistant.")}, // 1 + 6
		{CachePoint: json.RawMessage(`{"type":"default","ttl":"1h"}`)},
		{Text: ptr("Be brief.")},
		{CachePoint: json.RawMessage(`{"type":"default","ttl":"5m"}`)},
	}, Messages: []converse.Message{user(text("hi"))}}

	tests := []struct {
		name  string
		call  converse.Call
		req   *converse.Request
		input int64
		write int64
		read  int64
		ttl1h bool // the write has the 1-hour TTL
	}{
		{"first call writes", testCall, req, 3 + 1, 7, 0, false},
		{"second call reads", testCall, req, 3 + 1, 0, 7, false},
		{"same prefix, other question, reads", testCall, other, 3 + 2, 0, 7, false},
		{"other model writes", converse.Call{ModelID: "amazon.nova-micro-v1:0"}, req, 3 + 1, 7, 0, false},
		{"other region reads", converse.Call{ModelID: testModel, Region: "eu-west-1"}, req, 3 + 1, 0, 7, false},
		{"first cache point in messages writes", testCall, inMessages, 2, 3 + 3, 0, false},
		{"first cache point in messages reads", testCall, inMessages, 2, 0, 3 + 3, false},
		{"one-hour cache point writes for an hour", testCall, hour, 1 + 3 + 3 + 1, 7, 0, true},
		{"one-hour cache point reads", testCall, hour, 1 + 3 + 3 + 1, 0, 7, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := p.Converse(t.Context(), tt.call, tt.req)
			if err != nil {
				t.Fatalf("Converse: %v", err)
			}
			out := resp.Usage.OutputTokens
			want := converse.Usage{
				InputTokens:           tt.input,
				OutputTokens:          out,
				TotalTokens:           tt.input + out + tt.write + tt.read,
				CacheReadInputTokens:  tt.read,
				CacheWriteInputTokens: tt.write,
				CacheDetails:          converse.CacheDetails{FiveMinutes: tt.write},
			}
			if tt.ttl1h {
				want.CacheDetails = converse.CacheDetails{OneHour: tt.write}
			}
			if diff := cmp.Diff(resp.Usage, want); diff != "" {
				t.Errorf("usage mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestCachePointWithEmptyPrefix(t *testing.T) {
	// A cache point before any token caches nothing.
	req := &converse.Request{
		System:   []converse.SystemBlock{{CachePoint: json.RawMessage(`{"type":"default"}`)}, {Text: ptr("x")}},
		Messages: []converse.Message{user(text("hi"))},
	}
	resp := callConverse(t, New(fixedClock()), req)
	if u := resp.Usage; u.CacheReadInputTokens != 0 || u.CacheWriteInputTokens != 0 || u.InputTokens != 2+4 {
		t.Errorf("usage = %+v, want 6 input tokens and no cache tokens", u)
	}
}

func TestPrefixCacheEvicts(t *testing.T) {
	c := newPrefixCache()
	for i := range cacheCapacity + 1 {
		if c.seen(cacheKey{hash: uint64(i)}) {
			t.Fatalf("key %d seen before it was added", i)
		}
	}
	if c.seen(cacheKey{hash: 0}) {
		t.Errorf("the least recently used key survived eviction")
	}
	if !c.seen(cacheKey{hash: cacheCapacity}) {
		t.Errorf("the most recently used key was evicted")
	}
	if got, want := len(c.index), cacheCapacity; got != want {
		t.Errorf("len(index) = %d, want %d", got, want)
	}
}

func TestValidation(t *testing.T) {
	tests := []struct {
		name string
		req  *converse.Request
		want string // a substring of the message
	}{
		{"nil request", nil, "must start with a user message"},
		{"no messages", &converse.Request{}, "must start with a user message"},
		{"assistant first", &converse.Request{Messages: []converse.Message{assistant(text("hi"))}}, "must start with a user message"},
		{"same role twice", &converse.Request{Messages: []converse.Message{user(text("a")), user(text("b"))}}, "must alternate"},
		{"unknown role", &converse.Request{Messages: []converse.Message{user(text("a")), {Role: "system", Content: []converse.ContentBlock{text("b")}}}}, "messages.2.member.role"},
		{"no content", &converse.Request{Messages: []converse.Message{user()}}, "content field in the Message object at messages.0 is empty"},
		{"empty text", say(""), "messages.0.content.0 is blank"},
		{"blank text", say(" \n "), "messages.0.content.0 is blank"},
		{"empty block", &converse.Request{Messages: []converse.Message{user(converse.ContentBlock{})}}, "must set exactly one member, not 0"},
		{"two members", &converse.Request{Messages: []converse.Message{user(converse.ContentBlock{Text: ptr("a"), CachePoint: json.RawMessage(`{}`)})}}, "must set exactly one member, not 2"},
		{"blank system text", &converse.Request{System: []converse.SystemBlock{{Text: ptr("")}}, Messages: []converse.Message{user(text("a"))}}, "system.0 is blank"},
		{"empty system block", &converse.Request{System: []converse.SystemBlock{{}}, Messages: []converse.Message{user(text("a"))}}, "system.0 must set exactly one member"},
		{"max tokens zero", &converse.Request{Messages: []converse.Message{user(text("a"))}, InferenceConfig: &converse.InferenceConfig{MaxTokens: ptr[int32](0)}}, "inferenceConfig.maxTokens"},
		{"no tools", &converse.Request{Messages: []converse.Message{user(text("a"))}, ToolConfig: &converse.ToolConfig{}}, "toolConfig.tools"},
		{"nameless tool", &converse.Request{Messages: []converse.Message{user(text("a"))}, ToolConfig: &converse.ToolConfig{Tools: []converse.Tool{toolSpec("", "", "")}}}, "has no name"},
		{"schema not json", &converse.Request{Messages: []converse.Message{user(text("a"))}, ToolConfig: &converse.ToolConfig{Tools: []converse.Tool{toolSpec("t", "", "{")}}}, "not valid JSON"},
		{"schema not an object", &converse.Request{Messages: []converse.Message{user(text("a"))}, ToolConfig: &converse.ToolConfig{Tools: []converse.Tool{toolSpec("t", "", `[1]`)}}}, "not a JSON schema object"},
		{"unknown tool choice", &converse.Request{Messages: []converse.Message{user(text("a"))}, ToolConfig: &converse.ToolConfig{Tools: []converse.Tool{toolSpec("t", "", "")}, ToolChoice: json.RawMessage(`{"maybe":{}}`)}}, "toolChoice must be one of"},
		{"undeclared tool choice", &converse.Request{Messages: []converse.Message{user(text("a"))}, ToolConfig: &converse.ToolConfig{Tools: []converse.Tool{toolSpec("t", "", "")}, ToolChoice: json.RawMessage(`{"tool":{"name":"u"}}`)}}, `"u" named by toolChoice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(fixedClock())
			_, err := p.Converse(t.Context(), testCall, tt.req)
			if !errkind.Is(err, errkind.Invalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Converse error = %v, want Invalid containing %q", err, tt.want)
			}
			var events int
			usage, err := p.ConverseStream(t.Context(), testCall, tt.req, func(converse.StreamEvent) error { events++; return nil })
			if !errkind.Is(err, errkind.Invalid) || events != 0 || usage != (converse.Usage{}) {
				t.Errorf("ConverseStream = %+v, %v after %d events, want Invalid before any event", usage, err, events)
			}
		})
	}
}

func TestTiming(t *testing.T) {
	clock := newFakeClock()
	p := New(Config{
		Latency:          200 * time.Millisecond,
		TimeToFirstToken: 100 * time.Millisecond,
		TokensPerSecond:  4,
		Now:              clock.Now,
		Sleep:            clock.Sleep,
	})
	resp := callConverse(t, p, say("echo: one two three four five six")) // 6 tokens, 1.5s
	if diff := cmp.Diff(clock.sleeps(), []time.Duration{1800 * time.Millisecond}); diff != "" {
		t.Errorf("Converse sleeps (-got +want):\n%s", diff)
	}
	if got, want := resp.Metrics.LatencyMs, int64(1800); got != want {
		t.Errorf("LatencyMs = %d, want %d", got, want)
	}

	clock = newFakeClock()
	p = New(Config{
		Latency:          200 * time.Millisecond,
		TimeToFirstToken: 100 * time.Millisecond,
		TokensPerSecond:  4,
		Now:              clock.Now,
		Sleep:            clock.Sleep,
	})
	c := collect(t.Context(), p, testCall, say("echo: one two three"))
	if c.err != nil {
		t.Fatalf("ConverseStream: %v", c.err)
	}
	q := 250 * time.Millisecond
	if diff := cmp.Diff(clock.sleeps(), []time.Duration{200 * time.Millisecond, 100 * time.Millisecond, q, q, q}); diff != "" {
		t.Errorf("ConverseStream sleeps (-got +want):\n%s", diff)
	}
	md := c.events[len(c.events)-1].Metadata
	if want := int64(200 + 100 + 3*250); md == nil || md.Metrics.LatencyMs != want {
		t.Errorf("last event = %+v, want metadata with latencyMs %d", c.events[len(c.events)-1], want)
	}
}

func TestNoSleepWhenUnpaced(t *testing.T) {
	clock := newFakeClock()
	p := New(Config{Now: clock.Now, Sleep: clock.Sleep})
	callConverse(t, p, say("hello"))
	if c := collect(t.Context(), p, testCall, say("hello")); c.err != nil {
		t.Fatalf("ConverseStream: %v", c.err)
	}
	if got := clock.sleeps(); len(got) != 0 {
		t.Errorf("slept %v, want no sleep at all", got)
	}
}

func TestRealClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{Latency: time.Second, TokensPerSecond: 10})
		start := time.Now()
		resp := callConverse(t, p, say("ping")) // 1 token: 100ms
		if got, want := time.Since(start), 1100*time.Millisecond; got != want {
			t.Errorf("Converse took %v, want %v", got, want)
		}
		if got, want := resp.Metrics.LatencyMs, int64(1100); got != want {
			t.Errorf("LatencyMs = %d, want %d", got, want)
		}

		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		_, err := p.Converse(ctx, testCall, say("ping"))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Converse error = %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestCancelledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	p := New(fixedClock())
	if _, err := p.Converse(ctx, testCall, say("hi")); !errors.Is(err, context.Canceled) {
		t.Errorf("Converse error = %v, want context.Canceled", err)
	}
	if c := collect(ctx, p, testCall, say("hi")); !errors.Is(c.err, context.Canceled) || len(c.events) != 0 {
		t.Errorf("ConverseStream = %v after %d events, want context.Canceled before any", c.err, len(c.events))
	}
	if got, want := p.Calls(), int64(2); got != want {
		t.Errorf("Calls() = %d, want %d", got, want)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero", Config{}, true},
		{"full", Config{Latency: time.Second, TimeToFirstToken: time.Second, TokensPerSecond: 50, Faults: []Fault{{Every: 3, After: 1, Kind: errkind.Throttled}}}, true},
		{"negative latency", Config{Latency: -1}, false},
		{"negative time to first token", Config{TimeToFirstToken: -1}, false},
		{"negative pace", Config{TokensPerSecond: -1}, false},
		{"infinite pace", Config{TokensPerSecond: math.Inf(1)}, false},
		{"NaN pace", Config{TokensPerSecond: math.NaN()}, false},
		{"negative every", Config{Faults: []Fault{{Every: -1}}}, false},
		{"unsupported kind", Config{Faults: []Fault{{Kind: errkind.NotFound}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errkind.Is(err, errkind.Invalid) {
				t.Errorf("Validate() kind = %v, want Invalid", errkind.KindOf(err))
			}
		})
	}
}
