package taggingapi

import (
	"context"
	"sync"
	"testing"
	"time"
)

// memRate is an in-memory SharedRate with the PostgreSQL store's
// semantics.
type memRate struct {
	mu   sync.Mutex
	used map[string]int64
}

func (m *memRate) ClaimRate(_ context.Context, account, key string, window time.Time, limit, want int64) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := account + "/" + key + "/" + window.String()
	give := min(want, limit-m.used[k])
	if give <= 0 {
		return 0, nil
	}
	m.used[k] += give
	return give, nil
}

// TestSharedLimiterIsTheFleets: three replicas sharing the store admit
// Rate requests per account and second between them, not Rate each.
func TestSharedLimiterIsTheFleets(t *testing.T) {
	shared := &memRate{used: map[string]int64{}}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	fleet := []*sharedLimiter{newSharedLimiter(shared, 10, clock), newSharedLimiter(shared, 10, clock), newSharedLimiter(shared, 10, clock)}
	count := func(account string) int {
		n := 0
		for i := range 90 {
			if fleet[i%3].allow(t.Context(), account) {
				n++
			}
		}
		return n
	}
	if n := count("111111111111"); n != 10 {
		t.Errorf("%d requests admitted in one second across 3 replicas, want 10", n)
	}
	if n := count("222222222222"); n != 10 {
		t.Errorf("another account: %d admitted, want its own 10", n)
	}
	now = now.Add(time.Second)
	if n := count("111111111111"); n != 10 {
		t.Errorf("the next second: %d admitted, want 10", n)
	}
	// Below one request a second, the window is longer: 2 s at 0.5/s.
	now = time.Date(2026, 11, 26, 12, 0, 10, 0, time.UTC)
	slow := []*sharedLimiter{newSharedLimiter(shared, 0.5, clock), newSharedLimiter(shared, 0.5, clock)}
	n := 0
	for range 2 {
		for i := range 10 {
			if slow[i%2].allow(t.Context(), "333333333333") {
				n++
			}
		}
		now = now.Add(time.Second)
	}
	if n != 1 {
		t.Errorf("rate 0.5: %d admitted in a 2-second window, want 1", n)
	}
}
