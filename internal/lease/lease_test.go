package lease

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/store/sqlite/sqlitetest"
)

// flakyStore is a real (SQLite) Store with a switch that makes it fail
// like an unreachable database; it notes when the last lease it granted
// expires.
type flakyStore struct {
	Store
	down atomic.Bool

	mu      sync.Mutex
	expires time.Time
}

func newStore(t *testing.T) *flakyStore { return &flakyStore{Store: sqlitetest.Open(t)} }

func (f *flakyStore) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if f.down.Load() {
		return false, errors.New("store down")
	}
	ok, err := f.Store.AcquireLease(ctx, name, holder, ttl)
	if ok {
		f.mu.Lock()
		f.expires = time.Now().Add(ttl)
		f.mu.Unlock()
	}
	return ok, err
}

// TestOneHolderAndTakeover runs a job on three replicas: it runs on one at
// a time, and moves to another when its holder stops.
func TestOneHolderAndTakeover(t *testing.T) {
	st := newStore(t)
	var running atomic.Int32
	var overlap atomic.Bool
	started := make(chan string, 16)
	ctxs := make([]context.CancelFunc, 3)
	var wg sync.WaitGroup
	for i, name := range []string{"a", "b", "c"} {
		ctx, cancel := context.WithCancel(t.Context())
		ctxs[i] = cancel
		wg.Go(func() {
			Run(ctx, Config{Store: st, Name: "job", Holder: name, TTL: 300 * time.Millisecond}, func(ctx context.Context) {
				if running.Add(1) > 1 {
					overlap.Store(true)
				}
				started <- name
				<-ctx.Done()
				running.Add(-1)
			})
		})
	}
	first := <-started
	select {
	case other := <-started:
		t.Fatalf("%s and %s both run the job", first, other)
	case <-time.After(500 * time.Millisecond):
	}
	ctxs[first[0]-'a']() // the holder stops
	var second string
	select {
	case second = <-started:
	case <-time.After(2 * time.Second):
		t.Fatal("no replica took the job over")
	}
	if second == first {
		t.Errorf("the stopped holder %s runs the job again", first)
	}
	for _, c := range ctxs {
		c()
	}
	wg.Wait()
	if overlap.Load() {
		t.Error("the job ran on two replicas at once")
	}
}

// TestLostLeaseStopsJob: a holder that cannot renew stops its job before
// the lease expires, and runs it again once the store is back.
func TestLostLeaseStopsJob(t *testing.T) {
	st := newStore(t)
	const ttl = 300 * time.Millisecond
	runs := make(chan time.Time, 4)
	stops := make(chan time.Time, 4)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, Config{Store: st, Name: "job", Holder: "a", TTL: ttl}, func(ctx context.Context) {
			runs <- time.Now()
			<-ctx.Done()
			stops <- time.Now()
		})
	}()
	<-runs
	st.mu.Lock()
	expiry := st.expires
	st.mu.Unlock()
	st.down.Store(true)
	stopped := <-stops
	if stopped.After(expiry.Add(ttl)) { // renewed at most once more before the store went down
		t.Errorf("the job stopped %v after its lease could have expired", stopped.Sub(expiry.Add(ttl)))
	}
	st.down.Store(false)
	select {
	case <-runs:
	case <-time.After(2 * time.Second):
		t.Fatal("the job did not run again once the store was back")
	}
	cancel()
	<-done
}

// TestNoStoreRunsAtOnce: without a store (one node) the job just runs.
func TestNoStoreRunsAtOnce(t *testing.T) {
	ran := false
	Run(t.Context(), Config{Name: "job"}, func(context.Context) { ran = true })
	if !ran {
		t.Error("the job did not run")
	}
}
