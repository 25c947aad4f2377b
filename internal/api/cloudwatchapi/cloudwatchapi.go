// Package cloudwatchapi serves the part of the CloudWatch API that covers
// Tollgate's AWS/Bedrock metric series and metric alarms — GetMetricData,
// GetMetricStatistics, ListMetrics, PutMetricAlarm, DescribeAlarms,
// DescribeAlarmsForMetric, DescribeAlarmHistory, DeleteAlarms,
// SetAlarmState, EnableAlarmActions and DisableAlarmActions — in both
// protocols its SDKs speak: Smithy RPC v2 CBOR (the newest Go SDK,
// POST /service/GraniteServiceVersion20100801/operation/<Op>) and
// awsJson1_0 (the JavaScript v3 SDK, POST / with X-Amz-Target). Errors
// carry the awsQuery-compatible X-Amzn-Query-Error header CloudWatch's
// clients read their codes from.
//
// Authorization follows AWS: the alarm operations (PutMetricAlarm,
// DescribeAlarms, DescribeAlarmHistory, DeleteAlarms, SetAlarmState,
// EnableAlarmActions, DisableAlarmActions) authorize "cloudwatch:<Op>" on
// each alarm they name, arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME (on
// alarm:* when they name none); the metric operations and
// DescribeAlarmsForMetric on "*".
package cloudwatchapi

import (
	"context"
	"math"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/tollgate-dev/tollgate/internal/alarm"
	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/metrics"
)

// ServiceName is the Smithy service shape name: the X-Amz-Target prefix
// and the RPC v2 path segment.
const ServiceName = "GraniteServiceVersion20100801"

// SigningName is the SigV4 service name.
const SigningName = "monitoring"

// Codes maps error kinds to CloudWatch's exceptions.
var Codes = awsproto.Codes{
	errkind.Internal:      {Name: "InternalServiceFault", Status: 500},
	errkind.Unavailable:   {Name: "InternalServiceFault", Status: 500},
	errkind.Invalid:       {Name: "InvalidParameterValueException", Status: 400},
	errkind.NotFound:      {Name: "ResourceNotFound", Status: 404},
	errkind.Conflict:      {Name: "ConcurrentModificationException", Status: 429},
	errkind.Denied:        {Name: "AccessDenied", Status: 403},
	errkind.Throttled:     {Name: "Throttling", Status: 400},
	errkind.QuotaExceeded: {Name: "LimitExceededFault", Status: 400},
	errkind.TooManyTags:   {Name: "LimitExceededFault", Status: 400},
}

// queryCodes are the awsQuery error codes of CloudWatch's exceptions.
var queryCodes = map[string]string{
	"InternalServiceFault":                 "InternalServiceError",
	"InvalidParameterValueException":       "InvalidParameterValue",
	"InvalidParameterCombinationException": "InvalidParameterCombination",
	"MissingRequiredParameterException":    "MissingParameter",
	"InvalidFormatFault":                   "InvalidFormat",
	"LimitExceededFault":                   "LimitExceeded",
}

// Handler serves the CloudWatch API. Safe for concurrent use.
type Handler struct {
	metrics *metrics.Registry
	alarms  *alarm.Service
	region  string
	now     func() time.Time
}

// Options configures a Handler.
type Options struct {
	// Region appears in alarm ARNs.
	Region string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// New returns a Handler.
func New(m *metrics.Registry, a *alarm.Service, opts Options) *Handler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Handler{metrics: m, alarms: a, region: opts.Region, now: opts.Now}
}

// Service returns the CloudWatch API for the server, in both protocols.
func (h *Handler) Service() awsproto.Service {
	return awsproto.Service{
		Name: ServiceName, SigningName: SigningName, Label: "cloudwatch",
		Protocols: []awsproto.Protocol{awsproto.RPCv2CBOR, awsproto.AWSJSON10},
		Codes:     Codes, Namespace: "com.amazonaws.cloudwatch", QueryCodes: queryCodes,
		Before: h.before, Ops: operations.Bind(h),
	}
}

