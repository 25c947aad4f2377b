package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/export"
	"github.com/tollgate-dev/tollgate/internal/money"
)

const exportUsage = `Usage: tollgate export [flags]

Write the usage of a period as CUR 2.0-style line items (the columns of an
AWS Data Exports Cost and Usage Report): one per token class of each
period, account, resource, usage type, operation, region, model and tag
set, summed exactly from the ledger's hourly rollups, as CSV or Parquet.
The export streams in constant memory; on a terminal it shows a progress
bar on stderr. It reads the SQLite database in --data-dir, or with --store
(or TOLLGATE_STORE) the PostgreSQL database the replicas share.

  line_item_usage_amount is in the pricing unit, 1K tokens (tokens/1000,
  exact); line_item_unblended_rate is the catalogue price in USD per 1K
  tokens; costs are exact USD (nine decimals in CSV; DECIMAL(18,9) over
  INT64 nano-dollars in Parquet). See docs/reports.md.

Examples:
  tollgate export --from 2026-11-01 --to 2026-12-01 --format parquet --out cur-2026-11.parquet
  tollgate export --granularity hourly --account 111111111111 > month-to-date.csv
`

// exportCmd writes CUR-style line items from the ledger.
func exportCmd(ctx context.Context, args []string, env Env) error {
	stdout, stderr, getenv := env.Stdout, env.Stderr, env.Getenv

	fs, lf := newStoreFlagSet("tollgate export", exportUsage, env)
	catalogFile := fs.String("catalog", getenv("TOLLGATE_CATALOG"), "catalogue override YAML file (names usage types, gives rates)")
	fromFlag := fs.String("from", "", "first day, YYYY-MM-DD (default: the first of this month, UTC)")
	toFlag := fs.String("to", "", "end day, exclusive, YYYY-MM-DD (default: tomorrow, UTC: month to date)")
	granFlag := fs.String("granularity", "daily", "line-item period: hourly, daily or monthly")
	formatFlag := fs.String("format", "", "csv or parquet (default: from --out's extension, else csv)")
	outFlag := fs.String("out", "", "output file, written whole or not at all (default: stdout)")
	var accountFlags listFlag
	fs.Var(&accountFlags, "account", "only this account's usage (repeatable; default every account)")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs, "export"); err != nil {
		return err
	}
	from, to, err := parseRange(*fromFlag, *toFlag, time.Now())
	if err != nil {
		return err
	}
	format := strings.ToLower(*formatFlag)
	if format == "" {
		format = "csv"
		if strings.EqualFold(filepath.Ext(*outFlag), ".parquet") {
			format = "parquet"
		}
	}
	if format != "csv" && format != "parquet" {
		return fmt.Errorf("export: --format %q: want csv or parquet", *formatFlag)
	}
	if format == "parquet" && *outFlag == "" && isTerminal(stdout) {
		return errors.New("export: not writing Parquet to a terminal: give --out FILE or redirect stdout")
	}
	cat, err := loadCatalog(*catalogFile)
	if err != nil {
		return err
	}
	opts := export.Options{From: from, To: to, Granularity: costquery.Granularity(strings.ToUpper(*granFlag)),
		Namer: costquery.NewNamer(cat), Catalog: cat}
	if len(accountFlags) > 0 {
		opts.Accounts = accountFlags
	}
	if err := opts.Validate(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	db, err := lf.open(ctx, env, false)
	if err != nil {
		return err
	}
	defer db.Close()

	var bar *progressBar
	if isTerminal(stderr) {
		bar = &progressBar{w: stderr, from: from, to: to, start: time.Now()}
		opts.Progress = bar.update
	}
	start := time.Now()
	var st export.Stats
	err = writeOutput(*outFlag, stdout, func(w io.Writer) error {
		var ew export.Writer = export.NewCSVWriter(w)
		if format == "parquet" {
			ew = export.NewParquetWriter(w)
		}
		var err error
		if st, err = export.Run(ctx, db, opts, ew); err != nil {
			return err
		}
		return ew.Close()
	})
	if bar != nil {
		bar.finish()
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	dest := "stdout"
	if *outFlag != "" {
		dest = *outFlag
	}
	fmt.Fprintf(stderr, "exported %s line items (%s, %s to %s) from %s hourly rollups to %s in %v: %s tokens, %s USD\n",
		money.GroupDigits(st.Rows), strings.ToLower(string(opts.Granularity)), fmtReportTime(from, costquery.Daily),
		fmtReportTime(to, costquery.Daily), money.GroupDigits(st.Rollups), dest, time.Since(start).Round(time.Millisecond),
		money.GroupDigits(st.Tokens), st.Cost.Decimal(2))
	return nil
}

// parseRange reads --from and --to (default: month to date, UTC).
func parseRange(fromFlag, toFlag string, now time.Time) (from, to time.Time, err error) {
	today := now.UTC().Truncate(24 * time.Hour)
	from = time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC)
	to = today.AddDate(0, 0, 1)
	if fromFlag != "" {
		if from, err = parseReportTime(fromFlag, "from"); err != nil {
			return
		}
	}
	if toFlag != "" {
		if to, err = parseReportTime(toFlag, "to"); err != nil {
			return
		}
	}
	return from, to, nil
}

// loadCatalog returns the embedded catalogue with the override file laid
// over it.
func loadCatalog(file string) (*catalog.Catalog, error) {
	cat := catalog.Default()
	if file == "" {
		return cat, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	over, err := catalog.Parse(data)
	if err != nil {
		return nil, err
	}
	return cat.Merge(over), nil
}

// progressBar draws an export's progress on one terminal line: how much
// of the range has been read, the hour reached, line items written and
// the rate.
type progressBar struct {
	w        io.Writer
	from, to time.Time
	start    time.Time
	drawn    time.Time
	last     export.Progress
}

// progressWidth is the width of the bar itself, in cells.
const progressWidth = 30

func (p *progressBar) update(pr export.Progress) {
	p.last = pr
	now := time.Now()
	if now.Sub(p.drawn) < 100*time.Millisecond && pr.Hour.Before(p.to) {
		return
	}
	p.drawn = now
	frac := float64(pr.Hour.Sub(p.from)) / float64(p.to.Sub(p.from))
	frac = min(max(frac, 0), 1)
	fill := int(frac * progressWidth)
	bar := strings.Repeat("=", fill)
	if fill < progressWidth {
		bar += ">" + strings.Repeat(" ", progressWidth-fill-1)
	}
	rate := ""
	if secs := now.Sub(p.start).Seconds(); secs > 0 {
		rate = fmt.Sprintf("  %s rows/s", money.GroupDigits(int64(float64(pr.Rows)/secs)))
	}
	fmt.Fprintf(p.w, "\r\033[K[%s] %3.0f%%  %s  %s line items%s", bar, frac*100, pr.Hour.Format("2006-01-02 15h"), money.GroupDigits(pr.Rows), rate)
}

// finish ends the progress line.
func (p *progressBar) finish() {
	if !p.drawn.IsZero() {
		fmt.Fprintln(p.w)
	}
}
