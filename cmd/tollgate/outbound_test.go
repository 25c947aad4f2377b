package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/budgets"
	bt "github.com/aws/aws-sdk-go-v2/service/budgets/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	ce "github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/egress"
	"github.com/tollgate-dev/tollgate/internal/notify"
)

// outboundSetting is one place an API caller writes a URL Tollgate later
// POSTs to.
type outboundSetting struct {
	name string
	code string // the error code a refused URL answers
	put  func(ctx context.Context, url string) error
}

// outboundSettings returns every outbound URL setting of ts: the three
// CloudWatch alarm action lists, and SNS subscribers wherever Budgets and
// Cost Explorer take them. Each put uses a fresh name or replaces the
// same subscriber, so it can be called any number of times.
func outboundSettings(t *testing.T, ts *testServer) []outboundSetting {
	t.Helper()
	ctx := t.Context()
	cw := cloudwatch.NewFromConfig(ts.awsConfig(t))
	bc := ts.budgets(t)
	cc := ce.NewFromConfig(ts.awsConfig(t))
	acct := aws.String(budgetAcct)
	var n int
	next := func(prefix string) *string { n++; return aws.String(fmt.Sprintf("%s-%d", prefix, n)) }
	alarm := func(set func(*cloudwatch.PutMetricAlarmInput, []string)) func(context.Context, string) error {
		return func(ctx context.Context, url string) error {
			in := &cloudwatch.PutMetricAlarmInput{AlarmName: next("outbound"), Namespace: aws.String("AWS/Bedrock"), MetricName: aws.String("Invocations"),
				Statistic: cwtypes.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(1),
				ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold}
			set(in, []string{url})
			_, err := cw.PutMetricAlarm(ctx, in)
			return err
		}
	}
	sns := func(url string) bt.Subscriber {
		return bt.Subscriber{SubscriptionType: bt.SubscriptionTypeSns, Address: aws.String(url)}
	}
	email := bt.Subscriber{SubscriptionType: bt.SubscriptionTypeEmail, Address: aws.String("finance@example.com")}
	nt := func(threshold float64) *bt.Notification {
		return &bt.Notification{NotificationType: bt.NotificationTypeActual, ComparisonOperator: bt.ComparisonOperatorGreaterThan,
			Threshold: threshold, ThresholdType: bt.ThresholdTypePercentage}
	}
	// A budget to add notifications, subscribers and actions to.
	if _, err := bc.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: acct,
		Budget:                       &bt.Budget{BudgetName: aws.String("outbound"), BudgetType: bt.BudgetTypeCost, TimeUnit: bt.TimeUnitMonthly, BudgetLimit: usd("100")},
		NotificationsWithSubscribers: []bt.NotificationWithSubscribers{{Notification: nt(80), Subscribers: []bt.Subscriber{email}}}}); err != nil {
		t.Fatal(err)
	}
	action, err := bc.CreateBudgetAction(ctx, &budgets.CreateBudgetActionInput{AccountId: acct, BudgetName: aws.String("outbound"),
		NotificationType: bt.NotificationTypeActual, ActionType: "BLOCK",
		ActionThreshold: &bt.ActionThreshold{ActionThresholdType: bt.ThresholdTypePercentage, ActionThresholdValue: 100},
		Definition:      &bt.Definition{}, ExecutionRoleArn: aws.String(""), ApprovalModel: bt.ApprovalModelAuto, Subscribers: []bt.Subscriber{}})
	if err != nil {
		t.Fatal(err)
	}
	mon, err := cc.CreateAnomalyMonitor(ctx, &ce.CreateAnomalyMonitorInput{AnomalyMonitor: &cetypes.AnomalyMonitor{
		MonitorName: aws.String("outbound"), MonitorType: cetypes.MonitorTypeDimensional, MonitorDimension: cetypes.MonitorDimensionService}})
	if err != nil {
		t.Fatal(err)
	}
	impact := &cetypes.Expression{Dimensions: &cetypes.DimensionValues{Key: cetypes.DimensionAnomalyTotalImpactAbsolute,
		MatchOptions: []cetypes.MatchOption{cetypes.MatchOptionGreaterThanOrEqual}, Values: []string{"5"}}}
	sub, err := cc.CreateAnomalySubscription(ctx, &ce.CreateAnomalySubscriptionInput{AnomalySubscription: &cetypes.AnomalySubscription{
		SubscriptionName: aws.String("outbound"), MonitorArnList: []string{*mon.MonitorArn}, Frequency: cetypes.AnomalySubscriptionFrequencyDaily,
		Subscribers:         []cetypes.Subscriber{{Type: cetypes.SubscriberTypeEmail, Address: aws.String("a@example.com")}},
		ThresholdExpression: impact}})
	if err != nil {
		t.Fatal(err)
	}
	threshold := 1.0
	return []outboundSetting{
		{"CloudWatch AlarmActions", "InvalidParameterValue", alarm(func(in *cloudwatch.PutMetricAlarmInput, a []string) { in.AlarmActions = a })},
		{"CloudWatch OKActions", "InvalidParameterValue", alarm(func(in *cloudwatch.PutMetricAlarmInput, a []string) { in.OKActions = a })},
		{"CloudWatch InsufficientDataActions", "InvalidParameterValue", alarm(func(in *cloudwatch.PutMetricAlarmInput, a []string) { in.InsufficientDataActions = a })},
		{"Budgets CreateBudget subscriber", "InvalidParameterException", func(ctx context.Context, url string) error {
			_, err := bc.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: acct,
				Budget:                       &bt.Budget{BudgetName: next("outbound"), BudgetType: bt.BudgetTypeCost, TimeUnit: bt.TimeUnitMonthly, BudgetLimit: usd("100")},
				NotificationsWithSubscribers: []bt.NotificationWithSubscribers{{Notification: nt(50), Subscribers: []bt.Subscriber{sns(url)}}}})
			return err
		}},
		{"Budgets CreateNotification subscriber", "InvalidParameterException", func(ctx context.Context, url string) error {
			threshold++
			_, err := bc.CreateNotification(ctx, &budgets.CreateNotificationInput{AccountId: acct, BudgetName: aws.String("outbound"),
				Notification: nt(threshold), Subscribers: []bt.Subscriber{sns(url)}})
			if err == nil {
				_, err = bc.DeleteNotification(ctx, &budgets.DeleteNotificationInput{AccountId: acct, BudgetName: aws.String("outbound"), Notification: nt(threshold)})
			}
			return err
		}},
		{"Budgets CreateSubscriber", "InvalidParameterException", func(ctx context.Context, url string) error {
			_, err := bc.CreateSubscriber(ctx, &budgets.CreateSubscriberInput{AccountId: acct, BudgetName: aws.String("outbound"), Notification: nt(80), Subscriber: &bt.Subscriber{SubscriptionType: bt.SubscriptionTypeSns, Address: aws.String(url)}})
			if err == nil {
				_, err = bc.DeleteSubscriber(ctx, &budgets.DeleteSubscriberInput{AccountId: acct, BudgetName: aws.String("outbound"), Notification: nt(80), Subscriber: &bt.Subscriber{SubscriptionType: bt.SubscriptionTypeSns, Address: aws.String(url)}})
			}
			return err
		}},
		{"Budgets UpdateSubscriber", "InvalidParameterException", func(ctx context.Context, url string) error {
			_, err := bc.UpdateSubscriber(ctx, &budgets.UpdateSubscriberInput{AccountId: acct, BudgetName: aws.String("outbound"), Notification: nt(80),
				OldSubscriber: &email, NewSubscriber: &bt.Subscriber{SubscriptionType: bt.SubscriptionTypeSns, Address: aws.String(url)}})
			if err == nil {
				_, err = bc.UpdateSubscriber(ctx, &budgets.UpdateSubscriberInput{AccountId: acct, BudgetName: aws.String("outbound"), Notification: nt(80),
					OldSubscriber: &bt.Subscriber{SubscriptionType: bt.SubscriptionTypeSns, Address: aws.String(url)}, NewSubscriber: &email})
			}
			return err
		}},
		{"Budgets CreateBudgetAction subscriber", "InvalidParameterException", func(ctx context.Context, url string) error {
			_, err := bc.CreateBudgetAction(ctx, &budgets.CreateBudgetActionInput{AccountId: acct, BudgetName: aws.String("outbound"),
				NotificationType: bt.NotificationTypeActual, ActionType: "THROTTLE",
				ActionThreshold:  &bt.ActionThreshold{ActionThresholdType: bt.ThresholdTypePercentage, ActionThresholdValue: 90},
				Definition:       &bt.Definition{IamActionDefinition: &bt.IamActionDefinition{PolicyArn: aws.String("60")}},
				ExecutionRoleArn: aws.String(""), ApprovalModel: bt.ApprovalModelAuto, Subscribers: []bt.Subscriber{sns(url)}})
			return err
		}},
		{"Budgets UpdateBudgetAction subscriber", "InvalidParameterException", func(ctx context.Context, url string) error {
			_, err := bc.UpdateBudgetAction(ctx, &budgets.UpdateBudgetActionInput{AccountId: acct, BudgetName: aws.String("outbound"),
				ActionId: action.ActionId, Subscribers: []bt.Subscriber{sns(url)}})
			return err
		}},
		{"Cost Explorer CreateAnomalySubscription", "ValidationException", func(ctx context.Context, url string) error {
			_, err := cc.CreateAnomalySubscription(ctx, &ce.CreateAnomalySubscriptionInput{AnomalySubscription: &cetypes.AnomalySubscription{
				SubscriptionName: next("outbound"), MonitorArnList: []string{*mon.MonitorArn}, Frequency: cetypes.AnomalySubscriptionFrequencyImmediate,
				Subscribers: []cetypes.Subscriber{{Type: cetypes.SubscriberTypeSns, Address: aws.String(url)}}, ThresholdExpression: impact}})
			return err
		}},
		{"Cost Explorer UpdateAnomalySubscription", "ValidationException", func(ctx context.Context, url string) error {
			_, err := cc.UpdateAnomalySubscription(ctx, &ce.UpdateAnomalySubscriptionInput{SubscriptionArn: sub.SubscriptionArn,
				Frequency:   cetypes.AnomalySubscriptionFrequencyImmediate,
				Subscribers: []cetypes.Subscriber{{Type: cetypes.SubscriberTypeSns, Address: aws.String(url)}}})
			return err
		}},
	}
}