// operations are CloudWatch's operations. The alarm operations authorize
// "cloudwatch:<Op>" on each alarm they name (arn:aws:cloudwatch:REGION:
// ACCOUNT:alarm:NAME), on every alarm of the account ("alarm:*") when
// they name none; the others, on "*" (see before).
var operations = awsproto.Table[*Handler]{
	awsproto.Op("GetMetricData", (*Handler).getMetricData),
	awsproto.Op("GetMetricStatistics", (*Handler).getMetricStatistics),
	awsproto.Op("ListMetrics", (*Handler).listMetrics),
	awsproto.Guarded("PutMetricAlarm", alarmsNamed(func(in *putMetricAlarmInput) []string { return one(in.AlarmName) }), (*Handler).putMetricAlarm),
	awsproto.Guarded("DescribeAlarms", alarmsNamed(func(in *describeAlarmsInput) []string { return in.AlarmNames }), (*Handler).describeAlarms),
	awsproto.Op("DescribeAlarmsForMetric", (*Handler).describeAlarmsForMetric),
	awsproto.Guarded("DescribeAlarmHistory", alarmsNamed(func(in *describeAlarmHistoryInput) []string { return one(in.AlarmName) }), (*Handler).describeAlarmHistory),
	awsproto.Guarded("DeleteAlarms", alarmsNamed((*alarmNamesInput).names), (*Handler).deleteAlarms),
	awsproto.Guarded("EnableAlarmActions", alarmsNamed((*alarmNamesInput).names), (*Handler).enableAlarmActions),
	awsproto.Guarded("DisableAlarmActions", alarmsNamed((*alarmNamesInput).names), (*Handler).disableAlarmActions),
	awsproto.Guarded("SetAlarmState", alarmsNamed(func(in *setAlarmStateInput) []string { return one(in.AlarmName) }), (*Handler).setAlarmState),
}

// Operations are the operations the CloudWatch API serves, in both
// protocols.
var Operations = operations.Names()

// alarmOps are the operations AWS authorizes on the alarms they name.
var alarmOps = []string{"PutMetricAlarm", "DescribeAlarms", "DescribeAlarmHistory", "DeleteAlarms", "EnableAlarmActions", "DisableAlarmActions", "SetAlarmState"}

// before authorizes the metric operations and DescribeAlarmsForMetric,
// "cloudwatch:<op>" on "*"; the alarm operations authorize on what they
// name (alarmsNamed).
func (h *Handler) before(ctx context.Context, op string) error {
	if slices.Contains(alarmOps, op) {
		return nil
	}
	return awsproto.Authorize(ctx, "cloudwatch:"+op, "*", nil)
}

// alarmsNamed authorizes "cloudwatch:<op>" on each alarm names returns,
// or on every alarm of the account when it returns none.
func alarmsNamed[In any](names func(*In) []string) func(*Handler, context.Context, *In) error {
	return func(h *Handler, ctx context.Context, in *In) error {
		list := names(in)
		if len(list) == 0 {
			list = []string{"*"}
		}
		action := "cloudwatch:" + awsproto.Info(ctx).Op
		for _, n := range list {
			a := alarm.Alarm{Account: awsproto.Account(ctx), Name: n}
			if err := awsproto.Authorize(ctx, action, a.ARN(h.region), nil); err != nil {
				return err
			}
		}
		return nil
	}
}

func one(name *string) []string {
	if name == nil {
		return nil
	}
	return []string{*name}
}

func (in *alarmNamesInput) names() []string { return in.AlarmNames }

func (h *Handler) deleteAlarms(ctx context.Context, in alarmNamesInput) (empty, error) {
	if err := checkNames(in.AlarmNames); err != nil {
		return empty{}, err
	}
	return empty{}, h.alarms.Delete(ctx, awsproto.Account(ctx), in.AlarmNames)
}

func (h *Handler) enableAlarmActions(ctx context.Context, in alarmNamesInput) (empty, error) {
	return h.setActionsEnabled(ctx, in, true)
}

func (h *Handler) disableAlarmActions(ctx context.Context, in alarmNamesInput) (empty, error) {
	return h.setActionsEnabled(ctx, in, false)
}

