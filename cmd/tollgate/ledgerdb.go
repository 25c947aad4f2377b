package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/store/postgres"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
)

// offlineConns bounds an offline command's connections to PostgreSQL: it
// reads one query at a time (an export's stream and the tag sets it
// loads share one transaction), next to replicas that need theirs.
const offlineConns = 2

// ledgerFlags are the flags that say which database an offline command
// reads: the SQLite database in --data-dir, or the PostgreSQL database
// --store names, the one the replicas share.
type ledgerFlags struct {
	dataDir string
	// store is --store, or TOLLGATE_STORE when the flag is not given: as
	// for serve, the flag wins even when empty. The variable is read at
	// open, not shown as the flag's default, so -h never prints a URL
	// that may hold a password.
	store    string
	storeSet bool
	getenv   func(string) string
}

// register adds --data-dir and --store to fs, their defaults read from
// TOLLGATE_DATA_DIR and TOLLGATE_STORE as serve reads them (an empty
// variable counts as unset).
func (lf *ledgerFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	lf.getenv = getenv
	fs.StringVar(&lf.dataDir, "data-dir", firstNonEmpty(getenv(config.EnvName("data-dir")), "./tollgate-data"),
		"data directory holding the SQLite database (env "+config.EnvName("data-dir")+")")
	fs.Func("store", "database: empty for SQLite in --data-dir, or the postgres:// `URL` the replicas share (env "+
		config.EnvName("store")+")", func(v string) error {
		lf.store, lf.storeSet = v, true
		return nil
	})
}

// open opens the database the flags name: PostgreSQL when --store is set
// (running any migrations the binary has that the database lacks, as
// serve would), else the SQLite database in --data-dir, which must exist
// unless create is set.
func (lf *ledgerFlags) open(ctx context.Context, create bool) (Store, error) {
	store := lf.store
	if !lf.storeSet {
		store = lf.getenv(config.EnvName("store"))
	}
	if store != "" {
		if err := config.ValidateStore(store); err != nil {
			return nil, fmt.Errorf("--store: %w", err)
		}
		db, err := postgres.Open(ctx, store, postgres.Options{MaxConns: offlineConns})
		if err != nil {
			return nil, err
		}
		return db, nil
	}
	path := filepath.Join(lf.dataDir, "tollgate.db")
	if !create {
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
