package sim

import (
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/converse"
)

// benchRequest is a one-message request of exactly 200 input tokens.
func benchRequest(b *testing.B) *converse.Request {
	var s strings.Builder
	for i := range 197 / 2 { // a word and a comma or period: 2 tokens
		s.WriteString(words[i%len(words)])
		if i%8 == 7 {
			s.WriteString(". ")
		} else {
			s.WriteString(", ")
		}
	}
	s.WriteString("end") // 98*2 + 1 = 197 tokens, plus 3 for the message
	req := say(s.String())
	resp, err := New(Config{}).Converse(b.Context(), testCall, req)
	if err != nil {
		b.Fatalf("Converse: %v", err)
	}
	if got := resp.Usage.InputTokens; got != 200 {
		b.Fatalf("InputTokens = %d, want 200", got)
	}
	return req
}

func BenchmarkConverse(b *testing.B) {
	req := benchRequest(b)
	p := New(Config{})
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Converse(ctx, testCall, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConverseStream(b *testing.B) {
	req := benchRequest(b)
	p := New(Config{})
	ctx := b.Context()
	emit := func(converse.StreamEvent) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.ConverseStream(ctx, testCall, req, emit); err != nil {
			b.Fatal(err)
		}
	}
}
