package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/budget"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/notify"
)

// BudgetStore is a store that keeps budgets and the notification outbox.
type BudgetStore interface {
	budget.Store
	notify.Store
}

func testBudgets(t *testing.T, s Store) {
	t.Run("Budgets", func(t *testing.T) { testBudgetCRUD(t, s) })
	t.Run("AlertStates", func(t *testing.T) { testBudgetAlertStates(t, s) })
	t.Run("ActionEvents", func(t *testing.T) { testBudgetActionEvents(t, s) })
	t.Run("Outbox", func(t *testing.T) { testOutbox(t, s) })
}

func sampleBudget(account, name string) budget.Budget {
	return budget.Budget{
		Account: account, Name: name, Type: budget.Cost, TimeUnit: budget.Monthly, Limit: 10_000_000_000_000, Unit: "USD",
		Start: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), End: budget.DefaultEnd,
		Filter: &costquery.Expr{And: []costquery.Expr{
			{Tags: &costquery.Values{Key: "user:dept", Values: []string{"sales"}}},
			{Not: &costquery.Expr{Dimensions: &costquery.Values{Key: "REGION", Values: []string{"eu"}, MatchOptions: []costquery.MatchOption{costquery.StartsWith}}}},
		}},
		Metrics: []string{"UnblendedCost"},
		Notifications: []budget.Notification{{Type: budget.Actual, Comparison: budget.GreaterThan, Threshold: 80, ThresholdType: budget.Percentage,
			Subscribers: []budget.Subscriber{{Type: budget.Email, Address: "fin@example.com"}, {Type: budget.SNS, Address: "https://hooks.example.com/x"}}}},
		Actions:   []budget.Action{{ID: "a1", Type: budget.Downgrade, Threshold: 90, ThresholdType: budget.Percentage, Model: "amazon.nova-micro-v1:0", ApprovalModel: "AUTOMATIC"}},
		CreatedAt: t0, UpdatedAt: t0,
	}
}

func testBudgetCRUD(t *testing.T, s BudgetStore) {
	ctx := t.Context()
	a := sampleBudget("111111111111", "sales")
	b := sampleBudget("111111111111", "claims")
	b.Filter, b.Metrics = nil, nil
	b.CostFilters = map[string][]string{"TagKeyValue": {"user:dept$claims"}, "Region": {"us-east-1"}}
	b.CostTypes = map[string]bool{"IncludeTax": false}
	b.Planned = map[int64]int64{time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).Unix(): 5}
	b.Limit = 0
	c := sampleBudget("222222222222", "sales") // same name, other account
	for _, x := range []budget.Budget{a, b, c} {
		if err := s.CreateBudget(ctx, x); err != nil {
			t.Fatalf("CreateBudget(%s/%s): %v", x.Account, x.Name, err)
		}
	}
	if err := s.CreateBudget(ctx, a); !errkind.Is(err, errkind.Conflict) {
		t.Errorf("second CreateBudget = %v, want Conflict", err)
	}
	got, err := s.ListBudgets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, []budget.Budget{b, a, c}); diff != "" {
		t.Errorf("ListBudgets (-got +want):\n%s", diff)
	}
	a.Limit, a.UpdatedAt, a.Notifications = 42, t0.Add(time.Hour), nil
	if err := s.UpdateBudget(ctx, a); err != nil {
		t.Fatal(err)
	}
	missing := sampleBudget("111111111111", "nope")
	if err := s.UpdateBudget(ctx, missing); !errkind.Is(err, errkind.NotFound) {
		t.Errorf("UpdateBudget of a missing budget = %v, want NotFound", err)
	}
	if err := s.DeleteBudget(ctx, "111111111111", "claims"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBudget(ctx, "111111111111", "claims"); !errkind.Is(err, errkind.NotFound) {
		t.Errorf("second DeleteBudget = %v, want NotFound", err)
	}
	got, _ = s.ListBudgets(ctx)
	if diff := cmp.Diff(got, []budget.Budget{a, c}); diff != "" {
		t.Errorf("after update and delete (-got +want):\n%s", diff)
	}
}

