package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// CostRollupStore is a ledger store that also serves the Cost Explorer
// engine.
type CostRollupStore interface {
	LedgerStore
	costquery.Source
}

func sortRollups(rs []ledger.Rollup) {
	slices.SortFunc(rs, func(a, b ledger.Rollup) int {
		if c := a.Hour.Compare(b.Hour); c != 0 {
			return c
		}
		return strings.Compare(
			strings.Join([]string{a.Account, a.RegionServed, a.ProfileARN, a.ModelID, a.PrincipalID, a.Operation, a.Tags.Canonical()}, "\x00"),
			strings.Join([]string{b.Account, b.RegionServed, b.ProfileARN, b.ModelID, b.PrincipalID, b.Operation, b.Tags.Canonical()}, "\x00"))
	})
}

// testCostRollups checks CostRollups: exactly the rollups of [from, to) of
// the accounts asked for, equal to the store's Rollups and to rolling the
// records up independently.
func testCostRollups(t *testing.T, st Store) {
	s, ok := st.(CostRollupStore)
	if !ok {
		t.Fatalf("%T does not implement costquery.Source (CostRollups)", st)
	}
	ctx := t.Context()
	version := func() int64 { return 0 }
	if v, ok := st.(costquery.Versioned); ok {
		version = func() int64 {
			t.Helper()
			n, err := v.LedgerVersion(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
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
