package main

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/budgets"
	bt "github.com/aws/aws-sdk-go-v2/service/budgets/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/money"
)

// TestBudgetEnforcementVisible drives a BLOCK budget until it refuses a
// call whose worst case would cross its limit while actual spend is still
// below it, and checks, through the AWS SDK, that the action reports
// EXECUTION_SUCCESS with its reason in its history, that its subscriber
// hears once of the engagement and once of the release, that /metrics
// shows the enforcement, and that a shadow (MANUAL) twin refuses nothing
// and reports PENDING.
func TestBudgetEnforcementVisible(t *testing.T) {
	t.Parallel()
	secret := []byte("enforcement-secret")
	ts := startServer(t, "", func(c *config.Config) {
		allowLoopback(c)
		c.Secrets.WebhookSecret = string(secret)
		c.NotifyRetry = 20 * time.Millisecond
		// Long enough that the checks below read the gauge while the
		// BLOCK is engaged, however loaded the machine.
		c.BudgetEnforcementHold = 3 * time.Second
		c.BudgetEvalInterval = 50 * time.Millisecond
	})
	ctx := t.Context()
	recv := &hookReceiver{secret: secret}
	addr, _ := serveOn(t, recv, "127.0.0.1:0")
	bc := ts.budgets(t)
	acct := aws.String(budgetAcct)
	profileARN := createProfile(t, ts.bedrock(t), "claims-bot", haikuARN, tagList("dept", "claims")...)
	shadowARN := createProfile(t, ts.bedrock(t), "sales-bot", haikuARN, tagList("dept", "sales")...)
	mk := func(name, dept string, approval bt.ApprovalModel, hook string) string {
		if _, err := bc.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: acct,
			Budget: &bt.Budget{BudgetName: aws.String(name), BudgetType: bt.BudgetTypeCost, TimeUnit: bt.TimeUnitMonthly, BudgetLimit: usd("0.0003"),
				FilterExpression: &bt.Expression{Tags: &bt.TagValues{Key: aws.String("dept"), Values: []string{dept}}}}}); err != nil {
			t.Fatal(err)
		}
		subs := []bt.Subscriber{}
		if hook != "" {
			subs = append(subs, bt.Subscriber{SubscriptionType: bt.SubscriptionTypeSns, Address: aws.String(hook)})
		}
		out, err := bc.CreateBudgetAction(ctx, &budgets.CreateBudgetActionInput{AccountId: acct, BudgetName: aws.String(name),
			NotificationType: bt.NotificationTypeActual, ActionType: "BLOCK",
			ActionThreshold: &bt.ActionThreshold{ActionThresholdType: bt.ThresholdTypePercentage, ActionThresholdValue: 100},
			Definition:      &bt.Definition{}, ExecutionRoleArn: aws.String(""), ApprovalModel: approval, Subscribers: subs})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.ActionId)
	}
	blockID := mk("claims-block", "claims", bt.ApprovalModelAuto, "http://"+addr+"/hooks/enforce")
	shadowID := mk("sales-shadow", "sales", bt.ApprovalModelManual, "")
	status := func(name, id string) bt.ActionStatus {
		out, err := bc.DescribeBudgetAction(ctx, &budgets.DescribeBudgetActionInput{AccountId: acct, BudgetName: aws.String(name), ActionId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		return out.Action.Status
	}
	rc := ts.runtime(t)

	refused := false
	for range 40 {
		err := converse(ctx, rc, profileARN)
		if errorCode(err) == "ServiceQuotaExceededException" {
			refused = true
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	spend, _ := ledgerSpend(t, ts, profileARN)
	if !refused || spend >= money.MustParse("0.0003") {
		t.Fatalf("refused %v at spend %s: the test needs a refusal below the limit", refused, spend)
	}
	eventually(t, "the action reported EXECUTION_SUCCESS", func() bool { return status("claims-block", blockID) == bt.ActionStatusExecutionSuccess })
	hist, err := bc.DescribeBudgetActionHistories(ctx, &budgets.DescribeBudgetActionHistoriesInput{AccountId: acct, BudgetName: aws.String("claims-block"), ActionId: aws.String(blockID)})
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, h := range hist.ActionHistories {
		events = append(events, string(h.EventType)+" "+string(h.Status)+" "+aws.ToString(h.ActionHistoryDetails.Message))
	}
	if len(events) < 2 || !strings.HasPrefix(events[0], "CREATE_ACTION STANDBY") ||
		!strings.Contains(events[1], "SYSTEM EXECUTION_SUCCESS BLOCK engaged: the reserved worst case of the calls in flight would cross") {
		t.Errorf("histories =\n%s", strings.Join(events, "\n"))
	}
	// One more refusal keeps the BLOCK engaged (the hold starts again)
	// while the gauge is read.
	if err := converse(ctx, rc, profileARN); errorCode(err) != "ServiceQuotaExceededException" {
		t.Fatalf("a call while the BLOCK is engaged = %v, want ServiceQuotaExceededException", err)
	}
	resp, err := ts.getMetrics(t)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if g := grepLines(string(body), "tollgate_budget_enforcement_active{"); !strings.Contains(g, `budget="claims-block",mode="enforce",type="BLOCK"} 1`) {
		t.Errorf("enforcement gauge:\n%s", g)
	}

	// CloudWatch: Tollgate/Budgets EnforcementActive for the action.
	cw := cloudwatch.NewFromConfig(ts.awsConfig(t))
	eventually(t, "EnforcementActive 1 in CloudWatch", func() bool {
		out, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("Tollgate/Budgets"), MetricName: aws.String("EnforcementActive"),
			Dimensions: []cwtypes.Dimension{{Name: aws.String("BudgetName"), Value: aws.String("claims-block")}, {Name: aws.String("ActionId"), Value: aws.String(blockID)}},
			StartTime:  aws.Time(time.Now().Add(-time.Hour)), EndTime: aws.Time(time.Now().Add(time.Minute)), Period: aws.Int32(60),
			Statistics: []cwtypes.Statistic{cwtypes.StatisticMaximum}})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range out.Datapoints {
			if aws.ToFloat64(d.Maximum) == 1 {
				return true
			}
		}
		return false
	})
	lm, err := cw.ListMetrics(ctx, &cloudwatch.ListMetricsInput{Namespace: aws.String("Tollgate/Budgets")})
	if err != nil || len(lm.Metrics) == 0 {
		t.Errorf("ListMetrics(Tollgate/Budgets) = %+v, %v", lm, err)
	}

	// No more calls: the BLOCK releases after the hold.
	eventually(t, "the action back to STANDBY", func() bool { return status("claims-block", blockID) == bt.ActionStatusStandby })
	eventually(t, "the engagement and the release delivered", func() bool { return len(recv.accepted()) == 2 })
	var texts []string
	for k, n := range recv.accepted() {
		if n != 1 {
			t.Errorf("message %s delivered %d times", k, n)
		}
		texts = append(texts, k)
	}
	if s := strings.Join(texts, " "); !strings.Contains(s, "/released/") {
		t.Errorf("deliveries %s: no release", s)
	}

	// The shadow refuses nothing and reports PENDING.
	for range 15 {
		if err := converse(ctx, rc, shadowARN); err != nil {
			var qe interface{ ErrorCode() string }
			if errors.As(err, &qe) {
				t.Fatalf("shadow budget refused a call: %v", err)
			}
			t.Fatal(err)
		}
	}
	eventually(t, "the shadow action reported PENDING", func() bool { return status("sales-shadow", shadowID) == bt.ActionStatusPending })
	resp, err = ts.getMetrics(t)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if g := grepLines(string(body), "tollgate_budget_shadow_refusals_total{"); !strings.Contains(g, `budget="sales-shadow",mode="shadow"`) || strings.Contains(g, "} 0") {
		t.Errorf("shadow refusals counter:\n%s", g)
	}
}
