package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/money"
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

Each row shows the group's share of its period's cost and its change
against the same group in the period before; groups are sorted by cost,
costliest first, and --top N keeps the N costliest of each period (the
rest summed in one row). Grouped by profile, the profile's name stands
beside its ARN. A tag key no profile carries is an error that lists the
keys that exist.

Examples:
  tollgate report --group-by tag:dept --group-by model --granularity daily --filter tag:env=prod
  tollgate report --group-by profile --top 10
  tollgate report --group-by tag:app -o csv > by-app.csv
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

// ReportTotals is the cost (exact, "12.345678900 USD") and usage
// (tokens) of a period, a group or the whole report.
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
	// Change is the cost's change against the period before, "+12.5%",
	// "new" when that period cost nothing; absent when unknown. Reports
	// without --group-by only.
	Change string        `json:"change,omitempty"`
	Share  string        `json:"-"`
	Groups []ReportGroup `json:"groups,omitempty"`
}

// ReportGroup is one group of a period.
type ReportGroup struct {
	// Keys holds one value per group-by: the dimension value, or the tag
	// value ("" for usage without the tag).
	Keys []string `json:"keys"`
	// Names holds, for a profile group-by, the profile's name beside its
	// ARN in Keys ("" when the profile is gone or the key is a model).
	Names []string `json:"names,omitempty"`
	ReportTotals
	// Share is the group's share of its period's cost, "42.0%".
	Share string `json:"share"`
	// Change is the group's change against the same group in the period
	// before: "+12.5%", "-3.0%", "new" when it cost nothing then; absent
	// for the (others) row or when unknown.
	Change string `json:"change,omitempty"`
	// Other marks the row --top sums the rest into.
	Other bool `json:"other,omitempty"`

	cost money.Amount
}

// ReportTotalsOf returns the report form of the cost engine's totals.
func ReportTotalsOf(t costquery.Totals) ReportTotals {
	return ReportTotals{Cost: usdJSON(t.Cost), UsageQuantity: t.Usage}
}

// usdJSON is money as every command's JSON carries it.
func usdJSON(a money.Amount) string { return a.Decimal(9) + " USD" }

// previousPeriodStart is the start of the period of granularity g that
// ends at from.
func previousPeriodStart(from time.Time, g costquery.Granularity) time.Time {
	switch g {
	case costquery.Hourly:
		return from.Add(-time.Hour)
	case costquery.Daily:
		return from.AddDate(0, 0, -1)
	}
	return from.AddDate(0, -1, 0)
}

// shareOf is part's share of whole, "42.0%"; "" when whole is zero.
func shareOf(part, whole money.Amount) string {
	if whole <= 0 {
		return ""
	}
	return strconv.FormatFloat(100*float64(part)/float64(whole), 'f', 1, 64) + "%"
}

// changeOf is the change from before to now: "+12.5%", "-3.0%", "new"
// (before was zero, now is not), "" (both zero).
func changeOf(now, before money.Amount) string {
	switch {
	case before == 0 && now == 0:
		return ""
	case before == 0:
		return "new"
	}
	v := 100 * (float64(now) - float64(before)) / float64(before)
	s := strconv.FormatFloat(v, 'f', 1, 64) + "%"
	if v >= 0 {
		s = "+" + s
	}
	return s
}

