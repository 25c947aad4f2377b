package budget

import (
	"math"
	"net/mail"
	"reflect"
	"time"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/egress"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/notify"
)

// normalize validates b and fills its defaults. now picks the default
// start; cat checks DOWNGRADE models; out checks SNS subscriber URLs.
func (b *Budget) normalize(now time.Time, cat *catalog.Catalog, out *egress.Policy) error {
	if err := ValidateName(b.Name); err != nil {
		return err
	}
	switch b.Type {
	case Cost:
		if b.Unit != "USD" {
			return errkind.New(errkind.Invalid, "A COST budget's limit must be in USD, not %q.", truncate(b.Unit))
		}
	case Usage:
		if b.Unit == "" {
			return errkind.New(errkind.Invalid, "A USAGE budget's limit needs a Unit (e.g. Tokens).")
		}
	case "":
		return errkind.New(errkind.Invalid, "BudgetType is required: COST or USAGE.")
	default:
		return errkind.New(errkind.Invalid, "BudgetType %s is not supported: Tollgate tracks COST and USAGE budgets.", truncate(string(b.Type)))
	}
	switch b.TimeUnit {
	case Daily, Monthly, Quarterly, Annually, Custom:
	default:
		return errkind.New(errkind.Invalid, "Invalid TimeUnit %q: valid values are DAILY, MONTHLY, QUARTERLY, ANNUALLY and CUSTOM.", truncate(string(b.TimeUnit)))
	}
	day := func(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }
	if b.TimeUnit == Custom {
		if b.Start.IsZero() || b.End.IsZero() {
			return errkind.New(errkind.Invalid, "A CUSTOM budget needs a TimePeriod with a Start and an End.")
		}
	}
	if b.Start.IsZero() {
		b.Start = calendar(b.TimeUnit, now).Start
	}
	if b.End.IsZero() {
		b.End = DefaultEnd
	}
	b.Start, b.End = day(b.Start), day(b.End)
	if !b.Start.Before(b.End) {
		return errkind.New(errkind.Invalid, "The budget's TimePeriod Start must be before its End.")
	}
	if len(b.Planned) > 0 {
		if b.Limit != 0 {
			return errkind.New(errkind.Invalid, "A budget has either a BudgetLimit or PlannedBudgetLimits, not both.")
		}
		if b.TimeUnit != Monthly && b.TimeUnit != Quarterly {
			return errkind.New(errkind.Invalid, "PlannedBudgetLimits are supported only for MONTHLY and QUARTERLY budgets.")
		}
		for k := range b.Planned {
			t := time.Unix(k, 0).UTC()
			if !calendar(b.TimeUnit, t).Start.Equal(t) {
				return errkind.New(errkind.Invalid, "The PlannedBudgetLimits key %d is not the start of a %s period.", k, b.TimeUnit)
			}
		}
	}
	if b.Limit < 0 {
		return errkind.New(errkind.Invalid, "The BudgetLimit must not be negative.")
	}
	if b.Filter != nil && (b.CostFilters != nil || b.CostTypes != nil) {
		return errkind.New(errkind.Invalid, "A budget takes either FilterExpression and Metrics, or CostFilters and CostTypes; not a mix.")
	}
	if b.Metrics != nil && (b.CostFilters != nil || b.CostTypes != nil) {
		return errkind.New(errkind.Invalid, "A budget takes either FilterExpression and Metrics, or CostFilters and CostTypes; not a mix.")
	}
	if len(b.Metrics) > 1 {
		return errkind.New(errkind.Invalid, "A budget takes one metric.")
	}
	for _, m := range b.Metrics {
		switch {
		case b.Type == Cost && costquery.IsCostMetric(m):
		case b.Type == Usage && m == costquery.UsageQuantity:
		default:
			return errkind.New(errkind.Invalid, "The metric %q does not apply to a %s budget.", truncate(m), b.Type)
		}
	}
	if b.Filter != nil && b.Metrics == nil {
		b.Metrics = []string{costquery.UnblendedCost}
		if b.Type == Usage {
			b.Metrics = []string{costquery.UsageQuantity}
		}
	}
	if _, err := b.ScopeExpr(); err != nil {
		return err
	}
	if len(b.Notifications) > MaxNotifications {
		return errkind.New(errkind.QuotaExceeded, "A budget can have at most %d notifications.", MaxNotifications)
	}
	seen := map[string]bool{}
	for i := range b.Notifications {
		n := &b.Notifications[i]
		if err := n.normalize(); err != nil {
			return err
		}
		if seen[n.Key()] {
			return errkind.New(errkind.Conflict, "The budget has this notification twice: %s.", n.Key())
		}
		seen[n.Key()] = true
		if err := checkSubscribers(n.Subscribers, true, out); err != nil {
			return err
		}
	}
	if len(b.Actions) > MaxActions {
		return errkind.New(errkind.QuotaExceeded, "A budget can have at most %d actions.", MaxActions)
	}
	for i := range b.Actions {
		if err := b.Actions[i].normalize(cat, out); err != nil {
			return err
		}
	}
	return nil
}

func checkThreshold(v float64, tt ThresholdType) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return errkind.New(errkind.Invalid, "The threshold must be a non-negative number.")
	}
	if tt == Percentage && v > MaxThresholdPercent {
		return errkind.New(errkind.Invalid, "A PERCENTAGE threshold can be at most %d.", MaxThresholdPercent)
	}
	return nil
}

