// Package alarm owns metric alarms with CloudWatch's semantics: a
// statistic of one metric over a period, compared with a threshold for
// the newest N periods (EvaluationPeriods), of which M (DatapointsToAlarm)
// must breach; missing data treated as missing, ignore, breaching or
// notBreaching; the states OK, ALARM and INSUFFICIENT_DATA with a history
// of configuration updates, state updates and actions; and actions run on
// state transitions: webhooks (through a durable outbox, Notifier) and
// Tollgate's own actions that throttle or disable the inference profile
// (or model) the alarm watches while the alarm is in the state that lists
// them (Gate).
//
// The evaluator runs on a ticker with an injectable clock: Evaluate takes
// the time, so tests drive it without sleeping.
package alarm

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/egress"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/notify"
)

// State is an alarm state.
type State string

// The alarm states.
const (
	StateOK               State = "OK"
	StateAlarm            State = "ALARM"
	StateInsufficientData State = "INSUFFICIENT_DATA"
)

// Valid reports whether s is one of the three states.
func (s State) Valid() bool {
	return s == StateOK || s == StateAlarm || s == StateInsufficientData
}

// Comparison operators.
const (
	GreaterThanOrEqualToThreshold = "GreaterThanOrEqualToThreshold"
	GreaterThanThreshold          = "GreaterThanThreshold"
	LessThanThreshold             = "LessThanThreshold"
	LessThanOrEqualToThreshold    = "LessThanOrEqualToThreshold"
)

// TreatMissingData values.
const (
	TreatMissing      = "missing"
	TreatIgnore       = "ignore"
	TreatBreaching    = "breaching"
	TreatNotBreaching = "notBreaching"
)

// History item types.
const (
	HistoryConfigurationUpdate = "ConfigurationUpdate"
	HistoryStateUpdate         = "StateUpdate"
	HistoryAction              = "Action"
)

// HistoryRetention is how long history items are kept (two weeks, as
// CloudWatch does).
const HistoryRetention = 14 * 24 * time.Hour

// Dimension is a metric dimension.
type Dimension struct {
	Name  string
	Value string
}

// Alarm is a metric alarm: its configuration and its current state.
type Alarm struct {
	Account     string
	Name        string
	Description string

	Namespace  string
	MetricName string
	Dimensions []Dimension
	// Statistic (SampleCount, Average, Sum, Minimum, Maximum) or
	// ExtendedStatistic (pNN.NN): exactly one is set.
	Statistic         string
	ExtendedStatistic string
	Unit              string

	Period             time.Duration // a multiple of a minute
	EvaluationPeriods  int
	DatapointsToAlarm  int // 0 means EvaluationPeriods
	Threshold          float64
	ComparisonOperator string
	TreatMissingData   string // "" means missing
	// EvaluateLowSampleCountPercentile is "", "evaluate" or "ignore".
	EvaluateLowSampleCountPercentile string

	ActionsEnabled          bool
	AlarmActions            []string
	OKActions               []string
	InsufficientDataActions []string

	ConfigurationUpdated time.Time

	State             State
	StateReason       string
	StateReasonData   string // JSON, may be empty
	StateUpdated      time.Time
	StateTransitioned time.Time
}

// HistoryItem is one entry of an alarm's history.
type HistoryItem struct {
	Account   string
	AlarmName string
	Time      time.Time
	Type      string // HistoryConfigurationUpdate, HistoryStateUpdate, HistoryAction
	Summary   string
	Data      string // JSON
}

// ARN returns the alarm's ARN in region.
func (a *Alarm) ARN(region string) string {
	return fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", region, a.Account, a.Name)
}

// Stat returns the statistic the alarm evaluates.
func (a *Alarm) Stat() string {
	if a.ExtendedStatistic != "" {
		return a.ExtendedStatistic
	}
	return a.Statistic
}

// M returns DatapointsToAlarm, defaulting to EvaluationPeriods.
func (a *Alarm) M() int {
	if a.DatapointsToAlarm > 0 {
		return a.DatapointsToAlarm
	}
	return a.EvaluationPeriods
}

// Treat returns TreatMissingData with its default.
func (a *Alarm) Treat() string {
	if a.TreatMissingData == "" {
		return TreatMissing
	}
	return a.TreatMissingData
}

// Actions returns the actions listed for state s.
func (a *Alarm) Actions(s State) []string {
	switch s {
	case StateAlarm:
		return a.AlarmActions
	case StateOK:
		return a.OKActions
	case StateInsufficientData:
		return a.InsufficientDataActions
	}
	return nil
}

