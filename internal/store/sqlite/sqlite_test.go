package sqlite_test

import (
	"fmt"
	"time"

	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/tags"

	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
	"github.com/tollgate-dev/tollgate/internal/store/storetest"
)

// The DB implements the whole store contract, every part of which the
// conformance suite checks (cmd/tollgate asserts it too, at build).
var _ storetest.Store = (*sqlite.DB)(nil)

func open(t *testing.T) storetest.Store {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "tollgate.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) { storetest.Run(t, open) }

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tollgate.db")
	db, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v1, err := db.SchemaVersion(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = sqlite.Open(t.Context(), path, sqlite.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v2, _ := db.SchemaVersion(t.Context())
	if v1 < 1 || v1 != v2 {
		t.Errorf("schema versions %d then %d, want equal and >= 1", v1, v2)
	}
}

func TestRejectsBadSynchronous(t *testing.T) {
	if _, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "x.db"), sqlite.Options{Synchronous: "OFF"}); err == nil {
		t.Error("Open with synchronous OFF succeeded")
	}
}

// TestDailyRollupsSumHourly checks that the daily rollups kept at ingest
// equal the hourly ones summed per UTC day.
func TestDailyRollupsSumHourly(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "d.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var recs []ledger.Record
	for i := range 500 {
		recs = append(recs, ledger.Record{RequestID: fmt.Sprint("r", i), Time: start.Add(time.Duration(i) * 17 * time.Minute),
			Account: "111111111111", RegionServed: []string{"us-east-1", "us-west-2"}[i%2], ModelID: "m", Operation: "Converse",
			Outcome: ledger.OutcomeSuccess, Priced: true, InputTokens: int64(i), OutputTokens: 7, Cost: money.Amount(100 + i),
			InputCost: money.Amount(100 + i), Tags: tags.Set{"dept": []string{"a", "b", "c"}[i%3]}})
	}
	if err := db.AppendRecords(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	end := start.AddDate(0, 0, 7)
	hourly, err := db.CostRollups(t.Context(), nil, start, end)
	if err != nil {
		t.Fatal(err)
	}
	daily, err := db.CostRollupsDaily(t.Context(), nil, start, end)
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ day, region, dept string }
	sum := func(rs []ledger.Rollup) map[key][3]int64 {
		out := map[key][3]int64{}
		for _, r := range rs {
			k := key{r.Hour.Format("2006-01-02"), r.RegionServed, r.Tags["dept"]}
			v := out[k]
			out[k] = [3]int64{v[0] + r.Calls, v[1] + r.InputTokens, v[2] + int64(r.Cost)}
		}
		return out
	}
	if diff := cmp.Diff(sum(daily), sum(hourly)); diff != "" {
		t.Errorf("daily rollups differ from hourly summed by day (-daily +hourly):\n%s", diff)
	}
	if len(daily) >= len(hourly) {
		t.Errorf("%d daily rows for %d hourly ones", len(daily), len(hourly))
	}
	for _, r := range daily {
		if !r.Hour.Equal(r.Hour.Truncate(24 * time.Hour)) {
			t.Fatalf("daily rollup at %v, not midnight", r.Hour)
		}
	}
}
