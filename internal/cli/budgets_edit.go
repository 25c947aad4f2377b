package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/budgets"
	btypes "github.com/aws/aws-sdk-go-v2/service/budgets/types"

	"github.com/tollgate-dev/tollgate/internal/money"
)

// budgets create, update and delete: the common set-up of a budget —
// limit, period, tag scope, alert thresholds with their targets and an
// enforcement — without writing the Budgets API's JSON by hand. They go
// through the Budgets API with the caller's credentials, so the server's
// policies authorize them (budgets:ModifyBudget, budgets:CreateBudgetAction).

const budgetsCreateUsage = `Usage: tollgate budgets create NAME --limit USD [flags]
       tollgate budgets update NAME [--limit USD] [--period P] [--scope ...] [--alert ...] [--enforce ...]
       tollgate budgets delete NAME

Create a cost budget, change one, or delete one (with its alerts and
actions), through the Budgets API of the running Tollgate.

--scope limits the budget to calls whose profile carries every tag given
(dept=sales,team=support,app=chat_app); without it the budget covers all
usage of the account.

--alert THRESHOLD:TARGET (repeatable) sends an alert when actual spend
reaches THRESHOLD, a percentage of the limit (80%) or an amount in USD
(500); prefix it with forecast: to alert on the forecast instead. Targets:
  email=ADDRESS            an e-mail (needs SMTP configured on the server)
  webhook=https://...      a signed JSON POST
  slack=https://hooks.slack.com/services/...   a Slack incoming webhook
  teams=https://...        a Microsoft Teams workflow webhook
  pagerduty=ROUTING_KEY    a PagerDuty Events API v2 routing key
Alerts with the same threshold share one notification.

--enforce sets what happens to calls in the budget's scope once spend
reaches --enforce-at (default 100%): block (refuse them), throttle=60/min
(a rate: N/s, N/min or N/h) or downgrade=MODEL (serve them with a cheaper
foundation model). --shadow records and counts what the enforcement would
have refused without refusing anything, so a budget can be tried before
it bites. The enforcement's subscribers are those of the highest alert.
On update, --enforce replaces the budget's enforcement, --enforce none
removes it, and --alert adds alerts.

Examples:
  tollgate budgets create sales-chat --limit 10000 --scope dept=sales,team=support,app=chat_app \
      --alert 80%:email=finance@example.com --alert 100%:slack=https://hooks.slack.com/services/T0/B0/XYZ \
      --enforce block
  tollgate budgets create claims-trial --limit 500 --period daily --scope dept=claims \
      --enforce throttle=60/min --enforce-at 90% --shadow
  tollgate budgets update sales-chat --limit 12000 --alert forecast:100%:pagerduty=R0UT1NGKEY
  tollgate budgets update sales-chat --enforce downgrade=amazon.nova-micro-v1:0
  tollgate budgets delete claims-trial
`

// budgetsCreateFlags are the flags of create and update.
type budgetsCreateFlags struct {
	limit, period, scope, enforce, enforceAt, account string
	alerts                                            listFlag
	shadow                                            bool
}

