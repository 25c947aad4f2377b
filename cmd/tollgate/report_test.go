package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/cli"
	"github.com/tollgate-dev/tollgate/internal/costquery"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// reportLedger writes a small ledger for this month into a new data
// directory: three profiles with tags (one retagged at noon today), an
// untagged one, and a model without a price.
func reportLedger(t *testing.T) (string, []ledger.Record) {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(t.Context(), filepath.Join(dir, "tollgate.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	profs := []struct {
		id, model string
		tags      func(at time.Time) tags.Set
		priced    bool
	}{
		{"claimsprod01", ceHaiku, func(time.Time) tags.Set { return tags.Set{"dept": "claims", "env": "prod"} }, true},
		{"salesdev0001", ceSonnet, func(time.Time) tags.Set { return tags.Set{"dept": "sales", "env": "dev"} }, true},
		{"moved0000001", ceNova, func(at time.Time) tags.Set {
			if at.Before(today.Add(12 * time.Hour)) {
				return tags.Set{"dept": "claims", "env": "prod"}
			}
			return tags.Set{"dept": "risk", "env": "prod"}
		}, true},
		{"untagged0001", ceHaiku, func(time.Time) tags.Set { return tags.Set{} }, true},
		{"llamaprod001", ceLlama, func(time.Time) tags.Set { return tags.Set{"dept": "risk", "env": "prod"} }, false},
	}
	var recs []ledger.Record
	for i := range 600 {
		p := profs[i%len(profs)]
		at := today.Add(time.Duration(i) * 2 * time.Minute) // today, 00:00 to 19:58
		r := ledger.Record{
			RequestID: fmt.Sprintf("rep-%04d", i), Time: at, Account: ceMgmt, Region: "us-east-1",
			RegionServed: []string{"us-east-1", "us-west-2"}[i%2], PrincipalID: "root-" + ceMgmt,
			ProfileARN: ceAppARN(ceMgmt, p.id), ProfileID: p.id, ModelID: p.model, Provider: "sim", Operation: "Converse",
			InputTokens: int64(100 + i), OutputTokens: int64(50 + i%17), Outcome: ledger.OutcomeSuccess, Priced: p.priced,
			Tags: p.tags(at),
		}
		if p.priced {
			r.InputCost, r.OutputCost = money.PerThousand(250_000).Cost(r.InputTokens), money.PerThousand(1_250_000).Cost(r.OutputTokens)
			r.Cost = r.InputCost + r.OutputCost
		}
		recs = append(recs, r)
	}
	if err := db.AppendRecords(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	return dir, recs
}

func runReport(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(t.Context(), append([]string{"report"}, args...), &out, &errOut, func(string) string { return "" })
	return out.String(), err
}

func TestReport(t *testing.T) {
	t.Parallel()
	dir, recs := reportLedger(t)
	today := time.Now().UTC().Truncate(24 * time.Hour)
	type sums struct {
		cost  money.Amount
		usage int64
	}
	// expect sums the records keep selects per key.
	expect := func(keep func(ledger.Record) bool, key func(ledger.Record) string) map[string]sums {
		m := map[string]sums{}
		for _, r := range recs {
			if keep != nil && !keep(r) {
				continue
			}
			s := m[key(r)]
			s.cost += r.Cost
			s.usage += r.InputTokens + r.OutputTokens
			m[key(r)] = s
		}
		return m
	}
	decode := func(t *testing.T, out string) (cli.Report, map[string]sums) {
		t.Helper()
		var r cli.Report
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		m := map[string]sums{}
		for _, p := range r.Periods {
			for _, g := range p.Groups {
				c, err := money.Parse(strings.TrimSuffix(g.Cost, " USD"))
				if err != nil {
					t.Fatal(err)
				}
				k := strings.Join(g.Keys, "|")
				s := m[k]
				s.cost += c
				s.usage += g.UsageQuantity
				m[k] = s
			}
		}
		return r, m
	}

	t.Run("month to date by default", func(t *testing.T) {
		out, err := runReport(t, "--data-dir", dir, "--json")
		if err != nil {
			t.Fatal(err)
		}
		r, _ := decode(t, out)
		first := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC)
		if r.From != first.Format(time.DateOnly) || r.To != today.AddDate(0, 0, 1).Format(time.DateOnly) || r.Granularity != "MONTHLY" {
			t.Errorf("range %s..%s %s, want month to date, MONTHLY", r.From, r.To, r.Granularity)
		}
		all := expect(nil, func(ledger.Record) string { return "" })[""]
		if got := r.Total; got.Cost != cli.ReportTotalsOf(costquery.Totals{Cost: all.cost}).Cost || got.UsageQuantity != all.usage {
			t.Errorf("total %+v, want %v and %d", got, all.cost, all.usage)
		}
		if len(r.Periods) == 0 || !r.Periods[len(r.Periods)-1].Estimated {
			t.Errorf("periods %+v: the last should be estimated (unpriced usage)", r.Periods)
		}
	})

	t.Run("grouped and filtered", func(t *testing.T) {
		out, err := runReport(t, "--data-dir", dir, "--group-by", "tag:dept", "--group-by", "model",
			"--granularity", "daily", "--filter", "tag:env=prod", "--json")
		if err != nil {
			t.Fatal(err)
		}
		r, got := decode(t, out)
		if len(r.Periods) != today.Day() {
			t.Errorf("%d daily periods, want %d", len(r.Periods), today.Day())
		}
		want := expect(func(r ledger.Record) bool { return r.Tags["env"] == "prod" },
			func(r ledger.Record) string { return r.Tags["dept"] + "|" + r.ModelID })
		if diff := cmp.Diff(got, want, cmp.AllowUnexported(sums{})); diff != "" {
			t.Errorf("(-got +want):\n%s", diff)
		}
		if _, ok := got["risk|"+ceNova]; !ok {
			t.Error("the retagged profile's new dept is missing")
		}
	})

	t.Run("filters: values ORed, keys ANDed, negation, untagged", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			keep func(ledger.Record) bool
		}{
			{[]string{"--filter", "tag:dept=claims", "--filter", "tag:dept=sales"},
				func(r ledger.Record) bool { return r.Tags["dept"] == "claims" || r.Tags["dept"] == "sales" }},
			{[]string{"--filter", "tag:dept=claims,risk", "--filter", "region=us-west-2"},
				func(r ledger.Record) bool {
					return (r.Tags["dept"] == "claims" || r.Tags["dept"] == "risk") && r.RegionServed == "us-west-2"
				}},
			{[]string{"--filter", "tag:dept!=claims"}, func(r ledger.Record) bool { return r.Tags["dept"] != "claims" }},
			{[]string{"--filter", "tag:dept="}, func(r ledger.Record) bool { return r.Tags["dept"] == "" }},
			{[]string{"--filter", "model=" + ceSonnet}, func(r ledger.Record) bool { return r.ModelID == ceSonnet }},
		} {
			t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
				out, err := runReport(t, append([]string{"--data-dir", dir, "--group-by", "profile", "--json"}, tc.args...)...)
				if err != nil {
					t.Fatal(err)
				}
				_, got := decode(t, out)
				want := expect(tc.keep, func(r ledger.Record) string { return r.ProfileARN })
				if diff := cmp.Diff(got, want, cmp.AllowUnexported(sums{})); diff != "" {
					t.Errorf("(-got +want):\n%s", diff)
				}
			})
		}
	})

	t.Run("table", func(t *testing.T) {
		out, err := runReport(t, "--data-dir", dir, "--group-by", "tag:dept", "--group-by", "usage-type",
			"--from", today.Format(time.DateOnly), "--to", today.AddDate(0, 0, 1).Format(time.DateOnly))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			"grouped by tag:dept, usage-type", "PERIOD", "TAG:DEPT", "USAGE-TYPE", "COST (USD)", "USAGE (TOKENS)",
			"(untagged)", "USE1-MP:USE1_InputTokenCount-Units", "USE1-MP:USE1_OutputTokenCount-Units", "TOTAL",
			"* includes unpriced usage",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		// Tables show money with six decimals, rounded half up.
		all := expect(nil, func(ledger.Record) string { return "" })[""]
		total := ((all.cost + 500) / 1000 * 1000).Decimal(6)
		if !strings.Contains(out, "TOTAL") || !strings.Contains(out, " "+total+" ") {
			t.Errorf("output lacks the total %s:\n%s", total, out)
		}
	})

	t.Run("hourly", func(t *testing.T) {
		out, err := runReport(t, "--data-dir", dir, "--granularity", "hourly", "--from", today.Format(time.DateOnly),
			"--to", today.Add(3*time.Hour).Format(time.RFC3339), "--json")
		if err != nil {
			t.Fatal(err)
		}
		r, _ := decode(t, out)
		want := expect(func(r ledger.Record) bool { return r.Time.Before(today.Add(3 * time.Hour)) }, func(ledger.Record) string { return "" })[""]
		if len(r.Periods) != 3 || r.Total.Cost != cli.ReportTotalsOf(costquery.Totals{Cost: want.cost}).Cost || r.Periods[0].Start != today.Format("2006-01-02T15:04Z") {
			t.Errorf("hourly: %d periods from %s, total %s; want 3 from %s, %s", len(r.Periods), r.Periods[0].Start, r.Total.Cost,
				today.Format("2006-01-02T15:04Z"), want.cost.Decimal(2))
		}
	})

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad granularity", []string{"--granularity", "weekly"}, "granularity"},
		{"three group-bys", []string{"--group-by", "model", "--group-by", "region", "--group-by", "tag:dept"}, "at most two"},
		{"empty tag key", []string{"--group-by", "tag:"}, "tag key is empty"},
		{"unknown dimension", []string{"--group-by", "colour"}, "unknown dimension"},
		{"bad filter", []string{"--filter", "tag:dept"}, "want tag:KEY=VALUE"},
		{"bad date", []string{"--from", "yesterday"}, "--from"},
		{"end before start", []string{"--from", "2026-03-01", "--to", "2026-02-01"}, "before end date"},
		{"no ledger", []string{"--data-dir", filepath.Join(dir, "nope")}, "no Tollgate ledger"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runReport(t, append([]string{"--data-dir", dir}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
