package quota

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/admission"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

var route = admission.Route{Provider: "sim", Model: "amazon.nova-pro-v1:0", Region: "us-east-1"}

// queued waits until n calls wait at the route.
func queued(t *testing.T, g *Gate, n int64) {
	t.Helper()
	for range 5000 {
		st := g.Routes()[route]
		var got int64
		for c := range numClasses {
			got += st.Waiting[c].Load()
		}
		if got == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("never saw %d calls waiting", n)
}

// TestGateOrder fills a route of limit 1 and queues calls of every class
// from several profiles: freed slots go to priority, then default, then
// flex, and within a class to the profiles in turn.
func TestGateOrder(t *testing.T) {
	g := NewGate(GateConfig{Initial: 1, Min: 1, Max: 1, MaxWait: [numClasses]time.Duration{time.Minute, time.Minute, time.Minute}})
	first, _, err := g.Acquire(t.Context(), route, "default", "x")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		order []string
		wg    sync.WaitGroup
	)
	calls := []struct{ tier, profile string }{
		{"flex", "batch"}, {"default", "a"}, {"default", "a"}, {"default", "a"}, {"default", "b"},
		{"priority", "chat"}, {"flex", "batch"}, {"reserved", "chat"}, {"default", "b"},
	}
	for i, c := range calls {
		wg.Go(func() {
			s, _, err := g.Acquire(t.Context(), route, c.tier, c.profile)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, c.tier+"/"+c.profile)
			mu.Unlock()
			s.Release(false)
		})
		queued(t, g, int64(i+1)) // queue them in this order
	}
	first.Release(false)
	wg.Wait()
	want := []string{"priority/chat", "reserved/chat", "default/a", "default/b", "default/a", "default/b", "default/a", "flex/batch", "flex/batch"}
	for i := range want {
		if i >= len(order) || order[i] != want[i] {
			t.Fatalf("admission order %v, want %v", order, want)
		}
	}
}

// TestGateRefusesAfterMaxWait checks a call that finds its route full
// waits its class's MaxWait and is then refused with a
// ThrottlingException carrying a Retry-After; a class with no wait is
// refused at once.
func TestGateRefusesAfterMaxWait(t *testing.T) {
	g := NewGate(GateConfig{Initial: 1, Min: 1, Max: 1, MaxWait: [numClasses]time.Duration{ClassFlex: 20 * time.Millisecond}})
	s, _, err := g.Acquire(t.Context(), route, "priority", "chat")
	if err != nil {
		t.Fatal(err)
	}
	_, waited, err := g.Acquire(t.Context(), route, "flex", "batch")
	if !errkind.Is(err, errkind.Throttled) || waited < 20*time.Millisecond {
		t.Errorf("flex on a full route: waited %v, %v; want Throttled after 20ms", waited, err)
	}
	if _, ok := admission.RetryAfter(err); !ok {
		t.Errorf("refusal %v carries no Retry-After", err)
	}
	if _, _, err := g.Acquire(t.Context(), route, "default", "a"); !errkind.Is(err, errkind.Throttled) {
		t.Errorf("default with no wait on a full route: %v, want Throttled", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	g2 := NewGate(GateConfig{Initial: 1, Max: 1})
	s2, _, _ := g2.Acquire(t.Context(), route, "default", "a")
	if _, _, err := g2.Acquire(ctx, route, "flex", "b"); err != context.Canceled {
		t.Errorf("cancelled wait: %v", err)
	}
	s2.Release(false)
	s.Release(false)
	if st := g.Routes()[route]; st.Refused[ClassFlex].Load() != 1 || st.Refused[ClassDefault].Load() != 1 || st.InFlight.Load() != 0 {
		t.Errorf("refused flex %d default %d, in flight %d", st.Refused[ClassFlex].Load(), st.Refused[ClassDefault].Load(), st.InFlight.Load())
	}
}

// TestGateAIMD checks the limit backs off by Backoff on a throttled
// answer (once a round of calls) and grows back by about one per limit
// calls.
func TestGateAIMD(t *testing.T) {
	g := NewGate(GateConfig{Initial: 10, Min: 2, Max: 20, Backoff: 0.5, Increase: 1})
	limit := func() int64 { return g.Routes()[route].Limit.Load() }
	call := func(throttled bool) {
		s, _, err := g.Acquire(t.Context(), route, "default", "a")
		if err != nil {
			t.Fatal(err)
		}
		s.Release(throttled)
	}
	for range 10 {
		call(false) // a round of 10 good calls: 10 -> about 11
	}
	call(true)
	if got := limit(); got != 5 {
		t.Fatalf("after a throttle: limit %d, want 5", got)
	}
	call(true) // within the round: no second cut
	if got := limit(); got != 5 {
		t.Fatalf("second throttle within the round: limit %d, want 5", got)
	}
	for range 4 {
		call(true) // the round of 5 ends: 5.x -> 2.x
	}
	if got := limit(); got != 2 {
		t.Fatalf("after cuts to the floor: limit %d, want 2 (Min)", got)
	}
	for range 3 + 3 {
		call(false) // about 3 calls at limit 2 and 3 at limit 3 add 2
	}
	if got := limit(); got != 4 {
		t.Fatalf("after 6 good calls: limit %d, want 4", got)
	}
}

// TestGateShares checks flex and default calls hold at most their share
// of the limit, so a priority call finds a slot on a route they keep busy.
func TestGateShares(t *testing.T) {
	g := NewGate(GateConfig{Initial: 10, Min: 10, Max: 10, Share: [numClasses]float64{ClassFlex: 0.5, ClassDefault: 0.8},
		MaxWait: [numClasses]time.Duration{time.Millisecond, time.Millisecond, time.Millisecond}}) // refused almost at once
	var slots []admission.Slot
	take := func(tier string) error {
		s, _, err := g.Acquire(t.Context(), route, tier, "p")
		if err == nil {
			slots = append(slots, s)
		}
		return err
	}
	for i := range 6 {
		if err := take("flex"); (err == nil) != (i < 5) {
			t.Fatalf("flex call %d: %v (flex may hold 5 of 10)", i, err)
		}
	}
	for i := range 4 {
		if err := take("default"); (err == nil) != (i < 3) {
			t.Fatalf("default call %d: %v (default may hold 8 of 10, 5 taken)", i, err)
		}
	}
	for i := range 3 {
		if err := take("priority"); (err == nil) != (i < 2) {
			t.Fatalf("priority call %d: %v (priority may hold all 10)", i, err)
		}
	}
	for _, s := range slots {
		s.Release(false)
	}
	if n := g.Routes()[route].InFlight.Load(); n != 0 {
		t.Errorf("in flight after releasing all: %d", n)
	}
}