func (h *Handler) setActionsEnabled(ctx context.Context, in alarmNamesInput, on bool) (empty, error) {
	if err := checkNames(in.AlarmNames); err != nil {
		return empty{}, err
	}
	return empty{}, h.alarms.SetActionsEnabled(ctx, awsproto.Account(ctx), in.AlarmNames, on)
}

func (h *Handler) setAlarmState(ctx context.Context, in setAlarmStateInput) (empty, error) {
	if in.AlarmName == nil || in.StateValue == nil || in.StateReason == nil {
		return empty{}, missing("AlarmName, StateValue and StateReason")
	}
	return empty{}, h.alarms.SetState(ctx, awsproto.Account(ctx), *in.AlarmName, alarm.State(*in.StateValue), *in.StateReason, deref(in.StateReasonData))
}

func missing(what string) error {
	return errkind.New(errkind.Invalid, "The parameter %s is required.", what).WithCode("MissingRequiredParameterException")
}

func invalid(format string, args ...any) *errkind.Error {
	return errkind.New(errkind.Invalid, format, args...)
}

func deref[T any](p *T) T {
	var z T
	if p == nil {
		return z
	}
	return *p
}

func checkNames(names []string) error {
	if len(names) > 100 {
		return invalid("At most 100 alarm names may be given.")
	}
	return nil
}

// tokens are CloudWatch's NextTokens. Each is bound to the request's
// parameters but for its page size.
var tokens = awsproto.Tokens{Member: "NextToken", Invalid: "InvalidNextToken"}

// timeOf converts an input timestamp (epoch seconds) to a time.
func timeOf(v *float64) time.Time {
	if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
		return time.Time{}
	}
	sec, frac := math.Modf(*v)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

func dimsMap(ds []dimension) (map[string]string, error) {
	if len(ds) > 30 {
		return nil, invalid("At most 30 dimensions may be given.")
	}
	m := make(map[string]string, len(ds))
	for _, d := range ds {
		if d.Name == nil || d.Value == nil || *d.Name == "" || len(*d.Name) > 255 || len(*d.Value) > 1024 {
			return nil, invalid("Each dimension needs a Name (1 to 255 characters) and a Value (at most 1024 characters).")
		}
		if _, dup := m[*d.Name]; dup {
			return nil, invalid("The dimension %s is given twice.", *d.Name)
		}
		m[*d.Name] = *d.Value
	}
	return m, nil
}

// window validates and aligns a query's time range and period: the start
// rounds down to the minute (to the hour when older than 15 days, where
// only hourly data is kept), and the period must be a multiple of 60 s.
func (h *Handler) window(start, end *float64, period int64) (time.Time, time.Time, time.Duration, error) {
	if start == nil || end == nil {
		return time.Time{}, time.Time{}, 0, missing("StartTime and EndTime")
	}
	from, to := timeOf(start), timeOf(end)
	if !from.Before(to) {
		return time.Time{}, time.Time{}, 0, invalid("The parameter StartTime must be less than the parameter EndTime.")
	}
	switch {
	case period <= 0:
		return time.Time{}, time.Time{}, 0, missing("Period")
	case period < 60 && (period == 1 || period == 5 || period == 10 || period == 20 || period == 30):
		return time.Time{}, time.Time{}, 0, invalid("The period %d needs high-resolution data; Tollgate's metrics have 1-minute resolution, so use a multiple of 60.", period)
	case period%60 != 0:
		return time.Time{}, time.Time{}, 0, invalid("The parameter Period must be a multiple of 60.")
	}
	from = from.Truncate(time.Minute)
	if from.Before(h.now().Add(-metrics.MinuteRetention)) {
		from = from.Truncate(time.Hour)
	}
	return from, to, time.Duration(period) * time.Second, nil
}

var idRE = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)

type queryResult struct {
	id, label string
	times     []time.Time
	values    []float64
}

