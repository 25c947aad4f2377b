package pricing

import (
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/money"
)

func TestCompute(t *testing.T) {
	haiku, ok := Lookup(catalog.Default(), "anthropic.claude-3-haiku-20240307-v1:0", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if !ok {
		t.Fatal("no Claude 3 Haiku price")
	}
	b, priced := Compute(haiku, Tokens{Input: 1000, Output: 1000, CacheRead: 1000, CacheWrite: 1})
	if !priced {
		t.Fatal("unpriced")
	}
	want := Breakdown{Input: money.MustParse("0.00025"), Output: money.MustParse("0.00125"), CacheRead: money.MustParse("0.000025"), CacheWrite: 313}
	if b != want || b.Total() != want.Input+want.Output+want.CacheRead+want.CacheWrite {
		t.Errorf("Compute = %+v, want %+v", b, want)
	}
	nova, _ := Lookup(catalog.Default(), "amazon.nova-micro-v1:0", time.Now())
	if _, priced := Compute(nova, Tokens{Input: 10, CacheRead: 5}); priced {
		t.Error("cache tokens on a model without cache prices were priced")
	}
	if _, ok := Lookup(catalog.Default(), "anthropic.claude-3-haiku-20240307-v1:0", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)); ok {
		t.Error("a price before the model existed")
	}
	if _, ok := Lookup(catalog.Default(), "acme.unknown", time.Now()); ok {
		t.Error("a price for an unknown model")
	}
}
