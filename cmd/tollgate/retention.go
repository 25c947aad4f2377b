package main

import (
	"context"
	"time"

	"github.com/tollgate-dev/tollgate/internal/lease"
)

// retentionEvery is how often the ledger retention job looks for months
// to drop.
const retentionEvery = time.Hour

// retentionCutoff returns the time before which whole months are dropped
// when keep months are kept before now's month: the start of the month
// keep months before now's.
func retentionCutoff(now time.Time, keep int) time.Time {
	y, m, _ := now.UTC().Date()
	return time.Date(y, m-time.Month(keep), 1, 0, 0, 0, 0, time.UTC)
}

// runRetention starts the ledger retention job when
// Config.LedgerRetentionMonths is set (config.Validate allows it with a
// PostgreSQL store only): at start and every hour, on one replica (a
// lease), it drops the months before the cutoff (Store.
// DropPartitionsBefore). The returned stop waits for it.
func (m *Main) runRetention(ctx context.Context) (stop func()) {
	keep := m.Config.LedgerRetentionMonths
	if keep <= 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		lease.Run(ctx, m.lease("ledger-retention"), func(ctx context.Context) {
			t := time.NewTicker(retentionEvery)
			defer t.Stop()
			for {
				cut := retentionCutoff(time.Now(), keep)
				dropped, err := m.DB.DropPartitionsBefore(ctx, cut)
				switch {
				case err != nil && ctx.Err() == nil:
					m.Logger.Error("ledger_retention_failed", "err", err.Error())
				case len(dropped) > 0:
					m.Logger.Info("ledger_retention", "before", cut.Format(time.DateOnly), "dropped", dropped)
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		})
	}()
	return func() { cancel(); <-done }
}
