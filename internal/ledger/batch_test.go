package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite/sqlitetest"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func record(i int) ledger.Record {
	return ledger.Record{RequestID: fmt.Sprintf("req-%04d", i), Time: t0.Add(time.Duration(i) * time.Millisecond),
		Account: "111111111111", Region: "us-east-1", RegionServed: "us-east-1", PrincipalID: "user-1",
		ModelID: "amazon.nova-lite-v1:0", Provider: "bedrock", Operation: "Converse", InputTokens: 10, OutputTokens: 5,
		Attempts: 1, Outcome: ledger.OutcomeSuccess, Cost: money.Amount(1000), Priced: true, Tags: tags.Set{"dept": "claims"}}
}

// countingWriter passes batches on to a real store and records their
// sizes.
type countingWriter struct {
	ledger.Writer
	mu    sync.Mutex
	sizes []int
	fail  error
}

func (c *countingWriter) AppendRecords(ctx context.Context, recs []ledger.Record) error {
	c.mu.Lock()
	c.sizes = append(c.sizes, len(recs))
	fail := c.fail
	c.mu.Unlock()
	if fail != nil {
		return fail
	}
	return c.Writer.AppendRecords(ctx, recs)
}

// TestBatcherGroupCommit appends from many goroutines at once: every
// record is durable when its Append returns, batches never pass maxBatch,
// a retried request id is not counted twice, and the observer hears of
// every commit group the writer got, with its size.
func TestBatcherGroupCommit(t *testing.T) {
	db := sqlitetest.Open(t)
	w := &countingWriter{Writer: db}
	var observed []int // only the Batcher's goroutine appends
	b := ledger.NewBatcher(w, 16, func(n int, took time.Duration, err error) {
		if err != nil || took <= 0 {
			t.Errorf("observed a commit of %d records in %v with %v, want a positive time and no error", n, took, err)
		}
		observed = append(observed, n)
	})
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if err := b.Append(t.Context(), record(i)); err != nil {
				errs <- err
				return
			}
			// Durable on return: the store has it.
			got, err := db.Records(context.Background(), ledger.Query{From: record(i).Time, To: record(i).Time.Add(time.Millisecond)})
			if err != nil || len(got) != 1 || got[0].RequestID != record(i).RequestID {
				errs <- fmt.Errorf("record %d after Append: %v, %v", i, got, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := b.Append(t.Context(), record(7)); err != nil {
		t.Fatal(err)
	}
	all, err := db.Records(t.Context(), ledger.Query{})
	if err != nil || len(all) != n {
		t.Errorf("%d records stored (%v), want %d: a retried request id counts once", len(all), err, n)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	total := 0
	for _, s := range w.sizes {
		if s < 1 || s > 16 {
			t.Errorf("a batch of %d records, want 1 to 16", s)
		}
		total += s
	}
	if total != n+1 {
		t.Errorf("batches held %d records, want %d", total, n+1)
	}
	b.Close() // the observer's last call happens before Close returns
	if !slices.Equal(observed, w.sizes) {
		t.Errorf("observed commit groups %v, the writer got %v", observed, w.sizes)
	}
}

func TestBatcherReportsWriteErrors(t *testing.T) {
	boom := errors.New("disk full")
	var observed error
	b := ledger.NewBatcher(&countingWriter{Writer: sqlitetest.Open(t), fail: boom}, 0, func(_ int, _ time.Duration, err error) { observed = err })
	if err := b.Append(t.Context(), record(1)); !errors.Is(err, boom) {
		t.Errorf("Append = %v, want the writer's error", err)
	}
	b.Close()
	if !errors.Is(observed, boom) {
		t.Errorf("the observer got %v, want the writer's error", observed)
	}
}

func TestBatcherClose(t *testing.T) {
	b := ledger.NewBatcher(sqlitetest.Open(t), 0, nil)
	if err := b.Append(t.Context(), record(1)); err != nil {
		t.Fatal(err)
	}
	b.Close()
	b.Close() // idempotent
	if err := b.Append(t.Context(), record(2)); !errors.Is(err, ledger.ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
}
