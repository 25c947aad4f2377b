package cli

import (
	"context"

	"github.com/tollgate-dev/tollgate/internal/resolversidecar"
	"github.com/tollgate-dev/tollgate/resolver"
)

// resolverCmd runs `tollgate resolver`, the caching sidecar in front of
// the Tagging API, with the conventions of every other command: help on
// stdout (exit 0), a bad flag or argument as one error and one hint
// (exit 2), the sidecar's JSON log on stderr.
func resolverCmd(ctx context.Context, args []string, env Env) error {
	fs := NewFlagSet("tollgate resolver", resolversidecar.Usage, env.Stdout, env.Stderr)
	cfg := resolversidecar.Flags(fs)
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return Usagef("resolver", "resolver: unexpected argument %q", fs.Arg(0))
	}
	if _, err := resolver.ParseStaticMode(cfg.StaticMode); err != nil {
		return Usagef("resolver", "--static-mode: %v", err)
	}
	return resolversidecar.Serve(ctx, *cfg, env.Stderr)
}
