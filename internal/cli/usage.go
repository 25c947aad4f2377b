package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/tollgate-dev/tollgate/internal/ledger"
)

// usageCmd prints the most recent usage records from the ledger.
func usageCmd(ctx context.Context, args []string, env Env) error {
	stdout, getenv := env.Stdout, env.Getenv

	fs := flag.NewFlagSet("tollgate usage", flag.ContinueOnError)
	var lf storeFlags
	lf.register(fs, getenv)
	limit := fs.Int("limit", 20, "how many records (newest first)")
	asJSON := fs.Bool("json", false, "print JSON lines")
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := lf.open(ctx, env, true)
	if err != nil {
		return err
	}
	defer db.Close()
	recs, err := db.Records(ctx, ledger.Query{Newest: true, Limit: *limit})
	if err != nil {
		return err
	}
	if *asJSON {
		return jsonLines(stdout, recs)
	}
	return printUsage(stdout, recs)
}

// printUsage writes usage records as a table.
func printUsage(w io.Writer, recs []ledger.Record) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tREQUEST ID\tOPERATION\tPROFILE\tMODEL\tREGION\tIN\tOUT\tCACHE R/W\tLATENCY\tOUTCOME\tCOST (USD)")
	for _, r := range recs {
		cost := r.Cost.Decimal(6)
		if !r.Priced {
			cost = "unpriced"
		}
		prof := r.ProfileID
		if prof == "" {
			prof = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d/%d\t%dms\t%s\t%s\n",
			r.Time.Format("2006-01-02T15:04:05.000Z"), r.RequestID, r.Operation, prof, r.ModelID, r.RegionServed,
			r.InputTokens, r.OutputTokens, r.CacheReadTokens, r.CacheWriteTokens, r.LatencyMs, r.Outcome, cost)
	}
	return tw.Flush()
}
