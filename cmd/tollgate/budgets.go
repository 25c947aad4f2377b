package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/internal/api/budgetsapi"
	"github.com/tollgate-dev/tollgate/internal/budget"
	"github.com/tollgate-dev/tollgate/internal/invoke"
	"github.com/tollgate-dev/tollgate/internal/lease"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/notify"
	"github.com/tollgate-dev/tollgate/internal/notify/mail"
	"github.com/tollgate-dev/tollgate/internal/notify/webhook"
	"github.com/tollgate-dev/tollgate/internal/promexport"
	"github.com/tollgate-dev/tollgate/internal/server"
)

// Budgets is the budgets part of Main: the budget service (spend,
// forecasts, alerts, enforcement through the runtime pipeline's
// Admitter), the notification outbox with its webhook and e-mail
// deliverers, and the Budgets API.
//
// It is configured by config.Config (SMTP, outbox retry, evaluation and
// sync intervals; docs/configuration.md) and by the environment for the
// secrets: TOLLGATE_SMTP_PASSWORD and TOLLGATE_WEBHOOK_SECRET (default:
// <data-dir>/webhook.secret, created on first start). With several
// replicas sharing the store, one delivers the outbox and evaluates alerts
// at a time (leases) and all enforce budgets for the fleet (budget.Shared).
type Budgets struct {
	Service *budget.Service
	Outbox  *notify.Outbox
	API     *budgetsapi.Handler
	// WebhookSecret signs webhook deliveries.
	WebhookSecret []byte

	cancel context.CancelFunc
	done   sync.WaitGroup
}

// openBudgets builds the budgets over m's store, indexes m's profiles for
// admission, and starts the alert evaluator and the outbox, which Close
// stops.
func openBudgets(ctx context.Context, m *Main) (*Budgets, error) {
	b := &Budgets{}
	var err error
	if b.WebhookSecret, err = m.webhookSecret(); err != nil {
		return nil, err
	}
	deliverers := map[string]notify.Deliverer{notify.ChannelWebhook: &webhook.Deliverer{Secret: b.WebhookSecret, Egress: m.Egress}}
	cfg := m.Config
	if addr := firstNonEmpty(cfg.SMTPAddr, m.getenv("TOLLGATE_SMTP_ADDR")); addr != "" {
		deliverers[notify.ChannelEmail] = &mail.Deliverer{Addr: addr, From: firstNonEmpty(cfg.SMTPFrom, m.getenv("TOLLGATE_SMTP_FROM"), "tollgate@localhost"),
			Username: firstNonEmpty(cfg.SMTPUsername, m.getenv("TOLLGATE_SMTP_USERNAME")), Password: m.getenv("TOLLGATE_SMTP_PASSWORD")}
	}
	ocfg := notify.Config{Store: m.DB, Deliverers: deliverers, Logger: m.Logger}
	if v := m.getenv("TOLLGATE_NOTIFY_RETRY"); v != "" || cfg.NotifyRetry > 0 {
		first := cfg.NotifyRetry
		if first == 0 {
			var err error
			if first, err = time.ParseDuration(v); err != nil || first <= 0 {
				return nil, fmt.Errorf("TOLLGATE_NOTIFY_RETRY: %q is not a positive duration", v)
			}
		}
		ocfg.Backoff = func(n int) time.Duration {
			return min(time.Hour, first*time.Duration(1<<min(n-1, 30)))
		}
		ocfg.Poll = min(time.Second, first)
	}
	b.Outbox = notify.New(ocfg)
	bcfg := budget.Config{Store: m.DB, Source: m.DB, Catalog: m.Catalog, Notifier: b.Outbox, Egress: m.Egress, Management: m.Config.AccountID, Logger: m.Logger}
	if cfg.BudgetEvalInterval > 0 {
		bcfg.EvalInterval = cfg.BudgetEvalInterval
	} else if v := m.getenv("TOLLGATE_BUDGET_EVAL_INTERVAL"); v != "" {
		if bcfg.EvalInterval, err = time.ParseDuration(v); err != nil || bcfg.EvalInterval <= 0 {
			return nil, fmt.Errorf("TOLLGATE_BUDGET_EVAL_INTERVAL: %q is not a positive duration", v)
		}
	}
	if m.DB.Shared() {
		bcfg.Shared, bcfg.Replica, bcfg.SyncInterval = m.DB, m.Replica, cfg.BudgetSyncInterval
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
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	b.cancel = cancel
	b.done.Add(3)
	// With several replicas sharing the store one of them delivers the outbox
	// and evaluates alerts at a time (leases); each keeps its budgets in
	// step with the fleet's spend (RunShared).
	go func() { defer b.done.Done(); lease.Run(bg, m.lease("notify-outbox"), b.Outbox.Run) }()
	go func() {
		defer b.done.Done()
		lease.Run(bg, m.lease("budget-alerts"), func(ctx context.Context) {
			if bcfg.Shared != nil {
				// Taking over: start from what the fleet spent and fired.
				if err := b.Service.Sync(ctx); err != nil {
					m.Logger.Warn("budget_sync_failed", "err", err.Error())
				}
				if err := b.Service.ReloadAlerts(ctx); err != nil {
					m.Logger.Warn("budget_alerts_reload_failed", "err", err.Error())
				}
			}
			b.Service.Run(ctx)
		})
	}()
	go func() { defer b.done.Done(); b.Service.RunShared(bg) }()
	return b, nil
}

// webhookSecret returns TOLLGATE_WEBHOOK_SECRET or the data directory's
// webhook.secret, created on first start.
func (m *Main) webhookSecret() ([]byte, error) {
	if v := m.getenv("TOLLGATE_WEBHOOK_SECRET"); v != "" {
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

// Admitter returns the budgets' invoke.Admitter.
func (b *Budgets) Admitter() invoke.Admitter { return b.Service }

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

// Close stops the evaluator and the outbox and gives back unused budget
// allowance; call it after the calls in flight have settled and before
// closing the store. Messages not yet delivered stay in the outbox for the
// next start.
func (b *Budgets) Close() error {
	if b == nil || b.cancel == nil {
		return nil
	}
	b.cancel()
	b.done.Wait()
	b.cancel = nil
	// Replicas sharing the store: give the BLOCK allowance this replica
	// holds and no longer needs back to the pools, for the others.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b.Service.ReturnIdle(ctx, true)
	return nil
}
