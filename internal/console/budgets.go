package console

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/budget"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/money"
)

func budgetARN(account, name string) string { return "arn:aws:budgets::" + account + ":budget/" + name }

// budgetRow is one budget of the list.
type budgetRow struct {
	Name, Scope, Limit, Actual, Forecast, Unit string
	Exceeded, AtThreshold, Active              bool
	Bar                                        template.HTML
}

// fmtUnits formats a budget amount in its unit.
func fmtUnits(b budget.Budget, v int64) string {
	if b.Type == budget.Usage {
		return group(strconv.FormatInt(v, 10)) + " " + b.Unit
	}
	return usd(money.Amount(v))
}

// scopeText describes a budget's scope in words.
func scopeText(b budget.Budget) string {
	if b.Filter == nil && len(b.CostFilters) == 0 {
		return "All spend"
	}
	var parts []string
	var walk func(e *costquery.Expr)
	walk = func(e *costquery.Expr) {
		switch {
		case e == nil:
		case e.Tags != nil:
			parts = append(parts, strings.TrimPrefix(e.Tags.Key, "user:")+" = "+strings.Join(e.Tags.Values, " or "))
		case e.Dimensions != nil:
			parts = append(parts, e.Dimensions.Key+" = "+strings.Join(e.Dimensions.Values, " or "))
		case e.And != nil:
			for i := range e.And {
				walk(&e.And[i])
			}
		default:
			parts = append(parts, "custom filter")
		}
	}
	walk(b.Filter)
	for k, vs := range b.CostFilters {
		parts = append(parts, k+" = "+strings.Join(vs, " or "))
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

// budgetBar draws actual (solid), forecast (hatched lighter) and the
// limit, with a marker at each threshold, scaled to the largest of them.
func budgetBar(v budget.View) template.HTML {
	limit := float64(v.PeriodLimit)
	scale := max(limit, float64(v.Actual))
	if v.HasForecast {
		scale = max(scale, float64(v.Forecast))
	}
	if scale <= 0 {
		scale = 1
	}
	x := func(f float64) float64 { return f / scale * 300 }
	color := "#0072B2"
	if limit > 0 && float64(v.Actual) > limit {
		color = "#b42318"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 300 18" preserveAspectRatio="none" role="img" aria-label="actual %s of limit %s">`, esc(fmtUnits(v.Budget, v.Actual)), esc(fmtUnits(v.Budget, v.PeriodLimit)))
	if v.HasForecast {
		fmt.Fprintf(&b, `<rect x="0" y="3" height="12" width="%.1f" fill="#56B4E9" opacity="0.55"><title>Forecast %s</title></rect>`, x(float64(v.Forecast)), esc(fmtUnits(v.Budget, v.Forecast)))
	}
	fmt.Fprintf(&b, `<rect x="0" y="3" height="12" width="%.1f" fill="%s"><title>Actual %s</title></rect>`, x(float64(v.Actual)), color, esc(fmtUnits(v.Budget, v.Actual)))
	for _, n := range v.Notifications {
		t := budget.ThresholdUnits(v.PeriodLimit, n.Threshold, n.ThresholdType, v.Type)
		fmt.Fprintf(&b, `<rect x="%.1f" y="0" width="2" height="18" fill="#E69F00"><title>%s threshold %s</title></rect>`, min(x(float64(t)), 298), esc(string(n.Type)), esc(fmtUnits(v.Budget, t)))
	}
	if limit > 0 {
		fmt.Fprintf(&b, `<rect x="%.1f" y="0" width="2" height="18" fill="#1b1f24"><title>Limit %s</title></rect>`, min(x(limit), 298), esc(fmtUnits(v.Budget, v.PeriodLimit)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func rowOf(v budget.View) budgetRow {
	r := budgetRow{Name: v.Name, Scope: scopeText(v.Budget), Limit: fmtUnits(v.Budget, v.PeriodLimit), Actual: fmtUnits(v.Budget, v.Actual),
		Forecast: "—", Active: v.Active, Bar: budgetBar(v)}
	if v.HasForecast {
		r.Forecast = fmtUnits(v.Budget, v.Forecast)
	}
	r.Exceeded = v.PeriodLimit > 0 && v.Actual > v.PeriodLimit
	r.AtThreshold = atThreshold(v)
	return r
}

// atThreshold reports whether spend has crossed one of the budget's alert
// thresholds, as AWS's console flags a budget: an actual alert whose
// threshold actual spend has reached or passed, or one in ALARM this
// period. It reads the live figures, so a budget shows it at once, not
// after the alert job's next run.
func atThreshold(v budget.View) bool {
	for _, on := range v.Alarm {
		if on {
			return true
		}
	}
	for _, n := range v.Notifications {
		if n.Type != budget.Actual || n.Comparison == budget.LessThan {
			continue
		}
		if n.Comparison.Holds(v.Actual, budget.ThresholdUnits(v.PeriodLimit, n.Threshold, n.ThresholdType, v.Type)) {
			return true
		}
	}
	return false
}

type budgetsPage struct {
	Panel panel
	Rows  []budgetRow
}

func (h *Handler) budgets(w http.ResponseWriter, q *req) {
	p := budgetsPage{Panel: h.guard(q, "budgets:ViewBudget", budgetARN(q.account, "*"), nil, func() (any, error) {
		return h.opts.Budgets.List(q.Context(), q.account), nil
	})}
	if vs, ok := p.Panel.Data.([]budget.View); ok {
		for _, v := range vs {
			p.Rows = append(p.Rows, rowOf(v))
		}
		// Exceeded budgets first, then those at a threshold.
		slices.SortStableFunc(p.Rows, func(a, b budgetRow) int {
			rank := func(r budgetRow) int {
				if r.Exceeded {
					return 0
				}
				if r.AtThreshold {
					return 1
				}
				return 2
			}
			return rank(a) - rank(b)
		})
	}
	h.render(w, q.Request, panelStatus(p.Panel), "budgets", h.newView(q, "budgets", "Budgets", p))
}

func panelStatus(p panel) int {
	if p.Denied != nil {
		return http.StatusForbidden
	}
	return http.StatusOK
}

type budgetDetailPage struct {
	Panel   panel
	Row     budgetRow
	View    budget.View
	Chart   chart
	History []historyRow
	Alerts  []alertRow
}

type historyRow struct {
	Period, Limit, Actual string
	Over                  bool
}

type alertRow struct {
	Notification, Threshold, Subscribers string
	Alarm                                bool
}

func (h *Handler) budgetDetail(w http.ResponseWriter, q *req) {
	name := q.PathValue("name")
	p := budgetDetailPage{Panel: h.guard(q, "budgets:ViewBudget", budgetARN(q.account, name), nil, func() (any, error) {
		return h.opts.Budgets.Get(q.Context(), q.account, name)
	})}
	if v, ok := p.Panel.Data.(budget.View); ok {
		p.View, p.Row = v, rowOf(v)
		// Performance history: DescribeBudgetPerformanceHistory's view.
		if _, hist, err := h.opts.Budgets.PerformanceHistory(q.Context(), q.account, name, time.Time{}, time.Time{}); err == nil {
			s := series{Label: "Actual", Color: palette[0]}
			l := series{Label: "Over the limit", Color: "#b42318"}
			var labels []string
			for _, ps := range hist {
				labels = append(labels, ps.Start.UTC().Format("Jan 2 2006"))
				within, over := ps.Actual, int64(0)
				if ps.Limit > 0 && ps.Actual > ps.Limit {
					within, over = ps.Limit, ps.Actual-ps.Limit
				}
				s.Values = append(s.Values, unitsFloat(v.Budget, within))
				l.Values = append(l.Values, unitsFloat(v.Budget, over))
				p.History = append(p.History, historyRow{Period: ps.Start.UTC().Format("2006-01-02") + " – " + ps.End.UTC().Format("2006-01-02"),
					Limit: fmtUnits(v.Budget, ps.Limit), Actual: fmtUnits(v.Budget, ps.Actual), Over: ps.Limit > 0 && ps.Actual > ps.Limit})
			}
			format := dollars
			if v.Type == budget.Usage {
				format = func(f float64) string { return group(strconv.FormatInt(int64(f), 10)) }
			}
			p.Chart = chart{Title: "Budget history of " + name, Labels: labels, Series: []series{s, l}, Format: format}
		}
		for _, n := range v.Notifications {
			var subs []string
			for _, s := range n.Subscribers {
				subs = append(subs, string(s.Type)+" "+s.Address)
			}
			th := strconv.FormatFloat(n.Threshold, 'f', -1, 64)
			if n.ThresholdType == budget.Percentage {
				th += "% of the limit"
			} else {
				th = fmtUnits(v.Budget, budget.ThresholdUnits(v.PeriodLimit, n.Threshold, n.ThresholdType, v.Type))
			}
			p.Alerts = append(p.Alerts, alertRow{Notification: string(n.Type) + " " + strings.ToLower(strings.ReplaceAll(string(n.Comparison), "_", " ")),
				Threshold: th, Subscribers: strings.Join(subs, ", "), Alarm: v.Alarm[n.Key()]})
		}
	}
	h.render(w, q.Request, panelStatus(p.Panel), "budget", h.newView(q, "budgets", "Budget "+name, p))
}

func unitsFloat(b budget.Budget, v int64) float64 {
	if b.Type == budget.Usage {
		return float64(v)
	}
	return float64(v) / float64(money.Dollar)
}

// budgetForm is the create / edit form's fields.
type budgetForm struct {
	Edit                  bool
	Name, Limit, Unit     string
	TimeUnit              string
	TagKeys, TagValues    [3]string
	Thresholds            [3]string
	Forecast              string
	Subscriber            string
	Enforce, EnforceAt    string
	EnforceRPM, Downgrade string
	Error                 string
	KnownKeys             []string
	KnownValues           []string
}

var timeUnits = []string{"MONTHLY", "DAILY", "QUARTERLY", "ANNUALLY"}

func (h *Handler) budgetForm(w http.ResponseWriter, q *req) {
	name := q.PathValue("name")
	f := budgetForm{TimeUnit: "MONTHLY", Thresholds: [3]string{"80", "100", ""}, Forecast: "100", Enforce: "", EnforceAt: "100"}
	action, resource := "budgets:ModifyBudget", budgetARN(q.account, "*")
	if name != "" {
		resource = budgetARN(q.account, name)
	}
	if err := h.authorize(q, action, resource, nil); err != nil {
		h.renderDenied(w, q, "budgets", action, resource)
		return
	}
	if name != "" {
		v, err := h.opts.Budgets.Get(q.Context(), q.account, name)
		if err != nil {
			h.renderError(w, q.Request, q, http.StatusNotFound, "No such budget", h.message(q.Request, err))
			return
		}
		f = formOf(v.Budget)
	}
	h.showBudgetForm(w, q, http.StatusOK, f)
}

func formOf(b budget.Budget) budgetForm {
	f := budgetForm{Edit: true, Name: b.Name, TimeUnit: string(b.TimeUnit), Unit: b.Unit}
	if b.Type == budget.Cost {
		f.Limit = money.Amount(b.Limit).Decimal(2)
	} else {
		f.Limit = strconv.FormatInt(b.Limit, 10)
	}
	i := 0
	var walk func(e *costquery.Expr)
	walk = func(e *costquery.Expr) {
		switch {
		case e == nil:
		case e.Tags != nil && i < 3 && len(e.Tags.Values) > 0:
			f.TagKeys[i], f.TagValues[i] = strings.TrimPrefix(e.Tags.Key, "user:"), e.Tags.Values[0]
			i++
		case e.And != nil:
			for j := range e.And {
				walk(&e.And[j])
			}
		}
	}
	walk(b.Filter)
	return f
}

func (h *Handler) showBudgetForm(w http.ResponseWriter, q *req, status int, f budgetForm) {
	f.KnownKeys = h.opts.Profiles.TagKeys(q.account)
	seen := map[string]bool{}
	for _, k := range f.KnownKeys {
		for _, v := range h.opts.Profiles.TagValues(q.account, k) {
			if !seen[v] {
				seen[v] = true
				f.KnownValues = append(f.KnownValues, v)
			}
		}
	}
	slices.Sort(f.KnownValues)
	title := "Create budget"
	if f.Edit {
		title = "Edit budget " + f.Name
	}
	h.render(w, q.Request, status, "budgetform", h.newView(q, "budgets", title, struct {
		budgetForm
		TimeUnits []string
	}{f, timeUnits}))
}

// saveBudget creates a budget (budgets:ModifyBudget on its ARN, as
// CreateBudget authorizes) or, when edit is set, updates its definition.
func (h *Handler) saveBudget(w http.ResponseWriter, q *req) {
	pf := q.PostForm
	f := budgetForm{Edit: pf.Get("edit") == "1", Name: strings.TrimSpace(pf.Get("name")), Limit: strings.TrimSpace(pf.Get("limit")),
		TimeUnit: pf.Get("time_unit"), Forecast: strings.TrimSpace(pf.Get("forecast")), Subscriber: strings.TrimSpace(pf.Get("subscriber")),
		Enforce: pf.Get("enforce"), EnforceAt: strings.TrimSpace(pf.Get("enforce_at")), EnforceRPM: strings.TrimSpace(pf.Get("enforce_rpm")),
		Downgrade: strings.TrimSpace(pf.Get("downgrade"))}
	for i := range 3 {
		f.TagKeys[i] = strings.TrimSpace(pf.Get("tag_key_" + strconv.Itoa(i)))
		f.TagValues[i] = strings.TrimSpace(pf.Get("tag_value_" + strconv.Itoa(i)))
		f.Thresholds[i] = strings.TrimSpace(pf.Get("threshold_" + strconv.Itoa(i)))
	}
	if err := budget.ValidateName(f.Name); err != nil {
		f.Error = h.message(q.Request, err)
		h.showBudgetForm(w, q, http.StatusBadRequest, f)
		return
	}
	resource := budgetARN(q.account, f.Name)
	if err := h.authorize(q, "budgets:ModifyBudget", resource, nil); err != nil {
		h.renderDenied(w, q, "budgets", "budgets:ModifyBudget", resource)
		return
	}
	b, err := f.toBudget(q.account)
	if err == nil {
		if f.Edit {
			err = h.opts.Budgets.Update(q.Context(), b)
		} else {
			err = h.opts.Budgets.Create(q.Context(), b)
		}
	}
	if err != nil {
		f.Error = h.message(q.Request, err)
		h.showBudgetForm(w, q, http.StatusBadRequest, f)
		return
	}
	done(w, q.Request, "/console/budgets/"+url.PathEscape(f.Name), "Budget saved.")
}

// toBudget builds a COST budget from the form.
func (f budgetForm) toBudget(account string) (budget.Budget, error) {
	limit, err := money.Parse(f.Limit)
	if err != nil || limit <= 0 {
		return budget.Budget{}, errkind.New(errkind.Invalid, "The limit must be an amount in US dollars greater than zero, such as 1000 or 12.50.")
	}
	if !slices.Contains(timeUnits, f.TimeUnit) {
		return budget.Budget{}, errkind.New(errkind.Invalid, "Choose a period: monthly, daily, quarterly or annually.")
	}
	b := budget.Budget{Account: account, Name: f.Name, Type: budget.Cost, TimeUnit: budget.TimeUnit(f.TimeUnit), Limit: int64(limit), Unit: "USD"}
	var conds []costquery.Expr
	for i := range 3 {
		if f.TagKeys[i] == "" && f.TagValues[i] == "" {
			continue
		}
		if f.TagKeys[i] == "" {
			return b, errkind.New(errkind.Invalid, "Scope row %d has a value but no tag key.", i+1)
		}
		conds = append(conds, costquery.Expr{Tags: &costquery.Values{Key: f.TagKeys[i], Values: []string{f.TagValues[i]}}})
	}
	switch len(conds) {
	case 0:
	case 1:
		b.Filter = &conds[0]
	default:
		b.Filter = &costquery.Expr{And: conds}
	}
	var subs []budget.Subscriber
	if f.Subscriber != "" {
		typ := budget.Email
		if strings.HasPrefix(f.Subscriber, "http://") || strings.HasPrefix(f.Subscriber, "https://") {
			typ = budget.SNS
		}
		subs = []budget.Subscriber{{Type: typ, Address: f.Subscriber}}
	}
	addNote := func(t budget.NotificationType, s string) error {
		if s == "" {
			return nil
		}
		if len(subs) == 0 {
			return errkind.New(errkind.Invalid, "Alerts need someone to notify: give an e-mail address or a webhook URL, or clear the alert thresholds.")
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v <= 0 {
			return errkind.New(errkind.Invalid, "Threshold %q must be a percentage greater than zero.", s)
		}
		b.Notifications = append(b.Notifications, budget.Notification{Type: t, Comparison: budget.GreaterThan, Threshold: v,
			ThresholdType: budget.Percentage, Subscribers: subs})
		return nil
	}
	if !f.Edit {
		for _, s := range f.Thresholds {
			if err := addNote(budget.Actual, s); err != nil {
				return b, err
			}
		}
		if err := addNote(budget.Forecasted, f.Forecast); err != nil {
			return b, err
		}
		if f.Enforce != "" {
			at, err := strconv.ParseFloat(f.EnforceAt, 64)
			if err != nil || at <= 0 {
				return b, errkind.New(errkind.Invalid, "The enforcement threshold must be a percentage greater than zero.")
			}
			a := budget.Action{Type: budget.ActionType(f.Enforce), Threshold: at, ThresholdType: budget.Percentage, Subscribers: subs}
			switch a.Type {
			case budget.Block:
			case budget.Throttle:
				if a.RequestsPerMinute, err = strconv.ParseInt(f.EnforceRPM, 10, 64); err != nil || a.RequestsPerMinute <= 0 {
					return b, errkind.New(errkind.Invalid, "Throttling needs a number of requests per minute greater than zero.")
				}
			case budget.Downgrade:
				if a.Model = f.Downgrade; a.Model == "" {
					return b, errkind.New(errkind.Invalid, "Downgrading needs the model to route to.")
				}
			default:
				return b, errkind.New(errkind.Invalid, "Unknown enforcement %q.", f.Enforce)
			}
			b.Actions = append(b.Actions, a)
		}
	}
	return b, nil
}
