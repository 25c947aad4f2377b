// Package money holds Tollgate's exact money type: integer nano-US-dollars.
// No floating point is used for amounts anywhere in Tollgate.
package money

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// Amount is an amount of money in nano-USD (1e-9 US dollars).
type Amount int64

// Common amounts.
const (
	Nano   Amount = 1
	Micro  Amount = 1_000
	Cent   Amount = 10_000_000
	Dollar Amount = 1_000_000_000
)

// String formats a as a decimal dollar string with nine fractional digits,
// trailing zeros removed but at least two kept ("12.50", "0.000025").
func (a Amount) String() string { return a.Decimal(2) }

// Decimal formats a in dollars, keeping at least minFrac fractional digits
// (at most 9) and dropping further trailing zeros.
func (a Amount) Decimal(minFrac int) string {
	neg := a < 0
	u := uint64(a)
	if neg {
		u = uint64(-a)
		if a == math.MinInt64 {
			u = uint64(math.MaxInt64) + 1
		}
	}
	whole, frac := u/1e9, u%1e9
	fs := fmt.Sprintf("%09d", frac)
	minFrac = max(0, min(minFrac, 9))
	for len(fs) > minFrac && fs[len(fs)-1] == '0' {
		fs = fs[:len(fs)-1]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	fmt.Fprintf(&b, "%d", whole)
	if fs != "" {
		b.WriteByte('.')
		b.WriteString(fs)
	}
	return b.String()
}

// ErrSyntax is returned by Parse for a malformed amount.
var ErrSyntax = errors.New("money: invalid decimal amount")

// Parse reads a decimal dollar string such as "10000", "0.00025" or "-1.5"
// exactly. More than nine fractional digits or an overflow is an error.
func Parse(s string) (Amount, error) {
	if s == "" {
		return 0, ErrSyntax
	}
	neg := false
	switch s[0] {
	case '-':
		neg, s = true, s[1:]
	case '+':
		s = s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" || len(frac) > 9 {
		return 0, ErrSyntax
	}
	var w uint64
	for _, c := range whole {
		if c < '0' || c > '9' {
			return 0, ErrSyntax
		}
		if w > math.MaxInt64/1_000_000_000/10 {
			return 0, ErrSyntax
		}
		w = w*10 + uint64(c-'0')
	}
	var f uint64
	for i := 0; i < 9; i++ {
		f *= 10
		if i < len(frac) {
			c := frac[i]
			if c < '0' || c > '9' {
				return 0, ErrSyntax
			}
			f += uint64(c - '0')
		}
	}
	if w > (math.MaxInt64-f)/1e9 {
		return 0, ErrSyntax
	}
	v := Amount(w*1e9 + f)
	if neg {
		v = -v
	}
	return v, nil
}

// MustParse is Parse that panics on error; for constants in tests and tables.
func MustParse(s string) Amount {
	a, err := Parse(s)
	if err != nil {
		panic(fmt.Sprintf("money.MustParse(%q): %v", s, err))
	}
	return a
}

// PerThousand is a price in nano-USD per 1,000 units (tokens).
type PerThousand int64

// Cost returns the cost of n units at price p, rounded half up to the nano.
// It is exact for any n and p whose product fits in int64 after scaling.
func (p PerThousand) Cost(n int64) Amount {
	if n <= 0 || p <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(n), uint64(p))
	lo, carry := bits.Add64(lo, 500, 0)
	hi += carry
	if hi >= 1000 {
		return Amount(math.MaxInt64)
	}
	q, _ := bits.Div64(hi, lo, 1000)
	if q > math.MaxInt64 {
		return Amount(math.MaxInt64)
	}
	return Amount(q)
}

// ParsePerThousand reads a decimal dollar price per 1,000 units.
func ParsePerThousand(s string) (PerThousand, error) {
	a, err := Parse(s)
	return PerThousand(a), err
}

// String formats the price in dollars per 1,000 units.
func (p PerThousand) String() string { return Amount(p).Decimal(2) }

// GroupDigits writes n in decimal with a comma every three digits
// (1234567 -> "1,234,567"), as reports print counts beside amounts.
func GroupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
