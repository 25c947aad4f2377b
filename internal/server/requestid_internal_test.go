package server

import (
	"fmt"
	"testing"
)

// TestNewRequestID: request ids keep the format they were printed with,
// "%s-%04x-4%03x-8%03x-%012x" over the process prefix and the sequence.
func TestNewRequestID(t *testing.T) {
	s := &Server{prefix: "0a1b2c3d"}
	for _, start := range []uint64{0, 1, 0xfff, 0x123456789abc, 0xfedcba9876543210, 1<<64 - 2} {
		s.seq.Store(start)
		got := s.newRequestID()
		n := start + 1
		want := fmt.Sprintf("%s-%04x-4%03x-8%03x-%012x", s.prefix, uint16(n>>48), uint16(n>>36)&0xfff, uint16(n>>24)&0xfff, n&0xffffffffffff)
		if got != want {
			t.Errorf("sequence %#x: id %q, want %q", n, got, want)
		}
	}
}

// BenchmarkNewRequestID is one request id; one allocation (its string).
func BenchmarkNewRequestID(b *testing.B) {
	s := &Server{prefix: "0a1b2c3d"}
	b.ReportAllocs()
	for b.Loop() {
		_ = s.newRequestID()
	}
}