// TestOutboundURLsRefusedAtCreation writes each refused kind of address
// into every outbound URL setting and expects the API's validation error;
// a public URL is accepted by each.
func TestOutboundURLsRefusedAtCreation(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	ctx := t.Context()
	refused := []string{
		"http://127.0.0.1:8080/hook",
		"http://127.9.9.9/hook",
		"http://[::1]/hook",
		"http://localhost:8080/hook",
		"https://api.localhost/hook",
		"http://169.254.169.254/latest/meta-data/iam/security-credentials/",
		"http://[fe80::1]/hook",
		"http://10.0.0.7/hook",
		"http://172.16.5.4/hook",
		"http://192.168.1.1/hook",
		"http://[fd00::1]/hook",
		"http://0.0.0.0:9000/hook",
		"http://[::]/hook",
		"http://100.64.0.1/hook",
		"http://224.0.0.251/hook",
		"http://[::ffff:127.0.0.1]/hook",
		"http://[::ffff:a9fe:a9fe]/hook",
		"http://2130706433/hook",
		"http://0x7f.1/hook",
	}
	for _, s := range outboundSettings(t, ts) {
		t.Run(s.name, func(t *testing.T) {
			for _, u := range refused {
				if err := s.put(ctx, u); errorCode(err) != s.code {
					t.Errorf("%s: %v, want %s", u, err, s.code)
				}
			}
			if err := s.put(ctx, "https://hooks.example.com/tollgate"); err != nil {
				t.Errorf("a public URL: %v", err)
			}
		})
	}
}

