package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate-dev/tollgate/internal/quota"
)

// Priority is the admission part of Main: the runtime quotas and the
// adaptive, tier-ordered limit of calls in flight upstream (quota), with
// their Prometheus gauges.
type Priority struct {
	Quotas *quota.Quotas
	Gate   *quota.Gate
}

// openPriority builds the quotas of cfg (the fleet's when replicas share
// the store) and the upstream gate, and registers their gauges.
func openPriority(m *Main) *Priority {
	c := m.Config.Quotas
	qc := quota.Config{FlexShare: c.FlexShare, DefaultShare: c.DefaultShare, FlexMaxWait: c.FlexMaxWait}
	if qc.FlexMaxWait == 0 {
		qc.FlexMaxWait = 2 * time.Second
	}
	for _, r := range c.Rules {
		scope := r.Scope
		if scope == "" {
			scope = quota.ScopeOnDemand
		}
		qc.Rules = append(qc.Rules, quota.Rule{Account: r.Account, Model: r.Model, Scope: scope, Profile: r.Profile, RPM: r.RPM, TPM: r.TPM})
	}
	for _, r := range c.Reserved {
		qc.Reserved = append(qc.Reserved, quota.Reserved{Account: r.Account, Profile: r.Profile, TPM: r.TPM})
	}
	if m.DB.Shared() {
		qc.Shared = m.DB // the fleet's quotas: slices of each minute claimed from the store
	}
	gc := quota.GateConfig{Initial: c.Concurrency.Initial, Min: c.Concurrency.Min, Max: c.Concurrency.Max}
	gc.Share[quota.ClassFlex], gc.Share[quota.ClassDefault] = c.FlexShare, c.DefaultShare
	gc.MaxWait[quota.ClassFlex] = withDefault(c.FlexMaxWait, 2*time.Second)
	gc.MaxWait[quota.ClassDefault] = withDefault(c.DefaultMaxWait, time.Second)
	gc.MaxWait[quota.ClassPriority] = withDefault(c.PriorityMaxWait, 5*time.Second)
	p := &Priority{Quotas: quota.New(qc), Gate: quota.NewGate(gc)}
	m.Watch.Prometheus.MustRegister(gateCollector{p.Gate})
	return p
}

func withDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

var (
	admittedDesc = prometheus.NewDesc("tollgate_upstream_concurrency_limit",
		"Adaptive limit of calls in flight to a provider route (AIMD).", []string{"provider", "model", "region"}, nil)
	inFlightDesc = prometheus.NewDesc("tollgate_upstream_in_flight",
		"Calls in flight to a provider route (admitted concurrency).", []string{"provider", "model", "region"}, nil)
	queueDesc = prometheus.NewDesc("tollgate_admission_queue_depth",
		"Calls waiting for a slot at a provider route, by class.", []string{"provider", "model", "region", "class"}, nil)
	refusedDesc = prometheus.NewDesc("tollgate_admission_refused_total",
		"Calls refused after waiting for a slot at a provider route, by class.", []string{"provider", "model", "region", "class"}, nil)
)

// gateCollector exports the gate's per-route gauges.
type gateCollector struct{ g *quota.Gate }

func (gateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- admittedDesc
	ch <- inFlightDesc
	ch <- queueDesc
	ch <- refusedDesc
}

func (c gateCollector) Collect(ch chan<- prometheus.Metric) {
	for r, st := range c.g.Routes() {
		ch <- prometheus.MustNewConstMetric(admittedDesc, prometheus.GaugeValue, float64(st.Limit.Load()), r.Provider, r.Model, r.Region)
		ch <- prometheus.MustNewConstMetric(inFlightDesc, prometheus.GaugeValue, float64(st.InFlight.Load()), r.Provider, r.Model, r.Region)
		for _, cl := range []quota.Class{quota.ClassFlex, quota.ClassDefault, quota.ClassPriority} {
			ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(st.Waiting[cl].Load()), r.Provider, r.Model, r.Region, cl.String())
			ch <- prometheus.MustNewConstMetric(refusedDesc, prometheus.CounterValue, float64(st.Refused[cl].Load()), r.Provider, r.Model, r.Region, cl.String())
		}
	}
}
