package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/budgets"
	bt "github.com/aws/aws-sdk-go-v2/service/budgets/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	ce "github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"

	"github.com/tollgate-dev/tollgate/internal/money"
)

// The names of what Seed creates.
const (
	SalesBudgetName   = "sales-support-chat"
	ClaimsBudgetName  = "claims-automation"
	ClaimsAlarmName   = "claims-chatbot-invocation-limit"
	SalesMonitorName  = "sales support chat"
	claimsProfileName = "claims-chatbot-prod"
)

// Seeded is what Seed created.
type Seeded struct {
	MonitorARN string
}

// Seed creates, through the official AWS SDK, what the scenario sets up
// on top of the profiles: the $10,000 monthly budget on the sales support
// chat (dept=sales, team=support, app=chat_app), a monthly budget on the
// claims department whose limit claimsMTD is 90% of (near its 100%
// alert), an invocation-limit alarm on the claims chatbot profile, and a
// cost anomaly monitor on the sales chat. Existing ones are kept (a
// second demo run on the same data directory).
func Seed(ctx context.Context, cfg aws.Config, account string, arns map[string]string, claimsMTD money.Amount) (Seeded, error) {
	bc := budgets.NewFromConfig(cfg)
	tag := func(k, v string) bt.Expression {
		return bt.Expression{Tags: &bt.TagValues{Key: aws.String(k), Values: []string{v}}}
	}
	exists := func(err error) bool {
		var dup *bt.DuplicateRecordException
		return errors.As(err, &dup)
	}
	if _, err := bc.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: aws.String(account), Budget: &bt.Budget{
		BudgetName: aws.String(SalesBudgetName), BudgetType: bt.BudgetTypeCost, TimeUnit: bt.TimeUnitMonthly,
		BudgetLimit:      &bt.Spend{Amount: aws.String(SalesChatBudget.Decimal(2)), Unit: aws.String("USD")},
		FilterExpression: &bt.Expression{And: []bt.Expression{tag("dept", "sales"), tag("team", "support"), tag("app", "chat_app")}},
	}}); err != nil && !exists(err) {
		return Seeded{}, fmt.Errorf("budget %s: %w", SalesBudgetName, err)
	}
	limit := max(claimsMTD*10/9, money.Dollar)
	limit = (limit + money.Dollar - 1) / money.Dollar * money.Dollar
	if _, err := bc.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: aws.String(account), Budget: &bt.Budget{
		BudgetName: aws.String(ClaimsBudgetName), BudgetType: bt.BudgetTypeCost, TimeUnit: bt.TimeUnitMonthly,
		BudgetLimit:      &bt.Spend{Amount: aws.String(limit.Decimal(2)), Unit: aws.String("USD")},
		FilterExpression: &bt.Expression{Tags: &bt.TagValues{Key: aws.String("dept"), Values: []string{"claims"}}},
	}, NotificationsWithSubscribers: []bt.NotificationWithSubscribers{{
		// AWS's suggested first alert: at 90% of the limit, this one is
		// crossed, so the budget shows "Threshold reached".
		Notification: &bt.Notification{NotificationType: bt.NotificationTypeActual, ComparisonOperator: bt.ComparisonOperatorGreaterThan,
			Threshold: 80, ThresholdType: bt.ThresholdTypePercentage},
		Subscribers: []bt.Subscriber{{SubscriptionType: bt.SubscriptionTypeEmail, Address: aws.String("claims-finance@acme-insurance.example")}},
	}, {
		Notification: &bt.Notification{NotificationType: bt.NotificationTypeActual, ComparisonOperator: bt.ComparisonOperatorGreaterThan,
			Threshold: 100, ThresholdType: bt.ThresholdTypePercentage},
		Subscribers: []bt.Subscriber{{SubscriptionType: bt.SubscriptionTypeEmail, Address: aws.String("claims-finance@acme-insurance.example")}},
	}}}); err != nil && !exists(err) {
		return Seeded{}, fmt.Errorf("budget %s: %w", ClaimsBudgetName, err)
	}

	cw := cloudwatch.NewFromConfig(cfg)
	if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String(ClaimsAlarmName),
		AlarmDescription: aws.String("More than 500 calls in 5 minutes through the claims chatbot profile"),
		Namespace:        aws.String("AWS/Bedrock"), MetricName: aws.String("Invocations"),
		Dimensions: []cwtypes.Dimension{{Name: aws.String("ModelId"), Value: aws.String(arns[claimsProfileName])}},
		Statistic:  cwtypes.StatisticSum, Period: aws.Int32(300), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(500),
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold, TreatMissingData: aws.String("notBreaching"),
	}); err != nil {
		return Seeded{}, fmt.Errorf("alarm %s: %w", ClaimsAlarmName, err)
	}

	cc := ce.NewFromConfig(cfg)
	mons, err := cc.GetAnomalyMonitors(ctx, &ce.GetAnomalyMonitorsInput{})
	if err != nil {
		return Seeded{}, fmt.Errorf("anomaly monitors: %w", err)
	}
	for _, m := range mons.AnomalyMonitors {
		if aws.ToString(m.MonitorName) == SalesMonitorName {
			return Seeded{MonitorARN: aws.ToString(m.MonitorArn)}, nil
		}
	}
	mon, err := cc.CreateAnomalyMonitor(ctx, &ce.CreateAnomalyMonitorInput{AnomalyMonitor: &cetypes.AnomalyMonitor{
		MonitorName: aws.String(SalesMonitorName), MonitorType: cetypes.MonitorTypeCustom,
		MonitorSpecification: &cetypes.Expression{Tags: &cetypes.TagValues{Key: aws.String("app"), Values: []string{"chat_app"}}},
	}})
	if err != nil {
		return Seeded{}, fmt.Errorf("anomaly monitor: %w", err)
	}
	return Seeded{MonitorARN: aws.ToString(mon.MonitorArn)}, nil
}

