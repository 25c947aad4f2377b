package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	btypes "github.com/aws/aws-sdk-go-v2/service/budgets/types"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/alarm"
	"github.com/tollgate-dev/tollgate/internal/anomaly"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// runCLI runs the command line as main does and returns its exit status
// and what it wrote.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" },
		OpenStore: func(context.Context, StoreLocation) (Store, error) {
			return nil, fmt.Errorf("no Tollgate ledger here")
		}}
	err := Run(t.Context(), args, env)
	code = Exit(err, &errb)
	return code, out.String(), errb.String()
}

// helpCommands are every command and subcommand, each with its help.
var helpCommands = [][]string{
	{"usage"}, {"report"}, {"export"}, {"chargeback"}, {"anomalies"}, {"anomalies", "show"},
	{"profiles"}, {"profiles", "create"}, {"profiles", "show"}, {"profiles", "tag"}, {"profiles", "untag"},
	{"profiles", "delete"}, {"profiles", "export-map"},
	{"budgets"}, {"budgets", "show"}, {"budgets", "create"}, {"budgets", "update"}, {"budgets", "delete"},
	{"alarms"}, {"alarms", "show"}, {"alarms", "create"}, {"alarms", "delete"}, {"alarms", "history"},
	{"accounts", "list"}, {"principals", "create"}, {"keys", "create"}, {"policies", "put"},
	{"prices"}, {"reprice"}, {"bench"}, {"resolver"},
	{"reconcile"},
}

func TestHelpOnStdoutExitZero(t *testing.T) {
	var all bytes.Buffer
	for _, cmd := range helpCommands {
		name := strings.Join(cmd, " ")
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runCLI(t, append(append([]string{}, cmd...), "--help")...)
			if code != 0 || errOut != "" {
				t.Fatalf("%s --help: exit %d, stderr %q; want 0 and nothing", name, code, errOut)
			}
			if !strings.Contains(out, "Usage:") {
				t.Errorf("%s --help prints no usage:\n%s", name, out)
			}
			if !strings.Contains(out, "Example") {
				t.Errorf("%s --help has no examples:\n%s", name, out)
			}
			// help CMD, -h and flags before the subcommand's argument print the same.
			for _, alt := range [][]string{append([]string{"help"}, cmd...), append(append([]string{}, cmd...), "-h")} {
				code2, out2, _ := runCLI(t, alt...)
				if code2 != 0 || out2 != out {
					t.Errorf("%q: exit %d, output differs from --help", alt, code2)
				}
			}
			fmt.Fprintf(&all, "$ tollgate %s --help\n%s\n", name, out)
		})
	}
	// Every command Run knows is in the list above.
	for _, name := range commandNames {
		switch name {
		case "demo", "serve", "version", "help":
			continue // cmd/tollgate's own (TestVersionAndHelpDispatch)
		}
		found := false
		for _, cmd := range helpCommands {
			found = found || cmd[0] == name
		}
		if !found {
			t.Errorf("command %s has no help test: add it to helpCommands", name)
		}
	}
	code, out, _ := runCLI(t, "help")
	if code != 0 || out != Usage {
		t.Errorf("tollgate help: exit %d", code)
	}
	golden(t, "help", all.Bytes())
}

func TestEveryFlagDescribed(t *testing.T) {
	for _, cmd := range helpCommands {
		if len(cmd) > 1 && cmd[1] == "export-map" {
			continue // their flags are defined in their own packages
		}
		_, out, _ := runCLI(t, append(append([]string{}, cmd...), "--help")...)
		_, flags, ok := strings.Cut(out, "\nFlags:\n")
		if !ok {
			t.Errorf("%v: no Flags section", cmd)
			continue
		}
		lines := strings.Split(strings.TrimRight(flags, "\n"), "\n")
		for i := 0; i < len(lines); i += 2 {
			if !strings.HasPrefix(lines[i], "  -") || i+1 >= len(lines) || strings.TrimSpace(lines[i+1]) == "" {
				t.Errorf("%v: flag line %q has no description", cmd, lines[i])
			}
		}
	}
}

