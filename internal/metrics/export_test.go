package metrics

import "context"

// FlushEnded is Run's periodic flush (flush with ended set).
func (r *Registry) FlushEnded(ctx context.Context) error { return r.flush(ctx, true) }

// TakeKick reports whether Add asked Run for an early flush since the
// last call (memory over its bound), taking the request.
func (r *Registry) TakeKick() bool {
	select {
	case <-r.kick:
		return true
	default:
		return false
	}
}

// SizeEstimate returns the registry's estimate of the memory its entries
// take, which Config.MaxMemory bounds.
func (r *Registry) SizeEstimate() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.size
}

// RecountSize returns the size estimate computed afresh from the entries
// in memory, to compare with SizeEstimate (which Add and Flush keep up
// to date as they go).
func (r *Registry) RecountSize() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n int64
	for k, e := range r.entries {
		n += entrySize + int64(len(k.account)+len(k.modelID)) + int64(cap(e.p))*periodSize
		for i := range e.p {
			n += e.p[i].bytes()
		}
	}
	return n
}
