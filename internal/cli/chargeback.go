package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/chargeback"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/ledger"
)

const chargebackUsage = `Usage: tollgate chargeback --by tag:KEY [flags]

Chargeback statements for internal customers, for one calendar month: one
statement per value of a cost-allocation tag (or per account), listing per
inference profile and model the tokens used, the cost, the markup and the
total to charge; spend without the tag is a statement of its own. Costs
are exact, and before writing anything the command checks that every
statement's cost and tokens equal Cost Explorer's (GetCostAndUsage,
MONTHLY, grouped by the same tag, same accounts).

The markup is applied to each line's cost in whole basis points, rounded
half away from zero to the nano-dollar; statement totals are the sums of
their lines. The ledger is the SQLite database in --data-dir, or with
--store (or TOLLGATE_STORE) the PostgreSQL database the replicas share.
See docs/reports.md.

Examples:
  tollgate chargeback --by tag:cost_center --month 2026-11 --markup 15%
  tollgate chargeback --by tag:cost_center --month 2026-11 --markup 15% --out statements-2026-11.html
  tollgate chargeback --by account --format csv > accounts.csv
`

// chargebackCmd writes chargeback statements from the ledger.
func chargebackCmd(ctx context.Context, args []string, env Env) error {
	stdout := env.Stdout

	fs, lf := newStoreFlagSet("tollgate chargeback", chargebackUsage, env)
	byFlag := fs.String("by", "", "tag:KEY (one statement per tag value, plus the untagged one) or account (required)")
	monthFlag := fs.String("month", "", "calendar month, YYYY-MM, UTC (default: last month)")
	markupFlag := fs.String("markup", "0%", "markup on cost, a percentage with at most two decimals (15%, 12.5%)")
	formatFlag := fs.String("format", "", "text, csv, json or html (default: from --out's extension, else text)")
	outFlag := fs.String("out", "", "output file, written whole or not at all (default: stdout)")
	var accountFlags listFlag
	fs.Var(&accountFlags, "account", "only this account's usage (repeatable; default every account)")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs, "chargeback"); err != nil {
		return err
	}
	if *byFlag == "" {
		return errors.New("chargeback: --by is required (tag:KEY or account)")
	}
	by, err := chargeback.ParseBy(*byFlag)
	if err != nil {
		return fmt.Errorf("chargeback: %w", err)
	}
	markup, err := chargeback.ParseMarkup(*markupFlag)
	if err != nil {
		return fmt.Errorf("chargeback: %w", err)
	}
	from, err := parseMonth(*monthFlag, time.Now())
	if err != nil {
		return err
	}
	to := from.AddDate(0, 1, 0)
	format := strings.ToLower(*formatFlag)
	if format == "" {
		format = "text"
		if ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(*outFlag), ".")); ext == "csv" || ext == "json" || ext == "html" {
			format = ext
		} else if ext == "htm" {
			format = "html"
		}
	}
	write := map[string]func(io.Writer, *chargeback.Result) error{
		"text": chargeback.WriteText, "csv": chargeback.WriteCSV, "json": chargeback.WriteJSON, "html": chargeback.WriteHTML,
	}[format]
	if write == nil {
		return fmt.Errorf("chargeback: --format %q: want text, csv, json or html", *formatFlag)
	}
	var accounts []string
	if len(accountFlags) > 0 {
		accounts = accountFlags
	}
	db, err := lf.open(ctx, env, false)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := reconciledStatements(ctx, db, by, markup, accounts, from, to)
	if err != nil {
		return err
	}
	return writeOutput(*outFlag, stdout, func(w io.Writer) error { return write(w, res) })
}

// reconciledStatements builds the statements of [from, to) from a stream
// of the rollups, then checks them against Cost Explorer's answer for the
// same scope. Should appends land between the two reads and the figures
// differ, it reads both again.
func reconciledStatements(ctx context.Context, db Store, by chargeback.By, m chargeback.Markup, accounts []string, from, to time.Time) (*chargeback.Result, error) {
	for attempt := 1; ; attempt++ {
		before, err := db.LedgerVersion(ctx)
		if err != nil {
			return nil, err
		}
		b := chargeback.NewBuilder(by, m, from, to)
		if err := db.StreamRollups(ctx, accounts, from, to, func(r *ledger.Rollup, _ int64) error {
			b.Add(r)
			return nil
		}); err != nil {
			return nil, err
		}
		res := b.Result()
		// Cost Explorer's answer for the month, asked a day at a time so
		// that only one day's rollups are in memory: the sums are the
		// same.
		svc := costquery.NewService(db, nil, nil)
		var ce costquery.Result
		for day := from; day.Before(to); day = day.AddDate(0, 0, 1) {
			q := res.Query()
			q.From, q.To = day, day.AddDate(0, 0, 1)
			part, err := svc.CostAndUsage(ctx, accounts, q)
			if err != nil {
				return nil, err
			}
			ce.GroupBy = part.GroupBy
			ce.Periods = append(ce.Periods, part.Periods...)
		}
		after, err := db.LedgerVersion(ctx)
		if err != nil {
			return nil, err
		}
		err = res.Reconcile(ce)
		if err == nil {
			return res, nil
		}
		if before == after || attempt == 3 {
			return nil, err
		}
	}
}

// parseMonth reads YYYY-MM; "" is last month (UTC).
func parseMonth(s string, now time.Time) (time.Time, error) {
	if s == "" {
		now = now.UTC()
		return time.Date(now.Year(), now.Month()-1, 1, 0, 0, 0, 0, time.UTC), nil
	}
	t, err := time.Parse("2006-01", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("chargeback: --month %q: want YYYY-MM", s)
	}
	return t, nil
}
