package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	btypes "github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rt "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/aws-sdk-go-v2/service/budgets"
	bt "github.com/aws/aws-sdk-go-v2/service/budgets/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/notify"
	"github.com/tollgate-dev/tollgate/internal/notify/mail/mailtest"
	"github.com/tollgate-dev/tollgate/internal/notify/webhook"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

const budgetAcct = "123456789012"

func (ts *testServer) budgets(t *testing.T) *budgets.Client {
	return budgets.NewFromConfig(ts.awsConfig(t))
}

func usd(s string) *bt.Spend { return &bt.Spend{Amount: aws.String(s), Unit: aws.String("USD")} }

// converse makes one Converse call through model (a profile ARN) with a
// small output bound.
func converse(ctx context.Context, rc *bedrockruntime.Client, model string) error {
	_, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: userText("Summarise the claim."),
		InferenceConfig: &rt.InferenceConfiguration{MaxTokens: aws.Int32(64)}})
	return err
}

// ledgerSpend sums the ledger's cost of the calls through profileARN: the
// truth the budgets are checked against.
func ledgerSpend(t *testing.T, ts *testServer, profileARN string) (money.Amount, []ledger.Record) {
	t.Helper()
	recs, err := ts.DB.Records(context.Background(), ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var sum money.Amount
	var mine []ledger.Record
	for _, r := range recs {
		if r.ProfileARN == profileARN {
			sum += r.Cost
			mine = append(mine, r)
		}
	}
	return sum, mine
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := errorCode(err); got != code {
		t.Errorf("%s: error %v (code %q), want %s", what, err, got, code)
	}
}

// TestBudgetsAPI drives every Budgets operation through
// aws-sdk-go-v2/service/budgets: both filter styles, notifications and
// subscribers, actions, the performance history, live spend and the
// validation errors as AWS names them.
func TestBudgetsAPI(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	ctx := t.Context()
	bc := ts.budgets(t)
	acct := aws.String(budgetAcct)
	claims := createProfile(t, ts.bedrock(t), "claims-bot", haikuARN, tagList("dept", "claims", "team", "automation")...)
	sales := createProfile(t, ts.bedrock(t), "sales-chat", haikuARN, tagList("dept", "sales")...)

	hook := bt.Subscriber{SubscriptionType: bt.SubscriptionTypeSns, Address: aws.String("https://hooks.example.com/budgets")}
	mailTo := bt.Subscriber{SubscriptionType: bt.SubscriptionTypeEmail, Address: aws.String("finance@example.com")}
	n80 := bt.Notification{NotificationType: bt.NotificationTypeActual, ComparisonOperator: bt.ComparisonOperatorGreaterThan, Threshold: 80, ThresholdType: bt.ThresholdTypePercentage}
	nForecast := bt.Notification{NotificationType: bt.NotificationTypeForecasted, ComparisonOperator: bt.ComparisonOperatorGreaterThan, Threshold: 100, ThresholdType: bt.ThresholdTypePercentage}

	// FilterExpression: claims or sales, not in eu regions.
	expr := &bt.Expression{And: []bt.Expression{
		{Or: []bt.Expression{
			{Tags: &bt.TagValues{Key: aws.String("user:dept"), Values: []string{"claims"}}},
			{Tags: &bt.TagValues{Key: aws.String("dept"), Values: []string{"SALES"}, MatchOptions: []bt.MatchOption{bt.MatchOptionCaseInsensitive}}},
		}},
		{Not: &bt.Expression{Dimensions: &bt.ExpressionDimensionValues{Key: bt.DimensionRegion, Values: []string{"eu-"}, MatchOptions: []bt.MatchOption{bt.MatchOptionStartsWith}}}},
		// Claude is billed as its own AWS Marketplace product, not as
		// "Amazon Bedrock".
		{Dimensions: &bt.ExpressionDimensionValues{Key: bt.DimensionService, Values: []string{"Amazon Bedrock", "Claude 3 Haiku (Amazon Bedrock Edition)"}}},
	}}
	now := time.Now().UTC()
	customStart, customEnd := now.AddDate(0, 0, -3).Truncate(24*time.Hour), now.AddDate(0, 0, 30).Truncate(24*time.Hour)
	n50 := bt.Notification{NotificationType: bt.NotificationTypeActual, ComparisonOperator: bt.ComparisonOperatorGreaterThan, Threshold: 50, ThresholdType: bt.ThresholdTypeAbsoluteValue}
	var claimsSpend, salesSpend money.Amount
	var salesTokens int64

	if !t.Run("create budgets in both filter styles", func(t *testing.T) {
		// Legacy CostFilters with notifications.
		_, err := bc.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: acct,
			Budget: &bt.Budget{BudgetName: aws.String("claims-monthly"), BudgetType: bt.BudgetTypeCost, TimeUnit: bt.TimeUnitMonthly,
				BudgetLimit: usd("100"), CostFilters: map[string][]string{"TagKeyValue": {"user:dept$claims"}}},
			NotificationsWithSubscribers: []bt.NotificationWithSubscribers{
				{Notification: &n80, Subscribers: []bt.Subscriber{hook, mailTo}},
				{Notification: &nForecast, Subscribers: []bt.Subscriber{hook}},
			}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bc.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: acct,
			Budget: &bt.Budget{BudgetName: aws.String("all-depts"), BudgetType: bt.BudgetTypeCost, TimeUnit: bt.TimeUnitQuarterly,
				BudgetLimit: usd("1000.50"), FilterExpression: expr, Metrics: []bt.Metric{bt.MetricUnblendedCost}}}); err != nil {
			t.Fatal(err)
		}
		// A USAGE budget in tokens, daily; an annual and a custom one.
		if _, err := bc.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: acct,
			Budget: &bt.Budget{BudgetName: aws.String("sales-tokens"), BudgetType: bt.BudgetTypeUsage, TimeUnit: bt.TimeUnitDaily,
				BudgetLimit: &bt.Spend{Amount: aws.String("1000000"), Unit: aws.String("Tokens")}, CostFilters: map[string][]string{"TagKeyValue": {"user:dept$sales"}}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := bc.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: acct,
			Budget: &bt.Budget{BudgetName: aws.String("everything-yearly"), BudgetType: bt.BudgetTypeCost, TimeUnit: bt.TimeUnitAnnually, BudgetLimit: usd("50000")}}); err != nil {
			t.Fatal(err)
		}
		if _, err := bc.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: acct,
			Budget: &bt.Budget{BudgetName: aws.String("launch"), BudgetType: bt.BudgetTypeCost, TimeUnit: bt.TimeUnitCustom, BudgetLimit: usd("250"),
				TimePeriod: &bt.TimePeriod{Start: &customStart, End: &customEnd}, CostFilters: map[string][]string{"Region": {"us-east-1"}}}}); err != nil {
			t.Fatal(err)
		}
	}) {
		return
	}

	if !t.Run("live spend through both profiles", func(t *testing.T) {
		rc := ts.runtime(t)
		for range 3 {
			if err := converse(ctx, rc, claims); err != nil {
				t.Fatal(err)
			}
			if err := converse(ctx, rc, sales); err != nil {
				t.Fatal(err)
			}
		}
		var claimsRecs []ledger.Record
		claimsSpend, claimsRecs = ledgerSpend(t, ts, claims)
		var salesRecs []ledger.Record
		salesSpend, salesRecs = ledgerSpend(t, ts, sales)
		for _, r := range salesRecs {
			salesTokens += r.InputTokens + r.OutputTokens
		}
		if claimsSpend == 0 || len(claimsRecs) != 3 {
			t.Fatalf("claims spend %s over %d records: the simulated calls cost nothing", claimsSpend, len(claimsRecs))
		}
	}) {
		return
	}

	t.Run("DescribeBudget reports the ledger's spend", func(t *testing.T) {
		d, err := bc.DescribeBudget(ctx, &budgets.DescribeBudgetInput{AccountId: acct, BudgetName: aws.String("claims-monthly")})
		if err != nil {
			t.Fatal(err)
		}
		b := d.Budget
		if got := aws.ToString(b.CalculatedSpend.ActualSpend.Amount); got != claimsSpend.Decimal(1) {
			t.Errorf("claims-monthly ActualSpend = %s, want %s (the ledger's)", got, claimsSpend.Decimal(1))
		}
		if aws.ToString(b.BudgetLimit.Amount) != "100.0" || aws.ToString(b.BudgetLimit.Unit) != "USD" || b.BudgetType != bt.BudgetTypeCost || b.TimeUnit != bt.TimeUnitMonthly {
			t.Errorf("claims-monthly = %+v", b)
		}
		if !b.TimePeriod.Start.Equal(time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)) || b.TimePeriod.End.Year() != 2087 {
			t.Errorf("default TimePeriod = %v to %v, want the start of this month to 2087-06-15", b.TimePeriod.Start, b.TimePeriod.End)
		}
		if diff := cmp.Diff(b.CostFilters, map[string][]string{"TagKeyValue": {"user:dept$claims"}}); diff != "" {
			t.Errorf("CostFilters (-got +want):\n%s", diff)
		}
		if b.CostTypes == nil || !aws.ToBool(b.CostTypes.IncludeTax) || aws.ToBool(b.CostTypes.UseBlended) {
			t.Errorf("CostTypes = %+v, want AWS's defaults", b.CostTypes)
		}
		d, err = bc.DescribeBudget(ctx, &budgets.DescribeBudgetInput{AccountId: acct, BudgetName: aws.String("all-depts"), ShowFilterExpression: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := aws.ToString(d.Budget.CalculatedSpend.ActualSpend.Amount), (claimsSpend + salesSpend).Decimal(1); got != want {
			t.Errorf("all-depts ActualSpend = %s, want %s", got, want)
		}
		if diff := cmp.Diff(d.Budget.FilterExpression, expr, cmpopts.IgnoreUnexported(bt.Expression{}, bt.TagValues{}, bt.ExpressionDimensionValues{})); diff != "" {
			t.Errorf("FilterExpression (-got +want):\n%s", diff)
		}
		if !slices.Equal(d.Budget.Metrics, []bt.Metric{bt.MetricUnblendedCost}) {
			t.Errorf("Metrics = %v", d.Budget.Metrics)
		}
		if d, _ := bc.DescribeBudget(ctx, &budgets.DescribeBudgetInput{AccountId: acct, BudgetName: aws.String("all-depts")}); d.Budget.FilterExpression != nil {
			t.Error("FilterExpression returned without ShowFilterExpression")
		}
		d, _ = bc.DescribeBudget(ctx, &budgets.DescribeBudgetInput{AccountId: acct, BudgetName: aws.String("sales-tokens")})
		if got := aws.ToString(d.Budget.CalculatedSpend.ActualSpend.Amount); got != strconv.FormatInt(salesTokens, 10) {
			t.Errorf("sales-tokens ActualSpend = %s tokens, want %d", got, salesTokens)
		}
		d, _ = bc.DescribeBudget(ctx, &budgets.DescribeBudgetInput{AccountId: acct, BudgetName: aws.String("launch")})
		if !d.Budget.TimePeriod.Start.Equal(customStart) || !d.Budget.TimePeriod.End.Equal(customEnd) ||
			aws.ToString(d.Budget.CalculatedSpend.ActualSpend.Amount) != (claimsSpend+salesSpend).Decimal(1) {
			t.Errorf("launch = %+v %+v", d.Budget.TimePeriod, d.Budget.CalculatedSpend.ActualSpend)
		}
		d, _ = bc.DescribeBudget(ctx, &budgets.DescribeBudgetInput{AccountId: acct, BudgetName: aws.String("everything-yearly")})
		if got := aws.ToString(d.Budget.CalculatedSpend.ActualSpend.Amount); got != (claimsSpend + salesSpend).Decimal(1) {
			t.Errorf("everything-yearly ActualSpend = %s", got)
		}
	})

	if !t.Run("forecast from a daily history", func(t *testing.T) {
		// The forecast: a scope whose history is $1 a day forecasts the
		// month's actual spend plus $1 for every day left.
		today := now.Truncate(24 * time.Hour)
		var hist []ledger.Record
		var histActual money.Amount
		for d := 1; d <= 20; d++ {
			at := today.AddDate(0, 0, -d).Add(12 * time.Hour)
			hist = append(hist, ledger.Record{RequestID: fmt.Sprintf("hist-%d", d), Time: at, Account: budgetAcct, Region: "us-east-1", RegionServed: "us-east-1",
				ProfileARN: "arn:aws:bedrock:us-east-1:" + budgetAcct + ":application-inference-profile/hhhhhhhhhhhh", ProfileID: "hhhhhhhhhhhh",
				ModelID: haikuID, Operation: "Converse", InputTokens: 1000, OutputTokens: 1000, Outcome: ledger.OutcomeSuccess,
				Cost: money.Dollar, OutputCost: money.Dollar, Priced: true, Tags: tags.Set{"dept": "history"}})
			if at.Month() == now.Month() {
				histActual += money.Dollar
			}
		}
		if err := ts.DB.AppendRecords(ctx, hist); err != nil {
			t.Fatal(err)
		}
		if _, err := bc.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: acct,
			Budget: &bt.Budget{BudgetName: aws.String("history"), BudgetType: bt.BudgetTypeCost, TimeUnit: bt.TimeUnitMonthly, BudgetLimit: usd("100"),
				CostFilters: map[string][]string{"TagKeyValue": {"user:dept$history"}}}}); err != nil {
			t.Fatal(err)
		}
		d, _ := bc.DescribeBudget(ctx, &budgets.DescribeBudgetInput{AccountId: acct, BudgetName: aws.String("history")})
		monthEnd := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		wantForecast := float64(histActual)/1e9 + time.Until(monthEnd).Hours()/24
		if cs := d.Budget.CalculatedSpend; aws.ToString(cs.ActualSpend.Amount) != histActual.Decimal(1) || cs.ForecastedSpend == nil {
			t.Errorf("history budget: actual %+v, forecast %+v; want actual %s and a forecast", cs.ActualSpend, cs.ForecastedSpend, histActual.Decimal(1))
		} else if f := spendAmount(cs.ForecastedSpend); f < wantForecast*0.99-0.01 || f > wantForecast*1.01+0.01 {
			t.Errorf("history budget forecast = %.4f, want %.4f (actual + $1 a day left)", f, wantForecast)
		}
	}) {
		return
	}

	t.Run("DescribeBudgets pages in name order", func(t *testing.T) {
		var names []string
		p := budgets.NewDescribeBudgetsPaginator(bc, &budgets.DescribeBudgetsInput{AccountId: acct, MaxResults: aws.Int32(2)})
		pages := 0
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, b := range out.Budgets {
				names = append(names, aws.ToString(b.BudgetName))
			}
		}
		if want := []string{"all-depts", "claims-monthly", "everything-yearly", "history", "launch", "sales-tokens"}; !slices.Equal(names, want) || pages != 3 {
			t.Errorf("DescribeBudgets = %v in %d pages, want %v in 3", names, pages, want)
		}
	})

	if !t.Run("UpdateBudget keeps the spend", func(t *testing.T) {
		// UpdateBudget: a new limit; spend carries over.
		if _, err := bc.UpdateBudget(ctx, &budgets.UpdateBudgetInput{AccountId: acct, NewBudget: &bt.Budget{BudgetName: aws.String("claims-monthly"),
			BudgetType: bt.BudgetTypeCost, TimeUnit: bt.TimeUnitMonthly, BudgetLimit: usd("0.0001"), CostFilters: map[string][]string{"TagKeyValue": {"user:dept$claims"}}}}); err != nil {
			t.Fatal(err)
		}
		d, _ := bc.DescribeBudget(ctx, &budgets.DescribeBudgetInput{AccountId: acct, BudgetName: aws.String("claims-monthly")})
		if aws.ToString(d.Budget.BudgetLimit.Amount) != "0.0001" || aws.ToString(d.Budget.CalculatedSpend.ActualSpend.Amount) != claimsSpend.Decimal(1) {
			t.Errorf("after UpdateBudget: limit %s, actual %s", aws.ToString(d.Budget.BudgetLimit.Amount), aws.ToString(d.Budget.CalculatedSpend.ActualSpend.Amount))
		}
	}) {
		return
	}

	if !t.Run("notifications and subscribers, ALARM past the limit", func(t *testing.T) {
		ns, err := bc.DescribeNotificationsForBudget(ctx, &budgets.DescribeNotificationsForBudgetInput{AccountId: acct, BudgetName: aws.String("claims-monthly")})
		if err != nil {
			t.Fatal(err)
		}
		if len(ns.Notifications) != 2 || ns.Notifications[0].Threshold != 80 || ns.Notifications[1].NotificationType != bt.NotificationTypeForecasted {
			t.Fatalf("notifications = %+v", ns.Notifications)
		}
		if _, err := bc.CreateNotification(ctx, &budgets.CreateNotificationInput{AccountId: acct, BudgetName: aws.String("claims-monthly"), Notification: &n50, Subscribers: []bt.Subscriber{mailTo}}); err != nil {
			t.Fatal(err)
		}
		_, err = bc.CreateNotification(ctx, &budgets.CreateNotificationInput{AccountId: acct, BudgetName: aws.String("claims-monthly"), Notification: &n50, Subscribers: []bt.Subscriber{mailTo}})
		wantCode(t, "CreateNotification twice", err, "DuplicateRecordException")
		n60 := n50
		n60.Threshold = 60
		if _, err := bc.UpdateNotification(ctx, &budgets.UpdateNotificationInput{AccountId: acct, BudgetName: aws.String("claims-monthly"), OldNotification: &n50, NewNotification: &n60}); err != nil {
			t.Fatal(err)
		}
		if _, err := bc.CreateSubscriber(ctx, &budgets.CreateSubscriberInput{AccountId: acct, BudgetName: aws.String("claims-monthly"), Notification: &n60, Subscriber: &hook}); err != nil {
			t.Fatal(err)
		}
		other := bt.Subscriber{SubscriptionType: bt.SubscriptionTypeEmail, Address: aws.String("cfo@example.com")}
		if _, err := bc.UpdateSubscriber(ctx, &budgets.UpdateSubscriberInput{AccountId: acct, BudgetName: aws.String("claims-monthly"), Notification: &n60, OldSubscriber: &mailTo, NewSubscriber: &other}); err != nil {
			t.Fatal(err)
		}
		subs, err := bc.DescribeSubscribersForNotification(ctx, &budgets.DescribeSubscribersForNotificationInput{AccountId: acct, BudgetName: aws.String("claims-monthly"), Notification: &n60})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range subs.Subscribers {
			got = append(got, string(s.SubscriptionType)+" "+aws.ToString(s.Address))
		}
		if want := []string{"EMAIL cfo@example.com", "SNS https://hooks.example.com/budgets"}; !slices.Equal(got, want) {
			t.Errorf("subscribers = %v, want %v", got, want)
		}
		if _, err := bc.DeleteSubscriber(ctx, &budgets.DeleteSubscriberInput{AccountId: acct, BudgetName: aws.String("claims-monthly"), Notification: &n60, Subscriber: &hook}); err != nil {
			t.Fatal(err)
		}
		_, err = bc.DeleteSubscriber(ctx, &budgets.DeleteSubscriberInput{AccountId: acct, BudgetName: aws.String("claims-monthly"), Notification: &n60, Subscriber: &hook})
		wantCode(t, "DeleteSubscriber twice", err, "NotFoundException")
		if _, err := bc.DeleteNotification(ctx, &budgets.DeleteNotificationInput{AccountId: acct, BudgetName: aws.String("claims-monthly"), Notification: &n60}); err != nil {
			t.Fatal(err)
		}
		_, err = bc.DeleteNotification(ctx, &budgets.DeleteNotificationInput{AccountId: acct, BudgetName: aws.String("claims-monthly"), Notification: &n60})
		wantCode(t, "DeleteNotification twice", err, "NotFoundException")
		// Past its new $0.0001 limit, the 80% ACTUAL notification goes to ALARM.
		ts.Budgets.Service.Evaluate(ctx)
		ns, _ = bc.DescribeNotificationsForBudget(ctx, &budgets.DescribeNotificationsForBudgetInput{AccountId: acct, BudgetName: aws.String("claims-monthly")})
		if len(ns.Notifications) != 2 || ns.Notifications[0].NotificationState != bt.NotificationStateAlarm {
			t.Errorf("notifications after passing the limit = %+v, want the 80%% one in ALARM", ns.Notifications)
		}
	}) {
		return
	}

	t.Run("performance history", func(t *testing.T) {
		// Performance history: this month's actual spend.
		h, err := bc.DescribeBudgetPerformanceHistory(ctx, &budgets.DescribeBudgetPerformanceHistoryInput{AccountId: acct, BudgetName: aws.String("claims-monthly")})
		if err != nil {
			t.Fatal(err)
		}
		list := h.BudgetPerformanceHistory.BudgetedAndActualAmountsList
		if len(list) != 1 || aws.ToString(list[0].ActualAmount.Amount) != claimsSpend.Decimal(1) || aws.ToString(list[0].BudgetedAmount.Amount) != "0.0001" {
			t.Errorf("performance history = %+v", list)
		}
		_, err = bc.DescribeBudgetPerformanceHistory(ctx, &budgets.DescribeBudgetPerformanceHistoryInput{AccountId: acct, BudgetName: aws.String("everything-yearly")})
		wantCode(t, "history of an ANNUALLY budget", err, "InvalidParameterException")
	})

	t.Run("budget actions", func(t *testing.T) {
		ca, err := bc.CreateBudgetAction(ctx, &budgets.CreateBudgetActionInput{AccountId: acct, BudgetName: aws.String("all-depts"),
			NotificationType: bt.NotificationTypeActual, ActionType: "THROTTLE",
			ActionThreshold:  &bt.ActionThreshold{ActionThresholdType: bt.ThresholdTypePercentage, ActionThresholdValue: 80},
			Definition:       &bt.Definition{IamActionDefinition: &bt.IamActionDefinition{PolicyArn: aws.String("60")}},
			ExecutionRoleArn: aws.String("arn:aws:iam::123456789012:role/budgets"), ApprovalModel: bt.ApprovalModelAuto, Subscribers: []bt.Subscriber{hook}})
		if err != nil {
			t.Fatal(err)
		}
		da, err := bc.DescribeBudgetAction(ctx, &budgets.DescribeBudgetActionInput{AccountId: acct, BudgetName: aws.String("all-depts"), ActionId: ca.ActionId})
		if err != nil {
			t.Fatal(err)
		}
		if a := da.Action; a.ActionType != "THROTTLE" || aws.ToString(a.Definition.IamActionDefinition.PolicyArn) != "60" || a.Status != bt.ActionStatusStandby || a.ActionThreshold.ActionThresholdValue != 80 {
			t.Errorf("DescribeBudgetAction = %+v", a)
		}
		ua, err := bc.UpdateBudgetAction(ctx, &budgets.UpdateBudgetActionInput{AccountId: acct, BudgetName: aws.String("all-depts"), ActionId: ca.ActionId,
			ActionThreshold: &bt.ActionThreshold{ActionThresholdType: bt.ThresholdTypeAbsoluteValue, ActionThresholdValue: 0}})
		if err != nil {
			t.Fatal(err)
		}
		if ua.OldAction.ActionThreshold.ActionThresholdValue != 80 || ua.NewAction.ActionThreshold.ActionThresholdType != bt.ThresholdTypeAbsoluteValue || ua.NewAction.Status != bt.ActionStatusExecutionSuccess {
			t.Errorf("UpdateBudgetAction = old %+v new %+v", ua.OldAction, ua.NewAction)
		}
		_, err = bc.CreateBudgetAction(ctx, &budgets.CreateBudgetActionInput{AccountId: acct, BudgetName: aws.String("all-depts"),
			NotificationType: bt.NotificationTypeActual, ActionType: bt.ActionTypeIam, ActionThreshold: &bt.ActionThreshold{ActionThresholdType: bt.ThresholdTypePercentage, ActionThresholdValue: 80},
			Definition:       &bt.Definition{IamActionDefinition: &bt.IamActionDefinition{PolicyArn: aws.String("arn:aws:iam::aws:policy/Deny")}},
			ExecutionRoleArn: aws.String("r"), ApprovalModel: bt.ApprovalModelAuto, Subscribers: []bt.Subscriber{}})
		wantCode(t, "an APPLY_IAM_POLICY action", err, "InvalidParameterException")
		acts, err := bc.DescribeBudgetActionsForBudget(ctx, &budgets.DescribeBudgetActionsForBudgetInput{AccountId: acct, BudgetName: aws.String("all-depts")})
		if err != nil || len(acts.Actions) != 1 {
			t.Fatalf("DescribeBudgetActionsForBudget = %+v, %v", acts, err)
		}
		aa, err := bc.DescribeBudgetActionsForAccount(ctx, &budgets.DescribeBudgetActionsForAccountInput{AccountId: acct})
		if err != nil || len(aa.Actions) != 1 || aws.ToString(aa.Actions[0].BudgetName) != "all-depts" {
			t.Errorf("DescribeBudgetActionsForAccount = %+v, %v", aa, err)
		}
		na, err := bc.DescribeBudgetNotificationsForAccount(ctx, &budgets.DescribeBudgetNotificationsForAccountInput{AccountId: acct})
		if err != nil {
			t.Fatal(err)
		}
		withNotes := map[string]int{}
		for _, b := range na.BudgetNotificationsForAccount {
			withNotes[aws.ToString(b.BudgetName)] = len(b.Notifications)
		}
		if withNotes["claims-monthly"] != 2 || withNotes["all-depts"] != 0 {
			t.Errorf("DescribeBudgetNotificationsForAccount = %v", withNotes)
		}
		if _, err := bc.DeleteBudgetAction(ctx, &budgets.DeleteBudgetActionInput{AccountId: acct, BudgetName: aws.String("all-depts"), ActionId: ca.ActionId}); err != nil {
			t.Fatal(err)
		}
		_, err = bc.DescribeBudgetAction(ctx, &budgets.DescribeBudgetActionInput{AccountId: acct, BudgetName: aws.String("all-depts"), ActionId: ca.ActionId})
		wantCode(t, "DescribeBudgetAction after delete", err, "NotFoundException")
	})

	t.Run("validation errors as AWS names them", func(t *testing.T) {
		base := func(name string) *bt.Budget {
			return &bt.Budget{BudgetName: aws.String(name), BudgetType: bt.BudgetTypeCost, TimeUnit: bt.TimeUnitMonthly, BudgetLimit: usd("10")}
		}
		for _, tc := range []struct {
			name string
			call func() error
			code string
		}{
			{"duplicate", func() error {
				_, err := bc.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: acct, Budget: base("launch")})
				return err
			}, "DuplicateRecordException"},
			{"colon in name", func() error {
				_, err := bc.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: acct, Budget: base("a:b")})
				return err
			}, "InvalidParameterException"},
			{"both filter styles", func() error {
				b := base("mixed")
				b.CostFilters, b.FilterExpression = map[string][]string{"Region": {"us-east-1"}}, expr
				_, err := bc.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: acct, Budget: b})
				return err
			}, "InvalidParameterException"},
			{"unsupported cost filter", func() error {
				b := base("az")
				b.CostFilters = map[string][]string{"AZ": {"us-east-1a"}}
				_, err := bc.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: acct, Budget: b})
				return err
			}, "InvalidParameterException"},
			{"negative limit", func() error {
				b := base("neg")
				b.BudgetLimit = usd("-5")
				_, err := bc.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: acct, Budget: b})
				return err
			}, "InvalidParameterException"},
			{"RI budget", func() error {
				b := base("ri")
				b.BudgetType = bt.BudgetTypeRIUtilization
				_, err := bc.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: acct, Budget: b})
				return err
			}, "InvalidParameterException"},
			{"another account", func() error {
				_, err := bc.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: aws.String("210987654321"), Budget: base("x")})
				return err
			}, "AccessDeniedException"},
			{"eleven email subscribers", func() error {
				var subs []bt.Subscriber
				for i := range 11 {
					subs = append(subs, bt.Subscriber{SubscriptionType: bt.SubscriptionTypeEmail, Address: aws.String(fmt.Sprintf("u%d@example.com", i))})
				}
				_, err := bc.CreateNotification(ctx, &budgets.CreateNotificationInput{AccountId: acct, BudgetName: aws.String("launch"), Notification: &n50, Subscribers: subs})
				return err
			}, "CreationLimitExceededException"},
			{"missing budget", func() error {
				_, err := bc.DescribeBudget(ctx, &budgets.DescribeBudgetInput{AccountId: acct, BudgetName: aws.String("nope")})
				return err
			}, "NotFoundException"},
			{"bad next token", func() error {
				_, err := bc.DescribeBudgets(ctx, &budgets.DescribeBudgetsInput{AccountId: acct, NextToken: aws.String("garbage")})
				return err
			}, "InvalidNextTokenException"},
			{"MaxResults 0", func() error {
				_, err := bc.DescribeBudgets(ctx, &budgets.DescribeBudgetsInput{AccountId: acct, MaxResults: aws.Int32(0)})
				return err
			}, "InvalidParameterException"},
		} {
			t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.name, tc.call(), tc.code) })
		}
	})

	t.Run("DeleteBudget", func(t *testing.T) {
		if _, err := bc.DeleteBudget(ctx, &budgets.DeleteBudgetInput{AccountId: acct, BudgetName: aws.String("launch")}); err != nil {
			t.Fatal(err)
		}
		_, err := bc.DescribeBudget(ctx, &budgets.DescribeBudgetInput{AccountId: acct, BudgetName: aws.String("launch")})
		wantCode(t, "DescribeBudget after DeleteBudget", err, "NotFoundException")
	})
}

