package budget_test

import (
	"context"
	"slices"
	"sync"
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

// sink collects enqueued messages, dropping repeated keys as the outbox
// does.
type sink struct {
	mu   sync.Mutex
	keys map[string]bool
	msgs []notify.Message
}

func (s *sink) Enqueue(_ context.Context, m notify.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		s.keys = map[string]bool{}
	}
	if s.keys[m.Key] {
		return nil
	}
	s.keys[m.Key] = true
	s.msgs = append(s.msgs, m)
	return nil
}

func (s *sink) all() []notify.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}
