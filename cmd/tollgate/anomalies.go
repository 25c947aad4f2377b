package main

import (
	"context"

	"github.com/tollgate-dev/tollgate/internal/anomaly"
	"github.com/tollgate-dev/tollgate/internal/api/ceapi"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/lease"
)

// openAnomalies sets up cost anomaly detection: m.Anomalies, the runner
// Run starts, and the Cost Explorer operations it returns for
// ceapi.Options.Anomalies. Alerts go through the budgets' notify outbox.
func (m *Main) openAnomalies() *ceapi.AnomalyHandler {
	m.Anomalies = anomaly.NewRunner(anomaly.RunnerConfig{
		Store: m.DB, Source: m.DB, Names: costquery.NewNamer(m.Catalog), Management: m.Config.AccountID,
		Notifier: m.Budgets.Outbox, Logger: m.Logger,
	})
	svc := anomaly.NewService(m.DB, nil)
	svc.Egress = m.Egress
	return ceapi.NewAnomalyHandler(svc)
}

// runAnomalies starts the anomaly runner and returns the function that
// stops it and waits for it.
func (m *Main) runAnomalies(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		lease.Run(ctx, m.lease("anomaly-detection"), m.Anomalies.Run)
	}()
	return func() { cancel(); <-done }
}
