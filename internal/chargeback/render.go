package chargeback

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tollgate-dev/tollgate/internal/money"
)

// Label names a statement for people: "cost_center CC-1001", "cost_center
// (untagged)", "account 111111111111".
func (r *Result) Label(st Statement) string {
	if r.By.Tag == "" {
		return "account " + st.Value
	}
	if st.Untagged {
		return r.By.Tag + " (untagged)"
	}
	return r.By.Tag + " " + st.Value
}

// Period names the range: "2026-11" for a calendar month, else
// "2026-11-01 to 2026-12-01" (end exclusive).
func (r *Result) Period() string {
	if r.From.Day() == 1 && r.From.Equal(r.From.Truncate(24*time.Hour)) && r.To.Equal(r.From.AddDate(0, 1, 0)) {
		return r.From.Format("2006-01")
	}
	return r.From.Format(time.DateOnly) + " to " + r.To.Format(time.DateOnly)
}

// usd formats an amount exactly, with at least two decimals.
func usd(a money.Amount) string { return a.Decimal(2) }

// CSVColumns are the columns of WriteCSV, one row per line.
var CSVColumns = []string{
	"by", "value", "untagged", "period_start", "period_end", "resource_id", "model", "usage_type",
	"input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens", "tokens",
	"cost", "markup_percent", "markup", "total", "estimated",
}

