package budget_test

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/admission"
	"github.com/tollgate-dev/tollgate/internal/budget"
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// fleet is n Services sharing one store, ledger and pool, as replicas.
func newFleet(t *testing.T, n int, now time.Time) (*fixture, []*budget.Service, *fleetShared) {
	t.Helper()
	f := newFixture(t, now)
	sh := &fleetShared{DB: f.store}
	var svcs []*budget.Service
	for i := range n {
		svc, err := budget.NewService(t.Context(), budget.Config{Store: f.store, Source: f.store, Catalog: catalog.Default(), Notifier: f.outbox,
			Management: acct, Now: f.clock.now, Shared: sh, Replica: string(rune('a' + i))})
		if err != nil {
			t.Fatal(err)
		}
		svcs = append(svcs, svc)
	}
	sh.fleet = svcs
	f.svc = svcs[0]
	return f, svcs, sh
}

// TestSharedBlockHoldsAcrossReplicas drives three replicas' admissions
// through one BLOCK budget at once: the fleet's spend stays within the
// limit (every cost within its worst case), as on one node, and the pool
// is claimed in chunks, not per call.
func TestSharedBlockHoldsAcrossReplicas(t *testing.T) {
	f, svcs, sh := newFleet(t, 3, t0)
	limit := 20 * money.Dollar
	mustCreate(t, f, budget.Budget{Name: "claims", Limit: int64(limit), Filter: claims(),
		Actions: []budget.Action{{Type: budget.Block, Threshold: 100, ThresholdType: budget.Percentage}}})
	for _, s := range svcs[1:] {
		if err := s.Reload(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	tg := tags.Set{"dept": "claims"}
	var admitted, refused, spend atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() { // the replicas' sync loops, sped up
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			for _, s := range svcs {
				if err := s.Sync(t.Context()); err != nil {
					t.Error(err)
				}
				s.ReturnIdle(t.Context(), false)
			}
		}
	})
	var callers sync.WaitGroup
	for g := range 90 {
		svc := svcs[g%3]
		callers.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 5))
			for range 150 {
				worst := money.Amount(1_000_000 + rng.IntN(4_000_000))
				tk, err := svc.Admit(context.Background(), admissionOf(f, tg, worst))
				if err != nil {
					if !errkind.Is(err, errkind.QuotaExceeded) || !strings.Contains(err.Error(), `"claims"`) {
						t.Errorf("refusal = %v, want QuotaExceeded naming the budget", err)
					}
					refused.Add(1)
					continue
				}
				admitted.Add(1)
				cost := worst * money.Amount(30+rng.IntN(71)) / 100
				rec := f.record("aaaaaaaaaaaa", tg, cost)
				f.add(t, rec) // durable first, then settled
				spend.Add(int64(cost))
				tk.Done(rec)
			}
		})
	}
	callers.Wait()
	close(stop)
	wg.Wait()
	t.Logf("admitted %d, refused %d, fleet spend %s of %s, %d claims", admitted.Load(), refused.Load(), money.Amount(spend.Load()), limit, sh.claims.Load())
	if spend.Load() > int64(limit) {
		t.Errorf("fleet spend %s exceeds the limit %s", money.Amount(spend.Load()), limit)
	}
	if refused.Load() == 0 || spend.Load() < int64(limit)*8/10 {
		t.Errorf("spend %s with %d refusals: the budget was never filled, so the test proves nothing", money.Amount(spend.Load()), refused.Load())
	}
	if c := sh.claims.Load(); c >= admitted.Load() {
		t.Errorf("%d claims for %d admitted calls: claims should come in chunks", c, admitted.Load())
	}
	for _, s := range svcs {
		if err := s.Sync(t.Context()); err != nil {
			t.Fatal(err)
		}
		if v, _ := s.Get(t.Context(), acct, "claims"); v.Actual != spend.Load() {
			t.Errorf("after sync, a replica sees spend %s, want the fleet's %s", money.Amount(v.Actual), money.Amount(spend.Load()))
		}
	}
}

func admissionOf(f *fixture, tg tags.Set, worst money.Amount) admission.Request {
	return admission.Request{Time: f.clock.now(), RequestID: "req", Account: acct, ProfileARN: profileARN("aaaaaaaaaaaa"), ProfileID: "aaaaaaaaaaaa",
		Model: catalog.Model{ID: haiku}, Tags: tg, Operation: "Converse", InputTokens: 100, MaxOutputTokens: 200, WorstCase: worst}
}

