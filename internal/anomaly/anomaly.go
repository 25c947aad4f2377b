package anomaly

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// MonitorType says how a monitor reads its spend.
type MonitorType string

// The monitor types.
const (
	// Dimensional monitors evaluate each value of a dimension on its own
	// (the top values by cost, new values picked up automatically).
	Dimensional MonitorType = "DIMENSIONAL"
	// Custom monitors evaluate the spend of up to ten values in
	// aggregate.
	Custom MonitorType = "CUSTOM"
)

// Dimension is what a monitor's values are values of.
type Dimension string

// The dimensions Tollgate monitors. Cost categories (COST_CATEGORY) do not
// exist in Tollgate.
const (
	// DimService is all Amazon Bedrock spend, one value.
	DimService Dimension = "SERVICE"
	// DimLinkedAccount is the account the spend belongs to.
	DimLinkedAccount Dimension = "LINKED_ACCOUNT"
	// DimTag is the value of one cost-allocation tag key.
	DimTag Dimension = "TAG"
)

// Limits, after AWS's.
const (
	// MaxCustomValues is how many values a custom monitor may name.
	MaxCustomValues = 10
	// MaxMonitors is how many monitors an account may have (one AWS
	// services monitor and 500 others).
	MaxMonitors = 501
	// MaxDimensionalValues is how many values of its dimension a
	// dimensional monitor tracks (the top ones by cost).
	MaxDimensionalValues = 5000
	// MaxEmailSubscribers is how many email addresses a subscription may
	// have; an SNS subscription has exactly one topic.
	MaxEmailSubscribers = 10
	// MaxNameLength bounds monitor and subscription names.
	MaxNameLength = 1024
	// MaxThreshold is the largest threshold value.
	MaxThreshold = 10_000_000_000
)

// ServiceName is the SERVICE value of all Tollgate spend.
const ServiceName = "Amazon Bedrock"

// Monitor says which spend to watch.
type Monitor struct {
	ARN     string // arn:aws:ce::ACCOUNT:anomalymonitor/UUID
	Account string // the owner
	Name    string
	Type    MonitorType
	// Dimension is, for a dimensional monitor, the dimension each value of
	// which is evaluated; for a custom monitor, what Values are values of
	// (DimTag or DimLinkedAccount).
	Dimension Dimension
	// TagKey is the cost-allocation tag key of a DimTag monitor.
	TagKey string
	// Values are the values a custom monitor watches in aggregate.
	Values       []string
	ResourceTags tags.Set

	CreatedAt, UpdatedAt time.Time
	// LastEvaluated is the end of the complete hours the monitor has been
	// evaluated up to (zero: never).
	LastEvaluated time.Time
	// ValueCount is how many values the last evaluation tracked.
	ValueCount int
}

// Frequency is how often a subscription's subscribers hear of anomalies.
type Frequency string

// The frequencies.
const (
	Immediate Frequency = "IMMEDIATE" // each anomaly, to an SNS topic
	Daily     Frequency = "DAILY"     // a daily summary, by email
	Weekly    Frequency = "WEEKLY"    // a weekly summary, by email
)

// Subscriber types and statuses.
const (
	SubscriberEmail = "EMAIL"
	SubscriberSNS   = "SNS"

	SubscriberConfirmed = "CONFIRMED"
	SubscriberDeclined  = "DECLINED"
)

// Subscriber is one recipient of a subscription's alerts. As for budgets,
// Tollgate delivers an SNS subscription as an HTTP POST of JSON to its
// address, a webhook URL.
type Subscriber struct {
	Address string // an email address, or a webhook URL for SNS
	Type    string // SubscriberEmail or SubscriberSNS
	Status  string // SubscriberConfirmed (default) or SubscriberDeclined
}

// ThresholdKey is what a threshold compares.
type ThresholdKey string