// Summary prints, through the SDK, the seeded budgets' spend against their
// limits, the alarm's state and the anomalies the monitor found since
// since.
func Summary(ctx context.Context, cfg aws.Config, account string, s Seeded, since time.Time, w io.Writer) error {
	bc := budgets.NewFromConfig(cfg)
	fmt.Fprintf(w, "\nBudgets\n")
	for _, name := range []string{SalesBudgetName, ClaimsBudgetName} {
		b, err := bc.DescribeBudget(ctx, &budgets.DescribeBudgetInput{AccountId: aws.String(account), BudgetName: aws.String(name)})
		if err != nil {
			return fmt.Errorf("budget %s: %w", name, err)
		}
		limit, _ := money.Parse(aws.ToString(b.Budget.BudgetLimit.Amount))
		var actual, forecast money.Amount
		if cs := b.Budget.CalculatedSpend; cs != nil {
			if cs.ActualSpend != nil {
				actual, _ = money.Parse(aws.ToString(cs.ActualSpend.Amount))
			}
			if cs.ForecastedSpend != nil {
				forecast, _ = money.Parse(aws.ToString(cs.ForecastedSpend.Amount))
			}
		}
		state := "under budget"
		if actual > limit {
			state = "EXCEEDED"
		} else if limit > 0 && actual*10 >= limit*8 {
			state = "near its limit"
		}
		pct := 0.0
		if limit > 0 {
			pct = 100 * float64(actual) / float64(limit)
		}
		fmt.Fprintf(w, "  %-20s limit $%s  actual $%s (%.0f%%, %s)  forecast $%s\n", name, USD(limit), USD(actual), pct, state, USD(forecast))
	}
	cw := cloudwatch.NewFromConfig(cfg)
	al, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{ClaimsAlarmName}})
	if err != nil {
		return fmt.Errorf("alarm: %w", err)
	}
	fmt.Fprintf(w, "\nAlarms\n")
	for _, a := range al.MetricAlarms {
		fmt.Fprintf(w, "  %-32s %s (Invocations > %g in 5 minutes)\n", aws.ToString(a.AlarmName), a.StateValue, aws.ToFloat64(a.Threshold))
	}
	cc := ce.NewFromConfig(cfg)
	got, err := cc.GetAnomalies(ctx, &ce.GetAnomaliesInput{MonitorArn: aws.String(s.MonitorARN),
		DateInterval: &cetypes.AnomalyDateInterval{StartDate: aws.String(since.UTC().Format(time.DateOnly))}})
	if err != nil {
		return fmt.Errorf("anomalies: %w", err)
	}
	fmt.Fprintf(w, "\nCost anomalies (monitor %q)\n", SalesMonitorName)
	if len(got.Anomalies) == 0 {
		fmt.Fprintf(w, "  none found\n")
	}
	for _, a := range got.Anomalies {
		impact := 0.0
		if a.Impact != nil {
			impact = a.Impact.TotalImpact
		}
		fmt.Fprintf(w, "  %s to %s: $%.2f above expected (%s)\n", aws.ToString(a.AnomalyStartDate), aws.ToString(a.AnomalyEndDate), impact, aws.ToString(a.DimensionValue))
	}
	return nil
}

// USD formats an amount as dollars rounded to the cent ("1234.57").
func USD(a money.Amount) string {
	neg := a < 0
	if neg {
		a = -a
	}
	cents := (a + money.Cent/2) / money.Cent
	out := fmt.Sprintf("%d.%02d", cents/100, cents%100)
	if neg {
		out = "-" + out
	}
	return out
}
