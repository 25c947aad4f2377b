package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/demo"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
)

// demoCmd runs Tollgate in-process, builds the insurance example through the
// official AWS SDK, sends simulated traffic, backfills --days of history
// through the ledger, seeds the scenario's budgets, alarm and anomaly
// monitor, prints a report and what to try next, and then keeps serving
// (unless --once).
func demoCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	args, opts, err := demo.Flags(args)
	if err != nil {
		return err
	}
	if opts.Help {
		_, err := io.WriteString(stdout, demo.Usage)
		return err
	}
	once, calls := opts.Once, opts.Calls
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
	arns, err := demo.Drive(ctx, ccfg, cfg.Region, cfg.AccountID, calls, stdout)
	if err != nil {
		stop()
		<-done
		return err
	}
	from := start.Add(-time.Hour)
	if opts.Days > 0 {
		if err := m.demoHistory(ctx, ccfg, arns, opts.Days, stdout); err != nil {
			stop()
			<-done
			return err
		}
		now := time.Now().UTC()
		from = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
		fmt.Fprintf(stdout, "\nThis month so far (%s to now):", from.Format(time.DateOnly))
	}
	if err := m.demoReport(ctx, from, stdout); err != nil {
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
	demoNext(stdout, m.URL(), cfg.DataDir, opts.Days > 0)
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

// demoHistory backfills days of history through the ledger (skipped when
// the data directory has it already), seeds the scenario's budgets, alarm
// and anomaly monitor, runs anomaly detection over the history, and
// prints what they show.
func (m *Main) demoHistory(ctx context.Context, ccfg aws.Config, arns map[string]string, days int, w io.Writer) error {
	account := m.Config.AccountID
	now := time.Now().UTC()
	var hps []demo.HistoryProfile
	for name, arn := range arns {
		p, err := m.Profiles.Get(account, arn)
		if err != nil {
			return err
		}
		hps = append(hps, demo.HistoryProfile{Name: name, ARN: p.ARN, ID: p.ID, Account: account, Region: m.Config.Region, ModelID: p.ModelID, Tags: p.Tags})
	}
	sort.Slice(hps, func(i, j int) bool { return hps[i].Name < hps[j].Name })
	start := now.Truncate(time.Hour).Add(-time.Duration(days) * 24 * time.Hour)
	have, err := m.DB.Records(ctx, ledger.Query{Account: account, From: start, To: start.Add(time.Hour), Limit: 1})
	if err != nil {
		return err
	}
	if len(have) > 0 {
		fmt.Fprintf(w, "Usage history of the last %d days is already in %s; not backfilled again.\n", days, m.Config.DataDir)
	} else {
		t0 := time.Now()
		recs, spike, err := demo.History(m.Catalog, hps, days, now)
		if err != nil {
			return err
		}
		var total money.Amount
		var calls int64
		for _, r := range recs {
			total += r.Cost
			calls += r.CallCount()
		}
		for i := 0; i < len(recs); i += 2000 {
			if err := m.DB.AppendRecords(ctx, recs[i:min(i+2000, len(recs))]); err != nil {
				return fmt.Errorf("backfill: %w", err)
			}
		}
		fmt.Fprintf(w, "Backfilled %d days of usage history through the ledger: %d calls of %d profiles in %d hourly records, $%s, in %s.\n",
			days, calls, len(hps), len(recs), demo.USD(total), time.Since(t0).Round(time.Millisecond))
		if !spike.Start.IsZero() {
			fmt.Fprintf(w, "  with a spike: %s ran away from %s to %s UTC (+$%s)\n", spike.Profile, spike.Start.Format("Jan 2 15:04"), spike.End.Format("15:04"), demo.USD(spike.Extra))
		}
	}
	// The claims budget sits at 90% of its limit: month-to-date spend.
	monthStart := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	rolls, err := m.DB.Rollups(ctx, account, monthStart, now.Add(time.Hour))
	if err != nil {
		return err
	}
	var claims money.Amount
	for _, r := range rolls {
		if r.Tags["dept"] == "claims" {
			claims += r.Cost
		}
	}
	seeded, err := demo.Seed(ctx, ccfg, account, arns, claims)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Seeded the %s and %s budgets, the %s alarm and the %q anomaly monitor.\n",
		demo.SalesBudgetName, demo.ClaimsBudgetName, demo.ClaimsAlarmName, demo.SalesMonitorName)
	// Run anomaly detection over the history now, as the hourly job would.
	if err := m.Anomalies.Evaluate(ctx); err != nil {
		return fmt.Errorf("anomaly detection: %w", err)
	}
	return demo.Summary(ctx, ccfg, account, seeded, now.Add(-48*time.Hour), w)
}

// demoNext prints what to try next.
func demoNext(w io.Writer, url, dataDir string, history bool) {
	fmt.Fprintf(w, "\nTry next (in another terminal):\n")
	fmt.Fprintf(w, "  tollgate report --data-dir %s --group-by tag:dept --granularity daily   cost by department, day by day\n", dataDir)
	if history {
		fmt.Fprintf(w, "  tollgate budgets list --data-dir %s          %s is over its $10,000; %s is near its limit\n", dataDir, demo.SalesBudgetName, demo.ClaimsBudgetName)
		fmt.Fprintf(w, "  tollgate alarms list --data-dir %s           the invocation limit on the claims chatbot\n", dataDir)
		fmt.Fprintf(w, "  tollgate anomalies --data-dir %s             the sales chat's runaway hours\n", dataDir)
	} else {
		fmt.Fprintf(w, "  tollgate budgets list --data-dir %s\n  tollgate alarms list --data-dir %s\n", dataDir, dataDir)
	}
	fmt.Fprintf(w, "  %s/console/   the web console (sign in with the root access key above)\n", url)
}
