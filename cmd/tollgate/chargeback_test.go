package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/cli"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/chargeback"
	"github.com/tollgate-dev/tollgate/internal/money"
)

// chargebackDoc is the part of the JSON output the tests read.
type chargebackDoc struct {
	By, Period, Markup string
	Statements         []struct {
		Value    string
		Untagged bool
		Tokens   int64
		Cost     string
		Markup   string
		Total    string
		Lines    []struct {
			ResourceID, Model   string
			Cost, Markup, Total string
		}
	}
	Total struct {
		Tokens              int64
		Cost, Markup, Total string
	}
	Reconciliation *struct {
		Source, Cost  string
		UsageQuantity int64
	}
}

func TestChargebackCommand(t *testing.T) {
	t.Parallel()
	dir, recs := billingLedger(t, 3000)
	wantTokens, wantCost := monthTotals(recs)

	out, stderr, err := runCmd(t, "chargeback", "--data-dir", dir, "--by", "tag:cost_center", "--month", "2026-11",
		"--markup", "15%", "--format", "json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var doc chargebackDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}

	t.Run("statements per tag value and untagged, summing to the records", func(t *testing.T) {
		var values []string
		var cost, markup, total money.Amount
		var tokens int64
		for _, st := range doc.Statements {
			values = append(values, st.Value)
			var lines money.Amount
			for _, l := range st.Lines {
				c, m := money.MustParse(l.Cost), money.MustParse(l.Markup)
				if m != chargeback.Markup(1500).Of(c) || money.MustParse(l.Total) != c+m {
					t.Errorf("line %s: cost %s markup %s total %s", l.ResourceID, l.Cost, l.Markup, l.Total)
				}
				lines += money.MustParse(l.Total)
			}
			if lines != money.MustParse(st.Total) {
				t.Errorf("statement %q total %s, lines sum to %v", st.Value, st.Total, lines)
			}
			cost += money.MustParse(st.Cost)
			markup += money.MustParse(st.Markup)
			total += money.MustParse(st.Total)
			tokens += st.Tokens
		}
		if diff := cmp.Diff(values, []string{"CC-1001", "CC-2002", "CC-3003", ""}); diff != "" {
			t.Errorf("statements (-got +want):\n%s", diff)
		}
		if !doc.Statements[len(doc.Statements)-1].Untagged {
			t.Error("the last statement is not the untagged one")
		}
		if cost != wantCost || tokens != wantTokens {
			t.Errorf("statements %v and %d tokens; records %v and %d", cost, tokens, wantCost, wantTokens)
		}
		if doc.Total.Cost != cost.Decimal(9) || doc.Total.Markup != markup.Decimal(9) || doc.Total.Total != total.Decimal(9) {
			t.Errorf("total %+v; statements sum to %v + %v = %v", doc.Total, cost, markup, total)
		}
		if doc.Period != "2026-11" || doc.Markup != "15%" || doc.By != "tag:cost_center" {
			t.Errorf("header %q %q %q", doc.By, doc.Period, doc.Markup)
		}
	})

	t.Run("reconciles with tollgate report (GetCostAndUsage)", func(t *testing.T) {
		if doc.Reconciliation == nil || doc.Reconciliation.Cost != wantCost.Decimal(9) {
			t.Fatalf("reconciliation %+v, want cost %v", doc.Reconciliation, wantCost)
		}
		rep, _, err := runCmd(t, "report", "--data-dir", dir, "--from", "2026-11-01", "--to", "2026-12-01",
			"--group-by", "tag:cost_center", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var r cli.Report
		if err := json.Unmarshal([]byte(rep), &r); err != nil {
			t.Fatal(err)
		}
		got, want := map[string]string{}, map[string]string{}
		for _, p := range r.Periods {
			for _, g := range p.Groups {
				want[g.Keys[0]] = money.MustParse(strings.TrimSuffix(g.Cost, " USD")).Decimal(9)
			}
		}
		for _, st := range doc.Statements {
			got[st.Value] = st.Cost
		}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("statement costs vs tollgate report groups (-chargeback +report):\n%s", diff)
		}
	})

	t.Run("by account, text", func(t *testing.T) {
		out, _, err := runCmd(t, "chargeback", "--data-dir", dir, "--by", "account", "--month", "2026-11")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"account " + ceMgmt, "account " + ceLinked, "TOTAL", wantCost.Decimal(2),
			"Reconciled with Cost Explorer", "markup 0%"} {
			if !strings.Contains(out, want) {
				t.Errorf("text output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("csv and html files", func(t *testing.T) {
		tmp := t.TempDir()
		for _, name := range []string{"statements.csv", "statements.html"} {
			if _, stderr, err := runCmd(t, "chargeback", "--data-dir", dir, "--by", "tag:dept", "--month", "2026-11",
				"--markup", "12.5%", "--out", filepath.Join(tmp, name)); err != nil {
				t.Fatalf("%s: %v\n%s", name, err, stderr)
			}
		}
		f, err := os.Open(filepath.Join(tmp, "statements.csv"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rows, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		col := slices.Index(rows[0], "cost")
		var cost money.Amount
		for _, row := range rows[1:] {
			cost += money.MustParse(row[col])
		}
		if cost != wantCost {
			t.Errorf("CSV cost %v, records %v", cost, wantCost)
		}
		page, err := os.ReadFile(filepath.Join(tmp, "statements.html"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"<!DOCTYPE html>", "Chargeback statement: dept claims", "dept (untagged)", "markup 12.5%"} {
			if !strings.Contains(string(page), want) {
				t.Errorf("HTML lacks %q", want)
			}
		}
	})

	t.Run("an empty month", func(t *testing.T) {
		out, _, err := runCmd(t, "chargeback", "--data-dir", dir, "--by", "tag:cost_center", "--month", "2025-01")
		if err != nil || !strings.Contains(out, "No usage") {
			t.Errorf("err %v, output %q", err, out)
		}
	})

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no by", nil, "--by is required"},
		{"bad by", []string{"--by", "model"}, "tag:KEY or account"},
		{"bad markup", []string{"--by", "account", "--markup", "lots"}, "markup"},
		{"bad month", []string{"--by", "account", "--month", "2026-13"}, "--month"},
		{"bad format", []string{"--by", "account", "--format", "pdf"}, "--format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runCmd(t, append([]string{"chargeback", "--data-dir", dir}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
