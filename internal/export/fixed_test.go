package export

import (
	"math"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/money"
)

func TestAppendFixed(t *testing.T) {
	for _, v := range []int64{0, 1, 9, 10, 999, 1000, 123_456_789, 999_999_999, 1_000_000_000, 1_234_567_890_123, math.MaxInt64, -1, -1_500_000_000, math.MinInt64 + 1} {
		if got, want := string(appendFixed(nil, v, 9)), money.Amount(v).Decimal(9); got != want {
			t.Errorf("appendFixed(%d, 9) = %q, want %q", v, got, want)
		}
	}
	for _, tc := range []struct {
		v     int64
		scale int
		want  string
	}{
		{0, 3, "0.000"}, {1, 3, "0.001"}, {1500, 3, "1.500"}, {1234567, 3, "1234.567"}, {42, 0, "42"}, {-5, 3, "-0.005"},
	} {
		if got := string(appendFixed([]byte("x"), tc.v, tc.scale)); got != "x"+tc.want {
			t.Errorf("appendFixed(%d, %d) = %q, want %q", tc.v, tc.scale, got, "x"+tc.want)
		}
	}
}
