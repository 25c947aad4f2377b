package main

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/budgets"
	bt "github.com/aws/aws-sdk-go-v2/service/budgets/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/notify/notifytest"
)

// TestAlertChannels crosses a budget threshold and fires an alarm, each
// addressed to Slack, Microsoft Teams and PagerDuty receivers that check
// the payload shape those services document and fail the first attempt:
// each receiver gets exactly one well-formed message, on the retry; the
// alarm's return to OK resolves the PagerDuty incident it triggered.
func TestAlertChannels(t *testing.T) {
	t.Parallel()
	recv := map[string]*notifytest.Receiver{}
	for _, who := range []string{"budget", "alarm"} {
		recv[who+"/slack"] = notifytest.Start(t, notifytest.Slack, 1)
		recv[who+"/teams"] = notifytest.Start(t, notifytest.Teams, 1)
	}
	pd := notifytest.Start(t, notifytest.PagerDuty, 1) // one endpoint, two routing keys
	ts := startServer(t, "", func(c *config.Config) {
		allowLoopback(c)
		c.NotifyRetry = 20 * time.Millisecond
		c.PagerDutyEndpoint = pd.URL + "/v2/enqueue"
	})
	ctx := t.Context()
	const budgetKey, alarmKey = "budgetsR0UTINGKEY000000000000000", "alarmsR0UTINGKEY0000000000000000"
	slackURL := func(r *notifytest.Receiver) string { return "slack+" + r.URL + "/services/T0/B0/x" }
	teamsURL := func(r *notifytest.Receiver) string {
		return "teams+" + r.URL + "/workflows/x/triggers/manual/paths/invoke"
	}

	bc := ts.budgets(t)
	profileARN := createProfile(t, ts.bedrock(t), "chat", haikuARN, tagList("dept", "sales")...)
	nt := func(th float64, addr string) bt.NotificationWithSubscribers {
		return bt.NotificationWithSubscribers{
			Notification: &bt.Notification{NotificationType: bt.NotificationTypeActual, ComparisonOperator: bt.ComparisonOperatorGreaterThan, Threshold: th, ThresholdType: bt.ThresholdTypePercentage},
			Subscribers:  []bt.Subscriber{{SubscriptionType: bt.SubscriptionTypeSns, Address: aws.String(addr)}}}
	}
	if _, err := bc.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: aws.String(budgetAcct),
		Budget: &bt.Budget{BudgetName: aws.String("sales-chat"), BudgetType: bt.BudgetTypeCost, TimeUnit: bt.TimeUnitMonthly, BudgetLimit: usd("0.0002"),
			FilterExpression: &bt.Expression{Tags: &bt.TagValues{Key: aws.String("dept"), Values: []string{"sales"}}}},
		NotificationsWithSubscribers: []bt.NotificationWithSubscribers{
			nt(50, slackURL(recv["budget/slack"])), nt(51, teamsURL(recv["budget/teams"])), nt(52, "pagerduty:"+budgetKey),
		}}); err != nil {
		t.Fatal(err)
	}
	rc := ts.runtime(t)
	for range 4 { // about $0.00008 a call: past 52% of $0.0002
		if err := converse(ctx, rc, profileARN); err != nil {
			t.Fatal(err)
		}
	}

	cw := cloudwatch.NewFromConfig(ts.awsConfig(t))
	if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("claims-chatbot-invocations"), Namespace: aws.String("AWS/Bedrock"),
		MetricName: aws.String("Invocations"), Dimensions: []cwtypes.Dimension{{Name: aws.String("ModelId"), Value: aws.String(profileARN)}},
		Statistic: cwtypes.StatisticSum, Period: aws.Int32(300), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(1000),
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold,
		AlarmActions:       []string{slackURL(recv["alarm/slack"]), teamsURL(recv["alarm/teams"]), "pagerduty:" + alarmKey},
		OKActions:          []string{"pagerduty:" + alarmKey}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("claims-chatbot-invocations"),
		StateValue: cwtypes.StateValueAlarm, StateReason: aws.String("Threshold Crossed: 1 datapoint [1200.0] was greater than the threshold (1000.0).")}); err != nil {
		t.Fatal(err)
	}

	eventually(t, "one message at every chat receiver", func() bool {
		for _, r := range recv {
			if len(r.Accepted()) < 1 {
				return false
			}
		}
		return len(pd.Accepted()) >= 2
	})
	if _, err := cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("claims-chatbot-invocations"),
		StateValue: cwtypes.StateValueOk, StateReason: aws.String("back to normal")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the alarm's resolve", func() bool { return len(pd.Accepted()) >= 3 })
	ts.Budgets.Service.Evaluate(ctx)
	if _, err := ts.Budgets.Outbox.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}

	for name, r := range recv {
		if p := r.Problems(); len(p) > 0 {
			t.Errorf("%s refused malformed payloads: %q", name, p)
		}
		if got := r.Accepted(); len(got) != 1 || r.Attempts() != 2 {
			t.Errorf("%s: accepted %d messages in %d attempts, want 1 in 2 (first refused)", name, len(got), r.Attempts())
		}
	}
	if p := pd.Problems(); len(p) > 0 {
		t.Errorf("PagerDuty refused malformed events: %q", p)
	}
	byKey := map[string][]string{}
	var dedup = map[string]string{}
	for _, e := range pd.Accepted() {
		k, _ := e["routing_key"].(string)
		a, _ := e["event_action"].(string)
		d, _ := e["dedup_key"].(string)
		byKey[k] = append(byKey[k], a)
		if prev, ok := dedup[k]; ok && prev != d {
			t.Errorf("routing key %s: dedup keys %q and %q, want one per alarm", k, prev, d)
		}
		dedup[k] = d
	}
	if got := strings.Join(byKey[budgetKey], ","); got != "trigger" {
		t.Errorf("budget events = %s, want one trigger", got)
	}
	if got := strings.Join(byKey[alarmKey], ","); got != "trigger,resolve" {
		t.Errorf("alarm events = %s, want trigger,resolve", got)
	}
	if !strings.Contains(dedup[alarmKey], ":alarm:claims-chatbot-invocations") || !strings.Contains(dedup[budgetKey], "budget/"+budgetAcct+"/sales-chat/ACTUAL/GREATER_THAN/52/") {
		t.Errorf("dedup keys = %v", dedup)
	}
}