func (h *Handler) getMetricData(ctx context.Context, in getMetricDataInput) (any, error) {
	account := awsproto.Account(ctx)
	if len(in.MetricDataQueries) == 0 {
		return nil, missing("MetricDataQueries")
	}
	if len(in.MetricDataQueries) > 500 {
		return nil, invalid("At most 500 MetricDataQueries may be given.")
	}
	desc := true
	switch deref(in.ScanBy) {
	case "", "TimestampDescending":
	case "TimestampAscending":
		desc = false
	default:
		return nil, invalid("ScanBy must be TimestampDescending or TimestampAscending.")
	}
	maxPoints := 100_800
	if in.MaxDatapoints != nil {
		if *in.MaxDatapoints < 1 {
			return nil, invalid("MaxDatapoints must be at least 1.")
		}
		maxPoints = int(*in.MaxDatapoints)
	}
	bind := in
	bind.NextToken, bind.MaxDatapoints = nil, nil
	skip := 0
	if tok, err := tokens.Read(ctx, in.NextToken, bind); err != nil {
		return nil, err
	} else if tok != "" {
		if skip, err = strconv.Atoi(tok); err != nil || skip < 0 {
			return nil, errkind.New(errkind.Invalid, "The NextToken is invalid.").WithCode("InvalidNextToken")
		}
	}
	seen := map[string]bool{}
	var results []queryResult
	for _, q := range in.MetricDataQueries {
		id := deref(q.Id)
		if !idRE.MatchString(id) || len(id) > 255 {
			return nil, invalid("The Id %q must start with a lowercase letter and hold only letters, digits and underscores.", id)
		}
		if seen[id] {
			return nil, invalid("The Id %s is used by more than one query.", id)
		}
		seen[id] = true
		if q.Expression != nil {
			return nil, invalid("Metric math expressions (query %s) are not supported by Tollgate; use MetricStat.", id)
		}
		if q.MetricStat == nil || q.MetricStat.Metric == nil {
			return nil, missing("MetricStat (query " + id + ")")
		}
		ms := q.MetricStat
		stat := deref(ms.Stat)
		if !metrics.ValidStat(stat) {
			return nil, invalid("The statistic %q of query %s is not supported: use SampleCount, Average, Sum, Minimum, Maximum or pNN.NN.", stat, id)
		}
		from, to, period, err := h.window(in.StartTime, in.EndTime, int64(deref(ms.Period)))
		if err != nil {
			return nil, err
		}
		res := queryResult{id: id, label: deref(ms.Metric.MetricName)}
		if q.Label != nil && *q.Label != "" {
			res.label = *q.Label
		}
		if q.ReturnData != nil && !*q.ReturnData {
			continue
		}
		periods, def, err := h.periods(ctx, account, ms.Metric, deref(ms.Unit), from, to, period)
		if err != nil {
			return nil, err
		}
		for _, p := range periods {
			if v, ok := p.Stats.Value(stat, def.Scale); ok && !math.IsNaN(v) {
				res.times, res.values = append(res.times, p.Start), append(res.values, v)
			}
		}
		if desc {
			slices.Reverse(res.times)
			slices.Reverse(res.values)
		}
		results = append(results, res)
	}
	out := getMetricDataOutput{MetricDataResults: []metricDataResult{}, Messages: []messageData{}}
	pos, taken := 0, 0
	for _, res := range results {
		n := len(res.values)
		lo := min(max(skip-pos, 0), n)
		hi := min(lo+(maxPoints-taken), n)
		pos += n
		status := "Complete"
		if hi < n {
			status = "PartialData"
		}
		r := metricDataResult{Id: res.id, Label: res.label, Timestamps: []epoch{}, Values: []float64{}, StatusCode: status, Messages: []messageData{}}
		for i := lo; i < hi; i++ {
			r.Timestamps = append(r.Timestamps, epoch(res.times[i]))
			r.Values = append(r.Values, res.values[i])
		}
		taken += hi - lo
		out.MetricDataResults = append(out.MetricDataResults, r)
	}
	if skip+taken < pos {
		out.NextToken = tokens.Next(ctx, bind, strconv.Itoa(skip+taken))
	}
	return out, nil
}