func TestErrors(t *testing.T) {
	var all bytes.Buffer
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"budgts"}, 2},
		{[]string{"reprot", "--group-by", "tag:dept"}, 2},
		{[]string{"frobnicate"}, 2},
		{[]string{"budgets", "craete", "x"}, 2},
		{[]string{"alarms", "lsit"}, 2},
		{[]string{"profiles", "tga"}, 2},
		{[]string{"usage", "--limt", "5"}, 2},
		{[]string{"usage", "--outcome", "throttle"}, 2},
		{[]string{"usage", "--since", "yesterday"}, 2},
		{[]string{"usage", "-o", "jsn"}, 2},
		{[]string{"usage", "extra"}, 2},
		{[]string{"budgets", "create"}, 2},
		{[]string{"budgets", "create", "b", "--limit", "ten"}, 2},
		{[]string{"budgets", "create", "b", "--limit", "10", "--period", "montly"}, 2},
		{[]string{"budgets", "create", "b", "--limit", "10", "--alert", "80%:sms=555"}, 2},
		{[]string{"budgets", "create", "b", "--limit", "10", "--alert", "80%:slack=https://example.com/x"}, 2},
		{[]string{"budgets", "create", "b", "--limit", "10", "--enforce", "throtle=60/min"}, 2},
		{[]string{"budgets", "create", "b", "--limit", "10", "--shadow"}, 2},
		{[]string{"alarms", "create", "a", "--profile", "p", "--metric", "Invocation", "--threshold", "5"}, 2},
		{[]string{"alarms", "create", "a", "--metric", "Invocations"}, 2},
		{[]string{"profiles", "create", "p"}, 2},
		{[]string{"keys", "activate"}, 2},
		{[]string{"bench", "--rats", "50"}, 2},
		{[]string{"bench", "--rates", "fast"}, 2},
		{[]string{"bench", "--model", "m"}, 2},
		{[]string{"bench", "--endpoint", "http://127.0.0.1:8080", "--providers", "sim"}, 2},
		{[]string{"bench", "--providers", "bedrock"}, 2},
		{[]string{"bench", "--gateway-cmd", "gw"}, 2},
		{[]string{"bench", "-o", "yaml"}, 2},
		{[]string{"bench", "now"}, 2},
		{[]string{"bench", "--scale", "profiles=5,busy=9"}, 2},
		{[]string{"bench", "--endpoint", "http://127.0.0.1:8080", "--scale", "records=5"}, 2},
		{[]string{"bench", "seed", "--records", "10"}, 2},
		{[]string{"resolver", "--listne", ":8091"}, 2},
		{[]string{"resolver", "--ttl", "soon"}, 2},
		{[]string{"resolver", "--static-mode", "backup"}, 2},
		{[]string{"resolver", "extra"}, 2},
		{[]string{"usage", "--data-dir", "/nonexistent/typo"}, 1},
		{[]string{"budgets", "--data-dir", "/nonexistent/typo"}, 1},
	} {
		code, out, errOut := runCLI(t, tc.args...)
		if code != tc.code || out != "" {
			t.Errorf("%q: exit %d, stdout %q; want exit %d and no output", tc.args, code, out, tc.code)
		}
		if n := strings.Count(errOut, "\n"); n < 1 || n > 2 {
			t.Errorf("%q: stderr is %d lines, want the error and at most one hint:\n%s", tc.args, n, errOut)
		}
		fmt.Fprintf(&all, "$ tollgate %s  (exit %d)\n%s\n", strings.Join(tc.args, " "), code, errOut)
	}
	golden(t, "errors", all.Bytes())
}

func TestNoCommandIsBadUsage(t *testing.T) {
	code, out, errOut := runCLI(t)
	if code != 2 || out != "" || errOut != Usage {
		t.Errorf("tollgate: exit %d; want 2 with the usage on stderr", code)
	}
}

