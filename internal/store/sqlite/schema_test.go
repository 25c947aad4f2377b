package sqlite_test

import (
	"flag"
	"path/filepath"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
	"github.com/tollgate-dev/tollgate/internal/store/storetest"
)

var update = flag.Bool("update", false, "rewrite testdata/schema.golden.sql from a fresh database")

// TestSchemaGolden keeps the schema the migrations build in step with the
// reviewed copy in testdata (storetest.SchemaGolden).
func TestSchemaGolden(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "tollgate.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.SchemaGolden(t, db.Schema, "testdata/schema.golden.sql", *update,
		"go test ./internal/store/sqlite -run TestSchemaGolden -update")
}
