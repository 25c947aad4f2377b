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