// budgetsEditCmd runs budgets create, update or delete.
func budgetsEditCmd(ctx context.Context, verb string, args []string, env Env) error {
	cmd := "budgets " + verb
	fs := newFlagSet("tollgate "+cmd, budgetsCreateUsage, env)
	var conn serverFlags
	conn.register(fs, env.Getenv)
	var f budgetsCreateFlags
	fs.StringVar(&f.account, "account", env.Getenv("TOLLGATE_ACCOUNT_ID"), "account id (default: the caller's)")
	if verb != "delete" {
		fs.StringVar(&f.limit, "limit", "", "the budget's limit in USD per period, e.g. 10000 or 99.50 (create: required)")
		period := "monthly"
		if verb == "update" {
			period = ""
		}
		fs.StringVar(&f.period, "period", period, "period the limit applies to: daily, monthly, quarterly or annually")
		fs.StringVar(&f.scope, "scope", "", "only calls whose profile carries these tags: `key=value[,key=value...]`")
		fs.Var(&f.alerts, "alert", "alert `THRESHOLD:TARGET`, e.g. 80%:email=a@example.com (repeatable; see above)")
		fs.StringVar(&f.enforce, "enforce", "", "enforcement: block, throttle=N/min or downgrade=MODEL (update: none removes it)")
		fs.StringVar(&f.enforceAt, "enforce-at", "100%", "threshold at which the enforcement applies: a percentage or USD")
		fs.BoolVar(&f.shadow, "shadow", false, "shadow mode: record and count what the enforcement would refuse, refuse nothing")
	}
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	pos, err := nArgs(fs, cmd, "NAME")
	if err != nil {
		return err
	}
	name := pos[0]
	if verb == "create" && f.limit == "" {
		return Usagef(cmd, "%s: --limit is required, e.g. --limit 10000", cmd)
	}
	plan, err := f.plan(cmd, verb)
	if err != nil {
		return err
	}
	client, err := conn.budgetsClient(ctx)
	if err != nil {
		return err
	}
	account := f.account
	if account == "" {
		if account, err = conn.callerAccount(ctx); err != nil {
			return err
		}
	}
	switch verb {
	case "delete":
		if _, err := client.DeleteBudget(ctx, &budgets.DeleteBudgetInput{AccountId: &account, BudgetName: &name}); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "Deleted budget %s.\n", name)
		return nil
	case "create":
		if _, err := client.CreateBudget(ctx, plan.createInput(account, name)); err != nil {
			return err
		}
	case "update":
		if err := plan.update(ctx, client, account, name); err != nil {
			return err
		}
	}
	if verb == "create" && plan.action != nil {
		in := plan.actionInput(account, name)
		if _, err := client.CreateBudgetAction(ctx, in); err != nil {
			// All or nothing: the budget goes again with its alerts.
			if _, derr := client.DeleteBudget(context.WithoutCancel(ctx), &budgets.DeleteBudgetInput{AccountId: &account, BudgetName: &name}); derr == nil {
				return fmt.Errorf("budget %s not created: its enforcement was refused: %w", name, err)
			}
			return fmt.Errorf("budget %s is saved, but its enforcement is not: %w", name, err)
		}
	}
	past := map[string]string{"create": "Created", "update": "Updated"}[verb]
	fmt.Fprintf(env.Stdout, "%s budget %s. Run 'tollgate budgets show %s' to see it.\n", past, name, name)
	return nil
}

// budgetPlan is what create and update send.
type budgetPlan struct {
	limit             *btypes.Spend
	period            btypes.TimeUnit
	scope             *btypes.Expression
	notifications     []btypes.NotificationWithSubscribers
	action            *budgetAction
	removeEnforcement bool
}

// budgetAction is an enforcement as budgets create reads it.
type budgetAction struct {
	typ       string // BLOCK, THROTTLE, DOWNGRADE
	arg       string // THROTTLE's requests per minute, DOWNGRADE's model
	threshold btypes.ActionThreshold
	shadow    bool
}

