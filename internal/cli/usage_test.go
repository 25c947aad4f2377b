package cli

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// fakeLedger answers Records as the stores do: [From, To), by time,
// newest first when asked, at most Limit.
type fakeLedger struct{ recs []ledger.Record }

func (f fakeLedger) Records(_ context.Context, q ledger.Query) ([]ledger.Record, error) {
	var out []ledger.Record
	for _, r := range f.recs {
		if (q.From.IsZero() || !r.Time.Before(q.From)) && (q.To.IsZero() || r.Time.Before(q.To)) {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if q.Newest {
			return out[i].Time.After(out[j].Time)
		}
		return out[i].Time.Before(out[j].Time)
	})
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

func (fakeLedger) Rollups(context.Context, string, time.Time, time.Time) ([]ledger.Rollup, error) {
	return nil, nil
}

// TestRecentRecordsPages reads across pages whose boundaries fall inside
// one millisecond (and a page entirely of one millisecond) without losing
// or repeating a record.
func TestRecentRecordsPages(t *testing.T) {
	base := time.Date(2026, 11, 3, 14, 0, 0, 0, time.UTC)
	var recs []ledger.Record
	for i := range 1300 {
		at := base.Add(time.Duration(i/3) * time.Millisecond) // three records a millisecond
		if i >= 200 && i < 800 {
			at = base.Add(time.Second) // 600 in one millisecond: more than a page
		}
		dept := "claims"
		if i%2 == 1 {
			dept = "sales"
		}
		recs = append(recs, ledger.Record{RequestID: fmt.Sprintf("r-%04d", i), Time: at, ProfileID: "p1", Outcome: "success",
			Tags: tags.Set{"dept": dept}})
	}
	db := fakeLedger{recs}
	all, keys, err := recentRecords(t.Context(), db, recordFilter{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, r := range all {
		if seen[r.RequestID] {
			t.Fatalf("%s read twice", r.RequestID)
		}
		seen[r.RequestID] = true
		if i > 0 && r.Time.After(all[i-1].Time) {
			t.Fatalf("not newest first at %d", i)
		}
	}
	if len(all) != len(recs) || !keys["dept"] {
		t.Fatalf("read %d of %d records, keys %v", len(all), len(recs), keys)
	}
	sales, _, err := recentRecords(t.Context(), db, recordFilter{tags: map[string]string{"dept": "sales"}}, 25)
	if err != nil || len(sales) != 25 {
		t.Fatalf("25 sales records: got %d, %v", len(sales), err)
	}
	for _, r := range sales {
		if r.Tags["dept"] != "sales" {
			t.Errorf("filter let %s (%v) through", r.RequestID, r.Tags)
		}
	}
	none, _, err := recentRecords(t.Context(), db, recordFilter{outcome: "throttled"}, 10)
	if err != nil || len(none) != 0 {
		t.Errorf("throttled: %d records, %v", len(none), err)
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 3, 14, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{"30m": now.Add(-30 * time.Minute), "7d": now.AddDate(0, 0, -7),
		"2026-11-01": time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), "2026-11-02T10:00:00Z": time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)} {
		if got, err := parseSince(in, now); err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"yesterday", "-5m", "7x"} {
		if _, err := parseSince(bad, now); err == nil {
			t.Errorf("parseSince(%q) accepted", bad)
		}
	}
}
