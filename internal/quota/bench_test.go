package quota

import (
	"context"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/ledger"
)

// BenchmarkAdmission measures admitting a call: no quota configured (the
// fast path, which must not allocate), a quota with room (reserve and
// settle), and the upstream gate with room.
func BenchmarkAdmission(b *testing.B) {
	ctx := context.Background()
	r := call("default", "profile", 100, 100)
	b.Run("no-quota", func(b *testing.B) {
		q := New(Config{})
		b.ReportAllocs()
		for b.Loop() {
			if t, err := q.AdmitTier(ctx, r); t != nil || err != nil {
				b.Fatal(t, err)
			}
		}
	})
	b.Run("quota", func(b *testing.B) {
		q := New(Config{Rules: []Rule{{Model: "*", Scope: ScopeOnDemand, RPM: 1 << 40, TPM: 1 << 50}}})
		b.ReportAllocs()
		for b.Loop() {
			t, err := q.AdmitTier(ctx, r)
			if err != nil {
				b.Fatal(err)
			}
			t.Done(ledger.Record{InputTokens: 100, OutputTokens: 10})
		}
	})
	b.Run("gate", func(b *testing.B) {
		g := NewGate(GateConfig{})
		b.ReportAllocs()
		for b.Loop() {
			s, _, err := g.Acquire(ctx, route, "default", "profile")
			if err != nil {
				b.Fatal(err)
			}
			s.Release(false)
		}
	})
}
