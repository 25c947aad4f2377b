package ceapi

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/tollgate-dev/tollgate/internal/anomaly"
	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// AnomalyHandler serves Cost Explorer's anomaly-detection operations
// (CreateAnomalyMonitor, GetAnomalyMonitors, UpdateAnomalyMonitor,
// DeleteAnomalyMonitor, the same four for subscriptions, GetAnomalies and
// ProvideAnomalyFeedback) over an anomaly.Service; plug it into
// Options.Anomalies. Every caller sees and changes the monitors,
// subscriptions and anomalies of its own account. Safe for concurrent
// use.
//
// Beyond AWS's shapes, root causes carry ProfileArn, ModelId and
// PrincipalId (SDKs ignore members they do not know), and the SNS
// subscriber of an IMMEDIATE subscription is a webhook URL, as for
// budgets.
type AnomalyHandler struct {
	svc *anomaly.Service
}

// NewAnomalyHandler returns a handler over svc.
func NewAnomalyHandler(svc *anomaly.Service) *AnomalyHandler {
	return &AnomalyHandler{svc: svc}
}

// anomalyOperations are the anomaly-detection operations. Each authorizes
// "ce:<Operation>" on the monitors or subscriptions it touches, as AWS
// does: the ARN the request names (arn:aws:ce::ACCOUNT:anomalymonitor/ID,
// .../anomalysubscription/ID), each ARN of a list, or the account's
// wildcard ARN of the type when a read names none. Creating and
// ProvideAnomalyFeedback name no existing resource and are authorized on
// "*".
var anomalyOperations = awsproto.Table[*AnomalyHandler]{
	awsproto.Guarded("CreateAnomalyMonitor", onResources(func(*createMonitorInput) []string { return nil }, ""), (*AnomalyHandler).createMonitor),
	awsproto.Guarded("GetAnomalyMonitors", onResources(func(in *getMonitorsInput) []string { return in.MonitorArnList }, monitorType), (*AnomalyHandler).getMonitors),
	awsproto.Guarded("UpdateAnomalyMonitor", onResources(func(in *updateMonitorInput) []string { return one(in.MonitorArn) }, monitorType), (*AnomalyHandler).updateMonitor),
	awsproto.Guarded("DeleteAnomalyMonitor", onResources(func(in *arnInput) []string { return one(in.MonitorArn) }, monitorType), (*AnomalyHandler).deleteMonitor),
	awsproto.Guarded("CreateAnomalySubscription", onResources(func(*createSubscriptionInput) []string { return nil }, ""), (*AnomalyHandler).createSubscription),
	awsproto.Guarded("GetAnomalySubscriptions", onResources(func(in *getSubscriptionsInput) []string { return in.SubscriptionArnList }, subscriptionType), (*AnomalyHandler).getSubscriptions),
	awsproto.Guarded("UpdateAnomalySubscription", onResources(func(in *updateSubscriptionInput) []string { return one(in.SubscriptionArn) }, subscriptionType), (*AnomalyHandler).updateSubscription),
	awsproto.Guarded("DeleteAnomalySubscription", onResources(func(in *arnInput) []string { return one(in.SubscriptionArn) }, subscriptionType), (*AnomalyHandler).deleteSubscription),
	awsproto.Guarded("GetAnomalies", onResources(func(in *getAnomaliesInput) []string { return one(in.MonitorArn) }, monitorType), (*AnomalyHandler).getAnomalies),
	awsproto.Guarded("ProvideAnomalyFeedback", onResources(func(*feedbackInput) []string { return nil }, ""), (*AnomalyHandler).provideFeedback),
}

// AnomalyOperations are the anomaly-detection operations AnomalyHandler
// serves.
var AnomalyOperations = anomalyOperations.Names()

const (
	monitorType      = "anomalymonitor"
	subscriptionType = "anomalysubscription"
)

// onResources authorizes "ce:<op>" on the ARNs named returns, or, when it
// returns none, on all of the account's resources of type typ ("" is
// "*").
func onResources[In any](named func(*In) []string, typ string) func(*AnomalyHandler, context.Context, *In) error {
	return func(_ *AnomalyHandler, ctx context.Context, in *In) error {
		resources := named(in)
		if len(resources) == 0 {
			all := "*"
			if typ != "" {
				all = "arn:aws:ce::" + awsproto.Account(ctx) + ":" + typ + "/*"
			}
			resources = []string{all}
		}
		for _, res := range resources {
			if err := awsproto.Authorize(ctx, "ce:"+awsproto.Info(ctx).Op, res, nil); err != nil {
				return err
			}
		}
		return nil
	}
}

