// Package cli is Tollgate's command line: every `tollgate` command but
// serve, demo and version, which cmd/tollgate runs itself before handing
// the rest to Run. There is one file per noun (usage, report, export,
// chargeback, budgets, alarms, anomalies, admin for accounts, principals,
// keys and policies, profiles); flags.go and output.go hold the shared
// flags and output helpers; the engines of bench and of the resolver
// sidecar are packages of their own (internal/bench,
// internal/resolversidecar).
//
// # Which commands read the store, and which go through the server
//
// Commands that only read what the ledger and the background jobs have
// already written — usage (recent usage records), report (Cost Explorer
// tables over the hourly rollups), export (CUR line items streamed from
// the rollups), chargeback (statements built from the rollups and
// reconciled with the cost engine), alarms (the stored alarms and their
// history) and anomalies (stored monitors, subscriptions and anomalies) —
// are offline: they open the database themselves, the SQLite database in
// --data-dir or the PostgreSQL database --store (or TOLLGATE_STORE) names,
// through Env.OpenStore. They work when no server runs (after a crash,
// from a reporting host next to a replica fleet), they stream months of
// rollups in constant memory instead of through an API built for pages of
// results, and they change nothing, so no in-memory index can fall out of
// step. Their authority is access to the database itself: they are not
// authorized by Tollgate's policies, so whoever may run them must be
// trusted with every account's usage.
//
// Every other command goes through a running Tollgate and its APIs, as
// any client would, and is authorized by the caller's policies: accounts,
// principals, keys and policies change state, so they go through the
// admin API (adminapi.Client), where authorization and the server's
// in-memory directory stay right; budgets reads spend and forecasts that
// only the running budget service computes, through the Budgets API with
// the official AWS SDK client; profiles export-map and the resolver
// sidecar use the Tagging API, so they work against AWS as well; bench
// drives the runtime API.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/tollgate-dev/tollgate/internal/alarm"
	"github.com/tollgate-dev/tollgate/internal/anomaly"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/export"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/profile"
)

// Store is what the offline commands read (see the package comment):
// usage records, rollups for the cost engine, exports and chargeback,
// alarms and their history, and anomaly detection's monitors,
// subscriptions and anomalies. cmd/tollgate's whole store contract
// implements it. Safe for concurrent use.
type Store interface {
	ledger.Reader
	costquery.Source
	costquery.DailySource
	costquery.Versioned
	export.Source
	ledger.Repricer

	// ListAllProfiles returns every application profile, so tables show
	// profile names beside ids and tag filters can name the keys that
	// exist.
	ListAllProfiles(ctx context.Context) ([]profile.Profile, error)
	// LoadPrincipals returns every principal (and its keys, which the
	// commands ignore), so the request log shows principal names beside
	// ids.
	LoadPrincipals(ctx context.Context) ([]principal.Principal, []principal.AccessKey, []principal.APIKey, error)

	LoadAlarms(ctx context.Context) ([]alarm.Alarm, error)
	AlarmHistory(ctx context.Context, q alarm.HistoryQuery) ([]alarm.HistoryItem, error)

	AnomalyMonitors(ctx context.Context, account string) ([]anomaly.Monitor, error)
	AnomalySubscriptions(ctx context.Context, account string) ([]anomaly.Subscription, error)
	Anomalies(ctx context.Context, f anomaly.AnomalyFilter) ([]anomaly.Anomaly, error)

	Close() error
}

// StoreLocation says which database an offline command reads.
type StoreLocation struct {
	// URL is the postgres:// URL of the database the replicas share
	// (--store, else TOLLGATE_STORE); "" selects SQLite in DataDir.
	URL string
	// DataDir is the data directory holding the SQLite database.
	DataDir string
	// Create allows opening a SQLite database that does not exist yet
	// (an empty one); when false a missing database is an error.
	Create bool
}

// Env is what a command runs with. Stdout and Stderr must be set; Getenv
// supplies the TOLLGATE_* defaults of flags.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// OpenStore opens the database an offline command reads. The store
	// implementations are wired in cmd/tollgate, which sets it.
	OpenStore func(ctx context.Context, at StoreLocation) (Store, error)
}

