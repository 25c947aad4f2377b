package main

import (
	"math"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/money"
)

// TestCostUSD: the access log's cost is money.Amount.Decimal(9).
func TestCostUSD(t *testing.T) {
	for _, a := range []money.Amount{0, 1, 503000, 999_999_999, 1e9, 12_345_678_901, -1, -1_500_000_000, math.MaxInt64, math.MinInt64} {
		if got, want := costUSD(a), a.Decimal(9); got != want {
			t.Errorf("costUSD(%d) = %q, want %q", int64(a), got, want)
		}
	}
}