func TestParseFlagsInterleaved(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantPos []string
		wantN   int
		wantO   string
	}{
		{[]string{"a", "-n", "3", "b"}, []string{"a", "b"}, 3, "table"},
		{[]string{"-o", "json", "a"}, []string{"a"}, 0, "json"},
		{[]string{"a", "--output=yaml", "--", "-n", "x"}, []string{"a", "-n", "x"}, 0, "yaml"},
		{[]string{"--json", "a", "-limit", "7"}, []string{"a"}, 7, "json"},
	} {
		fs := flag.NewFlagSet("tollgate t", flag.ContinueOnError)
		n := fs.Int("limit", 0, "")
		short(fs, "n", "limit")
		o := registerOutput(fs)
		if err := ParseFlags(fs, tc.args); err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if diff := cmp.Diff(fs.Args(), tc.wantPos); diff != "" || *n != tc.wantN || o.format != tc.wantO {
			t.Errorf("%q: args %q limit %d -o %s; want %q %d %s", tc.args, fs.Args(), *n, o.format, tc.wantPos, tc.wantN, tc.wantO)
		}
	}
}

func TestClosest(t *testing.T) {
	for s, want := range map[string]string{"budgts": "budgets", "reprot": "report", "usge": "usage", "frobnicate": "",
		"prof": "profiles", "x": "", "alarm": "alarms"} {
		if got := closest(s, commandNames); got != want {
			t.Errorf("closest(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestParseBudgetFlags(t *testing.T) {
	f := budgetsCreateFlags{limit: "10000", period: "monthly", scope: "dept=sales,team=support,app=chat_app",
		alerts: listFlag{"80%:email=a@example.com", "80%:webhook=https://hooks.example.com/b", "100%:slack=https://hooks.slack.com/services/T/B/X",
			"forecast:110%:pagerduty=R0UT1NG", "500:teams=https://example.webhook.office.com/wf"},
		enforce: "throttle=2/s", enforceAt: "90%", shadow: true}
	p, err := f.plan("budgets create", "create")
	if err != nil {
		t.Fatal(err)
	}
	in := p.createInput("123456789012", "sales-chat")
	if got := exprText(in.Budget.FilterExpression); got != "(tag:dept[EQUALS]=sales AND tag:team[EQUALS]=support AND tag:app[EQUALS]=chat_app)" {
		t.Errorf("scope = %s", got)
	}
	if *in.Budget.BudgetLimit.Amount != "10000.00" || in.Budget.TimeUnit != "MONTHLY" {
		t.Errorf("limit %s %s", *in.Budget.BudgetLimit.Amount, in.Budget.TimeUnit)
	}
	var got []string
	for _, n := range in.NotificationsWithSubscribers {
		for _, s := range n.Subscribers {
			got = append(got, fmt.Sprintf("%s %s %g %s %s", n.Notification.NotificationType, n.Notification.ThresholdType,
				n.Notification.Threshold, s.SubscriptionType, *s.Address))
		}
	}
	want := []string{
		"ACTUAL PERCENTAGE 80 EMAIL a@example.com", "ACTUAL PERCENTAGE 80 SNS https://hooks.example.com/b",
		"ACTUAL PERCENTAGE 100 SNS https://hooks.slack.com/services/T/B/X", "FORECASTED PERCENTAGE 110 SNS pagerduty:R0UT1NG",
		"ACTUAL ABSOLUTE_VALUE 500 SNS https://example.webhook.office.com/wf",
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("notifications (-got +want):\n%s", diff)
	}
	a := p.actionInput("123456789012", "sales-chat")
	if a.ActionType != "THROTTLE" || *a.Definition.IamActionDefinition.PolicyArn != "120" || a.ApprovalModel != "MANUAL" ||
		a.ActionThreshold.ActionThresholdValue != 90 || len(a.Subscribers) != 1 || *a.Subscribers[0].Address != "https://hooks.slack.com/services/T/B/X" {
		t.Errorf("action %+v", a)
	}
	for in, want := range map[string]int64{"60/min": 60, "60": 60, "2/s": 120, "600/h": 10} {
		if got, err := parseRate(in); err != nil || got != want {
			t.Errorf("parseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"0/min", "61/h", "x", "5/day"} {
		if _, err := parseRate(bad); err == nil {
			t.Errorf("parseRate(%q) accepted", bad)
		}
	}
}

func TestOutputFormats(t *testing.T) {
	recs := []ledger.Record{
		{RequestID: "req-1", Time: t0, Operation: "Converse", ProfileID: "a1b2c3d4e5f6", PrincipalID: "AIDAEXAMPLE",
			ModelID: "anthropic.claude-3-haiku-20240307-v1:0", RegionServed: "us-east-1", InputTokens: 1200, OutputTokens: 300,
			LatencyMs: 412, Outcome: "success", Cost: money.Amount(712_500), Priced: true, Tags: tags.Set{"dept": "claims", "app": "bot"}},
		{RequestID: "req-2", Time: t0.Add(time.Minute), Operation: "InvokeModel", ModelID: "custom.model-v1", RegionServed: "us-west-2",
			InputTokens: 10, LatencyMs: 3, Outcome: "throttled"},
	}
	names := usageNames{profiles: map[string]string{"a1b2c3d4e5f6": "claims-bot"}, principals: map[string]string{"AIDAEXAMPLE": "claims-app"}}
	var all bytes.Buffer
	for _, f := range outputFormats {
		var b bytes.Buffer
		if err := render(&b, f, usageDataset(recs, names)); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&all, "-o %s\n%s\n", f, b.String())
	}
	golden(t, "usage_formats", all.Bytes())
	for in, want := range map[money.Amount]string{712_500: "0.000713", 712_499: "0.000712", -1_500: "-0.000002", 12_000_000_000: "12.000000"} {
		if got := fixedUSD(in, 6); got != want {
			t.Errorf("fixedUSD(%d) = %s, want %s", in, got, want)
		}
	}
}

// TestEveryCommandsFormats renders each command's data in every -o
// format (golden): budgets, profiles, alarms, alarm history, anomaly
// monitors and subscriptions, and budgets show as an object.
func TestEveryCommandsFormats(t *testing.T) {
	usdSpend := func(s string) *btypes.Spend { return &btypes.Spend{Amount: aws.String(s), Unit: aws.String("USD")} }
	budgetsAll := []btypes.Budget{
		{BudgetName: aws.String("sales-chat"), BudgetType: btypes.BudgetTypeCost, TimeUnit: btypes.TimeUnitMonthly, BudgetLimit: usdSpend("10000"),
			CalculatedSpend: &btypes.CalculatedSpend{ActualSpend: usdSpend("10250.5"), ForecastedSpend: usdSpend("12000")}},
		{BudgetName: aws.String("claims-trial"), BudgetType: btypes.BudgetTypeCost, TimeUnit: btypes.TimeUnitDaily, BudgetLimit: usdSpend("50")},
	}
	acts := map[string][]btypes.Action{
		"sales-chat": {{ActionId: aws.String("a-1"), ActionType: "BLOCK", Status: btypes.ActionStatusExecutionSuccess, ApprovalModel: btypes.ApprovalModelAuto,
			ActionThreshold: &btypes.ActionThreshold{ActionThresholdType: btypes.ThresholdTypePercentage, ActionThresholdValue: 100}}},
		"claims-trial": {{ActionId: aws.String("a-2"), ActionType: "THROTTLE", Status: btypes.ActionStatusStandby, ApprovalModel: btypes.ApprovalModelManual,
			Definition:      &btypes.Definition{IamActionDefinition: &btypes.IamActionDefinition{PolicyArn: aws.String("60")}},
			ActionThreshold: &btypes.ActionThreshold{ActionThresholdType: btypes.ThresholdTypePercentage, ActionThresholdValue: 90}}},
	}
	at := time.Date(2026, 11, 3, 14, 0, 0, 0, time.UTC)
	alarms := []cwtypes.MetricAlarm{{AlarmName: aws.String("claims-limit"), StateValue: cwtypes.StateValueAlarm, StateUpdatedTimestamp: &at,
		MetricName: aws.String("Invocations"), Statistic: cwtypes.StatisticSum, Period: aws.Int32(3600), EvaluationPeriods: aws.Int32(1),
		Threshold: aws.Float64(1000), ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold, ActionsEnabled: aws.Bool(true),
		AlarmActions: []string{"tollgate:throttle:10"}, TreatMissingData: aws.String("notBreaching"),
		Dimensions: []cwtypes.Dimension{{Name: aws.String("ModelId"), Value: aws.String("a1b2c3d4e5f6")}}, StateReason: aws.String("Threshold Crossed")}}
	profiles := []profileRow{{name: "claims-bot", id: "a1b2c3d4e5f6", arn: "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6",
		typ: "APPLICATION", status: "ACTIVE", model: "anthropic.claude-3-haiku-20240307-v1:0", regions: []string{"us-east-1", "us-west-2"},
		tags: map[string]string{"dept": "claims", "app": "claims_bot"}, created: at}}
	history := []alarm.HistoryItem{{Time: at, Account: "123456789012", AlarmName: "claims-limit", Type: "StateUpdate", Summary: "Alarm updated from OK to ALARM"}}
	mons := []anomaly.Monitor{{ARN: "arn:aws:ce::123456789012:anomalymonitor/m-1", Account: "123456789012", Name: "by-dept", Type: anomaly.Dimensional,
		Dimension: anomaly.DimTag, TagKey: "dept", ValueCount: 4, LastEvaluated: at}}
	subs := []anomaly.Subscription{{ARN: "arn:aws:ce::123456789012:anomalysubscription/s-1", Name: "finance", Frequency: "IMMEDIATE",
		MonitorARNs: []string{mons[0].ARN}, Subscribers: []anomaly.Subscriber{{Type: "EMAIL", Address: "finance@example.com"}},
		Threshold: anomaly.Threshold{Key: anomaly.ImpactPercentage, Value: 20}}}
	historyDS := dataset{cols: []column{{key: "time"}, {key: "account"}, {key: "alarm"}, {key: "type"}, {key: "summary"}}}
	for _, h := range history {
		historyDS.rows = append(historyDS.rows, []any{h.Time, h.Account, h.AlarmName, h.Type, h.Summary})
	}
	var all bytes.Buffer
	for _, tc := range []struct {
		name string
		ds   dataset
	}{
		{"budgets list", budgetsDataset(budgetsAll, acts)},
		{"profiles list", profilesDataset(profiles)},
		{"alarms list", alarmsDataset(alarms)},
		{"alarms history", historyDS},
		{"anomalies monitors", anomalyMonitorsDataset(mons)},
		{"anomalies subscriptions", anomalySubscriptionsDataset(subs, map[string]string{mons[0].ARN: "by-dept"})},
	} {
		for _, f := range outputFormats {
			fmt.Fprintf(&all, "$ tollgate %s -o %s\n", tc.name, f)
			if err := render(&all, f, tc.ds); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, f := range []string{"json", "yaml"} {
		fmt.Fprintf(&all, "$ tollgate budgets show sales-chat -o %s\n", f)
		d := budgetDetail{Account: "123456789012", Budget: budgetsAll[0], Actions: acts["sales-chat"],
			Notifications: []btypes.Notification{{NotificationType: btypes.NotificationTypeActual, ThresholdType: btypes.ThresholdTypePercentage,
				Threshold: 80, NotificationState: btypes.NotificationStateAlarm}},
			Subscribers: [][]btypes.Subscriber{{{SubscriptionType: btypes.SubscriptionTypeSns, Address: aws.String("pagerduty:R0UT1NG")}}}}
		if err := renderObject(&all, f, budgetObject(d)); err != nil {
			t.Fatal(err)
		}
	}
	if got := enforcementText(acts["sales-chat"]); got != "active" {
		t.Errorf("BLOCK executed: enforcement %q, want active", got)
	}
	if got := enforcementText(acts["claims-trial"]); got != "standby" {
		t.Errorf("shadow THROTTLE on standby: enforcement %q, want standby", got)
	}
	golden(t, "formats", all.Bytes())
}

func TestSortBudgetsBySpend(t *testing.T) {
	spend := func(name, amount, unit string) btypes.Budget {
		b := btypes.Budget{BudgetName: aws.String(name)}
		if amount != "" {
			b.CalculatedSpend = &btypes.CalculatedSpend{ActualSpend: &btypes.Spend{Amount: aws.String(amount), Unit: aws.String(unit)}}
		}
		return b
	}
	all := []btypes.Budget{spend("a-tokens", "999999", "Tokens"), spend("b-small", "12.5", "USD"), spend("c-none", "", ""),
		spend("d-big", "4200", "USD"), spend("e-small", "12.5", "USD")}
	sortBudgetsBySpend(all)
	var got []string
	for _, b := range all {
		got = append(got, *b.BudgetName)
	}
	if diff := cmp.Diff(got, []string{"d-big", "b-small", "e-small", "a-tokens", "c-none"}); diff != "" {
		t.Errorf("order (-got +want):\n%s", diff)
	}
}
