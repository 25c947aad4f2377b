package console

import (
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/money"
)

func TestFailLimiter(t *testing.T) {
	l := newFailLimiter(3, 10*time.Second)
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for i := range 3 {
		if !l.allowed("10.0.0.1", at) {
			t.Fatalf("attempt %d refused", i+1)
		}
		l.fail("10.0.0.1", at)
	}
	if l.allowed("10.0.0.1", at) {
		t.Error("a 4th attempt right after 3 failures is allowed")
	}
	if !l.allowed("10.0.0.2", at) {
		t.Error("another address is limited too")
	}
	if l.allowed("10.0.0.1", at.Add(9*time.Second)) {
		t.Error("allowed again before one interval")
	}
	if !l.allowed("10.0.0.1", at.Add(10*time.Second)) {
		t.Error("not allowed again after one interval")
	}
	l.fail("10.0.0.1", at.Add(10*time.Second))
	if l.allowed("10.0.0.1", at.Add(11*time.Second)) {
		t.Error("one more failure did not use up the one attempt regained")
	}
}

func TestFormatUSD(t *testing.T) {
	for _, tc := range []struct {
		nanos int64
		want  string
	}{
		{0, "$0.00"},
		{1_234_567_890_000, "$1,234.57"},
		{5_000_000, "$0.01"},   // half a cent rounds up
		{4_999_999, "$0.0050"}, // under half a cent: significant digits
		{270_000, "$0.00027"},  // a few calls
		{1_000, "$0.0000010"},  // the smallest
		{-12_345_000_000, "-$12.35"},
	} {
		if got := usd(moneyOf(tc.nanos)); got != tc.want {
			t.Errorf("usd(%d) = %q, want %q", tc.nanos, got, tc.want)
		}
	}
}

func moneyOf(n int64) money.Amount { return money.Amount(n) }
