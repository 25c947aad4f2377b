package budget_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/budget"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/notify"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
)

// t0 is the tests' "now" (as in the package's internal tests).
var t0 = time.Date(2026, 11, 10, 14, 0, 0, 0, time.UTC)

// add appends recs to the ledger through the store's group-committing
// writer, as the pipeline does before it settles a call; it returns once
// they are durable. It may be called from any goroutine.
func (f *fixture) add(t testing.TB, recs ...ledger.Record) {
	t.Helper()
	for _, r := range recs {
		if err := f.ledger.Append(context.Background(), r); err != nil {
			t.Errorf("append to the ledger: %v", err)
		}
	}
}

// fleetShared is the real store's Shared for a fleet of replicas in one
// process: it counts claims, and a shortage it announces reaches every
// replica at once, as the change feed does in Main.
type fleetShared struct {
	*sqlite.DB
	fleet  []*budget.Service
	claims atomic.Int64
}

func (s *fleetShared) ClaimAllowance(ctx context.Context, c budget.Claim) (int64, error) {
	s.claims.Add(1)
	return s.DB.ClaimAllowance(ctx, c)
}

func (s *fleetShared) AnnounceAllowanceShortage(ctx context.Context) error {
	for _, svc := range s.fleet {
		svc.ReturnIdle(ctx, true)
	}
	return s.DB.AnnounceAllowanceShortage(ctx)
}

// messages returns every message the budgets enqueued in the notify
// outbox (held in the store, never delivered here).
func (f *fixture) messages(t testing.TB) []notify.Message {
	t.Helper()
	ds, err := f.store.DueMessages(t.Context(), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]notify.Message, len(ds))
	for i, d := range ds {
		out[i] = d.Message
	}
	return out
}
