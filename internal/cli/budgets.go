package cli

import (
	"context"
	"errors"
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

List the budgets of an account with their spend this period, forecast and
a bar, or show one budget: its scope, notifications, actions and the
history of its periods. It talks to the running Tollgate through the
Budgets API (the data directory's endpoint and credentials).

Bars: # actual spend, = forecast beyond it, . the rest of the limit; the
bar ends in ! when spend passes the limit.

Flags:
`

// budgetsCmd is `tollgate budgets`.
func budgetsCmd(ctx context.Context, args []string, env Env) error {
	stdout, stderr, getenv := env.Stdout, env.Stderr, env.Getenv
	verb := "list"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		verb, args = args[0], args[1:]
	}
	var name string
	if verb == "show" {
		if len(args) == 0 || strings.HasPrefix(args[0], "-") {
			return errors.New("usage: tollgate budgets show NAME [flags]")
		}
		name, args = args[0], args[1:]
	}
	fs := newFlagSet("tollgate budgets", budgetsUsage, stderr)
	var conn serverFlags
	conn.register(fs, getenv)
	account := fs.String("account", getenv("TOLLGATE_ACCOUNT_ID"), "account id (default: the caller's)")
	asJSON := fs.Bool("json", false, "print JSON")
	width := fs.Int("width", 30, "bar width")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if verb != "list" && verb != "show" {
		fs.Usage()
		return fmt.Errorf("unknown budgets command %q", verb)
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
		return budgetsList(ctx, client, *account, *asJSON, *width, stdout)
	}
	return budgetShow(ctx, client, *account, name, *asJSON, *width, stdout)
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
				arg += "/min"
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
		if a.Status == btypes.ActionStatusExecutionSuccess {
			s += "*"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func budgetsList(ctx context.Context, c *budgets.Client, account string, asJSON bool, width int, w io.Writer) error {
	var all []btypes.Budget
	p := budgets.NewDescribeBudgetsPaginator(c, &budgets.DescribeBudgetsInput{AccountId: &account})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		all = append(all, out.Budgets...)
	}
	actions := map[string][]btypes.Action{}
	for _, b := range all {
		out, err := c.DescribeBudgetActionsForBudget(ctx, &budgets.DescribeBudgetActionsForBudgetInput{AccountId: &account, BudgetName: b.BudgetName})
		if err != nil {
			return err
		}
		actions[aws.ToString(b.BudgetName)] = out.Actions
	}
	if asJSON {
		type row struct {
			Budget  btypes.Budget
			Actions []btypes.Action
		}
		rows := []row{}
		for _, b := range all {
			rows = append(rows, row{b, actions[aws.ToString(b.BudgetName)]})
		}
		return writeJSON(w, rows)
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
	fmt.Fprintln(tw, "NAME\tTYPE\tPERIOD\tLIMIT\tACTUAL\tFORECAST\tUSED\t\tACTIONS")
	for _, b := range all {
		lim := limitOf(b)
		var act, fc *btypes.Spend
		if b.CalculatedSpend != nil {
			act, fc = b.CalculatedSpend.ActualSpend, b.CalculatedSpend.ForecastedSpend
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", aws.ToString(b.BudgetName), b.BudgetType, b.TimeUnit,
			spendText(lim), spendText(act), spendText(fc), percent(amountOf(act), amountOf(lim)),
			bar(amountOf(act), amountOf(fc), amountOf(lim), width), actionsText(actions[aws.ToString(b.BudgetName)]))
	}
	return tw.Flush()
}

func budgetShow(ctx context.Context, c *budgets.Client, account, name string, asJSON bool, width int, w io.Writer) error {
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
	if asJSON {
		return writeJSON(w, map[string]any{"Budget": b, "Notifications": ns.Notifications, "Subscribers": subs, "Actions": acts.Actions, "History": history})
	}
	return printBudget(w, budgetDetail{Account: account, Budget: b, Notifications: ns.Notifications, Subscribers: subs,
		Actions: acts.Actions, History: history}, width)
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
			fmt.Fprintf(w, "  %s  %s  (%s)\n", actionsText([]btypes.Action{a}), a.Status, aws.ToString(a.ActionId))
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
