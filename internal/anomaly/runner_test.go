package anomaly_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tollgate-dev/tollgate/internal/anomaly"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/notify"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite/sqlitetest"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

const acct = "123456789012"

var (
	haiku    = "anthropic.claude-3-haiku-20240307-v1:0"
	salesARN = "arn:aws:bedrock:us-east-1:" + acct + ":application-inference-profile/salesprod001"
	claimARN = "arn:aws:bedrock:us-east-1:" + acct + ":application-inference-profile/claimsprod01"
	// t0 is the hour the tests' "now" falls in.
	t0 = time.Date(2026, 3, 11, 15, 0, 0, 0, time.UTC)
)

func openDB(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "tollgate.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// traffic appends, for each hour of [from, to), a few calls per
// department with a daily cycle and noise; mult scales the spend of an
// hour and department.
type traffic struct {
	db  *sqlite.DB
	rng *rand.Rand
	n   int
}

func (tr *traffic) add(t *testing.T, from, to time.Time, mult func(h time.Time, dept string) float64) money.Amount {
	t.Helper()
	var recs []ledger.Record
	var total money.Amount
	for h := from; h.Before(to); h = h.Add(time.Hour) {
		for _, dept := range []string{"claims", "sales"} {
			arn := claimARN
			if dept == "sales" {
				arn = salesARN
			}
			base := 2 + math.Sin(2*math.Pi*float64(h.Hour()-9)/24) // dollars an hour
			m := 1.0
			if mult != nil {
				m = mult(h, dept)
			}
			for k := range 4 {
				cost := money.Amount(base * m / 4 * math.Exp(0.1*tr.rng.NormFloat64()) * float64(money.Dollar))
				tr.n++
				recs = append(recs, ledger.Record{
					RequestID: fmt.Sprintf("r-%07d", tr.n), Time: h.Add(time.Duration(k*13) * time.Minute), Account: acct,
					Region: "us-east-1", RegionServed: "us-east-1", PrincipalID: "root-" + acct, ProfileARN: arn,
					ProfileID: arn[strings.LastIndex(arn, "/")+1:], ModelID: haiku, Provider: "sim", Operation: "Converse",
					InputTokens: 1000, OutputTokens: 100, Outcome: ledger.OutcomeSuccess, Priced: true,
					InputCost: cost / 2, OutputCost: cost - cost/2, Cost: cost, Tags: tags.Set{"dept": dept},
				})
				if dept == "sales" {
					total += cost
				}
			}
		}
	}
	for i := 0; i < len(recs); i += 2000 {
		if err := tr.db.AppendRecords(t.Context(), recs[i:min(i+2000, len(recs))]); err != nil {
			t.Fatal(err)
		}
	}
	return total
}

// outbox collects messages, dropping repeated keys as the notify outbox
// does.
type outbox struct {
	mu   sync.Mutex
	msgs []notify.Message
}

func (o *outbox) Enqueue(_ context.Context, m notify.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !slices.ContainsFunc(o.msgs, func(x notify.Message) bool { return x.Key == m.Key }) {
		o.msgs = append(o.msgs, m)
	}
	return nil
}

func (o *outbox) kinds() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, m := range o.msgs {
		out = append(out, m.Kind+" "+m.Target)
	}
	return out
}

