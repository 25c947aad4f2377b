// Package budget owns budgets as AWS Budgets defines them — COST budgets in
// USD and USAGE budgets in tokens, per day, month, quarter, year or custom
// period, scoped by the legacy CostFilters or by a FilterExpression — with
// their notifications and subscribers, the live actual and forecasted spend
// of each budget's current period, alert evaluation (ACTUAL alerts once per
// threshold per period, FORECASTED alerts again after the forecast dips and
// rises), and Tollgate's enforcement: budget actions that BLOCK, THROTTLE
// or DOWNGRADE the calls in scope, applied by the runtime pipeline through
// the admission.Admitter the Service implements.
//
// Spend lives in memory as exact integer counters per budget (nano-USD for
// COST budgets, tokens for USAGE budgets), rebuilt at start from the
// ledger's hourly rollups for the current period and advanced by each call's
// durable record. The package knows nothing of HTTP or SQL: budgets persist
// through the Store it declares, spend history comes from a
// costquery.Source, and alerts leave through a Notifier (the notify
// outbox).
package budget

import (
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/money"
)

// Type is what a budget tracks.
type Type string

// The budget types Tollgate supports. AWS's RI and Savings Plans budgets
// have nothing to track here and are rejected.
const (
	Cost  Type = "COST"  // spend in USD (nano-USD units)
	Usage Type = "USAGE" // tokens of every class
)

// TimeUnit is the length of a budget's period.
type TimeUnit string

// The time units. Periods are calendar periods in UTC; CUSTOM has one
// period, the budget's whole TimePeriod.
const (
	Daily     TimeUnit = "DAILY"
	Monthly   TimeUnit = "MONTHLY"
	Quarterly TimeUnit = "QUARTERLY"
	Annually  TimeUnit = "ANNUALLY"
	Custom    TimeUnit = "CUSTOM"
)

// DefaultEnd is the end AWS gives a budget created without one.
var DefaultEnd = time.Date(2087, 6, 15, 0, 0, 0, 0, time.UTC)

// Limits.
const (
	// MaxNameLength is the longest budget name.
	MaxNameLength = 100
	// MaxNotifications is the most notifications a budget may have.
	MaxNotifications = 10
	// MaxEmailSubscribers and MaxSNSSubscribers bound one notification's
	// subscribers, as AWS does.
	MaxEmailSubscribers = 10
	MaxSNSSubscribers   = 1
	// MaxActions is the most actions a budget may have.
	MaxActions = 10
	// MaxThresholdPercent is the largest PERCENTAGE threshold AWS allows.
	MaxThresholdPercent = 1_000_000
	// MaxBudgets is the most budgets an account may have.
	MaxBudgets = 20_000
)

// Budget is one budget. A budget is identified by its account and name.
type Budget struct {
	Account  string
	Name     string
	Type     Type
	TimeUnit TimeUnit
	// Limit is the amount budgeted per period, in Units: nano-USD for a
	// COST budget, tokens for a USAGE budget. It is 0 when Planned is set.
	Limit int64
	// Unit is the limit's unit as the client gave it: "USD" for COST
	// budgets, any label (e.g. "Tokens") for USAGE budgets.
	Unit string
	// Planned maps period starts (UTC epoch seconds) to that period's
	// limit, for MONTHLY and QUARTERLY budgets; past the last entry, the
	// last one applies. Nil for a fixed limit.
	Planned map[int64]int64 `json:",omitempty"`
	// Start and End bound the budget, [Start, End); whole UTC hours.
	Start, End time.Time
	// CostFilters is the legacy scope, as given; nil when the budget uses
	// Filter or no scope.
	CostFilters map[string][]string `json:",omitempty"`
	// CostTypes are the legacy cost types as given (Include*/Use* flags);
	// they change nothing here (Bedrock on-demand usage has no credits,
	// taxes or upfront fees).
	CostTypes map[string]bool `json:",omitempty"`
	// Filter is the FilterExpression scope, as given (tag keys may carry
	// the "user:" prefix); nil when the budget uses CostFilters or none.
	Filter *costquery.Expr `json:",omitempty"`
	// Metrics are the new-style metrics, as given or defaulted.
	Metrics []string `json:",omitempty"`
	// Notifications are the budget's notifications with their subscribers.
	Notifications []Notification `json:",omitempty"`
	// Actions are Tollgate's enforcement actions on the budget.
	Actions              []Action `json:",omitempty"`
	CreatedAt, UpdatedAt time.Time
}

