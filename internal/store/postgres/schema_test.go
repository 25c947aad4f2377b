package postgres_test

import (
	"flag"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/store/postgres"
	"github.com/tollgate-dev/tollgate/internal/store/postgres/pgtest"
	"github.com/tollgate-dev/tollgate/internal/store/storetest"
)

var update = flag.Bool("update", false, "rewrite testdata/schema.golden.sql from a fresh database")

// TestPostgresSchemaGolden keeps the schema the migrations build in step
// with the reviewed copy in testdata (storetest.SchemaGolden).
func TestPostgresSchemaGolden(t *testing.T) {
	db, err := postgres.Open(t.Context(), pgtest.URL(t), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.SchemaGolden(t, db.Schema, "testdata/schema.golden.sql", *update,
		"TOLLGATE_TEST_POSTGRES_URL=... go test ./internal/store/postgres -run TestPostgresSchemaGolden -update")
}
