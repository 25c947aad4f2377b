package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/costquery"
)

const reportUsage = `Usage: tollgate report [flags]

Print cost and usage from the ledger, grouped and filtered as Cost
Explorer groups and filters them (the same engine answers
GetCostAndUsage). Costs are exact USD; usage is tokens of every class.
The ledger is the SQLite database in --data-dir, or with --store (or
TOLLGATE_STORE) the PostgreSQL database the replicas share.

  --group-by G   repeatable, at most twice: tag:KEY, or a dimension: model,
                 region, usage-type, profile (the resource: profile ARN, or
                 model ARN for direct calls), account, operation, service
  --filter F     repeatable: tag:KEY=V1[,V2...], DIMENSION=V1[,V2...], or
                 with != to exclude; tag:KEY= selects usage without the tag.
                 Values of one key are ORed, different keys ANDed.

Examples:
  tollgate report --group-by tag:dept --group-by model --granularity daily --filter tag:env=prod
  tollgate report --from 2026-01-01 --to 2026-04-01 --group-by profile --json
  tollgate report --store postgres://tollgate@db.internal/tollgate --group-by tag:dept
`

// reportDims maps the report's dimension names to Cost Explorer's.
var reportDims = map[string]string{
	"model": costquery.DimModel, "region": costquery.DimRegion, "usage-type": costquery.DimUsageType,
	"profile": costquery.DimResourceID, "resource": costquery.DimResourceID, "resource-id": costquery.DimResourceID,
	"account": costquery.DimLinkedAccount, "linked-account": costquery.DimLinkedAccount,
	"operation": costquery.DimOperation, "service": costquery.DimService, "service-code": costquery.DimServiceCode,
	"record-type": costquery.DimRecordType,
}

// reportDim returns the Cost Explorer dimension a report name (or a Cost
// Explorer name such as USAGE_TYPE) stands for.
func reportDim(name string) (string, error) {
	if d, ok := reportDims[strings.ToLower(name)]; ok {
		return d, nil
	}
	if d := strings.ToUpper(strings.ReplaceAll(name, "-", "_")); costquery.ValidDimension(d) {
		return d, nil
	}
	return "", fmt.Errorf("unknown dimension %q: use tag:KEY, model, region, usage-type, profile, account, operation or service", name)
}

func parseGroupBy(s string) (costquery.GroupBy, error) {
	if key, ok := strings.CutPrefix(s, "tag:"); ok {
		if key == "" {
			return costquery.GroupBy{}, fmt.Errorf("--group-by %q: the tag key is empty", s)
		}
		return costquery.GroupBy{Type: costquery.GroupTag, Key: key}, nil
	}
	d, err := reportDim(s)
	if err != nil {
		return costquery.GroupBy{}, fmt.Errorf("--group-by: %w", err)
	}
	return costquery.GroupBy{Type: costquery.GroupDimension, Key: d}, nil
}

// parseFilters turns --filter flags into one expression: the values given
// for one key (and sense) are ORed, the resulting terms ANDed.
func parseFilters(specs []string) (*costquery.Expr, error) {
	type term struct {
		tag    bool
		key    string
		negate bool
	}
	var order []term
	values := map[term][]string{}
	for _, s := range specs {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("--filter %q: want tag:KEY=VALUE or DIMENSION=VALUE", s)
		}
		var tm term
		if before, found := strings.CutSuffix(k, "!"); found {
			tm.negate, k = true, before
		}
		if key, isTag := strings.CutPrefix(k, "tag:"); isTag {
			if key == "" {
				return nil, fmt.Errorf("--filter %q: the tag key is empty", s)
			}
			tm.tag, tm.key = true, key
		} else {
			d, err := reportDim(k)
			if err != nil {
				return nil, fmt.Errorf("--filter %q: %w", s, err)
			}
			tm.key = d
		}
		if _, seen := values[tm]; !seen {
			order = append(order, tm)
		}
		values[tm] = append(values[tm], strings.Split(v, ",")...)
	}
	var terms []costquery.Expr
	for _, tm := range order {
		e := costquery.Expr{}
		vals := &costquery.Values{Key: tm.key, Values: values[tm]}
		if tm.tag {
			e.Tags = vals
		} else {
			e.Dimensions = vals
		}
		if tm.negate {
			inner := e
			e = costquery.Expr{Not: &inner}
		}
		terms = append(terms, e)
	}
	switch len(terms) {
	case 0:
		return nil, nil
	case 1:
		return &terms[0], nil
	}
	return &costquery.Expr{And: terms}, nil
}

