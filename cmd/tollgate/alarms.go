package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tollgate-dev/tollgate/internal/admission"
	"github.com/tollgate-dev/tollgate/internal/alarm"
	"github.com/tollgate-dev/tollgate/internal/api/cloudwatchapi"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/metrics"
	"github.com/tollgate-dev/tollgate/internal/notify"
	"github.com/tollgate-dev/tollgate/internal/promexport"
	"github.com/tollgate-dev/tollgate/internal/server"
	"github.com/tollgate-dev/tollgate/internal/supervise"
)

// Watch is the observability part of Main: the AWS/Bedrock metric
// series, the CloudWatch alarms and their evaluator, the CloudWatch API,
// and the Prometheus registry behind /metrics.
type Watch struct {
	Metrics    *metrics.Registry
	Alarms     *alarm.Service
	Prometheus *prometheus.Registry
	Exporter   *promexport.Exporter

	api    *cloudwatchapi.Handler
	outbox atomic.Pointer[notify.Outbox]
	usage  usageLog // runtime calls' usage for their access-log lines (accesslog.go)
	shared bool     // replicas share the store
	// evalEvery is how often alarms are evaluated (Config.AlarmEvalInterval).
	evalEvery time.Duration

	// BudgetStatus, when set before Open returns, feeds the budget gauges
	// of /metrics (the budget service's hook).
	BudgetStatus func() []promexport.BudgetStatus
	// EnforcementStatus, when set before Open returns, feeds the budget
	// actions' enforcement gauge and refusal counters.
	EnforcementStatus func() []promexport.EnforcementStatus
	// OutboxStatus, when set before Open returns, feeds the notification
	// outbox's metrics.
	OutboxStatus func() promexport.OutboxStatus
}

// openWatch builds the Watch over m's store. Its background jobs (jobs)
// start with Main.Run.
func openWatch(ctx context.Context, m *Main) (*Watch, error) {
	w := &Watch{Prometheus: prometheus.NewRegistry(), evalEvery: 10 * time.Second} // alarmEvalInterval's documented default
	if m.Config.AlarmEvalInterval > 0 {
		w.evalEvery = m.Config.AlarmEvalInterval
	}
	w.usage.profileName = func(account, id string) string {
		if m.Profiles != nil {
			if p, ok := m.Profiles.Lookup(account, id); ok {
				return p.Name
			}
		}
		return ""
	}
	w.Prometheus.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var tagLabels []string
	// Config.MetricsTagLabels allow-lists the tag keys that become
	// Prometheus labels (comma-separated).
	for _, k := range strings.Split(m.Config.MetricsTagLabels, ",") {
		if k = strings.TrimSpace(k); k != "" {
			tagLabels = append(tagLabels, k)
		}
	}
	var err error
	w.Exporter, err = promexport.New(w.Prometheus, promexport.Options{TagLabels: tagLabels, Alarms: w.alarmStatus,
		MaxProfiles: m.Config.MetricsMaxProfiles, Logger: m.Logger,
		Budgets: func() []promexport.BudgetStatus {
			if w.BudgetStatus == nil {
				return nil
			}
			return w.BudgetStatus()
		},
		Enforcements: func() []promexport.EnforcementStatus {
			if w.EnforcementStatus == nil {
				return nil
			}
			return w.EnforcementStatus()
		},
		Outbox: func() promexport.OutboxStatus {
			if w.OutboxStatus == nil {
				return promexport.OutboxStatus{}
			}
			return w.OutboxStatus()
		},
		ProfileName: w.usage.profileName})
	if err != nil {
		return nil, err
	}
	mcfg := metrics.Config{Store: m.DB, Records: m.DB, Logger: m.Logger}
	if m.DB.Shared() {
		// Several replicas share the store: each keeps its own buckets,
		// and queries add up every replica's.
		mcfg.Replica = m.Replica
	}
	w.Metrics, err = metrics.Open(ctx, mcfg)
	if err != nil {
		return nil, err
	}
	w.Alarms, err = alarm.NewService(ctx, alarm.Config{Store: m.DB, Source: metricsSource{w.Metrics}, Notifier: alarmNotifier{w}, Egress: m.Egress,
		Region: m.Config.Region, Normalize: metrics.NormalizeModelID, Logger: m.Logger})
	if err != nil {
		return nil, err
	}
	w.api = cloudwatchapi.New(w.Metrics, w.Alarms, cloudwatchapi.Options{Region: m.Config.Region})
	w.shared = m.DB.Shared()
	return w, nil
}

