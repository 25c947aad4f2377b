package cli

import (
	"context"
	"fmt"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/pricing"
)

const repriceUsage = `Usage: tollgate reprice --from YYYY-MM-DD [--to YYYY-MM-DD] [--prices-file F] [--catalog F] [--dry-run] [-o table|json|yaml]

Recompute the cost of the usage records of [--from, --to) (default: to
now) at the prices now in force for their time (the catalogue, --catalog
and --prices-file, as serve loads them), after a price was corrected or a
negotiated rate applies retroactively. Each changed record takes its new
cost and price version; the old and new cost and version go to the
re-pricing log; the hourly and daily rollups move by the difference, in
the same transaction, so Cost Explorer, budgets, exports and chargeback
read the new figures and the ledger still equals its rollups. Running it
again changes nothing. Fixed-cost records (reserved capacity) and calls
without usage are left as they are.

It writes to the database directly (the SQLite database in --data-dir, or
the PostgreSQL one --store names): whoever runs it must be trusted with
every account's usage. --dry-run reports without writing.

Examples:
  tollgate reprice --from 2026-11-01 --prices-file negotiated.yaml --dry-run
  tollgate reprice --from 2026-11-01 --to 2026-12-01 --prices-file negotiated.yaml -o json
`

// repriceCmd re-prices the ledger.
func repriceCmd(ctx context.Context, args []string, env Env) error {
	fs, lf := newStoreFlagSet("tollgate reprice", repriceUsage, env)
	fromFlag := fs.String("from", "", "first day to re-price, YYYY-MM-DD (required)")
	toFlag := fs.String("to", "", "end day, exclusive, YYYY-MM-DD (default: now)")
	catalogFile := fs.String("catalog", env.Getenv("TOLLGATE_CATALOG"), "catalogue override YAML file")
	pricesFile := fs.String("prices-file", env.Getenv("TOLLGATE_PRICES_FILE"), "price overrides YAML file")
	dry := fs.Bool("dry-run", false, "report what would change, write nothing")
	out := registerOutput(fs)
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs, "reprice"); err != nil {
		return err
	}
	if out.format == "csv" {
		return Usagef("reprice", "reprice: -o csv: the report is a summary; use table, json or yaml")
	}
	from, err := time.Parse(time.DateOnly, *fromFlag)
	if err != nil {
		return Usagef("reprice", "reprice: --from %q: want YYYY-MM-DD", *fromFlag)
	}
	now := time.Now().UTC()
	to := now
	if *toFlag != "" {
		if to, err = time.Parse(time.DateOnly, *toFlag); err != nil {
			return Usagef("reprice", "reprice: --to %q: want YYYY-MM-DD", *toFlag)
		}
	}
	if !from.Before(to) {
		return Usagef("reprice", "reprice: --from %s is not before --to %s", from.Format(time.DateOnly), to.Format(time.DateOnly))
	}
	cat, err := pricesCatalog(*catalogFile, *pricesFile)
	if err != nil {
		return err
	}
	db, err := lf.open(ctx, env, false)
	if err != nil {
		return err
	}
	defer db.Close()

	rep := RepriceReport{RunID: "reprice-" + now.Format("20060102T150405Z"), From: from.Format(time.DateOnly),
		To: to.Format(time.RFC3339), DryRun: *dry}
	moves := map[[2]string]*VersionMove{}
	for day := from; day.Before(to); day = day.AddDate(0, 0, 1) {
		recs, err := db.Records(ctx, ledger.Query{From: day, To: minT(day.AddDate(0, 0, 1), to)})
		if err != nil {
			return err
		}
		rep.Records += len(recs)
		changes := pricing.Reprice(cat, recs)
		for _, c := range changes {
			k := [2]string{c.Old.PriceVersion, c.New.PriceVersion}
			m := moves[k]
			if m == nil {
				m = &VersionMove{Model: c.Old.ModelID, OldVersion: k[0], NewVersion: k[1]}
				moves[k] = m
			}
			m.Records++
			m.oldCost += c.Old.Cost
			m.newCost += c.New.Cost
			rep.oldCost += c.Old.Cost
			rep.newCost += c.New.Cost
		}
		if *dry {
			rep.Changed += len(changes)
			continue
		}
		for i := 0; i < len(changes); i += 1000 {
			n, err := db.Reprice(ctx, rep.RunID, now, changes[i:min(i+1000, len(changes))])
			if err != nil {
				return err
			}
			rep.Changed += n
		}
	}
	for _, m := range moves {
		m.OldCost, m.NewCost = m.oldCost.Decimal(9), m.newCost.Decimal(9)
		rep.Moves = append(rep.Moves, *m)
	}
	slices.SortFunc(rep.Moves, func(a, b VersionMove) int {
		if a.Model != b.Model {
			if a.Model < b.Model {
				return -1
			}
			return 1
		}
		if a.OldVersion+a.NewVersion < b.OldVersion+b.NewVersion {
			return -1
		}
		return 1
	})
	rep.OldCost, rep.NewCost = rep.oldCost.Decimal(9), rep.newCost.Decimal(9)
	if out.format != "table" {
		return renderObject(env.Stdout, out.format, rep)
	}
	verb := "re-priced"
	if *dry {
		verb = "would re-price"
	}
	fmt.Fprintf(env.Stdout, "%s: %d of %d records from %s %s; cost $%s -> $%s\n", rep.RunID, rep.Changed, rep.Records, rep.From, verb,
		rep.OldCost, rep.NewCost)
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tOLD VERSION\tNEW VERSION\tRECORDS\tOLD COST\tNEW COST")
	for _, m := range rep.Moves {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", m.Model, dashIf(m.OldVersion), dashIf(m.NewVersion), m.Records, m.OldCost, m.NewCost)
	}
	return tw.Flush()
}

// RepriceReport is what a re-pricing run did (or would do, dry).
type RepriceReport struct {
	RunID   string        `json:"runId"`
	From    string        `json:"from"`
	To      string        `json:"to"`
	DryRun  bool          `json:"dryRun"`
	Records int           `json:"records"` // examined
	Changed int           `json:"changed"`
	OldCost string        `json:"oldCost"` // of the changed records, USD
	NewCost string        `json:"newCost"`
	Moves   []VersionMove `json:"versions"`

	oldCost, newCost money.Amount
}

// VersionMove counts the records moved from one price version to
// another ("" = unpriced).
type VersionMove struct {
	Model      string `json:"model"`
	OldVersion string `json:"oldVersion"`
	NewVersion string `json:"newVersion"`
	Records    int    `json:"records"`
	OldCost    string `json:"oldCost"`
	NewCost    string `json:"newCost"`

	oldCost, newCost money.Amount
}

func dashIf(s string) string {
	if s == "" {
		return "(unpriced)"
	}
	return s
}

func minT(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
