package backoff

import (
	"context"
	"math"
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Policy
		n    int
		want time.Duration
	}{
		{"first", Policy{First: time.Second, Max: time.Hour}, 1, time.Second},
		{"zero n counts as one", Policy{First: time.Second}, 0, time.Second},
		{"doubles", Policy{First: time.Second, Max: time.Hour}, 4, 8 * time.Second},
		{"capped", Policy{First: 5 * time.Second, Max: time.Hour}, 12, time.Hour},
		{"capped far", Policy{First: 5 * time.Second, Max: time.Hour}, 1 << 20, time.Hour},
		{"no cap does not overflow", Policy{First: time.Second}, 200, math.MaxInt64},
		{"zero policy", Policy{}, 7, 0},
		{"jitter low", Policy{First: 10 * time.Second, Jitter: 0.2, Rand: func() float64 { return 0 }}, 1, 8 * time.Second},
		{"jitter mid", Policy{First: 10 * time.Second, Jitter: 0.2, Rand: func() float64 { return 0.5 }}, 1, 10 * time.Second},
		{"jitter after cap", Policy{First: time.Minute, Max: time.Hour, Jitter: 0.2, Rand: func() float64 { return 0.75 }}, 30, 66 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Delay(tc.n); got != tc.want {
				t.Errorf("Delay(%d) = %v, want %v", tc.n, got, tc.want)
			}
		})
	}
}

func TestDelayJitterBounds(t *testing.T) {
	p := Policy{First: time.Second, Jitter: 0.2}
	for range 1000 {
		if d := p.Delay(1); d < 800*time.Millisecond || d >= 1200*time.Millisecond {
			t.Fatalf("Delay(1) = %v, want within ±20%% of 1s", d)
		}
	}
}

func TestBackoffWaitAndReset(t *testing.T) {
	var slept []time.Duration
	b := Backoff{Policy: Policy{First: 100 * time.Millisecond, Max: 300 * time.Millisecond},
		Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
	for range 4 {
		if err := b.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if b.Failures() != 4 {
		t.Errorf("Failures() = %d, want 4", b.Failures())
	}
	b.Reset()
	_ = b.Wait(t.Context())
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond, 100 * time.Millisecond}
	if len(slept) != len(want) {
		t.Fatalf("slept %v, want %v", slept, want)
	}
	for i := range want {
		if slept[i] != want[i] {
			t.Errorf("wait %d = %v, want %v", i, slept[i], want[i])
		}
	}
}

func TestSleepCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	if err := Sleep(ctx, time.Hour); err != context.Canceled {
		t.Errorf("Sleep = %v, want context.Canceled", err)
	}
	if time.Since(start) > time.Second {
		t.Error("Sleep did not return at once on a done context")
	}
	if err := Sleep(t.Context(), time.Millisecond); err != nil {
		t.Errorf("Sleep = %v, want nil", err)
	}
}
