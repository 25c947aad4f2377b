// Command tollgate is the Tollgate gateway: `tollgate serve` runs it, and
// demo runs it with the insurance example; every other subcommand is
// the CLI of internal/cli.
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

	"github.com/tollgate-dev/tollgate/internal/cli"
	"github.com/tollgate-dev/tollgate/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(cli.Exit(err, os.Stderr))
}

// run runs serve, demo and version here and every other command through
// internal/cli, whose offline commands open the store with openOffline.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) > 1 && args[0] == "help" {
		switch args[1] {
		case "serve", "demo", "version":
			return run(ctx, append(append([]string{}, args[1:]...), "--help"), stdout, stderr, getenv)
		}
	}
	if len(args) > 0 {
		// serve's and demo's help goes to stdout, and asking for it is
		// no error (exit 0).
		if args[0] == "serve" && cli.HelpArg(args[1:]) {
			fmt.Fprint(stdout, serveUsage)
			config.PrintFlags(stdout)
			return nil
		}
		if args[0] == "demo" && cli.HelpArg(args[1:]) {
			err := demoCmd(ctx, args[1:], stdout, stdout, getenv)
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		}
		switch args[0] {
		case "serve":
			return serve(ctx, args[1:], stderr, getenv)
		case "demo":
			return demoCmd(ctx, args[1:], stdout, stderr, getenv)
		case "version":
			return versionCmd(args[1:], stdout, stderr)
		}
	}
	return cli.Run(ctx, args, cli.Env{Stdout: stdout, Stderr: stderr, Getenv: getenv, OpenStore: openOffline})
}

const serveUsage = `Usage: tollgate serve [flags]

Run the gateway: every API (Bedrock, Bedrock Runtime, Tagging, Budgets,
Cost Explorer, CloudWatch, admin) on one port, the background jobs, and
the store (SQLite in --data-dir, or the PostgreSQL database --store names).
It writes the root's credentials and its endpoint into the data directory
for the other commands and the AWS SDKs. Every flag can also be set as
TOLLGATE_<FLAG> or in the YAML file --config names (docs/configuration.md).

Examples:
  tollgate serve
  tollgate serve --addr 0.0.0.0:8080 --data-dir /var/lib/tollgate
  tollgate serve --tls-cert cert.pem --tls-key key.pem
  TOLLGATE_STORE=postgres://tollgate@db:5432/tollgate tollgate serve

Flags:
`

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
