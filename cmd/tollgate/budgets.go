package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/budgets"
	btypes "github.com/aws/aws-sdk-go-v2/service/budgets/types"

	"github.com/tollgate-dev/tollgate/internal/admission"
	"github.com/tollgate-dev/tollgate/internal/api/budgetsapi"
	"github.com/tollgate-dev/tollgate/internal/budget"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/notify"
	"github.com/tollgate-dev/tollgate/internal/notify/mail"
	"github.com/tollgate-dev/tollgate/internal/notify/webhook"
	"github.com/tollgate-dev/tollgate/internal/promexport"
	"github.com/tollgate-dev/tollgate/internal/server"
	"github.com/tollgate-dev/tollgate/internal/supervise"
)

// Budgets is the budgets part of Main: the budget service (spend,
// forecasts, alerts, enforcement through the runtime pipeline's
// Admitter), the notification outbox with its webhook and e-mail
// deliverers, and the Budgets API.
//
// It is configured by config.Config: SMTP, outbox retry, evaluation and
// sync intervals (docs/configuration.md), and the secrets
// Config.Secrets.SMTPPassword and WebhookSecret (default:
// <data-dir>/webhook.secret, created on first start). With several
// replicas sharing the store, one delivers the outbox and evaluates alerts
// at a time (leases) and all enforce budgets for the fleet (budget.Shared).
type Budgets struct {
	Service *budget.Service
	Outbox  *notify.Outbox
	API     *budgetsapi.Handler
	// WebhookSecret signs webhook deliveries.
	WebhookSecret []byte

	shared bool // replicas share the store
}

// openBudgets builds the budgets over m's store and indexes m's profiles
// for admission. Its background jobs (jobs) start with Main.Run.
func openBudgets(ctx context.Context, m *Main) (*Budgets, error) {
	b := &Budgets{}
	var err error
	if b.WebhookSecret, err = m.webhookSecret(); err != nil {
		return nil, err
	}
	deliverers := map[string]notify.Deliverer{notify.ChannelWebhook: &webhook.Deliverer{Secret: b.WebhookSecret, Egress: m.Egress}}
	cfg := m.Config
	if cfg.SMTPAddr != "" {
		deliverers[notify.ChannelEmail] = &mail.Deliverer{Addr: cfg.SMTPAddr, From: firstNonEmpty(cfg.SMTPFrom, "tollgate@localhost"),
			Username: cfg.SMTPUsername, Password: cfg.Secrets.SMTPPassword}
	}
	ocfg := notify.Config{Store: m.DB, Deliverers: deliverers, Logger: m.Logger}
	if first := cfg.NotifyRetry; first > 0 {
		ocfg.Backoff = func(n int) time.Duration {
			return min(time.Hour, first*time.Duration(1<<min(n-1, 30)))
		}
		ocfg.Poll = min(time.Second, first)
	}
	b.Outbox = notify.New(ocfg)
	bcfg := budget.Config{Store: m.DB, Source: m.DB, Catalog: m.Catalog, Notifier: b.Outbox, Egress: m.Egress, Management: m.Config.AccountID, Logger: m.Logger}
	if cfg.BudgetEvalInterval > 0 {
		bcfg.EvalInterval = cfg.BudgetEvalInterval
	}
	if m.DB.Shared() {
		bcfg.Shared, bcfg.Replica, bcfg.SyncInterval = m.DB, m.Replica, cfg.BudgetSyncInterval
		b.shared = true
	}
	if b.Service, err = budget.NewService(ctx, bcfg); err != nil {
		return nil, err
	}
	m.Profiles.OnChange(b.Service.ProfileChanged)
	b.Service.AddProfiles(m.Profiles.All())
	b.API = budgetsapi.New(b.Service)
	if m.Watch != nil {
		m.Watch.BudgetStatus = b.status
	}
	return b, nil
}

// jobs are the budgets' background jobs. With several replicas sharing
// the store one of them delivers the outbox and evaluates alerts at a
// time (leased); each keeps its budgets in step with the fleet's spend
// (budget-sync, only then).
func (b *Budgets) jobs(log *slog.Logger) []supervise.Job {
	jobs := []supervise.Job{
		{Name: "notify-outbox", Leased: true, Run: func(ctx context.Context) error { b.Outbox.Run(ctx); return nil }},
		{Name: "budget-alerts", Leased: true, Run: func(ctx context.Context) error {
			if b.shared {
				// Taking over: start from what the fleet spent and fired.
				if err := b.Service.Sync(ctx); err != nil {
					log.Warn("budget_sync_failed", "err", err.Error())
				}
				if err := b.Service.ReloadAlerts(ctx); err != nil {
					log.Warn("budget_alerts_reload_failed", "err", err.Error())
				}
			}
			b.Service.Run(ctx)
			return nil
		}},
	}
	if b.shared {
		jobs = append(jobs, supervise.Job{Name: "budget-sync", Run: func(ctx context.Context) error { b.Service.RunShared(ctx); return nil }})
	}
	return jobs
}

