package storetest

import (
	"context"
	"database/sql"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// SchemaGolden keeps the schema a store's migrations build in step with
// the reviewed copy at golden, so a migration's effect shows up in review
// and an accidental change fails. schema returns the schema of a fresh,
// migrated database; with update, SchemaGolden rewrites golden from it
// instead of comparing. regenerate is the command that does so, for the
// failure message.
func SchemaGolden(t *testing.T, schema func(ctx context.Context) (string, error), golden string, update bool, regenerate string) {
	t.Helper()
	got, err := schema(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", golden)
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (regenerate with -update)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("schema of a fresh database differs from %s (-want +got):\n%s\nIf the change is intended, run: %s", golden, diff, regenerate)
	}
}

// BulkLoad opens a connection pool of its own to the database
// (driverName, dsn), runs load in one transaction, commits it, then runs
// the statements then outside any transaction (VACUUM, ANALYZE): how
// benchmarks seed a large data set straight into a store's tables.
func BulkLoad(ctx context.Context, driverName, dsn string, load func(tx *sql.Tx) error, then ...string) error {
	raw, err := sql.Open(driverName, dsn)
	if err != nil {
		return err
	}
	defer raw.Close()
	tx, err := raw.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := load(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	for _, q := range then {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}