// TestOutboundURLsRefusedAtDelivery gives every setting a host name,
// which passes the creation check, and makes the names resolve to
// 127.0.0.1 (an injected resolver: DNS rebinding, or a name pointing
// inside). Alarm actions, budget alerts and anomaly alerts then resolve
// the name and refuse the address; the same
// receiver, reached through a name on the allow-list, gets its messages,
// so the refusal is the policy's and not a broken path.
func TestOutboundURLsRefusedAtDelivery(t *testing.T) {
	t.Parallel()
	recv := &hostRecorder{}
	addr, _ := serveOn(t, recv, "127.0.0.1:0")
	_, port, _ := net.SplitHostPort(addr)
	var mu sync.Mutex
	var looked []string
	lookup := func(_ context.Context, host string) ([]netip.Addr, error) {
		mu.Lock()
		looked = append(looked, host)
		mu.Unlock()
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	allow, err := egress.New([]string{"allowed.hooks.test"})
	if err != nil {
		t.Fatal(err)
	}
	ts := startMain(t, "", func(c *config.Config) { c.NotifyRetry = 20 * time.Millisecond }, nil, func(m *Main) { m.Egress = allow.WithLookup(lookup) })
	ctx := t.Context()
	url := func(host, path string) string { return "http://" + host + ":" + port + path }

	t.Run("every setting takes a host name at creation", func(t *testing.T) {
		// Creation: every setting takes a host name.
		for _, s := range outboundSettings(t, ts) {
			if err := s.put(ctx, url("created.hooks.test", "/x")); err != nil {
				t.Errorf("%s refused a host name at creation: %v", s.name, err)
			}
		}
	})

	if !t.Run("alarm actions: ALARM to a refused name, OK to an allowed one", func(t *testing.T) {
		// Alarm actions: ALARM lists a refused name, OK an allowed one.
		cw := cloudwatch.NewFromConfig(ts.awsConfig(t))
		if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("delivery"), Namespace: aws.String("AWS/Bedrock"),
			MetricName: aws.String("Invocations"), Statistic: cwtypes.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1),
			Threshold: aws.Float64(1), ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold,
			AlarmActions: []string{url("alarm.hooks.test", "/alarm")}, OKActions: []string{url("allowed.hooks.test", "/alarm-ok")}}); err != nil {
			t.Fatal(err)
		}
		for _, st := range []cwtypes.StateValue{cwtypes.StateValueAlarm, cwtypes.StateValueOk} {
			if _, err := cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("delivery"), StateValue: st, StateReason: aws.String("test")}); err != nil {
				t.Fatal(err)
			}
		}
	}) {
		return
	}

	if !t.Run("budget alerts: 50% to a refused name, 80% to an allowed one", func(t *testing.T) {
		// Budget alerts: the 50% alert to a refused name, the 80% one to an
		// allowed name; a $0.0002 budget passes both within a few calls.
		bc := ts.budgets(t)
		profileARN := createProfile(t, ts.bedrock(t), "outbound-bot", haikuARN, tagList("dept", "outbound")...)
		nt := func(threshold float64) *bt.Notification {
			return &bt.Notification{NotificationType: bt.NotificationTypeActual, ComparisonOperator: bt.ComparisonOperatorGreaterThan, Threshold: threshold, ThresholdType: bt.ThresholdTypePercentage}
		}
		sns := func(u string) []bt.Subscriber {
			return []bt.Subscriber{{SubscriptionType: bt.SubscriptionTypeSns, Address: aws.String(u)}}
		}
		if _, err := bc.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: aws.String(budgetAcct),
			Budget: &bt.Budget{BudgetName: aws.String("delivery"), BudgetType: bt.BudgetTypeCost, TimeUnit: bt.TimeUnitMonthly, BudgetLimit: usd("0.0002"),
				CostFilters: map[string][]string{"TagKeyValue": {"user:dept$outbound"}}},
			NotificationsWithSubscribers: []bt.NotificationWithSubscribers{
				{Notification: nt(50), Subscribers: sns(url("budget.hooks.test", "/budget"))},
				{Notification: nt(80), Subscribers: sns(url("allowed.hooks.test", "/budget-80"))},
			}}); err != nil {
			t.Fatal(err)
		}
		rc := ts.runtime(t)
		for range 6 {
			if err := converse(ctx, rc, profileARN); err != nil {
				t.Fatal(err)
			}
		}
		ts.Budgets.Service.Evaluate(ctx)
	}) {
		return
	}

	if !t.Run("anomaly alerts through the same outbox", func(t *testing.T) {
		// Anomaly alerts go through the same outbox and deliverer.
		for _, host := range []string{"anomaly.hooks.test", "allowed.hooks.test"} {
			if err := ts.Budgets.Outbox.Enqueue(ctx, notify.Message{Key: "anomaly-" + host, Kind: "anomaly.alert",
				Target: notify.Target(notify.ChannelWebhook, url(host, "/anomaly")), Subject: "anomaly", Body: "x"}); err != nil {
				t.Fatal(err)
			}
		}
	}) {
		return
	}
	t.Run("only the allowed name gets messages; the refused ones were looked up and dropped", func(t *testing.T) {
		eventually(t, "the allowed deliveries", func() bool {
			return len(recv.paths()) == 3
		})
		if got, want := recv.paths(), []string{"allowed.hooks.test /alarm-ok", "allowed.hooks.test /anomaly", "allowed.hooks.test /budget-80"}; !slices.Equal(got, want) {
			t.Errorf("receiver got %q, want %q", got, want)
		}
		eventually(t, "the refused deliveries to be dead", func() bool {
			d, err := ts.DB.(notify.Store).OutboxMessage(ctx, "anomaly-anomaly.hooks.test")
			return err == nil && d.State == notify.Dead && strings.Contains(d.LastError, "refused")
		})
		mu.Lock()
		for _, host := range []string{"alarm.hooks.test", "budget.hooks.test", "anomaly.hooks.test"} {
			if !slices.Contains(looked, host) {
				t.Errorf("no delivery to %s was attempted (looked up: %q)", host, looked)
			}
		}
		mu.Unlock()

		time.Sleep(50 * time.Millisecond) // nothing else may arrive late
		for _, p := range recv.paths() {
			if !strings.HasPrefix(p, "allowed.hooks.test ") {
				t.Errorf("a refused name was delivered to: %s", p)
			}
		}
	})
}

// hostRecorder answers 200 and records each request's host and path.
type hostRecorder struct {
	mu  sync.Mutex
	got []string
}

func (h *hostRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host, _, _ := net.SplitHostPort(r.Host)
	h.mu.Lock()
	h.got = append(h.got, host+" "+r.URL.Path)
	h.mu.Unlock()
}

// paths returns the requests, sorted.
func (h *hostRecorder) paths() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Sorted(slices.Values(h.got))
}