// hookReceiver is a test webhook endpoint: it verifies signatures and
// answers 503 while down.
type hookReceiver struct {
	secret []byte
	down   atomic.Bool
	mu     sync.Mutex
	calls  []hookDelivery
}

type hookDelivery struct {
	key      string
	status   int
	sigOK    bool
	budget   string
	notif    string
	slack    bool
	bodyText string
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	d := hookDelivery{key: r.Header.Get(webhook.IdempotencyHeader), sigOK: webhook.Verify(h.secret, body, r.Header.Get(webhook.SignatureHeader)), status: 200}
	var p webhook.Payload
	if json.Unmarshal(body, &p) == nil && p.ID != "" {
		var data struct {
			BudgetName string  `json:"budgetName"`
			Type       string  `json:"notificationType"`
			Threshold  float64 `json:"threshold"`
		}
		_ = json.Unmarshal(p.Data, &data)
		d.budget, d.notif = data.BudgetName, data.Type+"/"+strconv.FormatFloat(data.Threshold, 'f', -1, 64)
	} else {
		d.slack, d.bodyText = true, string(body)
	}
	if h.down.Load() {
		d.status = http.StatusServiceUnavailable
	}
	h.mu.Lock()
	h.calls = append(h.calls, d)
	h.mu.Unlock()
	w.WriteHeader(d.status)
}