// Usage is the help text of the tollgate binary.
const Usage = `Tollgate: attribute, budget, watch and control every generative-AI call.

Usage: tollgate COMMAND [SUBCOMMAND] [flags]

Run Tollgate:
  demo         run Tollgate with the insurance example, traffic and a report
  serve        run the gateway
  version      print the version, commit, build time and Go version

Set things up (through the running Tollgate, authorized by your policies):
  profiles     create, list, show, tag, untag and delete inference profiles
  budgets      create, update, delete, list and show budgets, alerts and enforcement
  alarms       create, delete, list and show CloudWatch alarms; their history
  accounts     list and create accounts
  principals   list, create and show users and roles
  keys         create, list, activate and deactivate access keys and API keys
  policies     list, put, attach and detach IAM policies

Read what happened (offline, from the database):
  usage        the request log: recent calls, filtered and followed
  report       cost and usage tables like Cost Explorer
  export       CUR 2.0-style line items (CSV or Parquet)
  chargeback   one statement per tag value, reconciled with Cost Explorer
  anomalies    the cost anomalies found, with root causes
  prices       the prices in force on a date, and where each comes from
  reconcile    the ledger against AWS's bill (a CUR 2.0 export), row by row

Correct the ledger:
  reprice      re-price recorded calls after a price correction, auditably

Tools:
  bench        Tollgate side by side with the bare upstream: latency and CPU per call
  resolver     caching sidecar answering tags -> profile ARN

Run 'tollgate help COMMAND' (or 'tollgate COMMAND --help') for a command's
flags and examples. Output that is data takes -o table|json|yaml|csv.
Exit status: 0 success, 1 the operation failed, 2 bad usage.

Examples:
  tollgate demo --once
  tollgate profiles create claims-bot --model anthropic.claude-3-haiku-20240307-v1:0 --tag dept=claims
  tollgate budgets create sales-chat --limit 10000 --scope dept=sales,team=support --alert 80%:email=finance@example.com
  tollgate usage --since 1h --tag dept=claims -o json

Every flag of serve can also be set as TOLLGATE_<FLAG> (e.g. TOLLGATE_ADDR)
or in a YAML file given with --config.
`

// commandNames are the commands Run and cmd/tollgate know, for "did you
// mean".
var commandNames = []string{"demo", "serve", "version", "profiles", "budgets", "alarms", "accounts", "principals", "keys",
	"policies", "usage", "report", "export", "chargeback", "anomalies", "prices", "reprice", "reconcile", "bench", "resolver", "help"}

// Run runs the command args names (args[0], without the program name).
// No command prints Usage on env.Stderr and returns flag.ErrHelp (exit
// 2); help, -h and --help print it on env.Stdout; `help CMD ...` is
// `CMD ... --help`. Errors are for Exit to print.
func Run(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, Usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "help", "-h", "--help", "-help":
		if args[0] != "help" || len(args) == 1 {
			fmt.Fprint(env.Stdout, Usage)
			return errHelpShown
		}
		return Run(ctx, append(append([]string{}, args[1:]...), "--help"), env)
	}
	rest := args[1:]
	switch args[0] {
	case "usage":
		return usageCmd(ctx, rest, env)
	case "report":
		return reportCmd(ctx, rest, env)
	case "export":
		return exportCmd(ctx, rest, env)
	case "chargeback":
		return chargebackCmd(ctx, rest, env)
	case "prices":
		return pricesCmd(ctx, rest, env)
	case "reprice":
		return repriceCmd(ctx, rest, env)
	case "reconcile":
		return reconcileCmd(ctx, rest, env)
	case "bench":
		return benchCmd(ctx, rest, env)
	case "resolver":
		return resolverCmd(ctx, rest, env)
	case "profiles":
		return profilesCmd(ctx, rest, env)
	case "accounts", "principals", "keys", "policies":
		return adminCmd(ctx, args[0], rest, env)
	case "alarms":
		return alarmsCmd(ctx, rest, env)
	case "budgets":
		return budgetsCmd(ctx, rest, env)
	case "anomalies":
		return anomaliesCmd(ctx, rest, env)
	}
	return unknownCommand("", args[0], commandNames)
}

// helpOf maps the flag.ErrHelp of a command asked for its help (which it
// printed) to errHelpShown.
func helpOf(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return errHelpShown
	}
	return err
}
