package main

import (
	"context"
	"fmt"
	"io"

	"github.com/tollgate-dev/tollgate/internal/config"
)

func serve(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) error {
	cfg, err := config.Load("tollgate serve", args, getenv)
	if err != nil {
		return err
	}
	m := NewMain(cfg, stderr)
	if err := m.Open(ctx); err != nil {
		m.Close()
		return err
	}
	defer m.Close()
	fmt.Fprintf(stderr, "tollgate: serving on %s (region %s, account %s)\ntollgate: credentials in %s\n",
		m.URL(), cfg.Region, cfg.AccountID, m.CredentialsFile())
	return m.Run(ctx)
}