// accepted returns, per idempotency key, how many deliveries the receiver
// accepted.
func (h *hookReceiver) accepted() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for _, c := range h.calls {
		if c.status == 200 {
			out[c.key]++
		}
	}
	return out
}

func (h *hookReceiver) all() []hookDelivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.calls)
}

// serveOn serves h on addr until the test ends or the returned stop is
// called.
func serveOn(t *testing.T, h http.Handler, addr string) (string, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	var once sync.Once
	stop := func() { once.Do(func() { srv.Close() }) }
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// eventually polls cond every 10ms for up to 20s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBudgetAlertsWebhookAndEmail checks the alert path end to end: one
// ACTUAL alert per threshold per period, signed; redelivered after the
// receiver was down, and after a Tollgate restart; never again once
// delivered.
func TestBudgetAlertsWebhookAndEmail(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret := []byte("test-webhook-secret")
	smtp := mailtest.Start(t)
	configure := func(c *config.Config) {
		allowLoopback(c)
		c.Secrets.WebhookSecret = string(secret)
		c.NotifyRetry = 20 * time.Millisecond
		c.SMTPAddr, c.SMTPFrom = smtp.Addr, "budgets@tollgate.test"
	}
	ts := startServer(t, dir, configure)
	ctx := t.Context()
	recv := &hookReceiver{secret: secret}
	addr, stopRecv := serveOn(t, recv, "127.0.0.1:0")
	hookURL := "http://" + addr + "/hooks/budgets"
	slack := &hookReceiver{secret: secret}
	slackAddr, _ := serveOn(t, slack, "127.0.0.1:0")

	bc := ts.budgets(t)
	acct := aws.String(budgetAcct)
	profileARN := createProfile(t, ts.bedrock(t), "claims-bot", haikuARN, tagList("dept", "claims")...)
	rc := ts.runtime(t)
	nt := func(threshold float64) *bt.Notification {
		return &bt.Notification{NotificationType: bt.NotificationTypeActual, ComparisonOperator: bt.ComparisonOperatorGreaterThan, Threshold: threshold, ThresholdType: bt.ThresholdTypePercentage}
	}
	sns := func(u string) bt.Subscriber {
		return bt.Subscriber{SubscriptionType: bt.SubscriptionTypeSns, Address: aws.String(u)}
	}
	email := bt.Subscriber{SubscriptionType: bt.SubscriptionTypeEmail, Address: aws.String("finance@example.com")}
	if !t.Run("a budget alerting at 50%, 80% and 90% by webhook, e-mail and Slack", func(t *testing.T) {
		// One call costs about $0.00008: the 50% and 80% thresholds of a
		// $0.0002 budget pass within a few calls.
		if _, err := bc.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: acct,
			Budget: &bt.Budget{BudgetName: aws.String("claims"), BudgetType: bt.BudgetTypeCost, TimeUnit: bt.TimeUnitMonthly, BudgetLimit: usd("0.0002"),
				CostFilters: map[string][]string{"TagKeyValue": {"user:dept$claims"}}},
			NotificationsWithSubscribers: []bt.NotificationWithSubscribers{
				{Notification: nt(50), Subscribers: []bt.Subscriber{sns(hookURL)}},
				{Notification: nt(80), Subscribers: []bt.Subscriber{sns(hookURL), email}},
				{Notification: nt(90), Subscribers: []bt.Subscriber{sns("slack+http://" + slackAddr + "/services/T0/B0/x")}},
			}}); err != nil {
			t.Fatal(err)
		}
	}) {
		return
	}
	if !t.Run("alerts refused while the receiver is down are delivered once it is up", func(t *testing.T) {
		// The receiver is down (503) for the first alerts.
		recv.down.Store(true)
		for range 6 {
			if err := converse(ctx, rc, profileARN); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, "deliveries refused while the receiver is down", func() bool {
			n := 0
			for _, c := range recv.all() {
				if c.status == 503 {
					n++
				}
			}
			return n >= 3
		})
		recv.down.Store(false)
		eventually(t, "both thresholds delivered", func() bool { return len(recv.accepted()) == 2 })
		eventually(t, "the e-mail", func() bool { return len(smtp.Mail()) == 1 })
		eventually(t, "the Slack message", func() bool { return len(slack.all()) == 1 })
	}) {
		return
	}

	if !t.Run("more spend in the same period sends no new alert", func(t *testing.T) {
		// More spend in the same period: no new alert. Evaluate and deliver
		// synchronously so the check does not depend on timing.
		for range 3 {
			if err := converse(ctx, rc, profileARN); err != nil {
				t.Fatal(err)
			}
		}
		ts.Budgets.Service.Evaluate(ctx)
		if _, err := ts.Budgets.Outbox.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		acc := recv.accepted()
		seen := map[string]int{}
		for _, c := range recv.all() {
			if !c.sigOK {
				t.Errorf("delivery %s has a bad signature", c.key)
			}
			if c.status == 200 {
				seen[c.budget+" "+c.notif]++
			}
		}
		if want := map[string]int{"claims ACTUAL/50": 1, "claims ACTUAL/80": 1}; !cmp.Equal(seen, want) {
			t.Errorf("accepted alerts = %v, want exactly one per threshold: %v", seen, want)
		}
		for k, n := range acc {
			if n != 1 {
				t.Errorf("key %s accepted %d times", k, n)
			}
		}
		m := smtp.Mail()
		if len(m) != 1 || m[0].To[0] != "finance@example.com" || !strings.Contains(m[0].Data, "Subject: AWS Budgets: claims has exceeded your alert threshold") {
			t.Errorf("mail = %+v", m)
		}
		sl := slack.all()
		var slackBody struct {
			Text   string `json:"text"`
			Blocks []any  `json:"blocks"`
		}
		if len(sl) != 1 || !sl[0].sigOK || json.Unmarshal([]byte(sl[0].bodyText), &slackBody) != nil || !strings.HasPrefix(slackBody.Text, "AWS Budgets: claims") || len(slackBody.Blocks) == 0 {
			t.Errorf("Slack deliveries = %+v", sl)
		}
	}) {
		return
	}

	t.Run("an alert pending across a Tollgate restart is delivered once", func(t *testing.T) {
		// A second budget crosses its threshold while the receiver is gone
		// (connections refused) and Tollgate restarts before it comes back.
		stopRecv()
		if _, err := bc.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: acct,
			Budget: &bt.Budget{BudgetName: aws.String("claims-2"), BudgetType: bt.BudgetTypeCost, TimeUnit: bt.TimeUnitMonthly, BudgetLimit: usd("0.0001"),
				CostFilters: map[string][]string{"TagKeyValue": {"user:dept$claims"}}},
			NotificationsWithSubscribers: []bt.NotificationWithSubscribers{{Notification: nt(100), Subscribers: []bt.Subscriber{sns(hookURL)}}}}); err != nil {
			t.Fatal(err)
		}
		ts.Budgets.Service.Evaluate(ctx) // already past: the alert is enqueued now
		store := ts.DB.(notify.Store)
		var key string
		eventually(t, "a failed attempt at the second alert", func() bool {
			due, _ := store.DueMessages(ctx, time.Now().Add(time.Hour), 100)
			for _, d := range due {
				if strings.Contains(d.Key, "/claims-2/") && d.Attempts > 0 {
					key = d.Key
					return true
				}
			}
			return false
		})
		ts.stop()
		_, _ = serveOn(t, recv, addr) // the receiver is back, on the same address
		ts = startServer(t, dir, configure)
		eventually(t, "the second alert after the restart", func() bool { return recv.accepted()[key] == 1 })
		// After the restart nothing delivered before goes out again.
		ts.Budgets.Service.Evaluate(ctx)
		if _, err := ts.Budgets.Outbox.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		if acc := recv.accepted(); len(acc) != 3 {
			t.Errorf("accepted keys after the restart = %v, want the 3 alerts once each", acc)
		} else {
			for k, n := range acc {
				if n != 1 {
					t.Errorf("key %s accepted %d times", k, n)
				}
			}
		}
		if len(smtp.Mail()) != 1 || len(slack.all()) != 1 {
			t.Errorf("after the restart: %d mails, %d Slack messages; want 1 and 1", len(smtp.Mail()), len(slack.all()))
		}
	})
}

