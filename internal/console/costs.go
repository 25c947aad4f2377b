package console

import (
	"cmp"
	"encoding/csv"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/money"
)

// costForm is the cost explorer's query as the URL carries it, so a link
// reproduces the view.
type costForm struct {
	Range   string   // mtd, 7d, 30d, lastmonth, 3m, 12m, custom
	Start   string   // custom range start, yyyy-mm-dd (inclusive)
	End     string   // custom range end, yyyy-mm-dd (exclusive)
	Gran    string   // DAILY, MONTHLY, HOURLY
	Group   string   // "", "tag:<key>" or "dim:<DIMENSION>"
	TagKey  string   // filter: the tag key
	TagVals []string // filter: its values ("" selects untagged usage)
	Profile []string // filter: profile ARNs (RESOURCE_ID)
}

func parseCostForm(v url.Values) costForm {
	f := costForm{Range: v.Get("range"), Start: v.Get("start"), End: v.Get("end"), Gran: v.Get("gran"), Group: v.Get("group"),
		TagKey: strings.TrimSpace(v.Get("fk")), TagVals: v["fv"], Profile: v["profile"]}
	if f.Range == "" {
		f.Range = "mtd"
	}
	if f.Gran == "" {
		f.Gran = string(costquery.Daily)
	}
	var ps []string
	for _, p := range f.Profile {
		if p = strings.TrimSpace(p); p != "" {
			ps = append(ps, p)
		}
	}
	f.Profile = ps
	return f
}

// values encodes the form back to a URL query.
func (f costForm) values() url.Values {
	v := url.Values{"range": {f.Range}, "gran": {f.Gran}}
	if f.Range == "custom" {
		v.Set("start", f.Start)
		v.Set("end", f.End)
	}
	if f.Group != "" {
		v.Set("group", f.Group)
	}
	if f.TagKey != "" {
		v.Set("fk", f.TagKey)
		v["fv"] = f.TagVals
	}
	if len(f.Profile) > 0 {
		v["profile"] = f.Profile
	}
	return v
}

// bounds returns the form's [from, to), whole UTC days (hours for an
// HOURLY view of today).
func (f costForm) bounds(now time.Time) (time.Time, time.Time, error) {
	today := now.UTC().Truncate(24 * time.Hour)
	tomorrow := today.AddDate(0, 0, 1)
	month := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC)
	switch f.Range {
	case "mtd":
		return month, tomorrow, nil
	case "7d":
		return today.AddDate(0, 0, -6), tomorrow, nil
	case "30d":
		return today.AddDate(0, 0, -29), tomorrow, nil
	case "lastmonth":
		return month.AddDate(0, -1, 0), month, nil
	case "3m":
		return month.AddDate(0, -2, 0), tomorrow, nil
	case "12m":
		return month.AddDate(0, -11, 0), tomorrow, nil
	case "custom":
		from, err1 := time.Parse(time.DateOnly, f.Start)
		to, err2 := time.Parse(time.DateOnly, f.End)
		if err1 != nil || err2 != nil {
			return time.Time{}, time.Time{}, errkind.New(errkind.Invalid, "Give the custom range's start and end as dates (yyyy-mm-dd).")
		}
		if !from.Before(to) {
			return time.Time{}, time.Time{}, errkind.New(errkind.Invalid, "The start date must be before the end date.")
		}
		return from, to, nil
	}
	return time.Time{}, time.Time{}, errkind.New(errkind.Invalid, "Unknown date range %q.", f.Range)
}

// query builds the GetCostAndUsage query the form stands for.
func (f costForm) query(now time.Time) (costquery.Query, error) {
	from, to, err := f.bounds(now)
	if err != nil {
		return costquery.Query{}, err
	}
	q := costquery.Query{From: from, To: to, Granularity: costquery.Granularity(f.Gran)}
	if kind, key, ok := strings.Cut(f.Group, ":"); ok && key != "" {
		switch kind {
		case "tag":
			q.GroupBy = []costquery.GroupBy{{Type: costquery.GroupTag, Key: key}}
		case "dim":
			q.GroupBy = []costquery.GroupBy{{Type: costquery.GroupDimension, Key: key}}
		default:
			return q, errkind.New(errkind.Invalid, "Unknown grouping %q.", f.Group)
		}
	} else if f.Group != "" {
		return q, errkind.New(errkind.Invalid, "Unknown grouping %q.", f.Group)
	}
	q.Filter = f.filter()
	return q, q.Validate()
}

// filter returns the form's filter: the tag's values and the profiles,
// ANDed; nil when neither is set.
func (f costForm) filter() *costquery.Expr {
	var parts []costquery.Expr
	if f.TagKey != "" && len(f.TagVals) > 0 {
		parts = append(parts, costquery.Expr{Tags: &costquery.Values{Key: f.TagKey, Values: f.TagVals}})
	}
	if len(f.Profile) > 0 {
		parts = append(parts, costquery.Expr{Dimensions: &costquery.Values{Key: costquery.DimResourceID, Values: f.Profile}})
	}
	switch len(parts) {
	case 0:
		return nil
	case 1:
		return &parts[0]
	}
	return &costquery.Expr{And: parts}
}

