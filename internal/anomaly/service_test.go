package anomaly_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/anomaly"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/money"
)

func TestCreateMonitorValidation(t *testing.T) {
	svc := anomaly.NewService(openDB(t), func() time.Time { return t0 })
	ctx := t.Context()
	tenValues := strings.Split("a,b,c,d,e,f,g,h,i,j", ",")
	for _, tc := range []struct {
		name string
		m    anomaly.Monitor
		kind errkind.Kind // 0 with ok
		ok   bool
	}{
		{"service", anomaly.Monitor{Name: "s", Type: anomaly.Dimensional, Dimension: anomaly.DimService}, 0, true},
		{"second service", anomaly.Monitor{Name: "s2", Type: anomaly.Dimensional, Dimension: anomaly.DimService}, errkind.Conflict, false},
		{"linked accounts", anomaly.Monitor{Name: "a", Type: anomaly.Dimensional, Dimension: anomaly.DimLinkedAccount}, 0, true},
		{"tag", anomaly.Monitor{Name: "t", Type: anomaly.Dimensional, Dimension: anomaly.DimTag, TagKey: "dept"}, 0, true},
		{"tag without key", anomaly.Monitor{Name: "t", Type: anomaly.Dimensional, Dimension: anomaly.DimTag}, errkind.Invalid, false},
		{"dimensional tag with values", anomaly.Monitor{Name: "t", Type: anomaly.Dimensional, Dimension: anomaly.DimTag, TagKey: "dept", Values: []string{"x"}}, errkind.Invalid, false},
		{"service with a key", anomaly.Monitor{Name: "t", Type: anomaly.Dimensional, Dimension: anomaly.DimService, TagKey: "dept"}, errkind.Invalid, false},
		{"cost category", anomaly.Monitor{Name: "c", Type: anomaly.Dimensional, Dimension: "COST_CATEGORY"}, errkind.Invalid, false},
		{"no dimension", anomaly.Monitor{Name: "c", Type: anomaly.Dimensional}, errkind.Invalid, false},
		{"no name", anomaly.Monitor{Type: anomaly.Dimensional, Dimension: anomaly.DimLinkedAccount}, errkind.Invalid, false},
		{"bad type", anomaly.Monitor{Name: "x", Type: "OTHER"}, errkind.Invalid, false},
		{"custom ten values", anomaly.Monitor{Name: "c", Type: anomaly.Custom, Dimension: anomaly.DimTag, TagKey: "app", Values: tenValues}, 0, true},
		{"custom eleven values", anomaly.Monitor{Name: "c", Type: anomaly.Custom, Dimension: anomaly.DimTag, TagKey: "app", Values: append(tenValues, "k")}, errkind.Invalid, false},
		{"custom no values", anomaly.Monitor{Name: "c", Type: anomaly.Custom, Dimension: anomaly.DimTag, TagKey: "app"}, errkind.Invalid, false},
		{"custom reserved key", anomaly.Monitor{Name: "c", Type: anomaly.Custom, Dimension: anomaly.DimTag, TagKey: "aws:x", Values: []string{"v"}}, errkind.Invalid, false},
		{"custom accounts", anomaly.Monitor{Name: "c", Type: anomaly.Custom, Dimension: anomaly.DimLinkedAccount, Values: []string{acct}}, 0, true},
		{"custom bad account", anomaly.Monitor{Name: "c", Type: anomaly.Custom, Dimension: anomaly.DimLinkedAccount, Values: []string{"12"}}, errkind.Invalid, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := svc.CreateMonitor(ctx, acct, tc.m)
			switch {
			case tc.ok && err != nil:
				t.Fatalf("CreateMonitor: %v", err)
			case tc.ok:
				if !strings.HasPrefix(m.ARN, "arn:aws:ce::"+acct+":anomalymonitor/") || m.Account != acct || !m.CreatedAt.Equal(t0) {
					t.Errorf("created %+v", m)
				}
			case !errkind.Is(err, tc.kind):
				t.Errorf("CreateMonitor = %v, want kind %v", err, tc.kind)
			}
		})
	}
	if _, err := svc.Monitors(ctx, acct, []string{anomaly.MonitorARN(acct, "nope")}); !errors.Is(err, anomaly.ErrUnknownMonitor) {
		t.Errorf("Monitors with an unknown ARN = %v, want ErrUnknownMonitor", err)
	}
	if err := svc.RenameMonitor(ctx, "999999999999", anomaly.MonitorARN(acct, "nope"), "x"); !errors.Is(err, anomaly.ErrUnknownMonitor) {
		t.Errorf("RenameMonitor of an unknown monitor = %v", err)
	}
}

