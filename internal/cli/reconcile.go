package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/reconcile"
)

const reconcileUsage = `Usage: tollgate reconcile --cur PATH [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--tolerance USD] [--total-tolerance USD] [--all] [-o table|json|yaml|csv]

Reconcile Tollgate's ledger with AWS's own bill: read the Amazon Bedrock
usage line items of an AWS Cost and Usage Report (a CUR 2.0 data export,
CSV, .csv.gz or Parquet as AWS writes it to S3; one file or a downloaded
directory of them), expand the usage records of the same period into the
usage types AWS bills (docs/pricing.md, "Usage types"), and compare both
at AWS's grain: day (UTC) x usage type x resource (the profile ARN) x
cost-allocation tags. Only the tag keys the export carries (those
activated for cost allocation) are compared.

Each row that differs is classified:
  wrong-rate           the same tokens, a different cost
  wrong-tokens         a different usage amount
  missing-in-tollgate  AWS billed a line Tollgate has no record of
  missing-in-aws       Tollgate recorded a line AWS did not bill
  tag-mismatch         the same day, usage type, resource and tokens under
                       different tags (the whole cost is misallocated)

The exit status is 1 when a row differs by more than --tolerance (a tag
mismatch by its whole cost) or, with --total-tolerance, when the two
totals differ by more than that; the rows are printed either way.
Without --from and --to the period is the days the export covers.

It reads the database directly (the SQLite database in --data-dir, or
the PostgreSQL one --store names).

Examples:
  tollgate reconcile --cur ./cur/data/BILLING_PERIOD=2026-11
  tollgate reconcile --cur tollgate-cur-00001.csv.gz --from 2026-11-01 --to 2026-12-01 --tolerance 0.05
  tollgate reconcile --cur export.parquet --total-tolerance 1 -o csv
`

// reconcileCmd compares an AWS CUR 2.0 export with the ledger.
func reconcileCmd(ctx context.Context, args []string, env Env) error {
	fs, lf := newStoreFlagSet("tollgate reconcile", reconcileUsage, env)
	curFlag := fs.String("cur", "", "the CUR 2.0 export: a .csv, .csv.gz or .parquet file, or a directory of them (required)")
	fromFlag := fs.String("from", "", "first day, YYYY-MM-DD (default: the export's first day)")
	toFlag := fs.String("to", "", "end day, exclusive, YYYY-MM-DD (default: the day after the export's last)")
	tolFlag := fs.String("tolerance", "0.01", "largest difference per row, USD, that passes")
	totalFlag := fs.String("total-tolerance", "", "largest difference of the totals, USD, that passes (default: not checked)")
	all := fs.Bool("all", false, "print the matching rows too")
	out := registerOutput(fs)
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs, "reconcile"); err != nil {
		return err
	}
	if *curFlag == "" {
		return Usagef("reconcile", "reconcile: --cur is required (the CUR 2.0 export to reconcile with)")
	}
	var from, to time.Time
	var err error
	if *fromFlag != "" {
		if from, err = time.Parse(time.DateOnly, *fromFlag); err != nil {
			return Usagef("reconcile", "reconcile: --from %q: want YYYY-MM-DD", *fromFlag)
		}
	}
	if *toFlag != "" {
		if to, err = time.Parse(time.DateOnly, *toFlag); err != nil {
			return Usagef("reconcile", "reconcile: --to %q: want YYYY-MM-DD", *toFlag)
		}
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return Usagef("reconcile", "reconcile: --from %s is not before --to %s", *fromFlag, *toFlag)
	}
	tol := reconcile.Tolerance{}
	if tol.Row, err = parseUSD(*tolFlag); err != nil {
		return Usagef("reconcile", "reconcile: --tolerance %q: want an amount in USD such as 0.01", *tolFlag)
	}
	if *totalFlag != "" {
		t, err := parseUSD(*totalFlag)
		if err != nil {
			return Usagef("reconcile", "reconcile: --total-tolerance %q: want an amount in USD such as 1", *totalFlag)
		}
		tol.Total = &t
	}

	cur, err := reconcile.Read(*curFlag, from, to)
	if err != nil {
		return err
	}
	if from.IsZero() || to.IsZero() {
		if len(cur.Lines) == 0 {
			return fmt.Errorf("reconcile: %s has no Amazon Bedrock usage line items in the period; give --from and --to to compare with the ledger's", *curFlag)
		}
		lo, hi := cur.Lines[0].Start, cur.Lines[0].Start
		for _, l := range cur.Lines {
			lo, hi = minT(lo, l.Start), maxT(hi, l.Start)
		}
		if from.IsZero() {
			from = lo.Truncate(24 * time.Hour)
		}
		if to.IsZero() {
			to = hi.Truncate(24*time.Hour).AddDate(0, 0, 1)
		}
		if !from.Before(to) {
			return Usagef("reconcile", "reconcile: --from %s is not before the export's end %s", from.Format(time.DateOnly), to.Format(time.DateOnly))
		}
	}

	db, err := lf.open(ctx, env, false)
	if err != nil {
		return err
	}
	defer db.Close()
	ours := reconcile.NewSum() // a day of records at a time
	for day := from; day.Before(to); day = day.AddDate(0, 0, 1) {
		recs, err := db.Records(ctx, ledger.Query{From: day, To: minT(day.AddDate(0, 0, 1), to)})
		if err != nil {
			return err
		}
		ours.AddAll(reconcile.TollgateLines(recs, cur.TagKeys))
	}
	ps, err := db.ListAllProfiles(ctx)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, p := range ps {
		names[p.ARN] = p.Name
	}
	theirs := reconcile.NewSum()
	theirs.AddAll(cur.Lines)
	rep := reconcile.ReconcileSums(theirs, ours)
	if err := printReconcile(env, out.format, rep, names, *all); err != nil {
		return err
	}
	rows, total := rep.Exceeding(tol)
	switch {
	case len(rows) > 0:
		return fmt.Errorf("reconcile: %d of %d rows differ by more than the tolerance ($%s per row)", len(rows), len(rep.Rows), tol.Row.Decimal(2))
	case total:
		return fmt.Errorf("reconcile: the totals differ by $%s, more than the tolerance ($%s)", abs(rep.AWSCost-rep.TollgateCost).Decimal(2), tol.Total.Decimal(2))
	}
	return nil
}

