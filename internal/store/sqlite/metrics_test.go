package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/metrics"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
)

// TestMetricReplicasMigrationKeepsRows puts a database back in the state
// before migration 0008 (metric_buckets keyed without a replica, holding
// a row), reopens it, and checks that the migration kept the row as the
// single node's ("").
func TestMetricReplicasMigrationKeepsRows(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tollgate.db")
	db, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	start := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	var st metrics.Stats
	for _, v := range []int64{3, 500, 70_000} {
		st.Add(v)
	}
	sk, _ := st.Sketch.MarshalBinary()
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DROP TABLE metric_buckets`,
		// The table as migration 0005 created it.
		`CREATE TABLE metric_buckets (
			res_s INTEGER NOT NULL, account TEXT NOT NULL, metric TEXT NOT NULL, model_id TEXT NOT NULL, start_ms INTEGER NOT NULL,
			count INTEGER NOT NULL, sum INTEGER NOT NULL, min INTEGER NOT NULL, max INTEGER NOT NULL, sketch BLOB NOT NULL,
			PRIMARY KEY (res_s, account, metric, model_id, start_ms)) WITHOUT ROWID`,
		`CREATE INDEX metric_buckets_start ON metric_buckets (res_s, start_ms)`,
		`DELETE FROM schema_migrations WHERE version = 8`,
	} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			raw.Close()
			t.Fatalf("%s: %v", q, err)
		}
	}
	_, err = raw.ExecContext(ctx, `INSERT INTO metric_buckets VALUES (60, '111111111111', 'InvocationLatency', 'm', ?, ?, ?, ?, ?, ?)`,
		start.UnixMilli(), st.Count, st.Sum, st.Min, st.Max, sk)
	raw.Close()
	if err != nil {
		t.Fatal(err)
	}

	db, err = sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, _ := db.SchemaVersion(ctx); v < 8 {
		t.Fatalf("schema version %d after reopening, want >= 8", v)
	}
	got, err := db.MetricBuckets(ctx, metrics.Minute, start, start.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	key := metrics.Key{Account: "111111111111", Metric: metrics.InvocationLatency, ModelID: "m"}
	want := []metrics.Bucket{{Key: key, Res: metrics.Minute, Start: start, Replica: "", Stats: st}}
	if diff := cmp.Diff(got, want, cmp.Comparer(func(a, b metrics.Stats) bool {
		return a.Count == b.Count && a.Sum == b.Sum && a.Min == b.Min && a.Max == b.Max && a.Percentile(50) == b.Percentile(50)
	})); diff != "" {
		t.Errorf("buckets after migration 0008 (-got +want):\n%s", diff)
	}
	// The migrated table takes a replica's row of the same bucket apart.
	if err := db.WriteMetricBuckets(ctx, []metrics.Bucket{{Key: key, Res: metrics.Minute, Start: start, Replica: "r1", Stats: st}}, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.MetricBuckets(ctx, metrics.Minute, start, start.Add(time.Hour)); len(got) != 2 {
		t.Errorf("%d buckets after a replica's write, want 2", len(got))
	}
}
