package money

import (
	"math"
	"testing"
)

func TestParseAndDecimal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Amount
		out  string
	}{
		{"0", 0, "0.00"},
		{"10000", 10_000 * Dollar, "10000.00"},
		{"0.00025", 250_000, "0.00025"},
		{"0.000000001", 1, "0.000000001"},
		{"-1.5", -1_500_000_000, "-1.50"},
		{"+2.", 2 * Dollar, "2.00"},
		{".5", 500_000_000, "0.50"},
		{"9223372036.854775807", math.MaxInt64, "9223372036.854775807"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Parse(tc.in)
			if err != nil || got != tc.want {
				t.Fatalf("Parse(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
			if s := got.String(); s != tc.out {
				t.Errorf("String() = %q, want %q", s, tc.out)
			}
		})
	}
	for _, bad := range []string{"", ".", "1.0000000001", "abc", "1e5", "9223372037", "1.2.3", "--1", "1,5"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
	if got := Amount(1_234_500_000).Decimal(6); got != "1.234500" {
		t.Errorf("Decimal(6) = %q", got)
	}
	if got := Amount(math.MinInt64).Decimal(0); got != "-9223372036.854775808" {
		t.Errorf("MinInt64 = %q", got)
	}
}

func TestPerThousandCost(t *testing.T) {
	haikuIn := PerThousand(MustParse("0.00025"))      // 250,000 nano per 1K = 250 per token
	cacheWrite := PerThousand(MustParse("0.0003125")) // 312.5 nano per token
	for _, tc := range []struct {
		name   string
		p      PerThousand
		tokens int64
		want   Amount
	}{
		{"zero tokens", haikuIn, 0, 0},
		{"negative tokens", haikuIn, -5, 0},
		{"whole nanos", haikuIn, 3, 750},
		{"half rounds up", cacheWrite, 1, 313},
		{"two halves are exact", cacheWrite, 2, 625},
		{"three", cacheWrite, 3, 938},
		{"a million tokens", haikuIn, 1_000_000, 250_000_000},
		{"huge saturates", PerThousand(math.MaxInt64), math.MaxInt64, math.MaxInt64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Cost(tc.tokens); got != tc.want {
				t.Errorf("Cost(%d) = %d, want %d", tc.tokens, got, tc.want)
			}
		})
	}
}

func TestGroupDigits(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234567: "-1,234,567", 100000: "100,000"} {
		if got := GroupDigits(n); got != want {
			t.Errorf("GroupDigits(%d) = %q, want %q", n, got, want)
		}
	}
}