func parseReportTime(s, name string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--%s %q: want YYYY-MM-DD (or YYYY-MM-DDThh:00:00Z)", name, s)
	}
	return t.UTC(), nil
}

// Report is the output of tollgate report: printed as a table, or as
// JSON with --json.
type Report struct {
	From        string         `json:"from"`
	To          string         `json:"to"`
	Granularity string         `json:"granularity"`
	GroupBy     []string       `json:"groupBy"`
	Filters     []string       `json:"filters"`
	Periods     []ReportPeriod `json:"periods"`
	Total       ReportTotals   `json:"total"`
}

// ReportTotals is the cost (USD, two decimals) and usage (tokens) of a
// period, a group or the whole report.
type ReportTotals struct {
	Cost          string `json:"cost"`
	UsageQuantity int64  `json:"usageQuantity"`
}

// ReportPeriod is one period of a report.
type ReportPeriod struct {
	Start     string `json:"start"`
	End       string `json:"end"`
	Estimated bool   `json:"estimated"`
	ReportTotals
	Groups []ReportGroup `json:"groups,omitempty"`
}

// ReportGroup is one group of a period.
type ReportGroup struct {
	// Keys holds one value per group-by: the dimension value, or the tag
	// value ("" for usage without the tag).
	Keys []string `json:"keys"`
	ReportTotals
}

// ReportTotalsOf returns the report form of the cost engine's totals.
func ReportTotalsOf(t costquery.Totals) ReportTotals {
	return ReportTotals{Cost: t.Cost.Decimal(2), UsageQuantity: t.Usage}
}

// groupValue strips a tag group key to its value.
func groupValue(g costquery.GroupBy, key string) string {
	if g.Type == costquery.GroupTag {
		return strings.TrimPrefix(key, g.Key+"$")
	}
	return key
}

// reportCmd prints cost and usage tables from the ledger.
func reportCmd(ctx context.Context, args []string, env Env) error {
	stdout, getenv := env.Stdout, env.Getenv

	fs, lf := newStoreFlagSet("tollgate report", reportUsage, env)
	catalogFile := fs.String("catalog", getenv("TOLLGATE_CATALOG"), "catalogue override YAML file (names the usage types)")
	fromFlag := fs.String("from", "", "first day, YYYY-MM-DD (default: the first of this month, UTC)")
	toFlag := fs.String("to", "", "end day, exclusive, YYYY-MM-DD (default: tomorrow, UTC: month to date)")
	granFlag := fs.String("granularity", "monthly", "hourly, daily or monthly")
	var groupFlags, filterFlags, accountFlags listFlag
	fs.Var(&groupFlags, "group-by", "group by tag:KEY or a dimension (repeatable, at most 2)")
	fs.Var(&filterFlags, "filter", "filter tag:KEY=V[,V] or DIMENSION=V[,V], != to exclude (repeatable)")
	fs.Var(&accountFlags, "account", "only this account's usage (repeatable; default every account)")
	asJSON := fs.Bool("json", false, "print JSON for scripts")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs, "report"); err != nil {
		return err
	}

	now := time.Now().UTC()
	today := now.Truncate(24 * time.Hour)
	q := costquery.Query{
		From:        time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC),
		To:          today.AddDate(0, 0, 1),
		Granularity: costquery.Granularity(strings.ToUpper(*granFlag)),
	}
	var err error
	if *fromFlag != "" {
		if q.From, err = parseReportTime(*fromFlag, "from"); err != nil {
			return err
		}
	}
	if *toFlag != "" {
		if q.To, err = parseReportTime(*toFlag, "to"); err != nil {
			return err
		}
	}
	if len(groupFlags) > 2 {
		return errors.New("report: at most two --group-by")
	}
	for _, g := range groupFlags {
		gb, err := parseGroupBy(g)
		if err != nil {
			return err
		}
		q.GroupBy = append(q.GroupBy, gb)
	}
	if q.Filter, err = parseFilters(filterFlags); err != nil {
		return err
	}
	if err := q.Validate(); err != nil {
		return fmt.Errorf("report: %w", err)
	}

	cat := catalog.Default()
	if *catalogFile != "" {
		data, err := os.ReadFile(*catalogFile)
		if err != nil {
			return fmt.Errorf("catalog: %w", err)
		}
		over, err := catalog.Parse(data)
		if err != nil {
			return err
		}
		cat = cat.Merge(over)
	}
	db, err := lf.open(ctx, env, false)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer db.Close()
	var accounts []string
	if len(accountFlags) > 0 {
		accounts = accountFlags
	}
	res, err := costquery.NewService(db, costquery.NewNamer(cat), nil).CostAndUsage(ctx, accounts, q)
	if err != nil {
		return err
	}

	out := Report{From: fmtReportTime(q.From, q.Granularity), To: fmtReportTime(q.To, q.Granularity),
		Granularity: string(q.Granularity), GroupBy: []string(groupFlags), Filters: []string(filterFlags)}
	if out.GroupBy == nil {
		out.GroupBy = []string{}
	}
	if out.Filters == nil {
		out.Filters = []string{}
	}
	out.Periods = []ReportPeriod{}
	var total costquery.Totals
	for _, p := range res.Periods {
		rp := ReportPeriod{Start: fmtReportTime(p.Start, q.Granularity), End: fmtReportTime(p.End, q.Granularity),
			Estimated: p.Estimated, ReportTotals: ReportTotalsOf(p.Total)}
		for _, g := range p.Groups {
			keys := make([]string, len(g.Keys))
			for i, k := range g.Keys {
				keys[i] = groupValue(q.GroupBy[i], k)
			}
			rp.Groups = append(rp.Groups, ReportGroup{Keys: keys, ReportTotals: ReportTotalsOf(g.Totals)})
		}
		total.Cost += p.Total.Cost
		total.Usage += p.Total.Usage
		out.Periods = append(out.Periods, rp)
	}
	out.Total = ReportTotalsOf(total)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	return printReport(stdout, out, q)
}