func TestCreateSubscriptionValidation(t *testing.T) {
	svc := anomaly.NewService(openDB(t), func() time.Time { return t0 })
	ctx := t.Context()
	m, err := svc.CreateMonitor(ctx, acct, anomaly.Monitor{Name: "s", Type: anomaly.Dimensional, Dimension: anomaly.DimService})
	if err != nil {
		t.Fatal(err)
	}
	email := []anomaly.Subscriber{{Type: anomaly.SubscriberEmail, Address: "a@example.com"}}
	sns := []anomaly.Subscriber{{Type: anomaly.SubscriberSNS, Address: "https://hooks.example.com/x"}}
	abs := anomaly.Threshold{Key: anomaly.ImpactAbsolute, Value: 100}
	var eleven []anomaly.Subscriber
	for i := range 11 {
		eleven = append(eleven, anomaly.Subscriber{Type: anomaly.SubscriberEmail, Address: strings.Repeat("x", i+1) + "@example.com"})
	}
	deep := abs
	for range 6 {
		deep = anomaly.Threshold{And: []anomaly.Threshold{deep}}
	}
	for _, tc := range []struct {
		name string
		s    anomaly.Subscription
		err  func(error) bool
	}{
		{"daily email", anomaly.Subscription{Name: "d", MonitorARNs: []string{m.ARN}, Frequency: anomaly.Daily, Subscribers: email, Threshold: abs}, nil},
		{"immediate webhook", anomaly.Subscription{Name: "i", MonitorARNs: []string{m.ARN}, Frequency: anomaly.Immediate, Subscribers: sns,
			Threshold: anomaly.Threshold{Or: []anomaly.Threshold{abs, {Key: anomaly.ImpactPercentage, Value: 40}}}}, nil},
		{"unknown monitor", anomaly.Subscription{Name: "d", MonitorARNs: []string{anomaly.MonitorARN(acct, "x")}, Frequency: anomaly.Daily, Subscribers: email, Threshold: abs},
			func(err error) bool { return errors.Is(err, anomaly.ErrUnknownMonitor) }},
		{"no monitors", anomaly.Subscription{Name: "d", Frequency: anomaly.Daily, Subscribers: email, Threshold: abs}, invalidErr},
		{"immediate email", anomaly.Subscription{Name: "d", MonitorARNs: []string{m.ARN}, Frequency: anomaly.Immediate, Subscribers: email, Threshold: abs}, invalidErr},
		{"daily sns", anomaly.Subscription{Name: "d", MonitorARNs: []string{m.ARN}, Frequency: anomaly.Daily, Subscribers: sns, Threshold: abs}, invalidErr},
		{"sns topic arn", anomaly.Subscription{Name: "d", MonitorARNs: []string{m.ARN}, Frequency: anomaly.Immediate,
			Subscribers: []anomaly.Subscriber{{Type: anomaly.SubscriberSNS, Address: "arn:aws:sns:us-east-1:123456789012:t"}}, Threshold: abs}, invalidErr},
		{"bad pagerduty key", anomaly.Subscription{Name: "d", MonitorARNs: []string{m.ARN}, Frequency: anomaly.Immediate,
			Subscribers: []anomaly.Subscriber{{Type: anomaly.SubscriberSNS, Address: "pagerduty:no spaces"}}, Threshold: abs}, invalidErr},
		{"bad email", anomaly.Subscription{Name: "d", MonitorARNs: []string{m.ARN}, Frequency: anomaly.Weekly,
			Subscribers: []anomaly.Subscriber{{Type: anomaly.SubscriberEmail, Address: "not an address"}}, Threshold: abs}, invalidErr},
		{"eleven emails", anomaly.Subscription{Name: "d", MonitorARNs: []string{m.ARN}, Frequency: anomaly.Weekly, Subscribers: eleven, Threshold: abs},
			func(err error) bool { return errkind.Is(err, errkind.QuotaExceeded) }},
		{"bad frequency", anomaly.Subscription{Name: "d", MonitorARNs: []string{m.ARN}, Frequency: "HOURLY", Subscribers: email, Threshold: abs}, invalidErr},
		{"bad threshold key", anomaly.Subscription{Name: "d", MonitorARNs: []string{m.ARN}, Frequency: anomaly.Daily, Subscribers: email,
			Threshold: anomaly.Threshold{Key: "COST", Value: 1}}, invalidErr},
		{"negative threshold", anomaly.Subscription{Name: "d", MonitorARNs: []string{m.ARN}, Frequency: anomaly.Daily, Subscribers: email,
			Threshold: anomaly.Threshold{Key: anomaly.ImpactAbsolute, Value: -1}}, invalidErr},
		{"too deep", anomaly.Subscription{Name: "d", MonitorARNs: []string{m.ARN}, Frequency: anomaly.Daily, Subscribers: email, Threshold: deep}, invalidErr},
		{"no threshold", anomaly.Subscription{Name: "d", MonitorARNs: []string{m.ARN}, Frequency: anomaly.Daily, Subscribers: email}, invalidErr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.CreateSubscription(ctx, acct, tc.s)
			if tc.err == nil && err != nil || tc.err != nil && !tc.err(err) {
				t.Errorf("CreateSubscription = %v", err)
			}
		})
	}
	paged, err := svc.CreateSubscription(ctx, acct, anomaly.Subscription{Name: "p", MonitorARNs: []string{m.ARN}, Frequency: anomaly.Immediate,
		Subscribers: []anomaly.Subscriber{{Type: anomaly.SubscriberSNS, Address: "pagerduty:R0UTINGkey_123"}}, Threshold: abs})
	if err != nil {
		t.Fatalf("CreateSubscription to PagerDuty = %v", err)
	}
	if err := svc.DeleteSubscription(ctx, acct, paged.ARN); err != nil {
		t.Fatal(err)
	}
	subs, err := svc.Subscriptions(ctx, acct, nil, m.ARN)
	if err != nil || len(subs) != 2 {
		t.Fatalf("Subscriptions of the monitor: %v, %v", subs, err)
	}
	if subs[0].Name != "d" {
		subs[0], subs[1] = subs[1], subs[0]
	}
	weekly := anomaly.Weekly
	name := "renamed"
	if err := svc.UpdateSubscription(ctx, acct, subs[0].ARN, anomaly.SubscriptionUpdate{Name: &name, Frequency: &weekly}); err != nil {
		t.Fatal(err)
	}
	if err := svc.UpdateSubscription(ctx, acct, subs[1].ARN, anomaly.SubscriptionUpdate{Frequency: &weekly}); !errkind.Is(err, errkind.Invalid) {
		t.Errorf("WEEKLY to a webhook = %v, want Invalid", err)
	}
	if _, err := svc.Subscriptions(ctx, acct, []string{anomaly.SubscriptionARN(acct, "x")}, ""); !errors.Is(err, anomaly.ErrUnknownSubscription) {
		t.Errorf("unknown subscription = %v", err)
	}
	if err := svc.DeleteSubscription(ctx, "999999999999", subs[0].ARN); !errors.Is(err, anomaly.ErrUnknownSubscription) {
		t.Errorf("delete through another account = %v", err)
	}
}

