package metrics

import "context"

// FlushEnded is Run's periodic flush (flush with ended set).
func (r *Registry) FlushEnded(ctx context.Context) error { return r.flush(ctx, true) }
