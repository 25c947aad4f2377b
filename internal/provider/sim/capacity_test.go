package sim

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// TestCapacity checks a simulator of Capacity 2 serves two calls at once,
// refuses a third with a ThrottlingException while they run, serves the
// service tier it is asked for, and serves again once they end.
func TestCapacity(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	p := New(Config{Capacity: 2, Latency: time.Millisecond, Sleep: func(ctx context.Context, d time.Duration) error {
		entered <- struct{}{}
		<-release
		return nil
	}})
	call := converse.Call{ModelID: "amazon.nova-pro-v1:0", Region: "us-east-1", ServiceTier: "flex"}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			resp, err := p.Converse(t.Context(), call, say("hello"))
			if err != nil || resp.ServiceTier.Tier() != "flex" {
				t.Errorf("call within capacity: %+v, %v", resp, err)
			}
		})
	}
	<-entered
	<-entered
	if _, err := p.Converse(t.Context(), call, say("hello")); !errkind.Is(err, errkind.Throttled) {
		t.Errorf("third call: %v, want Throttled", err)
	}
	if _, err := p.ConverseStream(t.Context(), call, say("hello"), func(converse.StreamEvent) error { return nil }); !errkind.Is(err, errkind.Throttled) {
		t.Errorf("third stream: %v, want Throttled", err)
	}
	close(release)
	wg.Wait()
	if _, err := p.Converse(t.Context(), call, say("hello")); err != nil {
		t.Errorf("after the calls ended: %v", err)
	}
	if got := p.OverCapacity(); got != 2 {
		t.Errorf("OverCapacity = %d, want 2", got)
	}
}
