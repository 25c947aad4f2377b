package console

import (
	"testing"

	"github.com/tollgate-dev/tollgate/internal/budget"
	"github.com/tollgate-dev/tollgate/internal/money"
)

// TestBudgetRowAtThreshold checks the budgets list flags a budget whose
// actual spend has crossed an alert threshold (AWS's console marks it),
// from the live figures, before any alert has gone out.
func TestBudgetRowAtThreshold(t *testing.T) {
	limit := int64(100 * money.Dollar)
	alert := func(typ budget.NotificationType, cmp budget.Comparison, th float64, tt budget.ThresholdType) budget.Notification {
		return budget.Notification{Type: typ, Comparison: cmp, Threshold: th, ThresholdType: tt}
	}
	at80 := alert(budget.Actual, budget.GreaterThan, 80, budget.Percentage)
	for _, tc := range []struct {
		name     string
		actual   int64
		forecast int64
		alerts   []budget.Notification
		alarm    map[string]bool
		want     bool
	}{
		{"90% with an 80% alert", 90 * int64(money.Dollar), 0, []budget.Notification{at80}, nil, true},
		{"70% with an 80% alert", 70 * int64(money.Dollar), 0, []budget.Notification{at80}, nil, false},
		{"exactly 80% is not greater than 80%", 80 * int64(money.Dollar), 0, []budget.Notification{at80}, nil, false},
		{"80% reaches an EQUAL_TO 80% alert", 80 * int64(money.Dollar), 0, []budget.Notification{alert(budget.Actual, budget.EqualTo, 80, budget.Percentage)}, nil, true},
		{"past an absolute alert", 60 * int64(money.Dollar), 0, []budget.Notification{alert(budget.Actual, budget.GreaterThan, 50, budget.AbsoluteValue)}, nil, true},
		{"a LESS_THAN alert holding is no warning", 10 * int64(money.Dollar), 0, []budget.Notification{alert(budget.Actual, budget.LessThan, 50, budget.Percentage)}, nil, false},
		{"a forecast alert is not actual spend", 10 * int64(money.Dollar), 200 * int64(money.Dollar), []budget.Notification{alert(budget.Forecasted, budget.GreaterThan, 100, budget.Percentage)}, nil, false},
		{"90% without alerts", 90 * int64(money.Dollar), 0, nil, nil, false},
		{"an alert in ALARM", 10 * int64(money.Dollar), 0, []budget.Notification{at80}, map[string]bool{at80.Key(): true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := budget.View{Budget: budget.Budget{Name: "b", Type: budget.Cost, Notifications: tc.alerts}, Active: true,
				PeriodLimit: limit, Actual: tc.actual, Forecast: tc.forecast, HasForecast: tc.forecast > 0, Alarm: tc.alarm}
			r := rowOf(v)
			if r.AtThreshold != tc.want {
				t.Errorf("AtThreshold = %v, want %v", r.AtThreshold, tc.want)
			}
			if r.Exceeded {
				t.Errorf("Exceeded under the limit")
			}
		})
	}
}
