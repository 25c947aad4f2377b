package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/parquet-go/parquet-go"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/export"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/pricing"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// billingMonth is the month the export and chargeback tests bill.
var billingMonth = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// billingLedger writes a data directory whose ledger holds n calls from
// the last two days of October to the first two of December 2026, priced
// from the embedded catalogue: tagged profiles in two accounts (one
// retagged mid-month), an untagged profile, direct model calls, a model
// without a price and failed calls.
func billingLedger(t *testing.T, n int) (string, []ledger.Record) {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(t.Context(), filepath.Join(dir, "tollgate.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cat := catalog.Default()
	retag := billingMonth.AddDate(0, 0, 14)
	profs := []struct {
		account, arn, model, region string
		tags                        func(time.Time) tags.Set
	}{
		{ceMgmt, ceAppARN(ceMgmt, "claimsprod01"), ceHaiku, "us-east-1", ceFixed("cost_center", "CC-1001", "dept", "claims")},
		{ceMgmt, ceAppARN(ceMgmt, "salesprod001"), ceSonnet, "us-west-2", ceFixed("cost_center", "CC-2002", "dept", "sales")},
		{ceLinked, ceAppARN(ceLinked, "riskprod0001"), ceNova, "us-east-1", func(at time.Time) tags.Set {
			if at.Before(retag) {
				return tags.Set{"cost_center": "CC-1001", "dept": "risk"}
			}
			return tags.Set{"cost_center": "CC-3003", "dept": "risk"}
		}},
		{ceLinked, ceAppARN(ceLinked, "untagged0001"), ceHaiku, "us-west-2", ceFixed()},
		{ceMgmt, "", ceNova, "eu-central-1", ceFixed()},
		{ceLinked, ceAppARN(ceLinked, "inhouse00001"), "acme.in-house-v1", "us-east-1", ceFixed("cost_center", "CC-2002")},
	}
	start := billingMonth.AddDate(0, 0, -2)
	span := billingMonth.AddDate(0, 1, 2).Sub(start)
	var recs []ledger.Record
	for i := range n {
		p := profs[i%len(profs)]
		at := start.Add(span * time.Duration(i) / time.Duration(n))
		r := ledger.Record{RequestID: fmt.Sprintf("bill-%05d", i), Time: at, Account: p.account, Region: p.region,
			RegionServed: p.region, PrincipalID: "root-" + p.account, ProfileARN: p.arn, ModelID: p.model, Provider: "sim",
			Operation: []string{"Converse", "ConverseStream", "InvokeModel"}[i%3], Outcome: ledger.OutcomeSuccess, Tags: p.tags(at)}
		if i%31 == 0 {
			r.Outcome, r.ErrorCode = ledger.OutcomeThrottled, "ThrottlingException"
		} else {
			r.InputTokens, r.OutputTokens = int64(200+i%900), int64(40+i%333)
			if p.model == ceHaiku && i%4 == 0 {
				r.CacheReadTokens, r.CacheWriteTokens = int64(1024+i%100), int64(i%7*100)
			}
		}
		if price, ok := pricing.Lookup(cat, r.ModelID, r.Time); ok {
			b, priced := pricing.Compute(price, pricing.Tokens{Input: r.InputTokens, Output: r.OutputTokens,
				CacheRead: r.CacheReadTokens, CacheWrite: r.CacheWriteTokens})
			r.Priced = priced
			r.Cost, r.InputCost, r.OutputCost, r.CacheReadCost, r.CacheWriteCost = b.Total(), b.Input, b.Output, b.CacheRead, b.CacheWrite
		}
		recs = append(recs, r)
	}
	if err := db.AppendRecords(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	return dir, recs
}

func runCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(t.Context(), args, &out, &errOut, func(string) string { return "" })
	return out.String(), errOut.String(), err
}

// monthTotals sums the records of the billing month (of the given
// accounts; nil: all): tokens and cost.
func monthTotals(recs []ledger.Record, accounts ...string) (int64, money.Amount) {
	var tokens int64
	var cost money.Amount
	for _, r := range recs {
		if r.Time.Before(billingMonth) || !r.Time.Before(billingMonth.AddDate(0, 1, 0)) {
			continue
		}
		if len(accounts) > 0 && !strings.Contains(strings.Join(accounts, ","), r.Account) {
			continue
		}
		tokens += r.InputTokens + r.OutputTokens + r.CacheReadTokens + r.CacheWriteTokens
		cost += r.Cost
	}
	return tokens, cost
}

func TestExportCommand(t *testing.T) {
	t.Parallel()
	dir, recs := billingLedger(t, 3000)
	from, to := billingMonth.Format(time.DateOnly), billingMonth.AddDate(0, 1, 0).Format(time.DateOnly)
	wantTokens, wantCost := monthTotals(recs)

	t.Run("csv to stdout", func(t *testing.T) {
		out, stderr, err := runCmd(t, "export", "--data-dir", dir, "--from", from, "--to", to)
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(rows[0], export.Columns); diff != "" {
			t.Fatalf("header (-got +want):\n%s", diff)
		}
		var tokens int64
		var cost money.Amount
		days := map[string]bool{}
		for _, row := range rows[1:] {
			cost += money.MustParse(row[11])
			switch row[9] {
			case "1K tokens":
				tokens += int64(money.MustParse(row[8]) / 1_000_000) // three decimals
			case "1M tokens": // a marketplace usage type, six decimals
				tokens += int64(money.MustParse(row[8]) / 1_000)
			default:
				t.Fatalf("pricing unit %q", row[9])
			}
			start, end := row[0], row[1]
			s, _ := time.Parse(time.RFC3339, start)
			e, _ := time.Parse(time.RFC3339, end)
			if e.Sub(s) != 24*time.Hour || s.Before(billingMonth) {
				t.Fatalf("line item period %s to %s: want one November day", start, end)
			}
			days[start] = true
		}
		if tokens != wantTokens || cost != wantCost {
			t.Errorf("export totals %d tokens, %v; records %d, %v", tokens, cost, wantTokens, wantCost)
		}
		if len(days) != 30 {
			t.Errorf("%d days, want 30", len(days))
		}
		if !strings.Contains(stderr, fmt.Sprintf("exported %s line items (daily", thousands(len(rows)-1))) ||
			strings.Contains(stderr, "\r") {
			t.Errorf("stderr %q: want a summary and no progress bar (not a terminal)", stderr)
		}
	})

	t.Run("parquet file, hourly, one account", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "cur.parquet")
		_, stderr, err := runCmd(t, "export", "--data-dir", dir, "--from", from, "--to", to, "--granularity", "hourly",
			"--account", ceLinked, "--out", path)
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		type row struct {
			Start   time.Time         `parquet:"line_item_usage_start_date"`
			End     time.Time         `parquet:"line_item_usage_end_date"`
			Account string            `parquet:"line_item_usage_account_id"`
			Amount  int64             `parquet:"line_item_usage_amount"` // millionths of Unit
			Unit    string            `parquet:"pricing_unit"`
			Cost    int64             `parquet:"line_item_unblended_cost"`
			Tags    map[string]string `parquet:"resource_tags"`
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fi, _ := f.Stat()
		rows, err := parquet.Read[row](f, fi.Size())
		if err != nil {
			t.Fatal(err)
		}
		var tokens int64
		var cost money.Amount
		for _, r := range rows {
			if r.Account != ceLinked || r.End.Sub(r.Start) != time.Hour {
				t.Fatalf("row %+v: want account %s, one hour", r, ceLinked)
			}
			switch r.Unit {
			case "1K tokens":
				tokens += r.Amount / 1000
			case "1M tokens": // a marketplace usage type
				tokens += r.Amount
			default:
				t.Fatalf("pricing unit %q", r.Unit)
			}
			cost += money.Amount(r.Cost)
		}
		wt, wc := monthTotals(recs, ceLinked)
		if tokens != wt || cost != wc {
			t.Errorf("Parquet totals %d tokens, %v; records %d, %v", tokens, cost, wt, wc)
		}
		if matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp")); len(matches) > 0 {
			t.Errorf("temporary files left: %q", matches)
		}
	})

	t.Run("a failed export leaves no file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "cur.csv")
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		var out, errOut bytes.Buffer
		err := run(ctx, []string{"export", "--data-dir", dir, "--from", from, "--to", to, "--out", path}, &out, &errOut,
			func(string) string { return "" })
		if err == nil {
			t.Fatal("no error")
		}
		if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 0 {
			t.Errorf("files left: %v", entries)
		}
	})

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad granularity", []string{"--granularity", "weekly"}, "granularity"},
		{"bad format", []string{"--format", "xlsx"}, "--format"},
		{"bad from", []string{"--from", "November"}, "--from"},
		{"reversed", []string{"--from", to, "--to", from}, "before its end"},
		{"no ledger", []string{"--data-dir", t.TempDir()}, "no Tollgate ledger"},
		{"argument", []string{"extra"}, "unexpected argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"export", "--data-dir", dir}, tc.args...)
			_, _, err := runCmd(t, args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