func one(p *string) []string {
	if p == nil || *p == "" {
		return nil
	}
	return []string{*p}
}

// anomalyPageSize is the default page of the list operations; MaxResults
// may ask for up to maxAnomalyPage.
const (
	anomalyPageSize = 100
	maxAnomalyPage  = 1000
)

func (h *AnomalyHandler) deleteMonitor(ctx context.Context, in arnInput) (struct{}, error) {
	if err := requiredARN("MonitorArn", in.MonitorArn); err != nil {
		return struct{}{}, err
	}
	return struct{}{}, h.svc.DeleteMonitor(ctx, awsproto.Account(ctx), *in.MonitorArn)
}

func (h *AnomalyHandler) deleteSubscription(ctx context.Context, in arnInput) (struct{}, error) {
	if err := requiredARN("SubscriptionArn", in.SubscriptionArn); err != nil {
		return struct{}{}, err
	}
	return struct{}{}, h.svc.DeleteSubscription(ctx, awsproto.Account(ctx), *in.SubscriptionArn)
}

// anomalyError names the exceptions Cost Explorer's model gives unknown
// monitors and subscriptions.
func anomalyError(err error) error {
	switch {
	case errors.Is(err, anomaly.ErrUnknownMonitor):
		return errkind.As(err).WithCode("UnknownMonitorException")
	case errors.Is(err, anomaly.ErrUnknownSubscription):
		return errkind.As(err).WithCode("UnknownSubscriptionException")
	}
	return err
}

func requiredARN(name string, s *string) error {
	if s == nil || *s == "" {
		return invalid("%s is required.", name)
	}
	return nil
}