// Clone returns a deep copy of b.
func (b Budget) Clone() Budget {
	c := b
	if b.Planned != nil {
		c.Planned = make(map[int64]int64, len(b.Planned))
		for k, v := range b.Planned {
			c.Planned[k] = v
		}
	}
	if b.CostFilters != nil {
		c.CostFilters = make(map[string][]string, len(b.CostFilters))
		for k, v := range b.CostFilters {
			c.CostFilters[k] = slices.Clone(v)
		}
	}
	if b.CostTypes != nil {
		c.CostTypes = make(map[string]bool, len(b.CostTypes))
		for k, v := range b.CostTypes {
			c.CostTypes[k] = v
		}
	}
	c.Filter = cloneExpr(b.Filter)
	c.Metrics = slices.Clone(b.Metrics)
	c.Notifications = make([]Notification, len(b.Notifications))
	for i, n := range b.Notifications {
		n.Subscribers = slices.Clone(n.Subscribers)
		c.Notifications[i] = n
	}
	c.Actions = make([]Action, len(b.Actions))
	for i, a := range b.Actions {
		a.Subscribers = slices.Clone(a.Subscribers)
		c.Actions[i] = a
	}
	return c
}

// ARN returns the budget's ARN, arn:aws:budgets::ACCOUNT:budget/NAME.
func (b Budget) ARN() string { return "arn:aws:budgets::" + b.Account + ":budget/" + b.Name }

// FormatUnits formats an amount of b's units as AWS writes a Spend amount:
// dollars with at least one decimal for COST, a whole number for USAGE.
func (b Budget) FormatUnits(v int64) string {
	if b.Type == Usage {
		return formatInt(v)
	}
	return money.Amount(v).Decimal(1)
}

func formatInt(v int64) string { return strconv.FormatInt(v, 10) }

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// ParseUnits reads a Spend amount in b's units: exact dollars (at most nine
// decimals) for COST, tokens for USAGE (a fraction is rounded up).
func ParseUnits(t Type, s string) (int64, error) {
	if t == Usage {
		a, err := money.Parse(s)
		if err != nil || a < 0 {
			return 0, errkind.New(errkind.Invalid, "The amount %q is not a valid non-negative number.", truncate(s))
		}
		whole := int64(a / money.Dollar)
		if a%money.Dollar != 0 {
			whole++
		}
		return whole, nil
	}
	a, err := money.Parse(s)
	if err != nil || a < 0 {
		return 0, errkind.New(errkind.Invalid, "The amount %q is not a valid non-negative decimal number of dollars (at most 9 decimals).", truncate(s))
	}
	return int64(a), nil
}

// Period is one budget period, [Start, End).
type Period struct {
	Start, End time.Time
}

// calendar returns the calendar period of unit containing t (UTC).
func calendar(unit TimeUnit, t time.Time) Period {
	t = t.UTC()
	y, m, d := t.Date()
	var s, e time.Time
	switch unit {
	case Daily:
		s = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		e = s.AddDate(0, 0, 1)
	case Monthly:
		s = time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
		e = s.AddDate(0, 1, 0)
	case Quarterly:
		s = time.Date(y, ((m-1)/3)*3+1, 1, 0, 0, 0, 0, time.UTC)
		e = s.AddDate(0, 3, 0)
	default: // Annually
		s = time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
		e = s.AddDate(1, 0, 0)
	}
	return Period{s, e}
}

// PeriodAt returns the period containing t, clipped to [Start, End); ok is
// false when t lies outside the budget's time period.
func (b *Budget) PeriodAt(t time.Time) (Period, bool) {
	if t.Before(b.Start) || !t.Before(b.End) {
		return Period{}, false
	}
	if b.TimeUnit == Custom {
		return Period{b.Start, b.End}, true
	}
	p := calendar(b.TimeUnit, t)
	if p.Start.Before(b.Start) {
		p.Start = b.Start
	}
	if p.End.After(b.End) {
		p.End = b.End
	}
	return p, true
}

// Periods returns the budget's periods that overlap [from, to), oldest
// first, each clipped to the budget's time period.
func (b *Budget) Periods(from, to time.Time) []Period {
	var out []Period
	if from.Before(b.Start) {
		from = b.Start
	}
	if to.After(b.End) {
		to = b.End
	}
	for t := from; t.Before(to); {
		p, ok := b.PeriodAt(t)
		if !ok {
			break
		}
		out = append(out, p)
		t = p.End
	}
	return out
}

// LimitFor returns the limit of the period starting at start.
func (b *Budget) LimitFor(start time.Time) int64 {
	if len(b.Planned) == 0 {
		return b.Limit
	}
	key := start.Unix()
	if v, ok := b.Planned[key]; ok {
		return v
	}
	// The latest planned period before start keeps applying; before the
	// first one, the first one applies.
	best, bestKey, first, firstKey := int64(0), int64(math.MinInt64), int64(0), int64(math.MaxInt64)
	for k, v := range b.Planned {
		if k <= key && k > bestKey {
			best, bestKey = v, k
		}
		if k < firstKey {
			first, firstKey = v, k
		}
	}
	if bestKey == math.MinInt64 {
		return first
	}
	return best
}

// ThresholdType says how a threshold is expressed.
type ThresholdType string

// The threshold types.
const (
	Percentage    ThresholdType = "PERCENTAGE"     // percent of the period's limit
	AbsoluteValue ThresholdType = "ABSOLUTE_VALUE" // an amount in the budget's unit (dollars, tokens)
)

// NotificationType says what a notification watches.
type NotificationType string