// costRow is one group of the table: its cost per period and in all.
type costRow struct {
	Label string
	Color string
	Cells []money.Amount
	Total money.Amount
}

type costPage struct {
	Form       costForm
	Query      url.Values
	Presets    []option
	Grans      []option
	Groups     []option
	TagKeys    []string
	TagValues  []string
	From, To   time.Time
	Panel      panel
	Chart      chart
	Periods    []string
	Rows       []costRow
	Totals     []money.Amount
	Grand      money.Amount
	Estimated  bool
	ShowCells  bool
	GroupLabel string
}

type option struct{ Value, Label string }

var presets = []option{{"mtd", "Month to date"}, {"7d", "Last 7 days"}, {"30d", "Last 30 days"}, {"lastmonth", "Last month"}, {"3m", "Last 3 months"}, {"12m", "Last 12 months"}, {"custom", "Custom dates"}}

var granularities = []option{{"DAILY", "Daily"}, {"MONTHLY", "Monthly"}, {"HOURLY", "Hourly"}}

var dimensionGroups = []option{
	{"dim:" + costquery.DimResourceID, "Inference profile ARN"},
	{"dim:" + costquery.DimModel, "Model"},
	{"dim:" + costquery.DimRegion, "Region"},
	{"dim:" + costquery.DimUsageType, "Usage type"},
	{"dim:" + costquery.DimOperation, "Operation"},
	{"dim:" + costquery.DimLinkedAccount, "Linked account"},
}

// maxSeries is how many groups the chart draws; the rest are "Other".
const maxSeries = 8

// runCosts answers the form's query for the caller: ce:GetCostAndUsage
// on "*", as Cost Explorer authorizes it.
func (h *Handler) runCosts(q *req, f costForm) (costquery.Query, panel) {
	cq, err := f.query(h.opts.Now())
	if err != nil {
		return cq, panel{Err: h.message(q.Request, err)}
	}
	return cq, h.guard(q, "ce:GetCostAndUsage", "*", nil, func() (any, error) {
		return h.opts.Costs.CostAndUsage(q.Context(), h.costAccounts(q), cq)
	})
}

func (h *Handler) costs(w http.ResponseWriter, q *req) {
	f := parseCostForm(q.URL.Query())
	p := costPage{Form: f, Query: f.values(), Presets: presets, Grans: granularities}
	cq, res := h.runCosts(q, f)
	p.Panel, p.From, p.To = res, cq.From, cq.To
	// Tag keys to group and filter by: those with spend in range (when
	// the caller may call GetTags) and those on the account's profiles.
	keys := map[string]bool{}
	for _, k := range h.opts.Profiles.TagKeys(q.account) {
		keys[k] = true
	}
	if !cq.From.IsZero() && h.authorize(q, "ce:GetTags", "*", nil) == nil {
		if vs, err := h.opts.Costs.Tags(q.Context(), h.costAccounts(q), "", costquery.Scope{From: cq.From, To: cq.To}); err == nil {
			for _, v := range vs {
				keys[v.Value] = true
			}
		}
		if f.TagKey != "" {
			if vs, err := h.opts.Costs.Tags(q.Context(), h.costAccounts(q), f.TagKey, costquery.Scope{From: cq.From, To: cq.To}); err == nil {
				for _, v := range vs {
					if v.Value != "" {
						p.TagValues = append(p.TagValues, v.Value)
					}
				}
			}
		}
	}
	for _, v := range h.opts.Profiles.TagValues(q.account, f.TagKey) {
		if f.TagKey != "" && !slices.Contains(p.TagValues, v) {
			p.TagValues = append(p.TagValues, v)
		}
	}
	slices.Sort(p.TagValues)
	for k := range keys {
		p.TagKeys = append(p.TagKeys, k)
	}
	slices.Sort(p.TagKeys)
	p.Groups = append([]option{{"", "No grouping"}}, dimensionGroups...)
	for _, k := range p.TagKeys {
		p.Groups = append(p.Groups, option{"tag:" + k, "Tag: " + k})
	}
	status := http.StatusOK
	if p.Panel.Denied != nil {
		status = http.StatusForbidden
	} else if p.Panel.Err != "" {
		status = http.StatusBadRequest
	}
	if r, ok := p.Panel.Data.(costquery.Result); ok {
		h.fillCosts(&p, r, func(key string) string {
			// A profile ARN is shown by its name when the account has it.
			if len(r.GroupBy) == 1 && r.GroupBy[0].Key == costquery.DimResourceID && strings.Contains(key, ":application-inference-profile/") {
				if pr, err := h.opts.Profiles.Get(q.account, key); err == nil {
					return pr.Name + " (" + pr.ID + ")"
				}
			}
			return groupLabel(r.GroupBy, key)
		})
	}
	h.render(w, q.Request, status, "costs", h.newView(q, "costs", "Cost explorer", p))
}