// rule returns the evaluation rule.
func (a *Alarm) rule() Rule {
	r := Rule{EvaluationPeriods: a.EvaluationPeriods, DatapointsToAlarm: a.M(), Threshold: a.Threshold,
		ComparisonOperator: a.ComparisonOperator, TreatMissingData: a.Treat()}
	if p, ok := percentile(a.ExtendedStatistic); ok && a.EvaluateLowSampleCountPercentile == "ignore" {
		// CloudWatch: fewer than 10/(1-p) samples for p >= 0.5, 10/p below.
		f := p / 100
		switch {
		case f >= 0.5 && f < 1:
			r.MinSamples = int64(10/(1-f) + 0.5)
		case f > 0 && f < 0.5:
			r.MinSamples = int64(10/f + 0.5)
		}
	}
	return r
}

func percentile(stat string) (float64, bool) {
	rest, ok := strings.CutPrefix(stat, "p")
	if !ok || rest == "" || len(rest) > 6 || strings.ContainsAny(rest, "eE+-") {
		return 0, false
	}
	p, err := strconv.ParseFloat(rest, 64)
	if err != nil || p < 0 || p > 100 {
		return 0, false
	}
	return p, true
}

// Action kinds Tollgate runs itself.
const (
	ActionWebhook  = "webhook" // an http(s) URL (Slack and Teams ones get their formats) or pagerduty:ROUTING_KEY
	ActionThrottle = "throttle"
	ActionDisable  = "disable"
	ActionOther    = "other" // an AWS ARN Tollgate cannot run (SNS, EC2, ...)
)

// Action is a parsed alarm action.
type Action struct {
	Kind string
	// Target is the webhook URL or the action as written.
	Target string
	// PerMinute is the calls a throttle action still lets through each
	// minute; 0 blocks every call.
	PerMinute int
}

// ParseAction parses an alarm action:
//
//	https://host/path, http://host/path   a webhook, POSTed a JSON notification
//	                                      (a Slack incoming webhook gets Block Kit,
//	                                      a Teams workflow an Adaptive Card)
//	slack+https://..., teams+https://...  a Slack or Teams webhook at any host
//	pagerduty:ROUTING_KEY                 a PagerDuty Events API v2 event: ALARM
//	                                      triggers, OK resolves (dedup key: the alarm ARN)
//	tollgate:throttle                     calls answer ThrottlingException
//	tollgate:throttle:N                   at most N calls a minute get through
//	tollgate:disable                      calls answer AccessDeniedException
//	arn:...                               accepted and recorded; not run
//
// Tollgate actions apply to the ModelId the alarm watches (or to every
// call of the account when it watches no dimension) for as long as the
// alarm stays in the state listing them, with actions enabled.
func ParseAction(s string) (Action, error) {
	switch {
	case s == "" || len(s) > 1024:
		return Action{}, errkind.New(errkind.Invalid, "An action must be 1 to 1024 characters.")
	case strings.HasPrefix(s, "pagerduty:"):
		if _, ok := notify.ParsePagerDuty(s); !ok {
			return Action{}, errkind.New(errkind.Invalid, "The action %q must be pagerduty:ROUTING_KEY (1-128 letters, digits, '-' or '_').", s)
		}
		return Action{Kind: ActionWebhook, Target: s}, nil
	case strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "slack+http") || strings.HasPrefix(s, "teams+http"):
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return Action{}, errkind.New(errkind.Invalid, "The webhook action %q is not a valid URL.", s)
		}
		return Action{Kind: ActionWebhook, Target: s}, nil
	case s == "tollgate:disable":
		return Action{Kind: ActionDisable, Target: s}, nil
	case s == "tollgate:throttle":
		return Action{Kind: ActionThrottle, Target: s}, nil
	case strings.HasPrefix(s, "tollgate:throttle:"):
		n, err := strconv.Atoi(strings.TrimPrefix(s, "tollgate:throttle:"))
		if err != nil || n < 0 || n > 1_000_000 {
			return Action{}, errkind.New(errkind.Invalid, "The action %q must be tollgate:throttle:N with N calls per minute (0 to 1000000).", s)
		}
		return Action{Kind: ActionThrottle, Target: s, PerMinute: n}, nil
	case strings.HasPrefix(s, "arn:"):
		return Action{Kind: ActionOther, Target: s}, nil
	}
	return Action{}, errkind.New(errkind.Invalid, "The action %q is not supported: use an http(s) webhook URL, pagerduty:ROUTING_KEY, tollgate:throttle[:N], tollgate:disable or an ARN.", s)
}

