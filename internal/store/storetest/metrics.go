package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tollgate-dev/tollgate/internal/alarm"
	"github.com/tollgate-dev/tollgate/internal/metrics"
)

// MetricsStore is a store of metric buckets and alarms.
type MetricsStore interface {
	metrics.Store
	alarm.Store
}

// testMetrics checks the metric bucket and alarm stores. A store that
// does not implement them yet is skipped.
func testMetrics(t *testing.T, st Store) {
	s, ok := st.(MetricsStore)
	if !ok {
		t.Skipf("%T does not implement metrics.Store and alarm.Store", st)
	}
	t.Run("Buckets", func(t *testing.T) { testMetricBuckets(t, s) })
	t.Run("Alarms", func(t *testing.T) { testAlarmStore(t, s) })
}

func stats(vals ...int64) metrics.Stats {
	var s metrics.Stats
	for _, v := range vals {
		s.Add(v)
	}
	return s
}

var cmpStats = cmp.Comparer(func(a, b metrics.Stats) bool {
	if a.Count != b.Count || a.Sum != b.Sum || a.Min != b.Min || a.Max != b.Max {
		return false
	}
	for _, p := range []float64{0, 10, 50, 90, 99, 100} {
		if a.Percentile(p) != b.Percentile(p) {
			return false
		}
	}
	return true
})

