package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

func sortRollups(rs []ledger.Rollup) {
	slices.SortFunc(rs, func(a, b ledger.Rollup) int {
		if c := a.Hour.Compare(b.Hour); c != 0 {
			return c
		}
		return strings.Compare(
			strings.Join([]string{a.Account, a.RegionServed, a.ProfileARN, a.ModelID, a.PrincipalID, a.Operation, a.Tags.Canonical(),
				a.Scope, a.ServiceTier, a.Region, fmt.Sprint(a.LongContext, a.LatencyOptimized), a.UnitKind}, "\x00"),
			strings.Join([]string{b.Account, b.RegionServed, b.ProfileARN, b.ModelID, b.PrincipalID, b.Operation, b.Tags.Canonical(),
				b.Scope, b.ServiceTier, b.Region, fmt.Sprint(b.LongContext, b.LatencyOptimized), b.UnitKind}, "\x00"))
	})
}

// testCostRollups checks CostRollups: exactly the rollups of [from, to) of
// the accounts asked for, equal to the store's Rollups and to rolling the
// records up independently.
func testCostRollups(t *testing.T, s Store) {
	ctx := t.Context()
	version := func() int64 {
		t.Helper()
		n, err := s.LedgerVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	v0 := version()
	accounts := []string{"111111111111", "222222222222", "333333333333"}
	sets := []tags.Set{{"dept": "claims"}, {"dept": "sales", "env": "prod"}, {}}
	var recs []ledger.Record
	for i := range 300 {
		r := record(i, t0.Add(time.Duration(i)*7*time.Minute), sets[i%3])
		r.Account = accounts[i%len(accounts)]
		r.Operation = []string{"Converse", "InvokeModel"}[i%2]
		recs = append(recs, r)
	}
	if err := s.AppendRecords(ctx, recs[:200]); err != nil {
		t.Fatal(err)
	}
	v1 := version()
	if err := s.AppendRecords(ctx, recs[:200]); err != nil { // all duplicates: nothing changes
		t.Fatal(err)
	}
	v2 := version()
	if err := s.AppendRecords(ctx, recs[150:]); err != nil {
		t.Fatal(err)
	}
	if v3 := version(); v3 != 0 && (v1 == v0 || v2 != v1 || v3 == v2) {
		t.Errorf("LedgerVersion: %d empty, %d after an append, %d after a duplicate append, %d after another append; want it to change with every append that adds records only", v0, v1, v2, v3)
	}
	from, to := t0.Add(2*time.Hour), t0.Add(20*time.Hour)
	for _, tc := range []struct {
		name     string
		accounts []string
		want     []string
	}{
		{"all accounts", nil, accounts},
		{"one account", accounts[1:2], accounts[1:2]},
		{"two accounts", []string{accounts[2], accounts[0]}, []string{accounts[0], accounts[2]}},
		{"unknown account", []string{"999999999999"}, nil},
		{"no accounts", []string{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.CostRollups(ctx, tc.accounts, from, to)
			if err != nil {
				t.Fatal(err)
			}
			for i := 1; i < len(got); i++ {
				if got[i].Hour.Before(got[i-1].Hour) {
					t.Fatalf("rollup %d (%v) before rollup %d (%v): not ordered by hour", i, got[i].Hour, i-1, got[i-1].Hour)
				}
			}
			var want []ledger.Rollup
			for _, a := range tc.want {
				rs, err := s.Rollups(ctx, a, from, to)
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, rs...)
			}
			var inRange []ledger.Record
			for _, r := range recs {
				if slices.Contains(tc.want, r.Account) && !r.Time.Before(from) && r.Time.Before(to) {
					inRange = append(inRange, r)
				}
			}
			independent := costquery.RollupRecords(inRange)
			for _, rs := range [][]ledger.Rollup{got, want, independent} {
				sortRollups(rs)
			}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("CostRollups vs Rollups (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(got, independent); diff != "" {
				t.Errorf("CostRollups vs the records rolled up (-got +want):\n%s", diff)
			}
			if len(tc.want) > 0 && len(got) == 0 {
				t.Error("no rollups")
			}
		})
	}
	// The range is [from, to): a rollup at to is out, one at from is in.
	got, err := s.CostRollups(ctx, nil, t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	hours := map[string]bool{}
	for _, r := range got {
		hours[r.Hour.Format(time.RFC3339)] = true
	}
	if want := map[string]bool{t0.Format(time.RFC3339): true}; !cmp.Equal(hours, want) {
		t.Errorf("hours of [t0, t0+1h) = %v, want %v", hours, want)
	}
	if got, err := s.CostRollups(ctx, nil, t0.Add(-48*time.Hour), t0); err != nil || len(got) != 0 {
		t.Errorf("rollups before the first record = %d, %v; want none", len(got), err)
	}
}

// testDailyRollups checks the daily rollups the store keeps at ingest
// (costquery.DailySource): exactly the records rolled up per UTC day, each
// record counted once however often it is appended; and that cost queries
// over a range starting and ending mid-day, which read whole days from
// them and the edges from the hourly rollups, answer as the records do.
func testDailyRollups(t *testing.T, s Store) {
	d := s
	ctx := t.Context()
	accounts := []string{"111111111111", "222222222222", "333333333333"}
	sets := []tags.Set{{"dept": "claims"}, {"dept": "sales", "env": "prod"}, {}, {"dept": "claims", "team": "a"}}
	// 500 records 19 minutes apart from t0 (midday): about six and a half
	// days, so partial first and last days around whole ones.
	var recs []ledger.Record
	for i := range 500 {
		r := record(i, t0.Add(time.Duration(i)*19*time.Minute), sets[i%4])
		r.Account = accounts[i%3]
		r.Operation = []string{"Converse", "InvokeModel"}[i%2]
		if i%11 == 0 {
			r.Outcome, r.InputTokens, r.OutputTokens, r.CacheReadTokens = ledger.OutcomeThrottled, 0, 0, 0
			r.Cost, r.InputCost, r.OutputCost, r.CacheReadCost = 0, 0, 0, 0
		}
		recs = append(recs, r)
	}
	for _, batch := range [][]ledger.Record{recs[:300], recs[:300], recs[250:], recs[400:450]} {
		if err := s.AppendRecords(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	last := recs[len(recs)-1].Time
	firstDay := t0.Truncate(24 * time.Hour)
	endDay := last.Truncate(24*time.Hour).AddDate(0, 0, 1)

	// The records rolled up per day: at their day's midnight, rolled up
	// by the hour.
	perDay := func(rs []ledger.Record, from, to time.Time, accts []string) []ledger.Rollup {
		var in []ledger.Record
		for _, r := range rs {
			day := r.Time.Truncate(24 * time.Hour)
			if !day.Before(from) && day.Before(to) && (accts == nil || slices.Contains(accts, r.Account)) {
				r.Time = day
				in = append(in, r)
			}
		}
		return costquery.RollupRecords(in)
	}
	for _, tc := range []struct {
		name     string
		accounts []string
		from, to time.Time
	}{
		{"every day", nil, firstDay, endDay},
		{"inner days", nil, firstDay.AddDate(0, 0, 1), endDay.AddDate(0, 0, -2)},
		{"one account", accounts[1:2], firstDay, endDay},
		{"two accounts", []string{accounts[2], accounts[0]}, firstDay.AddDate(0, 0, 2), endDay},
		{"no accounts", []string{}, firstDay, endDay},
		{"before the first record", nil, firstDay.AddDate(0, 0, -3), firstDay},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := d.CostRollupsDaily(ctx, tc.accounts, tc.from, tc.to)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range got {
				if !r.Hour.Equal(r.Hour.Truncate(24 * time.Hour)) {
					t.Fatalf("daily rollup %d at %v, not a UTC midnight", i, r.Hour)
				}
				if i > 0 && r.Hour.Before(got[i-1].Hour) {
					t.Fatalf("daily rollup %d (%v) before rollup %d (%v): not ordered by day", i, r.Hour, i-1, got[i-1].Hour)
				}
			}
			want := perDay(recs, tc.from, tc.to, tc.accounts)
			sortRollups(got)
			sortRollups(want)
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("CostRollupsDaily vs the records rolled up per day (-got +want):\n%s", diff)
			}
		})
	}

	svc := costquery.NewService(s, nil, nil)
	for _, tc := range []struct {
		name     string
		from, to time.Time
		g        costquery.Granularity
	}{
		{"mid-day to mid-day, daily", t0.Add(3 * time.Hour), t0.Add(4*24*time.Hour + 5*time.Hour), costquery.Daily},
		{"mid-day to mid-day, monthly", t0.Add(-5 * time.Hour), last.Truncate(time.Hour), costquery.Monthly},
		{"whole days", firstDay, endDay, costquery.Daily},
		{"across one midnight", t0.Add(6 * time.Hour), t0.Add(15 * time.Hour), costquery.Daily},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := costquery.Query{From: tc.from, To: tc.to, Granularity: tc.g, GroupBy: []costquery.GroupBy{
				{Type: costquery.GroupTag, Key: "dept"}, {Type: costquery.GroupDimension, Key: "LINKED_ACCOUNT"}}}
			got, err := svc.CostAndUsage(ctx, nil, q)
			if err != nil {
				t.Fatal(err)
			}
			want, err := costquery.Aggregate(costquery.RollupRecords(recs), q, nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("CostAndUsage vs the records (-got +want):\n%s", diff)
			}
			var n int
			for _, p := range got.Periods {
				n += len(p.Groups)
			}
			if n == 0 {
				t.Error("no groups: the range holds no usage")
			}
		})
	}
}
