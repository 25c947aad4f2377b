package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tollgate-dev/tollgate/internal/anomaly"
	"github.com/tollgate-dev/tollgate/internal/money"
)

const anomaliesUsage = `Usage: tollgate anomalies [list|show ID|monitors|subscriptions] [flags]

Print the cost anomalies Tollgate found (the Cost Explorer anomaly
detection API serves the same), newest first: when each started and
ended (UTC hours), the monitor and value, the score, actual and expected
spend and the impact, and the largest root cause. show prints one
anomaly with all its root causes; monitors and subscriptions list those.
They are read from the SQLite database in --data-dir or, with --store
(or TOLLGATE_STORE), the PostgreSQL database the replicas share.

  --since S      anomalies ending at or after S: a date (2026-03-01), a
                 time (2026-03-01T14:00:00Z) or a duration before now
                 (48h, 7d). Default 7d.
  --monitor M    only this monitor (name or ARN)
  --account A    only monitors of this account
  --min-impact D only anomalies with a total impact of at least D dollars

Examples:
  tollgate anomalies
  tollgate anomalies --since 30d --min-impact 100
  tollgate anomalies show 2f0c3b1e-example --json
  tollgate anomalies monitors
`

// anomaliesCmd is the tollgate anomalies command.
func anomaliesCmd(ctx context.Context, args []string, env Env) error {
	stdout := env.Stdout

	sub, args := subcommand(args, "list")
	fs, lf := newStoreFlagSet("tollgate anomalies", anomaliesUsage, env)
	since := fs.String("since", "7d", "anomalies ending at or after this date, time or duration ago")
	monitor := fs.String("monitor", "", "only this monitor (name or ARN)")
	account := fs.String("account", "", "only monitors of this account")
	minImpact := fs.String("min-impact", "", "only anomalies with at least this total impact (dollars)")
	out := registerOutput(fs)
	if valid := []string{"list", "show", "monitors", "subscriptions"}; !contains(valid, sub) {
		return unknownCommand("anomalies", sub, valid)
	}
	var id string
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if sub == "show" {
		pos, err := nArgs(fs, "anomalies show", "ID")
		if err != nil {
			return err
		}
		id = pos[0]
	} else if err := noArgs(fs, "anomalies "+sub); err != nil {
		return err
	}
	db, err := lf.open(ctx, env, false)
	if err != nil {
		return err
	}
	defer db.Close()
	mons, err := db.AnomalyMonitors(ctx, *account)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, m := range mons {
		names[m.ARN] = m.Name
	}
	switch sub {
	case "monitors":
		if out.format != "table" {
			return render(stdout, out.format, anomalyMonitorsDataset(mons))
		}
		return printAnomalyMonitors(stdout, mons)
	case "subscriptions":
		subs, err := db.AnomalySubscriptions(ctx, *account)
		if err != nil {
			return err
		}
		if out.format != "table" {
			return render(stdout, out.format, anomalySubscriptionsDataset(subs, names))
		}
		return printAnomalySubscriptions(stdout, subs, names)
	case "list", "show":
	default:
		return fmt.Errorf("anomalies: unknown subcommand %q: use list, show, monitors or subscriptions", sub)
	}

	f := anomaly.AnomalyFilter{Account: *account}
	if *monitor != "" {
		f.MonitorARN = *monitor
		for _, m := range mons {
			if m.Name == *monitor {
				f.MonitorARN = m.ARN
			}
		}
	}
	if sub == "list" {
		if f.EndFrom, err = anomalySince(*since, time.Now()); err != nil {
			return err
		}
	}
	as, err := db.Anomalies(ctx, f)
	if err != nil {
		return err
	}
	if *minImpact != "" {
		min, err := money.Parse(*minImpact)
		if err != nil {
			return fmt.Errorf("--min-impact %q: %w", *minImpact, err)
		}
		as = anomalyFilter(as, func(a anomaly.Anomaly) bool { return a.Impact() >= min })
	}
	if sub == "show" {
		as = anomalyFilter(as, func(a anomaly.Anomaly) bool { return a.ID == id })
		if len(as) == 0 {
			return fmt.Errorf("anomalies show: no anomaly %s", id)
		}
		switch out.format {
		case "json", "yaml":
			return renderObject(stdout, out.format, anomalyObject(as[0], names[as[0].MonitorARN]))
		case "csv":
			return render(stdout, out.format, anomaliesDataset(as[:1], names))
		}
		return printAnomaly(stdout, as[0], names[as[0].MonitorARN])
	}
	// Newest first.
	for i, j := 0, len(as)-1; i < j; i, j = i+1, j-1 {
		as[i], as[j] = as[j], as[i]
	}
	if out.format != "table" {
		return render(stdout, out.format, anomaliesDataset(as, names))
	}
	return printAnomalyList(stdout, as, names)
}