func invalidErr(err error) bool { return errkind.Is(err, errkind.Invalid) }

func TestThresholdMatch(t *testing.T) {
	a := anomaly.Anomaly{Actual: 150 * money.Dollar, Expected: 100 * money.Dollar} // impact $50, 50%
	noExpected := anomaly.Anomaly{Actual: 10 * money.Dollar}
	abs := func(v float64) anomaly.Threshold { return anomaly.Threshold{Key: anomaly.ImpactAbsolute, Value: v} }
	pct := func(v float64) anomaly.Threshold { return anomaly.Threshold{Key: anomaly.ImpactPercentage, Value: v} }
	for _, tc := range []struct {
		name string
		t    anomaly.Threshold
		a    anomaly.Anomaly
		want bool
	}{
		{"absolute met", abs(50), a, true},
		{"absolute not met", abs(50.01), a, false},
		{"percentage met", pct(50), a, true},
		{"percentage not met", pct(51), a, false},
		{"and", anomaly.Threshold{And: []anomaly.Threshold{abs(10), pct(60)}}, a, false},
		{"or", anomaly.Threshold{Or: []anomaly.Threshold{abs(100), pct(40)}}, a, true},
		{"percentage without expected spend", pct(1000), noExpected, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.t.Match(tc.a); got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
		})
	}
	if p, ok := a.ImpactPercentage(); !ok || p != 50 {
		t.Errorf("ImpactPercentage = %v, %v", p, ok)
	}
	if _, ok := noExpected.ImpactPercentage(); ok {
		t.Error("a percentage without expected spend")
	}
}

