package alarm_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/alarm"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
)

const acct = "111111111111"

// source serves datapoints from a table: value per minute start.
type source struct {
	mu   sync.Mutex
	vals map[time.Time]float64
}

func (s *source) set(at time.Time, v float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vals[at] = v
}

func (s *source) Datapoints(_ context.Context, q alarm.Query) ([]alarm.Datapoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]alarm.Datapoint, q.Count)
	for i := range out {
		start := q.Start.Add(time.Duration(i) * q.Period)
		v, ok := s.vals[start]
		out[i] = alarm.Datapoint{Start: start, Value: v, Samples: 1, Missing: !ok}
	}
	return out, nil
}

type sent struct{ key, target, subject, body string }

type outbox struct {
	mu   sync.Mutex
	msgs []sent
}

func (o *outbox) Enqueue(_ context.Context, key, target, subject, body string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs = append(o.msgs, sent{key, target, subject, body})
	return nil
}

func (o *outbox) take() []sent {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := o.msgs
	o.msgs = nil
	return m
}

var t0 = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

type fixture struct {
	db   *sqlite.DB
	src  *source
	box  *outbox
	now  time.Time
	svc  *alarm.Service
	path string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{src: &source{vals: map[time.Time]float64{}}, box: &outbox{}, now: t0, path: filepath.Join(t.TempDir(), "tollgate.db")}
	db, err := sqlite.Open(t.Context(), f.path, sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f.db = db
	f.svc = f.open(t)
	return f
}

func (f *fixture) open(t *testing.T) *alarm.Service {
	t.Helper()
	svc, err := alarm.NewService(t.Context(), alarm.Config{Store: f.db, Source: f.src, Notifier: f.box, Region: "us-east-1",
		Now: func() time.Time { return f.now }, Normalize: func(s string) string {
			return s[strings.LastIndex(s, "/")+1:] // enough of ARN handling for the test
		}})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func limitAlarm(name string, actions ...string) alarm.Alarm {
	return alarm.Alarm{Account: acct, Name: name, Namespace: "AWS/Bedrock", MetricName: "Invocations",
		Dimensions: []alarm.Dimension{{Name: "ModelId", Value: "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/aaaaaaaaaaaa"}},
		Statistic:  "Sum", Period: time.Minute, EvaluationPeriods: 1, Threshold: 3, ComparisonOperator: alarm.GreaterThanThreshold,
		TreatMissingData: alarm.TreatNotBreaching, ActionsEnabled: true, AlarmActions: actions, OKActions: []string{"https://hooks.example/ok"}}
}

func (f *fixture) state(t *testing.T, name string) alarm.Alarm {
	t.Helper()
	got := f.svc.List(acct, alarm.Filter{Names: []string{name}})
	if len(got) != 1 {
		t.Fatalf("alarm %s not found", name)
	}
	return got[0]
}

// evalAt evaluates at the start of minute m after t0 (the window then
// ends at m, so data of minute m-1 is the newest).
func (f *fixture) evalAt(t *testing.T, m int) {
	t.Helper()
	f.now = t0.Add(time.Duration(m)*time.Minute + 5*time.Second)
	if err := f.svc.Evaluate(t.Context(), f.now); err != nil {
		t.Fatal(err)
	}
}

func TestServiceTransitionsActionsAndHistory(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if err := f.svc.Put(ctx, limitAlarm("claims-rpm", "https://hooks.example/alarm", "tollgate:throttle")); err != nil {
		t.Fatal(err)
	}
	if a := f.state(t, "claims-rpm"); a.State != alarm.StateInsufficientData {
		t.Fatalf("new alarm in %s, want INSUFFICIENT_DATA", a.State)
	}
	gate := f.svc.Gate()

	// Minute 0 has 5 invocations: evaluated at minute 1, the alarm fires.
	f.src.set(t0, 5)
	f.evalAt(t, 1)
	a := f.state(t, "claims-rpm")
	if a.State != alarm.StateAlarm {
		t.Fatalf("after 5 > 3: %s (%s), want ALARM", a.State, a.StateReason)
	}
	if !strings.Contains(a.StateReason, "1 out of the last 1 datapoints [5.0 (04/05/26 09:00:00)] was greater than the threshold (3.0)") {
		t.Errorf("reason %q", a.StateReason)
	}
	msgs := f.box.take()
	if len(msgs) != 1 || msgs[0].target != "https://hooks.example/alarm" {
		t.Fatalf("webhooks after ALARM = %+v, want one to the alarm hook", msgs)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(msgs[0].body), &body); err != nil {
		t.Fatal(err)
	}
	if body["NewStateValue"] != "ALARM" || body["OldStateValue"] != "INSUFFICIENT_DATA" || body["AlarmName"] != "claims-rpm" {
		t.Errorf("webhook body %v", body)
	}
	if err := gate.Check(acct, "aaaaaaaaaaaa", f.now); !errkind.Is(err, errkind.Throttled) {
		t.Errorf("gate for the watched profile = %v, want Throttled", err)
	}
	if err := gate.Check(acct, "bbbbbbbbbbbb", f.now); err != nil {
		t.Errorf("gate for another profile = %v, want nil", err)
	}

	// The same minute again changes nothing (evaluation only moves on).
	f.src.set(t0, 0)
	f.evalAt(t, 1)
	if a := f.state(t, "claims-rpm"); a.State != alarm.StateAlarm {
		t.Errorf("re-evaluating the same minute moved the alarm to %s", a.State)
	}
	// Minute 1 has no data: notBreaching, so OK; the OK hook fires and the
	// throttle lifts.
	f.evalAt(t, 2)
	if a := f.state(t, "claims-rpm"); a.State != alarm.StateOK {
		t.Fatalf("after a quiet minute: %s, want OK", a.State)
	}
	if msgs := f.box.take(); len(msgs) != 1 || msgs[0].target != "https://hooks.example/ok" {
		t.Errorf("webhooks after OK = %+v", msgs)
	}
	if err := gate.Check(acct, "aaaaaaaaaaaa", f.now); err != nil {
		t.Errorf("gate after OK = %v, want nil", err)
	}

	// SetAlarmState runs the actions and lasts until the next evaluation.
	if err := f.svc.SetState(ctx, acct, "claims-rpm", alarm.StateAlarm, "testing", `{"by":"test"}`); err != nil {
		t.Fatal(err)
	}
	if msgs := f.box.take(); len(msgs) != 1 {
		t.Errorf("webhooks after SetAlarmState = %d, want 1", len(msgs))
	}
	f.evalAt(t, 3)
	if a := f.state(t, "claims-rpm"); a.State != alarm.StateOK {
		t.Errorf("SetAlarmState outlived the next evaluation: %s", a.State)
	}
	f.box.take()

	// With actions disabled, transitions run nothing and the gate is open.
	if err := f.svc.SetActionsEnabled(ctx, acct, []string{"claims-rpm", "no-such-alarm"}, false); err != nil {
		t.Fatal(err)
	}
	f.src.set(t0.Add(3*time.Minute), 9)
	f.evalAt(t, 4)
	if a := f.state(t, "claims-rpm"); a.State != alarm.StateAlarm || a.ActionsEnabled {
		t.Fatalf("state %s, actions enabled %v", a.State, a.ActionsEnabled)
	}
	if msgs := f.box.take(); len(msgs) != 0 {
		t.Errorf("webhooks with actions disabled: %+v", msgs)
	}
	if err := gate.Check(acct, "aaaaaaaaaaaa", f.now); err != nil {
		t.Errorf("gate with actions disabled = %v", err)
	}
	// Enabling them applies the throttle of the state the alarm is in.
	if err := f.svc.SetActionsEnabled(ctx, acct, []string{"claims-rpm"}, true); err != nil {
		t.Fatal(err)
	}
	if err := gate.Check(acct, "aaaaaaaaaaaa", f.now); !errkind.Is(err, errkind.Throttled) {
		t.Errorf("gate after enabling actions in ALARM = %v, want Throttled", err)
	}

	hist, err := f.svc.History(ctx, alarm.HistoryQuery{Account: acct, AlarmName: "claims-rpm"})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, h := range hist {
		kinds = append(kinds, h.Type+": "+h.Summary)
	}
	want := []string{
		`ConfigurationUpdate: Alarm "claims-rpm" created`,
		"StateUpdate: Alarm updated from INSUFFICIENT_DATA to ALARM",
		"Action: Successfully queued action https://hooks.example/alarm",
		"Action: Successfully executed action tollgate:throttle",
		"StateUpdate: Alarm updated from ALARM to OK",
		"Action: Successfully queued action https://hooks.example/ok",
		"StateUpdate: Alarm updated from OK to ALARM",
		"Action: Successfully queued action https://hooks.example/alarm",
		"Action: Successfully executed action tollgate:throttle",
		"StateUpdate: Alarm updated from ALARM to OK",
		"Action: Successfully queued action https://hooks.example/ok",
		"ConfigurationUpdate: Alarm actions disabled",
		"StateUpdate: Alarm updated from OK to ALARM",
		"ConfigurationUpdate: Alarm actions enabled",
	}
	if strings.Join(kinds, "\n") != strings.Join(want, "\n") {
		t.Errorf("history:\n%s\nwant:\n%s", strings.Join(kinds, "\n"), strings.Join(want, "\n"))
	}

	// A restart keeps alarms, states and the gate.
	f.svc = f.open(t)
	if a := f.state(t, "claims-rpm"); a.State != alarm.StateAlarm || !a.ActionsEnabled {
		t.Errorf("after reload: %s, actions %v", a.State, a.ActionsEnabled)
	}
	if err := f.svc.Gate().Check(acct, "aaaaaaaaaaaa", f.now); !errkind.Is(err, errkind.Throttled) {
		t.Errorf("gate after reload = %v, want Throttled", err)
	}
	if err := f.svc.Delete(ctx, acct, []string{"claims-rpm", "missing"}); !errkind.Is(err, errkind.NotFound) {
		t.Errorf("Delete with a missing name = %v, want NotFound", err)
	}
	if err := f.svc.Delete(ctx, acct, []string{"claims-rpm"}); err != nil {
		t.Fatal(err)
	}
	if got := f.svc.List(acct, alarm.Filter{}); len(got) != 0 {
		t.Errorf("after Delete: %d alarms", len(got))
	}
	if err := f.svc.Gate().Check(acct, "aaaaaaaaaaaa", f.now); err != nil {
		t.Errorf("gate after Delete = %v", err)
	}
}

func TestGateActions(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	a := limitAlarm("limit", "tollgate:throttle:2")
	b := limitAlarm("kill", "tollgate:disable")
	b.Dimensions = []alarm.Dimension{{Name: "ModelId", Value: "cccccccccccc"}}
	c := limitAlarm("account-wide", "tollgate:disable")
	c.Account, c.Dimensions = "222222222222", nil
	for _, x := range []alarm.Alarm{a, b, c} {
		if err := f.svc.Put(ctx, x); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.SetState(ctx, x.Account, x.Name, alarm.StateAlarm, "test", ""); err != nil {
			t.Fatal(err)
		}
	}
	g := f.svc.Gate()
	at := t0.Add(10 * time.Second)
	for i, want := range []errkind.Kind{-1, -1, errkind.Throttled} {
		err := g.Check(acct, "aaaaaaaaaaaa", at)
		if (want == -1) != (err == nil) || (err != nil && !errkind.Is(err, want)) {
			t.Errorf("call %d through a 2-a-minute throttle = %v", i+1, err)
		}
	}
	if err := g.Check(acct, "aaaaaaaaaaaa", at.Add(time.Minute)); err != nil {
		t.Errorf("the next minute = %v, want allowed", err)
	}
	if err := g.Check(acct, "cccccccccccc", at); !errkind.Is(err, errkind.Denied) {
		t.Errorf("disabled profile = %v, want Denied", err)
	}
	if err := g.Check("222222222222", "anything", at); !errkind.Is(err, errkind.Denied) {
		t.Errorf("account-wide disable = %v, want Denied", err)
	}
	if err := g.Check("333333333333", "cccccccccccc", at); err != nil {
		t.Errorf("another account = %v", err)
	}
}

func TestPutValidation(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name   string
		mutate func(*alarm.Alarm)
		code   string
	}{
		{"no name", func(a *alarm.Alarm) { a.Name = "" }, "MissingRequiredParameterException"},
		{"non-ascii name", func(a *alarm.Alarm) { a.Name = "alarme-é" }, ""},
		{"no statistic", func(a *alarm.Alarm) { a.Statistic = "" }, "MissingRequiredParameterException"},
		{"both statistics", func(a *alarm.Alarm) { a.ExtendedStatistic = "p99" }, "InvalidParameterCombinationException"},
		{"bad statistic", func(a *alarm.Alarm) { a.Statistic = "Median" }, ""},
		{"bad percentile", func(a *alarm.Alarm) { a.Statistic, a.ExtendedStatistic = "", "tm99" }, ""},
		{"high resolution", func(a *alarm.Alarm) { a.Period = 10 * time.Second }, ""},
		{"odd period", func(a *alarm.Alarm) { a.Period = 90 * time.Second }, ""},
		{"over a day", func(a *alarm.Alarm) { a.EvaluationPeriods = 1441 }, ""},
		{"over a week", func(a *alarm.Alarm) { a.Period, a.EvaluationPeriods = time.Hour, 169 }, ""},
		{"M above N", func(a *alarm.Alarm) { a.DatapointsToAlarm = 2 }, ""},
		{"anomaly operator", func(a *alarm.Alarm) { a.ComparisonOperator = "LessThanLowerThreshold" }, ""},
		{"bad treat", func(a *alarm.Alarm) { a.TreatMissingData = "zero" }, ""},
		{"bad action", func(a *alarm.Alarm) { a.AlarmActions = []string{"mailto:ops@example.com"} }, ""},
		{"bad throttle", func(a *alarm.Alarm) { a.AlarmActions = []string{"tollgate:throttle:-1"} }, ""},
		{"six actions", func(a *alarm.Alarm) { a.OKActions = []string{"arn:1", "arn:2", "arn:3", "arn:4", "arn:5", "arn:6"} }, ""},
		{"NUL in the description", func(a *alarm.Alarm) { a.Description = "a\x00b" }, ""},
		{"NUL in a dimension", func(a *alarm.Alarm) { a.Dimensions[0].Value = "m\x00" }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := limitAlarm("x")
			tc.mutate(&a)
			err := f.svc.Put(t.Context(), a)
			if !errkind.Is(err, errkind.Invalid) {
				t.Fatalf("Put = %v, want Invalid", err)
			}
			if code := errkind.As(err).Code; code != tc.code {
				t.Errorf("code %q, want %q", code, tc.code)
			}
		})
	}
	ok := limitAlarm("hourly", "arn:aws:sns:us-east-1:111111111111:ops")
	ok.Period, ok.EvaluationPeriods, ok.Statistic, ok.ExtendedStatistic = time.Hour, 168, "", "p99.9"
	if err := f.svc.Put(t.Context(), ok); err != nil {
		t.Errorf("a week of hourly p99.9 with an SNS action: %v", err)
	}
}
