// Package cli is Tollgate's command line: every `tollgate` command but
// serve, demo and version, which cmd/tollgate runs itself before handing
// the rest to Run. There is one file per noun (usage, report, export,
// chargeback, budgets, alarms, anomalies, admin for accounts, principals,
// keys and policies, profiles); flags.go and output.go hold the shared
// flags and output helpers; bench and the resolver sidecar are packages of
// their own (internal/bench, internal/resolversidecar) that Run dispatches
// to.
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
	"flag"
	"fmt"
	"io"

	"github.com/tollgate-dev/tollgate/internal/alarm"
	"github.com/tollgate-dev/tollgate/internal/anomaly"
	"github.com/tollgate-dev/tollgate/internal/bench"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/export"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/resolversidecar"
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

Usage:
  tollgate demo [--once] [--calls N] [serve flags]
                             run Tollgate with the insurance example: profiles,
                             simulated traffic of all four runtime calls, and a
                             cost report; then keep serving (unless --once)
  tollgate serve [flags]     run the gateway (tollgate serve -h for flags)
  tollgate usage [--data-dir D | --store URL] [--limit N] [--json]
                             print recent usage records (usage, report, export,
                             chargeback and anomalies read the SQLite database in
                             --data-dir, or the PostgreSQL one --store names)
  tollgate report [--group-by tag:dept] [--filter tag:env=prod] [--granularity daily] [--json]
                             print cost and usage tables like Cost Explorer
                             (tollgate report -h for flags)
  tollgate export --from D --to D [--granularity hourly|daily] [--format csv|parquet] [--out F]
                             write CUR 2.0-style line items (tollgate export -h)
  tollgate chargeback --by tag:cost_center --month 2026-11 [--markup 15%] [--format text|csv|json|html]
                             one statement per tag value, reconciled with Cost Explorer
  tollgate bench [flags]     drive a running Tollgate at fixed rates over loopback
                             and report latency (tollgate bench -h for flags)
  tollgate resolver [flags]  caching sidecar: GET /resolve?tenant=acme&app=x answers
                             the profile ARN from the Tagging API, kept in memory and
                             in a snapshot file (tollgate resolver -h for flags)
  tollgate profiles export-map --key tenant,app [--out map.yaml] [flags]
                             write the static map of key tag values -> profile ARN
  tollgate accounts list|create --id ID --name N
  tollgate principals list|create --name N [--kind user|role] [--account A] [--tag k=v]|show --principal P
  tollgate keys create|list|create-api-key --principal P | activate|deactivate KEY | revoke-api-key ID
  tollgate policies list|put --name N --file F|attach|detach --principal P --policy N
                             administer accounts, principals, keys and IAM policies
                             (talks to the running Tollgate in --data-dir or --endpoint)
  tollgate alarms [list|history] [--state S] [--name N] [--json]
                             print the CloudWatch alarms, their state and history
  tollgate budgets [list] | show NAME [--account A] [--json]
                             print the budgets with spend, forecast and a bar, or
                             one budget with its alerts, actions and history
  tollgate anomalies [list|show ID|monitors|subscriptions] [--since 7d] [--json]
                             print the cost anomalies found, with root causes
  tollgate prices [--date D] [-o table|json|csv] [--prices-file F]
                             list the prices in force on a date and their source
  tollgate reprice --from D [--to D] [--prices-file F] [--dry-run]
                             re-price the ledger after a price correction (docs/pricing.md)
  tollgate version           print the version

Every flag of serve can also be set as TOLLGATE_<FLAG> (e.g. TOLLGATE_ADDR)
or in a YAML file given with --config.
`

// Run runs the command args names (args[0], without the program name).
// No command prints Usage on env.Stderr and returns flag.ErrHelp; help,
// -h and --help print it on env.Stdout.
func Run(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, Usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "usage":
		return usageCmd(ctx, args[1:], env)
	case "report":
		return reportCmd(ctx, args[1:], env)
	case "export":
		return exportCmd(ctx, args[1:], env)
	case "chargeback":
		return chargebackCmd(ctx, args[1:], env)
	case "bench":
		return bench.Command(ctx, args[1:], env.Stdout, env.Stderr)
	case "resolver":
		return resolversidecar.Command(ctx, args[1:], env.Stderr)
	case "profiles":
		return profilesCmd(ctx, args[1:], env)
	case "accounts", "principals", "keys", "policies":
		return adminCmd(ctx, args[0], args[1:], env)
	case "alarms":
		return alarmsCmd(ctx, args[1:], env)
	case "budgets":
		return budgetsCmd(ctx, args[1:], env)
	case "anomalies":
		return anomaliesCmd(ctx, args[1:], env)
	case "prices":
		return pricesCmd(ctx, args[1:], env)
	case "reprice":
		return repriceCmd(ctx, args[1:], env)
	case "help", "-h", "--help":
		fmt.Fprint(env.Stdout, Usage)
		return nil
	}
	fmt.Fprint(env.Stderr, Usage)
	return fmt.Errorf("unknown command %q", args[0])
}