func testMetricBuckets(t *testing.T, s MetricsStore) {
	ctx := t.Context()
	inv := metrics.Key{Account: "111111111111", Metric: metrics.Invocations, ModelID: "aaaaaaaaaaaa"}
	all := metrics.Key{Account: "111111111111", Metric: metrics.Invocations}
	lat := metrics.Key{Account: "222222222222", Metric: metrics.InvocationLatency, ModelID: "anthropic.claude-3-haiku-20240307-v1:0"}
	m0 := t0.Truncate(time.Minute)

	if got, err := s.LatestMetricBucket(ctx, metrics.Minute); err != nil || !got.IsZero() {
		t.Fatalf("LatestMetricBucket on an empty store = %v, %v; want zero", got, err)
	}
	replace := []metrics.Bucket{
		{Key: inv, Res: metrics.Minute, Start: m0, Stats: stats(1, 1)},
		{Key: inv, Res: metrics.Minute, Start: m0.Add(time.Minute), Stats: stats(1)},
		{Key: all, Res: metrics.Minute, Start: m0, Stats: stats(1, 1, 1)},
		{Key: lat, Res: metrics.Minute, Start: m0.Add(2 * time.Minute), Stats: stats(120, 5000, 130_000)},
		{Key: inv, Res: metrics.Hour, Start: t0.Truncate(time.Hour), Stats: stats(1, 1, 1)},
		{Key: inv, Res: metrics.Minute, Start: m0, Stats: stats(1, 1, 1, 1)}, // a later write of the same bucket wins
	}
	merge := []metrics.Bucket{
		{Key: inv, Res: metrics.Hour, Start: t0.Truncate(time.Hour), Stats: stats(1)},         // into an existing bucket
		{Key: lat, Res: metrics.Hour, Start: t0.Truncate(time.Hour), Stats: stats(7)},         // a new one
		{Key: lat, Res: metrics.Hour, Start: t0.Truncate(time.Hour), Stats: stats(1_000_000)}, // merges twice
	}
	if err := s.WriteMetricBuckets(ctx, replace, merge); err != nil {
		t.Fatal(err)
	}
	got, err := s.MetricBuckets(ctx, metrics.Minute, m0, m0.Add(time.Hour), inv)
	if err != nil {
		t.Fatal(err)
	}
	want := []metrics.Bucket{
		{Key: inv, Res: metrics.Minute, Start: m0, Stats: stats(1, 1, 1, 1)},
		{Key: inv, Res: metrics.Minute, Start: m0.Add(time.Minute), Stats: stats(1)},
	}
	if diff := cmp.Diff(got, want, cmpStats); diff != "" {
		t.Errorf("MetricBuckets(inv) (-got +want):\n%s", diff)
	}
	got, _ = s.MetricBuckets(ctx, metrics.Hour, t0.Truncate(time.Hour), t0.Add(time.Hour), inv, lat)
	want = []metrics.Bucket{
		{Key: inv, Res: metrics.Hour, Start: t0.Truncate(time.Hour), Stats: stats(1, 1, 1, 1)},
		{Key: lat, Res: metrics.Hour, Start: t0.Truncate(time.Hour), Stats: stats(7, 1_000_000)},
	}
	sortKeyed := cmpopts.SortSlices(func(a, b metrics.Bucket) bool { return a.Key.Account < b.Key.Account })
	if diff := cmp.Diff(got, want, cmpStats, sortKeyed); diff != "" {
		t.Errorf("MetricBuckets(hour, inv, lat) (-got +want):\n%s", diff)
	}
	// Every series when no key is given; [from, to) is half open.
	got, _ = s.MetricBuckets(ctx, metrics.Minute, m0, m0.Add(2*time.Minute))
	if len(got) != 3 {
		t.Errorf("MetricBuckets(every series, 2 minutes) = %d buckets, want 3", len(got))
	}
	keys, err := s.MetricSeries(ctx, "111111111111", metrics.Minute, m0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(keys, []metrics.Key{all, inv}); diff != "" {
		t.Errorf("MetricSeries (-got +want):\n%s", diff)
	}
	if keys, _ := s.MetricSeries(ctx, "", metrics.Minute, m0.Add(2*time.Minute)); len(keys) != 1 || keys[0] != lat {
		t.Errorf("MetricSeries(since +2m) = %v, want [%v]", keys, lat)
	}
	if latest, _ := s.LatestMetricBucket(ctx, metrics.Minute); !latest.Equal(m0.Add(2 * time.Minute)) {
		t.Errorf("LatestMetricBucket = %v, want %v", latest, m0.Add(2*time.Minute))
	}
	if err := s.DeleteMetricBuckets(ctx, metrics.Minute, m0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.MetricBuckets(ctx, metrics.Minute, m0, m0.Add(time.Hour)); len(got) != 2 {
		t.Errorf("after deleting minute buckets before +1m: %d left, want 2", len(got))
	}
	if got, _ := s.MetricBuckets(ctx, metrics.Hour, t0.Truncate(time.Hour), t0.Add(time.Hour)); len(got) != 2 {
		t.Errorf("deleting minute buckets touched hour buckets: %d left, want 2", len(got))
	}
}

func testAlarmStore(t *testing.T, s MetricsStore) {
	ctx := t.Context()
	a := alarm.Alarm{Account: "111111111111", Name: "claims-rpm", Namespace: metrics.Namespace, MetricName: metrics.Invocations,
		Dimensions: []alarm.Dimension{{Name: "ModelId", Value: "aaaaaaaaaaaa"}}, Statistic: "Sum", Period: time.Minute,
		EvaluationPeriods: 3, DatapointsToAlarm: 2, Threshold: 100, ComparisonOperator: alarm.GreaterThanThreshold,
		TreatMissingData: alarm.TreatNotBreaching, ActionsEnabled: true, AlarmActions: []string{"https://example.com/hook", "tollgate:throttle"},
		ConfigurationUpdated: t0, State: alarm.StateInsufficientData, StateReason: "Unchecked: Initial alarm creation",
		StateUpdated: t0, StateTransitioned: t0}
	b := a
	b.Account, b.Name = "222222222222", "other"
	h := func(acct, name string, at time.Time, typ string) alarm.HistoryItem {
		return alarm.HistoryItem{Account: acct, AlarmName: name, Time: at, Type: typ, Summary: typ + " " + name, Data: `{"version":"1.0"}`}
	}
	if err := s.SaveAlarm(ctx, a, []alarm.HistoryItem{h(a.Account, a.Name, t0, alarm.HistoryConfigurationUpdate)}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveAlarm(ctx, b, nil); err != nil {
		t.Fatal(err)
	}
	a2 := a
	a2.State, a2.StateReason, a2.StateUpdated = alarm.StateAlarm, "Threshold Crossed", t0.Add(time.Minute)
	if err := s.SaveAlarm(ctx, a2, []alarm.HistoryItem{h(a.Account, a.Name, t0.Add(time.Minute), alarm.HistoryStateUpdate),
		h(a.Account, a.Name, t0.Add(time.Minute), alarm.HistoryAction)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadAlarms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, []alarm.Alarm{a2, b}); diff != "" {
		t.Errorf("LoadAlarms (-got +want):\n%s", diff)
	}
	hist, err := s.AlarmHistory(ctx, alarm.HistoryQuery{Account: a.Account, AlarmName: a.Name, Newest: true})
	if err != nil {
		t.Fatal(err)
	}
	wantHist := []alarm.HistoryItem{h(a.Account, a.Name, t0.Add(time.Minute), alarm.HistoryAction),
		h(a.Account, a.Name, t0.Add(time.Minute), alarm.HistoryStateUpdate), h(a.Account, a.Name, t0, alarm.HistoryConfigurationUpdate)}
	if diff := cmp.Diff(hist, wantHist); diff != "" {
		t.Errorf("AlarmHistory newest first (-got +want):\n%s", diff)
	}
	hist, _ = s.AlarmHistory(ctx, alarm.HistoryQuery{Account: a.Account, Type: alarm.HistoryStateUpdate})
	if len(hist) != 1 {
		t.Errorf("AlarmHistory(StateUpdate) = %d items, want 1", len(hist))
	}
	hist, _ = s.AlarmHistory(ctx, alarm.HistoryQuery{Account: a.Account, Offset: 1, Limit: 1})
	if len(hist) != 1 || hist[0].Type != alarm.HistoryStateUpdate {
		t.Errorf("AlarmHistory(offset 1, limit 1) = %+v, want the StateUpdate", hist)
	}
	hist, _ = s.AlarmHistory(ctx, alarm.HistoryQuery{Account: a.Account, From: t0.Add(time.Second)})
	if len(hist) != 2 {
		t.Errorf("AlarmHistory(from +1s) = %d items, want 2", len(hist))
	}
	if err := s.DeleteAlarms(ctx, a.Account, []string{a.Name, "missing"}, []alarm.HistoryItem{h(a.Account, a.Name, t0.Add(2*time.Minute), alarm.HistoryConfigurationUpdate)}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.LoadAlarms(ctx)
	if diff := cmp.Diff(got, []alarm.Alarm{b}); diff != "" {
		t.Errorf("after DeleteAlarms (-got +want):\n%s", diff)
	}
	if err := s.AppendAlarmHistory(ctx, []alarm.HistoryItem{h(b.Account, b.Name, t0.Add(3*time.Minute), alarm.HistoryAction)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PruneAlarmHistory(ctx, t0.Add(90*time.Second)); err != nil {
		t.Fatal(err)
	}
	hist, _ = s.AlarmHistory(ctx, alarm.HistoryQuery{Account: a.Account})
	if len(hist) != 1 {
		t.Errorf("history of a deleted alarm after pruning = %d items, want the deletion only", len(hist))
	}
	if hist, _ := s.AlarmHistory(ctx, alarm.HistoryQuery{Account: b.Account}); len(hist) != 1 {
		t.Errorf("history of account %s = %d items, want 1", b.Account, len(hist))
	}
}
