package sim

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tollgate-dev/tollgate/internal/converse"
)

func TestTokens(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int64
	}{
		{"empty", "", 0},
		{"only spaces", " \t\n\r ", 0},
		{"one word", "hello", 1},
		{"punctuation", "Hello, world!", 4},
		{"apostrophe", "don't", 3},
		{"decimal", "3.14", 3},
		{"underscore", "get_weather", 3},
		{"repeated punctuation", "....", 4},
		{"email", "e-mail@example.com", 7},
		{"code", "C++ and C#", 6},
		{"letters and digits", "abc123def", 1},
		{"precomposed accents", "naïve café", 2},
		{"combining mark", "nai\u0308ve", 1},
		{"cjk run", "日本語のテキスト", 1},
		{"superscript numbers", "x² + y²", 3},
		{"emoji with skin tone", "👍🏽 ok", 3},
		{"no-break space separates", "\u00a0a\u00a0b\u00a0", 2},
		{"zero-width space is a token", "a\u200bb", 3},
		{"invalid utf-8", "\xff\xfe", 2},
		{"json", `{"city":"Paris"}`, 9},
		{"json with spaces", `{ "city" : "Paris" }`, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Tokens(tt.in); got != tt.want {
				t.Errorf("Tokens(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestCutTokens(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		n       int64
		want    string
		wantCut bool
	}{
		{"fewer tokens", "a b", 5, "a b", false},
		{"exact", "a b.", 3, "a b.", false},
		{"exact with trailing spaces", "a b  ", 2, "a b  ", false},
		{"cut", "Hello, world!", 2, "Hello,", true},
		{"cut keeps no trailing space", "one two three", 1, "one", true},
		{"zero", "one", 0, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, gotCut := cutTokens(tt.in, tt.n)
			if got != tt.want || gotCut != tt.wantCut {
				t.Errorf("cutTokens(%q, %d) = %q, %v, want %q, %v", tt.in, tt.n, got, gotCut, tt.want, tt.wantCut)
			}
		})
	}
}

func TestInputTokens(t *testing.T) {
	guard := json.RawMessage(`{"text":{"text":"x"}}`) // 15 tokens
	image := converse.ContentBlock{Image: &converse.ImageBlock{Format: "png"}}
	image.Image.Source.Bytes = []byte("not really a png")
	tests := []struct {
		name string
		req  *converse.Request
		want int64
	}{
		{
			name: "one message",
			req:  say("hi"),
			want: 3 + 1,
		},
		{
			name: "system and message",
			req: &converse.Request{
				System:   []converse.SystemBlock{{Text: ptr("Be brief.")}},
				Messages: []converse.Message{user(text("Hello, world!"))},
			},
			want: (1 + 3) + (3 + 4),
		},
		{
			name: "guard content system block",
			req: &converse.Request{
				System:   []converse.SystemBlock{{GuardContent: guard}},
				Messages: []converse.Message{user(text("hi"))},
			},
			want: (1 + 15) + (3 + 1),
		},
		{
			name: "three turns",
			req: &converse.Request{Messages: []converse.Message{
				user(text("hi")), assistant(text("hello there")), user(text("ok?")),
			}},
			want: (3 + 1) + (3 + 2) + (3 + 2),
		},
		{
			name: "several blocks in a message",
			req:  &converse.Request{Messages: []converse.Message{user(text("a b"), text("c"))}},
			want: 3 + 2 + 1,
		},
		{
			name: "image",
			req:  &converse.Request{Messages: []converse.Message{user(image, text("what is this"))}},
			want: 3 + 1000 + 3,
		},
		{
			name: "tool use and text result",
			req: &converse.Request{Messages: []converse.Message{
				user(text("weather?")),
				assistant(converse.ContentBlock{ToolUse: &converse.ToolUseBlock{ToolUseID: "t1", Name: "get_weather", Input: json.RawMessage(`{"city":"Paris"}`)}}),
				user(toolResult("t1", "", converse.ToolResultContent{Text: ptr("22C")})),
			}},
			want: (3 + 2) + (3 + 9) + (3 + 1),
		},
		{
			name: "json and image tool result",
			req: &converse.Request{Messages: []converse.Message{
				user(toolResult("t1", "", converse.ToolResultContent{JSON: json.RawMessage(`{"temp": 22}`)}, converse.ToolResultContent{Image: image.Image})),
			}},
			want: 3 + 7 + 1000,
		},
		{
			name: "other block counts its json",
			req: &converse.Request{Messages: []converse.Message{
				user(converse.ContentBlock{Document: json.RawMessage(`{"name":"n"}`)}, text("summarise")),
			}},
			want: 3 + 9 + 1,
		},
		{
			name: "tool specs",
			req: &converse.Request{
				Messages:   []converse.Message{user(text("hi"))},
				ToolConfig: &converse.ToolConfig{Tools: []converse.Tool{toolSpec("get_weather", "Get the weather.", `{"type":"object"}`)}},
			},
			want: (3 + 4 + 9) + (3 + 1),
		},
		{
			name: "cache point costs nothing",
			req: &converse.Request{Messages: []converse.Message{
				user(text("hi"), converse.ContentBlock{CachePoint: json.RawMessage(`{"type":"default"}`)}),
			}},
			want: 0 + 3 + 1, // all of it is the cache prefix, see TestCache
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := callConverse(t, New(fixedClock()), tt.req)
			u := resp.Usage
			if got := u.InputTokens + u.CacheReadInputTokens + u.CacheWriteInputTokens; got != tt.want {
				t.Errorf("input tokens = %d, want %d (usage %+v)", got, tt.want, u)
			}
			if got, want := u.OutputTokens, Tokens(replyText(resp))+toolTokens(resp); got != want {
				t.Errorf("OutputTokens = %d, want %d", got, want)
			}
			if diff := cmp.Diff(u.TotalTokens, u.InputTokens+u.OutputTokens+u.CacheReadInputTokens+u.CacheWriteInputTokens); diff != "" {
				t.Errorf("TotalTokens is not the sum (-got +want):\n%s", diff)
			}
		})
	}
}

// toolTokens is Tokens of the tool input in a Converse response.
func toolTokens(resp *converse.Response) int64 {
	var n int64
	for _, b := range resp.Output.Message.Content {
		if b.ToolUse != nil {
			n += Tokens(string(b.ToolUse.Input))
		}
	}
	return n
}