func anomalyFilter(as []anomaly.Anomaly, keep func(anomaly.Anomaly) bool) []anomaly.Anomaly {
	out := as[:0]
	for _, a := range as {
		if keep(a) {
			out = append(out, a)
		}
	}
	return out
}

// anomalySince reads --since: a date, a time, or a duration before now
// ("48h", "7d").
func anomalySince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(d, "%d", &n); err == nil && n >= 0 {
			return now.UTC().AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.UTC().Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want a date (2026-03-01), a time (2026-03-01T14:00:00Z) or a duration (48h, 7d)", s)
}

func anomalyHour(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") }

// status says where an anomaly is in its life.
func anomalyStatus(a anomaly.Anomaly) string {
	s := "closed"
	switch {
	case a.Open:
		s = "open"
	case a.Adapted:
		s = "level shift"
	}
	if a.Feedback != "" {
		s += ", " + strings.ToLower(strings.ReplaceAll(string(a.Feedback), "_", " "))
	}
	return s
}

// anomalyCents formats an amount in dollars rounded to the cent ("$12.35").
func anomalyCents(a money.Amount) string {
	sign := ""
	if a < 0 {
		sign, a = "-", -a
	}
	c := (a + money.Cent/2) / money.Cent
	return fmt.Sprintf("%s$%d.%02d", sign, c/100, c%100)
}

func anomalyPercent(a anomaly.Anomaly) string {
	if p, ok := a.ImpactPercentage(); ok {
		return fmt.Sprintf("%+.0f%%", p)
	}
	return "-"
}

func anomalyCause(rc anomaly.RootCause) string {
	prof := rc.ProfileARN
	if i := strings.LastIndex(prof, "/"); i >= 0 {
		prof = prof[i+1:]
	}
	if prof == "" {
		prof = "(direct)"
	}
	return fmt.Sprintf("%s %s %s %s", prof, rc.UsageType, rc.Account, rc.PrincipalID)
}

func printAnomalyList(w io.Writer, as []anomaly.Anomaly, names map[string]string) error {
	if len(as) == 0 {
		fmt.Fprintln(w, "No anomalies.")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "START (UTC)\tEND\tMONITOR\tVALUE\tSCORE\tACTUAL\tEXPECTED\tIMPACT\t%\tSTATUS\tTOP ROOT CAUSE\tID")
	for _, a := range as {
		top := "-"
		if len(a.RootCauses) > 0 {
			top = anomalyCents(a.RootCauses[0].Contribution) + " " + anomalyCause(a.RootCauses[0])
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			anomalyHour(a.Start), anomalyHour(a.End), names[a.MonitorARN], a.DimensionValue, a.MaxScore,
			anomalyCents(a.Actual), anomalyCents(a.Expected), anomalyCents(a.Impact()), anomalyPercent(a), anomalyStatus(a), top, a.ID)
	}
	return tw.Flush()
}

func printAnomaly(w io.Writer, a anomaly.Anomaly, monitorName string) error {
	fmt.Fprintf(w, "Anomaly %s (%s)\n", a.ID, anomalyStatus(a))
	fmt.Fprintf(w, "Monitor:  %s (%s)\n", monitorName, a.MonitorARN)
	fmt.Fprintf(w, "Value:    %s\n", a.DimensionValue)
	fmt.Fprintf(w, "Hours:    %s to %s UTC\n", anomalyHour(a.Start), anomalyHour(a.End))
	fmt.Fprintf(w, "Score:    %.2f (last hour %.2f)\n", a.MaxScore, a.CurrentScore)
	fmt.Fprintf(w, "Spend:    actual $%s, expected $%s\n", a.Actual.Decimal(2), a.Expected.Decimal(2))
	fmt.Fprintf(w, "Impact:   $%s (%s), largest hour $%s\n", a.Impact().Decimal(2), anomalyPercent(a), a.MaxImpact.Decimal(2))
	fmt.Fprintf(w, "Detected: %s, updated %s\n", a.DetectedAt.UTC().Format(time.RFC3339), a.UpdatedAt.UTC().Format(time.RFC3339))
	if len(a.RootCauses) == 0 {
		return nil
	}
	fmt.Fprintln(w, "Root causes:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  CONTRIBUTION\tACCOUNT\tREGION\tUSAGE TYPE\tMODEL\tPROFILE\tPRINCIPAL")
	for _, rc := range a.RootCauses {
		prof := rc.ProfileARN
		if prof == "" {
			prof = "(direct model call)"
		}
		fmt.Fprintf(tw, "  $%s\t%s\t%s\t%s\t%s\t%s\t%s\n", rc.Contribution.Decimal(2), rc.Account, rc.Region, rc.UsageType,
			rc.ModelID, prof, rc.PrincipalID)
	}
	return tw.Flush()
}

func printAnomalyMonitors(w io.Writer, mons []anomaly.Monitor) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTYPE\tWATCHES\tVALUES\tLAST EVALUATED (UTC)\tACCOUNT\tARN")
	for _, m := range mons {
		watches := string(m.Dimension)
		switch {
		case m.Type == anomaly.Custom:
			watches = m.DimensionValue()
		case m.Dimension == anomaly.DimTag:
			watches = "tag " + m.TagKey
		}
		last := "never"
		if !m.LastEvaluated.IsZero() {
			last = anomalyHour(m.LastEvaluated)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", m.Name, m.Type, watches, m.ValueCount, last, m.Account, m.ARN)
	}
	return tw.Flush()
}

func anomalyThreshold(t anomaly.Threshold) string {
	join := func(ts []anomaly.Threshold, op string) string {
		parts := make([]string, len(ts))
		for i, s := range ts {
			parts[i] = anomalyThreshold(s)
		}
		return "(" + strings.Join(parts, " "+op+" ") + ")"
	}
	switch {
	case len(t.And) > 0:
		return join(t.And, "and")
	case len(t.Or) > 0:
		return join(t.Or, "or")
	case t.Key == anomaly.ImpactPercentage:
		return fmt.Sprintf("impact >= %g%%", t.Value)
	}
	return fmt.Sprintf("impact >= $%g", t.Value)
}

func printAnomalySubscriptions(w io.Writer, subs []anomaly.Subscription, names map[string]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tFREQUENCY\tTHRESHOLD\tMONITORS\tSUBSCRIBERS\tARN")
	for _, s := range subs {
		var mons, to []string
		for _, a := range s.MonitorARNs {
			mons = append(mons, names[a])
		}
		for _, sb := range s.Subscribers {
			to = append(to, strings.ToLower(sb.Type)+":"+sb.Address)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Frequency, anomalyThreshold(s.Threshold),
			strings.Join(mons, ", "), strings.Join(to, ", "), s.ARN)
	}
	return tw.Flush()
}

// anomaliesDataset is anomalies list as data.
func anomaliesDataset(as []anomaly.Anomaly, names map[string]string) dataset {
	ds := dataset{cols: []column{{key: "id"}, {key: "start"}, {key: "end"}, {key: "monitor"}, {key: "monitorArn"}, {key: "value"},
		{key: "score", right: true}, {key: "actual", right: true}, {key: "expected", right: true}, {key: "impact", right: true},
		{key: "impactPercent", right: true}, {key: "status"}, {key: "topRootCause"}}}
	for _, a := range as {
		top := ""
		if len(a.RootCauses) > 0 {
			top = anomalyCause(a.RootCauses[0])
		}
		pct := pctCell{}
		if p, ok := a.ImpactPercentage(); ok {
			pct = pctCell{v: p, valid: true, sign: true}
		}
		ds.rows = append(ds.rows, []any{a.ID, a.Start, a.End, names[a.MonitorARN], a.MonitorARN, a.DimensionValue, a.MaxScore,
			usdCell(a.Actual), usdCell(a.Expected), usdCell(a.Impact()), pct, anomalyStatus(a), top})
	}
	return ds
}

// anomalyObject is anomalies show as one lowerCamel object.
func anomalyObject(a anomaly.Anomaly, monitor string) map[string]any {
	causes := []map[string]any{}
	for _, rc := range a.RootCauses {
		causes = append(causes, map[string]any{"contribution": cellData(usdCell(rc.Contribution)), "account": rc.Account,
			"region": rc.Region, "usageType": rc.UsageType, "model": rc.ModelID, "profileArn": rc.ProfileARN, "principal": rc.PrincipalID})
	}
	obj := map[string]any{"id": a.ID, "account": a.Account, "monitor": monitor, "monitorArn": a.MonitorARN,
		"value": a.DimensionValue, "start": cellData(a.Start), "end": cellData(a.End), "open": a.Open, "levelShift": a.Adapted,
		"status": anomalyStatus(a), "maxScore": a.MaxScore, "currentScore": a.CurrentScore,
		"actual": cellData(usdCell(a.Actual)), "expected": cellData(usdCell(a.Expected)), "impact": cellData(usdCell(a.Impact())),
		"maxImpact": cellData(usdCell(a.MaxImpact)), "feedback": string(a.Feedback), "detectedAt": cellData(a.DetectedAt),
		"updatedAt": cellData(a.UpdatedAt), "rootCauses": causes}
	if p, ok := a.ImpactPercentage(); ok {
		obj["impactPercent"] = cellData(pctCell{v: p, valid: true})
	}
	return obj
}

// anomalyMonitorsDataset is anomalies monitors as data.
func anomalyMonitorsDataset(mons []anomaly.Monitor) dataset {
	ds := dataset{cols: []column{{key: "name"}, {key: "type"}, {key: "watches"}, {key: "values", right: true},
		{key: "lastEvaluated"}, {key: "account"}, {key: "arn", header: "ARN"}}}
	for _, m := range mons {
		watches := string(m.Dimension)
		switch {
		case m.Type == anomaly.Custom:
			watches = m.DimensionValue()
		case m.Dimension == anomaly.DimTag:
			watches = "tag " + m.TagKey
		}
		ds.rows = append(ds.rows, []any{m.Name, string(m.Type), watches, int64(m.ValueCount), m.LastEvaluated, m.Account, m.ARN})
	}
	return ds
}

// anomalySubscriptionsDataset is anomalies subscriptions as data.
func anomalySubscriptionsDataset(subs []anomaly.Subscription, names map[string]string) dataset {
	ds := dataset{cols: []column{{key: "name"}, {key: "frequency"}, {key: "threshold"}, {key: "monitors"},
		{key: "subscribers"}, {key: "arn", header: "ARN"}}}
	for _, s := range subs {
		var mons, to []string
		for _, a := range s.MonitorARNs {
			mons = append(mons, names[a])
		}
		for _, sb := range s.Subscribers {
			to = append(to, strings.ToLower(sb.Type)+":"+sb.Address)
		}
		ds.rows = append(ds.rows, []any{s.Name, string(s.Frequency), anomalyThreshold(s.Threshold), mons, to, s.ARN})
	}
	return ds
}
