package cli

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/budgets"
	btypes "github.com/aws/aws-sdk-go-v2/service/budgets/types"

	"github.com/tollgate-dev/tollgate/internal/money"
)

const budgetsUsage = `Usage: tollgate budgets [list] [flags]
       tollgate budgets show NAME [flags]
       tollgate budgets create|update|delete NAME [flags]   (tollgate help budgets create)

List the budgets of an account with their spend this period, forecast, a
bar and whether their enforcement is active, or show one budget: its
scope, notifications, actions and the history of its periods. It talks to
the running Tollgate through the Budgets API (the data directory's
endpoint and credentials), so your policies authorize it.

Bars: # actual spend, = forecast beyond it, . the rest of the limit; the
bar ends in ! when spend passes the limit. An enforcement is active when
the Budgets API reports its action executed (not STANDBY).

Examples:
  tollgate budgets
  tollgate budgets show sales-chat
  tollgate budgets list -o json
  tollgate budgets --endpoint http://127.0.0.1:8080 --credentials ~/.aws/credentials
`

// budgetsVerbs are budgets' subcommands.
var budgetsVerbs = []string{"list", "show", "create", "update", "delete"}

// budgetsCmd is `tollgate budgets`.
func budgetsCmd(ctx context.Context, args []string, env Env) error {
	stdout, getenv := env.Stdout, env.Getenv
	verb, args := subcommand(args, "list")
	switch verb {
	case "create", "update", "delete":
		return budgetsEditCmd(ctx, verb, args, env)
	case "list", "show":
	default:
		return unknownCommand("budgets", verb, budgetsVerbs)
	}
	fs := newFlagSet("tollgate budgets "+verb, budgetsUsage, env)
	var conn serverFlags
	conn.register(fs, getenv)
	account := fs.String("account", getenv("TOLLGATE_ACCOUNT_ID"), "account id (default: the caller's)")
	out := registerOutput(fs)
	width := fs.Int("width", 30, "bar width in characters")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	var name string
	if verb == "show" {
		pos, err := nArgs(fs, "budgets show", "NAME")
		if err != nil {
			return err
		}
		name = pos[0]
	} else if err := noArgs(fs, "budgets list"); err != nil {
		return err
	}
	client, err := conn.budgetsClient(ctx)
	if err != nil {
		return err
	}
	if *account == "" {
		if *account, err = conn.callerAccount(ctx); err != nil {
			return err
		}
	}
	if verb == "list" {
		return budgetsList(ctx, client, *account, out.format, *width, stdout)
	}
	return budgetShow(ctx, client, *account, name, out.format, *width, stdout)
}

// budgetsClient returns a Budgets SDK client for the flags' endpoint and
// credentials.
func (f *serverFlags) budgetsClient(ctx context.Context) (*budgets.Client, error) {
	cfg, err := f.awsConfig(ctx)
	if err != nil {
		return nil, err
	}
	return budgets.NewFromConfig(cfg), nil
}

// callerAccount asks the admin API which account the credentials belong
// to.
func (f *serverFlags) callerAccount(ctx context.Context) (string, error) {
	c, err := f.adminClient(ctx)
	if err != nil {
		return "", err
	}
	ps, err := c.ListPrincipals(ctx, "")
	if err != nil || len(ps) == 0 {
		return "", fmt.Errorf("cannot tell the caller's account (%v): give --account", err)
	}
	return ps[0].Account, nil
}

