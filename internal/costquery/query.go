package costquery

import (
	"slices"
	"time"
	"unicode/utf8"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// Granularity is the length of the periods results are split into.
type Granularity string

// The granularities, spelled as Cost Explorer spells them.
const (
	Hourly  Granularity = "HOURLY"
	Daily   Granularity = "DAILY"
	Monthly Granularity = "MONTHLY"
)

// Metric names as GetCostAndUsage spells them. For on-demand usage every
// cost metric is the same amount: there are no blended rates, upfront fees
// to amortise, or discounts to net out.
const (
	UnblendedCost         = "UnblendedCost"
	BlendedCost           = "BlendedCost"
	AmortizedCost         = "AmortizedCost"
	NetUnblendedCost      = "NetUnblendedCost"
	NetAmortizedCost      = "NetAmortizedCost"
	UsageQuantity         = "UsageQuantity"
	NormalizedUsageAmount = "NormalizedUsageAmount" // EC2 instance-size normalisation: always 0 here
)

// metrics maps each metric to whether it is a cost (USD) metric.
var metrics = map[string]bool{
	UnblendedCost: true, BlendedCost: true, AmortizedCost: true, NetUnblendedCost: true, NetAmortizedCost: true,
	UsageQuantity: false, NormalizedUsageAmount: false,
}

// IsCostMetric reports whether name is a cost metric (an amount in USD).
func IsCostMetric(name string) bool { return metrics[name] }

// ValidateMetrics checks a GetCostAndUsage metric list: at least one, each
// known.
func ValidateMetrics(names []string) error {
	if len(names) == 0 {
		return errkind.New(errkind.Invalid, "Metrics must contain at least one metric.")
	}
	for _, m := range names {
		if _, ok := metrics[m]; !ok {
			return errkind.New(errkind.Invalid, "Invalid metric %q: valid metrics are AmortizedCost, BlendedCost, NetAmortizedCost, NetUnblendedCost, NormalizedUsageAmount, UnblendedCost and UsageQuantity.", truncate(m))
		}
	}
	return nil
}

// Dimension names. All but Model are Cost Explorer dimensions; Model is
// Tollgate's own (the SDKs accept any Dimension string), holding the
// foundation-model id.
const (
	DimService       = "SERVICE"        // "Amazon Bedrock", or a marketplace product such as "Claude Sonnet 4.5 (Amazon Bedrock Edition)"
	DimServiceCode   = "SERVICE_CODE"   // "AmazonBedrock", or a marketplace model's product code
	DimRecordType    = "RECORD_TYPE"    // always "Usage"
	DimLinkedAccount = "LINKED_ACCOUNT" // the account that made the calls
	DimRegion        = "REGION"         // the region that served them
	DimUsageType     = "USAGE_TYPE"     // e.g. "USE1-Claude3Haiku-input-tokens"
	// DimServiceTier is a Tollgate extension: the Bedrock service tier
	// that served the usage ("default", "priority", "flex", "reserved").
	DimServiceTier = "SERVICE_TIER"
	DimOperation   = "OPERATION"   // the runtime operation: Converse, ConverseStream, InvokeModel, InvokeModelWithResponseStream
	DimResourceID  = "RESOURCE_ID" // the profile ARN, or the foundation-model ARN for a direct call
	DimModel       = "MODEL"       // the foundation-model id
)

var dimensions = []string{DimLinkedAccount, DimModel, DimOperation, DimRecordType, DimRegion, DimResourceID, DimService, DimServiceCode, DimServiceTier, DimUsageType}

// Dimensions returns the dimension names Tollgate supports, sorted.
func Dimensions() []string { return slices.Clone(dimensions) }

// ValidDimension reports whether d is a supported dimension.
func ValidDimension(d string) bool { return slices.Contains(dimensions, d) }

func checkDimension(d string) error {
	if !ValidDimension(d) {
		return errkind.New(errkind.Invalid, "Dimension %q is not supported: supported dimensions are LINKED_ACCOUNT, MODEL, OPERATION, RECORD_TYPE, REGION, RESOURCE_ID, SERVICE, SERVICE_CODE and USAGE_TYPE.", truncate(d))
	}
	return nil
}

// GroupType is what a GroupBy groups by.
type GroupType string

// The group types. Cost categories are not supported.
const (
	GroupDimension    GroupType = "DIMENSION"
	GroupTag          GroupType = "TAG"
	GroupCostCategory GroupType = "COST_CATEGORY"
)

// GroupBy is one grouping: a dimension or a tag key.
type GroupBy struct {
	Type GroupType
	Key  string
}

// MatchOption is a Cost Explorer match option.
type MatchOption string

// The match options. Equals (the default), StartsWith, EndsWith and
// Contains choose how values compare, and at most one may be given;
// CaseSensitive (the default) and CaseInsensitive choose the case rule;
// Absent (tags only) also matches usage without the tag.
const (
	Equals             MatchOption = "EQUALS"
	Absent             MatchOption = "ABSENT"
	StartsWith         MatchOption = "STARTS_WITH"
	EndsWith           MatchOption = "ENDS_WITH"
	Contains           MatchOption = "CONTAINS"
	CaseSensitive      MatchOption = "CASE_SENSITIVE"
	CaseInsensitive    MatchOption = "CASE_INSENSITIVE"
	GreaterThanOrEqual MatchOption = "GREATER_THAN_OR_EQUAL" // anomaly subscriptions only: rejected here
)

// Values selects line items by one dimension or tag key. Values are ORed.
type Values struct {
	Key          string
	Values       []string
	MatchOptions []MatchOption
}

// Expr is a Cost Explorer filter expression. Exactly one member is set.
//
// Tag semantics: a line item's value for a tag key is the tag's value at
// call time, "" when the profile did not carry the key — the value Cost
// Explorer's "key$" group shows. So Values [""] and Absent both select
// usage without the key (or with an empty value); Tags with neither Key
// nor Values and Absent selects untagged usage (no tag with a value).
type Expr struct {
	And            []Expr
	Or             []Expr
	Not            *Expr
	Dimensions     *Values
	Tags           *Values
	CostCategories *Values // not supported: rejected
}

// Query is a GetCostAndUsage request in domain terms.
type Query struct {
	// From and To bound the usage, [From, To); both whole UTC hours.
	From, To    time.Time
	Granularity Granularity
	// GroupBy holds up to two distinct groupings.
	GroupBy []GroupBy
	// Filter selects line items; nil selects all.
	Filter *Expr
}

// Limits on a query.
const (
	// MaxHourlyRange is the longest range HOURLY results may cover.
	MaxHourlyRange = 366 * 24 * time.Hour
	// MaxRange is the longest range DAILY and MONTHLY results may cover.
	MaxRange = 20 * 366 * 24 * time.Hour
	// MaxFilterDepth is how deeply filter expressions may nest.
	MaxFilterDepth = 32
	// MaxFilterValues is how many values one Values may list.
	MaxFilterValues = 1000
)

// Validate checks q; problems are Invalid errors with a client message.
func (q Query) Validate() error {
	if err := checkRange(q.From, q.To); err != nil {
		return err
	}
	switch q.Granularity {
	case Hourly:
		if q.To.Sub(q.From) > MaxHourlyRange {
			return errkind.New(errkind.Invalid, "HOURLY granularity supports a time period of at most 366 days.")
		}
	case Daily, Monthly:
		if q.To.Sub(q.From) > MaxRange {
			return errkind.New(errkind.Invalid, "The time period may cover at most 20 years.")
		}
	case "":
		return errkind.New(errkind.Invalid, "Granularity is required: DAILY, MONTHLY or HOURLY.")
	default:
		return errkind.New(errkind.Invalid, "Invalid granularity %q: valid values are DAILY, MONTHLY and HOURLY.", truncate(string(q.Granularity)))
	}
	if len(q.GroupBy) > 2 {
		return errkind.New(errkind.Invalid, "You can group by at most two groups; the request has %d.", len(q.GroupBy))
	}
	for i, g := range q.GroupBy {
		switch g.Type {
		case GroupDimension:
			if err := checkDimension(g.Key); err != nil {
				return err
			}
		case GroupTag:
			if err := checkTagKey(g.Key); err != nil {
				return err
			}
		case GroupCostCategory:
			return errkind.New(errkind.Invalid, "Grouping by COST_CATEGORY is not supported: Tollgate has no cost categories.")
		default:
			return errkind.New(errkind.Invalid, "Invalid group type %q: valid types are DIMENSION and TAG.", truncate(string(g.Type)))
		}
		if i == 1 && g == q.GroupBy[0] {
			return errkind.New(errkind.Invalid, "The two groups must differ; both are %s %q.", g.Type, truncate(g.Key))
		}
	}
	return q.Filter.Validate()
}

func checkRange(from, to time.Time) error {
	if from.IsZero() || to.IsZero() {
		return errkind.New(errkind.Invalid, "TimePeriod needs a Start and an End.")
	}
	if !from.Equal(from.Truncate(time.Hour)) || !to.Equal(to.Truncate(time.Hour)) {
		return errkind.New(errkind.Invalid, "Start and End must be whole hours.")
	}
	if !from.Before(to) {
		return errkind.New(errkind.Invalid, "Start date (and hour) should be before end date (and hour).")
	}
	return nil
}

func checkTagKey(k string) error {
	if k == "" || utf8.RuneCountInString(k) > 128 {
		return errkind.New(errkind.Invalid, "A tag key must be 1-128 characters long.")
	}
	return nil
}

// Validate checks e (nil is valid: no filter).
func (e *Expr) Validate() error {
	if e == nil {
		return nil
	}
	return e.validate(0)
}

const rootsMessage = "Expression has more than one roots. Only one root operator is allowed for each expression: And, Or, Not, Dimensions, Tags, CostCategories"

func (e *Expr) validate(depth int) error {
	if depth >= MaxFilterDepth {
		return errkind.New(errkind.Invalid, "The filter expression nests more than %d levels deep.", MaxFilterDepth)
	}
	roots := 0
	for _, set := range []bool{e.And != nil, e.Or != nil, e.Not != nil, e.Dimensions != nil, e.Tags != nil, e.CostCategories != nil} {
		if set {
			roots++
		}
	}
	switch {
	case roots > 1:
		return errkind.New(errkind.Invalid, rootsMessage)
	case roots == 0:
		return errkind.New(errkind.Invalid, "Expression has no root. One root operator is required for each expression: And, Or, Not, Dimensions, Tags, CostCategories")
	}
	switch {
	case e.And != nil || e.Or != nil:
		list, name := e.And, "And"
		if e.Or != nil {
			list, name = e.Or, "Or"
		}
		if len(list) == 0 {
			return errkind.New(errkind.Invalid, "%s needs at least one expression.", name)
		}
		for i := range list {
			if err := list[i].validate(depth + 1); err != nil {
				return err
			}
		}
	case e.Not != nil:
		return e.Not.validate(depth + 1)
	case e.Dimensions != nil:
		if err := checkDimension(e.Dimensions.Key); err != nil {
			return err
		}
		if _, err := parseOptions(e.Dimensions, false); err != nil {
			return err
		}
	case e.Tags != nil:
		if e.Tags.Key != "" {
			if err := checkTagKey(e.Tags.Key); err != nil {
				return err
			}
		}
		if _, err := parseOptions(e.Tags, true); err != nil {
			return err
		}
	case e.CostCategories != nil:
		return errkind.New(errkind.Invalid, "CostCategories filters are not supported: Tollgate has no cost categories.")
	}
	return nil
}

// options are a Values' match options, parsed.
type options struct {
	op     MatchOption // Equals, StartsWith, EndsWith or Contains
	fold   bool        // case-insensitive
	absent bool        // also match a missing (or empty) tag
}

func parseOptions(v *Values, tag bool) (options, error) {
	o := options{op: Equals}
	var ops, cases int
	for _, m := range v.MatchOptions {
		switch m {
		case Equals, StartsWith, EndsWith, Contains:
			o.op = m
			ops++
		case Absent:
			if !tag {
				return o, errkind.New(errkind.Invalid, "MatchOption ABSENT applies to Tags only, not to Dimensions.")
			}
			o.absent = true
		case CaseSensitive:
			cases++
		case CaseInsensitive:
			o.fold = true
			cases++
		default:
			return o, errkind.New(errkind.Invalid, "MatchOption %q is not supported here: valid options are EQUALS, ABSENT (tags), STARTS_WITH, ENDS_WITH, CONTAINS, CASE_SENSITIVE and CASE_INSENSITIVE.", truncate(string(m)))
		}
	}
	if ops > 1 {
		return o, errkind.New(errkind.Invalid, "Give at most one of the MatchOptions EQUALS, STARTS_WITH, ENDS_WITH and CONTAINS.")
	}
	if cases > 1 {
		return o, errkind.New(errkind.Invalid, "Give at most one of the MatchOptions CASE_SENSITIVE and CASE_INSENSITIVE.")
	}
	if o.absent && ops > 0 && len(v.Values) == 0 {
		return o, errkind.New(errkind.Invalid, "MatchOption %s needs Values.", o.op)
	}
	if len(v.Values) > MaxFilterValues {
		return o, errkind.New(errkind.Invalid, "A filter may list at most %d values.", MaxFilterValues)
	}
	switch {
	case tag && v.Key == "" && !(o.absent && len(v.Values) == 0):
		return o, errkind.New(errkind.Invalid, "A Tags filter needs a Key, unless it is ABSENT with no Values (untagged usage).")
	case !o.absent && len(v.Values) == 0:
		what := "Dimensions"
		if tag {
			what = "Tags"
		}
		return o, errkind.New(errkind.Invalid, "A %s filter needs at least one value.", what)
	}
	return o, nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
