// Command tollgate is the Tollgate gateway: `tollgate serve` runs it, and
// the other subcommands are its demo and admin CLI.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/tollgate-dev/tollgate/internal/bench"
	"github.com/tollgate-dev/tollgate/internal/resolversidecar"
)

const usage = `Tollgate: attribute, budget, watch and control every generative-AI call.

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
  tollgate version           print the version

Every flag of serve can also be set as TOLLGATE_<FLAG> (e.g. TOLLGATE_ADDR)
or in a YAML file given with --config.
`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "tollgate:", err)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stderr, getenv)
	case "demo":
		return demo(ctx, args[1:], stdout, stderr, getenv)
	case "usage":
		return usageCmd(ctx, args[1:], stdout, getenv)
	case "report":
		return reportCmd(ctx, args[1:], stdout, stderr, getenv)
	case "export":
		return exportCmd(ctx, args[1:], stdout, stderr, getenv)
	case "chargeback":
		return chargebackCmd(ctx, args[1:], stdout, stderr, getenv)
	case "bench":
		return bench.Command(ctx, args[1:], stdout, stderr)
	case "resolver":
		return resolversidecar.Command(ctx, args[1:], stderr)
	case "profiles":
		return profilesCmd(ctx, args[1:], stdout, stderr)
	case "accounts", "principals", "keys", "policies":
		return adminCmd(ctx, args[0], args[1:], stdout, getenv)
	case "alarms":
		return alarmsCmd(ctx, args[1:], stdout, stderr, getenv)
	case "budgets":
		return budgetsCmd(ctx, args[1:], stdout, stderr, getenv)
	case "anomalies":
		return anomaliesCmd(ctx, args[1:], stdout, stderr, getenv)
	case "version":
		fmt.Fprintln(stdout, "tollgate", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