func fmtReportTime(t time.Time, g costquery.Granularity) string {
	if g == costquery.Hourly || !t.Equal(t.Truncate(24*time.Hour)) {
		return t.Format("2006-01-02T15:04Z")
	}
	return t.Format(time.DateOnly)
}

func printReport(w io.Writer, r Report, q costquery.Query) error {
	fmt.Fprintf(w, "Cost and usage from %s to %s (end exclusive), %s", r.From, r.To, strings.ToLower(r.Granularity))
	if len(r.GroupBy) > 0 {
		fmt.Fprintf(w, ", grouped by %s", strings.Join(r.GroupBy, ", "))
	}
	if len(r.Filters) > 0 {
		fmt.Fprintf(w, ", filtered by %s", strings.Join(r.Filters, " and "))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := []string{"PERIOD"}
	for _, g := range r.GroupBy {
		head = append(head, strings.ToUpper(g))
	}
	head = append(head, "COST (USD)", "USAGE (TOKENS)")
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	estimated := false
	row := func(period string, keys []string, t ReportTotals) {
		cells := append([]string{period}, keys...)
		cells = append(cells, t.Cost, fmt.Sprint(t.UsageQuantity))
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	for _, p := range r.Periods {
		label := p.Start
		if p.Estimated {
			label += " *"
			estimated = true
		}
		if len(q.GroupBy) == 0 {
			row(label, nil, p.ReportTotals)
			continue
		}
		for _, g := range p.Groups {
			keys := make([]string, len(g.Keys))
			for i, k := range g.Keys {
				keys[i] = k
				if k == "" {
					keys[i] = "(untagged)"
					if q.GroupBy[i].Type == costquery.GroupDimension {
						keys[i] = "(none)"
					}
				}
			}
			row(label, keys, g.ReportTotals)
		}
	}
	blank := make([]string, len(q.GroupBy))
	row("TOTAL", blank, r.Total)
	if err := tw.Flush(); err != nil {
		return err
	}
	if estimated {
		fmt.Fprintln(w, "* includes unpriced usage: its tokens are counted, its cost is not.")
	}
	if len(r.Periods) > 0 && r.Total == ReportTotalsOf(costquery.Totals{}) {
		fmt.Fprintln(w, "No usage in this period.")
	}
	return nil
}
