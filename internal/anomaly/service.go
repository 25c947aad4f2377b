package anomaly

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/egress"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/notify"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// Service holds the rules of the anomaly-detection operations: who may
// create what, with which limits, and what each reads. Safe for
// concurrent use.
type Service struct {
	// Egress checks SNS subscribers' webhook URLs when a subscription is
	// created or updated; set it before use. Default nil: the egress
	// defaults, no internal address allowed.
	Egress *egress.Policy

	store Store
	now   func() time.Time
}

// NewService returns a Service keeping its state in store, with clock now
// (nil: time.Now).
func NewService(store Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now}
}

func invalid(format string, args ...any) error {
	return errkind.New(errkind.Invalid, format, args...)
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// anomalyID derives an anomaly's id from its monitor, value and first
// hour, so every evaluation (and every replica) names it the same.
func anomalyID(monitorARN, value string, start time.Time) string {
	h := sha256.Sum256([]byte(monitorARN + "\x00" + value + "\x00" + start.UTC().Format(time.RFC3339)))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// MonitorARN returns the ARN of monitor id of account.
func MonitorARN(account, id string) string {
	return "arn:aws:ce::" + account + ":anomalymonitor/" + id
}

// SubscriptionARN returns the ARN of subscription id of account.
func SubscriptionARN(account, id string) string {
	return "arn:aws:ce::" + account + ":anomalysubscription/" + id
}

var accountRE = regexp.MustCompile(`^[0-9]{12}$`)

func checkName(kind, name string) error {
	if strings.TrimSpace(name) == "" {
		return invalid("%sName is required.", kind)
	}
	if len(name) > MaxNameLength {
		return invalid("%sName must be at most %d characters long.", kind, MaxNameLength)
	}
	return nil
}

// checkMonitor validates what the caller sets of a monitor.
func checkMonitor(m *Monitor) error {
	if err := checkName("Monitor", m.Name); err != nil {
		return err
	}
	m.Values = dedupe(m.Values)
	switch m.Type {
	case Dimensional:
		switch m.Dimension {
		case DimService, DimLinkedAccount:
			if m.TagKey != "" || len(m.Values) > 0 {
				return invalid("A DIMENSIONAL monitor of %s takes no MonitorSpecification.", m.Dimension)
			}
		case DimTag:
			if m.TagKey == "" {
				return invalid("A DIMENSIONAL monitor of TAG needs MonitorSpecification {\"Tags\": {\"Key\": \"<tag key>\"}}.")
			}
			if len(m.Values) > 0 {
				return invalid("A DIMENSIONAL monitor of TAG tracks every value of its tag key: give the Key without Values, or create a CUSTOM monitor for up to %d values.", MaxCustomValues)
			}
			if err := tags.ValidateKey(m.TagKey); err != nil {
				return err
			}
		case "COST_CATEGORY":
			return invalid("MonitorDimension COST_CATEGORY is not supported: Tollgate has no cost categories. Use SERVICE, LINKED_ACCOUNT or TAG.")
		case "":
			return invalid("MonitorDimension is required for a DIMENSIONAL monitor: SERVICE, LINKED_ACCOUNT or TAG.")
		default:
			return invalid("Invalid MonitorDimension %q: valid values are SERVICE, LINKED_ACCOUNT and TAG.", truncate(string(m.Dimension)))
		}
	case Custom:
		if len(m.Values) == 0 || len(m.Values) > MaxCustomValues {
			return invalid("A CUSTOM monitor watches 1 to %d values; the specification has %d.", MaxCustomValues, len(m.Values))
		}
		switch m.Dimension {
		case DimTag:
			if err := tags.ValidateKey(m.TagKey); err != nil {
				return err
			}
			for _, v := range m.Values {
				if err := tags.ValidateValue(v); err != nil {
					return err
				}
			}
		case DimLinkedAccount:
			for _, v := range m.Values {
				if !accountRE.MatchString(v) {
					return invalid("LINKED_ACCOUNT value %q is not a 12-digit account id.", truncate(v))
				}
			}
		default:
			return invalid("A CUSTOM monitor needs MonitorSpecification {\"Tags\": {\"Key\": ..., \"Values\": [...]}} or {\"Dimensions\": {\"Key\": \"LINKED_ACCOUNT\", \"Values\": [...]}}.")
		}
	case "":
		return invalid("MonitorType is required: DIMENSIONAL or CUSTOM.")
	default:
		return invalid("Invalid MonitorType %q: valid values are DIMENSIONAL and CUSTOM.", truncate(string(m.Type)))
	}
	return nil
}

func dedupe(vs []string) []string {
	var out []string
	for _, v := range vs {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// CreateMonitor creates a monitor of account from m's Name, Type,
// Dimension, TagKey, Values and ResourceTags, and returns it. An account
// has at most one AWS services monitor (DIMENSIONAL of SERVICE) and
// MaxMonitors monitors in all.
func (s *Service) CreateMonitor(ctx context.Context, account string, m Monitor) (Monitor, error) {
	if err := checkMonitor(&m); err != nil {
		return Monitor{}, err
	}
	existing, err := s.store.AnomalyMonitors(ctx, account)
	if err != nil {
		return Monitor{}, err
	}
	if len(existing) >= MaxMonitors {
		return Monitor{}, errkind.New(errkind.QuotaExceeded, "An account can have at most %d anomaly monitors.", MaxMonitors)
	}
	if m.Type == Dimensional && m.Dimension == DimService {
		for _, e := range existing {
			if e.Type == Dimensional && e.Dimension == DimService {
				return Monitor{}, errkind.New(errkind.Conflict, "The account already has an AWS services monitor (%s); it can have only one.", e.ARN)
			}
		}
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	m.Account, m.ARN = account, MonitorARN(account, newUUID())
	m.CreatedAt, m.UpdatedAt = now, now
	m.LastEvaluated, m.ValueCount = time.Time{}, 0
	if m.ResourceTags == nil {
		m.ResourceTags = tags.Set{}
	}
	if err := s.store.CreateAnomalyMonitor(ctx, m); err != nil {
		return Monitor{}, err
	}
	return m, nil
}

func unknownMonitor(arn string) error {
	return errkind.Wrap(errkind.NotFound, ErrUnknownMonitor, "The cost anomaly monitor %s does not exist.", truncate(arn))
}

func unknownSubscription(arn string) error {
	return errkind.Wrap(errkind.NotFound, ErrUnknownSubscription, "The cost anomaly subscription %s does not exist.", truncate(arn))
}

// Monitors returns account's monitors: those of arns, in that order, or
// every one when arns is empty. An ARN the account does not have is
// ErrUnknownMonitor.
func (s *Service) Monitors(ctx context.Context, account string, arns []string) ([]Monitor, error) {
	all, err := s.store.AnomalyMonitors(ctx, account)
	if err != nil || len(arns) == 0 {
		return all, err
	}
	var out []Monitor
	for _, a := range dedupe(arns) {
		i := slices.IndexFunc(all, func(m Monitor) bool { return m.ARN == a })
		if i < 0 {
			return nil, unknownMonitor(a)
		}
		out = append(out, all[i])
	}
	return out, nil
}

// RenameMonitor renames a monitor of account.
func (s *Service) RenameMonitor(ctx context.Context, account, arn, name string) error {
	if err := checkName("Monitor", name); err != nil {
		return err
	}
	err := s.store.RenameAnomalyMonitor(ctx, account, arn, name, s.now().UTC().Truncate(time.Millisecond))
	if errkind.Is(err, errkind.NotFound) {
		return unknownMonitor(arn)
	}
	return err
}

// DeleteMonitor deletes a monitor of account with its anomalies, and
// takes it out of the account's subscriptions.
func (s *Service) DeleteMonitor(ctx context.Context, account, arn string) error {
	err := s.store.DeleteAnomalyMonitor(ctx, account, arn)
	if errkind.Is(err, errkind.NotFound) {
		return unknownMonitor(arn)
	}
	return err
}

// checkThreshold validates a threshold expression.
func checkThreshold(t Threshold, depth int) error {
	if depth > MaxThresholdDepth {
		return invalid("The ThresholdExpression nests more than %d levels deep.", MaxThresholdDepth)
	}
	n := 0
	for _, set := range []bool{len(t.And) > 0, len(t.Or) > 0, t.Key != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return invalid("Each ThresholdExpression needs exactly one of And, Or or Dimensions.")
	}
	for _, sub := range append(slices.Clone(t.And), t.Or...) {
		if err := checkThreshold(sub, depth+1); err != nil {
			return err
		}
	}
	if t.Key != "" {
		if t.Key != ImpactAbsolute && t.Key != ImpactPercentage {
			return invalid("Invalid threshold dimension %q: valid values are ANOMALY_TOTAL_IMPACT_ABSOLUTE and ANOMALY_TOTAL_IMPACT_PERCENTAGE.", truncate(string(t.Key)))
		}
		if t.Value < 0 || t.Value > MaxThreshold || t.Value != t.Value {
			return invalid("Threshold values must be numbers from 0 to %d.", int64(MaxThreshold))
		}
	}
	return nil
}

// checkSubscription validates a subscription of account against the
// account's monitors.
func (s *Service) checkSubscription(ctx context.Context, account string, sub *Subscription) error {
	if err := checkName("Subscription", sub.Name); err != nil {
		return err
	}
	sub.MonitorARNs = dedupe(sub.MonitorARNs)
	if len(sub.MonitorARNs) == 0 {
		return invalid("MonitorArnList needs at least one monitor.")
	}
	if len(sub.MonitorARNs) > MaxMonitors {
		return invalid("MonitorArnList can name at most %d monitors.", MaxMonitors)
	}
	mons, err := s.store.AnomalyMonitors(ctx, account)
	if err != nil {
		return err
	}
	for _, a := range sub.MonitorARNs {
		if !slices.ContainsFunc(mons, func(m Monitor) bool { return m.ARN == a }) {
			return unknownMonitor(a)
		}
	}
	switch sub.Frequency {
	case Immediate, Daily, Weekly:
	case "":
		return invalid("Frequency is required: DAILY, IMMEDIATE or WEEKLY.")
	default:
		return invalid("Invalid Frequency %q: valid values are DAILY, IMMEDIATE and WEEKLY.", truncate(string(sub.Frequency)))
	}
	var email, sns int
	for i := range sub.Subscribers {
		sb := &sub.Subscribers[i]
		if sb.Status == "" {
			sb.Status = SubscriberConfirmed
		}
		if sb.Status != SubscriberConfirmed && sb.Status != SubscriberDeclined {
			return invalid("Invalid subscriber Status %q: valid values are CONFIRMED and DECLINED.", truncate(sb.Status))
		}
		switch sb.Type {
		case SubscriberEmail:
			email++
			a, err := mail.ParseAddress(sb.Address)
			if err != nil || a.Address != sb.Address || len(sb.Address) > 2000 {
				return invalid("The EMAIL subscriber address %q is not a valid e-mail address.", truncate(sb.Address))
			}
		case SubscriberSNS:
			sns++
			if err := notify.CheckSNSAddress(sb.Address, s.Egress); err != nil {
				return err
			}
		default:
			return invalid("Invalid subscriber Type %q: valid values are EMAIL and SNS.", truncate(sb.Type))
		}
	}
	switch {
	case email+sns == 0:
		return invalid("Subscribers needs at least one subscriber.")
	case sns > 1 || (sns == 1 && email > 0):
		return invalid("A subscription has up to %d EMAIL subscribers or one SNS subscriber.", MaxEmailSubscribers)
	case email > MaxEmailSubscribers:
		return errkind.New(errkind.QuotaExceeded, "A subscription can have at most %d EMAIL subscribers.", MaxEmailSubscribers)
	case sub.Frequency == Immediate && sns == 0:
		return invalid("IMMEDIATE alerts go to an SNS subscriber; DAILY and WEEKLY summaries go to EMAIL subscribers.")
	case sub.Frequency != Immediate && email == 0:
		return invalid("%s summaries go to EMAIL subscribers; IMMEDIATE alerts go to an SNS subscriber.", sub.Frequency)
	}
	return checkThreshold(sub.Threshold, 1)
}

// CreateSubscription creates a subscription of account from sub's Name,
// MonitorARNs (the account's), Subscribers, Frequency, Threshold, Legacy
// and ResourceTags, and returns it.
func (s *Service) CreateSubscription(ctx context.Context, account string, sub Subscription) (Subscription, error) {
	if err := s.checkSubscription(ctx, account, &sub); err != nil {
		return Subscription{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	sub.Account, sub.ARN = account, SubscriptionARN(account, newUUID())
	sub.CreatedAt, sub.UpdatedAt = now, now
	if sub.ResourceTags == nil {
		sub.ResourceTags = tags.Set{}
	}
	if err := s.store.CreateAnomalySubscription(ctx, sub); err != nil {
		return Subscription{}, err
	}
	return sub, nil
}

// Subscriptions returns account's subscriptions: those of arns (in that
// order; an ARN the account does not have is ErrUnknownSubscription), or
// every one, and of those only the ones naming monitorARN when it is set.
func (s *Service) Subscriptions(ctx context.Context, account string, arns []string, monitorARN string) ([]Subscription, error) {
	all, err := s.store.AnomalySubscriptions(ctx, account)
	if err != nil {
		return nil, err
	}
	if len(arns) > 0 {
		var pick []Subscription
		for _, a := range dedupe(arns) {
			i := slices.IndexFunc(all, func(x Subscription) bool { return x.ARN == a })
			if i < 0 {
				return nil, unknownSubscription(a)
			}
			pick = append(pick, all[i])
		}
		all = pick
	}
	if monitorARN != "" {
		all = slices.DeleteFunc(all, func(x Subscription) bool { return !slices.Contains(x.MonitorARNs, monitorARN) })
	}
	return all, nil
}

// SubscriptionUpdate is a change to a subscription: nil fields stay.
type SubscriptionUpdate struct {
	Name        *string
	Frequency   *Frequency
	MonitorARNs []string
	Subscribers []Subscriber
	Threshold   *Threshold
	Legacy      bool // Threshold was given as the deprecated number
}

// UpdateSubscription changes a subscription of account.
func (s *Service) UpdateSubscription(ctx context.Context, account, arn string, u SubscriptionUpdate) error {
	subs, err := s.Subscriptions(ctx, account, []string{arn}, "")
	if err != nil {
		return err
	}
	sub := subs[0]
	if u.Name != nil {
		sub.Name = *u.Name
	}
	if u.Frequency != nil {
		sub.Frequency = *u.Frequency
	}
	if u.MonitorARNs != nil {
		sub.MonitorARNs = u.MonitorARNs
	}
	if u.Subscribers != nil {
		sub.Subscribers = u.Subscribers
	}
	if u.Threshold != nil {
		sub.Threshold, sub.Legacy = *u.Threshold, u.Legacy
	}
	if err := s.checkSubscription(ctx, account, &sub); err != nil {
		return err
	}
	sub.UpdatedAt = s.now().UTC().Truncate(time.Millisecond)
	err = s.store.UpdateAnomalySubscription(ctx, sub)
	if errkind.Is(err, errkind.NotFound) {
		return unknownSubscription(arn)
	}
	return err
}

// DeleteSubscription deletes a subscription of account.
func (s *Service) DeleteSubscription(ctx context.Context, account, arn string) error {
	err := s.store.DeleteAnomalySubscription(ctx, account, arn)
	if errkind.Is(err, errkind.NotFound) {
		return unknownSubscription(arn)
	}
	return err
}

// NumericOperator compares an anomaly's total impact in a query.
type NumericOperator string

// The operators.
const (
	OpEqual              NumericOperator = "EQUAL"
	OpGreaterThanOrEqual NumericOperator = "GREATER_THAN_OR_EQUAL"
	OpLessThanOrEqual    NumericOperator = "LESS_THAN_OR_EQUAL"
	OpGreaterThan        NumericOperator = "GREATER_THAN"
	OpLessThan           NumericOperator = "LESS_THAN"
	OpBetween            NumericOperator = "BETWEEN"
)

// ImpactFilter selects anomalies by total impact (dollars). BETWEEN is
// inclusive of both ends.
type ImpactFilter struct {
	Operator   NumericOperator
	Start, End float64
}

func (f ImpactFilter) match(impact money.Amount) bool {
	v, a, b := impact, nanos(f.Start), nanos(f.End)
	switch f.Operator {
	case OpEqual:
		return v == a
	case OpGreaterThanOrEqual:
		return v >= a
	case OpLessThanOrEqual:
		return v <= a
	case OpGreaterThan:
		return v > a
	case OpLessThan:
		return v < a
	case OpBetween:
		return v >= a && v <= b
	}
	return false
}

// AnomalyQuery selects anomalies of the caller's monitors.
type AnomalyQuery struct {
	// From and To bound the anomalies' End: From <= End < To (To zero:
	// unbounded).
	From, To   time.Time
	MonitorARN string        // "" = every monitor
	Feedback   Feedback      // "" = any
	Impact     *ImpactFilter // nil = any
}

// Anomalies returns the anomalies of account's monitors q selects, by
// End then ID.
func (s *Service) Anomalies(ctx context.Context, account string, q AnomalyQuery) ([]Anomaly, error) {
	if q.Feedback != "" && !q.Feedback.Valid() {
		return nil, invalid("Invalid Feedback %q: valid values are YES, NO and PLANNED_ACTIVITY.", truncate(string(q.Feedback)))
	}
	if q.Impact != nil {
		switch q.Impact.Operator {
		case OpEqual, OpGreaterThanOrEqual, OpLessThanOrEqual, OpGreaterThan, OpLessThan:
		case OpBetween:
			if q.Impact.End < q.Impact.Start {
				return nil, invalid("TotalImpact BETWEEN needs an EndValue at least its StartValue.")
			}
		default:
			return nil, invalid("Invalid NumericOperator %q: valid values are EQUAL, GREATER_THAN_OR_EQUAL, LESS_THAN_OR_EQUAL, GREATER_THAN, LESS_THAN and BETWEEN.", truncate(string(q.Impact.Operator)))
		}
	}
	all, err := s.store.Anomalies(ctx, AnomalyFilter{Account: account, MonitorARN: q.MonitorARN, EndFrom: q.From, EndTo: q.To})
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(a Anomaly) bool {
		return (q.Feedback != "" && a.Feedback != q.Feedback) || (q.Impact != nil && !q.Impact.match(a.Impact()))
	}), nil
}

// ProvideFeedback records the owner's feedback on an anomaly of account.
// Feedback NO or PLANNED_ACTIVITY also tells the detector that the
// anomaly's hours are normal spend to learn from.
func (s *Service) ProvideFeedback(ctx context.Context, account, id string, fb Feedback) error {
	if !fb.Valid() {
		return invalid("Invalid Feedback %q: valid values are YES, NO and PLANNED_ACTIVITY.", truncate(string(fb)))
	}
	err := s.store.SetAnomalyFeedback(ctx, account, id, fb)
	if errkind.Is(err, errkind.NotFound) {
		return errkind.Wrap(errkind.NotFound, ErrUnknownAnomaly, "The anomaly %s does not exist.", truncate(id))
	}
	return err
}
