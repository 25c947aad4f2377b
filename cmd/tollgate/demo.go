package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/demo"
)

// demoCmd runs Tollgate in-process, builds the insurance example through the
// official AWS SDK, sends simulated traffic, prints a cost report, and then
// keeps serving (unless --once).
func demoCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	args, once, calls, err := demo.Flags(args)
	if err != nil {
		return err
	}
	cfg, err := config.Load("tollgate demo", args, getenv)
	if err != nil {
		return err
	}
	if cfg.LogLevel == "info" {
		cfg.LogLevel = "warn" // keep the demo's output readable
	}
	if len(cfg.Routes) == 0 {
		// Simulate a model that takes a moment to answer, as real ones do
		// (and as the AWS SDK for Go needs; see docs/providers.md).
		cfg.Providers = append(cfg.Providers, config.Provider{Name: "demo-sim", Type: "sim",
			Latency: 15 * time.Millisecond, TokensPerSecond: 2000})
		cfg.Routes = []config.Route{{Provider: "demo-sim"}}
	}
	m := NewMain(cfg, stderr)
	if err := m.Open(ctx); err != nil {
		m.Close()
		return err
	}
	defer m.Close()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()

	start := time.Now()
	ccfg, err := m.clientConfig(ctx)
	if err != nil {
		stop()
		<-done
		return err
	}
	if err := demo.Drive(ctx, ccfg, cfg.Region, cfg.AccountID, calls, stdout); err != nil {
		stop()
		<-done
		return err
	}
	if err := m.demoReport(ctx, start.Add(-time.Hour), stdout); err != nil {
		stop()
		<-done
		return err
	}
	fmt.Fprintf(stdout, "\nTollgate is serving on %s (region %s).\n", m.URL(), cfg.Region)
	creds, _ := filepath.Abs(m.CredentialsFile())
	conf, _ := filepath.Abs(m.ConfigFile())
	fmt.Fprintf(stdout, "Point any AWS SDK or the AWS CLI at it:\n  export AWS_SHARED_CREDENTIALS_FILE=%s AWS_CONFIG_FILE=%s\n", creds, conf)
	fmt.Fprintf(stdout, "  aws bedrock list-inference-profiles --type-equals APPLICATION --endpoint-url %s\n", m.URL())
	fmt.Fprintf(stdout, "Open the web console at %s/console/ and sign in with the root access key %s (its secret is in %s).\n", m.URL(), m.RootAccessKeyID, creds)
	if once {
		stop()
		return ignoreCanceled(<-done)
	}
	fmt.Fprintln(stdout, "Press Ctrl-C to stop.")
	return ignoreCanceled(<-done)
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func (m *Main) clientConfig(ctx context.Context) (aws.Config, error) {
	return awsconfig.LoadDefaultConfig(ctx,
		awsconfig.WithRegion(m.Config.Region),
		awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(m.RootAccessKeyID, m.RootSecretAccessKey, "")),
		awsconfig.WithBaseEndpoint(m.URL()),
		awsconfig.WithSharedConfigFiles([]string{m.ConfigFile()}),
		awsconfig.WithSharedCredentialsFiles([]string{m.CredentialsFile()}),
	)
}

// demoReport prints the demo's cost report from the rollups since from.
func (m *Main) demoReport(ctx context.Context, from time.Time, w io.Writer) error {
	rolls, err := m.DB.Rollups(ctx, m.Config.AccountID, from, time.Now().Add(time.Hour))
	if err != nil {
		return err
	}
	return demo.Report(w, rolls, func(account, arn string) string {
		if p, err := m.Profiles.Get(account, arn); err == nil {
			return p.Name + " (" + p.ID + ")"
		}
		return ""
	})
}