// webhookSecret returns Config.Secrets.WebhookSecret or the data
// directory's webhook.secret, created on first start.
func (m *Main) webhookSecret() ([]byte, error) {
	if v := m.Config.Secrets.WebhookSecret; v != "" {
		return []byte(v), nil
	}
	path := filepath.Join(m.Config.DataDir, "webhook.secret")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		var key [32]byte
		_, _ = rand.Read(key[:])
		secret := hex.EncodeToString(key[:])
		if err := writeFile0600(path, secret+"\n"); err != nil {
			return nil, fmt.Errorf("webhook secret: %w", err)
		}
		return []byte(secret), nil
	}
	if err != nil {
		return nil, fmt.Errorf("webhook secret: %w", err)
	}
	return []byte(strings.TrimSpace(string(data))), nil
}

// Admitter returns the budgets' admission.Admitter.
func (b *Budgets) Admitter() admission.Admitter { return b.Service }

// RPC returns the Budgets API service.
func (b *Budgets) RPC() []server.RPCService {
	return []server.RPCService{{Name: budgetsapi.ServiceName, SigningName: budgetsapi.SigningName,
		JSON: b.API.ServeJSON, JSONError: budgetsapi.WriteJSONError}}
}

// status feeds the /metrics budget gauges (COST budgets).
func (b *Budgets) status() []promexport.BudgetStatus {
	var out []promexport.BudgetStatus
	for _, v := range b.Service.Current() {
		if v.Type == budget.Cost && v.Active {
			out = append(out, promexport.BudgetStatus{Account: v.Account, Name: v.Name, Limit: money.Amount(v.PeriodLimit), Spent: money.Amount(v.Actual)})
		}
	}
	return out
}

// Close waits for the shortage announcements in flight and gives back
// unused budget allowance; call it after the calls in flight have settled
// and the background jobs have stopped, and before closing the store.
// Messages not yet delivered stay in the outbox for the next start.
func (b *Budgets) Close() error {
	if b == nil || b.Service == nil {
		return nil
	}
	b.Service.Wait()
	// Replicas sharing the store: give the BLOCK allowance this replica
	// holds and no longer needs back to the pools, for the others.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b.Service.ReturnIdle(ctx, true)
	return nil
}

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
func budgetsCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
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
	fs := flag.NewFlagSet("tollgate budgets", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, budgetsUsage); fs.PrintDefaults() }
	var conn adminFlags
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

// budgetsClient returns a Budgets SDK client for the data directory's
// endpoint and credentials.
func (f *adminFlags) budgetsClient(ctx context.Context) (*budgets.Client, error) {
	conf := readSharedConfig(filepath.Join(f.dataDir, "config"))
	endpoint := firstNonEmpty(f.endpoint, conf["endpoint_url"])
	if endpoint == "" {
		return nil, errors.New("no endpoint: give --endpoint or a --data-dir of a running Tollgate")
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx,
		awsconfig.WithSharedCredentialsFiles([]string{firstNonEmpty(f.credentials, filepath.Join(f.dataDir, "credentials"))}),
		awsconfig.WithRegion(firstNonEmpty(f.region, conf["region"], "us-east-1")),
		awsconfig.WithBaseEndpoint(strings.TrimRight(endpoint, "/")))
	if err != nil {
		return nil, err
	}
	return budgets.NewFromConfig(cfg), nil
}

// callerAccount asks the admin API which account the credentials belong
// to.
func (f *adminFlags) callerAccount(ctx context.Context) (string, error) {
	c, err := f.client(ctx)
	if err != nil {
		return "", err
	}
	var out struct {
		Principals []struct {
			Account string `json:"accountId"`
		} `json:"principals"`
	}
	if err := c.call(ctx, "GET", "/tollgate/v1/principals", nil, &out); err != nil || len(out.Principals) == 0 {
		return "", fmt.Errorf("cannot tell the caller's account (%v): give --account", err)
	}
	return out.Principals[0].Account, nil
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

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
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
	if len(ns.Notifications) > 0 {
		fmt.Fprintln(w, "Notifications:")
		for i, n := range ns.Notifications {
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
	if len(acts.Actions) > 0 {
		fmt.Fprintln(w, "Actions:")
		for _, a := range acts.Actions {
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
