package budget_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/budget"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// actionMessages returns the budget.action messages enqueued so far.
func actionMessages(t *testing.T, f *fixture) []string {
	t.Helper()
	var out []string
	for _, m := range f.messages(t) {
		if m.Kind == budget.KindAction {
			out = append(out, m.Subject)
		}
	}
	return out
}

// TestBlockBelowLimitIsVisible reproduces the soak's finding: a BLOCK
// budget whose spend is held just below its limit refuses every call
// whose worst case would cross it. That enforcement is in force: the
// action says so (and why), its subscribers hear of it once when it
// engages and once when it releases, and its history records both.
func TestBlockBelowLimitIsVisible(t *testing.T) {
	f := newFixture(t, t0)
	hook := []budget.Subscriber{{Type: budget.SNS, Address: "https://hooks.example.com/enforce"}}
	mustCreate(t, f, budget.Budget{Name: "held", Limit: int64(10 * money.Dollar), Filter: claims(),
		Actions: []budget.Action{{Type: budget.Block, Threshold: 100, ThresholdType: budget.Percentage, Subscribers: hook}}})
	tg := tags.Set{"dept": "claims"}
	tk, err := f.admit("aaaaaaaaaaaa", tg, 999*money.Cent)
	if err != nil {
		t.Fatal(err)
	}
	tk.Done(f.record("aaaaaaaaaaaa", tg, 999*money.Cent)) // $9.99 of $10
	refusals := 0
	for range 50 {
		_, err := f.admit("aaaaaaaaaaaa", tg, 5*money.Cent)
		if errkind.KindOf(err) == errkind.QuotaExceeded {
			refusals++
		}
	}
	if refusals != 50 {
		t.Fatalf("refusals = %d, want 50 (the test needs a budget refusing calls below its limit)", refusals)
	}
	f.svc.Evaluate(t.Context())
	f.svc.Evaluate(t.Context())
	v, _ := f.svc.Get(t.Context(), acct, "held")
	id := v.Actions[0].ID
	if !v.InForce[id] {
		t.Errorf("BLOCK refusing calls at %s of %s: not in force", money.Amount(v.Actual), money.Amount(v.PeriodLimit))
	}
	e := v.Enforcement[id]
	if e.Status != budget.StatusExecuted || !strings.Contains(e.Reason, "worst case of the calls in flight") {
		t.Errorf("enforcement = %+v, want %s with the worst-case reason", e, budget.StatusExecuted)
	}
	if got := actionMessages(t, f); len(got) != 1 || !strings.Contains(got[0], "engaged") {
		t.Errorf("action messages after engaging = %q, want one engagement", got)
	}

	// No more refusals: it releases once the hold passes, and says so once.
	f.clock.set(t0.Add(budget.DefaultEnforcementHold + time.Second))
	f.svc.Evaluate(t.Context())
	f.svc.Evaluate(t.Context())
	v, _ = f.svc.Get(t.Context(), acct, "held")
	if v.InForce[id] || v.Enforcement[id].Status != budget.StatusStandby {
		t.Errorf("after the hold: in force %v, enforcement %+v, want STANDBY", v.InForce[id], v.Enforcement[id])
	}
	got := actionMessages(t, f)
	if len(got) != 2 || !strings.Contains(strings.Join(got, "|"), "released") {
		t.Errorf("action messages after releasing = %q, want engagement and release", got)
	}
	hist, err := f.svc.ActionHistory(t.Context(), acct, "held", id, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for _, h := range hist {
		statuses = append(statuses, string(h.Status)+":"+h.Message)
	}
	s := strings.Join(statuses, "\n")
	if !strings.Contains(s, "EXECUTION_SUCCESS:BLOCK engaged") || !strings.Contains(s, "STANDBY:BLOCK released") {
		t.Errorf("history =\n%s\nwant an engagement and a release", s)
	}
}

// TestShadowRefusesNothing checks a MANUAL (shadow) BLOCK: calls that a
// BLOCK would refuse go through, are counted, and the action reports
// PENDING (awaiting approval) while it would be refusing.
func TestShadowRefusesNothing(t *testing.T) {
	f := newFixture(t, t0)
	mustCreate(t, f, budget.Budget{Name: "try", Limit: int64(10 * money.Dollar), Filter: claims(),
		Actions: []budget.Action{{Type: budget.Block, Threshold: 100, ThresholdType: budget.Percentage, ApprovalModel: budget.Manual}}})
	tg := tags.Set{"dept": "claims"}
	for range 30 {
		tk, err := f.admit("aaaaaaaaaaaa", tg, money.Dollar)
		if err != nil {
			t.Fatalf("shadow BLOCK refused a call: %v", err)
		}
		tk.Done(f.record("aaaaaaaaaaaa", tg, money.Dollar))
	}
	f.svc.Evaluate(t.Context())
	v, _ := f.svc.Get(t.Context(), acct, "try")
	id := v.Actions[0].ID
	e := v.Enforcement[id]
	if e.Status != budget.StatusPending || !e.Shadow {
		t.Errorf("shadow enforcement = %+v, want PENDING shadow", e)
	}
	// 30 calls of $1 against $10: the tenth fits exactly ($9 spent, $1
	// reserved); the eleventh on would have been refused.
	if e.Refusals != 20 {
		t.Errorf("would-be refusals = %d, want 20", e.Refusals)
	}
	if v.InForce[id] {
		t.Errorf("shadow action reported in force")
	}
}

// TestEnforcementAcrossReplicas has one replica refuse calls and another
// evaluate alerts: the refusals reach the evaluator through the store, the
// action engages once for the fleet, and the refusing replica reports the
// engagement after it reloads the alert states.
func TestEnforcementAcrossReplicas(t *testing.T) {
	f, svcs, _ := newFleet(t, 2, t0)
	hook := []budget.Subscriber{{Type: budget.SNS, Address: "https://hooks.example.com/enforce"}}
	mustCreate(t, f, budget.Budget{Name: "held", Limit: int64(10 * money.Dollar), Filter: claims(),
		Actions: []budget.Action{{Type: budget.Block, Threshold: 100, ThresholdType: budget.Percentage, Subscribers: hook}}})
	if err := svcs[1].Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	tg := tags.Set{"dept": "claims"}
	adm := admissionOf(f, tg, 999*money.Cent)
	tk, err := svcs[1].Admit(t.Context(), adm)
	if err != nil {
		t.Fatal(err)
	}
	rec := f.record("aaaaaaaaaaaa", tg, 999*money.Cent)
	f.add(t, rec)
	tk.Done(rec)
	if _, err := svcs[1].Admit(t.Context(), admissionOf(f, tg, 5*money.Cent)); errkind.KindOf(err) != errkind.QuotaExceeded {
		t.Fatalf("second call on replica b: %v, want a BLOCK refusal", err)
	}
	// Replica a evaluates: it has refused nothing itself.
	for _, s := range svcs {
		if err := s.Sync(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	svcs[0].Evaluate(t.Context())
	svcs[0].Evaluate(t.Context())
	v, _ := svcs[0].Get(t.Context(), acct, "held")
	id := v.Actions[0].ID
	if e := v.Enforcement[id]; e.Status != budget.StatusExecuted {
		t.Errorf("evaluating replica: enforcement %+v, want %s", e, budget.StatusExecuted)
	}
	if got := actionMessages(t, f); len(got) != 1 {
		t.Errorf("action messages = %q, want one engagement", got)
	}
	if err := svcs[1].ReloadAlerts(t.Context()); err != nil {
		t.Fatal(err)
	}
	if v, _ := svcs[1].Get(t.Context(), acct, "held"); v.Enforcement[id].Status != budget.StatusExecuted {
		t.Errorf("refusing replica after reload: %+v, want %s", v.Enforcement[id], budget.StatusExecuted)
	}
}
