package cli

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// alarmMetrics are the metrics alarms create accepts.
var alarmMetrics = []string{"Invocations", "InvocationClientErrors", "InvocationServerErrors", "InvocationThrottles",
	"InputTokenCount", "OutputTokenCount", "CacheReadInputTokens", "CacheWriteInputTokens", "InvocationLatency",
	"TimeToFirstToken", "Cost"}

// alarmComparisons maps --comparison to CloudWatch's operators.
var alarmComparisons = map[string]cwtypes.ComparisonOperator{
	">=": cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold, ">": cwtypes.ComparisonOperatorGreaterThanThreshold,
	"<": cwtypes.ComparisonOperatorLessThanThreshold, "<=": cwtypes.ComparisonOperatorLessThanOrEqualToThreshold,
}

// cloudwatchClient returns a CloudWatch SDK client for the flags' server.
func (f *serverFlags) cloudwatchClient(ctx context.Context) (*cloudwatch.Client, error) {
	cfg, err := f.awsConfig(ctx)
	if err != nil {
		return nil, err
	}
	return cloudwatch.NewFromConfig(cfg), nil
}

// alarmsAPICmd runs alarms list, show, create and delete.
func alarmsAPICmd(ctx context.Context, verb string, args []string, env Env) error {
	cmd := "alarms " + verb
	fs := newFlagSet("tollgate "+cmd, alarmsUsage, env)
	var conn serverFlags
	conn.register(fs, env.Getenv)
	out := registerOutput(fs)
	var state, prof, metric, statistic, comparison, description string
	var threshold float64
	var period time.Duration
	var evalPeriods int
	var actions listFlag
	switch verb {
	case "list":
		fs.StringVar(&state, "state", "", "only alarms in this state: OK, ALARM or INSUFFICIENT_DATA")
	case "create":
		fs.StringVar(&prof, "profile", "", "the profile watched (name, id or ARN); required")
		fs.StringVar(&metric, "metric", "", "the metric watched: "+strings.Join(alarmMetrics, ", ")+"; required")
		fs.Float64Var(&threshold, "threshold", 0, "the value the metric is compared with (Cost: USD); required")
		fs.DurationVar(&period, "period", time.Hour, "the period each value covers, a whole number of minutes (1m .. 24h)")
		fs.StringVar(&statistic, "statistic", "Sum", "statistic over each period: Sum, Average, Minimum, Maximum or SampleCount")
		fs.StringVar(&comparison, "comparison", ">=", "comparison with the threshold: >=, >, < or <=")
		fs.IntVar(&evalPeriods, "evaluation-periods", 1, "how many periods in a row must cross the threshold")
		fs.Var(&actions, "action", "alarm action `ACTION`: a webhook URL, tollgate:throttle[:N] or tollgate:disable (repeatable)")
		fs.StringVar(&description, "description", "", "description")
	}
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	var name string
	if verb == "list" {
		if err := noArgs(fs, cmd); err != nil {
			return err
		}
	} else {
		pos, err := nArgs(fs, cmd, "NAME")
		if err != nil {
			return err
		}
		name = pos[0]
	}
	var in *cloudwatch.PutMetricAlarmInput
	switch verb {
	case "list":
		if state != "" && state != "OK" && state != "ALARM" && state != "INSUFFICIENT_DATA" {
			return Usagef(cmd, "%s: --state must be OK, ALARM or INSUFFICIENT_DATA", cmd)
		}
	case "create":
		var err error
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if in, err = alarmInput(cmd, set, name, prof, metric, statistic, comparison, description, threshold, period, evalPeriods, actions); err != nil {
			return err
		}
	}
	c, err := conn.cloudwatchClient(ctx)
	if err != nil {
		return err
	}
	switch verb {
	case "create":
		bc, err := conn.bedrockClient(ctx)
		if err != nil {
			return err
		}
		arn, err := resolveProfile(ctx, bc, prof)
		if err != nil {
			return err
		}
		// The series' ModelId is the profile's id, the last part of its ARN.
		id := arn[strings.LastIndex(arn, "/")+1:]
		in.Dimensions = []cwtypes.Dimension{{Name: aws.String("ModelId"), Value: aws.String(id)}}
		if _, err := c.PutMetricAlarm(ctx, in); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "Created alarm %s on %s of profile %s (%s). Run 'tollgate alarms show %s' to see its state.\n",
			name, metric, prof, id, name)
		return nil
	case "delete":
		if _, err := describeAlarm(ctx, c, name); err != nil {
			return err
		}
		if _, err := c.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{name}}); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "Deleted alarm %s.\n", name)
		return nil
	case "show":
		a, err := describeAlarm(ctx, c, name)
		if err != nil {
			return err
		}
		if out.format == "table" {
			return printMetricAlarm(env, a)
		}
		return render(env.Stdout, out.format, alarmsDataset([]cwtypes.MetricAlarm{a}))
	}
	var all []cwtypes.MetricAlarm
	p := cloudwatch.NewDescribeAlarmsPaginator(c, &cloudwatch.DescribeAlarmsInput{StateValue: cwtypes.StateValue(state)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		all = append(all, page.MetricAlarms...)
	}
	return render(env.Stdout, out.format, alarmsDataset(all))
}