// Validate checks the alarm's configuration as PutMetricAlarm does.
func (a *Alarm) Validate() error {
	invalid := func(format string, args ...any) *errkind.Error { return errkind.New(errkind.Invalid, format, args...) }
	missing := func(name string) error {
		return errkind.New(errkind.Invalid, "The parameter %s is required.", name).WithCode("MissingRequiredParameterException")
	}
	switch {
	case a.Name == "":
		return missing("AlarmName")
	case len(a.Name) > 255 || !printableASCII(a.Name):
		return invalid("The alarm name must be 1 to 255 printable ASCII characters.")
	case len(a.Description) > 1024:
		return invalid("The alarm description must be at most 1024 characters.")
	case strings.ContainsRune(a.Description, 0) || strings.ContainsRune(a.Namespace, 0) || strings.ContainsRune(a.MetricName, 0) || strings.ContainsRune(a.Unit, 0):
		// No store keeps NUL in text (PostgreSQL cannot).
		return invalid("The alarm's description, namespace, metric name and unit must not contain NUL characters.")
	case a.Namespace == "":
		return missing("Namespace")
	case a.MetricName == "":
		return missing("MetricName")
	case len(a.Namespace) > 255 || len(a.MetricName) > 255:
		return invalid("Namespace and MetricName must be at most 255 characters.")
	case len(a.Dimensions) > 30:
		return invalid("An alarm may have at most 30 dimensions.")
	case a.EvaluationPeriods < 1:
		return missing("EvaluationPeriods")
	case a.ComparisonOperator == "":
		return missing("ComparisonOperator")
	}
	for _, d := range a.Dimensions {
		if d.Name == "" || len(d.Name) > 255 || d.Value == "" || len(d.Value) > 1024 || strings.ContainsRune(d.Name+d.Value, 0) {
			return invalid("Each dimension needs a Name (1 to 255 characters) and a Value (1 to 1024 characters).")
		}
	}
	switch {
	case a.Statistic == "" && a.ExtendedStatistic == "":
		return missing("Statistic or ExtendedStatistic")
	case a.Statistic != "" && a.ExtendedStatistic != "":
		return invalid("Specify Statistic or ExtendedStatistic, not both.").WithCode("InvalidParameterCombinationException")
	}
	switch a.Statistic {
	case "", "SampleCount", "Average", "Sum", "Minimum", "Maximum":
	default:
		return invalid("The statistic %q is not one of SampleCount, Average, Sum, Minimum, Maximum.", a.Statistic)
	}
	if a.ExtendedStatistic != "" {
		if _, ok := percentile(a.ExtendedStatistic); !ok {
			return invalid("The extended statistic %q is not supported: use a percentile p0 to p100 (for example p99 or p99.9).", a.ExtendedStatistic)
		}
	}
	secs := int64(a.Period / time.Second)
	switch {
	case a.Period <= 0:
		return missing("Period")
	case secs == 10 || secs == 20 || secs == 30:
		return invalid("Period %d makes a high-resolution alarm, but Tollgate's metrics have 1-minute resolution: use a multiple of 60 seconds.", secs)
	case a.Period%time.Minute != 0:
		return invalid("Period must be 10, 20, 30 or a multiple of 60 seconds.")
	case secs*int64(a.EvaluationPeriods) > 7*86400:
		return invalid("Period times EvaluationPeriods must not exceed one week (604800 seconds).")
	case secs < 3600 && secs*int64(a.EvaluationPeriods) > 86400:
		return invalid("For periods under one hour, Period times EvaluationPeriods must not exceed one day (86400 seconds).")
	case a.DatapointsToAlarm < 0 || a.DatapointsToAlarm > a.EvaluationPeriods:
		return invalid("DatapointsToAlarm must be between 1 and EvaluationPeriods.")
	}
	switch a.ComparisonOperator {
	case GreaterThanOrEqualToThreshold, GreaterThanThreshold, LessThanThreshold, LessThanOrEqualToThreshold:
	case "LessThanLowerOrGreaterThanUpperThreshold", "LessThanLowerThreshold", "GreaterThanUpperThreshold":
		return invalid("Anomaly-detection comparison operators are not supported.")
	default:
		return invalid("The comparison operator %q is not valid.", a.ComparisonOperator)
	}
	switch a.TreatMissingData {
	case "", TreatMissing, TreatIgnore, TreatBreaching, TreatNotBreaching:
	default:
		return invalid("TreatMissingData must be missing, ignore, breaching or notBreaching.")
	}
	switch a.EvaluateLowSampleCountPercentile {
	case "", "evaluate", "ignore":
	default:
		return invalid("EvaluateLowSampleCountPercentile must be evaluate or ignore.")
	}
	for _, list := range [][]string{a.AlarmActions, a.OKActions, a.InsufficientDataActions} {
		if len(list) > 5 {
			return invalid("Each list of actions may hold at most 5 actions.")
		}
		for _, s := range list {
			if _, err := ParseAction(s); err != nil {
				return err
			}
		}
	}
	return nil
}

// CheckWebhooks checks the URL of every webhook action, of the three
// lists, with out (egress.Policy.CheckURL): errkind.Invalid for one
// pointing at an internal address out does not allow.
func (a *Alarm) CheckWebhooks(out *egress.Policy) error {
	for _, list := range [][]string{a.AlarmActions, a.OKActions, a.InsufficientDataActions} {
		for _, s := range list {
			if act, err := ParseAction(s); err == nil && act.Kind == ActionWebhook && !strings.HasPrefix(act.Target, "pagerduty:") {
				if err := out.CheckURL(act.Target); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