func (f budgetsCreateFlags) plan(cmd, verb string) (budgetPlan, error) {
	var p budgetPlan
	if verb == "delete" {
		return p, nil
	}
	if f.limit != "" {
		a, err := money.Parse(f.limit)
		if err != nil || a <= 0 {
			return p, Usagef(cmd, "%s: --limit %q is not an amount in USD above zero (e.g. 10000 or 99.50)", cmd, f.limit)
		}
		p.limit = &btypes.Spend{Amount: aws.String(a.Decimal(2)), Unit: aws.String("USD")}
	}
	if f.period != "" {
		periods := map[string]btypes.TimeUnit{"daily": btypes.TimeUnitDaily, "monthly": btypes.TimeUnitMonthly,
			"quarterly": btypes.TimeUnitQuarterly, "annually": btypes.TimeUnitAnnually, "yearly": btypes.TimeUnitAnnually}
		tu, ok := periods[strings.ToLower(f.period)]
		if !ok {
			ue := &UsageError{Cmd: cmd, Msg: fmt.Sprintf("%s: --period %q is not a period", cmd, f.period)}
			if s := closest(strings.ToLower(f.period), []string{"daily", "monthly", "quarterly", "annually"}); s != "" {
				ue.Hint = "Did you mean --period " + s + "?"
			} else {
				ue.Hint = "Periods: daily, monthly, quarterly, annually."
			}
			return p, ue
		}
		p.period = tu
	}
	if f.scope != "" {
		e, err := parseScope(f.scope)
		if err != nil {
			return p, Usagef(cmd, "%s: --scope: %v", cmd, err)
		}
		p.scope = e
	}
	byThreshold := map[string]int{}
	for _, s := range f.alerts {
		n, sub, err := parseAlert(s)
		if err != nil {
			return p, Usagef(cmd, "%s: --alert %q: %v", cmd, s, err)
		}
		key := fmt.Sprintf("%s %s %g", n.NotificationType, n.ThresholdType, n.Threshold)
		i, ok := byThreshold[key]
		if !ok {
			i = len(p.notifications)
			byThreshold[key] = i
			p.notifications = append(p.notifications, btypes.NotificationWithSubscribers{Notification: &n})
		}
		p.notifications[i].Subscribers = append(p.notifications[i].Subscribers, sub)
	}
	switch {
	case f.enforce == "none" && verb == "update":
		p.removeEnforcement = true
	case f.enforce != "":
		a, err := parseEnforce(f.enforce)
		if err != nil {
			return p, Usagef(cmd, "%s: --enforce %q: %v", cmd, f.enforce, err)
		}
		th, err := parseThreshold(f.enforceAt)
		if err != nil {
			return p, Usagef(cmd, "%s: --enforce-at %q: %v", cmd, f.enforceAt, err)
		}
		a.threshold = th
		a.shadow = f.shadow
		p.action = &a
	case f.shadow:
		return p, Usagef(cmd, "%s: --shadow applies to an enforcement: give --enforce too", cmd)
	}
	return p, nil
}

// parseScope reads key=value[,key=value...] into a Budgets filter
// expression: one Tags term per key, ANDed.
func parseScope(s string) (*btypes.Expression, error) {
	var terms []btypes.Expression
	seen := map[string]bool{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not key=value", kv)
		}
		if seen[k] {
			return nil, fmt.Errorf("the tag key %q is given twice", k)
		}
		seen[k] = true
		terms = append(terms, btypes.Expression{Tags: &btypes.TagValues{Key: aws.String(k), Values: []string{v},
			MatchOptions: []btypes.MatchOption{btypes.MatchOptionEquals}}})
	}
	if len(terms) == 1 {
		return &terms[0], nil
	}
	return &btypes.Expression{And: terms}, nil
}

// parseThreshold reads 80% (percentage of the limit) or 500 (USD).
func parseThreshold(s string) (btypes.ActionThreshold, error) {
	typ := btypes.ThresholdTypeAbsoluteValue
	if v, ok := strings.CutSuffix(s, "%"); ok {
		typ, s = btypes.ThresholdTypePercentage, v
	}
	s = strings.TrimPrefix(s, "$")
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v <= 0 || v > 1e9 {
		return btypes.ActionThreshold{}, errors.New("want a percentage (80%) or an amount in USD (500)")
	}
	return btypes.ActionThreshold{ActionThresholdType: typ, ActionThresholdValue: v}, nil
}

// alertTargets are the target kinds of --alert.
var alertTargets = []string{"email", "webhook", "slack", "teams", "pagerduty"}

