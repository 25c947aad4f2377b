package metrics_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/metrics"
)

// flakyStore fails its failAt-th WriteMetricBuckets call (counting from
// 1; 0 never) and records the largest call.
type flakyStore struct {
	metrics.Store
	mu                      sync.Mutex
	calls, failAt, maxChunk int
}

var errInjected = errors.New("injected write failure")

func (f *flakyStore) WriteMetricBuckets(ctx context.Context, replace, merge []metrics.Bucket) error {
	f.mu.Lock()
	f.calls++
	fail := f.calls == f.failAt
	f.maxChunk = max(f.maxChunk, len(replace)+len(merge))
	f.mu.Unlock()
	if fail {
		return errInjected
	}
	return f.Store.WriteMetricBuckets(ctx, replace, merge)
}

func (f *flakyStore) failNext(after int) {
	f.mu.Lock()
	f.failAt = f.calls + after
	f.mu.Unlock()
}

// TestFlushChunks flushes more buckets than one chunk holds, with memory
// over its bound so that every bucket after the first flush is a delta
// merged into its stored row, while another goroutine adds records; one
// chunk's write fails in the middle of a flush. Every sample must be
// stored exactly once: the chunks written before the failure are not
// written again, the failed one and those not yet taken are written by
// the next flush.
func TestFlushChunks(t *testing.T) {
	const profiles = 1000 // 6 series each, a minute and an hour bucket: ~12,000 buckets
	db := openDB(t, filepath.Join(t.TempDir(), "tollgate.db"))
	t.Cleanup(func() { db.Close() })
	st := &flakyStore{Store: db}
	clk := &clock{t: t0.Add(10 * time.Second)}
	reg, err := metrics.Open(t.Context(), metrics.Config{Store: st, Now: clk.now, MaxMemory: 1})
	if err != nil {
		t.Fatal(err)
	}
	var recs []ledger.Record
	var recsMu sync.Mutex
	add := func(round int) {
		for p := range profiles {
			r := busyRecord(p, clk.now(), round*profiles+p)
			recsMu.Lock()
			recs = append(recs, r)
			recsMu.Unlock()
			reg.Add(r)
		}
	}
	flush := func(wantErr error) {
		t.Helper()
		calls := st.calls
		if err := reg.Flush(t.Context()); !errors.Is(err, wantErr) {
			t.Fatalf("Flush = %v, want %v", err, wantErr)
		}
		t.Logf("flush: %d writes", st.calls-calls)
	}

	add(0)
	flush(nil) // stores every row
	if st.calls < 3 {
		t.Fatalf("%d writes, want at least 3 chunks", st.calls)
	}
	// A series' buckets more than a chunk, at most.
	if limit := metrics.FlushChunk + 8; st.maxChunk > limit {
		t.Errorf("largest write %d buckets, want at most %d", st.maxChunk, limit)
	}

	add(1)
	st.failNext(2) // the second chunk's write fails
	var wg sync.WaitGroup
	wg.Go(func() { add(2) }) // while flushing
	flush(errInjected)
	wg.Wait()
	add(3)
	flush(nil)
	flush(nil)

	// The stored rows hold every record once.
	var calls, input int64
	for _, r := range recs {
		calls++
		input += r.InputTokens
	}
	for _, res := range []time.Duration{metrics.Minute, metrics.Hour} {
		bs, err := db.MetricBuckets(t.Context(), res, t0, t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		var gotCalls, gotInput, acrossCalls, acrossInput int64
		for _, b := range bs {
			switch {
			case b.Key.Metric == metrics.Invocations && b.Key.ModelID != "":
				gotCalls += b.Stats.Sum
			case b.Key.Metric == metrics.Invocations:
				acrossCalls += b.Stats.Sum
			case b.Key.Metric == metrics.InputTokenCount && b.Key.ModelID != "":
				gotInput += b.Stats.Sum
			case b.Key.Metric == metrics.InputTokenCount:
				acrossInput += b.Stats.Sum
			}
		}
		if gotCalls != calls || acrossCalls != calls || gotInput != input || acrossInput != input {
			t.Errorf("%v rows: Invocations %d per model id, %d across; InputTokenCount %d, %d; want %d and %d",
				res, gotCalls, acrossCalls, gotInput, acrossInput, calls, input)
		}
	}
	// And Query answers the same.
	if got := sumOf(t, reg, metrics.Key{Account: "111111111111", Metric: metrics.Invocations}, t0, t0.Add(time.Hour), time.Hour); got != float64(calls) {
		t.Errorf("Query(Invocations, hour) = %v, want %d", got, calls)
	}
}