// TestSharedThrottleAcrossReplicas: a THROTTLE of 6 calls a minute admits
// 6 calls a minute across three replicas, not 6 on each.
func TestSharedThrottleAcrossReplicas(t *testing.T) {
	f, svcs, _ := newFleet(t, 3, t0)
	mustCreate(t, f, budget.Budget{Name: "b", Limit: int64(10 * money.Dollar), Filter: claims(), Actions: []budget.Action{
		{Type: budget.Throttle, Threshold: 50, RequestsPerMinute: 6}}})
	tg := tags.Set{"dept": "claims"}
	f.add(t, f.record("aaaaaaaaaaaa", tg, 6*money.Dollar)) // past 50%, made on another replica
	for _, s := range svcs {
		if err := s.Reload(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := s.Sync(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	for minute := 1; minute <= 2; minute++ {
		f.clock.set(t0.Truncate(time.Minute).Add(time.Duration(minute) * time.Minute))
		ok := 0
		for i := range 30 {
			tk, err := svcs[i%3].Admit(context.Background(), admissionOf(f, tg, money.Cent))
			if err != nil {
				if !errkind.Is(err, errkind.Throttled) {
					t.Fatalf("refusal = %v, want Throttled", err)
				}
				continue
			}
			tk.Done(ledger.Record{})
			ok++
		}
		if ok != 6 {
			t.Errorf("minute %d: %d calls admitted across 3 replicas, want 6", minute, ok)
		}
	}
}

// TestReloadFollowsOtherReplica: a budget created, changed and deleted
// through one replica is enforced, changed and dropped on another after
// Reload; its spend survives a change that keeps the scope.
func TestReloadFollowsOtherReplica(t *testing.T) {
	f, svcs, _ := newFleet(t, 2, t0)
	tg := tags.Set{"dept": "claims"}
	f.add(t, f.record("aaaaaaaaaaaa", tg, 3*money.Dollar))
	mustCreate(t, f, budget.Budget{Name: "b", Limit: int64(10 * money.Dollar), Filter: claims()})
	other := svcs[1]
	if _, err := other.Get(t.Context(), acct, "b"); !errkind.Is(err, errkind.NotFound) {
		t.Fatalf("before Reload the other replica has the budget: %v", err)
	}
	if err := other.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	v, err := other.Get(t.Context(), acct, "b")
	if err != nil || v.Actual != int64(3*money.Dollar) {
		t.Fatalf("after Reload: %v, spend %s; want the budget with $3 spent", err, money.Amount(v.Actual))
	}
	f.clock.set(t0.Add(time.Second))
	nb := v.Budget
	nb.Limit = int64(4 * money.Dollar)
	if err := svcs[0].Update(t.Context(), nb); err != nil {
		t.Fatal(err)
	}
	if err := other.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if v, _ := other.Get(t.Context(), acct, "b"); v.PeriodLimit != int64(4*money.Dollar) || v.Actual != int64(3*money.Dollar) {
		t.Errorf("after the update: limit %s, spend %s; want $4 and $3", money.Amount(v.PeriodLimit), money.Amount(v.Actual))
	}
	if err := svcs[0].Delete(t.Context(), acct, "b"); err != nil {
		t.Fatal(err)
	}
	if err := other.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Get(t.Context(), acct, "b"); !errkind.Is(err, errkind.NotFound) {
		t.Errorf("after delete and Reload: %v, want NotFound", err)
	}
}

// TestReturnIdleGivesBackUnused: a replica's grant beyond what it spent
// and holds in flight goes back to the pool (at shutdown, on a shortage),
// where another replica can claim it.
func TestReturnIdleGivesBackUnused(t *testing.T) {
	f, svcs, sh := newFleet(t, 2, t0)
	limit := 8 * money.Dollar
	mustCreate(t, f, budget.Budget{Name: "claims", Limit: int64(limit), Filter: claims(),
		Actions: []budget.Action{{Type: budget.Block, Threshold: 100, ThresholdType: budget.Percentage}}})
	if err := svcs[1].Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	tg := tags.Set{"dept": "claims"}
	tk, err := svcs[0].Admit(context.Background(), admissionOf(f, tg, money.Dollar))
	if err != nil {
		t.Fatal(err)
	}
	rec := f.record("aaaaaaaaaaaa", tg, money.Dollar/2)
	f.add(t, rec)
	tk.Done(rec)
	v, err := svcs[0].Get(t.Context(), acct, "claims")
	if err != nil {
		t.Fatal(err)
	}
	granted := func(replica string) int64 { // a claim of nothing returns the grant unchanged
		g, err := sh.DB.ClaimAllowance(t.Context(), budget.Claim{Account: acct, Budget: "claims", Replica: replica,
			PeriodStart: v.Period.Start, PeriodEnd: v.Period.End})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	if g := granted("a"); g != int64(limit)/8 {
		t.Fatalf("first claim granted %s, want an eighth of the limit", money.Amount(g))
	}
	svcs[0].ReturnIdle(t.Context(), true)
	if g := granted("a"); g != int64(money.Dollar/2) {
		t.Errorf("after ReturnIdle the grant is %s, want the $0.50 spent", money.Amount(g))
	}
	// The other replica can now have everything but that.
	if err := svcs[1].Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	tk, err = svcs[1].Admit(context.Background(), admissionOf(f, tg, limit-money.Dollar/2))
	if err != nil {
		t.Fatalf("the rest of the pool is refused to the other replica: %v", err)
	}
	tk.Done(ledger.Record{})
}
