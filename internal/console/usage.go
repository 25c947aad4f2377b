package console

import (
	"bytes"
	"context"
	"net/http"
	"strings"

	"github.com/tollgate-dev/tollgate/internal/ledger"
)

// Usage reads the ledger's most recent calls (ledger.Reader).
type Usage interface {
	Records(ctx context.Context, q ledger.Query) ([]ledger.Record, error)
}

type usageRow struct {
	ledger.Record
	Profile string
	Tags    string
}

type usagePage struct {
	Panel panel
	Rows  []usageRow
}

// usageLimit is how many calls the page shows.
const usageLimit = 50

// usage lists the most recent calls with each one's cost breakdown,
// refreshed in place every few seconds by console.js. Per-call cost is
// resource-level cost data: it is authorized as
// ce:GetCostAndUsageWithResources on "*".
func (h *Handler) usage(w http.ResponseWriter, q *req) {
	var p usagePage
	p.Panel = h.guard(q, "ce:GetCostAndUsageWithResources", "*", nil, func() (any, error) {
		account := q.account
		if accts := h.costAccounts(q); accts == nil {
			account = "" // the management account's consolidated view
		}
		return h.opts.Usage.Records(q.Context(), ledger.Query{Account: account, Limit: usageLimit, Newest: true})
	})
	if recs, ok := p.Panel.Data.([]ledger.Record); ok {
		for _, r := range recs {
			row := usageRow{Record: r, Profile: r.ProfileID}
			if r.ProfileARN != "" {
				if pr, err := h.opts.Profiles.Get(r.Account, r.ProfileARN); err == nil {
					row.Profile = pr.Name
				}
			}
			var ts []string
			for _, t := range r.Tags.List() {
				ts = append(ts, t.Key+"="+t.Value)
			}
			row.Tags = strings.Join(ts, " ")
			p.Rows = append(p.Rows, row)
		}
	}
	if q.URL.Query().Get("fragment") == "rows" && p.Panel.Data != nil {
		// The rows alone, for the page's refresh.
		var buf bytes.Buffer
		if err := h.pages["usage"].ExecuteTemplate(&buf, "usagerows", p.Rows); err != nil {
			h.log.Error("console_render", "page", "usage rows", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(buf.Bytes())
		return
	}
	h.render(w, q.Request, panelStatus(p.Panel), "usage", h.newView(q, "usage", "Usage", p))
}
