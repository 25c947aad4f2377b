// Package ceapi serves the Cost Explorer API (awsJson1_1, X-Amz-Target
// AWSInsightsIndexService.*, signing name "ce") over Tollgate's usage
// ledger: GetCostAndUsage, GetCostAndUsageWithResources,
// GetDimensionValues, GetTags and GetCostForecast, wire-compatible with
// aws-sdk-go-v2/service/costexplorer. It translates wire shapes to
// internal/costquery and back, pages results with NextPageToken, and
// answers errors with the exceptions the Cost Explorer model defines
// (ValidationException for bad requests, which the model leaves
// unmodelled, as the service does). AnomalyHandler (anomaly.go) serves
// Cost Anomaly Detection's operations, plugged in through Options.Anomalies.
//
// What a caller sees: the organisation's management account (the
// deployment's own account) sees the spend of every account, as an AWS
// payer account does; any other account sees its own. BillingViewArn is
// accepted and ignored (there is one billing view).
package ceapi

import (
	"context"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// ServiceName is the Smithy service shape name: the X-Amz-Target prefix.
const ServiceName = "AWSInsightsIndexService"

// SigningName is the SigV4 service name Cost Explorer requests are signed
// for.
const SigningName = "ce"

// Codes maps error kinds to Cost Explorer's exceptions. Unavailable is
// DataUnavailableException (not enough data, e.g. for a forecast);
// Throttled and QuotaExceeded are LimitExceededException.
var Codes = awsproto.Codes{
	errkind.Internal:      {Name: "InternalFailure", Status: 500},
	errkind.Invalid:       {Name: "ValidationException", Status: 400},
	errkind.NotFound:      {Name: "ResourceNotFoundException", Status: 400},
	errkind.Conflict:      {Name: "ValidationException", Status: 400},
	errkind.Denied:        {Name: "AccessDeniedException", Status: 400},
	errkind.Throttled:     {Name: "LimitExceededException", Status: 400},
	errkind.Unavailable:   {Name: "DataUnavailableException", Status: 400},
	errkind.QuotaExceeded: {Name: "LimitExceededException", Status: 400},
	errkind.TooManyTags:   {Name: "TooManyTagsException", Status: 400},
}

// Options configures a Handler.
type Options struct {
	// Management is the account that sees every account's spend (the
	// organisation's management account); other callers see only their
	// own. "" means every caller sees only its own account.
	Management string
	// PageSize is the most entries a page holds: (period, group) pairs for
	// GetCostAndUsage, values for GetDimensionValues and GetTags. 0 means
	// 1000.
	PageSize int
	// Anomalies serves Cost Anomaly Detection's operations; nil answers
	// them UnknownOperationException.
	Anomalies *AnomalyHandler
}

// operations are the cost and usage operations, each authorized as
// "ce:<Operation>" on "*" (before).
var operations = awsproto.Table[*Handler]{
	awsproto.Op("GetCostAndUsage", (*Handler).getCostAndUsage),
	awsproto.Op("GetCostAndUsageWithResources", (*Handler).getCostAndUsageWithResources),
	awsproto.Op("GetDimensionValues", (*Handler).getDimensionValues),
	awsproto.Op("GetTags", (*Handler).getTags),
	awsproto.Op("GetCostForecast", (*Handler).getCostForecast),
}

// Operations are the cost and usage operations Handler serves itself, each
// authorized as "ce:<Operation>" on "*"; AnomalyOperations are served
// through Options.Anomalies.
var Operations = operations.Names()

// Handler serves Cost Explorer. Safe for concurrent use.
type Handler struct {
	svc  *costquery.Service
	opts Options
}

// New returns a Handler answering from svc.
func New(svc *costquery.Service, opts Options) *Handler {
	if opts.PageSize <= 0 {
		opts.PageSize = 1000
	}
	return &Handler{svc: svc, opts: opts}
}

// Service returns Cost Explorer for the server: the cost and usage
// operations and, with Options.Anomalies, anomaly detection's.
func (h *Handler) Service() awsproto.Service {
	ops := operations.Bind(h)
	if h.opts.Anomalies != nil {
		ops = append(ops, anomalyOperations.Bind(h.opts.Anomalies)...)
	}
	return awsproto.Service{
		Name: ServiceName, SigningName: SigningName, Label: "ce",
		Protocols: []awsproto.Protocol{awsproto.AWSJSON11}, Codes: Codes,
		Before: before, MapError: anomalyError, Ops: ops,
	}
}

// before authorizes the cost and usage queries, "ce:<op>" on "*", as AWS
// does; the anomaly operations authorize on what they name.
func before(ctx context.Context, op string) error {
	if !slices.Contains(Operations, op) {
		return nil
	}
	return awsproto.Authorize(ctx, "ce:"+op, "*", nil)
}

// accounts returns the accounts the caller may see (nil: all).
func (h *Handler) accounts(ctx context.Context) []string {
	a := awsproto.Account(ctx)
	if h.opts.Management != "" && a == h.opts.Management {
		return nil
	}
	return []string{a}
}

// tokens are Cost Explorer's NextPageTokens, bound to the whole request
// but its token: one that does not read is InvalidNextTokenException, one
// presented with a different request RequestChangedException.
var tokens = awsproto.Tokens{Member: "NextPageToken", Invalid: "InvalidNextTokenException", Changed: "RequestChangedException"}

// readOffset returns the offset a token continues from (0 without one);
// the caller checks it against its results.
func readOffset(ctx context.Context, tok *string, bind any) (int, error) {
	return tokens.ReadOffset(ctx, tok, bind, math.MaxInt)
}

func invalid(format string, args ...any) error {
	return errkind.New(errkind.Invalid, format, args...)
}

// parseTime reads a Cost Explorer date ("2006-01-02") or a whole-hour
// timestamp ("2006-01-02T15:00:00Z", as HOURLY requests use).
func parseTime(s *string, name string) (time.Time, error) {
	if s == nil || *s == "" {
		return time.Time{}, invalid("TimePeriod.%s is required.", name)
	}
	if t, err := time.Parse(time.DateOnly, *s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		return time.Time{}, invalid("%s date %q is invalid: use yyyy-MM-dd, or yyyy-MM-ddThh:mm:ssZ for HOURLY.", name, trunc(*s))
	}
	t = t.UTC()
	if !t.Equal(t.Truncate(time.Hour)) {
		return time.Time{}, invalid("%s %q must be a whole hour.", name, trunc(*s))
	}
	return t, nil
}

func parseInterval(iv *dateInterval) (time.Time, time.Time, error) {
	if iv == nil {
		return time.Time{}, time.Time{}, invalid("TimePeriod is required.")
	}
	from, err := parseTime(iv.Start, "Start")
	if err != nil {
		return from, from, err
	}
	to, err := parseTime(iv.End, "End")
	if err != nil {
		return from, to, err
	}
	if !from.Before(to) {
		return from, to, invalid("Start date (and hour) should be before end date (and hour).")
	}
	return from, to, nil
}

// formatTime writes a period boundary as Cost Explorer does: a date, or a
// timestamp for HOURLY results (and boundaries that are not midnight).
func formatTime(t time.Time, g costquery.Granularity) string {
	if g != costquery.Hourly && t.Equal(t.Truncate(24*time.Hour)) {
		return t.Format(time.DateOnly)
	}
	return t.Format("2006-01-02T15:04:05Z")
}

func trunc(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func filterOf(e *awsproto.Expression) (*costquery.Expr, error) {
	f, err := e.Query()
	if err != nil {
		return nil, err
	}
	return f, f.Validate()
}

func metricsOf(names []string, t costquery.Totals) map[string]metricValue {
	m := make(map[string]metricValue, len(names))
	for _, n := range names {
		switch {
		case costquery.IsCostMetric(n):
			m[n] = metricValue{Amount: t.Cost.Decimal(0), Unit: "USD"}
		case n == costquery.UsageQuantity:
			m[n] = metricValue{Amount: strconv.FormatInt(t.Usage, 10), Unit: "N/A"}
		default: // NormalizedUsageAmount: no instance sizes to normalise
			m[n] = metricValue{Amount: "0", Unit: "N/A"}
		}
	}
	return m
}

func (h *Handler) getCostAndUsage(ctx context.Context, in getCostAndUsageInput) (any, error) {
	return h.costAndUsage(ctx, "GetCostAndUsage", in)
}

func (h *Handler) getCostAndUsageWithResources(ctx context.Context, in getCostAndUsageInput) (any, error) {
	return h.costAndUsage(ctx, "GetCostAndUsageWithResources", in)
}

func (h *Handler) costAndUsage(ctx context.Context, op string, in getCostAndUsageInput) (any, error) {
	tok := in.NextPageToken
	in.NextPageToken = nil
	bind := in
	from, to, err := parseInterval(in.TimePeriod)
	if err != nil {
		return nil, err
	}
	if in.Granularity == nil {
		return nil, invalid("Granularity is required: DAILY, MONTHLY or HOURLY.")
	}
	if err := costquery.ValidateMetrics(in.Metrics); err != nil {
		return nil, err
	}
	var metrics []string
	for _, m := range in.Metrics {
		if !slices.Contains(metrics, m) {
			metrics = append(metrics, m)
		}
	}
	if op == "GetCostAndUsageWithResources" && in.Filter == nil {
		return nil, invalid("Filter is required for GetCostAndUsageWithResources.")
	}
	q := costquery.Query{From: from, To: to, Granularity: costquery.Granularity(*in.Granularity)}
	if len(in.GroupBy) > 2 {
		return nil, invalid("You can group by at most two groups; the request has %d.", len(in.GroupBy))
	}
	for _, g := range in.GroupBy {
		if g.Type == nil || g.Key == nil {
			return nil, invalid("Each GroupBy needs a Type and a Key.")
		}
		q.GroupBy = append(q.GroupBy, costquery.GroupBy{Type: costquery.GroupType(*g.Type), Key: *g.Key})
	}
	if q.Filter, err = filterOf(in.Filter); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	offset, err := readOffset(ctx, tok, bind)
	if err != nil {
		return nil, err
	}
	res, err := h.svc.CostAndUsage(ctx, h.accounts(ctx), q)
	if err != nil {
		return nil, err
	}

	// Every period is one entry without GroupBy; with it, each of its
	// groups is one (a period without groups still one, so it shows).
	grouped := len(q.GroupBy) > 0
	total := 0
	for _, p := range res.Periods {
		total += max(1, len(p.Groups))
	}
	if offset > total {
		return nil, errkind.New(errkind.Invalid, "The NextPageToken is invalid.").WithCode("InvalidNextTokenException")
	}
	end := min(total, offset+h.opts.PageSize)
	out := getCostAndUsageOutput{ResultsByTime: []resultByTime{}, DimensionValueAttributes: []dimensionValuesWithAttributes{}}
	for _, g := range q.GroupBy {
		out.GroupDefinitions = append(out.GroupDefinitions, groupDefinitionOut{Type: string(g.Type), Key: g.Key})
	}
	accountGroup := -1
	for i, g := range q.GroupBy {
		if g.Type == costquery.GroupDimension && g.Key == costquery.DimLinkedAccount {
			accountGroup = i
		}
	}
	seenAccounts := map[string]bool{}
	n := 0
	for _, p := range res.Periods {
		size := max(1, len(p.Groups))
		if n+size <= offset || n >= end {
			n += size
			continue
		}
		rbt := resultByTime{
			TimePeriod: dateIntervalOut{Start: formatTime(p.Start, q.Granularity), End: formatTime(p.End, q.Granularity)},
			Total:      map[string]metricValue{},
			Groups:     []groupOut{},
			Estimated:  p.Estimated,
		}
		if !grouped {
			rbt.Total = metricsOf(metrics, p.Total)
		}
		lo, hi := max(0, offset-n), min(len(p.Groups), end-n)
		for _, g := range p.Groups[min(lo, len(p.Groups)):max(lo, hi)] {
			rbt.Groups = append(rbt.Groups, groupOut{Keys: g.Keys, Metrics: metricsOf(metrics, g.Totals)})
			if accountGroup >= 0 && !seenAccounts[g.Keys[accountGroup]] {
				seenAccounts[g.Keys[accountGroup]] = true
				out.DimensionValueAttributes = append(out.DimensionValueAttributes, dimensionValuesWithAttributes{
					Value: g.Keys[accountGroup], Attributes: map[string]string{"description": g.Keys[accountGroup]}})
			}
		}
		out.ResultsByTime = append(out.ResultsByTime, rbt)
		n += size
	}
	if end < total {
		out.NextPageToken = tokens.NextOffset(ctx, bind, end)
	}
	return out, nil
}

// sortValues orders values by SortBy: each definition's metric in its
// order, then by value.
func sortValues(vals []costquery.Value, sortBy []sortDefinition) error {
	type key struct {
		usage bool
		desc  bool
	}
	var keys []key
	for _, s := range sortBy {
		if s.Key == nil {
			return invalid("Each SortBy needs a Key.")
		}
		k := *s.Key
		if err := costquery.ValidateMetrics([]string{k}); err != nil {
			return err
		}
		desc := false
		if s.SortOrder != nil {
			switch *s.SortOrder {
			case "ASCENDING":
			case "DESCENDING":
				desc = true
			default:
				return invalid("Invalid SortOrder %q: valid values are ASCENDING and DESCENDING.", trunc(*s.SortOrder))
			}
		}
		keys = append(keys, key{usage: !costquery.IsCostMetric(k), desc: desc})
	}
	slices.SortStableFunc(vals, func(a, b costquery.Value) int {
		for _, k := range keys {
			x, y := int64(a.Cost), int64(b.Cost)
			if k.usage {
				x, y = a.Usage, b.Usage
			}
			c := 0
			switch {
			case x < y:
				c = -1
			case x > y:
				c = 1
			}
			if k.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	return nil
}

// pageValues returns the page of vals a request asks for, and the token
// of the next page ("" for the last).
func (h *Handler) pageValues(ctx context.Context, vals []costquery.Value, sortBy []sortDefinition, maxResults *int32, search *string, tok *string, bind any) ([]costquery.Value, string, error) {
	if len(sortBy) > 0 {
		if tok != nil && *tok != "" {
			return nil, "", invalid("NextPageToken is not supported with SortBy.")
		}
		if search != nil && *search != "" {
			return nil, "", invalid("SearchString is not supported with SortBy.")
		}
		limit := 1000
		if maxResults != nil {
			if *maxResults < 1 || *maxResults > 1000 {
				return nil, "", invalid("MaxResults must be between 1 and 1000.")
			}
			limit = int(*maxResults)
		}
		if err := sortValues(vals, sortBy); err != nil {
			return nil, "", err
		}
		return vals[:min(limit, len(vals))], "", nil
	}
	offset, err := readOffset(ctx, tok, bind)
	if err != nil {
		return nil, "", err
	}
	if offset > len(vals) {
		return nil, "", errkind.New(errkind.Invalid, "The NextPageToken is invalid.").WithCode("InvalidNextTokenException")
	}
	end := min(len(vals), offset+h.opts.PageSize)
	next := ""
	if end < len(vals) {
		next = tokens.NextOffset(ctx, bind, end)
	}
	return vals[offset:end], next, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (h *Handler) getDimensionValues(ctx context.Context, in getDimensionValuesInput) (any, error) {
	tok := in.NextPageToken
	in.NextPageToken = nil
	bind := in
	from, to, err := parseInterval(in.TimePeriod)
	if err != nil {
		return nil, err
	}
	if in.Dimension == nil || *in.Dimension == "" {
		return nil, invalid("Dimension is required.")
	}
	if c := deref(in.Context); c != "" && c != "COST_AND_USAGE" {
		return nil, invalid("Context %q is not supported: Tollgate has only COST_AND_USAGE data.", trunc(c))
	}
	sc := costquery.Scope{From: from, To: to, Search: deref(in.SearchString)}
	if sc.Filter, err = filterOf(in.Filter); err != nil {
		return nil, err
	}
	vals, err := h.svc.DimensionValues(ctx, h.accounts(ctx), *in.Dimension, sc)
	if err != nil {
		return nil, err
	}
	page, next, err := h.pageValues(ctx, vals, in.SortBy, in.MaxResults, in.SearchString, tok, bind)
	if err != nil {
		return nil, err
	}
	out := getDimensionValuesOutput{DimensionValues: make([]dimensionValuesWithAttributes, 0, len(page)),
		ReturnSize: len(page), TotalSize: len(vals), NextPageToken: next}
	for _, v := range page {
		attrs := map[string]string{}
		switch *in.Dimension {
		case costquery.DimLinkedAccount:
			attrs["description"] = v.Value
		case costquery.DimUsageType:
			switch {
			case strings.HasSuffix(v.Value, "-reserved-capacity-hours"):
				attrs["unit"] = "Hrs"
			case strings.Contains(v.Value, "-MP:"): // an AWS Marketplace usage type
				attrs["unit"] = "Units"
			default:
				attrs["unit"] = "Tokens"
			}
		case costquery.DimModel:
			if d := h.svc.Namer().DisplayName(v.Value); d != "" {
				attrs["description"] = d
			}
		}
		out.DimensionValues = append(out.DimensionValues, dimensionValuesWithAttributes{Value: v.Value, Attributes: attrs})
	}
	return out, nil
}

func (h *Handler) getTags(ctx context.Context, in getTagsInput) (any, error) {
	tok := in.NextPageToken
	in.NextPageToken = nil
	bind := in
	from, to, err := parseInterval(in.TimePeriod)
	if err != nil {
		return nil, err
	}
	sc := costquery.Scope{From: from, To: to, Search: deref(in.SearchString)}
	if sc.Filter, err = filterOf(in.Filter); err != nil {
		return nil, err
	}
	if in.TagKey != nil && *in.TagKey == "" {
		return nil, invalid("TagKey, when given, must be 1-128 characters long.")
	}
	vals, err := h.svc.Tags(ctx, h.accounts(ctx), deref(in.TagKey), sc)
	if err != nil {
		return nil, err
	}
	page, next, err := h.pageValues(ctx, vals, in.SortBy, in.MaxResults, in.SearchString, tok, bind)
	if err != nil {
		return nil, err
	}
	out := getTagsOutput{Tags: make([]string, 0, len(page)), ReturnSize: len(page), TotalSize: len(vals), NextPageToken: next}
	for _, v := range page {
		out.Tags = append(out.Tags, v.Value)
	}
	return out, nil
}

var forecastMetrics = []string{"AMORTIZED_COST", "BLENDED_COST", "NET_AMORTIZED_COST", "NET_UNBLENDED_COST", "UNBLENDED_COST"}

func (h *Handler) getCostForecast(ctx context.Context, in getCostForecastInput) (any, error) {
	from, to, err := parseInterval(in.TimePeriod)
	if err != nil {
		return nil, err
	}
	switch m := deref(in.Metric); {
	case m == "":
		return nil, invalid("Metric is required.")
	case m == "USAGE_QUANTITY" || m == "NORMALIZED_USAGE_AMOUNT":
		return nil, invalid("GetCostForecast does not forecast %s; use GetUsageForecast.", m)
	case !slices.Contains(forecastMetrics, m):
		return nil, invalid("Invalid metric %q: valid values are AMORTIZED_COST, BLENDED_COST, NET_AMORTIZED_COST, NET_UNBLENDED_COST and UNBLENDED_COST.", trunc(m))
	}
	if in.Granularity == nil {
		return nil, invalid("Granularity is required: DAILY or MONTHLY.")
	}
	q := costquery.ForecastQuery{From: from, To: to, Granularity: costquery.Granularity(*in.Granularity)}
	if in.PredictionIntervalLevel != nil {
		q.Level = int(*in.PredictionIntervalLevel)
		if q.Level == 0 {
			return nil, invalid("PredictionIntervalLevel must be between 51 and 99.")
		}
	}
	if q.Filter, err = filterOf(in.Filter); err != nil {
		return nil, err
	}
	res, err := h.svc.Forecast(ctx, h.accounts(ctx), q)
	if err != nil {
		return nil, err
	}
	out := getCostForecastOutput{Total: metricValue{Amount: res.Total.Decimal(0), Unit: "USD"}, ForecastResultsByTime: []forecastResult{}}
	for _, p := range res.Periods {
		out.ForecastResultsByTime = append(out.ForecastResultsByTime, forecastResult{
			TimePeriod:                   dateIntervalOut{Start: formatTime(p.Start, q.Granularity), End: formatTime(p.End, q.Granularity)},
			MeanValue:                    p.Mean.Decimal(0),
			PredictionIntervalLowerBound: p.Lower.Decimal(0),
			PredictionIntervalUpperBound: p.Upper.Decimal(0),
		})
	}
	return out, nil
}