// The threshold keys.
const (
	// ImpactAbsolute is an anomaly's total impact in dollars.
	ImpactAbsolute ThresholdKey = "ANOMALY_TOTAL_IMPACT_ABSOLUTE"
	// ImpactPercentage is its total impact as a percentage of the
	// expected spend.
	ImpactPercentage ThresholdKey = "ANOMALY_TOTAL_IMPACT_PERCENTAGE"
)

// Threshold says which anomalies a subscription alerts on: a comparison
// (Key at least Value) or the And or Or of others.
type Threshold struct {
	And, Or []Threshold
	Key     ThresholdKey
	Value   float64
}

// MaxThresholdDepth bounds how deeply thresholds nest.
const MaxThresholdDepth = 5

// Match reports whether a meets the threshold. An anomaly with no
// expected spend has no impact percentage; it meets every percentage
// threshold.
func (t Threshold) Match(a Anomaly) bool {
	switch {
	case len(t.And) > 0:
		for _, s := range t.And {
			if !s.Match(a) {
				return false
			}
		}
		return true
	case len(t.Or) > 0:
		for _, s := range t.Or {
			if s.Match(a) {
				return true
			}
		}
		return false
	case t.Key == ImpactPercentage:
		p, ok := a.ImpactPercentage()
		return !ok || p >= t.Value
	}
	return dollars(a.Impact()) >= t.Value
}

// Absolute returns the dollar value of a threshold that is a single
// absolute comparison (what the legacy Threshold field stands for).
func (t Threshold) Absolute() (float64, bool) {
	if len(t.And) == 0 && len(t.Or) == 0 && t.Key == ImpactAbsolute {
		return t.Value, true
	}
	return 0, false
}

// Subscription sends a monitor's anomalies to subscribers.
type Subscription struct {
	ARN         string // arn:aws:ce::ACCOUNT:anomalysubscription/UUID
	Account     string // the owner
	Name        string
	MonitorARNs []string
	Subscribers []Subscriber
	Frequency   Frequency
	Threshold   Threshold
	// Legacy reports that the threshold was given as the deprecated
	// Threshold number (it is echoed back in that field too).
	Legacy       bool
	ResourceTags tags.Set

	CreatedAt, UpdatedAt time.Time
}

// Feedback is what the owner said of an anomaly.
type Feedback string

// The feedback values ("" is none).
const (
	FeedbackYes     Feedback = "YES"
	FeedbackNo      Feedback = "NO"
	FeedbackPlanned Feedback = "PLANNED_ACTIVITY"
)

// Valid reports whether f is one of the feedback values.
func (f Feedback) Valid() bool {
	return f == FeedbackYes || f == FeedbackNo || f == FeedbackPlanned
}

// Anomaly is unusual spend of one monitored value over a run of hours.
type Anomaly struct {
	ID         string
	Account    string // the monitor's owner
	MonitorARN string
	// DimensionValue is the value: ServiceName, an account, a tag value;
	// for a custom monitor, what it watches ("dept$claims,sales").
	DimensionValue string
	// Start and End are the first and last anomalous hours (their
	// starts); End may be the running hour.
	Start, End time.Time
	// Open reports that the anomaly may still grow.
	Open bool
	// Adapted reports that it lasted long enough for the baseline to
	// adopt its level (a level shift), which closed it.
	Adapted bool
	// MaxScore is the highest hourly score; CurrentScore the score of the
	// last hour.
	MaxScore, CurrentScore float64
	// Actual and Expected are the spend and the expected spend of the
	// hours from Start to End, inclusive.
	Actual, Expected money.Amount
	// MaxImpact is the largest hourly impact (actual minus expected).
	MaxImpact  money.Amount
	RootCauses []RootCause
	Feedback   Feedback
	// DetectedAt is when it was first found; UpdatedAt when last changed.
	DetectedAt, UpdatedAt time.Time
}

// Impact returns the total impact: actual minus expected spend.
func (a Anomaly) Impact() money.Amount { return a.Actual - a.Expected }

// ImpactPercentage returns the total impact as a percentage of the
// expected spend; false when there was no expected spend.
func (a Anomaly) ImpactPercentage() (float64, bool) {
	if a.Expected <= 0 {
		return 0, false
	}
	return math.Round(float64(a.Impact())/float64(a.Expected)*10000) / 100, true
}