// groupLabel names a group key: a tag's value ("untagged" without
// one), or a dimension value.
func groupLabel(gb []costquery.GroupBy, key string) string {
	if len(gb) == 1 && gb[0].Type == costquery.GroupTag {
		_, v, _ := strings.Cut(key, "$")
		if v == "" {
			return "untagged (no " + gb[0].Key + ")"
		}
		return v
	}
	if key == "" {
		return "(none)"
	}
	return key
}

// fillCosts turns a result into the chart and the table; both add up the
// same amounts, so the table's totals are the chart's.
func (h *Handler) fillCosts(p *costPage, r costquery.Result, labelOf func(key string) string) {
	n := len(r.Periods)
	p.Totals = make([]money.Amount, n)
	rows := map[string]*costRow{}
	for i, pr := range r.Periods {
		p.Periods = append(p.Periods, periodLabel(pr.Start, pr.End, costquery.Granularity(p.Form.Gran)))
		p.Totals[i] = pr.Total.Cost
		p.Grand += pr.Total.Cost
		p.Estimated = p.Estimated || pr.Estimated
		groups := pr.Groups
		if len(r.GroupBy) == 0 {
			groups = []costquery.Group{{Keys: []string{"Total"}, Totals: pr.Total}}
		}
		for _, g := range groups {
			label := "Total"
			if len(r.GroupBy) > 0 {
				label = labelOf(strings.Join(g.Keys, ", "))
			}
			row := rows[label]
			if row == nil {
				row = &costRow{Label: label, Cells: make([]money.Amount, n)}
				rows[label] = row
			}
			row.Cells[i] += g.Cost
			row.Total += g.Cost
		}
	}
	for _, row := range rows {
		p.Rows = append(p.Rows, *row)
	}
	slices.SortFunc(p.Rows, func(a, b costRow) int {
		if c := cmp.Compare(b.Total, a.Total); c != 0 {
			return c
		}
		return cmp.Compare(a.Label, b.Label)
	})
	// The chart: the biggest groups, the rest as "Other".
	var ss []series
	other := series{Label: "Other", Values: make([]float64, n)}
	for i, row := range p.Rows {
		vals := make([]float64, n)
		for j, c := range row.Cells {
			vals[j] = float64(c) / float64(money.Dollar)
		}
		if i < maxSeries-1 || len(p.Rows) == maxSeries {
			ss = append(ss, series{Label: row.Label, Values: vals})
			continue
		}
		for j := range vals {
			other.Values[j] += vals[j]
		}
	}
	if len(p.Rows) > maxSeries {
		ss = append(ss, other)
	}
	colorSeries(ss, func(l string) bool { return l == "Other" || strings.HasPrefix(l, "untagged") })
	for i := range p.Rows {
		for _, s := range ss {
			if s.Label == p.Rows[i].Label {
				p.Rows[i].Color = s.Color
			}
		}
	}
	p.Chart = chart{Title: "Cost by " + p.groupName() + ", " + p.Form.Gran, Labels: p.Periods, Series: ss, Format: dollars}
	p.ShowCells = n <= 31
	p.GroupLabel = p.groupName()
}

func (p *costPage) groupName() string {
	for _, g := range p.Groups {
		if g.Value == p.Form.Group && g.Value != "" {
			return g.Label
		}
	}
	return "total"
}

// dollars formats an axis value in US dollars.
func dollars(v float64) string {
	return usd(money.Amount(v * float64(money.Dollar)))
}

func periodLabel(start, end time.Time, g costquery.Granularity) string {
	switch g {
	case costquery.Hourly:
		return start.UTC().Format("Jan 2 15:04")
	case costquery.Monthly:
		return start.UTC().Format("Jan 2006")
	}
	return start.UTC().Format("Jan 2")
}

// costsCSV downloads the view's table: one line per period and group,
// with the exact cost.
func (h *Handler) costsCSV(w http.ResponseWriter, q *req) {
	f := parseCostForm(q.URL.Query())
	_, res := h.runCosts(q, f)
	if res.Denied != nil {
		h.renderDenied(w, q, "costs", res.Denied.Action, res.Denied.Resource)
		return
	}
	if res.Err != "" {
		h.renderError(w, q.Request, q, http.StatusBadRequest, "Cannot download", res.Err)
		return
	}
	r := res.Data.(costquery.Result)
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="tollgate-costs.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"period_start", "period_end", "group", "cost_usd", "usage_quantity", "estimated"})
	for _, pr := range r.Periods {
		groups := pr.Groups
		if len(r.GroupBy) == 0 {
			groups = []costquery.Group{{Keys: []string{"Total"}, Totals: pr.Total}}
		}
		for _, g := range groups {
			label := strings.Join(g.Keys, ", ")
			if len(r.GroupBy) > 0 {
				label = groupLabel(r.GroupBy, label)
			}
			_ = cw.Write([]string{pr.Start.UTC().Format(time.RFC3339), pr.End.UTC().Format(time.RFC3339), csvSafe(label),
				g.Cost.Decimal(2), strconv.FormatInt(g.Usage, 10), strconv.FormatBool(pr.Estimated)})
		}
	}
	cw.Flush()
	awsproto.Info(q.Context()).Op = "costs.csv"
}

// csvSafe keeps a spreadsheet from reading a cell as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