// parseAlert reads [forecast:]THRESHOLD:KIND=ADDRESS into a notification
// and its subscriber. Slack, Teams and PagerDuty targets are SNS
// subscribers (Tollgate's webhook subscription) whose address tells the
// server which service to format for: a hooks.slack.com URL, a Teams
// workflow URL, pagerduty:ROUTING_KEY.
func parseAlert(s string) (btypes.Notification, btypes.Subscriber, error) {
	n := btypes.Notification{NotificationType: btypes.NotificationTypeActual, ComparisonOperator: btypes.ComparisonOperatorGreaterThan}
	var sub btypes.Subscriber
	rest := s
	if r, ok := strings.CutPrefix(rest, "forecast:"); ok {
		n.NotificationType, rest = btypes.NotificationTypeForecasted, r
	} else if r, ok := strings.CutPrefix(rest, "actual:"); ok {
		rest = r
	}
	th, target, ok := strings.Cut(rest, ":")
	if !ok {
		return n, sub, errors.New("want THRESHOLD:TARGET, e.g. 80%:email=finance@example.com")
	}
	t, err := parseThreshold(th)
	if err != nil {
		return n, sub, err
	}
	n.Threshold, n.ThresholdType = t.ActionThresholdValue, t.ActionThresholdType
	kind, addr, ok := strings.Cut(target, "=")
	if !ok || addr == "" {
		return n, sub, fmt.Errorf("the target %q is not KIND=ADDRESS (kinds: %s)", target, strings.Join(alertTargets, ", "))
	}
	sub.Address = aws.String(addr)
	switch kind {
	case "email":
		sub.SubscriptionType = btypes.SubscriptionTypeEmail
	case "webhook":
		sub.SubscriptionType = btypes.SubscriptionTypeSns
		if err := checkURL(addr); err != nil {
			return n, sub, err
		}
	case "slack":
		sub.SubscriptionType = btypes.SubscriptionTypeSns
		u, err := url.Parse(addr)
		if err != nil || u.Scheme != "https" || u.Host != "hooks.slack.com" {
			return n, sub, fmt.Errorf("a Slack target is an incoming-webhook URL https://hooks.slack.com/services/..., not %q", addr)
		}
	case "teams":
		sub.SubscriptionType = btypes.SubscriptionTypeSns
		if err := checkURL(addr); err != nil {
			return n, sub, err
		}
	case "pagerduty":
		sub.SubscriptionType = btypes.SubscriptionTypeSns
		if strings.ContainsAny(addr, ":/ ") {
			return n, sub, fmt.Errorf("a PagerDuty target is the integration's routing key, not %q", addr)
		}
		sub.Address = aws.String("pagerduty:" + addr)
	default:
		if c := closest(kind, alertTargets); c != "" {
			return n, sub, fmt.Errorf("unknown target kind %q (did you mean %s?)", kind, c)
		}
		return n, sub, fmt.Errorf("unknown target kind %q: use %s", kind, strings.Join(alertTargets, ", "))
	}
	return n, sub, nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	return nil
}

// parseEnforce reads block, throttle=60/min or downgrade=MODEL.
func parseEnforce(s string) (budgetAction, error) {
	kind, arg, _ := strings.Cut(s, "=")
	switch strings.ToLower(kind) {
	case "block":
		if arg != "" {
			return budgetAction{}, errors.New("block takes no argument")
		}
		return budgetAction{typ: "BLOCK"}, nil
	case "throttle":
		rpm, err := parseRate(arg)
		if err != nil {
			return budgetAction{}, err
		}
		return budgetAction{typ: "THROTTLE", arg: strconv.FormatInt(rpm, 10)}, nil
	case "downgrade":
		if arg == "" {
			return budgetAction{}, errors.New("downgrade names the model to serve instead: downgrade=amazon.nova-micro-v1:0")
		}
		return budgetAction{typ: "DOWNGRADE", arg: arg}, nil
	}
	if c := closest(strings.ToLower(kind), []string{"block", "throttle", "downgrade"}); c != "" {
		return budgetAction{}, fmt.Errorf("unknown enforcement %q (did you mean %s?)", kind, c)
	}
	return budgetAction{}, fmt.Errorf("unknown enforcement %q: use block, throttle=N/min or downgrade=MODEL", kind)
}

// parseRate reads N/s, N/min or N/h (N alone: per minute) as requests
// per minute, a whole number of at least 1.
func parseRate(s string) (int64, error) {
	num, unit, _ := strings.Cut(s, "/")
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("throttle wants a rate such as 60/min, 2/s or 600/h, not %q", s)
	}
	switch unit {
	case "", "m", "min", "minute":
		return n, nil
	case "s", "sec", "second":
		return n * 60, nil
	case "h", "hour":
		if n%60 != 0 {
			return 0, fmt.Errorf("%s is not a whole number of requests per minute (Tollgate throttles per minute)", s)
		}
		return n / 60, nil
	}
	return 0, fmt.Errorf("unknown rate unit %q: use /s, /min or /h", unit)
}

// rateText is a THROTTLE argument as budgets show it: "60/min".
func rateText(rpm string) string { return rpm + "/min" }