func (n *Notification) normalize() error {
	switch n.Type {
	case Actual, Forecasted:
	default:
		return errkind.New(errkind.Invalid, "Invalid NotificationType %q: valid values are ACTUAL and FORECASTED.", truncate(string(n.Type)))
	}
	switch n.Comparison {
	case GreaterThan, LessThan, EqualTo:
	default:
		return errkind.New(errkind.Invalid, "Invalid ComparisonOperator %q: valid values are GREATER_THAN, LESS_THAN and EQUAL_TO.", truncate(string(n.Comparison)))
	}
	if n.ThresholdType == "" {
		n.ThresholdType = Percentage
	}
	if n.ThresholdType != Percentage && n.ThresholdType != AbsoluteValue {
		return errkind.New(errkind.Invalid, "Invalid ThresholdType %q: valid values are PERCENTAGE and ABSOLUTE_VALUE.", truncate(string(n.ThresholdType)))
	}
	return checkThreshold(n.Threshold, n.ThresholdType)
}

// checkSubscribers validates subscribers and their counts (at least one
// when need is true); out checks SNS subscriber URLs.
func checkSubscribers(subs []Subscriber, need bool, out *egress.Policy) error {
	if need && len(subs) == 0 {
		return errkind.New(errkind.Invalid, "A notification needs at least one subscriber.")
	}
	var email, sns int
	seen := map[Subscriber]bool{}
	for _, sub := range subs {
		if err := sub.validate(out); err != nil {
			return err
		}
		if seen[sub] {
			return errkind.New(errkind.Conflict, "The subscriber %s %s is listed twice.", sub.Type, truncate(sub.Address))
		}
		seen[sub] = true
		if sub.Type == Email {
			email++
		} else {
			sns++
		}
	}
	if email > MaxEmailSubscribers || sns > MaxSNSSubscribers {
		return errkind.New(errkind.QuotaExceeded, "A notification can have at most %d EMAIL subscribers and %d SNS subscriber.", MaxEmailSubscribers, MaxSNSSubscribers)
	}
	return nil
}

// validate checks a subscriber; an SNS subscriber's webhook URL must
// pass out's address check (egress.Policy.CheckURL).
func (sub Subscriber) validate(out *egress.Policy) error {
	switch sub.Type {
	case Email:
		a, err := mail.ParseAddress(sub.Address)
		if err != nil || a.Address != sub.Address || len(sub.Address) > 2000 {
			return errkind.New(errkind.Invalid, "The EMAIL subscriber address %q is not a valid e-mail address.", truncate(sub.Address))
		}
	case SNS:
		if err := notify.CheckSNSAddress(sub.Address, out); err != nil {
			return err
		}
	default:
		return errkind.New(errkind.Invalid, "Invalid SubscriptionType %q: valid values are EMAIL and SNS.", truncate(string(sub.Type)))
	}
	return nil
}

func (a *Action) normalize(cat *catalog.Catalog, out *egress.Policy) error {
	switch a.Type {
	case Block:
	case Throttle:
		if a.RequestsPerMinute < 1 || a.RequestsPerMinute > 1<<31 {
			return errkind.New(errkind.Invalid, "A THROTTLE action needs its requests per minute (1 or more) as its argument.")
		}
	case Downgrade:
		if a.Model == "" {
			return errkind.New(errkind.Invalid, "A DOWNGRADE action needs the foundation-model id to route to as its argument.")
		}
		if cat != nil {
			if _, ok := cat.Model(a.Model); !ok {
				return errkind.New(errkind.Invalid, "The DOWNGRADE model %q is not in the catalogue.", truncate(a.Model))
			}
		}
	default:
		return errkind.New(errkind.Invalid, "ActionType %q is not supported: Tollgate's budget actions are BLOCK, THROTTLE and DOWNGRADE.", truncate(string(a.Type)))
	}
	if a.ThresholdType == "" {
		a.ThresholdType = Percentage
	}
	if a.ThresholdType != Percentage && a.ThresholdType != AbsoluteValue {
		return errkind.New(errkind.Invalid, "Invalid ActionThresholdType %q: valid values are PERCENTAGE and ABSOLUTE_VALUE.", truncate(string(a.ThresholdType)))
	}
	if err := checkThreshold(a.Threshold, a.ThresholdType); err != nil {
		return err
	}
	if a.ApprovalModel == "" {
		a.ApprovalModel = Automatic
	}
	if a.ApprovalModel != Automatic && a.ApprovalModel != Manual {
		return errkind.New(errkind.Invalid, "Invalid ApprovalModel %q: valid values are AUTOMATIC (enforce) and MANUAL (shadow: record what would be refused, refuse nothing).", truncate(a.ApprovalModel))
	}
	return checkSubscribers(a.Subscribers, false, out)
}

// sameScope reports whether two versions of a budget count the same spend
// in the same periods (so the counter carries over).
func sameScope(a, b *Budget) bool {
	if a.Type != b.Type || a.TimeUnit != b.TimeUnit || !a.Start.Equal(b.Start) || !a.End.Equal(b.End) {
		return false
	}
	ea, err1 := a.ScopeExpr()
	eb, err2 := b.ScopeExpr()
	return err1 == nil && err2 == nil && reflect.DeepEqual(ea, eb)
}