// checkGroupTagKeys reports a tag key in --group-by or --filter that no
// profile carries, with the keys that exist: a mistyped key would
// otherwise print one (untagged) row.
func checkGroupTagKeys(ctx context.Context, db Store, svc *costquery.Service, accounts []string, q costquery.Query) error {
	var asked []string
	for _, g := range q.GroupBy {
		if g.Type == costquery.GroupTag {
			asked = append(asked, g.Key)
		}
	}
	var walk func(e *costquery.Expr)
	walk = func(e *costquery.Expr) {
		if e == nil {
			return
		}
		if e.Tags != nil {
			asked = append(asked, e.Tags.Key)
		}
		for i := range e.And {
			walk(&e.And[i])
		}
		for i := range e.Or {
			walk(&e.Or[i])
		}
		walk(e.Not)
	}
	walk(q.Filter)
	if len(asked) == 0 {
		return nil
	}
	ps, err := db.ListAllProfiles(ctx)
	if err != nil {
		return err
	}
	known := tagKeysOf(ps)
	used, err := svc.Tags(ctx, accounts, "", costquery.Scope{From: q.From, To: q.To})
	if err != nil {
		return err
	}
	for _, v := range used {
		known[v.Value] = true
	}
	for _, k := range asked {
		if !known[k] {
			return tagKeyError("report", k, sortedKeys(known))
		}
	}
	return nil
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
	output := registerOutput(fs)
	top := fs.Int("top", 0, "per period, the N costliest groups; the rest summed in one (other) row (0: all)")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs, "report"); err != nil {
		return err
	}
	if *top < 0 {
		return Usagef("report", "report: --top must be 0 or more")
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
		return Usagef("report", "report: at most two --group-by")
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
	svc := costquery.NewService(db, costquery.NewNamer(cat), nil)
	res, err := svc.CostAndUsage(ctx, accounts, q)
	if err != nil {
		return err
	}
	// The period before the first, for the change column.
	var prev *costquery.PeriodResult
	pq := q
	pq.From, pq.To = previousPeriodStart(q.From, q.Granularity), q.From
	if pq.Validate() == nil {
		if pres, err := svc.CostAndUsage(ctx, accounts, pq); err == nil && len(pres.Periods) > 0 {
			prev = &pres.Periods[len(pres.Periods)-1]
		}
	}
	names := map[string]string{}
	for _, g := range q.GroupBy {
		if g.Type == costquery.GroupDimension && g.Key == costquery.DimResourceID {
			ps, err := db.ListAllProfiles(ctx)
			if err != nil {
				return err
			}
			for _, p := range ps {
				names[p.ARN] = p.Name
			}
		}
	}
	if err := checkGroupTagKeys(ctx, db, svc, accounts, q); err != nil {
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
		before := map[string]money.Amount{}
		if prev != nil {
			for _, g := range prev.Groups {
				before[strings.Join(g.Keys, "\x00")] = g.Cost
			}
			if len(q.GroupBy) == 0 {
				before[""] = prev.Total.Cost
			}
		}
		groups := p.Groups
		if len(q.GroupBy) == 0 {
			groups = []costquery.Group{{Totals: p.Total}}
		}
		for _, g := range groups {
			keys := make([]string, len(g.Keys))
			var shown []string
			for i, k := range g.Keys {
				keys[i] = groupValue(q.GroupBy[i], k)
				if n, ok := names[k]; ok {
					shown = append(shown, n)
				} else if q.GroupBy[i].Type == costquery.GroupDimension && q.GroupBy[i].Key == costquery.DimResourceID {
					shown = append(shown, "")
				}
			}
			rg := ReportGroup{Keys: keys, Names: shown, ReportTotals: ReportTotalsOf(g.Totals), cost: g.Cost,
				Share: shareOf(g.Cost, p.Total.Cost)}
			if prev != nil {
				rg.Change = changeOf(g.Cost, before[strings.Join(g.Keys, "\x00")])
			}
			rp.Groups = append(rp.Groups, rg)
		}
		sort.SliceStable(rp.Groups, func(i, j int) bool { return rp.Groups[i].cost > rp.Groups[j].cost })
		if *top > 0 && len(rp.Groups) > *top {
			var rest ReportGroup
			var restCost money.Amount
			var restUsage int64
			for _, g := range rp.Groups[*top:] {
				restCost += g.cost
				restUsage += g.UsageQuantity
			}
			keys := make([]string, len(q.GroupBy))
			keys[0] = fmt.Sprintf("(%d others)", len(rp.Groups)-*top)
			rest = ReportGroup{Keys: keys, Other: true, cost: restCost, ReportTotals: ReportTotalsOf(costquery.Totals{Cost: restCost, Usage: restUsage}),
				Share: shareOf(restCost, p.Total.Cost)}
			rp.Groups = append(rp.Groups[:*top:*top], rest)
		}
		if len(q.GroupBy) == 0 {
			rp.Share, rp.Change = "", rp.Groups[0].Change
			rp.Groups = nil
		}
		prev = &costquery.PeriodResult{Period: p.Period, Total: p.Total, Groups: p.Groups}
		total.Cost += p.Total.Cost
		total.Usage += p.Total.Usage
		out.Periods = append(out.Periods, rp)
	}
	out.Total = ReportTotalsOf(total)
	switch output.format {
	case "json":
		return writeJSON(stdout, out)
	case "yaml":
		return renderObject(stdout, "yaml", out)
	case "csv":
		return render(stdout, "csv", reportDataset(out, q, false))
	}
	return printReport(stdout, out, q)
}

