package postgres_test

import (
	"flag"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/store/postgres"
	"github.com/tollgate-dev/tollgate/internal/store/postgres/pgtest"
)

var update = flag.Bool("update", false, "rewrite testdata/schema.golden.sql from a fresh database")

const schemaGolden = "testdata/schema.golden.sql"

// TestPostgresSchemaGolden keeps the schema the migrations build in step
// with the reviewed copy in testdata, so a migration's effect shows up in
// review and an accidental change fails here. After an intended change,
// regenerate with:
//
//	TOLLGATE_TEST_POSTGRES_URL=... go test ./internal/store/postgres -run TestPostgresSchemaGolden -update
func TestPostgresSchemaGolden(t *testing.T) {
	db, err := postgres.Open(t.Context(), pgtest.URL(t), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.Schema(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(schemaGolden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", schemaGolden)
		return
	}
	want, err := os.ReadFile(schemaGolden)
	if err != nil {
		t.Fatalf("%v (regenerate with -update)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("schema of a fresh database differs from %s (-want +got):\n%s\nIf the change is intended, run: TOLLGATE_TEST_POSTGRES_URL=... go test ./internal/store/postgres -run TestPostgresSchemaGolden -update", schemaGolden, diff)
	}
}
