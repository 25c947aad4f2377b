package storetest

import (
	"fmt"
	"math/rand/v2"
	"sync"
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

// testMetrics checks the metric bucket and alarm stores.
func testMetrics(t *testing.T, s Store) {
	t.Run("Buckets", func(t *testing.T) { testMetricBuckets(t, s) })
	t.Run("Replicas", func(t *testing.T) { testMetricReplicas(t, s) })
	t.Run("ConcurrentMerges", func(t *testing.T) { testMetricConcurrentMerges(t, s) })
	t.Run("ManyBuckets", func(t *testing.T) { testMetricManyBuckets(t, s) })
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

// testMetricReplicas checks that the replicas sharing a store keep a
// bucket row each: writes of one replica never touch another's row, reads
// return every replica's row, and deletion prunes them all. It shares the
// store with the other Metrics subtests, after Buckets: its buckets are of
// an account and a day of their own, newer than Buckets' ones.
func testMetricReplicas(t *testing.T, s MetricsStore) {
	ctx := t.Context()
	inv := metrics.Key{Account: "333333333333", Metric: metrics.Invocations, ModelID: "aaaaaaaaaaaa"}
	lat := metrics.Key{Account: "333333333333", Metric: metrics.InvocationLatency, ModelID: "aaaaaaaaaaaa"}
	m0 := t0.Add(24 * time.Hour).Truncate(time.Minute)
	h0 := m0.Truncate(time.Hour)
	b := func(key metrics.Key, res time.Duration, start time.Time, replica string, st metrics.Stats) metrics.Bucket {
		return metrics.Bucket{Key: key, Res: res, Start: start, Replica: replica, Stats: st}
	}
	read := func(t *testing.T, res time.Duration, from time.Time, keys ...metrics.Key) []metrics.Bucket {
		t.Helper()
		got, err := s.MetricBuckets(ctx, res, from, from.Add(time.Hour), keys...)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	// Two replicas (and the single node, "") write the same buckets.
	if err := s.WriteMetricBuckets(ctx, []metrics.Bucket{
		b(inv, metrics.Minute, m0, "replica-b", stats(1, 1)),
		b(inv, metrics.Minute, m0, "replica-a", stats(1)),
		b(inv, metrics.Minute, m0, "", stats(1, 1, 1)),
		b(lat, metrics.Minute, m0, "replica-a", stats(200)),
		b(inv, metrics.Hour, h0, "replica-a", stats(1)),
	}, []metrics.Bucket{
		b(inv, metrics.Hour, h0, "replica-b", stats(1, 1)), // stored, as there is no row of replica-b
	}); err != nil {
		t.Fatal(err)
	}
	want := []metrics.Bucket{ // by start, account, metric, model id, replica
		b(lat, metrics.Minute, m0, "replica-a", stats(200)),
		b(inv, metrics.Minute, m0, "", stats(1, 1, 1)),
		b(inv, metrics.Minute, m0, "replica-a", stats(1)),
		b(inv, metrics.Minute, m0, "replica-b", stats(1, 1)),
	}
	if diff := cmp.Diff(read(t, metrics.Minute, m0), want, cmpStats); diff != "" {
		t.Errorf("MetricBuckets, every series (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(read(t, metrics.Minute, m0, inv, lat, inv), want, cmpStats); diff != "" {
		t.Errorf("MetricBuckets(inv, lat, inv) (-got +want):\n%s", diff)
	}

	// Replacing and merging replica-a's rows leaves the others alone.
	if err := s.WriteMetricBuckets(ctx, []metrics.Bucket{
		b(inv, metrics.Minute, m0, "replica-a", stats(1, 1, 1, 1, 1)),
	}, []metrics.Bucket{
		b(inv, metrics.Hour, h0, "replica-a", stats(1, 1)),
		b(inv, metrics.Minute, m0.Add(time.Minute), "replica-a", stats(1)),
	}); err != nil {
		t.Fatal(err)
	}
	want = []metrics.Bucket{
		b(inv, metrics.Minute, m0, "", stats(1, 1, 1)),
		b(inv, metrics.Minute, m0, "replica-a", stats(1, 1, 1, 1, 1)),
		b(inv, metrics.Minute, m0, "replica-b", stats(1, 1)),
		b(inv, metrics.Minute, m0.Add(time.Minute), "replica-a", stats(1)),
	}
	if diff := cmp.Diff(read(t, metrics.Minute, m0, inv), want, cmpStats); diff != "" {
		t.Errorf("after replacing replica-a's minute (-got +want):\n%s", diff)
	}
	want = []metrics.Bucket{
		b(inv, metrics.Hour, h0, "replica-a", stats(1, 1, 1)),
		b(inv, metrics.Hour, h0, "replica-b", stats(1, 1)),
	}
	if diff := cmp.Diff(read(t, metrics.Hour, h0, inv), want, cmpStats); diff != "" {
		t.Errorf("after merging into replica-a's hour (-got +want):\n%s", diff)
	}

	// Series and the newest bucket are across replicas.
	keys, err := s.MetricSeries(ctx, inv.Account, metrics.Minute, m0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(keys, []metrics.Key{lat, inv}); diff != "" {
		t.Errorf("MetricSeries (-got +want):\n%s", diff)
	}
	if latest, err := s.LatestMetricBucket(ctx, metrics.Minute); err != nil || !latest.Equal(m0.Add(time.Minute)) {
		t.Errorf("LatestMetricBucket = %v, %v; want %v (replica-a's)", latest, err, m0.Add(time.Minute))
	}

	// Deleting prunes every replica's rows.
	if err := s.DeleteMetricBuckets(ctx, metrics.Minute, m0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	want = []metrics.Bucket{b(inv, metrics.Minute, m0.Add(time.Minute), "replica-a", stats(1))}
	if diff := cmp.Diff(read(t, metrics.Minute, m0), want, cmpStats); diff != "" {
		t.Errorf("after deleting the minute buckets before +1m (-got +want):\n%s", diff)
	}
	if err := s.DeleteMetricBuckets(ctx, metrics.Hour, h0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := read(t, metrics.Hour, h0); len(got) != 0 {
		t.Errorf("after deleting the hour buckets: %d left, want none", len(got))
	}
}

// testMetricConcurrentMerges has writers of two replicas merge into and
// replace the same buckets at once, each call with its buckets in another
// order: every merge counts once (none is lost to a concurrent one), and
// no write fails (no deadlock).
func testMetricConcurrentMerges(t *testing.T, s MetricsStore) {
	ctx := t.Context()
	const writers, rounds = 8, 10
	m0 := t0.Add(48 * time.Hour).Truncate(time.Minute)
	keys := make([]metrics.Key, 6)
	for i := range keys {
		keys[i] = metrics.Key{Account: "444444444444", Metric: metrics.Invocations, ModelID: fmt.Sprintf("model-%d", i)}
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds)
	for w := range writers {
		replica := []string{"replica-a", "replica-b"}[w%2]
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range rounds {
				var merge, replace []metrics.Bucket
				for _, k := range keys {
					merge = append(merge, metrics.Bucket{Key: k, Res: metrics.Minute, Start: m0, Replica: replica, Stats: stats(1)})
					replace = append(replace, metrics.Bucket{Key: k, Res: metrics.Minute, Start: m0.Add(time.Minute), Replica: replica, Stats: stats(int64(w))})
				}
				rng.Shuffle(len(merge), func(i, j int) { merge[i], merge[j] = merge[j], merge[i] })
				rng.Shuffle(len(replace), func(i, j int) { replace[i], replace[j] = replace[j], replace[i] })
				errs <- s.WriteMetricBuckets(ctx, replace, merge)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.MetricBuckets(ctx, metrics.Minute, m0, m0.Add(time.Minute), keys...)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2*len(keys) {
		t.Fatalf("%d merged buckets, want %d (one per key and replica)", len(got), 2*len(keys))
	}
	for _, b := range got {
		if b.Stats.Count != writers/2*rounds {
			t.Errorf("%v of %s: %d merged samples, want %d", b.Key, b.Replica, b.Stats.Count, writers/2*rounds)
		}
	}
	got, _ = s.MetricBuckets(ctx, metrics.Minute, m0.Add(time.Minute), m0.Add(2*time.Minute), keys...)
	if len(got) != 2*len(keys) {
		t.Errorf("%d replaced buckets, want %d (one per key and replica)", len(got), 2*len(keys))
	}
}

// testMetricManyBuckets writes more buckets in one call than a store's
// statements carry (SQLite writes 256 rows a statement), in shuffled
// order, for two replicas: replaced ones over stored rows and over none,
// merged ones into stored rows and into none, a key replaced and merged
// in one call, and keys merged several times whose buckets fall in
// different statements. Each row must hold what a bucket-by-bucket
// application of the call gives.
func testMetricManyBuckets(t *testing.T, s MetricsStore) {
	ctx := t.Context()
	const keys = 700
	m0 := t0.Add(72 * time.Hour).Truncate(time.Minute)
	type pk struct {
		key     metrics.Key
		replica string
	}
	want := map[pk]*metrics.Stats{}
	bucket := func(i int, replica string, st metrics.Stats) metrics.Bucket {
		k := metrics.Key{Account: "555555555555", Metric: metrics.InvocationLatency, ModelID: fmt.Sprintf("model-%04d", i)}
		return metrics.Bucket{Key: k, Res: metrics.Minute, Start: m0, Replica: replica, Stats: st}
	}
	apply := func(b metrics.Bucket, merge bool) {
		id := pk{b.Key, b.Replica}
		if w := want[id]; merge && w != nil {
			w.Merge(&b.Stats)
			return
		}
		want[id] = b.Stats.Clone()
	}
	replicas := []string{"", "replica-a"}
	// Stored rows: the even keys.
	var first []metrics.Bucket
	for i := 0; i < keys; i += 2 {
		for r, replica := range replicas {
			first = append(first, bucket(i, replica, stats(int64(i), int64(5000+i*r))))
		}
	}
	if err := s.WriteMetricBuckets(ctx, first, nil); err != nil {
		t.Fatal(err)
	}
	for _, b := range first {
		apply(b, false)
	}
	// One call: every third and every seventh key replaced (some twice:
	// the later wins), every key merged once, every fifth twice more.
	var replace, merge []metrics.Bucket
	for i := range keys {
		for r, replica := range replicas {
			if i%3 == 0 {
				replace = append(replace, bucket(i, replica, stats(int64(1000+i), 7)))
			}
			if i%7 == 0 {
				replace = append(replace, bucket(i, replica, stats(int64(2000+i))))
			}
			merge = append(merge, bucket(i, replica, stats(int64(i%50+r), 300_000)))
			if i%5 == 0 {
				merge = append(merge, bucket(i, replica, stats(int64(90_000+i))), bucket(i, replica, stats(3, 4, int64(i))))
			}
		}
	}
	rng := rand.New(rand.NewPCG(3, 5))
	rng.Shuffle(len(merge), func(i, j int) { merge[i], merge[j] = merge[j], merge[i] })
	rng.Shuffle(len(replace), func(i, j int) { replace[i], replace[j] = replace[j], replace[i] })
	if err := s.WriteMetricBuckets(ctx, replace, merge); err != nil {
		t.Fatal(err)
	}
	for _, b := range replace {
		apply(b, false)
	}
	for _, b := range merge {
		apply(b, true)
	}
	got, err := s.MetricBuckets(ctx, metrics.Minute, m0, m0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("%d buckets stored, want %d", len(got), len(want))
	}
	for _, b := range got {
		w := want[pk{b.Key, b.Replica}]
		if w == nil {
			t.Errorf("unexpected bucket %v of %q", b.Key, b.Replica)
			continue
		}
		if diff := cmp.Diff(b.Stats, *w, cmpStats); diff != "" {
			t.Errorf("%v of %q (-got +want):\n%s", b.Key, b.Replica, diff)
		}
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
