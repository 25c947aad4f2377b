package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tollgate-dev/tollgate/internal/alarm"
)

const alarmsUsage = `Usage: tollgate alarms [list] [--state OK|ALARM|INSUFFICIENT_DATA] [flags]
       tollgate alarms show NAME [flags]
       tollgate alarms create NAME --profile P --metric M --threshold N [--period 1h] [flags]
       tollgate alarms delete NAME [flags]
       tollgate alarms history [--name N] [--type StateUpdate|Action|ConfigurationUpdate] [--limit N] [flags]

Manage the CloudWatch alarms on Tollgate's per-profile metrics (namespace
AWS/Bedrock, dimension ModelId = the profile's id). list, show, create and
delete go through the CloudWatch API of the running Tollgate with your
credentials (cloudwatch:DescribeAlarms, PutMetricAlarm, DeleteAlarms);
history reads the database offline (--data-dir or --store).

create watches one metric of one profile: Invocations,
InvocationClientErrors, InvocationServerErrors, InvocationThrottles,
InputTokenCount, OutputTokenCount, InvocationLatency or Cost (USD),
summed (or --statistic) over --period, and goes to ALARM when it crosses
--threshold (--comparison, default >=) for --evaluation-periods periods.
--action (repeatable) runs when it does: a webhook URL, tollgate:throttle,
tollgate:throttle:N (N calls a minute get through) or tollgate:disable.

Examples:
  tollgate alarms
  tollgate alarms create claims-limit --profile claims-bot --metric Invocations --threshold 1000 --period 1h
  tollgate alarms create claims-cost --profile claims-bot --metric Cost --threshold 50 --period 1d \
      --action tollgate:throttle:10
  tollgate alarms show claims-limit -o json
  tollgate alarms history --name claims-limit
  tollgate alarms delete claims-limit
`

// alarmsVerbs are alarms' subcommands.
var alarmsVerbs = []string{"list", "show", "create", "delete", "history"}

// alarmsCmd runs tollgate alarms: list, show, create and delete through
// the CloudWatch API; history from the database offline.
func alarmsCmd(ctx context.Context, args []string, env Env) error {
	sub, args := subcommand(args, "list")
	switch sub {
	case "history":
		return alarmHistoryCmd(ctx, args, env)
	case "list":
		// --store reads the fleet's database offline, as history does.
		for _, a := range args {
			if a == "--store" || a == "-store" || strings.HasPrefix(a, "--store=") || strings.HasPrefix(a, "-store=") {
				return alarmsOfflineList(ctx, args, env)
			}
		}
		return alarmsAPICmd(ctx, sub, args, env)
	case "show", "create", "delete":
		return alarmsAPICmd(ctx, sub, args, env)
	}
	return unknownCommand("alarms", sub, alarmsVerbs)
}

// alarmHistoryCmd prints alarm history items from the data directory's
// database or the PostgreSQL store, offline (a bulk read of what the
// alarm evaluator recorded).
func alarmHistoryCmd(ctx context.Context, args []string, env Env) error {
	fs, lf := newStoreFlagSet("tollgate alarms history", alarmsUsage, env)
	out := registerOutput(fs)
	name := fs.String("name", "", "only this alarm")
	typ := fs.String("type", "", "only items of this type: StateUpdate, Action or ConfigurationUpdate")
	limit := fs.Int("limit", 20, "how many items (newest first)")
	short(fs, "n", "limit")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs, "alarms history"); err != nil {
		return err
	}
	db, err := lf.open(ctx, env, false)
	if err != nil {
		return err
	}
	defer db.Close()
	items, err := db.AlarmHistory(ctx, alarm.HistoryQuery{AlarmName: *name, Type: *typ, Newest: true, Limit: *limit})
	if err != nil {
		return err
	}
	if out.format == "table" {
		return printAlarmHistory(env.Stdout, items)
	}
	ds := dataset{cols: []column{{key: "time"}, {key: "account"}, {key: "alarm"}, {key: "type"}, {key: "summary"}}}
	for _, h := range items {
		ds.rows = append(ds.rows, []any{h.Time, h.Account, h.AlarmName, h.Type, h.Summary})
	}
	return render(env.Stdout, out.format, ds)
}

// alarmsOfflineList is alarms list --store: the alarms stored in the
// PostgreSQL database the replicas share, read offline.
func alarmsOfflineList(ctx context.Context, args []string, env Env) error {
	fs, lf := newStoreFlagSet("tollgate alarms list", alarmsUsage, env)
	out := registerOutput(fs)
	state := fs.String("state", "", "only alarms in this state: OK, ALARM or INSUFFICIENT_DATA")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs, "alarms list"); err != nil {
		return err
	}
	if *state != "" && !alarm.State(*state).Valid() {
		return Usagef("alarms list", "alarms list: --state must be OK, ALARM or INSUFFICIENT_DATA")
	}
	db, err := lf.open(ctx, env, false)
	if err != nil {
		return err
	}
	defer db.Close()
	all, err := db.LoadAlarms(ctx)
	if err != nil {
		return err
	}
	var shown []alarm.Alarm
	for _, a := range all {
		if *state == "" || string(a.State) == *state {
			shown = append(shown, a)
		}
	}
	if out.format == "table" {
		return printAlarms(env.Stdout, shown)
	}
	ds := dataset{cols: []column{{key: "account"}, {key: "name"}, {key: "state"}, {key: "since"}, {key: "condition"}, {key: "actions"}, {key: "reason"}}}
	for _, a := range shown {
		ds.rows = append(ds.rows, []any{a.Account, a.Name, string(a.State), a.StateTransitioned, condition(a), a.Actions(a.State), a.StateReason})
	}
	return render(env.Stdout, out.format, ds)
}

// printAlarmHistory writes alarm history items as a table.
func printAlarmHistory(w io.Writer, items []alarm.HistoryItem) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tACCOUNT\tALARM\tTYPE\tSUMMARY")
	for _, h := range items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", h.Time.Format(time.RFC3339), h.Account, h.AlarmName, h.Type, h.Summary)
	}
	return tw.Flush()
}

// printAlarms writes alarms as a table: state, condition, actions and
// the reason of the last change, cut to 80 bytes.
func printAlarms(w io.Writer, alarms []alarm.Alarm) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tALARM\tSTATE\tSINCE\tCONDITION\tACTIONS\tREASON")
	for _, a := range alarms {
		actions := strings.Join(a.Actions(a.State), " ")
		if !a.ActionsEnabled {
			actions = "(disabled)"
		} else if actions == "" {
			actions = "-"
		}
		reason := a.StateReason
		if len(reason) > 80 {
			reason = reason[:77] + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Account, a.Name, a.State, a.StateTransitioned.Format(time.RFC3339),
			condition(a), actions, reason)
	}
	return tw.Flush()
}

// condition describes what an alarm watches, e.g.
// "Sum(Invocations{ModelId=abc}) > 100 for 2 of 3 x 60s".
func condition(a alarm.Alarm) string {
	var dims []string
	for _, d := range a.Dimensions {
		dims = append(dims, d.Name+"="+d.Value)
	}
	op := map[string]string{alarm.GreaterThanOrEqualToThreshold: ">=", alarm.GreaterThanThreshold: ">",
		alarm.LessThanThreshold: "<", alarm.LessThanOrEqualToThreshold: "<="}[a.ComparisonOperator]
	return fmt.Sprintf("%s(%s{%s}) %s %g for %d of %d x %ds (missing: %s)", a.Stat(), a.MetricName, strings.Join(dims, ","),
		op, a.Threshold, a.M(), a.EvaluationPeriods, int(a.Period/time.Second), a.Treat())
}
