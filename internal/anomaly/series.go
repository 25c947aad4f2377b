package anomaly

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/pricing"
)

// Source reads the ledger's hourly rollups.
type Source interface {
	// CostRollups returns the rollups whose Hour lies in [from, to), of
	// the given accounts (nil means every account), ordered by Hour.
	// Rollups may share Tags maps, which callers must not modify. Safe
	// for concurrent use.
	CostRollups(ctx context.Context, accounts []string, from, to time.Time) ([]ledger.Rollup, error)
}

// valuer returns the function that says which value of m a rollup's
// spend counts towards, and false when m does not watch that spend.
func (m Monitor) valuer() func(r *ledger.Rollup) (string, bool) {
	switch m.Type {
	case Dimensional:
		switch m.Dimension {
		case DimService:
			return func(*ledger.Rollup) (string, bool) { return ServiceName, true }
		case DimLinkedAccount:
			return func(r *ledger.Rollup) (string, bool) { return r.Account, true }
		case DimTag:
			return func(r *ledger.Rollup) (string, bool) {
				v, ok := r.Tags[m.TagKey]
				return v, ok && v != ""
			}
		}
	case Custom:
		dv := m.DimensionValue()
		switch m.Dimension {
		case DimTag:
			return func(r *ledger.Rollup) (string, bool) {
				v, ok := r.Tags[m.TagKey]
				return dv, ok && slices.Contains(m.Values, v)
			}
		case DimLinkedAccount:
			return func(r *ledger.Rollup) (string, bool) { return dv, slices.Contains(m.Values, r.Account) }
		}
	}
	return func(*ledger.Rollup) (string, bool) { return "", false }
}

// DimensionValue returns what a custom monitor's anomalies name as their
// dimension value: "KEY$V1,V2" for tag values (Cost Explorer's tag
// notation), the accounts joined for linked accounts.
func (m Monitor) DimensionValue() string {
	vs := slices.Sorted(slices.Values(m.Values))
	if m.Dimension == DimTag {
		return m.TagKey + "$" + strings.Join(vs, ",")
	}
	return strings.Join(vs, ",")
}

// valueSeries is one monitored value's spend: each complete hour of a
// window, and the running hour so far.
type valueSeries struct {
	value   string
	hours   []money.Amount
	partial money.Amount
	total   money.Amount
}

// buildSeries splits rolls into m's values: the complete hours from start
// to hour, and hour itself (the running one). A dimensional monitor keeps
// its MaxDimensionalValues values of most spend.
func buildSeries(m Monitor, rolls []ledger.Rollup, start, hour time.Time) []*valueSeries {
	n := int(hour.Sub(start) / time.Hour)
	byValue := map[string]*valueSeries{}
	valueOf := m.valuer()
	for i := range rolls {
		r := &rolls[i]
		v, ok := valueOf(r)
		if !ok {
			continue
		}
		s := byValue[v]
		if s == nil {
			s = &valueSeries{value: v, hours: make([]money.Amount, n)}
			byValue[v] = s
		}
		switch idx := int(r.Hour.Sub(start) / time.Hour); {
		case r.Hour.Equal(hour):
			s.partial += r.Cost
		case idx >= 0 && idx < n:
			s.hours[idx] += r.Cost
		default:
			continue
		}
		s.total += r.Cost
	}
	out := make([]*valueSeries, 0, len(byValue))
	for _, s := range byValue {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *valueSeries) int {
		if c := cmp.Compare(b.total, a.total); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})
	if len(out) > MaxDimensionalValues {
		out = out[:MaxDimensionalValues]
	}
	return out
}

// maxRootCauses is how many root causes an anomaly lists.
const maxRootCauses = 10

// rootHistory is how far before an anomaly the spend that apportions its
// expected spend among the root causes reaches.
const rootHistory = 7 * 24 * time.Hour

type causeKey struct {
	account, region, profile, model, principal string
	class                                      costquery.Class
	unitKind                                   string // per-image usage (class unused) when set
}