// parseUSD reads a non-negative amount of dollars, with or without a
// leading "$".
func parseUSD(s string) (money.Amount, error) {
	a, err := money.Parse(strings.TrimPrefix(s, "$"))
	if err == nil && a < 0 {
		err = money.ErrSyntax
	}
	return a, err
}

func abs(a money.Amount) money.Amount {
	if a < 0 {
		return -a
	}
	return a
}

func maxT(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// reconcileDataset is the rows of rep (every row with all, else those
// that differ), the largest exposure first.
func reconcileDataset(rep *reconcile.Report, names map[string]string, all bool) dataset {
	rows := rep.Mismatches()
	if all {
		rows = slices.Clone(rep.Rows)
	}
	slices.SortStableFunc(rows, func(a, b reconcile.Row) int { return cmp.Compare(b.Exposure(), a.Exposure()) })
	ds := dataset{cols: []column{
		{key: "day"}, {key: "class"}, {key: "profile"}, {key: "resourceId", header: "RESOURCE"}, {key: "usageType"},
		{key: "awsTags", header: "AWS TAGS"}, {key: "tollgateTags"}, {key: "unit"},
		{key: "awsUsage", header: "AWS USAGE", right: true}, {key: "tollgateUsage", right: true}, {key: "usageDiff", right: true},
		{key: "awsCost", header: "AWS (USD)", right: true}, {key: "tollgateCost", header: "TOLLGATE (USD)", right: true},
		{key: "costDiff", header: "DIFF (USD)", right: true},
	}}
	tagsOf := func(s *reconcile.Side) map[string]string {
		if s == nil || s.Tags == nil {
			return map[string]string{}
		}
		return s.Tags
	}
	for _, r := range rows {
		au, tu := r.Usage()
		ac, tc := r.Cost()
		unit, uv := usageCells(r.Unit(), r.UsageType, au, tu, au-tu)
		ds.rows = append(ds.rows, []any{r.Day.Format(time.DateOnly), string(r.Class), names[r.ResourceID], r.ResourceID, r.UsageType,
			tagsOf(r.AWS), tagsOf(r.Tollgate), unit, uv[0], uv[1], uv[2], usdCell(ac), usdCell(tc), usdCell(ac - tc)})
	}
	return ds
}

// usageCells are usage figures in their unit: tokens for a token unit
// ("1K tokens", and "1M tokens" or "Units" of a marketplace usage type),
// else the pricing unit with three decimals (reconcile keeps them in
// thousandths).
func usageCells(unit, usageType string, vs ...int64) (string, []any) {
	out := make([]any, len(vs))
	if reconcile.InTokens(unit, usageType) {
		for i, v := range vs {
			out[i] = v
		}
		return "tokens", out
	}
	for i, v := range vs {
		sign := ""
		if v < 0 {
			sign, v = "-", -v
		}
		out[i] = json.Number(fmt.Sprintf("%s%d.%03d", sign, v/1000, v%1000))
	}
	return unit, out
}

// printReconcile writes the rows; a table adds a summary line.
func printReconcile(env Env, format string, rep *reconcile.Report, names map[string]string, all bool) error {
	ds := reconcileDataset(rep, names, all)
	counts := rep.Counts()
	ds.empty = fmt.Sprintf("AWS's bill and Tollgate's ledger agree: %d rows.", counts[reconcile.Match])
	if err := render(env.Stdout, format, ds); err != nil {
		return err
	}
	if format != "table" {
		return nil
	}
	var parts []string
	for _, c := range []reconcile.Class{reconcile.WrongRate, reconcile.WrongTokens, reconcile.MissingInTollgate, reconcile.MissingInAWS, reconcile.TagMismatch} {
		if counts[c] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[c], c))
		}
	}
	differ := "none differ"
	if len(parts) > 0 {
		differ = strings.Join(parts, ", ")
	}
	_, err := fmt.Fprintf(env.Stdout, "\n%d rows: %d match, %s. AWS %s USD (%d line items), Tollgate %s USD (%d lines), difference %s USD.\n",
		len(rep.Rows), counts[reconcile.Match], differ, rep.AWSCost.Decimal(2), rep.AWSLines, rep.TollgateCost.Decimal(2), rep.TollgateLines,
		(rep.AWSCost - rep.TollgateCost).Decimal(2))
	return err
}