// periods reads the periods of the series a request names; a series that
// does not exist (another namespace, unknown dimensions, another unit) has
// none.
func (h *Handler) periods(ctx context.Context, account string, m *metricShape, unit string, from, to time.Time, period time.Duration) ([]metrics.Period, metrics.Def, error) {
	if m.Namespace == nil || m.MetricName == nil {
		return nil, metrics.Def{}, missing("Namespace and MetricName")
	}
	dims, err := dimsMap(m.Dimensions)
	if err != nil {
		return nil, metrics.Def{}, err
	}
	key, def, ok := metrics.Resolve(account, *m.Namespace, *m.MetricName, dims)
	if !ok || (unit != "" && unit != def.Unit) {
		return nil, def, nil
	}
	ps, err := h.metrics.Query(ctx, key, from, to, period)
	return ps, def, err
}

func (h *Handler) getMetricStatistics(ctx context.Context, in getMetricStatisticsInput) (any, error) {
	account := awsproto.Account(ctx)
	if in.Namespace == nil || in.MetricName == nil {
		return nil, missing("Namespace and MetricName")
	}
	switch {
	case len(in.Statistics) == 0 && len(in.ExtendedStatistics) == 0:
		return nil, missing("Statistics or ExtendedStatistics").(*errkind.Error).WithCode("InvalidParameterCombinationException")
	case len(in.Statistics) > 0 && len(in.ExtendedStatistics) > 0:
		return nil, invalid("Specify Statistics or ExtendedStatistics, not both.").WithCode("InvalidParameterCombinationException")
	case len(in.Statistics) > 5 || len(in.ExtendedStatistics) > 10:
		return nil, invalid("At most 5 Statistics or 10 ExtendedStatistics may be given.")
	}
	for _, s := range in.Statistics {
		if _, ok := metrics.ParsePercentile(s); ok || !metrics.ValidStat(s) {
			return nil, invalid("The statistic %q is not one of SampleCount, Average, Sum, Minimum, Maximum.", s)
		}
	}
	for _, s := range in.ExtendedStatistics {
		if _, ok := metrics.ParsePercentile(s); !ok {
			return nil, invalid("The extended statistic %q is not supported: use a percentile p0 to p100.", s)
		}
	}
	from, to, period, err := h.window(in.StartTime, in.EndTime, int64(deref(in.Period)))
	if err != nil {
		return nil, err
	}
	if n := to.Sub(from) / period; n > 1440 {
		return nil, invalid("You have requested up to %d datapoints, which exceeds the limit of 1,440. You may reduce the datapoints requested by increasing Period, or decreasing the time range.", n).WithCode("InvalidParameterCombinationException")
	}
	periods, def, err := h.periods(ctx, account, &metricShape{Namespace: in.Namespace, MetricName: in.MetricName, Dimensions: in.Dimensions}, deref(in.Unit), from, to, period)
	if err != nil {
		return nil, err
	}
	out := getMetricStatisticsOutput{Label: *in.MetricName, Datapoints: []datapoint{}}
	for _, p := range periods {
		d := datapoint{Timestamp: epoch(p.Start), Unit: def.Unit}
		for _, s := range in.Statistics {
			v, _ := p.Stats.Value(s, def.Scale)
			v2 := v
			switch s {
			case metrics.StatSum:
				d.Sum = &v2
			case metrics.StatAverage:
				d.Average = &v2
			case metrics.StatMinimum:
				d.Minimum = &v2
			case metrics.StatMaximum:
				d.Maximum = &v2
			case metrics.StatSampleCount:
				d.SampleCount = &v2
			}
		}
		if len(in.ExtendedStatistics) > 0 {
			d.ExtendedStatistics = map[string]float64{}
			for _, s := range in.ExtendedStatistics {
				d.ExtendedStatistics[s], _ = p.Stats.Value(s, def.Scale)
			}
		}
		out.Datapoints = append(out.Datapoints, d)
	}
	return out, nil
}

