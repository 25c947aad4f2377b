package main

import (
	"context"
	"time"

	"github.com/tollgate-dev/tollgate/internal/anomaly"
	"github.com/tollgate-dev/tollgate/internal/authz"
	"github.com/tollgate-dev/tollgate/internal/console"
	"github.com/tollgate-dev/tollgate/internal/console/session"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/supervise"
)

// openConsole builds the web console over m's services (served under
// /console/ by m.Server): sessions in m's store with the configured idle
// timeout and lifetime, sign-in against m's principals, authorization by
// the same policy engine as the APIs.
func (m *Main) openConsole(costs *costquery.Service) *console.Handler {
	m.ConsoleSessions = &session.Manager{Store: m.DB, IdleTimeout: m.Config.ConsoleIdleTimeout, Lifetime: m.Config.ConsoleSessionLifetime}
	return console.New(console.Options{
		Logger:     m.Logger,
		Sessions:   m.ConsoleSessions,
		Auth:       m.Principals,
		Directory:  m.Directory,
		Authz:      authz.New(m.Directory, nil),
		Costs:      costs,
		Profiles:   m.Profiles,
		Budgets:    m.Budgets.Service,
		Alarms:     m.Watch.Alarms,
		Metrics:    m.Watch.Metrics,
		Anomalies:  anomaly.NewService(m.DB, nil),
		Usage:      m.DB,
		Admin:      m.Directory,
		Management: m.Config.AccountID,
		MainTagKey: m.Config.ConsoleMainTagKey,

		AllowPlaintextSignIn: m.Config.AllowPlaintextAPIKeys,
	})
}

// consoleSweepJob deletes idle and expired console sessions every ten
// minutes (leased: one replica sweeps a shared store).
func (m *Main) consoleSweepJob() supervise.Job {
	return supervise.Job{Name: "console-session-sweep", Leased: true, Run: func(ctx context.Context) error {
		t := time.NewTicker(10 * time.Minute)
		defer t.Stop()
		for {
			if n, err := m.ConsoleSessions.Sweep(ctx); err != nil {
				m.Logger.Warn("console_session_sweep", "err", err)
			} else if n > 0 {
				m.Logger.Info("console_sessions_expired", "count", n)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	}}
}