// The notification types.
const (
	Actual     NotificationType = "ACTUAL"
	Forecasted NotificationType = "FORECASTED"
)

// Comparison is a notification's comparison operator.
type Comparison string

// The comparison operators. Spend is exact money, so an exact equality
// would hardly ever be observed: EQUAL_TO holds once the value reaches the
// threshold (value >= threshold), GREATER_THAN once it passes it (value >
// threshold), LESS_THAN while it is below it.
const (
	GreaterThan Comparison = "GREATER_THAN"
	LessThan    Comparison = "LESS_THAN"
	EqualTo     Comparison = "EQUAL_TO"
)

// Holds reports whether value compares to threshold as c says.
func (c Comparison) Holds(value, threshold int64) bool {
	switch c {
	case GreaterThan:
		return value > threshold
	case LessThan:
		return value < threshold
	default:
		return value >= threshold
	}
}

// SubscriptionType is how a subscriber is reached.
type SubscriptionType string

// The subscription types. Tollgate delivers SNS subscriptions as an HTTP
// POST of JSON to the subscriber's address, a webhook URL.
const (
	Email SubscriptionType = "EMAIL"
	SNS   SubscriptionType = "SNS"
)

// Subscriber receives a notification's alerts.
type Subscriber struct {
	Type    SubscriptionType
	Address string
}

// Notification is an alert rule of a budget.
type Notification struct {
	Type          NotificationType
	Comparison    Comparison
	Threshold     float64
	ThresholdType ThresholdType
	Subscribers   []Subscriber `json:",omitempty"`
}

// Key identifies n within its budget, as AWS identifies a notification:
// by its type, operator, threshold and threshold type.
func (n Notification) Key() string {
	return string(n.Type) + "/" + string(n.Comparison) + "/" + formatFloat(n.Threshold) + "/" + string(n.ThresholdType)
}

// ThresholdUnits converts a threshold to the budget's units for a period
// whose limit is limit, rounding to the nearest unit.
func ThresholdUnits(limit int64, threshold float64, tt ThresholdType, t Type) int64 {
	var f float64
	if tt == AbsoluteValue {
		f = threshold
		if t != Usage {
			f *= float64(money.Dollar)
		}
	} else {
		f = float64(limit) * threshold / 100
	}
	if f >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(math.Round(f))
}

// ActionType is a Tollgate budget action. These are Tollgate's values of
// AWS's ActionType (whose own values name IAM, SCP and SSM changes Tollgate
// has nothing to apply to).
type ActionType string

// The action types.
const (
	// Block rejects the calls in scope that could take actual spend past
	// the action's threshold (see the Service's admission rule).
	Block ActionType = "BLOCK"
	// Throttle caps the calls in scope at RequestsPerMinute per UTC
	// calendar minute once actual spend reaches the threshold.
	Throttle ActionType = "THROTTLE"
	// Downgrade routes the calls in scope to Model once actual spend
	// reaches the threshold.
	Downgrade ActionType = "DOWNGRADE"
)

// Action is an enforcement action of a budget.
type Action struct {
	ID            string
	Type          ActionType
	Threshold     float64
	ThresholdType ThresholdType
	// RequestsPerMinute is THROTTLE's cap.
	RequestsPerMinute int64 `json:",omitempty"`
	// Model is DOWNGRADE's replacement foundation-model id.
	Model string `json:",omitempty"`
	// Subscribers are told when the action comes into force.
	Subscribers []Subscriber `json:",omitempty"`
	// ExecutionRoleARN and ApprovalModel are kept as given (Tollgate runs
	// actions itself, automatically).
	ExecutionRoleARN string `json:",omitempty"`
	ApprovalModel    string `json:",omitempty"`
}

// Arg returns the action's argument as the wire carries it: the requests
// per minute of THROTTLE, the model of DOWNGRADE, "" for BLOCK.
func (a Action) Arg() string {
	switch a.Type {
	case Throttle:
		return formatInt(a.RequestsPerMinute)
	case Downgrade:
		return a.Model
	}
	return ""
}

var forbiddenName = regexp.MustCompile(`(?i)<script>.*</script>`)

// ValidateName checks a budget name as AWS does.
func ValidateName(name string) error {
	n := utf8.RuneCountInString(name)
	switch {
	case n < 1 || n > MaxNameLength:
		return errkind.New(errkind.Invalid, "The budget name must be 1-%d characters long.", MaxNameLength)
	case !utf8.ValidString(name) || strings.ContainsRune(name, 0):
		return errkind.New(errkind.Invalid, "The budget name must be UTF-8 text without NUL characters.")
	case strings.ContainsAny(name, `:\`):
		return errkind.New(errkind.Invalid, "The budget name %q contains ':' or '\\', which are not allowed.", truncate(name))
	case strings.Contains(name, "/action/"):
		return errkind.New(errkind.Invalid, "The budget name %q contains \"/action/\", which is not allowed.", truncate(name))
	case forbiddenName.MatchString(name):
		return errkind.New(errkind.Invalid, "The budget name is not allowed.")
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