// classCosts returns the cost of each token class of a rollup, indexed by
// costquery.Class (a fixed-cost line is no token class: it has no root
// cause of its own).
func classCosts(r *ledger.Rollup) [5]money.Amount {
	var c [5]money.Amount
	c[costquery.Input], c[costquery.Output], c[costquery.CacheRead] = r.InputCost, r.OutputCost, r.CacheReadCost
	c[costquery.CacheWrite], c[costquery.CacheWrite1h] = r.CacheWriteCost, r.CacheWrite1hCost
	return c
}

// rootCauses apportions an anomaly of value (hours [a.Start, a.End],
// expected spend a.Expected) among the combinations of account, region,
// profile, model, principal and token class (or per-image usage type)
// its spend came from: each
// combination's actual spend minus its share of the expected spend, that
// share being its share of the value's spend in the week before the
// anomaly (or of the anomaly's own spend, without history). The
// contributions add up to the total impact exactly; the largest positive
// ones are returned.
func rootCauses(m Monitor, value string, a Anomaly, rolls []ledger.Rollup, names *costquery.Namer) []RootCause {
	end := a.End.Add(time.Hour)
	histFrom := a.Start.Add(-rootHistory)
	actual := map[causeKey]money.Amount{}
	hist := map[causeKey]money.Amount{}
	var histTotal money.Amount
	valueOf := m.valuer()
	lo, _ := slices.BinarySearchFunc(rolls, histFrom, func(r ledger.Rollup, t time.Time) int { return r.Hour.Compare(t) })
	for i := lo; i < len(rolls); i++ {
		r := &rolls[i]
		if !r.Hour.Before(end) {
			break
		}
		if v, ok := valueOf(r); !ok || v != value {
			continue
		}
		region := r.RegionServed
		if region == "" {
			region = costquery.NoRegion
		}
		add := func(k causeKey, cost money.Amount) {
			if r.Hour.Before(a.Start) {
				hist[k] += cost
				histTotal += cost
			} else {
				actual[k] += cost
			}
		}
		for c, cost := range classCosts(r) {
			if cost == 0 {
				continue
			}
			add(causeKey{r.Account, region, r.ProfileARN, r.ModelID, r.PrincipalID, costquery.Class(c), ""}, cost)
		}
		if r.UnitCost != 0 {
			// Images of an image model: their per-image usage type.
			add(causeKey{r.Account, region, r.ProfileARN, r.ModelID, r.PrincipalID, 0, r.UnitKind}, r.UnitCost)
		}
	}
	share, total := hist, histTotal
	if total <= 0 {
		share, total = actual, a.Actual
	}
	keys := make([]causeKey, 0, len(actual)+len(share))
	for k := range actual {
		keys = append(keys, k)
	}
	for k := range share {
		if _, ok := actual[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(x, y causeKey) int {
		return cmp.Or(cmp.Compare(share[y], share[x]), cmp.Compare(actual[y], actual[x]),
			strings.Compare(x.account, y.account), strings.Compare(x.region, y.region), strings.Compare(x.profile, y.profile),
			strings.Compare(x.model, y.model), strings.Compare(x.principal, y.principal), cmp.Compare(x.class, y.class),
			strings.Compare(x.unitKind, y.unitKind))
	})
	// Expected shares, exact: each rounded down, the remainder to the
	// largest share (first in keys).
	expected := make([]money.Amount, len(keys))
	var given money.Amount
	if total > 0 {
		for i, k := range keys {
			expected[i] = money.Amount(float64(a.Expected) * (float64(share[k]) / float64(total)))
			given += expected[i]
		}
	}
	if len(keys) > 0 {
		expected[0] += a.Expected - given
	}
	out := make([]RootCause, 0, len(keys))
	for i, k := range keys {
		c := actual[k] - expected[i]
		if c <= 0 {
			continue
		}
		region := k.region
		if region == costquery.NoRegion {
			region = ""
		}
		usageType := names.UsageType(region, k.model, k.class)
		if k.unitKind != "" {
			usageType = names.UnitUsageType(region, k.model, k.unitKind, pricing.Variant{})
		}
		out = append(out, RootCause{
			Account: k.account, Region: k.region, UsageType: usageType,
			ProfileARN: k.profile, ModelID: k.model, PrincipalID: k.principal, Contribution: c,
		})
	}
	slices.SortStableFunc(out, func(x, y RootCause) int { return cmp.Compare(y.Contribution, x.Contribution) })
	return out[:min(len(out), maxRootCauses)]
}