func fmtReportTime(t time.Time, g costquery.Granularity) string {
	if g == costquery.Hourly || !t.Equal(t.Truncate(24*time.Hour)) {
		return t.Format("2006-01-02T15:04Z")
	}
	return t.Format(time.DateOnly)
}

// reportDataset is the report's rows: one per period and group (or per
// period without --group-by), then a TOTAL row when total.
func reportDataset(r Report, q costquery.Query, total bool) dataset {
	ds := dataset{cols: []column{{key: "period"}}}
	profileCol := -1
	for i, g := range r.GroupBy {
		ds.cols = append(ds.cols, column{key: "group" + strconv.Itoa(i+1), header: strings.ToUpper(g)})
		if q.GroupBy[i].Type == costquery.GroupDimension && q.GroupBy[i].Key == costquery.DimResourceID {
			profileCol = i
			ds.cols = append(ds.cols, column{key: "profileName", header: "PROFILE NAME"})
		}
	}
	ds.cols = append(ds.cols, column{key: "cost", header: "COST (USD)", right: true}, column{key: "share", right: true},
		column{key: "change", right: true}, column{key: "usageQuantity", header: "USAGE (TOKENS)", right: true})
	cell := func(period string, keys, names []string, t ReportTotals, share, change string) {
		row := []any{period}
		for i, k := range keys {
			if k == "" && period != "TOTAL" && !strings.HasPrefix(keys[0], "(") {
				k = "(untagged)"
				if q.GroupBy[i].Type == costquery.GroupDimension {
					k = "(none)"
				}
			}
			row = append(row, k)
			if i == profileCol {
				n := ""
				if i < len(names) {
					n = names[i]
				}
				row = append(row, n)
			}
		}
		a, _ := money.Parse(strings.TrimSuffix(t.Cost, " USD"))
		row = append(row, usdCell(a), share, change, t.UsageQuantity)
		ds.rows = append(ds.rows, row)
	}
	for _, p := range r.Periods {
		label := p.Start
		if p.Estimated {
			label += " *"
		}
		if len(q.GroupBy) == 0 {
			cell(label, nil, nil, p.ReportTotals, "", p.Change)
			continue
		}
		for _, g := range p.Groups {
			cell(label, g.Keys, g.Names, g.ReportTotals, g.Share, g.Change)
		}
	}
	if total {
		cell("TOTAL", make([]string, len(q.GroupBy)), nil, r.Total, "", "")
		last := ds.rows[len(ds.rows)-1]
		for i := 1; i < len(last)-4; i++ {
			last[i] = blankCell{}
		}
		last[len(last)-3], last[len(last)-2] = blankCell{}, blankCell{}
	}
	return ds
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
	if err := renderTable(w, reportDataset(r, q, true)); err != nil {
		return err
	}
	estimated := false
	for _, p := range r.Periods {
		estimated = estimated || p.Estimated
	}
	if estimated {
		fmt.Fprintln(w, "* includes unpriced usage: its tokens are counted, its cost is not.")
	}
	fmt.Fprintln(w, "SHARE is of the period's cost; CHANGE is against the same group in the period before.")
	if len(r.Periods) > 0 && r.Total == ReportTotalsOf(costquery.Totals{}) {
		fmt.Fprintln(w, "No usage in this period.")
	}
	return nil
}
