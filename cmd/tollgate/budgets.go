package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/admission"
	"github.com/tollgate-dev/tollgate/internal/api/budgetsapi"
	"github.com/tollgate-dev/tollgate/internal/backoff"
	"github.com/tollgate-dev/tollgate/internal/budget"
	"github.com/tollgate-dev/tollgate/internal/metrics"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/notify"
	"github.com/tollgate-dev/tollgate/internal/notify/mail"
	"github.com/tollgate-dev/tollgate/internal/notify/pagerduty"
	"github.com/tollgate-dev/tollgate/internal/notify/webhook"
	"github.com/tollgate-dev/tollgate/internal/promexport"
	"github.com/tollgate-dev/tollgate/internal/server"
	"github.com/tollgate-dev/tollgate/internal/supervise"
)

// Budgets is the budgets part of Main: the budget service (spend,
// forecasts, alerts, enforcement through the runtime pipeline's
// Admitter), the notification outbox with its webhook (Slack and Teams
// too), PagerDuty and e-mail deliverers, and the Budgets API.
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
	hooks := &webhook.Deliverer{Secret: b.WebhookSecret, Egress: m.Egress}
	deliverers := map[string]notify.Deliverer{notify.ChannelWebhook: hooks, notify.ChannelSlack: hooks, notify.ChannelTeams: hooks,
		notify.ChannelPagerDuty: &pagerduty.Deliverer{Endpoint: m.Config.PagerDutyEndpoint, Egress: m.Egress}}
	cfg := m.Config
	if cfg.SMTPAddr != "" {
		deliverers[notify.ChannelEmail] = &mail.Deliverer{Addr: cfg.SMTPAddr, From: firstNonEmpty(cfg.SMTPFrom, "tollgate@localhost"),
			Username: cfg.SMTPUsername, Password: cfg.Secrets.SMTPPassword}
	}
	ocfg := notify.Config{Store: m.DB, Deliverers: deliverers, Logger: m.Logger}
	if first := cfg.NotifyRetry; first > 0 {
		ocfg.Backoff = backoff.Policy{First: first, Max: time.Hour}.Delay
		ocfg.Poll = min(time.Second, first)
	}
	b.Outbox = notify.New(ocfg)
	bcfg := budget.Config{Store: m.DB, Source: m.DB, Catalog: m.Catalog, Notifier: b.Outbox, Egress: m.Egress, Management: m.Config.AccountID, Logger: m.Logger}
	bcfg.EvalInterval = 10 * time.Second // budgetEvalInterval's documented default
	if cfg.BudgetEvalInterval > 0 {
		bcfg.EvalInterval = cfg.BudgetEvalInterval
	}
	bcfg.EnforcementHold = cfg.BudgetEnforcementHold
	if m.Watch != nil && m.Watch.Metrics != nil {
		reg := m.Watch.Metrics
		bcfg.OnEnforcement = func(e budget.EnforcementSample) { // CloudWatch: Tollgate/Budgets EnforcementActive
			v := int64(0)
			if e.Engaged {
				v = 1
			}
			reg.Gauge(e.Account, metrics.EnforcementActive, e.Budget+":"+e.ActionID, e.At, v)
		}
	}
	if m.DB.Shared() {
		bcfg.Shared, bcfg.Replica, bcfg.SyncInterval = m.DB, m.Replica, cfg.BudgetSyncInterval
		b.shared = true
	}
	if b.Service, err = budget.NewService(ctx, bcfg); err != nil {
		return nil, err
	}
	m.Profiles.OnChange(b.Service.ProfileChanged)
	b.Service.AddProfiles(m.Profiles.AllShared())
	b.API = budgetsapi.New(b.Service)
	if m.Watch != nil {
		m.Watch.BudgetStatus = b.status
		m.Watch.EnforcementStatus = b.enforcements
		m.Watch.OutboxStatus = func() promexport.OutboxStatus {
			st := b.Outbox.Stats()
			return promexport.OutboxStatus{Enqueued: st.Enqueued, Delivered: st.Delivered, Retried: st.Retried, Dead: st.Dead, Due: st.Due}
		}
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
	return []server.RPCService{b.API.Service()}
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

// enforcements feeds the budget actions' enforcement gauge and counters.
func (b *Budgets) enforcements() []promexport.EnforcementStatus {
	var out []promexport.EnforcementStatus
	for _, e := range b.Service.Enforcements() {
		out = append(out, promexport.EnforcementStatus{Account: e.Account, Budget: e.Budget, ActionID: e.ActionID, Type: string(e.Type),
			Shadow: e.Shadow, Engaged: e.Engaged, Refusals: e.Refusals})
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