type fixture struct {
	db      *sqlite.DB
	svc     *anomaly.Service
	runner  *anomaly.Runner
	out     *outbox
	now     time.Time
	tr      *traffic
	tagMon  anomaly.Monitor
	svcMon  anomaly.Monitor
	hourly  anomaly.Subscription
	summary anomaly.Subscription
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{db: openDB(t), out: &outbox{}}
	f.tr = &traffic{db: f.db, rng: rand.New(rand.NewPCG(7, 7))}
	clock := func() time.Time { return f.now }
	f.svc = anomaly.NewService(f.db, clock)
	f.runner = anomaly.NewRunner(anomaly.RunnerConfig{Store: f.db, Source: f.db, Management: acct, Notifier: f.out, Now: clock})
	f.now = t0.Add(-time.Hour)
	ctx := t.Context()
	var err error
	if f.tagMon, err = f.svc.CreateMonitor(ctx, acct, anomaly.Monitor{Name: "by dept", Type: anomaly.Dimensional, Dimension: anomaly.DimTag, TagKey: "dept"}); err != nil {
		t.Fatal(err)
	}
	if f.svcMon, err = f.svc.CreateMonitor(ctx, acct, anomaly.Monitor{Name: "bedrock", Type: anomaly.Dimensional, Dimension: anomaly.DimService}); err != nil {
		t.Fatal(err)
	}
	if f.hourly, err = f.svc.CreateSubscription(ctx, acct, anomaly.Subscription{
		Name: "pager", MonitorARNs: []string{f.tagMon.ARN}, Frequency: anomaly.Immediate,
		Subscribers: []anomaly.Subscriber{{Type: anomaly.SubscriberSNS, Address: "https://hooks.example.com/anomaly"}},
		Threshold:   anomaly.Threshold{Key: anomaly.ImpactAbsolute, Value: 1},
	}); err != nil {
		t.Fatal(err)
	}
	if f.summary, err = f.svc.CreateSubscription(ctx, acct, anomaly.Subscription{
		Name: "finance", MonitorARNs: []string{f.tagMon.ARN, f.svcMon.ARN}, Frequency: anomaly.Daily,
		Subscribers: []anomaly.Subscriber{{Type: anomaly.SubscriberEmail, Address: "finance@example.com"}},
		Threshold:   anomaly.Threshold{Key: anomaly.ImpactPercentage, Value: 50},
	}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) anomalies(t *testing.T, monitor string) []anomaly.Anomaly {
	t.Helper()
	as, err := f.db.Anomalies(t.Context(), anomaly.AnomalyFilter{MonitorARN: monitor})
	if err != nil {
		t.Fatal(err)
	}
	return as
}

func (f *fixture) evaluate(t *testing.T, at time.Time) {
	t.Helper()
	f.now = at
	if err := f.runner.Evaluate(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestRunnerSpike(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	spikeFrom, spikeTo := t0.Add(-3*time.Hour), t0
	f.tr.add(t, t0.AddDate(0, 0, -36), spikeFrom, nil)
	spent := f.tr.add(t, spikeFrom, spikeTo, func(_ time.Time, dept string) float64 {
		if dept == "sales" {
			return 6
		}
		return 1
	})

	f.evaluate(t, t0.Add(10*time.Minute))
	as := f.anomalies(t, f.tagMon.ARN)
	if len(as) != 1 {
		t.Fatalf("anomalies of the dept monitor: %+v, want one", as)
	}
	a := as[0]
	if a.DimensionValue != "sales" || !a.Start.Equal(spikeFrom) || !a.End.Equal(spikeTo.Add(-time.Hour)) || !a.Open {
		t.Errorf("anomaly %s %s..%s open=%v, want sales %s..%s open", a.DimensionValue, a.Start, a.End, a.Open, spikeFrom, spikeTo.Add(-time.Hour))
	}
	if a.Actual != spent {
		t.Errorf("actual spend %s, want the exact sum of the spike hours' records %s", a.Actual, spent)
	}
	if a.Expected <= 0 || a.Impact() < a.Actual*2/3 || a.MaxScore < 4 {
		t.Errorf("expected %s, impact %s, score %.2f: want a clear anomaly", a.Expected, a.Impact(), a.MaxScore)
	}
	var sum money.Amount
	for _, rc := range a.RootCauses {
		sum += rc.Contribution
		if rc.ProfileARN != salesARN || rc.ModelID != haiku || rc.Region != "us-east-1" || rc.PrincipalID != "root-"+acct || rc.Account != acct {
			t.Errorf("root cause %+v, want the sales profile", rc)
		}
	}
	if len(a.RootCauses) != 2 || sum != a.Impact() {
		t.Errorf("root causes %+v sum to %s, want two token classes summing to the impact %s", a.RootCauses, sum, a.Impact())
	}
	if got := f.anomalies(t, f.svcMon.ARN); len(got) != 1 || got[0].DimensionValue != anomaly.ServiceName {
		t.Errorf("service monitor: %+v, want the spike in all spend", got)
	}

	// One IMMEDIATE alert, to the webhook, carrying the SNS message keys.
	if got := f.out.kinds(); !slices.Equal(got, []string{"anomaly.alert webhook:https://hooks.example.com/anomaly"}) {
		t.Fatalf("messages %v, want one alert", got)
	}
	var msg anomaly.MessageAnomaly
	if err := json.Unmarshal(f.out.msgs[0].Data, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.AnomalyID != a.ID || msg.DimensionalValue != "sales" || msg.MonitorArn != f.tagMon.ARN || len(msg.RootCauses) != 2 {
		t.Errorf("alert data %+v", msg)
	}

	// Evaluating again changes nothing and alerts nobody again.
	f.evaluate(t, t0.Add(20*time.Minute))
	if got := f.anomalies(t, f.tagMon.ARN); len(got) != 1 || got[0].ID != a.ID || len(f.out.kinds()) != 1 {
		t.Errorf("after a second evaluation: %d anomalies, %d messages", len(got), len(f.out.kinds()))
	}

	// Normal spend again: the anomaly closes where it ended.
	f.tr.add(t, t0, t0.Add(4*time.Hour), nil)
	f.evaluate(t, t0.Add(4*time.Hour+time.Minute))
	got := f.anomalies(t, f.tagMon.ARN)
	if len(got) != 1 || got[0].Open || !got[0].End.Equal(a.End) || got[0].Actual != spent {
		t.Errorf("after normal hours: %+v, want the anomaly closed as it was", got)
	}
	evaluated, _ := f.svc.Monitors(ctx, acct, []string{f.tagMon.ARN})
	if !evaluated[0].LastEvaluated.Equal(t0.Add(4*time.Hour)) || evaluated[0].ValueCount != 2 {
		t.Errorf("monitor evaluated to %s with %d values", evaluated[0].LastEvaluated, evaluated[0].ValueCount)
	}

	// The daily summary goes out after midnight, once.
	f.tr.add(t, t0.Add(4*time.Hour), t0.Add(10*time.Hour), nil)
	f.evaluate(t, t0.Truncate(24*time.Hour).Add(24*time.Hour+5*time.Minute))
	f.evaluate(t, t0.Truncate(24*time.Hour).Add(24*time.Hour+10*time.Minute))
	if got := f.out.kinds(); len(got) != 2 || got[1] != "anomaly.summary email:finance@example.com" {
		t.Errorf("messages %v, want the alert and one daily summary", got)
	}

	// Feedback: recorded and kept by later evaluations.
	if err := f.svc.ProvideFeedback(ctx, acct, a.ID, anomaly.FeedbackYes); err != nil {
		t.Fatal(err)
	}
	f.evaluate(t, t0.Truncate(24*time.Hour).Add(24*time.Hour+15*time.Minute))
	if got := f.anomalies(t, f.tagMon.ARN); got[0].Feedback != anomaly.FeedbackYes {
		t.Errorf("feedback %q after an evaluation, want YES", got[0].Feedback)
	}
}

// The running hour is judged from its spend so far.
func TestRunnerPartialHour(t *testing.T) {
	f := newFixture(t)
	f.tr.add(t, t0.AddDate(0, 0, -36), t0, nil)
	f.evaluate(t, t0.Add(time.Minute))
	if got := f.anomalies(t, ""); len(got) != 0 {
		t.Fatalf("anomalies in normal spend: %+v", got)
	}
	// Half an hour at five times the pace.
	var recs []ledger.Record
	for k := range 20 {
		recs = append(recs, ledger.Record{
			RequestID: fmt.Sprintf("burst-%d", k), Time: t0.Add(time.Duration(k) * time.Minute), Account: acct,
			RegionServed: "us-east-1", PrincipalID: "root-" + acct, ProfileARN: salesARN, ModelID: haiku, Operation: "Converse",
			Outcome: ledger.OutcomeSuccess, Priced: true, OutputCost: money.Dollar / 4, Cost: money.Dollar / 4,
			Tags: tags.Set{"dept": "sales"},
		})
	}
	if err := f.db.AppendRecords(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	f.evaluate(t, t0.Add(30*time.Minute))
	as := f.anomalies(t, f.tagMon.ARN)
	if len(as) != 1 || !as[0].Start.Equal(t0) || !as[0].End.Equal(t0) || !as[0].Open || as[0].Actual != 5*money.Dollar {
		t.Fatalf("anomalies %+v, want the running hour, open, with its $5 so far", as)
	}
	if len(f.out.kinds()) != 1 {
		t.Errorf("messages %v, want the IMMEDIATE alert", f.out.kinds())
	}
	// The hour completes: the anomaly keeps its hour and gains the rest.
	f.tr.add(t, t0, t0.Add(time.Hour), nil)
	f.evaluate(t, t0.Add(time.Hour+time.Minute))
	as = f.anomalies(t, f.tagMon.ARN)
	if len(as) != 1 || !as[0].Start.Equal(t0) || as[0].Actual <= 5*money.Dollar {
		t.Errorf("after the hour: %+v", as)
	}
}

// Feedback that an anomaly was planned makes its hours normal history.
func TestRunnerPlannedActivity(t *testing.T) {
	f := newFixture(t)
	f.tr.add(t, t0.AddDate(0, 0, -36), t0.Add(-2*time.Hour), nil)
	double := func(_ time.Time, dept string) float64 {
		if dept == "sales" {
			return 5
		}
		return 1
	}
	f.tr.add(t, t0.Add(-2*time.Hour), t0, double)
	f.evaluate(t, t0.Add(time.Minute))
	as := f.anomalies(t, f.tagMon.ARN)
	if len(as) != 1 {
		t.Fatalf("anomalies %+v, want one", as)
	}
	if err := f.svc.ProvideFeedback(t.Context(), acct, as[0].ID, anomaly.FeedbackPlanned); err != nil {
		t.Fatal(err)
	}
	// The planned level goes on: learnt from, not a new anomaly per hour,
	// and no alert for the planned one.
	f.out.msgs = nil
	f.tr.add(t, t0, t0.Add(time.Hour), double)
	f.evaluate(t, t0.Add(time.Hour+time.Minute))
	as = f.anomalies(t, f.tagMon.ARN)
	if len(as) != 1 || as[0].Feedback != anomaly.FeedbackPlanned || as[0].Open {
		t.Errorf("after feedback: %+v, want the planned anomaly alone, closed", as)
	}
	for _, m := range f.out.msgs {
		if strings.Contains(m.Key, as[0].ID) {
			t.Errorf("alert on a planned anomaly: %s", m.Key)
		}
	}
}

// loopStore is a real store that counts the runner's reads of monitors
// and notes the ends of the evaluations it records.
type loopStore struct {
	*sqlite.DB
	mu        sync.Mutex
	calls     int
	evaluated []time.Time
}

func (s *loopStore) AnomalyMonitors(ctx context.Context, account string) ([]anomaly.Monitor, error) {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	return s.DB.AnomalyMonitors(ctx, account)
}

func (s *loopStore) SetAnomalyMonitorEvaluated(ctx context.Context, arn string, end time.Time, values int) error {
	s.mu.Lock()
	s.evaluated = append(s.evaluated, end)
	s.mu.Unlock()
	return s.DB.SetAnomalyMonitorEvaluated(ctx, arn, end, values)
}

// Run evaluates at once, then every five minutes; complete hours at each
// hour boundary.
func TestRunnerLoop(t *testing.T) {
	// Opened outside the bubble: the store's checkpoint ticker runs on
	// real time, not on the bubble's two fake hours.
	st := &loopStore{DB: sqlitetest.Open(t)} // one monitor, an empty ledger
	synctest.Test(t, func(t *testing.T) {
		if _, err := anomaly.NewService(st.DB, nil).CreateMonitor(t.Context(), acct, anomaly.Monitor{Name: "bedrock", Type: anomaly.Dimensional, Dimension: anomaly.DimService}); err != nil {
			t.Fatal(err)
		}
		r := anomaly.NewRunner(anomaly.RunnerConfig{Store: st, Source: st.DB})
		ctx, cancel := context.WithCancel(t.Context())
		start := time.Now()
		done := make(chan struct{})
		go func() { defer close(done); r.Run(ctx) }()
		time.Sleep(time.Until(start.Truncate(time.Hour).Add(2*time.Hour + 30*time.Second)))
		cancel()
		<-done
		st.mu.Lock()
		defer st.mu.Unlock()
		// At start, then at 00:05:01 ... 02:00:01: 24 more.
		if st.calls != 25 {
			t.Errorf("%d evaluations in two hours, want 25", st.calls)
		}
		h := start.Truncate(time.Hour)
		want := []time.Time{h, h.Add(time.Hour), h.Add(2 * time.Hour)}
		if !slices.EqualFunc(st.evaluated, want, time.Time.Equal) {
			t.Errorf("full evaluations up to %v, want %v", st.evaluated, want)
		}
	})
}