func amountOf(s *btypes.Spend) float64 {
	if s == nil || s.Amount == nil {
		return math.NaN()
	}
	v, err := strconv.ParseFloat(*s.Amount, 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

// spendText formats a Spend as "$12.34" or "1200 Tokens"; "-" when absent.
func spendText(s *btypes.Spend) string {
	v := amountOf(s)
	if math.IsNaN(v) {
		return "-"
	}
	if aws.ToString(s.Unit) == "USD" {
		a, err := money.Parse(*s.Amount)
		if err == nil {
			return "$" + a.Decimal(2)
		}
	}
	return *s.Amount + " " + aws.ToString(s.Unit)
}

// bar draws actual and forecast against limit in width cells.
func bar(actual, forecast, limit float64, width int) string {
	if width < 1 || math.IsNaN(actual) || limit <= 0 || math.IsNaN(limit) {
		return ""
	}
	cell := func(v float64) int {
		if math.IsNaN(v) || v <= 0 {
			return 0
		}
		return min(width, int(math.Round(v/limit*float64(width))))
	}
	a, f := cell(actual), cell(forecast)
	f = max(f, a)
	b := strings.Repeat("#", a) + strings.Repeat("=", f-a) + strings.Repeat(".", width-f)
	end := "]"
	if actual > limit {
		end = "!"
	}
	return "[" + b + end
}

func percent(v, limit float64) string {
	if math.IsNaN(v) || limit <= 0 || math.IsNaN(limit) {
		return "-"
	}
	return strconv.FormatFloat(100*v/limit, 'f', 0, 64) + "%"
}

func limitOf(b btypes.Budget) *btypes.Spend {
	if b.BudgetLimit != nil {
		return b.BudgetLimit
	}
	// Planned limits: the latest period start not after now, else the
	// first.
	now := time.Now().Unix()
	var best *btypes.Spend
	bestKey, firstKey := int64(math.MinInt64), int64(math.MaxInt64)
	for k, s := range b.PlannedBudgetLimits {
		v, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			continue
		}
		if v <= now && v > bestKey || bestKey == math.MinInt64 && v < firstKey {
			best = &s
			if v <= now {
				bestKey = v
			} else {
				firstKey = v
			}
		}
	}
	return best
}

// actionsText summarises a budget's actions: "BLOCK@100%* THROTTLE(60/min)@80%"
// (* when in force).
func actionsText(acts []btypes.Action) string {
	var parts []string
	for _, a := range acts {
		s := string(a.ActionType)
		if a.Definition != nil && a.Definition.IamActionDefinition != nil && a.Definition.IamActionDefinition.PolicyArn != nil {
			arg := *a.Definition.IamActionDefinition.PolicyArn
			if a.ActionType == "THROTTLE" {
				arg = rateText(arg)
			}
			s += "(" + arg + ")"
		}
		if t := a.ActionThreshold; t != nil {
			v := strconv.FormatFloat(t.ActionThresholdValue, 'f', -1, 64)
			if t.ActionThresholdType == btypes.ThresholdTypePercentage {
				v += "%"
			} else {
				v = "$" + v
			}
			s += "@" + v
		}
		if a.ApprovalModel == btypes.ApprovalModelManual {
			s += "[shadow]"
		}
		if actionActive(a) {
			s += "*"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func budgetsList(ctx context.Context, c *budgets.Client, account string, format string, width int, w io.Writer) error {
	var all []btypes.Budget
	p := budgets.NewDescribeBudgetsPaginator(c, &budgets.DescribeBudgetsInput{AccountId: &account})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		all = append(all, out.Budgets...)
	}
	sortBudgetsBySpend(all)
	actions := map[string][]btypes.Action{}
	for _, b := range all {
		out, err := c.DescribeBudgetActionsForBudget(ctx, &budgets.DescribeBudgetActionsForBudgetInput{AccountId: &account, BudgetName: b.BudgetName})
		if err != nil {
			return err
		}
		actions[aws.ToString(b.BudgetName)] = out.Actions
	}
	if format != "table" {
		return render(w, format, budgetsDataset(all, actions))
	}
	return printBudgets(w, account, all, actions, width)
}

// printBudgets writes the budgets of account as a table with their
// actions (by budget name) and a bar width cells wide.
func printBudgets(w io.Writer, account string, all []btypes.Budget, actions map[string][]btypes.Action, width int) error {
	if len(all) == 0 {
		fmt.Fprintf(w, "No budgets in account %s.\n", account)
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTYPE\tPERIOD\tLIMIT\tACTUAL\tFORECAST\tUSED\t\tENFORCEMENT\tACTIONS")
	for _, b := range all {
		lim := limitOf(b)
		var act, fc *btypes.Spend
		if b.CalculatedSpend != nil {
			act, fc = b.CalculatedSpend.ActualSpend, b.CalculatedSpend.ForecastedSpend
		}
		acts := actions[aws.ToString(b.BudgetName)]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", aws.ToString(b.BudgetName), b.BudgetType, b.TimeUnit,
			spendText(lim), spendText(act), spendText(fc), percent(amountOf(act), amountOf(lim)),
			bar(amountOf(act), amountOf(fc), amountOf(lim), width), enforcementText(acts), orDash(actionsText(acts)))
	}
	return tw.Flush()
}

func budgetShow(ctx context.Context, c *budgets.Client, account, name string, format string, width int, w io.Writer) error {
	d, err := c.DescribeBudget(ctx, &budgets.DescribeBudgetInput{AccountId: &account, BudgetName: &name, ShowFilterExpression: aws.Bool(true)})
	if err != nil {
		return err
	}
	ns, err := c.DescribeNotificationsForBudget(ctx, &budgets.DescribeNotificationsForBudgetInput{AccountId: &account, BudgetName: &name})
	if err != nil {
		return err
	}
	subs := make([][]btypes.Subscriber, len(ns.Notifications))
	for i := range ns.Notifications {
		out, err := c.DescribeSubscribersForNotification(ctx, &budgets.DescribeSubscribersForNotificationInput{AccountId: &account, BudgetName: &name, Notification: &ns.Notifications[i]})
		if err != nil {
			return err
		}
		subs[i] = out.Subscribers
	}
	acts, err := c.DescribeBudgetActionsForBudget(ctx, &budgets.DescribeBudgetActionsForBudgetInput{AccountId: &account, BudgetName: &name})
	if err != nil {
		return err
	}
	b := *d.Budget
	var history []btypes.BudgetedAndActualAmounts
	if b.TimeUnit != btypes.TimeUnitAnnually && b.TimeUnit != btypes.TimeUnitCustom {
		p := budgets.NewDescribeBudgetPerformanceHistoryPaginator(c, &budgets.DescribeBudgetPerformanceHistoryInput{AccountId: &account, BudgetName: &name})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return err
			}
			if out.BudgetPerformanceHistory != nil {
				history = append(history, out.BudgetPerformanceHistory.BudgetedAndActualAmountsList...)
			}
		}
	}
	d2 := budgetDetail{Account: account, Budget: b, Notifications: ns.Notifications, Subscribers: subs,
		Actions: acts.Actions, History: history}
	switch format {
	case "json", "yaml":
		return renderObject(w, format, budgetObject(d2))
	case "csv":
		return render(w, format, budgetsDataset([]btypes.Budget{b}, map[string][]btypes.Action{name: acts.Actions}))
	}
	return printBudget(w, d2, width)
}

// budgetDetail is one budget as budgets show reads it.
type budgetDetail struct {
	Account       string
	Budget        btypes.Budget
	Notifications []btypes.Notification
	Subscribers   [][]btypes.Subscriber // per notification
	Actions       []btypes.Action
	History       []btypes.BudgetedAndActualAmounts
}

// printBudget writes one budget: limit, spend and forecast with a bar
// width cells wide, scope, notifications, actions and history.
func printBudget(w io.Writer, d budgetDetail, width int) error {
	b, name, account, subs, history := d.Budget, aws.ToString(d.Budget.BudgetName), d.Account, d.Subscribers, d.History
	lim := limitOf(b)
	var act, fc *btypes.Spend
	if b.CalculatedSpend != nil {
		act, fc = b.CalculatedSpend.ActualSpend, b.CalculatedSpend.ForecastedSpend
	}
	fmt.Fprintf(w, "Budget:    %s (%s, %s, account %s)\n", name, b.BudgetType, b.TimeUnit, account)
	if tp := b.TimePeriod; tp != nil && tp.Start != nil && tp.End != nil {
		fmt.Fprintf(w, "Time:      %s to %s\n", tp.Start.UTC().Format(time.DateOnly), tp.End.UTC().Format(time.DateOnly))
	}
	fmt.Fprintf(w, "Limit:     %s\n", spendText(lim))
	fmt.Fprintf(w, "Actual:    %s (%s)\n", spendText(act), percent(amountOf(act), amountOf(lim)))
	fmt.Fprintf(w, "Forecast:  %s (%s)\n", spendText(fc), percent(amountOf(fc), amountOf(lim)))
	fmt.Fprintf(w, "           %s\n", bar(amountOf(act), amountOf(fc), amountOf(lim), width))
	switch {
	case b.FilterExpression != nil:
		fmt.Fprintf(w, "Scope:     %s\n", exprText(b.FilterExpression))
	case len(b.CostFilters) > 0:
		keys := make([]string, 0, len(b.CostFilters))
		for k := range b.CostFilters {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, k+"="+strings.Join(b.CostFilters[k], ","))
		}
		fmt.Fprintf(w, "Scope:     %s\n", strings.Join(parts, " AND "))
	default:
		fmt.Fprintf(w, "Scope:     all usage\n")
	}
	if len(d.Notifications) > 0 {
		fmt.Fprintln(w, "Notifications:")
		for i, n := range d.Notifications {
			th := strconv.FormatFloat(n.Threshold, 'f', -1, 64)
			if n.ThresholdType == btypes.ThresholdTypeAbsoluteValue {
				th = "$" + th
			} else {
				th += "%"
			}
			var to []string
			for _, s := range subs[i] {
				to = append(to, string(s.SubscriptionType)+" "+aws.ToString(s.Address))
			}
			fmt.Fprintf(w, "  %s %s %s  [%s]  -> %s\n", n.NotificationType, n.ComparisonOperator, th, n.NotificationState, strings.Join(to, ", "))
		}
	}
	if len(d.Actions) > 0 {
		fmt.Fprintln(w, "Actions:")
		for _, a := range d.Actions {
			fmt.Fprintf(w, "  %s  %s (status %s, action %s)\n", actionsText([]btypes.Action{a}), enforcementText([]btypes.Action{a}), a.Status, aws.ToString(a.ActionId))
		}
	}
	if len(history) > 0 {
		fmt.Fprintln(w, "History:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  PERIOD\tBUDGETED\tACTUAL\tUSED\t")
		for _, h := range history {
			period := "-"
			if h.TimePeriod != nil && h.TimePeriod.Start != nil && h.TimePeriod.End != nil {
				period = h.TimePeriod.Start.UTC().Format(time.DateOnly) + ".." + h.TimePeriod.End.UTC().Format(time.DateOnly)
			}
			a, l := amountOf(h.ActualAmount), amountOf(h.BudgetedAmount)
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", period, spendText(h.BudgetedAmount), spendText(h.ActualAmount), percent(a, l), bar(a, math.NaN(), l, width))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// exprText writes a budgets filter expression compactly.
func exprText(e *btypes.Expression) string {
	join := func(list []btypes.Expression, op string) string {
		var parts []string
		for i := range list {
			parts = append(parts, exprText(&list[i]))
		}
		return "(" + strings.Join(parts, " "+op+" ") + ")"
	}
	switch {
	case e.And != nil:
		return join(e.And, "AND")
	case e.Or != nil:
		return join(e.Or, "OR")
	case e.Not != nil:
		return "NOT " + exprText(e.Not)
	case e.Dimensions != nil:
		return string(e.Dimensions.Key) + optsText(e.Dimensions.MatchOptions) + "=" + strings.Join(e.Dimensions.Values, ",")
	case e.Tags != nil:
		return "tag:" + aws.ToString(e.Tags.Key) + optsText(e.Tags.MatchOptions) + "=" + strings.Join(e.Tags.Values, ",")
	}
	return "?"
}

func optsText(opts []btypes.MatchOption) string {
	if len(opts) == 0 {
		return ""
	}
	var s []string
	for _, o := range opts {
		s = append(s, string(o))
	}
	return "[" + strings.Join(s, ",") + "]"
}

// actionActive reports whether the Budgets API says an action is in
// force: any status but STANDBY (EXECUTION_SUCCESS, or a pending or
// executing state AWS reports on its way there).
func actionActive(a btypes.Action) bool {
	switch a.Status {
	case btypes.ActionStatusStandby, btypes.ActionStatusResetInProgress, btypes.ActionStatusResetFailure, btypes.ActionStatusReverseSuccess, "":
		return false
	}
	return true
}

// enforcementText says whether a budget's enforcement is active: "active"
// (an action executed), "shadow" (a shadow-mode action executed: counting,
// refusing nothing), "standby", or "-" without actions.
func enforcementText(acts []btypes.Action) string {
	if len(acts) == 0 {
		return "-"
	}
	state := "standby"
	for _, a := range acts {
		if !actionActive(a) {
			continue
		}
		if a.ApprovalModel == btypes.ApprovalModelManual {
			if state == "standby" {
				state = "shadow"
			}
			continue
		}
		state = "active"
	}
	return state
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// spendCell is a Spend as a dataset cell: money in USD, else its amount
// and unit.
func spendCell(s *btypes.Spend) any {
	if s == nil || s.Amount == nil {
		return nil
	}
	if aws.ToString(s.Unit) == "USD" {
		if a, err := money.Parse(*s.Amount); err == nil {
			return usdCell(a)
		}
	}
	return *s.Amount + " " + aws.ToString(s.Unit)
}

// budgetsDataset is budgets list as data.
func budgetsDataset(all []btypes.Budget, actions map[string][]btypes.Action) dataset {
	ds := dataset{cols: []column{{key: "name"}, {key: "type"}, {key: "period"},
		{key: "limit", header: "LIMIT (USD)", right: true}, {key: "actual", header: "ACTUAL (USD)", right: true},
		{key: "forecast", header: "FORECAST (USD)", right: true}, {key: "used", right: true},
		{key: "enforcement"}, {key: "actions"}}}
	for _, b := range all {
		lim := limitOf(b)
		var act, fc *btypes.Spend
		if b.CalculatedSpend != nil {
			act, fc = b.CalculatedSpend.ActualSpend, b.CalculatedSpend.ForecastedSpend
		}
		used := pctCell{}
		if a, l := amountOf(act), amountOf(lim); !math.IsNaN(a) && !math.IsNaN(l) && l > 0 {
			used = pctCell{v: 100 * a / l, valid: true}
		}
		acts := actions[aws.ToString(b.BudgetName)]
		ds.rows = append(ds.rows, []any{aws.ToString(b.BudgetName), string(b.BudgetType), string(b.TimeUnit),
			spendCell(lim), spendCell(act), spendCell(fc), used, enforcementText(acts), actionsText(acts)})
	}
	return ds
}

// budgetObject is budgets show as one lowerCamel object.
func budgetObject(d budgetDetail) map[string]any {
	b := d.Budget
	lim := limitOf(b)
	var act, fc *btypes.Spend
	if b.CalculatedSpend != nil {
		act, fc = b.CalculatedSpend.ActualSpend, b.CalculatedSpend.ForecastedSpend
	}
	scope := "all usage"
	if b.FilterExpression != nil {
		scope = exprText(b.FilterExpression)
	}
	var notes []map[string]any
	for i, n := range d.Notifications {
		var to []string
		for _, s := range d.Subscribers[i] {
			to = append(to, string(s.SubscriptionType)+" "+aws.ToString(s.Address))
		}
		th := strconv.FormatFloat(n.Threshold, 'f', -1, 64)
		if n.ThresholdType == btypes.ThresholdTypePercentage {
			th += "%"
		} else {
			th += " USD"
		}
		notes = append(notes, map[string]any{"type": string(n.NotificationType), "threshold": th, "state": string(n.NotificationState), "subscribers": to})
	}
	var acts []map[string]any
	for _, a := range d.Actions {
		acts = append(acts, map[string]any{"id": aws.ToString(a.ActionId), "action": actionsText([]btypes.Action{a}),
			"status": string(a.Status), "active": actionActive(a), "shadow": a.ApprovalModel == btypes.ApprovalModelManual})
	}
	cell := func(s *btypes.Spend) any { return cellData(spendCell(s)) }
	return map[string]any{"account": d.Account, "name": aws.ToString(b.BudgetName), "type": string(b.BudgetType),
		"period": string(b.TimeUnit), "limit": cell(lim), "actual": cell(act), "forecast": cell(fc), "scope": scope,
		"enforcement": enforcementText(d.Actions), "notifications": notes, "actions": acts}
}

// sortBudgetsBySpend orders budgets by actual spend in USD, the highest
// first; budgets in other units (tokens) and without spend follow, by
// name.
func sortBudgetsBySpend(all []btypes.Budget) {
	spend := func(b btypes.Budget) float64 {
		if b.CalculatedSpend == nil || b.CalculatedSpend.ActualSpend == nil || aws.ToString(b.CalculatedSpend.ActualSpend.Unit) != "USD" {
			return math.Inf(-1)
		}
		if v := amountOf(b.CalculatedSpend.ActualSpend); !math.IsNaN(v) {
			return v
		}
		return math.Inf(-1)
	}
	sort.SliceStable(all, func(i, j int) bool {
		si, sj := spend(all[i]), spend(all[j])
		if si != sj {
			return si > sj
		}
		return aws.ToString(all[i].BudgetName) < aws.ToString(all[j].BudgetName)
	})
}