func testBudgetAlertStates(t *testing.T, s BudgetStore) {
	ctx := t.Context()
	if err := s.CreateBudget(ctx, sampleBudget("111111111111", "alerts")); err != nil {
		t.Fatal(err)
	}
	nov, dec := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	states := []budget.AlertState{
		{Account: "111111111111", Budget: "alerts", Alert: "ACTUAL/GREATER_THAN/80/PERCENTAGE", PeriodStart: nov, Alarm: true, Fired: 1, UpdatedAt: t0},
		{Account: "111111111111", Budget: "alerts", Alert: "ACTUAL/GREATER_THAN/80/PERCENTAGE", PeriodStart: dec, Alarm: false, Fired: 0, UpdatedAt: t0},
		{Account: "111111111111", Budget: "alerts", Alert: "FORECASTED/GREATER_THAN/100/PERCENTAGE", PeriodStart: dec, Alarm: true, Fired: 1, UpdatedAt: t0},
	}
	for _, a := range states {
		if err := s.PutBudgetAlertState(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	states[2].Alarm, states[2].Fired, states[2].UpdatedAt = false, 2, t0.Add(time.Minute) // upsert
	if err := s.PutBudgetAlertState(ctx, states[2]); err != nil {
		t.Fatal(err)
	}
	got, err := s.BudgetAlertStates(ctx, dec)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, states[1:]); diff != "" {
		t.Errorf("BudgetAlertStates since December (-got +want):\n%s", diff)
	}
	if err := s.DeleteBudget(ctx, "111111111111", "alerts"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.BudgetAlertStates(ctx, nov); len(got) != 0 {
		t.Errorf("after DeleteBudget, %d alert states remain, want 0", len(got))
	}
}

// testBudgetActionEvents covers the actions' histories and the
// replicas' refusal reports: appended once per (action, time, status),
// read oldest first, upserted per replica and period, and gone with their
// budget.
func testBudgetActionEvents(t *testing.T, s BudgetStore) {
	ctx := t.Context()
	b := sampleBudget("111111111111", "enforced")
	if err := s.CreateBudget(ctx, b); err != nil {
		t.Fatal(err)
	}
	act := b.Actions[0]
	ev := func(at time.Time, st budget.ActionStatus, typ, msg string) budget.ActionEvent {
		return budget.ActionEvent{Account: b.Account, Budget: b.Name, ActionID: act.ID, At: at, Status: st, EventType: typ, Message: msg, Action: act}
	}
	want := []budget.ActionEvent{
		ev(t0, budget.StatusStandby, "CREATE_ACTION", "Action created"),
		ev(t0.Add(time.Minute), budget.StatusExecuted, "SYSTEM", "DOWNGRADE engaged: actual spend $9.00 reached the threshold of $9.00"),
		ev(t0.Add(time.Hour), budget.StatusStandby, "SYSTEM", "DOWNGRADE released: the budget period ended"),
	}
	for _, e := range []budget.ActionEvent{want[2], want[0], want[1], want[1]} { // a repeat is stored once
		if err := s.AppendBudgetActionEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	other := ev(t0, budget.StatusStandby, "CREATE_ACTION", "other")
	other.ActionID = "a2"
	if err := s.AppendBudgetActionEvent(ctx, other); err != nil {
		t.Fatal(err)
	}
	got, err := s.BudgetActionEvents(ctx, b.Account, b.Name, act.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("BudgetActionEvents (-got +want):\n%s", diff)
	}

	nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	r := budget.Refusals{Account: b.Account, Budget: b.Name, ActionID: act.ID, Replica: "r1", PeriodStart: nov, Last: t0, Count: 3}
	old := r
	old.Replica, old.Last, old.Count = "r2", t0.Add(-time.Hour), 9
	for _, x := range []budget.Refusals{r, old} {
		if err := s.PutBudgetRefusals(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	r.Last, r.Count = t0.Add(time.Minute), 7 // upsert
	if err := s.PutBudgetRefusals(ctx, r); err != nil {
		t.Fatal(err)
	}
	rs, err := s.BudgetRefusals(ctx, t0.Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rs, []budget.Refusals{r}); diff != "" {
		t.Errorf("BudgetRefusals since a minute before (-got +want):\n%s", diff)
	}

	if err := s.DeleteBudget(ctx, b.Account, b.Name); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.BudgetActionEvents(ctx, b.Account, b.Name, act.ID); len(got) != 0 {
		t.Errorf("after DeleteBudget, %d action events remain, want 0", len(got))
	}
	if got, _ := s.BudgetRefusals(ctx, time.Time{}); len(got) != 0 {
		t.Errorf("after DeleteBudget, %d refusal reports remain, want 0", len(got))
	}
}

func testOutbox(t *testing.T, s BudgetStore) {
	ctx := t.Context()
	msg := func(key string, at time.Time) notify.Message {
		return notify.Message{Key: key, Kind: "budget.alert", Target: "webhook:https://hooks.example.com/x", Subject: "s " + key,
			Body: "body\nline", Data: json.RawMessage(`{"a":1}`), CreatedAt: at}
	}
	m1, m2, m3 := msg("k1", t0), msg("k2", t0.Add(time.Second)), msg("k3", t0.Add(time.Hour))
	m2.Data = json.RawMessage(`{"z":1,"a":[2,3]}`) // kept as given, keys in their order
	m3.Data = nil
	for _, m := range []notify.Message{m2, m1, m3} {
		if added, err := s.EnqueueMessage(ctx, m); err != nil || !added {
			t.Fatalf("EnqueueMessage(%s) = %v, %v; want true", m.Key, added, err)
		}
	}
	dup := m1
	dup.Subject = "changed"
	if added, err := s.EnqueueMessage(ctx, dup); err != nil || added {
		t.Errorf("EnqueueMessage of an existing key = %v, %v; want false, nil", added, err)
	}
	due, err := s.DueMessages(ctx, t0.Add(time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []notify.Delivery{
		{Message: m1, State: notify.Pending, NextAt: t0},
		{Message: m2, State: notify.Pending, NextAt: t0.Add(time.Second)},
	}
	if diff := cmp.Diff(due, want); diff != "" {
		t.Errorf("DueMessages (-got +want):\n%s", diff)
	}
	if due, _ := s.DueMessages(ctx, t0.Add(time.Minute), 1); len(due) != 1 || due[0].Key != "k1" {
		t.Errorf("DueMessages with limit 1 = %v, want k1 only", due)
	}
	if err := s.MarkFailed(ctx, "k1", 1, t0.Add(10*time.Minute), false, "503"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkDelivered(ctx, "k2", 1, t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.DueMessages(ctx, t0.Add(time.Minute), 10); len(due) != 0 {
		t.Errorf("DueMessages after a failure and a delivery = %v, want none", due)
	}
	due, _ = s.DueMessages(ctx, t0.Add(2*time.Hour), 10)
	want = []notify.Delivery{
		{Message: m1, State: notify.Pending, Attempts: 1, NextAt: t0.Add(10 * time.Minute), LastError: "503"},
		{Message: m3, State: notify.Pending, NextAt: t0.Add(time.Hour)},
	}
	if diff := cmp.Diff(due, want); diff != "" {
		t.Errorf("DueMessages later (-got +want):\n%s", diff)
	}
	if err := s.MarkFailed(ctx, "k1", 2, t0, true, "400"); err != nil {
		t.Fatal(err)
	}
	got, err := s.OutboxMessage(ctx, "k1")
	if err != nil || got.State != notify.Dead || got.Attempts != 2 {
		t.Errorf("OutboxMessage(k1) = %+v, %v; want dead after 2 attempts", got, err)
	}
	got, err = s.OutboxMessage(ctx, "k2")
	if err != nil || got.State != notify.Delivered || !got.DeliveredAt.Equal(t0.Add(2*time.Second)) {
		t.Errorf("OutboxMessage(k2) = %+v, %v; want delivered", got, err)
	}
	if _, err := s.OutboxMessage(ctx, "nope"); !errkind.Is(err, errkind.NotFound) {
		t.Errorf("OutboxMessage of a missing key = %v, want NotFound", err)
	}
	if err := s.MarkDelivered(ctx, "nope", 1, t0); !errkind.Is(err, errkind.NotFound) {
		t.Errorf("MarkDelivered of a missing key = %v, want NotFound", err)
	}
	if added, _ := s.EnqueueMessage(ctx, m2); added {
		t.Error("a delivered key was enqueued again")
	}
}