func (p budgetPlan) createInput(account, name string) *budgets.CreateBudgetInput {
	b := &btypes.Budget{BudgetName: &name, BudgetType: btypes.BudgetTypeCost, TimeUnit: p.period, BudgetLimit: p.limit,
		FilterExpression: p.scope}
	return &budgets.CreateBudgetInput{AccountId: &account, Budget: b, NotificationsWithSubscribers: p.notifications}
}

// update applies the plan to an existing budget as one change: it reads
// the budget (and, when the plan touches them, its alerts and actions),
// then writes each part with its own Update call — the budget's whole new
// definition with one UpdateBudget, an alert at a threshold the budget
// already has by adding only its new subscribers, an enforcement of the
// same type with UpdateBudgetAction (another type is created before the
// old one is deleted). When a step fails, the steps before it are undone
// in reverse order and the error says so; should an undo fail too, the
// error lists what was changed and what was not.
func (p budgetPlan) update(ctx context.Context, c *budgets.Client, account, name string) error {
	steps, err := p.updateSteps(ctx, c, account, name)
	if err != nil {
		return err
	}
	for i, st := range steps {
		err := st.do(ctx)
		if err == nil {
			continue
		}
		// Undo what was done, even if the caller has gone.
		uctx := context.WithoutCancel(ctx)
		var kept []string
		for j := i - 1; j >= 0; j-- {
			if steps[j].undo == nil {
				kept = append(kept, steps[j].what)
				continue
			}
			if uerr := steps[j].undo(uctx); uerr != nil {
				kept = append(kept, fmt.Sprintf("%s (undo failed: %v)", steps[j].what, uerr))
			}
		}
		var notDone []string
		for _, st := range steps[i+1:] {
			notDone = append(notDone, st.what)
		}
		if len(kept) == 0 {
			return fmt.Errorf("budget %s not updated: %s failed: %w; nothing was changed", name, st.what, err)
		}
		slices.Reverse(kept)
		msg := fmt.Sprintf("budget %s partly updated: %s failed: %%w; changed: %s; not changed: %s", name, st.what,
			strings.Join(kept, ", "), strings.Join(append([]string{st.what}, notDone...), ", "))
		return &hintError{error: fmt.Errorf(msg, err), hint: fmt.Sprintf("Run 'tollgate budgets show %s' to see it.", name)}
	}
	return nil
}

// updateStep is one write of budgets update: what it changes, in words
// for an error, and how to undo it (nil: it cannot be undone, and so
// comes last).
type updateStep struct {
	what string
	do   func(context.Context) error
	undo func(context.Context) error
}