// RootCause is one combination of dimensions the anomaly's spend came
// from, with the dollars it contributed to the total impact.
type RootCause struct {
	Account     string
	Region      string // the region that served the calls
	UsageType   string // e.g. "USE1-Claude3Haiku-output-tokens"
	ProfileARN  string // the inference profile ("" for direct model calls)
	ModelID     string
	PrincipalID string
	// Contribution is the actual spend of the combination minus its share
	// of the expected spend (its share of the spend before the anomaly).
	Contribution money.Amount
}

// AnomalyFilter selects stored anomalies.
type AnomalyFilter struct {
	Account    string    // "" = every account
	MonitorARN string    // "" = every monitor
	EndFrom    time.Time // End >= EndFrom (zero: unbounded)
	EndTo      time.Time // End < EndTo (zero: unbounded)
}

// Store keeps monitors, subscriptions and anomalies. Implementations are safe for concurrent use. Errors are
// errkind errors: NotFound for a missing monitor, subscription or
// anomaly, Internal for storage faults.
type Store interface {
	// CreateAnomalyMonitor stores a new monitor.
	CreateAnomalyMonitor(ctx context.Context, m Monitor) error
	// AnomalyMonitors returns the monitors of account ("" = every
	// account), oldest first.
	AnomalyMonitors(ctx context.Context, account string) ([]Monitor, error)
	// RenameAnomalyMonitor changes a monitor's name.
	RenameAnomalyMonitor(ctx context.Context, account, arn, name string, at time.Time) error
	// DeleteAnomalyMonitor deletes a monitor and its anomalies, and takes
	// it out of every subscription.
	DeleteAnomalyMonitor(ctx context.Context, account, arn string) error
	// SetAnomalyMonitorEvaluated records an evaluation up to end (the end
	// of the complete hours judged) that tracked values values. A monitor
	// deleted meanwhile is not an error.
	SetAnomalyMonitorEvaluated(ctx context.Context, arn string, end time.Time, values int) error

	// CreateAnomalySubscription stores a new subscription.
	CreateAnomalySubscription(ctx context.Context, s Subscription) error
	// AnomalySubscriptions returns the subscriptions of account ("" =
	// every account), oldest first.
	AnomalySubscriptions(ctx context.Context, account string) ([]Subscription, error)
	// UpdateAnomalySubscription replaces a subscription (matched by
	// account and ARN).
	UpdateAnomalySubscription(ctx context.Context, s Subscription) error
	// DeleteAnomalySubscription deletes a subscription.
	DeleteAnomalySubscription(ctx context.Context, account, arn string) error

	// PutAnomalies inserts or updates anomalies by ID. An update keeps the
	// stored Feedback and DetectedAt.
	PutAnomalies(ctx context.Context, as []Anomaly) error
	// Anomalies returns the anomalies f selects, by End then ID.
	Anomalies(ctx context.Context, f AnomalyFilter) ([]Anomaly, error)
	// SetAnomalyFeedback records feedback on an anomaly of account.
	SetAnomalyFeedback(ctx context.Context, account, id string, fb Feedback) error
}

// Errors the Service's operations wrap, so the API can answer with the
// exception AWS names for each.
var (
	ErrUnknownMonitor      = errors.New("unknown anomaly monitor")
	ErrUnknownSubscription = errors.New("unknown anomaly subscription")
	ErrUnknownAnomaly      = errors.New("unknown anomaly")
)

// dollars converts an exact amount to float dollars (for scores,
// percentages and threshold comparisons only).
func dollars(a money.Amount) float64 { return float64(a) / float64(money.Dollar) }

// nanos rounds float dollars to an exact amount.
func nanos(d float64) money.Amount {
	if math.IsNaN(d) || math.IsInf(d, 0) {
		return 0
	}
	return money.Amount(math.Round(d * float64(money.Dollar)))
}
