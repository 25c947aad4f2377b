package console

import (
	"cmp"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/alarm"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/money"
)

type topValue struct {
	Label string
	Cost  money.Amount
	Share float64 // percent of the month's spend
}

type spend struct {
	MTD, LastMonth, LastMonthToDate money.Amount
	Estimated                       bool
	MainKey                         string
	Keys                            []string // the tag keys with spend this month, to rank by instead
	Top                             []topValue
	Chart                           chart
}

type homePage struct {
	Spend    panel
	Forecast panel
	Budgets  panel
	Alarms   panel
	// Anomalies are the last two weeks' newest five.
	Anomalies panel
}

// home is the overview: month-to-date spend and forecast against last
// month, the top values of the main tag key, budgets at or over a
// threshold and alarms in ALARM, each panel authorized on its own.
func (h *Handler) home(w http.ResponseWriter, q *req) {
	now := h.opts.Now().UTC()
	today := now.Truncate(24 * time.Hour)
	tomorrow := today.AddDate(0, 0, 1)
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	last := month.AddDate(0, -1, 0)
	accts := h.costAccounts(q)
	var p homePage
	p.Spend = h.guard(q, "ce:GetCostAndUsage", "*", nil, func() (any, error) {
		var s spend
		// The main tag key: ?tag=KEY, else configured (consoleMainTagKey),
		// else the one with most spend.
		keys, err := h.opts.Costs.Tags(q.Context(), accts, "", costquery.Scope{From: month, To: tomorrow})
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			s.Keys = append(s.Keys, k.Value)
		}
		slices.Sort(s.Keys)
		s.MainKey = h.opts.MainTagKey
		if k := strings.TrimSpace(q.URL.Query().Get("tag")); k != "" && len(k) <= 128 {
			s.MainKey = k
		}
		if s.MainKey == "" {
			var best money.Amount = -1
			for _, k := range keys {
				if k.Cost > best {
					s.MainKey, best = k.Value, k.Cost
				}
			}
		}
		cq := costquery.Query{From: last, To: tomorrow, Granularity: costquery.Daily}
		if s.MainKey != "" {
			cq.GroupBy = []costquery.GroupBy{{Type: costquery.GroupTag, Key: s.MainKey}}
		}
		res, err := h.opts.Costs.CostAndUsage(q.Context(), accts, cq)
		if err != nil {
			return nil, err
		}
		byValue := map[string]money.Amount{}
		sameDay := last.AddDate(0, 0, int(tomorrow.Sub(month)/(24*time.Hour)))
		var labels []string
		cur := series{Label: "This month"}
		prev := series{Label: "Last month"}
		days := int(month.AddDate(0, 1, 0).Sub(month) / (24 * time.Hour))
		cur.Values, prev.Values = make([]float64, days), make([]float64, days)
		lastDays := int(month.Sub(last) / (24 * time.Hour))
		for d := range days { // days still to come, and past last month's end, are gaps
			if month.AddDate(0, 0, d).After(today) {
				cur.Values[d] = math.NaN()
			}
			if d >= lastDays {
				prev.Values[d] = math.NaN()
			}
		}
		for d := range days {
			labels = append(labels, month.AddDate(0, 0, d).Format("Jan 2"))
		}
		var cumCur, cumPrev float64
		for _, pr := range res.Periods {
			c := pr.Total.Cost
			if !pr.Start.Before(month) {
				s.MTD += c
				s.Estimated = s.Estimated || pr.Estimated
				for _, g := range pr.Groups {
					byValue[groupLabel(res.GroupBy, g.Keys[0])] += g.Cost
				}
				cumCur += float64(c) / float64(money.Dollar)
				if d := int(pr.Start.Sub(month) / (24 * time.Hour)); d < days {
					cur.Values[d] = cumCur
				}
			} else {
				s.LastMonth += c
				if pr.Start.Before(sameDay) {
					s.LastMonthToDate += c
				}
				cumPrev += float64(c) / float64(money.Dollar)
				if d := int(pr.Start.Sub(last) / (24 * time.Hour)); d < days {
					prev.Values[d] = cumPrev
				}
			}
		}
		for v, c := range byValue {
			s.Top = append(s.Top, topValue{Label: v, Cost: c})
		}
		slices.SortFunc(s.Top, func(a, b topValue) int {
			if c := cmp.Compare(b.Cost, a.Cost); c != 0 {
				return c
			}
			return cmp.Compare(a.Label, b.Label)
		})
		if len(s.Top) > 5 {
			s.Top = s.Top[:5]
		}
		for i := range s.Top {
			if s.MTD > 0 {
				s.Top[i].Share = float64(s.Top[i].Cost) / float64(s.MTD) * 100
			}
		}
		prev.Color, cur.Color = grey, palette[0]
		s.Chart = chart{Title: "Cumulative spend, this month against last", Labels: labels, Series: []series{prev, cur}, Lines: true, Format: dollars}
		return s, nil
	})
	p.Forecast = h.guard(q, "ce:GetCostForecast", "*", nil, func() (any, error) {
		fr, err := h.opts.Costs.Forecast(q.Context(), accts, costquery.ForecastQuery{From: today, To: month.AddDate(0, 1, 0), Granularity: costquery.Monthly})
		if err != nil {
			return nil, forecastErr(err)
		}
		var mtd money.Amount
		if s, ok := p.Spend.Data.(spend); ok {
			mtd = s.MTD
		}
		return mtd + fr.Total, nil
	})
	p.Budgets = h.guard(q, "budgets:ViewBudget", budgetARN(q.account, "*"), nil, func() (any, error) {
		var rows []budgetRow
		for _, v := range h.opts.Budgets.List(q.Context(), q.account) {
			if r := rowOf(v); r.Exceeded || r.AtThreshold {
				rows = append(rows, r)
			}
		}
		return rows, nil
	})
	p.Alarms = h.guard(q, "cloudwatch:DescribeAlarms", h.alarmARN(q.account, "*"), nil, func() (any, error) {
		return h.opts.Alarms.List(q.account, alarm.Filter{State: alarm.StateAlarm}), nil
	})
	p.Anomalies = h.guard(q, "ce:GetAnomalies", monitorsARN(q.account), nil, func() (any, error) {
		return h.anomalyRows(q, today.AddDate(0, 0, -14), 5)
	})
	h.render(w, q.Request, http.StatusOK, "home", h.newView(q, "home", "Home", p))
}