func (h *Handler) listMetrics(ctx context.Context, in listMetricsInput) (any, error) {
	account := awsproto.Account(ctx)
	since := h.now().Add(-14 * 24 * time.Hour)
	switch deref(in.RecentlyActive) {
	case "":
	case "PT3H":
		since = h.now().Add(-3 * time.Hour)
	default:
		return nil, invalid("RecentlyActive must be PT3H.")
	}
	if len(in.Dimensions) > 10 {
		return nil, invalid("At most 10 dimension filters may be given.")
	}
	bind := in
	bind.NextToken = nil
	after, err := tokens.Read(ctx, in.NextToken, bind)
	if err != nil {
		return nil, err
	}
	keys, err := h.metrics.Series(ctx, account, since)
	if err != nil {
		return nil, err
	}
	var all []outMetric
	for _, k := range keys {
		m := outMetric{Namespace: metrics.NamespaceOf(k.Metric), MetricName: k.Metric, Dimensions: []outDimension{}}
		for _, d := range metrics.Dimensions(k) {
			m.Dimensions = append(m.Dimensions, outDimension{Name: d[0], Value: d[1]})
		}
		if in.Namespace != nil && *in.Namespace != m.Namespace || in.MetricName != nil && *in.MetricName != m.MetricName {
			continue
		}
		if !matchFilters(m.Dimensions, in.Dimensions) {
			continue
		}
		all = append(all, m)
	}
	const pageSize = 500
	start := 0
	if after != "" {
		start = slices.IndexFunc(all, func(m outMetric) bool { return metricID(m) > after })
		if start < 0 {
			start = len(all)
		}
	}
	end := min(start+pageSize, len(all))
	out := listMetricsOutput{Metrics: append([]outMetric{}, all[start:end]...)}
	if end < len(all) {
		out.NextToken = tokens.Next(ctx, bind, metricID(all[end-1]))
	}
	return out, nil
}

func metricID(m outMetric) string {
	id := m.MetricName + "\x00"
	for _, d := range m.Dimensions {
		id += d.Value
	}
	return id
}

func matchFilters(ds []outDimension, fs []dimensionFilter) bool {
	for _, f := range fs {
		name := deref(f.Name)
		i := slices.IndexFunc(ds, func(d outDimension) bool { return d.Name == name })
		if i < 0 {
			return false
		}
		if f.Value != nil && metrics.NormalizeModelID(*f.Value) != ds[i].Value {
			return false
		}
	}
	return true
}

func (h *Handler) putMetricAlarm(ctx context.Context, in putMetricAlarmInput) (any, error) {
	account := awsproto.Account(ctx)
	switch {
	case len(in.Metrics) > 0 || in.ThresholdMetricId != nil:
		return nil, invalid("Alarms on metric math (Metrics, ThresholdMetricId) are not supported by Tollgate; use MetricName, Namespace and Dimensions.")
	case in.EvaluationCriteria != nil || in.EvaluationWindow != nil || in.EvaluationInterval != nil:
		return nil, invalid("EvaluationCriteria, EvaluationWindow and EvaluationInterval are not supported; alarms evaluate a sliding window every minute.")
	case in.Threshold == nil:
		return nil, missing("Threshold")
	}
	a := alarm.Alarm{Account: account, Name: deref(in.AlarmName), Description: deref(in.AlarmDescription),
		Namespace: deref(in.Namespace), MetricName: deref(in.MetricName), Statistic: deref(in.Statistic),
		ExtendedStatistic: deref(in.ExtendedStatistic), Unit: deref(in.Unit),
		Period: time.Duration(deref(in.Period)) * time.Second, EvaluationPeriods: int(deref(in.EvaluationPeriods)),
		DatapointsToAlarm: int(deref(in.DatapointsToAlarm)), Threshold: *in.Threshold,
		ComparisonOperator: deref(in.ComparisonOperator), TreatMissingData: deref(in.TreatMissingData),
		EvaluateLowSampleCountPercentile: deref(in.EvaluateLowSampleCountPercentile),
		ActionsEnabled:                   in.ActionsEnabled == nil || *in.ActionsEnabled,
		AlarmActions:                     in.AlarmActions, OKActions: in.OKActions, InsufficientDataActions: in.InsufficientDataActions}
	if math.IsNaN(a.Threshold) || math.IsInf(a.Threshold, 0) {
		return nil, invalid("Threshold must be a finite number.")
	}
	for _, d := range in.Dimensions {
		if d.Name == nil || d.Value == nil {
			return nil, invalid("Each dimension needs a Name and a Value.")
		}
		a.Dimensions = append(a.Dimensions, alarm.Dimension{Name: *d.Name, Value: *d.Value})
	}
	if err := h.alarms.Put(ctx, a); err != nil {
		return nil, err
	}
	return empty{}, nil
}

