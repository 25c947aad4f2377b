package cli

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	btypes "github.com/aws/aws-sdk-go-v2/service/budgets/types"
	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/alarm"
	"github.com/tollgate-dev/tollgate/internal/anomaly"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name.golden, or rewrites the file
// with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(got), string(want)); diff != "" {
		t.Errorf("%s (-got +want):\n%s", path, diff)
	}
}

var (
	t0   = time.Date(2026, 11, 3, 14, 5, 6, 789_000_000, time.UTC)
	usd  = func(s string) *btypes.Spend { return &btypes.Spend{Amount: aws.String(s), Unit: aws.String("USD")} }
	date = func(y int, m time.Month, d int) *time.Time { t := time.Date(y, m, d, 0, 0, 0, 0, time.UTC); return &t }
)

func TestRenderers(t *testing.T) {
	t.Run("budgets list", func(t *testing.T) {
		all := []btypes.Budget{
			{BudgetName: aws.String("sales-chat"), BudgetType: btypes.BudgetTypeCost, TimeUnit: btypes.TimeUnitMonthly,
				BudgetLimit:     usd("10000.0"),
				CalculatedSpend: &btypes.CalculatedSpend{ActualSpend: usd("4200.5"), ForecastedSpend: usd("9100.25")}},
			{BudgetName: aws.String("claims-overrun"), BudgetType: btypes.BudgetTypeCost, TimeUnit: btypes.TimeUnitMonthly,
				BudgetLimit:     usd("100"),
				CalculatedSpend: &btypes.CalculatedSpend{ActualSpend: usd("130"), ForecastedSpend: usd("180")}},
			{BudgetName: aws.String("tokens"), BudgetType: btypes.BudgetTypeUsage, TimeUnit: btypes.TimeUnitDaily,
				BudgetLimit: &btypes.Spend{Amount: aws.String("1000000"), Unit: aws.String("Tokens")}},
		}
		actions := map[string][]btypes.Action{
			"claims-overrun": {
				{ActionType: "THROTTLE", Status: btypes.ActionStatusExecutionSuccess,
					Definition:      &btypes.Definition{IamActionDefinition: &btypes.IamActionDefinition{PolicyArn: aws.String("60")}},
					ActionThreshold: &btypes.ActionThreshold{ActionThresholdValue: 80, ActionThresholdType: btypes.ThresholdTypePercentage}},
				{ActionType: "BLOCK", Status: btypes.ActionStatusStandby,
					ActionThreshold: &btypes.ActionThreshold{ActionThresholdValue: 150, ActionThresholdType: btypes.ThresholdTypeAbsoluteValue}},
			},
		}
		var buf bytes.Buffer
		if err := printBudgets(&buf, "123456789012", all, actions, 20); err != nil {
			t.Fatal(err)
		}
		if err := printBudgets(&buf, "210987654321", nil, nil, 20); err != nil {
			t.Fatal(err)
		}
		golden(t, "budgets_list", buf.Bytes())
	})

	t.Run("budgets show", func(t *testing.T) {
		d := budgetDetail{
			Account: "123456789012",
			Budget: btypes.Budget{BudgetName: aws.String("sales-chat"), BudgetType: btypes.BudgetTypeCost, TimeUnit: btypes.TimeUnitMonthly,
				BudgetLimit:     usd("10000.0"),
				TimePeriod:      &btypes.TimePeriod{Start: date(2026, 1, 1), End: date(2087, 6, 15)},
				CalculatedSpend: &btypes.CalculatedSpend{ActualSpend: usd("4200.5"), ForecastedSpend: usd("9100.25")},
				FilterExpression: &btypes.Expression{And: []btypes.Expression{
					{Tags: &btypes.TagValues{Key: aws.String("dept"), Values: []string{"sales"}}},
					{Tags: &btypes.TagValues{Key: aws.String("app"), Values: []string{"chat_app"}, MatchOptions: []btypes.MatchOption{btypes.MatchOptionEquals}}},
					{Not: &btypes.Expression{Dimensions: &btypes.ExpressionDimensionValues{Key: "REGION", Values: []string{"eu-west-1", "eu-central-1"}}}},
				}}},
			Notifications: []btypes.Notification{
				{NotificationType: btypes.NotificationTypeActual, ComparisonOperator: btypes.ComparisonOperatorGreaterThan, Threshold: 80,
					ThresholdType: btypes.ThresholdTypePercentage, NotificationState: btypes.NotificationStateOk},
				{NotificationType: btypes.NotificationTypeForecasted, ComparisonOperator: btypes.ComparisonOperatorGreaterThan, Threshold: 9000,
					ThresholdType: btypes.ThresholdTypeAbsoluteValue, NotificationState: btypes.NotificationStateAlarm},
			},
			Subscribers: [][]btypes.Subscriber{
				{{SubscriptionType: btypes.SubscriptionTypeEmail, Address: aws.String("finance@example.com")}},
				{{SubscriptionType: btypes.SubscriptionTypeSns, Address: aws.String("https://hooks.example.com/budget")},
					{SubscriptionType: btypes.SubscriptionTypeEmail, Address: aws.String("sales-lead@example.com")}},
			},
			Actions: []btypes.Action{{ActionType: "BLOCK", Status: btypes.ActionStatusStandby, ActionId: aws.String("act-1"),
				ActionThreshold: &btypes.ActionThreshold{ActionThresholdValue: 100, ActionThresholdType: btypes.ThresholdTypePercentage}}},
			History: []btypes.BudgetedAndActualAmounts{
				{TimePeriod: &btypes.TimePeriod{Start: date(2026, 9, 1), End: date(2026, 10, 1)}, BudgetedAmount: usd("10000"), ActualAmount: usd("8000")},
				{TimePeriod: &btypes.TimePeriod{Start: date(2026, 10, 1), End: date(2026, 11, 1)}, BudgetedAmount: usd("10000"), ActualAmount: usd("11000")},
			},
		}
		var buf bytes.Buffer
		if err := printBudget(&buf, d, 20); err != nil {
			t.Fatal(err)
		}
		golden(t, "budgets_show", buf.Bytes())
	})

	t.Run("report", func(t *testing.T) {
		q := costquery.Query{Granularity: costquery.Daily, GroupBy: []costquery.GroupBy{
			{Type: costquery.GroupTag, Key: "dept"}, {Type: costquery.GroupDimension, Key: costquery.DimModel}}}
		tot := func(cost string, usage int64) ReportTotals {
			return ReportTotalsOf(costquery.Totals{Cost: money.MustParse(cost), Usage: usage})
		}
		r := Report{From: "2026-11-01", To: "2026-11-03", Granularity: "DAILY", GroupBy: []string{"tag:dept", "model"},
			Filters: []string{"tag:environment=prod"},
			Periods: []ReportPeriod{
				{Start: "2026-11-01", End: "2026-11-02", ReportTotals: tot("12.345", 30000), Groups: []ReportGroup{
					{Keys: []string{"claims", "anthropic.claude-3-haiku-20240307-v1:0"}, ReportTotals: tot("10.005", 25000), Share: "81.0%", Change: "+12.5%"},
					{Keys: []string{"", "amazon.nova-lite-v1:0"}, ReportTotals: tot("2.34", 5000), Share: "19.0%", Change: "new"},
				}},
				{Start: "2026-11-02", End: "2026-11-03", Estimated: true, ReportTotals: tot("1.5", 4000), Groups: []ReportGroup{
					{Keys: []string{"sales", ""}, ReportTotals: tot("1.5", 4000), Share: "100.0%", Change: "-3.0%"},
				}},
			},
			Total: tot("13.845", 34000)}
		var buf bytes.Buffer
		if err := printReport(&buf, r, q); err != nil {
			t.Fatal(err)
		}
		empty := Report{From: "2026-12-01", To: "2027-01-01", Granularity: "MONTHLY",
			Periods: []ReportPeriod{{Start: "2026-12-01", End: "2027-01-01", ReportTotals: tot("0", 0)}}, Total: tot("0", 0)}
		if err := printReport(&buf, empty, costquery.Query{Granularity: costquery.Monthly}); err != nil {
			t.Fatal(err)
		}
		// By profile: names beside the ARNs, and the --top row.
		pq := costquery.Query{Granularity: costquery.Monthly, GroupBy: []costquery.GroupBy{{Type: costquery.GroupDimension, Key: costquery.DimResourceID}}}
		byProfile := Report{From: "2026-11-01", To: "2026-12-01", Granularity: "MONTHLY", GroupBy: []string{"profile"},
			Periods: []ReportPeriod{{Start: "2026-11-01", End: "2026-12-01", ReportTotals: tot("100", 9000), Groups: []ReportGroup{
				{Keys: []string{"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"}, Names: []string{"claims-bot"},
					ReportTotals: tot("70", 6000), Share: "70.0%", Change: "+40.0%"},
				{Keys: []string{"arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0"}, Names: []string{""},
					ReportTotals: tot("20.123456789", 2000), Share: "20.1%"},
				{Keys: []string{"(2 others)"}, Other: true, ReportTotals: tot("9.876543211", 1000), Share: "9.9%"},
			}}}, Total: tot("100", 9000)}
		if err := printReport(&buf, byProfile, pq); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"json", "csv"} {
			fmt.Fprintf(&buf, "-o %s\n", f)
			if f == "json" {
				if err := writeJSON(&buf, byProfile); err != nil {
					t.Fatal(err)
				}
			} else if err := render(&buf, f, reportDataset(byProfile, pq, false)); err != nil {
				t.Fatal(err)
			}
		}
		golden(t, "report", buf.Bytes())
	})

	t.Run("usage", func(t *testing.T) {
		recs := []ledger.Record{
			{Time: t0, RequestID: "req-1", Operation: "Converse", ProfileID: "a1b2c3d4e5f6", ModelID: "anthropic.claude-3-haiku-20240307-v1:0",
				RegionServed: "us-east-1", InputTokens: 1200, OutputTokens: 300, CacheReadTokens: 50, CacheWriteTokens: 10, LatencyMs: 412,
				Outcome: "success", Cost: money.MustParse("0.000712500"), Priced: true},
			{Time: t0.Add(time.Minute), RequestID: "req-2", Operation: "InvokeModelWithResponseStream", ModelID: "custom.model-v1",
				RegionServed: "us-west-2", InputTokens: 10, LatencyMs: 3, Outcome: "throttled"},
		}
		var buf bytes.Buffer
		if err := printUsage(&buf, recs); err != nil {
			t.Fatal(err)
		}
		golden(t, "usage", buf.Bytes())
	})

	t.Run("anomalies list", func(t *testing.T) {
		const mon = "arn:aws:ce::123456789012:anomalymonitor/m-1"
		as := []anomaly.Anomaly{
			{ID: "an-2", MonitorARN: mon, DimensionValue: "sales", Start: t0.Truncate(time.Hour), End: t0.Truncate(time.Hour).Add(2 * time.Hour),
				Open: true, MaxScore: 7.25, Actual: money.MustParse("120.456"), Expected: money.MustParse("20"),
				RootCauses: []anomaly.RootCause{{Account: "123456789012", Region: "us-east-1", UsageType: "USE1-Claude3Haiku-output-tokens",
					ProfileARN: "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6", PrincipalID: "p-sales",
					Contribution: money.MustParse("99.9")}}},
			{ID: "an-1", MonitorARN: mon, DimensionValue: "claims", Start: t0.Add(-48 * time.Hour).Truncate(time.Hour),
				End: t0.Add(-40 * time.Hour).Truncate(time.Hour), Adapted: true, Feedback: anomaly.Feedback("PLANNED_ACTIVITY"),
				MaxScore: 3, Actual: money.MustParse("10"), Expected: money.MustParse("12.5")},
		}
		var buf bytes.Buffer
		if err := printAnomalyList(&buf, as, map[string]string{mon: "by-dept"}); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"json", "yaml", "csv"} {
			fmt.Fprintf(&buf, "-o %s\n", f)
			if err := render(&buf, f, anomaliesDataset(as, map[string]string{mon: "by-dept"})); err != nil {
				t.Fatal(err)
			}
		}
		fmt.Fprintln(&buf, "show -o json")
		if err := renderObject(&buf, "json", anomalyObject(as[0], "by-dept")); err != nil {
			t.Fatal(err)
		}
		if err := printAnomalyList(&buf, nil, nil); err != nil {
			t.Fatal(err)
		}
		golden(t, "anomalies_list", buf.Bytes())
	})

	t.Run("alarms list", func(t *testing.T) {
		alarms := []alarm.Alarm{
			{Account: "123456789012", Name: "claims-invocations", Namespace: "AWS/Bedrock", MetricName: "Invocations",
				Dimensions: []alarm.Dimension{{Name: "ModelId", Value: "a1b2c3d4e5f6"}}, Statistic: "Sum", Period: time.Minute,
				EvaluationPeriods: 3, DatapointsToAlarm: 2, Threshold: 100, ComparisonOperator: alarm.GreaterThanThreshold,
				ActionsEnabled: true, AlarmActions: []string{"https://hooks.example.com/alarm"},
				State: alarm.State("ALARM"), StateReason: "Threshold Crossed: 2 out of the last 3 datapoints [150.0, 120.0] were greater than the threshold (100.0).",
				StateTransitioned: t0},
			{Account: "123456789012", Name: "latency", Namespace: "AWS/Bedrock", MetricName: "InvocationLatency", ExtendedStatistic: "p99",
				Period: 5 * time.Minute, EvaluationPeriods: 1, Threshold: 2000, ComparisonOperator: alarm.GreaterThanOrEqualToThreshold,
				TreatMissingData: "notBreaching", State: alarm.State("OK"), StateReason: "ok", StateTransitioned: t0.Add(-time.Hour)},
			{Account: "210987654321", Name: "muted", Namespace: "AWS/Bedrock", MetricName: "Invocations", Statistic: "Sum", Period: time.Hour,
				EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: alarm.LessThanThreshold, AlarmActions: []string{"x"},
				State: alarm.State("INSUFFICIENT_DATA"), StateTransitioned: t0},
		}
		var buf bytes.Buffer
		if err := printAlarms(&buf, alarms); err != nil {
			t.Fatal(err)
		}
		if err := printAlarmHistory(&buf, []alarm.HistoryItem{{Account: "123456789012", AlarmName: "claims-invocations",
			Type: "StateUpdate", Summary: "Alarm updated from OK to ALARM", Time: t0}}); err != nil {
			t.Fatal(err)
		}
		golden(t, "alarms_list", buf.Bytes())
	})
}