// jobs are the Watch's background jobs: the metric series' flushes (each
// replica its own; the last flush when the job stops) and, on one replica
// at a time, alarm evaluation.
func (w *Watch) jobs(log *slog.Logger) []supervise.Job {
	return []supervise.Job{
		{Name: "metrics-flush", Run: func(ctx context.Context) error { w.Metrics.Run(ctx); return nil }},
		{Name: "alarm-evaluation", Leased: true, Run: func(ctx context.Context) error {
			if w.shared {
				// Taking over: start from the states the last holder stored.
				if err := w.Alarms.Reload(ctx); err != nil {
					log.Warn("reload_alarms_failed", "err", err.Error())
				}
			}
			w.Alarms.Run(ctx, w.evalEvery)
			return nil
		}},
	}
}

// UseOutbox sends alarm webhooks through the durable notification outbox
// budget alerts use (Open calls it before any alarm can fire).
func (w *Watch) UseOutbox(o *notify.Outbox) {
	if w != nil && o != nil {
		w.outbox.Store(o)
	}
}

// alarmNotifier is the alarms' alarm.Notifier: the notification outbox.
type alarmNotifier struct{ w *Watch }

func (n alarmNotifier) Enqueue(ctx context.Context, key, target, subject, body string) error {
	o := n.w.outbox.Load()
	if o == nil {
		return errors.New("alarm notification before the outbox was set")
	}
	var msg struct{ NewStateReason string }
	_ = json.Unmarshal([]byte(body), &msg)
	return o.Enqueue(ctx, notify.Message{Key: key, Kind: "alarm.state", Target: notify.TargetOf(target),
		Subject: subject, Body: msg.NewStateReason, Data: json.RawMessage(body)})
}

// OnRecord counts a durable usage record (invoke.Config.OnRecord).
func (w *Watch) OnRecord(r ledger.Record) {
	w.Metrics.Add(r)
	w.Exporter.ObserveRecord(r)
	w.usage.put(r)
}

// AccessAttrs returns a runtime call's tokens, cost, model, outcome and
// profile for its access-log line (server.Options.AccessAttrs).
func (w *Watch) AccessAttrs(requestID string) []slog.Attr { return w.usage.take(requestID) }

// RPC returns the CloudWatch service for the server.
func (w *Watch) RPC() []server.RPCService {
	return []server.RPCService{w.api.Service()}
}

// MetricsHandler serves the Prometheus exposition.
func (w *Watch) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(w.Prometheus, promhttp.HandlerOpts{})
}

// Admitter returns an admission.Admitter enforcing the alarms' Tollgate
// actions (throttle, disable) before next (budgets), which may be nil.
func (w *Watch) Admitter(next admission.Admitter) admission.Admitter {
	return gateAdmitter{gate: w.Alarms.Gate(), next: next}
}

func (w *Watch) alarmStatus() []promexport.AlarmStatus {
	if w.Alarms == nil {
		return nil
	}
	var out []promexport.AlarmStatus
	for _, a := range w.Alarms.All() {
		out = append(out, promexport.AlarmStatus{Account: a.Account, Name: a.Name, State: string(a.State)})
	}
	return out
}

// gateAdmitter refuses calls an alarm action throttles or disables, then
// asks next.
type gateAdmitter struct {
	gate *alarm.Gate
	next admission.Admitter
}

type noTicket struct{}

func (noTicket) Model() string        { return "" }
func (noTicket) Done(r ledger.Record) {}

func (g gateAdmitter) Admit(ctx context.Context, a admission.Request) (admission.Ticket, error) {
	dim := a.ProfileID
	if dim == "" {
		dim = a.Model.ID
	}
	if err := g.gate.Check(a.Account, dim, a.Time); err != nil {
		return nil, err
	}
	if g.next != nil {
		return g.next.Admit(ctx, a)
	}
	return noTicket{}, nil
}

// metricsSource is the alarms' view of the metric series.
type metricsSource struct{ reg *metrics.Registry }

// Datapoints implements alarm.Source.
func (s metricsSource) Datapoints(ctx context.Context, q alarm.Query) ([]alarm.Datapoint, error) {
	out := make([]alarm.Datapoint, q.Count)
	for i := range out {
		out[i] = alarm.Datapoint{Start: q.Start.Add(time.Duration(i) * q.Period), Missing: true}
	}
	dims := make(map[string]string, len(q.Dimensions))
	for _, d := range q.Dimensions {
		dims[d.Name] = d.Value
	}
	key, def, ok := metrics.Resolve(q.Account, q.Namespace, q.MetricName, dims)
	if !ok || (q.Unit != "" && q.Unit != def.Unit) {
		return out, nil
	}
	periods, err := s.reg.Query(ctx, key, q.Start, q.Start.Add(time.Duration(q.Count)*q.Period), q.Period)
	if err != nil {
		return nil, err
	}
	for _, p := range periods {
		i := int(p.Start.Sub(q.Start) / q.Period)
		if i < 0 || i >= len(out) {
			continue
		}
		if v, ok := p.Stats.Value(q.Statistic, def.Scale); ok && !math.IsNaN(v) {
			out[i] = alarm.Datapoint{Start: p.Start, Value: v, Samples: p.Stats.Count}
		}
	}
	return out, nil
}
