package sqlstore

import "sync"

// Rounds is how a ledger journal's applier tells whoever waits for it
// (readers in a read barrier, appenders held back by the applier's lag)
// that an applying round ended. Next returns a channel closed when the
// next round ends, Err the error of the last round (nil once one
// succeeds). Take Next before checking the condition waited for, so a
// round that ends in between is not missed. Safe for concurrent use; the
// zero value is ready.
type Rounds struct {
	mu   sync.Mutex
	next chan struct{}
	err  error
}

// Next returns a channel closed when the next round ends.
func (r *Rounds) Next() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.next == nil {
		r.next = make(chan struct{})
	}
	return r.next
}

// Err returns the last round's error, nil once a round succeeds.
func (r *Rounds) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// End ends a round that returned err and wakes its waiters.
func (r *Rounds) End(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
	if r.next != nil {
		close(r.next)
		r.next = nil
	}
}
