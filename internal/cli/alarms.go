package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tollgate-dev/tollgate/internal/alarm"
)

const alarmsUsage = `Usage: tollgate alarms [list] [--state OK|ALARM|INSUFFICIENT_DATA] [--json] [--data-dir D | --store URL]
       tollgate alarms history [--name N] [--type StateUpdate|Action|ConfigurationUpdate] [--limit N] [--json] [--data-dir D | --store URL]

List the CloudWatch alarms (created with PutMetricAlarm) with their state,
condition and actions, or their history, newest first.
`

// alarmsCmd prints the alarms and their history from the data
// directory's database or the PostgreSQL store.
func alarmsCmd(ctx context.Context, args []string, env Env) error {
	stdout := env.Stdout

	sub, args := subcommand(args, "list")
	fs, lf := newStoreFlagSet("tollgate alarms", alarmsUsage, env)
	asJSON := fs.Bool("json", false, "print JSON lines")
	state := fs.String("state", "", "list: only alarms in this state")
	name := fs.String("name", "", "history: only this alarm")
	typ := fs.String("type", "", "history: only items of this type")
	limit := fs.Int("limit", 20, "history: how many items")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if sub != "list" && sub != "history" {
		return fmt.Errorf("unknown alarms command %q", sub)
	}
	db, err := lf.open(ctx, env, false)
	if err != nil {
		return err
	}
	defer db.Close()
	if sub == "history" {
		items, err := db.AlarmHistory(ctx, alarm.HistoryQuery{AlarmName: *name, Type: *typ, Newest: true, Limit: *limit})
		if err != nil {
			return err
		}
		if *asJSON {
			return jsonLines(stdout, items)
		}
		return printAlarmHistory(stdout, items)
	}
	all, err := db.LoadAlarms(ctx)
	if err != nil {
		return err
	}
	if *state != "" && !alarm.State(*state).Valid() {
		return errors.New("--state must be OK, ALARM or INSUFFICIENT_DATA")
	}
	var shown []alarm.Alarm
	for _, a := range all {
		if *state == "" || string(a.State) == *state {
			shown = append(shown, a)
		}
	}
	if *asJSON {
		return jsonLines(stdout, shown)
	}
	return printAlarms(stdout, shown)
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
