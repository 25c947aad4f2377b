// Package sqlitetest opens real, migrated SQLite stores for tests: a
// store is cheap enough (a file in t.TempDir()) that package tests use it
// instead of hand-written fakes of the store interfaces.
package sqlitetest

import (
	"path/filepath"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
)

// Open returns a migrated, empty SQLite store in a fresh t.TempDir(),
// closed when the test ends.
func Open(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "tollgate.db"), sqlite.Options{})
	if err != nil {
		t.Fatalf("sqlitetest: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
