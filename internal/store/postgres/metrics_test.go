package postgres_test

import (
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/alarm"
	"github.com/tollgate-dev/tollgate/internal/metrics"
	"github.com/tollgate-dev/tollgate/internal/store/postgres"
	"github.com/tollgate-dev/tollgate/internal/store/postgres/pgtest"
)

// TestAlarmChangesAnnounced checks that saving and deleting alarms is
// announced on the notification channel (ChangeAlarm), so other replicas
// reload their alarms.
func TestAlarmChangesAnnounced(t *testing.T) {
	url := pgtest.URL(t)
	writer := openURL(t, url)
	ctx := t.Context()
	kinds := watchKinds(t, url, 200*time.Millisecond, true)
	// heard reports whether kind is heard within 2s.
	heard := func(kind string) bool {
		deadline := time.After(2 * time.Second)
		for {
			select {
			case k := <-kinds:
				if k == kind {
					return true
				}
			case <-deadline:
				return false
			}
		}
	}
	drain := func() {
		for {
			select {
			case <-kinds:
			default:
				return
			}
		}
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	a := alarm.Alarm{Account: "111111111111", Name: "rpm", Namespace: metrics.Namespace, MetricName: metrics.Invocations,
		Statistic: "Sum", Period: time.Minute, EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: alarm.GreaterThanThreshold,
		State: alarm.StateInsufficientData, StateUpdated: now, ConfigurationUpdated: now}
	item := alarm.HistoryItem{Account: a.Account, AlarmName: a.Name, Time: now, Type: alarm.HistoryAction, Summary: "s", Data: "{}"}

	// Ticks come once the watcher runs; save until heard, in case LISTEN
	// was not yet in place.
	if !heard(postgres.ChangeTick) {
		t.Fatal("the watcher did not start")
	}
	for i := 0; ; i++ {
		if err := writer.SaveAlarm(ctx, a, []alarm.HistoryItem{item}); err != nil {
			t.Fatal(err)
		}
		if heard(postgres.ChangeAlarm) {
			break
		}
		if i == 5 {
			t.Fatalf("no %q notification after SaveAlarm", postgres.ChangeAlarm)
		}
	}
	drain()
	if err := writer.DeleteAlarms(ctx, a.Account, []string{a.Name}, []alarm.HistoryItem{item}); err != nil {
		t.Fatal(err)
	}
	if !heard(postgres.ChangeAlarm) {
		t.Errorf("no %q notification after DeleteAlarms", postgres.ChangeAlarm)
	}
}
