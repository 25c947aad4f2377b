package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tollgate-dev/tollgate/internal/cli"
	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/store/postgres"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
)

// offlineConns bounds an offline command's connections to PostgreSQL: it
// reads one query at a time (an export's stream and the tag sets it
// loads share one transaction), next to replicas that need theirs.
const offlineConns = 2

var _ cli.Store = Store(nil)

// openOffline is cli.Env.OpenStore: it opens the database an offline
// command reads, PostgreSQL when at.URL is set (running any migrations
// the binary has that the database lacks, as serve would), else the
// SQLite database in at.DataDir, which must exist unless at.Create.
func openOffline(ctx context.Context, at cli.StoreLocation) (cli.Store, error) {
	if at.URL != "" {
		if err := config.ValidateStore(at.URL); err != nil {
			return nil, fmt.Errorf("--store: %w", err)
		}
		db, err := postgres.Open(ctx, at.URL, postgres.Options{MaxConns: offlineConns})
		if err != nil {
			return nil, err
		}
		return db, nil
	}
	path := filepath.Join(at.DataDir, "tollgate.db")
	if !at.Create {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("no Tollgate ledger at %s (set --data-dir, or --store for PostgreSQL): %w", path, err)
		}
	}
	db, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		return nil, err
	}
	return db, nil
}