// WriteCSV writes one row per line of every statement, amounts in USD
// with exactly nine decimals; a statement's totals are the sums of its
// rows.
func WriteCSV(w io.Writer, r *Result) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVColumns); err != nil {
		return err
	}
	i := strconv.FormatInt
	for _, st := range r.Statements {
		for _, l := range st.Lines {
			if err := cw.Write([]string{
				r.By.String(), st.Value, strconv.FormatBool(st.Untagged),
				r.From.Format(time.RFC3339), r.To.Format(time.RFC3339), l.ResourceID, l.Model, l.UsageType,
				i(l.Input, 10), i(l.Output, 10), i(l.CacheRead, 10), i(l.CacheWrite, 10), i(l.CacheWrite1h, 10), i(l.Tokens.Total(), 10),
				l.Cost.Decimal(9), strings.TrimSuffix(r.MarkupRate.String(), "%"), l.Markup.Decimal(9), l.Total.Decimal(9),
				strconv.FormatBool(l.Estimated),
			}); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// The JSON shapes of WriteJSON.
type (
	jsonResult struct {
		By                string          `json:"by"`
		Period            string          `json:"period"`
		From              string          `json:"from"`
		To                string          `json:"to"`
		Currency          string          `json:"currency"`
		Markup            string          `json:"markup"`
		MarkupBasisPoints int64           `json:"markupBasisPoints"`
		Statements        []jsonStatement `json:"statements"`
		Total             jsonAmounts     `json:"total"`
		Reconciliation    *jsonReconciled `json:"reconciliation,omitempty"`
	}
	jsonStatement struct {
		Value    string     `json:"value"`
		Untagged bool       `json:"untagged"`
		Label    string     `json:"label"`
		Lines    []jsonLine `json:"lines"`
		jsonAmounts
	}
	jsonLine struct {
		ResourceID string `json:"resourceId"`
		Model      string `json:"model"`
		UsageType  string `json:"usageType"`
		jsonAmounts
	}
	jsonAmounts struct {
		InputTokens      int64  `json:"inputTokens"`
		OutputTokens     int64  `json:"outputTokens"`
		CacheReadTokens  int64  `json:"cacheReadTokens"`
		CacheWriteTokens int64  `json:"cacheWriteTokens"`
		CacheWrite1h     int64  `json:"cacheWrite1hTokens"`
		Units            int64  `json:"units,omitempty"` // generated images
		Tokens           int64  `json:"tokens"`
		Cost             string `json:"cost"`
		Markup           string `json:"markup"`
		Total            string `json:"total"`
		Estimated        bool   `json:"estimated"`
	}
	jsonReconciled struct {
		Source string `json:"source"`
		Cost   string `json:"cost"`
		Usage  int64  `json:"usageQuantity"`
		Groups int    `json:"groups"`
	}
)

func amountsJSON(a Amounts) jsonAmounts {
	return jsonAmounts{InputTokens: a.Input, OutputTokens: a.Output, CacheReadTokens: a.CacheRead, CacheWriteTokens: a.CacheWrite, CacheWrite1h: a.CacheWrite1h,
		Units: a.Units, Tokens: a.Tokens.Total(), Cost: a.Cost.Decimal(9), Markup: a.Markup.Decimal(9), Total: a.Total.Decimal(9), Estimated: a.Estimated}
}

// WriteJSON writes r as one JSON document, amounts as decimal strings of
// USD with nine decimals.
func WriteJSON(w io.Writer, r *Result) error {
	out := jsonResult{By: r.By.String(), Period: r.Period(), From: r.From.Format(time.RFC3339), To: r.To.Format(time.RFC3339),
		Currency: "USD", Markup: r.MarkupRate.String(), MarkupBasisPoints: int64(r.MarkupRate), Statements: []jsonStatement{},
		Total: amountsJSON(r.Amounts)}
	for _, st := range r.Statements {
		js := jsonStatement{Value: st.Value, Untagged: st.Untagged, Label: r.Label(st), jsonAmounts: amountsJSON(st.Amounts)}
		for _, l := range st.Lines {
			js.Lines = append(js.Lines, jsonLine{ResourceID: l.ResourceID, Model: l.Model, UsageType: l.UsageType, jsonAmounts: amountsJSON(l.Amounts)})
		}
		out.Statements = append(out.Statements, js)
	}
	if rc := r.Reconciled; rc != nil {
		out.Reconciliation = &jsonReconciled{Source: "GetCostAndUsage", Cost: rc.Cost.Decimal(9), Usage: rc.Usage, Groups: rc.Groups}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// WriteText writes a summary table: one row per statement, then the
// total.
func WriteText(w io.Writer, r *Result) error {
	fmt.Fprintf(w, "Chargeback by %s for %s, markup %s (amounts in USD, exact)\n", r.By, r.Period(), r.MarkupRate)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STATEMENT\tLINES\tTOKENS\tCOST\tMARKUP\tTOTAL\t")
	estimated := false
	for _, st := range r.Statements {
		label := r.Label(st)
		if st.Estimated {
			label += " *"
			estimated = true
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t\n", label, len(st.Lines), st.Tokens.Total(), usd(st.Cost), usd(st.Markup), usd(st.Total))
	}
	fmt.Fprintf(tw, "TOTAL\t\t%d\t%s\t%s\t%s\t\n", r.Tokens.Total(), usd(r.Cost), usd(r.Amounts.Markup), usd(r.Amounts.Total))
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Statements) == 0 {
		fmt.Fprintln(w, "No usage in this period.")
	}
	if estimated {
		fmt.Fprintln(w, "* includes unpriced usage: its tokens are counted, its cost is not.")
	}
	if rc := r.Reconciled; rc != nil {
		fmt.Fprintf(w, "Reconciled with Cost Explorer (GetCostAndUsage): %s USD, %d tokens in %d groups.\n", usd(rc.Cost), rc.Usage, rc.Groups)
	}
	return nil
}

var htmlPage = template.Must(template.New("statements").Funcs(template.FuncMap{
	"usd":    usd,
	"tokens": func(n int64) string { return money.GroupDigits(n) },
	"label":  func(r *Result, st Statement) string { return r.Label(st) },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Chargeback statements {{.Period}}</title>
<style>
  body { font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: #111; margin: 2em; }
  h1 { font-size: 20px; margin: 0 0 .2em; }
  h2 { font-size: 15px; margin: 0 0 1em; font-weight: normal; color: #444; }
  table { border-collapse: collapse; width: 100%; margin-bottom: 1em; }
  th, td { padding: 4px 6px; border-bottom: 1px solid #ddd; vertical-align: top; }
  th { text-align: left; background: #f3f3f3; }
  td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
  td.id { font-family: ui-monospace, monospace; font-size: 11px; word-break: break-all; }
  tr.total td { font-weight: bold; border-top: 2px solid #111; }
  .statement { page-break-after: always; break-after: page; margin-bottom: 3em; }
  .statement:last-of-type { page-break-after: auto; break-after: auto; }
  .note { color: #555; font-size: 12px; }
  @media print { body { margin: 1cm; } .statement { margin-bottom: 0; } }
</style>
</head>
<body>
{{- $r := . }}
{{- range .Statements}}
<section class="statement">
  <h1>Chargeback statement: {{label $r .}}</h1>
  <h2>Period {{$r.Period}} ({{$r.From.Format "2006-01-02"}} to {{$r.To.Format "2006-01-02"}}, end exclusive, UTC) &middot; markup {{$r.MarkupRate}} &middot; amounts in USD</h2>
  <table>
    <thead><tr><th>Inference profile (resource)</th><th>Model</th><th class="n">Input tokens</th><th class="n">Output tokens</th><th class="n">Cache read</th><th class="n">Cache write</th><th class="n">Cost</th><th class="n">Markup</th><th class="n">Total</th></tr></thead>
    <tbody>
    {{- range .Lines}}
      <tr><td class="id">{{.ResourceID}}</td><td>{{.Model}}{{if .Estimated}} *{{end}}</td><td class="n">{{tokens .Input}}</td><td class="n">{{tokens .Output}}</td><td class="n">{{tokens .CacheRead}}</td><td class="n">{{tokens .CacheWrite}}</td><td class="n">{{usd .Cost}}</td><td class="n">{{usd .Markup}}</td><td class="n">{{usd .Total}}</td></tr>
    {{- end}}
      <tr class="total"><td colspan="2">Total {{label $r .}}</td><td class="n">{{tokens .Input}}</td><td class="n">{{tokens .Output}}</td><td class="n">{{tokens .CacheRead}}</td><td class="n">{{tokens .CacheWrite}}</td><td class="n">{{usd .Cost}}</td><td class="n">{{usd .Markup}}</td><td class="n">{{usd .Total}}</td></tr>
    </tbody>
  </table>
  <p class="note">Costs are exact (nano-dollar precision) at the on-demand prices in force at the time of each call; the markup of {{$r.MarkupRate}} is applied per line and rounded half away from zero to the nano-dollar.{{if .Estimated}} * Includes calls without a known price: their tokens are counted, their cost is not.{{end}}</p>
</section>
{{- else}}
<section class="statement"><h1>Chargeback statements</h1><h2>Period {{$r.Period}}</h2><p>No usage in this period.</p></section>
{{- end}}
<section class="statement">
  <h1>Summary: chargeback by {{$r.By}} for {{$r.Period}}</h1>
  <table>
    <thead><tr><th>Statement</th><th class="n">Tokens</th><th class="n">Cost</th><th class="n">Markup</th><th class="n">Total</th></tr></thead>
    <tbody>
    {{- range .Statements}}
      <tr><td>{{label $r .}}</td><td class="n">{{tokens .Tokens.Total}}</td><td class="n">{{usd .Cost}}</td><td class="n">{{usd .Markup}}</td><td class="n">{{usd .Total}}</td></tr>
    {{- end}}
      <tr class="total"><td>Total</td><td class="n">{{tokens .Tokens.Total}}</td><td class="n">{{usd .Cost}}</td><td class="n">{{usd .Markup}}</td><td class="n">{{usd .Total}}</td></tr>
    </tbody>
  </table>
  {{- with .Reconciled}}
  <p class="note">Reconciled with Cost Explorer (GetCostAndUsage, grouped by {{$r.By}}): {{usd .Cost}} USD and {{tokens .Usage}} tokens in {{.Groups}} groups, equal to the statements' costs and tokens.</p>
  {{- end}}
</section>
</body>
</html>
`))

// WriteHTML writes a printable page: each statement on a page of its
// own, then a summary.
func WriteHTML(w io.Writer, r *Result) error { return htmlPage.Execute(w, r) }