func required(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Wire shapes (AWS member names).

type resourceTag struct {
	Key   *string `json:"Key"`
	Value *string `json:"Value"`
}

type anomalyMonitorIn struct {
	MonitorName           *string              `json:"MonitorName"`
	MonitorType           *string              `json:"MonitorType"`
	MonitorDimension      *string              `json:"MonitorDimension"`
	MonitorSpecification  *awsproto.Expression `json:"MonitorSpecification"`
	MonitorArn            *string              `json:"MonitorArn"`
	CreationDate          *string              `json:"CreationDate"`
	LastEvaluatedDate     *string              `json:"LastEvaluatedDate"`
	LastUpdatedDate       *string              `json:"LastUpdatedDate"`
	DimensionalValueCount *int32               `json:"DimensionalValueCount"`
}

type createMonitorInput struct {
	AnomalyMonitor *anomalyMonitorIn `json:"AnomalyMonitor"`
	ResourceTags   []resourceTag     `json:"ResourceTags"`
}

type valuesOut struct {
	Key          string   `json:"Key,omitempty"`
	Values       []string `json:"Values,omitempty"`
	MatchOptions []string `json:"MatchOptions,omitempty"`
}

type expressionOut struct {
	And        []expressionOut `json:"And,omitempty"`
	Or         []expressionOut `json:"Or,omitempty"`
	Dimensions *valuesOut      `json:"Dimensions,omitempty"`
	Tags       *valuesOut      `json:"Tags,omitempty"`
}

type anomalyMonitorOut struct {
	MonitorArn            string         `json:"MonitorArn"`
	MonitorName           string         `json:"MonitorName"`
	MonitorType           string         `json:"MonitorType"`
	MonitorDimension      string         `json:"MonitorDimension,omitempty"`
	MonitorSpecification  *expressionOut `json:"MonitorSpecification,omitempty"`
	CreationDate          string         `json:"CreationDate"`
	LastUpdatedDate       string         `json:"LastUpdatedDate"`
	LastEvaluatedDate     string         `json:"LastEvaluatedDate,omitempty"`
	DimensionalValueCount int            `json:"DimensionalValueCount"`
}

type getMonitorsInput struct {
	MonitorArnList []string `json:"MonitorArnList"`
	MaxResults     *int32   `json:"MaxResults"`
	NextPageToken  *string  `json:"NextPageToken"`
}

type updateMonitorInput struct {
	MonitorArn  *string `json:"MonitorArn"`
	MonitorName *string `json:"MonitorName"`
}

type arnInput struct {
	MonitorArn      *string `json:"MonitorArn"`
	SubscriptionArn *string `json:"SubscriptionArn"`
}

type subscriberShape struct {
	Address *string `json:"Address"`
	Type    *string `json:"Type"`
	Status  *string `json:"Status"`
}

type subscriberOut struct {
	Address string `json:"Address"`
	Type    string `json:"Type"`
	Status  string `json:"Status"`
}

type anomalySubscriptionIn struct {
	SubscriptionName    *string              `json:"SubscriptionName"`
	MonitorArnList      []string             `json:"MonitorArnList"`
	Subscribers         []subscriberShape    `json:"Subscribers"`
	Frequency           *string              `json:"Frequency"`
	Threshold           *float64             `json:"Threshold"`
	ThresholdExpression *awsproto.Expression `json:"ThresholdExpression"`
	AccountId           *string              `json:"AccountId"`
	SubscriptionArn     *string              `json:"SubscriptionArn"`
}

type createSubscriptionInput struct {
	AnomalySubscription *anomalySubscriptionIn `json:"AnomalySubscription"`
	ResourceTags        []resourceTag          `json:"ResourceTags"`
}

type anomalySubscriptionOut struct {
	SubscriptionArn     string          `json:"SubscriptionArn"`
	AccountId           string          `json:"AccountId"`
	SubscriptionName    string          `json:"SubscriptionName"`
	MonitorArnList      []string        `json:"MonitorArnList"`
	Subscribers         []subscriberOut `json:"Subscribers"`
	Frequency           string          `json:"Frequency"`
	Threshold           *float64        `json:"Threshold,omitempty"`
	ThresholdExpression expressionOut   `json:"ThresholdExpression"`
}

type getSubscriptionsInput struct {
	SubscriptionArnList []string `json:"SubscriptionArnList"`
	MonitorArn          *string  `json:"MonitorArn"`
	MaxResults          *int32   `json:"MaxResults"`
	NextPageToken       *string  `json:"NextPageToken"`
}

type updateSubscriptionInput struct {
	SubscriptionArn     *string              `json:"SubscriptionArn"`
	SubscriptionName    *string              `json:"SubscriptionName"`
	Frequency           *string              `json:"Frequency"`
	MonitorArnList      []string             `json:"MonitorArnList"`
	Subscribers         []subscriberShape    `json:"Subscribers"`
	Threshold           *float64             `json:"Threshold"`
	ThresholdExpression *awsproto.Expression `json:"ThresholdExpression"`
}

type anomalyDateInterval struct {
	StartDate *string `json:"StartDate"`
	EndDate   *string `json:"EndDate"`
}

type totalImpactFilter struct {
	NumericOperator *string  `json:"NumericOperator"`
	StartValue      *float64 `json:"StartValue"`
	EndValue        *float64 `json:"EndValue"`
}

type getAnomaliesInput struct {
	DateInterval  *anomalyDateInterval `json:"DateInterval"`
	MonitorArn    *string              `json:"MonitorArn"`
	Feedback      *string              `json:"Feedback"`
	TotalImpact   *totalImpactFilter   `json:"TotalImpact"`
	MaxResults    *int32               `json:"MaxResults"`
	NextPageToken *string              `json:"NextPageToken"`
}

type anomalyScoreOut struct {
	MaxScore     float64 `json:"MaxScore"`
	CurrentScore float64 `json:"CurrentScore"`
}

type impactOut struct {
	MaxImpact             json.Number  `json:"MaxImpact"`
	TotalActualSpend      json.Number  `json:"TotalActualSpend"`
	TotalExpectedSpend    json.Number  `json:"TotalExpectedSpend"`
	TotalImpact           json.Number  `json:"TotalImpact"`
	TotalImpactPercentage *json.Number `json:"TotalImpactPercentage,omitempty"`
}

type rootCauseImpactOut struct {
	Contribution json.Number `json:"Contribution"`
}

type rootCauseOut struct {
	Service           string             `json:"Service"`
	Region            string             `json:"Region"`
	LinkedAccount     string             `json:"LinkedAccount"`
	LinkedAccountName string             `json:"LinkedAccountName"`
	UsageType         string             `json:"UsageType"`
	Impact            rootCauseImpactOut `json:"Impact"`
	// Tollgate's own members.
	ProfileArn  string `json:"ProfileArn,omitempty"`
	ModelId     string `json:"ModelId"`
	PrincipalId string `json:"PrincipalId,omitempty"`
}

type anomalyOut struct {
	AnomalyId        string          `json:"AnomalyId"`
	AnomalyStartDate string          `json:"AnomalyStartDate"`
	AnomalyEndDate   string          `json:"AnomalyEndDate"`
	DimensionValue   string          `json:"DimensionValue"`
	MonitorArn       string          `json:"MonitorArn"`
	Feedback         string          `json:"Feedback,omitempty"`
	AnomalyScore     anomalyScoreOut `json:"AnomalyScore"`
	Impact           impactOut       `json:"Impact"`
	RootCauses       []rootCauseOut  `json:"RootCauses"`
}

type feedbackInput struct {
	AnomalyId *string `json:"AnomalyId"`
	Feedback  *string `json:"Feedback"`
}

// resourceTags validates a ResourceTags list.
func resourceTags(list []resourceTag) (tags.Set, error) {
	tl := make([]tags.Tag, 0, len(list))
	for _, t := range list {
		if t.Key == nil || t.Value == nil {
			return nil, invalid("Each ResourceTag needs a Key and a Value.")
		}
		tl = append(tl, tags.Tag{Key: *t.Key, Value: *t.Value})
	}
	if err := tags.ValidateList(tl); err != nil {
		return nil, err
	}
	return tags.FromList(tl), nil
}

// single returns the one values expression e is, with its kind, or an
// error when e combines others.
func single(e *awsproto.Expression) (kind string, v *awsproto.ExpressionValues, ok bool) {
	if e == nil || e.And != nil || e.Or != nil || e.Not != nil {
		return "", nil, false
	}
	n := 0
	for _, c := range []struct {
		kind string
		v    *awsproto.ExpressionValues
	}{{"Dimensions", e.Dimensions}, {"Tags", e.Tags}, {"CostCategories", e.CostCategories}} {
		if c.v != nil {
			kind, v = c.kind, c.v
			n++
		}
	}
	return kind, v, n == 1
}

func monitorFromWire(in *anomalyMonitorIn) (anomaly.Monitor, error) {
	if in == nil {
		return anomaly.Monitor{}, invalid("AnomalyMonitor is required.")
	}
	m := anomaly.Monitor{Name: required(in.MonitorName), Type: anomaly.MonitorType(required(in.MonitorType))}
	if m.Type == anomaly.Dimensional {
		m.Dimension = anomaly.Dimension(required(in.MonitorDimension))
	}
	if in.MonitorSpecification == nil {
		return m, nil
	}
	kind, v, ok := single(in.MonitorSpecification)
	if !ok {
		return m, invalid("MonitorSpecification must be one Tags or Dimensions expression, without And, Or or Not.")
	}
	if v.Key == nil || *v.Key == "" {
		return m, invalid("MonitorSpecification.%s needs a Key.", kind)
	}
	for _, o := range v.MatchOptions {
		if o != "EQUALS" {
			return m, invalid("MonitorSpecification supports only the EQUALS match option.")
		}
	}
	switch kind {
	case "Tags":
		m.TagKey, m.Values = *v.Key, v.Values
		if m.Type == anomaly.Custom {
			m.Dimension = anomaly.DimTag
		} else if m.Dimension != anomaly.DimTag {
			return m, invalid("A Tags MonitorSpecification goes with MonitorDimension TAG.")
		}
	case "Dimensions":
		if *v.Key != string(anomaly.DimLinkedAccount) || m.Type != anomaly.Custom {
			return m, invalid("A Dimensions MonitorSpecification is for a CUSTOM monitor of LINKED_ACCOUNT values.")
		}
		m.Dimension, m.Values = anomaly.DimLinkedAccount, v.Values
	default:
		return m, invalid("Cost categories are not supported: Tollgate has none.")
	}
	return m, nil
}

func wireTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func monitorToWire(m anomaly.Monitor) anomalyMonitorOut {
	out := anomalyMonitorOut{
		MonitorArn: m.ARN, MonitorName: m.Name, MonitorType: string(m.Type),
		CreationDate: wireTime(m.CreatedAt), LastUpdatedDate: wireTime(m.UpdatedAt), DimensionalValueCount: m.ValueCount,
	}
	if !m.LastEvaluated.IsZero() {
		out.LastEvaluatedDate = wireTime(m.LastEvaluated)
	}
	if m.Type == anomaly.Dimensional {
		out.MonitorDimension = string(m.Dimension)
	}
	switch {
	case m.Dimension == anomaly.DimTag:
		out.MonitorSpecification = &expressionOut{Tags: &valuesOut{Key: m.TagKey, Values: m.Values}}
	case m.Type == anomaly.Custom:
		out.MonitorSpecification = &expressionOut{Dimensions: &valuesOut{Key: string(m.Dimension), Values: m.Values}}
	}
	return out
}

func (h *AnomalyHandler) createMonitor(ctx context.Context, in createMonitorInput) (any, error) {
	m, err := monitorFromWire(in.AnomalyMonitor)
	if err != nil {
		return nil, err
	}
	if m.ResourceTags, err = resourceTags(in.ResourceTags); err != nil {
		return nil, err
	}
	m, err = h.svc.CreateMonitor(ctx, awsproto.Account(ctx), m)
	if err != nil {
		return nil, err
	}
	return struct {
		MonitorArn string `json:"MonitorArn"`
	}{m.ARN}, nil
}

// page returns the [offset, end) of n entries a list request asks for,
// and the next token ("" for the last page).
func page(ctx context.Context, bind any, tok *string, maxResults *int32, n int) (int, int, string, error) {
	size := anomalyPageSize
	if maxResults != nil {
		if *maxResults < 1 || *maxResults > maxAnomalyPage {
			return 0, 0, "", invalid("MaxResults must be between 1 and %d.", maxAnomalyPage)
		}
		size = int(*maxResults)
	}
	offset, err := readOffset(ctx, tok, bind)
	if err != nil {
		return 0, 0, "", err
	}
	if offset > n {
		return 0, 0, "", errkind.New(errkind.Invalid, "The NextPageToken is invalid.").WithCode("InvalidNextTokenException")
	}
	end := min(n, offset+size)
	next := ""
	if end < n {
		next = tokens.NextOffset(ctx, bind, end)
	}
	return offset, end, next, nil
}

func (h *AnomalyHandler) getMonitors(ctx context.Context, in getMonitorsInput) (any, error) {
	tok := in.NextPageToken
	in.NextPageToken = nil
	account := awsproto.Account(ctx)
	mons, err := h.svc.Monitors(ctx, account, in.MonitorArnList)
	if err != nil {
		return nil, err
	}
	lo, hi, next, err := page(ctx, in, tok, in.MaxResults, len(mons))
	if err != nil {
		return nil, err
	}
	out := struct {
		AnomalyMonitors []anomalyMonitorOut `json:"AnomalyMonitors"`
		NextPageToken   string              `json:"NextPageToken,omitempty"`
	}{AnomalyMonitors: []anomalyMonitorOut{}, NextPageToken: next}
	for _, m := range mons[lo:hi] {
		out.AnomalyMonitors = append(out.AnomalyMonitors, monitorToWire(m))
	}
	return out, nil
}

func (h *AnomalyHandler) updateMonitor(ctx context.Context, in updateMonitorInput) (any, error) {
	arn := required(in.MonitorArn)
	if arn == "" {
		return nil, invalid("MonitorArn is required.")
	}
	if in.MonitorName != nil {
		if err := h.svc.RenameMonitor(ctx, awsproto.Account(ctx), arn, *in.MonitorName); err != nil {
			return nil, err
		}
	} else if _, err := h.svc.Monitors(ctx, awsproto.Account(ctx), []string{arn}); err != nil {
		return nil, err
	}
	return struct {
		MonitorArn string `json:"MonitorArn"`
	}{arn}, nil
}

// thresholdFromWire reads a ThresholdExpression.
func thresholdFromWire(e *awsproto.Expression, depth int) (anomaly.Threshold, error) {
	if depth > anomaly.MaxThresholdDepth {
		return anomaly.Threshold{}, invalid("The ThresholdExpression nests more than %d levels deep.", anomaly.MaxThresholdDepth)
	}
	var t anomaly.Threshold
	switch {
	case e.Not != nil || e.Tags != nil || e.CostCategories != nil:
		return t, invalid("A ThresholdExpression combines Dimensions of ANOMALY_TOTAL_IMPACT_ABSOLUTE and ANOMALY_TOTAL_IMPACT_PERCENTAGE with And and Or only.")
	case e.And != nil && e.Or == nil && e.Dimensions == nil:
		for i := range e.And {
			s, err := thresholdFromWire(&e.And[i], depth+1)
			if err != nil {
				return t, err
			}
			t.And = append(t.And, s)
		}
		if len(t.And) == 0 {
			return t, invalid("And needs at least one expression.")
		}
	case e.Or != nil && e.And == nil && e.Dimensions == nil:
		for i := range e.Or {
			s, err := thresholdFromWire(&e.Or[i], depth+1)
			if err != nil {
				return t, err
			}
			t.Or = append(t.Or, s)
		}
		if len(t.Or) == 0 {
			return t, invalid("Or needs at least one expression.")
		}
	case e.Dimensions != nil && e.And == nil && e.Or == nil:
		d := e.Dimensions
		t.Key = anomaly.ThresholdKey(required(d.Key))
		if len(d.MatchOptions) != 1 || d.MatchOptions[0] != "GREATER_THAN_OR_EQUAL" {
			return t, invalid("Threshold dimensions need MatchOptions [\"GREATER_THAN_OR_EQUAL\"].")
		}
		if len(d.Values) != 1 {
			return t, invalid("Threshold dimensions need exactly one value.")
		}
		v, err := strconv.ParseFloat(d.Values[0], 64)
		if err != nil {
			return t, invalid("Threshold value %q is not a number.", trunc(d.Values[0]))
		}
		t.Value = v
	default:
		return t, invalid("Each ThresholdExpression needs exactly one of And, Or or Dimensions.")
	}
	return t, nil
}

// thresholdOf reads the threshold a subscription request gives: exactly
// one of Threshold (legacy) and ThresholdExpression; neither when
// optional is true (an update that leaves it) returns nil.
func thresholdOf(legacy *float64, expr *awsproto.Expression, optional bool) (*anomaly.Threshold, bool, error) {
	switch {
	case legacy != nil && expr != nil:
		return nil, false, invalid("Provide either Threshold or ThresholdExpression, not both.")
	case legacy != nil:
		return &anomaly.Threshold{Key: anomaly.ImpactAbsolute, Value: *legacy}, true, nil
	case expr != nil:
		t, err := thresholdFromWire(expr, 1)
		return &t, false, err
	case optional:
		return nil, false, nil
	}
	return nil, false, invalid("A subscription needs a ThresholdExpression (or the deprecated Threshold).")
}

func thresholdToWire(t anomaly.Threshold) expressionOut {
	var out expressionOut
	for _, s := range t.And {
		out.And = append(out.And, thresholdToWire(s))
	}
	for _, s := range t.Or {
		out.Or = append(out.Or, thresholdToWire(s))
	}
	if t.Key != "" {
		out.Dimensions = &valuesOut{Key: string(t.Key), Values: []string{strconv.FormatFloat(t.Value, 'f', -1, 64)},
			MatchOptions: []string{"GREATER_THAN_OR_EQUAL"}}
	}
	return out
}

func subscribersFromWire(in []subscriberShape) []anomaly.Subscriber {
	out := make([]anomaly.Subscriber, 0, len(in))
	for _, s := range in {
		out = append(out, anomaly.Subscriber{Address: required(s.Address), Type: required(s.Type), Status: required(s.Status)})
	}
	return out
}

func subscriptionToWire(s anomaly.Subscription) anomalySubscriptionOut {
	out := anomalySubscriptionOut{
		SubscriptionArn: s.ARN, AccountId: s.Account, SubscriptionName: s.Name, MonitorArnList: s.MonitorARNs,
		Subscribers: []subscriberOut{}, Frequency: string(s.Frequency), ThresholdExpression: thresholdToWire(s.Threshold),
	}
	if out.MonitorArnList == nil {
		out.MonitorArnList = []string{}
	}
	for _, sb := range s.Subscribers {
		out.Subscribers = append(out.Subscribers, subscriberOut(sb))
	}
	if v, ok := s.Threshold.Absolute(); ok && s.Legacy {
		out.Threshold = &v
	}
	return out
}

func (h *AnomalyHandler) createSubscription(ctx context.Context, in createSubscriptionInput) (any, error) {
	a := in.AnomalySubscription
	if a == nil {
		return nil, invalid("AnomalySubscription is required.")
	}
	account := awsproto.Account(ctx)
	if a.AccountId != nil && *a.AccountId != "" && *a.AccountId != account {
		return nil, invalid("AccountId %q is not the caller's account.", trunc(*a.AccountId))
	}
	th, legacy, err := thresholdOf(a.Threshold, a.ThresholdExpression, false)
	if err != nil {
		return nil, err
	}
	sub := anomaly.Subscription{
		Name: required(a.SubscriptionName), MonitorARNs: a.MonitorArnList, Subscribers: subscribersFromWire(a.Subscribers),
		Frequency: anomaly.Frequency(required(a.Frequency)), Threshold: *th, Legacy: legacy,
	}
	if sub.ResourceTags, err = resourceTags(in.ResourceTags); err != nil {
		return nil, err
	}
	if sub, err = h.svc.CreateSubscription(ctx, account, sub); err != nil {
		return nil, err
	}
	return struct {
		SubscriptionArn string `json:"SubscriptionArn"`
	}{sub.ARN}, nil
}

func (h *AnomalyHandler) getSubscriptions(ctx context.Context, in getSubscriptionsInput) (any, error) {
	tok := in.NextPageToken
	in.NextPageToken = nil
	account := awsproto.Account(ctx)
	subs, err := h.svc.Subscriptions(ctx, account, in.SubscriptionArnList, required(in.MonitorArn))
	if err != nil {
		return nil, err
	}
	lo, hi, next, err := page(ctx, in, tok, in.MaxResults, len(subs))
	if err != nil {
		return nil, err
	}
	out := struct {
		AnomalySubscriptions []anomalySubscriptionOut `json:"AnomalySubscriptions"`
		NextPageToken        string                   `json:"NextPageToken,omitempty"`
	}{AnomalySubscriptions: []anomalySubscriptionOut{}, NextPageToken: next}
	for _, s := range subs[lo:hi] {
		out.AnomalySubscriptions = append(out.AnomalySubscriptions, subscriptionToWire(s))
	}
	return out, nil
}

func (h *AnomalyHandler) updateSubscription(ctx context.Context, in updateSubscriptionInput) (any, error) {
	arn := required(in.SubscriptionArn)
	if arn == "" {
		return nil, invalid("SubscriptionArn is required.")
	}
	th, legacy, err := thresholdOf(in.Threshold, in.ThresholdExpression, true)
	if err != nil {
		return nil, err
	}
	u := anomaly.SubscriptionUpdate{Name: in.SubscriptionName, MonitorARNs: in.MonitorArnList, Threshold: th, Legacy: legacy}
	if in.Frequency != nil {
		f := anomaly.Frequency(*in.Frequency)
		u.Frequency = &f
	}
	if in.Subscribers != nil {
		u.Subscribers = subscribersFromWire(in.Subscribers)
	}
	if err := h.svc.UpdateSubscription(ctx, awsproto.Account(ctx), arn, u); err != nil {
		return nil, err
	}
	return struct {
		SubscriptionArn string `json:"SubscriptionArn"`
	}{arn}, nil
}

// anomalyDate reads a GetAnomalies date: a day ("2006-01-02", which as
// an end includes the whole day) or a time ("2006-01-02T15:04:05Z").
func anomalyDate(s, name string, end bool) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, invalid("DateInterval.%s %q is invalid: use yyyy-MM-dd or yyyy-MM-ddThh:mm:ssZ.", name, trunc(s))
	}
	if end {
		t = t.Add(time.Second)
	}
	return t.UTC(), nil
}

