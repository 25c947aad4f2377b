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
	if len(args) > 0 {
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

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