// alarmInput checks create's flags (set names those given) and builds
// its request; the dimension is added once the profile is resolved.
func alarmInput(cmd string, set map[string]bool, name, prof, metric, statistic, comparison, description string,
	threshold float64, period time.Duration, evalPeriods int, actions []string) (*cloudwatch.PutMetricAlarmInput, error) {
	for _, req := range []string{"profile", "metric", "threshold"} {
		if !set[req] {
			return nil, Usagef(cmd, "%s: --%s is required", cmd, req)
		}
	}
	if !contains(alarmMetrics, metric) {
		ue := &UsageError{Cmd: cmd, Msg: fmt.Sprintf("%s: unknown metric %q", cmd, metric)}
		if s := closest(metric, alarmMetrics); s != "" {
			ue.Hint = "Did you mean --metric " + s + "?"
		} else {
			ue.Hint = "Metrics: " + strings.Join(alarmMetrics, ", ") + "."
		}
		return nil, ue
	}
	if period < time.Minute || period > 24*time.Hour || period%time.Minute != 0 {
		return nil, Usagef(cmd, "%s: --period %s is not a whole number of minutes from 1m to 24h", cmd, period)
	}
	op, ok := alarmComparisons[comparison]
	if !ok {
		return nil, Usagef(cmd, "%s: --comparison must be >=, >, < or <=, not %q", cmd, comparison)
	}
	stats := []string{"Sum", "Average", "Minimum", "Maximum", "SampleCount"}
	if !contains(stats, statistic) {
		return nil, Usagef(cmd, "%s: --statistic must be one of %s, not %q", cmd, strings.Join(stats, ", "), statistic)
	}
	if evalPeriods < 1 {
		return nil, Usagef(cmd, "%s: --evaluation-periods must be at least 1", cmd)
	}
	in := &cloudwatch.PutMetricAlarmInput{AlarmName: &name, Namespace: aws.String("AWS/Bedrock"), MetricName: &metric,
		Statistic: cwtypes.Statistic(statistic), Period: aws.Int32(int32(period / time.Second)), Threshold: &threshold,
		ComparisonOperator: op, EvaluationPeriods: aws.Int32(int32(evalPeriods)), AlarmActions: actions,
		ActionsEnabled: aws.Bool(true), TreatMissingData: aws.String("notBreaching")}
	if description != "" {
		in.AlarmDescription = &description
	}
	return in, nil
}

// describeAlarm returns the metric alarm named name, or an error saying
// there is none.
func describeAlarm(ctx context.Context, c *cloudwatch.Client, name string) (cwtypes.MetricAlarm, error) {
	out, err := c.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{name}})
	if err != nil {
		return cwtypes.MetricAlarm{}, err
	}
	if len(out.MetricAlarms) == 0 {
		return cwtypes.MetricAlarm{}, fmt.Errorf("no alarm named %q (tollgate alarms lists them)", name)
	}
	return out.MetricAlarms[0], nil
}

// alarmCondition describes what an alarm watches as the offline list
// does, e.g. "Sum(Invocations{ModelId=abc}) >= 1000 for 1 of 1 x 3600s
// (missing: notBreaching)".
func alarmCondition(a cwtypes.MetricAlarm) string {
	var dims []string
	for _, d := range a.Dimensions {
		dims = append(dims, aws.ToString(d.Name)+"="+aws.ToString(d.Value))
	}
	op := "?"
	for k, v := range alarmComparisons {
		if v == a.ComparisonOperator {
			op = k
		}
	}
	stat := string(a.Statistic)
	if stat == "" {
		stat = aws.ToString(a.ExtendedStatistic)
	}
	n := aws.ToInt32(a.EvaluationPeriods)
	m := n
	if a.DatapointsToAlarm != nil {
		m = *a.DatapointsToAlarm
	}
	missing := aws.ToString(a.TreatMissingData)
	if missing == "" {
		missing = "missing"
	}
	return fmt.Sprintf("%s(%s{%s}) %s %s for %d of %d x %ds (missing: %s)", stat, aws.ToString(a.MetricName), strings.Join(dims, ","), op,
		strconv.FormatFloat(aws.ToFloat64(a.Threshold), 'f', -1, 64), m, n, aws.ToInt32(a.Period), missing)
}

func alarmsDataset(all []cwtypes.MetricAlarm) dataset {
	ds := dataset{cols: []column{{key: "name"}, {key: "state"}, {key: "since"}, {key: "condition"}, {key: "actions"}, {key: "reason"}},
		empty: "No alarms."}
	for _, a := range all {
		var since any
		if a.StateUpdatedTimestamp != nil {
			since = a.StateUpdatedTimestamp.UTC()
		}
		actions := a.AlarmActions
		if !aws.ToBool(a.ActionsEnabled) {
			actions = []string{"(disabled)"}
		}
		reason := aws.ToString(a.StateReason)
		if len(reason) > 80 {
			reason = reason[:77] + "..."
		}
		ds.rows = append(ds.rows, []any{aws.ToString(a.AlarmName), string(a.StateValue), since, alarmCondition(a), actions, reason})
	}
	return ds
}

func printMetricAlarm(env Env, a cwtypes.MetricAlarm) error {
	w := env.Stdout
	fmt.Fprintf(w, "Alarm:      %s\n", aws.ToString(a.AlarmName))
	fmt.Fprintf(w, "ARN:        %s\n", aws.ToString(a.AlarmArn))
	since := "-"
	if a.StateUpdatedTimestamp != nil {
		since = a.StateUpdatedTimestamp.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(w, "State:      %s since %s\n", a.StateValue, since)
	fmt.Fprintf(w, "Reason:     %s\n", cellText(aws.ToString(a.StateReason)))
	fmt.Fprintf(w, "Condition:  %s\n", alarmCondition(a))
	fmt.Fprintf(w, "Actions:    %s (enabled: %t)\n", cellText(a.AlarmActions), aws.ToBool(a.ActionsEnabled))
	_, err := fmt.Fprintf(w, "Missing:    %s\n", cellText(aws.ToString(a.TreatMissingData)))
	return err
}