func amountNumber(a money.Amount) json.Number { return json.Number(a.Decimal(0)) }

func anomalyToWire(a anomaly.Anomaly) anomalyOut {
	out := anomalyOut{
		AnomalyId: a.ID, AnomalyStartDate: wireTime(a.Start), AnomalyEndDate: wireTime(a.End),
		DimensionValue: a.DimensionValue, MonitorArn: a.MonitorARN, Feedback: string(a.Feedback),
		AnomalyScore: anomalyScoreOut{MaxScore: round2(a.MaxScore), CurrentScore: round2(a.CurrentScore)},
		Impact: impactOut{
			MaxImpact: amountNumber(a.MaxImpact), TotalActualSpend: amountNumber(a.Actual),
			TotalExpectedSpend: amountNumber(a.Expected), TotalImpact: amountNumber(a.Impact()),
		},
		RootCauses: []rootCauseOut{},
	}
	if p, ok := a.ImpactPercentage(); ok {
		n := json.Number(strconv.FormatFloat(p, 'f', -1, 64))
		out.Impact.TotalImpactPercentage = &n
	}
	for _, rc := range a.RootCauses {
		out.RootCauses = append(out.RootCauses, rootCauseOut{
			Service: anomaly.ServiceName, Region: rc.Region, LinkedAccount: rc.Account, LinkedAccountName: rc.Account,
			UsageType: rc.UsageType, Impact: rootCauseImpactOut{Contribution: amountNumber(rc.Contribution)},
			ProfileArn: rc.ProfileARN, ModelId: rc.ModelID, PrincipalId: rc.PrincipalID,
		})
	}
	return out
}

