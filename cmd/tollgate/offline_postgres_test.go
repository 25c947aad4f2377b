package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/cli"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	ce "github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"
	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/anomaly"
	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/store/postgres"
	"github.com/tollgate-dev/tollgate/internal/store/postgres/pgtest"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
)

// copyToSQLite writes a SQLite database in a new data directory holding
// pg's records, profiles, principals, anomaly monitors, subscriptions and anomalies, and
// returns the directory.
func copyToSQLite(t *testing.T, pg *postgres.DB) string {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	sq, err := sqlite.Open(ctx, filepath.Join(dir, "tollgate.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	recs, err := pg.Records(ctx, ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(recs); i += 2000 {
		if err := sq.AppendRecords(ctx, recs[i:min(i+2000, len(recs))]); err != nil {
			t.Fatal(err)
		}
	}
	// The profiles too: usage and report print profile names.
	profiles, err := pg.ListAllProfiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range profiles {
		if err := sq.CreateProfile(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	// And the principals: usage prints their names.
	principals, _, _, err := pg.LoadPrincipals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range principals {
		if err := sq.PutPrincipal(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	mons, err := pg.AnomalyMonitors(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mons {
		if err := sq.CreateAnomalyMonitor(ctx, m); err != nil {
			t.Fatal(err)
		}
		if !m.LastEvaluated.IsZero() {
			if err := sq.SetAnomalyMonitorEvaluated(ctx, m.ARN, m.LastEvaluated, m.ValueCount); err != nil {
				t.Fatal(err)
			}
		}
	}
	subs, err := pg.AnomalySubscriptions(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range subs {
		if err := sq.CreateAnomalySubscription(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	as, err := pg.Anomalies(ctx, anomaly.AnomalyFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sq.PutAnomalies(ctx, as); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestOfflineCommandsOnPostgres runs usage, report, export, chargeback
// and anomalies with --store against the database of a PostgreSQL-backed
// server (skipped without TOLLGATE_TEST_POSTGRES_URL): calls made through
// the SDK and five weeks of usage with a spike that anomaly detection
// found. Each command prints exactly what it prints from a SQLite ledger
// holding the same records and anomalies, and what the ledger holds;
// TOLLGATE_STORE selects the database as --store does.
func TestOfflineCommandsOnPostgres(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	ts := startServer(t, t.TempDir(), func(c *config.Config) { c.Store = url })
	ctx := t.Context()
	if _, ok := ts.DB.(*postgres.DB); !ok {
		t.Fatalf("store is %T, want *postgres.DB", ts.DB)
	}

	noEnv := func(string) string { return "" }
	var claims, sales string
	var hour time.Time
	var mon *ce.CreateAnomalyMonitorOutput
	var pg *postgres.DB
	defer func() {
		if pg != nil {
			pg.Close()
		}
	}()
	var found []anomaly.Anomaly
	var recs []ledger.Record

	if !t.Run("calls through the SDK, and five weeks of history with a spike anomaly detection finds", func(t *testing.T) {
		// Calls through the SDK, billed to two tagged profiles.
		claims = createProfile(t, ts.bedrock(t), "cli-claims", haikuARN, tagList("cost_center", "CC-1001", "dept", "claims")...)
		sales = createProfile(t, ts.bedrock(t), "cli-sales", haikuARN, tagList("cost_center", "CC-2002", "dept", "sales")...)
		rc := ts.runtime(t)
		for i := range 6 {
			arn := []string{claims, sales}[i%2]
			if _, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(arn), Messages: userText("hello there")}); err != nil {
				t.Fatal(err)
			}
		}
		// Five weeks of history ending with a spike of sales, and a monitor
		// by department that finds it.
		hour = time.Now().UTC().Truncate(time.Hour)
		anomalyHistory(t, ts, hour, 6)
		c := ce.NewFromConfig(ts.awsConfig(t))
		var err error
		mon, err = c.CreateAnomalyMonitor(ctx, &ce.CreateAnomalyMonitorInput{AnomalyMonitor: &cetypes.AnomalyMonitor{
			MonitorName: aws.String("by department"), MonitorType: cetypes.MonitorTypeDimensional, MonitorDimension: cetypes.MonitorDimensionTag,
			MonitorSpecification: &cetypes.Expression{Tags: &cetypes.TagValues{Key: aws.String("dept")}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateAnomalySubscription(ctx, &ce.CreateAnomalySubscriptionInput{AnomalySubscription: &cetypes.AnomalySubscription{
			SubscriptionName: aws.String("finance digest"), MonitorArnList: []string{*mon.MonitorArn},
			Frequency:   cetypes.AnomalySubscriptionFrequencyDaily,
			Subscribers: []cetypes.Subscriber{{Type: cetypes.SubscriberTypeEmail, Address: aws.String("finance@example.com")}},
			Threshold:   aws.Float64(10),
		}}); err != nil {
			t.Fatal(err)
		}
		if err := ts.Anomalies.Evaluate(ctx); err != nil {
			t.Fatal(err)
		}
	}) {
		return
	}
	if !t.Run("the replica stops; PostgreSQL holds the anomaly and the records", func(t *testing.T) {
		// The replica stops, so that nothing changes the database while the
		// commands read it (they need no running server).
		ts.stop()
		var err error
		pg, err = postgres.Open(ctx, url, postgres.Options{MaxConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		found, err = pg.Anomalies(ctx, anomaly.AnomalyFilter{MonitorARN: *mon.MonitorArn})
		if err != nil || len(found) != 1 {
			t.Fatalf("anomalies found on PostgreSQL: %+v, %v; want one", found, err)
		}
		recs, err = pg.Records(ctx, ledger.Query{})
		if err != nil {
			t.Fatal(err)
		}
	}) {
		return
	}
	sqDir := copyToSQLite(t, pg)

	t.Run("each command prints from PostgreSQL what it prints from SQLite", func(t *testing.T) {
		today := hour.Truncate(24 * time.Hour)
		from, to := today.AddDate(0, 0, -40).Format(time.DateOnly), today.AddDate(0, 0, 1).Format(time.DateOnly)
		month := today.Format("2006-01")
		runOn := func(t *testing.T, getenv func(string) string, args ...string) string {
			t.Helper()
			var out, errOut bytes.Buffer
			if err := run(ctx, args, &out, &errOut, getenv); err != nil {
				t.Fatalf("tollgate %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
			}
			return out.String()
		}
		for _, tc := range []struct {
			name  string
			args  []string
			check func(t *testing.T, out string)
		}{
			{"usage", []string{"usage", "--limit", "10"}, func(t *testing.T, out string) {
				for _, r := range recs[len(recs)-6:] {
					if !strings.Contains(out, r.RequestID) || (r.ProfileARN != claims && r.ProfileARN != sales) {
						t.Errorf("usage lacks the call %s to %s:\n%s", r.RequestID, r.ProfileARN, out)
					}
				}
			}},
			{"usage json", []string{"usage", "--limit", "50", "--json"}, nil},
			{"report", []string{"report", "--from", from, "--to", to, "--granularity", "daily", "--group-by", "tag:dept", "--json"}, func(t *testing.T, out string) {
				var got cli.Report
				if err := json.Unmarshal([]byte(out), &got); err != nil {
					t.Fatal(err)
				}
				var want costquery.Totals
				for _, r := range recs {
					want.Cost += r.Cost
					want.Usage += r.InputTokens + r.OutputTokens + r.CacheReadTokens + r.CacheWriteTokens
				}
				if got.Total != cli.ReportTotalsOf(want) || len(got.Periods) != 41 {
					t.Errorf("report total %+v over %d days, want the ledger's %+v over 41", got.Total, len(got.Periods), cli.ReportTotalsOf(want))
				}
			}},
			{"report table", []string{"report", "--from", from, "--to", to, "--group-by", "profile", "--filter", "tag:dept=sales"}, nil},
			{"export", []string{"export", "--from", from, "--to", to, "--granularity", "hourly"}, func(t *testing.T, out string) {
				if lines := strings.Count(out, "\n"); lines < 2*24*36 {
					t.Errorf("export: %d lines, want at least one per department and hour of history", lines)
				}
			}},
			{"chargeback by cost center", []string{"chargeback", "--by", "tag:cost_center", "--month", month, "--markup", "15%", "--format", "csv"}, func(t *testing.T, out string) {
				for _, cc := range []string{"CC-1001", "CC-2002"} {
					if !strings.Contains(out, cc) {
						t.Errorf("no statement for %s:\n%s", cc, out)
					}
				}
			}},
			{"chargeback by account", []string{"chargeback", "--by", "account", "--month", month, "--format", "json"}, nil},
			{"anomalies", []string{"anomalies", "--since", "40d"}, func(t *testing.T, out string) {
				if !strings.Contains(out, found[0].ID) || !strings.Contains(out, "by department") {
					t.Errorf("anomalies lacks %s of monitor %q:\n%s", found[0].ID, "by department", out)
				}
			}},
			{"anomalies json", []string{"anomalies", "--since", "40d", "--json"}, nil},
			{"anomaly", []string{"anomalies", "show", found[0].ID}, nil},
			{"anomaly monitors", []string{"anomalies", "monitors", "--json"}, nil},
			{"anomaly subscriptions", []string{"anomalies", "subscriptions"}, func(t *testing.T, out string) {
				if !strings.Contains(out, "finance digest") {
					t.Errorf("subscriptions lack %q:\n%s", "finance digest", out)
				}
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got := runOn(t, noEnv, append(slices.Clip(tc.args), "--store", url)...)
				want := runOn(t, noEnv, append(slices.Clip(tc.args), "--data-dir", sqDir)...)
				if diff := cmp.Diff(got, want); diff != "" {
					t.Errorf("on PostgreSQL vs on SQLite (-got +want):\n%s", diff)
				}
				if strings.TrimSpace(got) == "" {
					t.Fatal("no output")
				}
				if tc.check != nil {
					tc.check(t, got)
				}
				// TOLLGATE_STORE selects PostgreSQL as --store does, whatever
				// --data-dir says.
				env := func(k string) string { return map[string]string{"TOLLGATE_STORE": url}[k] }
				elsewhere := t.TempDir()
				if fromEnv := runOn(t, env, append(slices.Clip(tc.args), "--data-dir", elsewhere)...); fromEnv != got {
					t.Errorf("with TOLLGATE_STORE:\n%s\nwant, as with --store:\n%s", fromEnv, got)
				}
				if _, err := os.Stat(filepath.Join(elsewhere, "tollgate.db")); err == nil {
					t.Error("reading PostgreSQL created a SQLite database in --data-dir")
				}
			})
		}
	})

	t.Run("an empty --store overrides TOLLGATE_STORE", func(t *testing.T) {
		// An empty --store overrides TOLLGATE_STORE: SQLite in --data-dir,
		// here a directory without a ledger.
		env := func(k string) string { return map[string]string{"TOLLGATE_STORE": url}[k] }
		empty := t.TempDir()
		var out bytes.Buffer
		err := run(ctx, []string{"report", "--store", "", "--data-dir", empty}, &out, &out, env)
		if err == nil || !strings.Contains(err.Error(), "no Tollgate ledger") {
			t.Errorf("report --store '' with TOLLGATE_STORE set: %v, want no Tollgate ledger in %s", err, empty)
		}
		if err := run(ctx, []string{"export", "--store", "mysql://db/tollgate"}, &out, &out, noEnv); err == nil || !strings.Contains(err.Error(), "postgres://") {
			t.Errorf("export --store mysql://: %v, want an error asking for a postgres:// URL", err)
		}
	})
}

// TestAlarmsCommandOnPostgres: tollgate alarms lists the alarms and their
// history from the PostgreSQL store the replicas share.
func TestAlarmsCommandOnPostgres(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	ts := startServer(t, t.TempDir(), func(c *config.Config) { c.Store = url })
	ctx := t.Context()
	cw := cloudwatch.NewFromConfig(ts.awsConfig(t))
	if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("pg-cli-alarm"), Namespace: aws.String("AWS/Bedrock"),
		MetricName: aws.String("Invocations"), Statistic: cwtypes.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1),
		Threshold: aws.Float64(100), ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ args, want []string }{
		{[]string{"alarms", "--store", url}, []string{"pg-cli-alarm", "INSUFFICIENT_DATA", "Invocations"}},
		{[]string{"alarms", "history", "--store", url}, []string{"pg-cli-alarm", "ConfigurationUpdate", "created"}},
	} {
		var out, errOut bytes.Buffer
		if err := run(ctx, tc.args, &out, &errOut, func(string) string { return "" }); err != nil {
			t.Fatalf("tollgate %s: %v\n%s", strings.Join(tc.args, " "), err, errOut.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("tollgate %s lacks %q:\n%s", strings.Join(tc.args[:len(tc.args)-2], " "), w, out.String())
			}
		}
	}
}