func TestAnomalyQueries(t *testing.T) {
	db := openDB(t)
	svc := anomaly.NewService(db, func() time.Time { return t0 })
	ctx := t.Context()
	m, err := svc.CreateMonitor(ctx, acct, anomaly.Monitor{Name: "s", Type: anomaly.Dimensional, Dimension: anomaly.DimService})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(id string, end time.Time, impact money.Amount) anomaly.Anomaly {
		return anomaly.Anomaly{ID: id, Account: acct, MonitorARN: m.ARN, DimensionValue: anomaly.ServiceName, Start: end, End: end,
			Actual: 10*money.Dollar + impact, Expected: 10 * money.Dollar, DetectedAt: t0, UpdatedAt: t0}
	}
	if err := db.PutAnomalies(ctx, []anomaly.Anomaly{
		mk("a", t0.Add(-48*time.Hour), 5*money.Dollar), mk("b", t0.Add(-2*time.Hour), 50*money.Dollar), mk("c", t0, 500*money.Dollar),
	}); err != nil {
		t.Fatal(err)
	}
	if err := svc.ProvideFeedback(ctx, acct, "b", anomaly.FeedbackNo); err != nil {
		t.Fatal(err)
	}
	ids := func(as []anomaly.Anomaly) string {
		var s []string
		for _, a := range as {
			s = append(s, a.ID)
		}
		return strings.Join(s, ",")
	}
	for _, tc := range []struct {
		name string
		q    anomaly.AnomalyQuery
		want string
	}{
		{"all", anomaly.AnomalyQuery{}, "a,b,c"},
		{"since yesterday", anomaly.AnomalyQuery{From: t0.Add(-24 * time.Hour)}, "b,c"},
		{"before now", anomaly.AnomalyQuery{To: t0}, "a,b"},
		{"feedback", anomaly.AnomalyQuery{Feedback: anomaly.FeedbackNo}, "b"},
		{"impact >= 50", anomaly.AnomalyQuery{Impact: &anomaly.ImpactFilter{Operator: anomaly.OpGreaterThanOrEqual, Start: 50}}, "b,c"},
		{"impact > 50", anomaly.AnomalyQuery{Impact: &anomaly.ImpactFilter{Operator: anomaly.OpGreaterThan, Start: 50}}, "c"},
		{"impact = 5", anomaly.AnomalyQuery{Impact: &anomaly.ImpactFilter{Operator: anomaly.OpEqual, Start: 5}}, "a"},
		{"impact between", anomaly.AnomalyQuery{Impact: &anomaly.ImpactFilter{Operator: anomaly.OpBetween, Start: 5, End: 50}}, "a,b"},
		{"impact < 50", anomaly.AnomalyQuery{Impact: &anomaly.ImpactFilter{Operator: anomaly.OpLessThan, Start: 50}}, "a"},
		{"other monitor", anomaly.AnomalyQuery{MonitorARN: anomaly.MonitorARN(acct, "x")}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as, err := svc.Anomalies(ctx, acct, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(as); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if as, _ := svc.Anomalies(ctx, "999999999999", anomaly.AnomalyQuery{}); len(as) != 0 {
		t.Errorf("another account sees %d anomalies", len(as))
	}
	if err := svc.ProvideFeedback(ctx, acct, "zzz", anomaly.FeedbackYes); !errors.Is(err, anomaly.ErrUnknownAnomaly) {
		t.Errorf("feedback on an unknown anomaly = %v", err)
	}
	if err := svc.ProvideFeedback(ctx, acct, "a", "MAYBE"); !errkind.Is(err, errkind.Invalid) {
		t.Errorf("bad feedback = %v", err)
	}
	if _, err := svc.Anomalies(ctx, acct, anomaly.AnomalyQuery{Impact: &anomaly.ImpactFilter{Operator: "ABOUT"}}); !errkind.Is(err, errkind.Invalid) {
		t.Errorf("bad operator = %v", err)
	}
}