func round2(f float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', 2, 64), 64)
	return v
}

func (h *AnomalyHandler) getAnomalies(ctx context.Context, in getAnomaliesInput) (any, error) {
	tok := in.NextPageToken
	in.NextPageToken = nil
	account := awsproto.Account(ctx)
	if in.DateInterval == nil || in.DateInterval.StartDate == nil || *in.DateInterval.StartDate == "" {
		return nil, invalid("DateInterval.StartDate is required.")
	}
	var q anomaly.AnomalyQuery
	var err error
	if q.From, err = anomalyDate(*in.DateInterval.StartDate, "StartDate", false); err != nil {
		return nil, err
	}
	if e := required(in.DateInterval.EndDate); e != "" {
		if q.To, err = anomalyDate(e, "EndDate", true); err != nil {
			return nil, err
		}
		if !q.From.Before(q.To) {
			return nil, invalid("DateInterval.StartDate must not be after EndDate.")
		}
	}
	q.MonitorARN, q.Feedback = required(in.MonitorArn), anomaly.Feedback(required(in.Feedback))
	if ti := in.TotalImpact; ti != nil {
		if ti.NumericOperator == nil || ti.StartValue == nil {
			return nil, invalid("TotalImpact needs a NumericOperator and a StartValue.")
		}
		q.Impact = &anomaly.ImpactFilter{Operator: anomaly.NumericOperator(*ti.NumericOperator), Start: *ti.StartValue}
		if ti.EndValue != nil {
			q.Impact.End = *ti.EndValue
		} else if q.Impact.Operator == anomaly.OpBetween {
			return nil, invalid("TotalImpact BETWEEN needs an EndValue.")
		}
	}
	as, err := h.svc.Anomalies(ctx, account, q)
	if err != nil {
		return nil, err
	}
	lo, hi, next, err := page(ctx, in, tok, in.MaxResults, len(as))
	if err != nil {
		return nil, err
	}
	out := struct {
		Anomalies     []anomalyOut `json:"Anomalies"`
		NextPageToken string       `json:"NextPageToken,omitempty"`
	}{Anomalies: []anomalyOut{}, NextPageToken: next}
	for _, a := range as[lo:hi] {
		out.Anomalies = append(out.Anomalies, anomalyToWire(a))
	}
	return out, nil
}

func (h *AnomalyHandler) provideFeedback(ctx context.Context, in feedbackInput) (any, error) {
	id := required(in.AnomalyId)
	if id == "" {
		return nil, invalid("AnomalyId is required.")
	}
	if err := h.svc.ProvideFeedback(ctx, awsproto.Account(ctx), id, anomaly.Feedback(required(in.Feedback))); err != nil {
		return nil, err
	}
	return struct {
		AnomalyId string `json:"AnomalyId"`
	}{id}, nil
}