// updateSteps reads what the plan changes and returns the writes that
// change it, in order.
func (p budgetPlan) updateSteps(ctx context.Context, c *budgets.Client, account, name string) ([]updateStep, error) {
	d, err := c.DescribeBudget(ctx, &budgets.DescribeBudgetInput{AccountId: &account, BudgetName: &name, ShowFilterExpression: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	var steps []updateStep
	if p.limit != nil || p.period != "" || p.scope != nil {
		old := *d.Budget
		old.CalculatedSpend, old.LastUpdatedTime = nil, nil
		b := old
		var parts []string
		if p.limit != nil {
			b.BudgetLimit, b.PlannedBudgetLimits = p.limit, nil
			parts = append(parts, "limit")
		}
		if p.period != "" && p.period != b.TimeUnit {
			b.TimeUnit, b.TimePeriod = p.period, nil
			parts = append(parts, "period")
		}
		if p.scope != nil {
			b.FilterExpression, b.CostFilters = p.scope, nil
			parts = append(parts, "scope")
		}
		steps = append(steps, updateStep{what: "the " + strings.Join(parts, ", ") + " (UpdateBudget)",
			do: func(ctx context.Context) error {
				_, err := c.UpdateBudget(ctx, &budgets.UpdateBudgetInput{AccountId: &account, NewBudget: &b})
				return err
			},
			undo: func(ctx context.Context) error {
				_, err := c.UpdateBudget(ctx, &budgets.UpdateBudgetInput{AccountId: &account, NewBudget: &old})
				return err
			}})
	}
	if len(p.notifications) > 0 {
		alertSteps, err := p.alertSteps(ctx, c, account, name)
		if err != nil {
			return nil, err
		}
		steps = append(steps, alertSteps...)
	}
	if p.action != nil || p.removeEnforcement {
		out, err := c.DescribeBudgetActionsForBudget(ctx, &budgets.DescribeBudgetActionsForBudgetInput{AccountId: &account, BudgetName: &name})
		if err != nil {
			return nil, err
		}
		steps = append(steps, p.actionSteps(c, account, name, out.Actions)...)
	}
	return steps, nil
}

// alertSteps adds the plan's alerts: a threshold the budget has gets only
// the subscribers it lacks, a new one its notification.
func (p budgetPlan) alertSteps(ctx context.Context, c *budgets.Client, account, name string) ([]updateStep, error) {
	out, err := c.DescribeNotificationsForBudget(ctx, &budgets.DescribeNotificationsForBudgetInput{AccountId: &account, BudgetName: &name})
	if err != nil {
		return nil, err
	}
	same := func(a, b *btypes.Notification) bool {
		return a.NotificationType == b.NotificationType && a.ComparisonOperator == b.ComparisonOperator &&
			a.Threshold == b.Threshold && a.ThresholdType == b.ThresholdType
	}
	var steps []updateStep
	for _, nw := range p.notifications {
		n := nw.Notification
		label := alertLabel(n)
		var existing *btypes.Notification
		for i := range out.Notifications {
			if same(&out.Notifications[i], n) {
				existing = &out.Notifications[i]
			}
		}
		if existing == nil {
			steps = append(steps, updateStep{what: "the alert at " + label + " (CreateNotification)",
				do: func(ctx context.Context) error {
					_, err := c.CreateNotification(ctx, &budgets.CreateNotificationInput{AccountId: &account, BudgetName: &name,
						Notification: n, Subscribers: nw.Subscribers})
					return err
				},
				undo: func(ctx context.Context) error {
					_, err := c.DeleteNotification(ctx, &budgets.DeleteNotificationInput{AccountId: &account, BudgetName: &name, Notification: n})
					return err
				}})
			continue
		}
		subs, err := c.DescribeSubscribersForNotification(ctx, &budgets.DescribeSubscribersForNotificationInput{AccountId: &account,
			BudgetName: &name, Notification: existing})
		if err != nil {
			return nil, err
		}
		for _, sub := range nw.Subscribers {
			if slices.ContainsFunc(subs.Subscribers, func(s btypes.Subscriber) bool {
				return s.SubscriptionType == sub.SubscriptionType && aws.ToString(s.Address) == aws.ToString(sub.Address)
			}) {
				continue // already there: nothing to change
			}
			steps = append(steps, updateStep{what: fmt.Sprintf("the alert at %s to %s (CreateSubscriber)", label, aws.ToString(sub.Address)),
				do: func(ctx context.Context) error {
					_, err := c.CreateSubscriber(ctx, &budgets.CreateSubscriberInput{AccountId: &account, BudgetName: &name,
						Notification: existing, Subscriber: &sub})
					return err
				},
				undo: func(ctx context.Context) error {
					_, err := c.DeleteSubscriber(ctx, &budgets.DeleteSubscriberInput{AccountId: &account, BudgetName: &name,
						Notification: existing, Subscriber: &sub})
					return err
				}})
		}
	}
	return steps, nil
}

// alertLabel is an alert's threshold as budgets update's errors name it:
// "80%", "forecast 100%", "500 USD".
func alertLabel(n *btypes.Notification) string {
	v := strconv.FormatFloat(n.Threshold, 'f', -1, 64)
	if n.ThresholdType == btypes.ThresholdTypeAbsoluteValue {
		v += " USD"
	} else {
		v += "%"
	}
	if n.NotificationType == btypes.NotificationTypeForecasted {
		v = "forecast " + v
	}
	return v
}

// actionSteps replace the budget's enforcement (existing) with the
// plan's, or remove it. One action of the plan's type is updated in
// place; otherwise the new action is created first and the old ones are
// deleted last, since a deletion cannot be undone.
func (p budgetPlan) actionSteps(c *budgets.Client, account, name string, existing []btypes.Action) []updateStep {
	var steps []updateStep
	remove := existing
	if p.action != nil {
		in := p.actionInput(account, name)
		if len(existing) == 1 && existing[0].ActionType == in.ActionType {
			old := existing[0]
			id := old.ActionId
			steps = append(steps, updateStep{what: "the enforcement (UpdateBudgetAction)",
				do: func(ctx context.Context) error {
					_, err := c.UpdateBudgetAction(ctx, &budgets.UpdateBudgetActionInput{AccountId: &account, BudgetName: &name, ActionId: id,
						NotificationType: in.NotificationType, ActionThreshold: in.ActionThreshold, Definition: in.Definition,
						ExecutionRoleArn: in.ExecutionRoleArn, ApprovalModel: in.ApprovalModel, Subscribers: in.Subscribers})
					return err
				},
				undo: func(ctx context.Context) error {
					_, err := c.UpdateBudgetAction(ctx, &budgets.UpdateBudgetActionInput{AccountId: &account, BudgetName: &name, ActionId: id,
						NotificationType: old.NotificationType, ActionThreshold: old.ActionThreshold, Definition: old.Definition,
						ExecutionRoleArn: old.ExecutionRoleArn, ApprovalModel: old.ApprovalModel, Subscribers: old.Subscribers})
					return err
				}})
			return steps
		}
		var created *string
		steps = append(steps, updateStep{what: "the new " + strings.ToLower(p.action.typ) + " enforcement (CreateBudgetAction)",
			do: func(ctx context.Context) error {
				out, err := c.CreateBudgetAction(ctx, in)
				if err == nil {
					created = out.ActionId
				}
				return err
			},
			undo: func(ctx context.Context) error {
				_, err := c.DeleteBudgetAction(ctx, &budgets.DeleteBudgetActionInput{AccountId: &account, BudgetName: &name, ActionId: created})
				return err
			}})
	}
	sort.Slice(remove, func(i, j int) bool { return aws.ToString(remove[i].ActionId) < aws.ToString(remove[j].ActionId) })
	for _, a := range remove {
		steps = append(steps, updateStep{what: "removing the " + strings.ToLower(string(a.ActionType)) + " enforcement " + aws.ToString(a.ActionId) + " (DeleteBudgetAction)",
			do: func(ctx context.Context) error {
				_, err := c.DeleteBudgetAction(ctx, &budgets.DeleteBudgetActionInput{AccountId: &account, BudgetName: &name, ActionId: a.ActionId})
				return err
			}})
	}
	return steps
}

// actionInput is the CreateBudgetAction request of the plan's
// enforcement. Shadow mode is ApprovalModel MANUAL: the server records
// and counts what the action would refuse and refuses nothing.
func (p budgetPlan) actionInput(account, name string) *budgets.CreateBudgetActionInput {
	a := p.action
	def := &btypes.Definition{}
	if a.arg != "" {
		def.IamActionDefinition = &btypes.IamActionDefinition{PolicyArn: aws.String(a.arg)}
	}
	approval := btypes.ApprovalModelAuto
	if a.shadow {
		approval = btypes.ApprovalModelManual
	}
	// The subscribers of the highest ACTUAL percentage alert (else of the
	// highest ACTUAL amount alert) hear of the enforcement.
	subs := []btypes.Subscriber{}
	var top *btypes.NotificationWithSubscribers
	rank := func(n *btypes.Notification) (bool, float64) {
		return n.ThresholdType == btypes.ThresholdTypePercentage, n.Threshold
	}
	for i := range p.notifications {
		n := &p.notifications[i]
		if n.Notification.NotificationType != btypes.NotificationTypeActual {
			continue
		}
		if top == nil {
			top = n
			continue
		}
		pct, v := rank(n.Notification)
		tpct, tv := rank(top.Notification)
		if pct && !tpct || pct == tpct && v > tv {
			top = n
		}
	}
	if top != nil {
		subs = top.Subscribers
	}
	return &budgets.CreateBudgetActionInput{AccountId: &account, BudgetName: &name, NotificationType: btypes.NotificationTypeActual,
		ActionType: btypes.ActionType(a.typ), ActionThreshold: &a.threshold, Definition: def,
		// The SDK requires an execution role; Tollgate keeps it as given
		// and runs the action itself.
		ExecutionRoleArn: aws.String("arn:aws:iam::" + account + ":role/TollgateBudgetEnforcement"),
		ApprovalModel:    approval, Subscribers: subs}
}
