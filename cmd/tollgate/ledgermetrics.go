package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate-dev/tollgate/internal/ledger"
)

// commitBuckets span a commit group's write: tens of µs for a commit
// without a sync (durability NORMAL), a fraction of a millisecond for one
// fsync on a local SSD, tens of ms for a slow or busy disk.
var commitBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}

// ledgerCommitMetrics registers the ledger's commit-group metrics on reg
// and returns the Batcher's observer that feeds them. Every answered
// call waits for its group's commit, so the histogram is the durability
// part of the latency; records over commits is the group size, which
// says how many calls share each sync.
func ledgerCommitMetrics(reg prometheus.Registerer) ledger.CommitObserver {
	took := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tollgate_ledger_commit_duration_seconds",
		Help:    "Time to make one commit group of usage records durable (the ledger journal's write and sync), by group; its count is the commits.",
		Buckets: commitBuckets})
	records := prometheus.NewCounter(prometheus.CounterOpts{Name: "tollgate_ledger_committed_records_total",
		Help: "Usage records committed to the ledger; over the commit count, the calls that share a commit group."})
	failed := prometheus.NewCounter(prometheus.CounterOpts{Name: "tollgate_ledger_commit_errors_total",
		Help: "Commit groups the ledger failed to write; their calls were answered with an error."})
	reg.MustRegister(took, records, failed)
	return func(n int, d time.Duration, err error) {
		if err != nil {
			failed.Inc()
			return
		}
		took.Observe(d.Seconds())
		records.Add(float64(n))
	}
}
