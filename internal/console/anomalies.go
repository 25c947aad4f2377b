package console

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/tollgate-dev/tollgate/internal/anomaly"
	"github.com/tollgate-dev/tollgate/internal/money"
)

// Anomalies reads detected cost anomalies and takes feedback on them
// (anomaly.Service).
type Anomalies interface {
	Anomalies(ctx context.Context, account string, q anomaly.AnomalyQuery) ([]anomaly.Anomaly, error)
	ProvideFeedback(ctx context.Context, account, id string, fb anomaly.Feedback) error
}

// monitorsARN is every anomaly monitor of account, the resource
// GetAnomalies without a monitor authorizes on.
func monitorsARN(account string) string { return "arn:aws:ce::" + account + ":anomalymonitor/*" }

type anomalyRow struct {
	anomaly.Anomaly
	Impact     money.Amount
	Percent    string
	Causes     []causeRow
	Days       string
	FeedbackOf string
}

type causeRow struct {
	What         string
	Contribution money.Amount
}

func (h *Handler) anomalyRows(q *req, since time.Time, limit int) ([]anomalyRow, error) {
	as, err := h.opts.Anomalies.Anomalies(q.Context(), q.account, anomaly.AnomalyQuery{From: since})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(as, func(a, b anomaly.Anomaly) int { return cmp.Or(b.End.Compare(a.End), cmp.Compare(a.ID, b.ID)) })
	if limit > 0 && len(as) > limit {
		as = as[:limit]
	}
	rows := make([]anomalyRow, len(as))
	for i, a := range as {
		r := anomalyRow{Anomaly: a, Impact: a.Impact(), FeedbackOf: string(a.Feedback)}
		if p, ok := a.ImpactPercentage(); ok {
			r.Percent = "+" + strconv.FormatFloat(p, 'f', 0, 64) + "%"
		}
		r.Days = a.Start.UTC().Format("Jan 2 15:00") + " – " + a.End.UTC().Add(time.Hour).Format("Jan 2 15:00")
		causes := slices.Clone(a.RootCauses)
		slices.SortFunc(causes, func(x, y anomaly.RootCause) int { return cmp.Compare(y.Contribution, x.Contribution) })
		for _, c := range causes[:min(3, len(causes))] {
			what := c.ModelID
			if c.ProfileARN != "" {
				what = c.ProfileARN
				if pr, err := h.opts.Profiles.Get(q.account, c.ProfileARN); err == nil {
					what = pr.Name + " (" + pr.ID + ")"
				}
			}
			what += ", " + c.Region + ", " + c.UsageType
			r.Causes = append(r.Causes, causeRow{What: what, Contribution: c.Contribution})
		}
		rows[i] = r
	}
	return rows, nil
}

type anomaliesPage struct {
	Panel panel
	Rows  []anomalyRow
}

// anomalies lists the last 90 days' anomalies of the account's monitors
// (ce:GetAnomalies on every monitor of the account, as GetAnomalies
// without a monitor authorizes), newest first, with their root causes
// and feedback buttons.
func (h *Handler) anomalies(w http.ResponseWriter, q *req) {
	var p anomaliesPage
	since := h.opts.Now().UTC().AddDate(0, 0, -90)
	p.Panel = h.guard(q, "ce:GetAnomalies", monitorsARN(q.account), nil, func() (any, error) { return h.anomalyRows(q, since, 200) })
	if rows, ok := p.Panel.Data.([]anomalyRow); ok {
		p.Rows = rows
	}
	h.render(w, q.Request, panelStatus(p.Panel), "anomalies", h.newView(q, "anomalies", "Anomalies", p))
}

// anomalyFeedback records YES, NO or PLANNED_ACTIVITY on an anomaly
// (ce:ProvideAnomalyFeedback on "*", as the API authorizes it).
func (h *Handler) anomalyFeedback(w http.ResponseWriter, q *req) {
	if err := h.authorize(q, "ce:ProvideAnomalyFeedback", "*", nil); err != nil {
		h.renderDenied(w, q, "anomalies", "ce:ProvideAnomalyFeedback", "*")
		return
	}
	fb := anomaly.Feedback(q.PostFormValue("feedback"))
	if err := h.opts.Anomalies.ProvideFeedback(q.Context(), q.account, q.PathValue("id"), fb); err != nil {
		h.renderError(w, q.Request, q, http.StatusBadRequest, "Feedback not saved", h.message(q.Request, err))
		return
	}
	done(w, q.Request, "/console/anomalies", "Thanks: feedback saved.")
}
