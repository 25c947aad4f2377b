package ledger

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Batcher is the group commit in front of a Writer: concurrent Append
// calls queue their records, one goroutine writes whatever has queued in
// one transaction, and each caller returns once its own record is durable.
// While a transaction commits, the next batch forms, so throughput grows
// with concurrency instead of serialising on the disk. Safe for concurrent
// use.
type Batcher struct {
	w        Writer
	maxBatch int
	onCommit CommitObserver
	in       chan *pending
	done     chan struct{}
	closeMu  sync.RWMutex
	closed   bool
}

type pending struct {
	rec Record
	err chan error
}

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("ledger: batcher closed")

// CommitObserver learns of every commit group the Batcher wrote: how many
// records it held, how long the write took (what each of its callers
// waited for on top of queueing) and its error. It runs on the Batcher's
// goroutine between commits, so it must be quick.
type CommitObserver func(records int, took time.Duration, err error)

// NewBatcher starts a Batcher writing batches of at most maxBatch records
// (0 means 512), telling onCommit (nil: nobody) of each.
func NewBatcher(w Writer, maxBatch int, onCommit CommitObserver) *Batcher {
	if maxBatch <= 0 {
		maxBatch = 512
	}
	b := &Batcher{w: w, maxBatch: maxBatch, onCommit: onCommit, in: make(chan *pending, maxBatch*4), done: make(chan struct{})}
	go b.loop()
	return b
}

// Append queues r and waits until it is durable. The write itself is not
// cancelled with ctx (a record accepted must not be lost); ctx only bounds
// the wait for a place in the queue.
func (b *Batcher) Append(ctx context.Context, r Record) error {
	p := &pending{rec: r, err: make(chan error, 1)}
	b.closeMu.RLock()
	if b.closed {
		b.closeMu.RUnlock()
		return ErrClosed
	}
	select {
	case b.in <- p:
	case <-ctx.Done():
		b.closeMu.RUnlock()
		return ctx.Err()
	}
	b.closeMu.RUnlock()
	return <-p.err
}

func (b *Batcher) loop() {
	defer close(b.done)
	batch := make([]*pending, 0, b.maxBatch)
	recs := make([]Record, 0, b.maxBatch)
	for first := range b.in {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < b.maxBatch {
			select {
			case p, ok := <-b.in:
				if !ok {
					break fill
				}
				batch = append(batch, p)
			default:
				break fill
			}
		}
		recs = recs[:0]
		for _, p := range batch {
			recs = append(recs, p.rec)
		}
		var start time.Time
		if b.onCommit != nil {
			start = time.Now()
		}
		err := b.w.AppendRecords(context.Background(), recs)
		if b.onCommit != nil {
			b.onCommit(len(recs), time.Since(start), err)
		}
		for _, p := range batch {
			p.err <- err
		}
	}
}

// Close stops accepting records, writes what is queued, and returns once
// the last batch is durable.
func (b *Batcher) Close() {
	b.closeMu.Lock()
	if !b.closed {
		b.closed = true
		close(b.in)
	}
	b.closeMu.Unlock()
	<-b.done
}
