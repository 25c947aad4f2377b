package main

import (
	"context"

	"github.com/tollgate-dev/tollgate/internal/anomaly"
	"github.com/tollgate-dev/tollgate/internal/api/ceapi"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/supervise"
)

// openAnomalies sets up cost anomaly detection: m.Anomalies, the runner
// Run starts (anomalyJob), and the Cost Explorer operations it returns for
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

// anomalyJob is the anomaly runner's background job, on one replica at a
// time.
func (m *Main) anomalyJob() supervise.Job {
	return supervise.Job{Name: "anomaly-detection", Leased: true,
		Run: func(ctx context.Context) error { m.Anomalies.Run(ctx); return nil }}
}
