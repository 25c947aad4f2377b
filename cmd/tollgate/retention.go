package main

import (
	"context"
	"time"

	"github.com/tollgate-dev/tollgate/internal/supervise"
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

// retentionJobs is the ledger retention job when
// Config.LedgerRetentionMonths is set (config.Validate allows it with a
// PostgreSQL store only), else none: at start and every hour, on one
// replica (leased), it drops the months before the cutoff
// (Store.DropPartitionsBefore).
func (m *Main) retentionJobs() []supervise.Job {
	keep := m.Config.LedgerRetentionMonths
	if keep <= 0 {
		return nil
	}
	return []supervise.Job{{Name: "ledger-retention", Leased: true, Run: func(ctx context.Context) error {
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
				return nil
			case <-t.C:
			}
		}
	}}}
}