func (h *Handler) toWire(a alarm.Alarm) metricAlarm {
	m := metricAlarm{AlarmName: a.Name, AlarmArn: a.ARN(h.region), AlarmDescription: a.Description,
		AlarmConfigurationUpdatedTimestamp: epoch(a.ConfigurationUpdated), ActionsEnabled: a.ActionsEnabled,
		OKActions: nonNil(a.OKActions), AlarmActions: nonNil(a.AlarmActions), InsufficientDataActions: nonNil(a.InsufficientDataActions),
		StateValue: string(a.State), StateReason: a.StateReason, StateReasonData: a.StateReasonData,
		StateUpdatedTimestamp: epoch(a.StateUpdated), StateTransitionedTimestamp: epoch(a.StateTransitioned),
		MetricName: a.MetricName, Namespace: a.Namespace, Statistic: a.Statistic, ExtendedStatistic: a.ExtendedStatistic,
		Dimensions: []outDimension{}, Period: int32(a.Period / time.Second), Unit: a.Unit,
		EvaluationPeriods: int32(a.EvaluationPeriods), DatapointsToAlarm: int32(a.M()), Threshold: a.Threshold,
		ComparisonOperator: a.ComparisonOperator, TreatMissingData: a.Treat(),
		EvaluateLowSampleCountPercentile: a.EvaluateLowSampleCountPercentile}
	for _, d := range a.Dimensions {
		m.Dimensions = append(m.Dimensions, outDimension{Name: d.Name, Value: d.Value})
	}
	return m
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (h *Handler) describeAlarms(ctx context.Context, in describeAlarmsInput) (any, error) {
	account := awsproto.Account(ctx)
	if len(in.AlarmNames) > 100 {
		return nil, invalid("At most 100 AlarmNames may be given.")
	}
	if len(in.AlarmNames) > 0 && in.AlarmNamePrefix != nil {
		return nil, invalid("AlarmNames and AlarmNamePrefix cannot be given together.").WithCode("InvalidParameterCombinationException")
	}
	limit := 50
	if in.MaxRecords != nil {
		if *in.MaxRecords < 1 || *in.MaxRecords > 100 {
			return nil, invalid("MaxRecords must be between 1 and 100.")
		}
		limit = int(*in.MaxRecords)
	}
	bind := in
	bind.NextToken, bind.MaxRecords = nil, nil
	after, err := tokens.Read(ctx, in.NextToken, bind)
	if err != nil {
		return nil, err
	}
	out := describeAlarmsOutput{MetricAlarms: []metricAlarm{}, CompositeAlarms: []any{}}
	if len(in.AlarmTypes) > 0 && !slices.Contains(in.AlarmTypes, "MetricAlarm") {
		return out, nil
	}
	if in.ChildrenOfAlarmName != nil || in.ParentsOfAlarmName != nil {
		return out, nil // no composite alarms
	}
	f := alarm.Filter{Names: in.AlarmNames, Prefix: deref(in.AlarmNamePrefix), ActionPrefix: deref(in.ActionPrefix)}
	if in.StateValue != nil {
		f.State = alarm.State(*in.StateValue)
		if !f.State.Valid() {
			return nil, invalid("StateValue must be OK, ALARM or INSUFFICIENT_DATA.")
		}
	}
	list := h.alarms.List(account, f)
	for _, a := range list {
		if a.Name <= after && after != "" {
			continue
		}
		if len(out.MetricAlarms) == limit {
			out.NextToken = tokens.Next(ctx, bind, out.MetricAlarms[limit-1].AlarmName)
			break
		}
		out.MetricAlarms = append(out.MetricAlarms, h.toWire(a))
	}
	return out, nil
}

func (h *Handler) describeAlarmsForMetric(ctx context.Context, in describeAlarmsForMetricInput) (any, error) {
	account := awsproto.Account(ctx)
	if in.Namespace == nil || in.MetricName == nil {
		return nil, missing("Namespace and MetricName")
	}
	dims, err := dimsMap(in.Dimensions)
	if err != nil {
		return nil, err
	}
	out := describeAlarmsForMetricOutput{MetricAlarms: []metricAlarm{}}
	for _, a := range h.alarms.List(account, alarm.Filter{}) {
		if a.Namespace != *in.Namespace || a.MetricName != *in.MetricName || len(a.Dimensions) != len(dims) {
			continue
		}
		match := true
		for _, d := range a.Dimensions {
			if v, ok := dims[d.Name]; !ok || metrics.NormalizeModelID(v) != metrics.NormalizeModelID(d.Value) {
				match = false
			}
		}
		if !match || (in.Statistic != nil && *in.Statistic != a.Statistic) || (in.ExtendedStatistic != nil && *in.ExtendedStatistic != a.ExtendedStatistic) ||
			(in.Period != nil && time.Duration(*in.Period)*time.Second != a.Period) || (in.Unit != nil && *in.Unit != a.Unit) {
			continue
		}
		out.MetricAlarms = append(out.MetricAlarms, h.toWire(a))
	}
	return out, nil
}

func (h *Handler) describeAlarmHistory(ctx context.Context, in describeAlarmHistoryInput) (any, error) {
	account := awsproto.Account(ctx)
	q := alarm.HistoryQuery{Account: account, AlarmName: deref(in.AlarmName), Newest: true, Limit: 100}
	switch t := deref(in.HistoryItemType); t {
	case "", alarm.HistoryConfigurationUpdate, alarm.HistoryStateUpdate, alarm.HistoryAction:
		q.Type = t
	default:
		return nil, invalid("HistoryItemType must be ConfigurationUpdate, StateUpdate or Action.")
	}
	switch deref(in.ScanBy) {
	case "", "TimestampDescending":
	case "TimestampAscending":
		q.Newest = false
	default:
		return nil, invalid("ScanBy must be TimestampDescending or TimestampAscending.")
	}
	if in.MaxRecords != nil {
		if *in.MaxRecords < 1 || *in.MaxRecords > 100 {
			return nil, invalid("MaxRecords must be between 1 and 100.")
		}
		q.Limit = int(*in.MaxRecords)
	}
	if in.StartDate != nil {
		q.From = timeOf(in.StartDate)
	}
	if in.EndDate != nil {
		q.To = timeOf(in.EndDate).Add(time.Millisecond) // EndDate is inclusive
	}
	out := describeAlarmHistoryOutput{AlarmHistoryItems: []alarmHistoryItem{}}
	if len(in.AlarmTypes) > 0 && !slices.Contains(in.AlarmTypes, "MetricAlarm") {
		return out, nil
	}
	bind := in
	bind.NextToken, bind.MaxRecords = nil, nil
	tok, err := tokens.Read(ctx, in.NextToken, bind)
	if err != nil {
		return nil, err
	}
	if tok != "" {
		if q.Offset, err = strconv.Atoi(tok); err != nil || q.Offset < 0 {
			return nil, errkind.New(errkind.Invalid, "The NextToken is invalid.").WithCode("InvalidNextToken")
		}
	}
	limit := q.Limit
	q.Limit++ // one more tells whether there is a next page
	items, err := h.alarms.History(ctx, q)
	if err != nil {
		return nil, err
	}
	if len(items) > limit {
		items = items[:limit]
		out.NextToken = tokens.Next(ctx, bind, strconv.Itoa(q.Offset+limit))
	}
	for _, it := range items {
		out.AlarmHistoryItems = append(out.AlarmHistoryItems, alarmHistoryItem{AlarmName: it.AlarmName, AlarmType: "MetricAlarm",
			Timestamp: epoch(it.Time), HistoryItemType: it.Type, HistorySummary: it.Summary, HistoryData: it.Data})
	}
	return out, nil
}
