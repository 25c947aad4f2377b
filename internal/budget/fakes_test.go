package budget

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/notify"
)

// memStore is an in-memory Store and costquery.Source for unit tests (the
// SQLite store passes the same contracts in storetest).
type memStore struct {
	mu      sync.Mutex
	budgets map[bkey]Budget
	alerts  map[alertKey]AlertState
	recs    []ledger.Record
}

func newMemStore() *memStore {
	return &memStore{budgets: map[bkey]Budget{}, alerts: map[alertKey]AlertState{}}
}

func (m *memStore) CreateBudget(_ context.Context, b Budget) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := bkey{b.Account, b.Name}
	if _, ok := m.budgets[k]; ok {
		return errkind.New(errkind.Conflict, "exists")
	}
	m.budgets[k] = b.Clone()
	return nil
}

func (m *memStore) UpdateBudget(_ context.Context, b Budget) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := bkey{b.Account, b.Name}
	if _, ok := m.budgets[k]; !ok {
		return errkind.New(errkind.NotFound, "missing")
	}
	m.budgets[k] = b.Clone()
	return nil
}

func (m *memStore) DeleteBudget(_ context.Context, account, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := bkey{account, name}
	if _, ok := m.budgets[k]; !ok {
		return errkind.New(errkind.NotFound, "missing")
	}
	delete(m.budgets, k)
	return nil
}

func (m *memStore) ListBudgets(context.Context) ([]Budget, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Budget
	for _, b := range m.budgets {
		out = append(out, b.Clone())
	}
	slices.SortFunc(out, func(a, b Budget) int { return strings.Compare(a.Account+"\x00"+a.Name, b.Account+"\x00"+b.Name) })
	return out, nil
}

func (m *memStore) PutBudgetAlertState(_ context.Context, s AlertState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.alerts[alertKey{s.Account, s.Budget, s.Alert, s.PeriodStart.Unix()}] = s
	return nil
}

func (m *memStore) BudgetAlertStates(_ context.Context, since time.Time) ([]AlertState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []AlertState
	for _, a := range m.alerts {
		if !a.PeriodStart.Before(since) {
			out = append(out, a)
		}
	}
	return out, nil
}

func (m *memStore) add(recs ...ledger.Record) {
	m.mu.Lock()
	m.recs = append(m.recs, recs...)
	m.mu.Unlock()
}

func (m *memStore) CostRollups(_ context.Context, accounts []string, from, to time.Time) ([]ledger.Rollup, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var recs []ledger.Record
	for _, r := range m.recs {
		h := r.Time.Truncate(time.Hour)
		if h.Before(from) || !h.Before(to) || (accounts != nil && !slices.Contains(accounts, r.Account)) {
			continue
		}
		recs = append(recs, r)
	}
	rolls := costquery.RollupRecords(recs)
	slices.SortStableFunc(rolls, func(a, b ledger.Rollup) int { return a.Hour.Compare(b.Hour) })
	return rolls, nil
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
