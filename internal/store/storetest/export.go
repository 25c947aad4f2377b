package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// testStreamRollups checks StreamRollups (export.Source): exactly the
// rollups of [from, to) of the accounts asked for, by hour, equal to
// rolling the records up independently, over more rollups than a store
// would fetch at once; tag set ids that identify the tag sets; an error
// from fn that stops the stream; and one snapshot: appends committed
// while the stream runs are not seen by it.
func testStreamRollups(t *testing.T, s Store) {
	ctx := t.Context()
	accounts := []string{"111111111111", "222222222222", "333333333333"}
	sets := []tags.Set{{"dept": "claims"}, {"dept": "sales", "env": "prod"}, {}, {"dept": "claims", "team": "a"}}
	// 2,400 records 11 minutes apart: about 18 days, five or six records
	// an hour, each its own rollup (their dimensions repeat every 12).
	var recs []ledger.Record
	for i := range 2400 {
		r := record(i, t0.Add(time.Duration(i)*11*time.Minute), sets[i%4])
		r.Account = accounts[i%3]
		r.Operation = []string{"Converse", "InvokeModel"}[i%2]
		recs = append(recs, r)
	}
	for i := 0; i < len(recs); i += 800 {
		if err := s.AppendRecords(ctx, recs[i:i+800]); err != nil {
			t.Fatal(err)
		}
	}
	from, to := t0.Add(5*time.Hour), t0.Add(400*time.Hour)

	// stream collects a stream's rollups (copies: r may be reused),
	// checking their order and that tag set ids and tag sets match one
	// to one.
	stream := func(t *testing.T, accts []string, during func()) []ledger.Rollup {
		t.Helper()
		var got []ledger.Rollup
		setOf, idOf := map[int64]string{}, map[string]int64{}
		err := s.StreamRollups(ctx, accts, from, to, func(r *ledger.Rollup, id int64) error {
			if n := len(got); n > 0 && r.Hour.Before(got[n-1].Hour) {
				t.Fatalf("rollup %d (%v) after one of %v: not ordered by hour", n, r.Hour, got[n-1].Hour)
			}
			c := r.Tags.Canonical()
			if prev, ok := setOf[id]; ok && prev != c {
				t.Fatalf("tag set id %d names %q and %q", id, prev, c)
			}
			if prev, ok := idOf[c]; ok && prev != id {
				t.Fatalf("tag set %q has ids %d and %d", c, prev, id)
			}
			setOf[id], idOf[c] = c, id
			got = append(got, *r)
			if during != nil && len(got) == 1 {
				during()
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	rolledUp := func(rs []ledger.Record, accts []string) []ledger.Rollup {
		var in []ledger.Record
		for _, r := range rs {
			if (accts == nil || slices.Contains(accts, r.Account)) && !r.Time.Before(from) && r.Time.Before(to) {
				in = append(in, r)
			}
		}
		return costquery.RollupRecords(in)
	}

	for _, tc := range []struct {
		name     string
		accounts []string
	}{
		{"all accounts", nil},
		{"one account", accounts[1:2]},
		{"two accounts", []string{accounts[2], accounts[0]}},
		{"unknown account", []string{"999999999999"}},
		{"no accounts", []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := stream(t, tc.accounts, nil)
			want := rolledUp(recs, tc.accounts)
			sortRollups(got)
			sortRollups(want)
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("StreamRollups vs the records rolled up (-got +want):\n%s", diff)
			}
			if tc.accounts == nil && len(got) < 2000 {
				t.Errorf("%d rollups streamed, want over 2,000", len(got))
			}
		})
	}

	t.Run("error from fn", func(t *testing.T) {
		stop := errors.New("stop")
		calls := 0
		err := s.StreamRollups(ctx, nil, from, to, func(*ledger.Rollup, int64) error {
			calls++
			if calls == 3 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || calls != 3 {
			t.Errorf("StreamRollups = %v after %d calls, want fn's error after 3", err, calls)
		}
	})

	t.Run("snapshot", func(t *testing.T) {
		// Appended once the stream has begun: more usage in hours it has
		// yet to reach, some of it under a tag set new to the store.
		var more []ledger.Record
		for i := range 60 {
			set := sets[i%4]
			if i%5 == 0 {
				set = tags.Set{"dept": "late"}
			}
			r := record(10_000+i, t0.Add(300*time.Hour+time.Duration(i)*time.Minute), set)
			r.Account = accounts[i%3]
			more = append(more, r)
		}
		got := stream(t, nil, func() {
			if err := s.AppendRecords(ctx, more); err != nil {
				t.Fatal(err)
			}
		})
		want := rolledUp(recs, nil)
		sortRollups(got)
		sortRollups(want)
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("stream during an append vs the records before it (-got +want):\n%s", diff)
		}
		after := stream(t, nil, nil)
		want = rolledUp(append(slices.Clip(recs), more...), nil)
		sortRollups(after)
		sortRollups(want)
		if diff := cmp.Diff(after, want); diff != "" {
			t.Errorf("stream after the append vs all the records (-got +want):\n%s", diff)
		}
	})
}
