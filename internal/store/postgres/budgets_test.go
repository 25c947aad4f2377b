package postgres_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/anomaly"
	"github.com/tollgate-dev/tollgate/internal/budget"
	"github.com/tollgate-dev/tollgate/internal/notify"
	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/store/postgres"
	"github.com/tollgate-dev/tollgate/internal/store/postgres/pgtest"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

var at = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func testBudget(name string) budget.Budget {
	return budget.Budget{Account: "111111111111", Name: name, Type: budget.Cost, TimeUnit: budget.Monthly, Limit: 1, Unit: "USD",
		Start: at.Truncate(24 * time.Hour), End: budget.DefaultEnd, CreatedAt: at, UpdatedAt: at}
}

// TestPostgresEnqueueAcrossReplicas has two stores on one schema enqueue
// the same keys at the same moment: for each key exactly one of them
// stores it and gets true, and neither gets an error.
func TestPostgresEnqueueAcrossReplicas(t *testing.T) {
	url := pgtest.URL(t)
	dbs := [2]*postgres.DB{openURL(t, url), openURL(t, url)}
	const keys = 50
	for i := range keys {
		key := fmt.Sprintf("budget-alert-%d", i)
		start := make(chan struct{})
		var added [2]bool
		var errs [2]error
		var wg sync.WaitGroup
		for r, db := range dbs {
			wg.Go(func() {
				<-start
				added[r], errs[r] = db.EnqueueMessage(t.Context(), notify.Message{Key: key, Kind: "budget.alert",
					Target: "webhook:https://hooks.example.com/x", Subject: fmt.Sprintf("from replica %d", r), CreatedAt: at})
			})
		}
		close(start)
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("%s: errors %v, %v", key, errs[0], errs[1])
		}
		if added[0] == added[1] {
			t.Fatalf("%s: added = %v, want exactly one true", key, added)
		}
		winner := 0
		if added[1] {
			winner = 1
		}
		got, err := dbs[1-winner].OutboxMessage(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("from replica %d", winner); got.Subject != want {
			t.Errorf("%s: stored subject %q, want %q (the message of the replica that got true)", key, got.Subject, want)
		}
	}
	due, err := dbs[0].DueMessages(t.Context(), at, 2*keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != keys {
		t.Errorf("%d messages due, want %d", len(due), keys)
	}
}

// TestPostgresOutboxDeliveredStays checks that a replica recording a
// failed attempt after another recorded the delivery of the same message
// leaves it delivered, so it is never sent again.
func TestPostgresOutboxDeliveredStays(t *testing.T) {
	url := pgtest.URL(t)
	a, b := openURL(t, url), openURL(t, url)
	ctx := t.Context()
	if _, err := a.EnqueueMessage(ctx, notify.Message{Key: "k", Kind: "x", Target: "webhook:https://h.example.com", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if err := a.MarkDelivered(ctx, "k", 1, at.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	// An error message cut in the middle of a rune, as the outbox cuts
	// long ones, and a NUL byte: neither may fail the write.
	if err := b.MarkFailed(ctx, "k", 1, at.Add(time.Minute), false, "timeout \x00"+"é"[:1]); err != nil {
		t.Fatal(err)
	}
	got, err := a.OutboxMessage(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != notify.Delivered || !got.DeliveredAt.Equal(at.Add(time.Second)) {
		t.Errorf("after a late failure: %+v, want delivered at %v", got, at.Add(time.Second))
	}
	if due, _ := b.DueMessages(ctx, at.Add(time.Hour), 10); len(due) != 0 {
		t.Errorf("due after delivery: %+v", due)
	}
	if _, err := a.EnqueueMessage(ctx, notify.Message{Key: "k2", Kind: "x", Target: "webhook:https://h.example.com", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if err := b.MarkFailed(ctx, "k2", 1, at.Add(time.Minute), false, "bad \xff\xfe bytes \x00"); err != nil {
		t.Fatalf("MarkFailed with invalid UTF-8: %v", err)
	}
	if got, err := a.OutboxMessage(ctx, "k2"); err != nil || got.State != notify.Pending || got.LastError != "bad \uFFFD bytes " {
		t.Errorf("OutboxMessage(k2) = %+v, %v; want pending with the error made valid", got, err)
	}
}

// TestPostgresAlertStateOfDeletedBudget checks that an alert state
// written for a budget another replica deleted meanwhile is dropped, so a
// budget created again under the name starts without it.
func TestPostgresAlertStateOfDeletedBudget(t *testing.T) {
	url := pgtest.URL(t)
	a, b := openURL(t, url), openURL(t, url)
	ctx := t.Context()
	if err := a.CreateBudget(ctx, testBudget("b")); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteBudget(ctx, "111111111111", "b"); err != nil {
		t.Fatal(err)
	}
	st := budget.AlertState{Account: "111111111111", Budget: "b", Alert: "ACTUAL/GREATER_THAN/80/PERCENTAGE",
		PeriodStart: at.Truncate(24 * time.Hour), Alarm: true, Fired: 1, UpdatedAt: at}
	if err := a.PutBudgetAlertState(ctx, st); err != nil {
		t.Fatalf("PutBudgetAlertState for a deleted budget: %v", err)
	}
	if err := b.CreateBudget(ctx, testBudget("b")); err != nil {
		t.Fatal(err)
	}
	if got, err := a.BudgetAlertStates(ctx, time.Time{}); err != nil || len(got) != 0 {
		t.Errorf("alert states of the re-created budget = %+v, %v; want none", got, err)
	}
}

// TestPostgresPutAnomaliesAcrossReplicas has two stores on one schema
// write overlapping batches of anomalies, in different orders, at the same
// time, while a monitor is deleted: no deadlock and no error, and the
// deleted monitor's anomalies are gone.
func TestPostgresPutAnomaliesAcrossReplicas(t *testing.T) {
	url := pgtest.URL(t)
	a, b := openURL(t, url), openURL(t, url)
	ctx := t.Context()
	const acct = "111111111111"
	keep, gone := anomaly.MonitorARN(acct, "keep"), anomaly.MonitorARN(acct, "gone")
	for _, arn := range []string{keep, gone} {
		if err := a.CreateAnomalyMonitor(ctx, anomaly.Monitor{ARN: arn, Account: acct, Name: arn, Type: anomaly.Dimensional,
			Dimension: anomaly.DimService, ResourceTags: tags.Set{}, CreatedAt: at, UpdatedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	var all []anomaly.Anomaly
	for i := range 400 {
		m := keep
		if i%4 == 0 {
			m = gone
		}
		all = append(all, anomaly.Anomaly{ID: fmt.Sprintf("an-%04d", i), Account: acct, MonitorARN: m, DimensionValue: "v",
			Start: at, End: at, Open: true, MaxScore: 1, Actual: 2, DetectedAt: at, UpdatedAt: at})
	}
	const writers = 8
	var wg sync.WaitGroup
	errs := make(chan error, writers*10+1)
	for w := range writers {
		db := a
		if w%2 == 1 {
			db = b
		}
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 2))
			for range 10 {
				start := rng.IntN(len(all) - 150)
				batch := append([]anomaly.Anomaly(nil), all[start:start+150]...)
				rng.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
				errs <- db.PutAnomalies(ctx, batch)
			}
		})
	}
	wg.Go(func() {
		time.Sleep(5 * time.Millisecond)
		errs <- b.DeleteAnomalyMonitor(ctx, acct, gone)
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := a.PutAnomalies(ctx, all); err != nil {
		t.Fatal(err)
	}
	got, err := b.Anomalies(ctx, anomaly.AnomalyFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 300 {
		t.Errorf("%d anomalies, want the 300 of the monitor kept", len(got))
	}
	for _, x := range got {
		if x.MonitorARN != keep {
			t.Fatalf("anomaly %s of the deleted monitor survived", x.ID)
		}
	}
}

// TestPostgresChangesAnnounced checks which writes are announced on the
// change channel: budgets, anomaly monitors and subscriptions are; alert
// states, outbox messages, evaluations, anomalies and feedback are not.
func TestPostgresChangesAnnounced(t *testing.T) {
	url := pgtest.URL(t)
	writer := openURL(t, url)
	ctx := t.Context()
	kinds := watchKinds(t, url, 100*time.Millisecond, false)
	// Wait until the listener hears changes: a tick only says Watch runs.
	sentinel := func() {
		t.Helper()
		for i := 0; ; i++ {
			if err := writer.PutAccount(ctx, principal.Account{ID: "111111111111", Name: "a", CreatedAt: at}); err != nil {
				t.Fatal(err)
			}
			select {
			case k := <-kinds:
				if k != postgres.ChangeAccount {
					t.Fatalf("heard %q, want %q", k, postgres.ChangeAccount)
				}
				return
			case <-time.After(time.Second):
				if i == 5 {
					t.Fatal("no account notification")
				}
			}
		}
	}
	sentinel()
	// expect runs a write and checks the next kind heard: want, or, for
	// "", the sentinel's (nothing announced).
	expect := func(name, want string, write func() error) {
		t.Helper()
		if err := write(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want == "" {
			sentinel()
			return
		}
		select {
		case k := <-kinds:
			if k != want {
				t.Errorf("%s: heard %q, want %q", name, k, want)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s: no %q notification", name, want)
		}
	}
	const acct = "111111111111"
	b := testBudget("b")
	mon := anomaly.Monitor{ARN: anomaly.MonitorARN(acct, "m"), Account: acct, Name: "m", Type: anomaly.Dimensional,
		Dimension: anomaly.DimService, ResourceTags: tags.Set{}, CreatedAt: at, UpdatedAt: at}
	sub := anomaly.Subscription{ARN: anomaly.SubscriptionARN(acct, "s"), Account: acct, Name: "s", MonitorARNs: []string{mon.ARN},
		Frequency: anomaly.Daily, Threshold: anomaly.Threshold{Key: anomaly.ImpactAbsolute, Value: 1}, ResourceTags: tags.Set{},
		CreatedAt: at, UpdatedAt: at}
	an := anomaly.Anomaly{ID: "a", Account: acct, MonitorARN: mon.ARN, Start: at, End: at, DetectedAt: at, UpdatedAt: at}
	expect("create budget", postgres.ChangeBudget, func() error { return writer.CreateBudget(ctx, b) })
	expect("update budget", postgres.ChangeBudget, func() error { return writer.UpdateBudget(ctx, b) })
	expect("put alert state", "", func() error {
		return writer.PutBudgetAlertState(ctx, budget.AlertState{Account: acct, Budget: "b", Alert: "x", PeriodStart: at, UpdatedAt: at})
	})
	expect("enqueue", "", func() error {
		_, err := writer.EnqueueMessage(ctx, notify.Message{Key: "k", Kind: "x", Target: "webhook:https://h.example.com", CreatedAt: at})
		return err
	})
	expect("mark delivered", "", func() error { return writer.MarkDelivered(ctx, "k", 1, at) })
	expect("delete budget", postgres.ChangeBudget, func() error { return writer.DeleteBudget(ctx, acct, "b") })
	expect("create monitor", postgres.ChangeAnomaly, func() error { return writer.CreateAnomalyMonitor(ctx, mon) })
	expect("rename monitor", postgres.ChangeAnomaly, func() error { return writer.RenameAnomalyMonitor(ctx, acct, mon.ARN, "n", at) })
	expect("evaluate monitor", "", func() error { return writer.SetAnomalyMonitorEvaluated(ctx, mon.ARN, at, 1) })
	expect("create subscription", postgres.ChangeAnomaly, func() error { return writer.CreateAnomalySubscription(ctx, sub) })
	expect("update subscription", postgres.ChangeAnomaly, func() error { return writer.UpdateAnomalySubscription(ctx, sub) })
	expect("put anomalies", "", func() error { return writer.PutAnomalies(ctx, []anomaly.Anomaly{an}) })
	expect("feedback", "", func() error { return writer.SetAnomalyFeedback(ctx, acct, "a", anomaly.FeedbackYes) })
	expect("delete subscription", postgres.ChangeAnomaly, func() error { return writer.DeleteAnomalySubscription(ctx, acct, sub.ARN) })
	expect("delete monitor", postgres.ChangeAnomaly, func() error { return writer.DeleteAnomalyMonitor(ctx, acct, mon.ARN) })
	// A failed change is not announced.
	expect("failed delete", "", func() error {
		if err := writer.DeleteBudget(ctx, acct, "b"); err == nil {
			return fmt.Errorf("deleting a missing budget succeeded")
		}
		return nil
	})
}