// createBlockBudget creates a budget on tag dept=value with a BLOCK action
// at 100% of limit.
func createBlockBudget(t *testing.T, bc *budgets.Client, name, value, limit string) {
	t.Helper()
	ctx := t.Context()
	if _, err := bc.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: aws.String(budgetAcct),
		Budget: &bt.Budget{BudgetName: aws.String(name), BudgetType: bt.BudgetTypeCost, TimeUnit: bt.TimeUnitMonthly, BudgetLimit: usd(limit),
			FilterExpression: &bt.Expression{Tags: &bt.TagValues{Key: aws.String("dept"), Values: []string{value}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := bc.CreateBudgetAction(ctx, &budgets.CreateBudgetActionInput{AccountId: aws.String(budgetAcct), BudgetName: aws.String(name),
		NotificationType: bt.NotificationTypeActual, ActionType: "BLOCK",
		ActionThreshold: &bt.ActionThreshold{ActionThresholdType: bt.ThresholdTypePercentage, ActionThresholdValue: 100},
		Definition:      &bt.Definition{}, ExecutionRoleArn: aws.String(""), ApprovalModel: bt.ApprovalModelAuto, Subscribers: []bt.Subscriber{}}); err != nil {
		t.Fatal(err)
	}
}

// TestBudgetBlockUnderConcurrency sends 200 concurrent callers through a
// BLOCK budget. The admission rule (reject when spent + reserved + worst
// case > limit) bounds the overshoot by how much calls cost beyond their
// worst case; the simulator never exceeds it (its output stops at
// maxTokens, its input is under one token per two bytes), so the bound
// asserted is: final spend <= limit.
func TestBudgetBlockUnderConcurrency(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	ctx := t.Context()
	bc := ts.budgets(t)
	profileARN := createProfile(t, ts.bedrock(t), "claims-bot", haikuARN, tagList("dept", "claims")...)
	const limit = "0.005"
	createBlockBudget(t, bc, "claims-block", "claims", limit)
	var ok, blocked atomic.Int64
	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc := ts.runtime(t)
			for range 4 {
				err := converse(ctx, rc, profileARN)
				var qe interface{ ErrorCode() string }
				switch {
				case err == nil:
					ok.Add(1)
				case errors.As(err, &qe) && qe.ErrorCode() == "ServiceQuotaExceededException" && strings.Contains(err.Error(), `"claims-block"`):
					blocked.Add(1)
				default:
					t.Errorf("call: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	spend, recs := ledgerSpend(t, ts, profileARN)
	for _, r := range recs {
		if r.Outcome == ledger.OutcomeSuccess && r.OutputTokens > 64 {
			t.Fatalf("a call produced %d output tokens over maxTokens 64: the worst case did not hold", r.OutputTokens)
		}
	}
	max := money.MustParse(limit)
	t.Logf("%d calls admitted, %d blocked; spend %s of %s", ok.Load(), blocked.Load(), spend, max)
	if spend > max {
		t.Errorf("spend %s exceeds the BLOCK limit %s", spend, max)
	}
	if blocked.Load() == 0 || spend < max/2 {
		t.Errorf("spend %s with %d calls blocked: the budget never filled, so the test proves nothing", spend, blocked.Load())
	}
	d, err := bc.DescribeBudget(ctx, &budgets.DescribeBudgetInput{AccountId: aws.String(budgetAcct), BudgetName: aws.String("claims-block")})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(d.Budget.CalculatedSpend.ActualSpend.Amount); got != spend.Decimal(1) {
		t.Errorf("ActualSpend = %s, the ledger says %s", got, spend.Decimal(1))
	}
	acts, _ := bc.DescribeBudgetActionsForBudget(ctx, &budgets.DescribeBudgetActionsForBudgetInput{AccountId: aws.String(budgetAcct), BudgetName: aws.String("claims-block")})
	if len(acts.Actions) != 1 || acts.Actions[0].ActionType != "BLOCK" {
		t.Errorf("actions = %+v", acts.Actions)
	}
}

// TestBudgetRetagEntersScope retags a profile into and out of a BLOCK
// budget's scope: the next call is blocked, then admitted.
func TestBudgetRetagEntersScope(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	ctx := t.Context()
	br := ts.bedrock(t)
	profileARN := createProfile(t, br, "bot", haikuARN, tagList("dept", "sales")...)
	createBlockBudget(t, ts.budgets(t), "claims-frozen", "claims", "0")
	rc := ts.runtime(t)
	if err := converse(ctx, rc, profileARN); err != nil {
		t.Fatalf("call through a sales profile: %v", err)
	}
	if _, err := br.TagResource(ctx, &bedrock.TagResourceInput{ResourceARN: aws.String(profileARN), Tags: []btypes.Tag{{Key: aws.String("dept"), Value: aws.String("claims")}}}); err != nil {
		t.Fatal(err)
	}
	err := converse(ctx, rc, profileARN)
	wantCode(t, "call after retagging into the budget", err, "ServiceQuotaExceededException")
	if err != nil && !strings.Contains(err.Error(), "claims-frozen") {
		t.Errorf("the refusal does not name the budget: %v", err)
	}
	if _, err := br.UntagResource(ctx, &bedrock.UntagResourceInput{ResourceARN: aws.String(profileARN), TagKeys: []string{"dept"}}); err != nil {
		t.Fatal(err)
	}
	if err := converse(ctx, rc, profileARN); err != nil {
		t.Errorf("call after untagging: %v", err)
	}
}

// TestBudgetDowngradeAndThrottle checks the two other actions end to end.
func TestBudgetDowngradeAndThrottle(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	ctx := t.Context()
	bc := ts.budgets(t)
	acct := aws.String(budgetAcct)
	profileARN := createProfile(t, ts.bedrock(t), "bot", haikuARN, tagList("dept", "claims")...)
	if _, err := bc.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: acct,
		Budget: &bt.Budget{BudgetName: aws.String("claims"), BudgetType: bt.BudgetTypeCost, TimeUnit: bt.TimeUnitMonthly, BudgetLimit: usd("100"),
			CostFilters: map[string][]string{"TagKeyValue": {"user:dept$claims"}}}}); err != nil {
		t.Fatal(err)
	}
	action := func(typ, arg string) {
		t.Helper()
		if _, err := bc.CreateBudgetAction(ctx, &budgets.CreateBudgetActionInput{AccountId: acct, BudgetName: aws.String("claims"),
			NotificationType: bt.NotificationTypeActual, ActionType: bt.ActionType(typ),
			ActionThreshold:  &bt.ActionThreshold{ActionThresholdType: bt.ThresholdTypePercentage, ActionThresholdValue: 0},
			Definition:       &bt.Definition{IamActionDefinition: &bt.IamActionDefinition{PolicyArn: aws.String(arg)}},
			ExecutionRoleArn: aws.String(""), ApprovalModel: bt.ApprovalModelAuto, Subscribers: []bt.Subscriber{}}); err != nil {
			t.Fatal(err)
		}
	}
	const nova = "amazon.nova-micro-v1:0"
	action("DOWNGRADE", nova)
	rc := ts.runtime(t)
	if err := converse(ctx, rc, profileARN); err != nil {
		t.Fatal(err)
	}
	_, recs := ledgerSpend(t, ts, profileARN)
	if len(recs) != 1 || recs[0].ModelID != nova {
		t.Fatalf("records %+v, want one call recorded as %s", recs, nova)
	}
	// An InvokeModel body is in the Anthropic format: it cannot go to Nova,
	// so the call keeps its model.
	body := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}`)
	if _, err := rc.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(profileARN), Body: body, ContentType: aws.String("application/json")}); err != nil {
		t.Fatal(err)
	}
	if _, recs = ledgerSpend(t, ts, profileARN); len(recs) != 2 || recs[1].ModelID != haikuID {
		t.Fatalf("records %+v, want the InvokeModel call kept on %s", recs, haikuID)
	}
	action("THROTTLE", "2")
	var throttled int
	for range 10 {
		if err := converse(ctx, rc, profileARN); errorCode(err) == "ThrottlingException" {
			throttled++
			if !strings.Contains(err.Error(), `"claims"`) {
				t.Errorf("the throttle does not name the budget: %v", err)
			}
		} else if err != nil {
			t.Fatal(err)
		}
	}
	// 10 calls span at most a few calendar minutes, 2 calls each.
	if throttled < 4 {
		t.Errorf("%d of 10 calls throttled at 2 a minute", throttled)
	}
}

// TestBudgetsCLI checks tollgate budgets list and show.
func TestBudgetsCLI(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	ctx := t.Context()
	bc := ts.budgets(t)
	profileARN := createProfile(t, ts.bedrock(t), "bot", haikuARN, tagList("dept", "claims")...)
	createBlockBudget(t, bc, "claims-budget", "claims", "0.001")
	n := bt.Notification{NotificationType: bt.NotificationTypeActual, ComparisonOperator: bt.ComparisonOperatorGreaterThan, Threshold: 80, ThresholdType: bt.ThresholdTypePercentage}
	if _, err := bc.CreateNotification(ctx, &budgets.CreateNotificationInput{AccountId: aws.String(budgetAcct), BudgetName: aws.String("claims-budget"), Notification: &n,
		Subscribers: []bt.Subscriber{{SubscriptionType: bt.SubscriptionTypeEmail, Address: aws.String("fin@example.com")}}}); err != nil {
		t.Fatal(err)
	}
	rc := ts.runtime(t)
	for range 3 {
		if err := converse(ctx, rc, profileARN); err != nil {
			t.Fatal(err)
		}
	}
	spend, _ := ledgerSpend(t, ts, profileARN)
	cli := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		args = append(args, "--data-dir", ts.Config.DataDir)
		if err := run(ctx, append([]string{"budgets"}, args...), &out, io.Discard, func(string) string { return "" }); err != nil {
			t.Fatalf("tollgate budgets %s: %v", strings.Join(args, " "), err)
		}
		return out.String()
	}
	list := cli("list")
	pct := fmt.Sprintf("%.0f%%", 100*float64(spend)/float64(money.MustParse("0.001")))
	for _, want := range []string{"NAME", "claims-budget", "COST", "MONTHLY", "$0.001", "$" + spend.Decimal(2), pct, "[#", "BLOCK@100%"} {
		if !strings.Contains(list, want) {
			t.Errorf("budgets list lacks %q:\n%s", want, list)
		}
	}
	show := cli("show", "claims-budget")
	for _, want := range []string{"Budget:    claims-budget (COST, MONTHLY, account 123456789012)", "Scope:     tag:dept=claims",
		"ACTUAL GREATER_THAN 80%", "fin@example.com", "BLOCK@100%", "History:", "$" + spend.Decimal(2)} {
		if !strings.Contains(show, want) {
			t.Errorf("budgets show lacks %q:\n%s", want, show)
		}
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(cli("list", "--json")), &rows); err != nil || len(rows) != 1 {
		t.Errorf("budgets list --json: %v, %d rows", err, len(rows))
	}
	var buf bytes.Buffer
	if err := run(ctx, []string{"budgets", "show", "nope", "--data-dir", ts.Config.DataDir}, &buf, io.Discard, func(string) string { return "" }); errorCode(err) != "NotFoundException" {
		t.Errorf("budgets show of a missing budget = %v, want NotFoundException", err)
	}
}

// TestBudgetsAccessControl checks the Budgets API authorizes AWS's action
// names: a user allowed budgets:ViewBudget on one budget sees it, and may
// neither change it nor see another.
func TestBudgetsAccessControl(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	ctx := t.Context()
	acct := aws.String(budgetAcct)
	admin := ts.budgets(t)
	for _, name := range []string{"visible", "hidden"} {
		if _, err := admin.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: acct,
			Budget: &bt.Budget{BudgetName: aws.String(name), BudgetType: bt.BudgetTypeCost, TimeUnit: bt.TimeUnitMonthly, BudgetLimit: usd("10")}}); err != nil {
			t.Fatal(err)
		}
	}
	ts.putPolicy(t, budgetAcct, "view-one-budget", `{"Version": "2012-10-17", "Statement": [
		{"Effect": "Allow", "Action": "budgets:ViewBudget", "Resource": "arn:aws:budgets::123456789012:budget/visible"}]}`)
	_, key, secret := ts.newUser(t, budgetAcct, "analyst", []string{"view-one-budget"})
	bc := budgets.NewFromConfig(ts.awsConfig(t), func(o *budgets.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(key, secret, "")
	})
	if _, err := bc.DescribeBudget(ctx, &budgets.DescribeBudgetInput{AccountId: acct, BudgetName: aws.String("visible")}); err != nil {
		t.Errorf("DescribeBudget of the allowed budget: %v", err)
	}
	_, err := bc.DescribeBudget(ctx, &budgets.DescribeBudgetInput{AccountId: acct, BudgetName: aws.String("hidden")})
	wantCode(t, "DescribeBudget of another budget", err, "AccessDeniedException")
	_, err = bc.DeleteBudget(ctx, &budgets.DeleteBudgetInput{AccountId: acct, BudgetName: aws.String("visible")})
	wantCode(t, "DeleteBudget without budgets:ModifyBudget", err, "AccessDeniedException")
}

// TestStalledStreamReleasesItsReservation opens a ConverseStream whose
// client reads the response header and then nothing more, with an output
// larger than every socket buffer on the way. The write that cannot go
// out misses the stream write timeout, which ends the call: it is
// recorded with what it delivered and its BLOCK-budget reservation goes,
// so a call its reservation blocked is admitted again.
func TestStalledStreamReleasesItsReservation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ts := startServer(t, dir, func(c *config.Config) {
		c.StreamWriteTimeout = time.Second
		c.ShutdownTimeout = 2 * time.Second
	})
	ctx := t.Context()
	profileARN := createProfile(t, ts.bedrock(t), "stall-bot", haikuARN, tagList("dept", "claims")...)
	// Both calls reserve maxTokens 1,000,000 of output ($1.25 at Haiku's
	// $1.25 per million), so the stalled call fits under $1.875 but not
	// with the probe beside it; what the stalled call actually costs
	// (100,000 input tokens, $0.025, and at most as many output tokens)
	// leaves room for the probe once its reservation is gone.
	createBlockBudget(t, ts.budgets(t), "stall-block", "claims", "1.875")
	const maxTokens = 1_000_000
	probe := func(t *testing.T) error {
		_, err := ts.runtime(t).Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(profileARN), Messages: userText("ping"),
			InferenceConfig: &rt.InferenceConfiguration{MaxTokens: aws.Int32(maxTokens)}})
		return err
	}
	blocked := func(err error) bool {
		var qe interface{ ErrorCode() string }
		return errors.As(err, &qe) && qe.ErrorCode() == "ServiceQuotaExceededException" && strings.Contains(err.Error(), `"stall-block"`)
	}

	// 100,000 one-letter tokens echoed back: one event each, some 15 MB.
	const words = 100_000
	body, _ := json.Marshal(map[string]any{
		"messages":        []map[string]any{{"role": "user", "content": []map[string]string{{"text": "echo: " + strings.Repeat("a ", words)}}}},
		"inferenceConfig": map[string]int{"maxTokens": maxTokens},
	})
	apiKey := strings.TrimSpace(readFile(t, filepath.Join(dir, "bedrock-api-key")))
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(conn, "POST /model/%s/converse-stream HTTP/1.1\r\nHost: tollgate\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		url.PathEscape(profileARN), apiKey, len(body))
	if _, err := conn.Write(body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 16), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stalled stream: status %d", resp.StatusCode)
	}
	reqID := resp.Header.Get("X-Amzn-RequestId")
	// The client reads nothing more from here on.

	if !t.Run("a probe beside the stalled stream is blocked by its reservation", func(t *testing.T) {
		if err := probe(t); !blocked(err) {
			t.Fatalf("probe beside the stalled stream: %v, want blocked by its reservation", err)
		}
	}) {
		return
	}
	if !t.Run("the write timeout ends the stalled stream and a probe is admitted", func(t *testing.T) {
		start := time.Now()
		for {
			err := probe(t)
			if err == nil {
				break
			}
			if !blocked(err) {
				t.Fatal(err)
			}
			if time.Since(start) > 20*time.Second {
				t.Fatal("the stalled stream still holds its reservation after 20s")
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("probe admitted %v after the stalled stream started", time.Since(start).Round(10*time.Millisecond))
	}) {
		return
	}

	t.Run("the stalled stream is billed, cancelled, for what it delivered", func(t *testing.T) {
		_, recs := ledgerSpend(t, ts, profileARN)
		var rec *ledger.Record
		for i := range recs {
			if recs[i].RequestID == reqID {
				rec = &recs[i]
			}
		}
		if rec == nil {
			t.Fatalf("no record for the stalled stream %s", reqID)
		}
		if rec.Outcome != ledger.OutcomeCancelled || rec.OutputTokens <= 0 || rec.OutputTokens >= words || rec.InputTokens < words || rec.Cost <= 0 {
			t.Errorf("stalled stream record: outcome %s, %d in, %d out, cost %v; want cancelled with part of the %d tokens", rec.Outcome, rec.InputTokens, rec.OutputTokens, rec.Cost, words)
		}
		t.Logf("the stalled stream delivered %d of %d tokens", rec.OutputTokens, words)
	})
}

// TestBudgetsUpdateCLI checks that budgets update changes a budget as one
// update: an alert at a threshold the budget has adds its subscriber, an
// enforcement of the same type is updated in place, and when a later step
// is refused the earlier ones are undone and the error says nothing
// changed.
func TestBudgetsUpdateCLI(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	ctx := t.Context()
	acct, name := aws.String(budgetAcct), aws.String("team-chat")
	bc := ts.budgets(t)
	ts.mustCLI(t, nil, "budgets", "create", "team-chat", "--account", budgetAcct, "--limit", "100", "--scope", "dept=sales",
		"--alert", "80%:email=fin@example.com", "--enforce", "throttle=60/min")
	actions := func() []bt.Action {
		t.Helper()
		out, err := bc.DescribeBudgetActionsForBudget(ctx, &budgets.DescribeBudgetActionsForBudgetInput{AccountId: acct, BudgetName: name})
		if err != nil {
			t.Fatal(err)
		}
		return out.Actions
	}
	before := actions()
	if len(before) != 1 {
		t.Fatalf("%d actions after create, want 1", len(before))
	}

	t.Run("alert at an existing threshold and same enforcement type", func(t *testing.T) {
		ts.mustCLI(t, nil, "budgets", "update", "team-chat", "--account", budgetAcct, "--limit", "120",
			"--alert", "80%:email=ops@example.com", "--alert", "80%:email=fin@example.com", "--enforce", "throttle=120/min")
		d, err := bc.DescribeBudget(ctx, &budgets.DescribeBudgetInput{AccountId: acct, BudgetName: name, ShowFilterExpression: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(d.Budget.BudgetLimit.Amount); money.MustParse(got) != money.MustParse("120") {
			t.Errorf("limit %s, want 120", got)
		}
		if d.Budget.FilterExpression == nil || d.Budget.FilterExpression.Tags == nil || aws.ToString(d.Budget.FilterExpression.Tags.Key) != "dept" {
			t.Errorf("scope lost by the update: %+v", d.Budget.FilterExpression)
		}
		ns, err := bc.DescribeNotificationsForBudget(ctx, &budgets.DescribeNotificationsForBudgetInput{AccountId: acct, BudgetName: name})
		if err != nil || len(ns.Notifications) != 1 {
			t.Fatalf("notifications %+v, %v; want the one at 80%%", ns, err)
		}
		subs, err := bc.DescribeSubscribersForNotification(ctx, &budgets.DescribeSubscribersForNotificationInput{AccountId: acct, BudgetName: name,
			Notification: &ns.Notifications[0]})
		if err != nil {
			t.Fatal(err)
		}
		var addrs []string
		for _, s := range subs.Subscribers {
			addrs = append(addrs, aws.ToString(s.Address))
		}
		sort.Strings(addrs)
		if diff := cmp.Diff(addrs, []string{"fin@example.com", "ops@example.com"}); diff != "" {
			t.Errorf("subscribers (-got +want):\n%s", diff)
		}
		after := actions()
		if len(after) != 1 || aws.ToString(after[0].ActionId) != aws.ToString(before[0].ActionId) {
			t.Fatalf("actions %+v: want the same action updated in place", after)
		}
		if arn := aws.ToString(after[0].Definition.IamActionDefinition.PolicyArn); arn != "120" {
			t.Errorf("THROTTLE rate %q after update, want 120 requests per minute", arn)
		}
	})

	t.Run("refused step undoes the earlier ones", func(t *testing.T) {
		// May change the budget and its alerts, not its actions.
		ts.putPolicy(t, budgetAcct, "budget-editor", `{"Version": "2012-10-17", "Statement": [
			{"Effect": "Allow", "Action": ["budgets:ViewBudget", "budgets:ModifyBudget", "budgets:DescribeBudgetActionsForBudget"], "Resource": "*"}]}`)
		_, key, secret := ts.newUser(t, budgetAcct, "editor", []string{"budget-editor"})
		err := ts.cliAs(t, key, secret, nil, "budgets", "update", "team-chat", "--account", budgetAcct, "--limit", "5",
			"--alert", "50%:email=early@example.com", "--enforce", "block")
		if err == nil || !strings.Contains(err.Error(), "not updated") || !strings.Contains(err.Error(), "nothing was changed") ||
			errorCode(err) != "AccessDeniedException" {
			t.Fatalf("update refused its enforcement: %v; want AccessDeniedException and nothing changed", err)
		}
		d, err := bc.DescribeBudget(ctx, &budgets.DescribeBudgetInput{AccountId: acct, BudgetName: name})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(d.Budget.BudgetLimit.Amount); money.MustParse(got) != money.MustParse("120") {
			t.Errorf("limit %s after the refused update, want 120 restored", got)
		}
		ns, err := bc.DescribeNotificationsForBudget(ctx, &budgets.DescribeNotificationsForBudgetInput{AccountId: acct, BudgetName: name})
		if err != nil || len(ns.Notifications) != 1 {
			t.Errorf("notifications after the refused update: %+v, %v; want only the one at 80%%", ns, err)
		}
		if after := actions(); len(after) != 1 || after[0].ActionType != "THROTTLE" {
			t.Errorf("actions after the refused update: %+v", after)
		}
	})

	t.Run("another enforcement type replaces the old", func(t *testing.T) {
		ts.mustCLI(t, nil, "budgets", "update", "team-chat", "--account", budgetAcct, "--enforce", "block")
		after := actions()
		if len(after) != 1 || after[0].ActionType != "BLOCK" || aws.ToString(after[0].ActionId) == aws.ToString(before[0].ActionId) {
			t.Errorf("actions after --enforce block: %+v", after)
		}
		ts.mustCLI(t, nil, "budgets", "update", "team-chat", "--account", budgetAcct, "--enforce", "none")
		if after := actions(); len(after) != 0 {
			t.Errorf("actions after --enforce none: %+v", after)
		}
	})
}
