package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Commits is what a started Tollgate's ledger committed over a measured
// window, from the counters of its /metrics (the metrics listener bench
// gives it): how many commit groups, how many records, and the mean time
// one took. Every group is one journal write and sync, so Records/Groups
// is how many calls shared a sync, and the sync floor's CPU over it is
// the durability's CPU per call.
type Commits struct {
	Groups  int64 `json:"groups"`
	Records int64 `json:"records"`
	// RecordsPerGroup is Records / Groups.
	RecordsPerGroup float64 `json:"recordsPerGroup"`
	// MeanMs is the mean time to commit one group, in ms.
	MeanMs float64 `json:"meanMs"`
}

// ledgerCounters are the ledger's cumulative commit counters at one
// instant.
type ledgerCounters struct {
	groups, records, seconds float64
}

// The series scrapeLedger reads (cmd/tollgate/ledgermetrics.go).
const (
	seriesCommitCount   = "tollgate_ledger_commit_duration_seconds_count"
	seriesCommitSum     = "tollgate_ledger_commit_duration_seconds_sum"
	seriesCommitRecords = "tollgate_ledger_committed_records_total"
)

// scrapeLedger reads the ledger's commit counters from the Prometheus
// text exposition at url.
func scrapeLedger(ctx context.Context, url string) (ledgerCounters, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return ledgerCounters{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ledgerCounters{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ledgerCounters{}, fmt.Errorf("bench: GET %s: %s", url, resp.Status)
	}
	return parseLedgerCounters(bufio.NewScanner(resp.Body))
}

// parseLedgerCounters picks the ledger's commit counters out of a text
// exposition; all three must be there.
func parseLedgerCounters(sc *bufio.Scanner) (ledgerCounters, error) {
	var c ledgerCounters
	found := 0
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		var dst *float64
		switch name {
		case seriesCommitCount:
			dst = &c.groups
		case seriesCommitSum:
			dst = &c.seconds
		case seriesCommitRecords:
			dst = &c.records
		default:
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return c, fmt.Errorf("bench: %s: %w", name, err)
		}
		*dst = v
		found++
	}
	if err := sc.Err(); err != nil {
		return c, err
	}
	if found != 3 {
		return c, fmt.Errorf("bench: the metrics lack the ledger's commit counters (%s, %s, %s)", seriesCommitCount, seriesCommitSum, seriesCommitRecords)
	}
	return c, nil
}

// commitsBetween is what was committed between two scrapes; nil when
// nothing was.
func commitsBetween(before, after ledgerCounters) *Commits {
	groups := int64(after.groups - before.groups)
	if groups <= 0 {
		return nil
	}
	records := int64(after.records - before.records)
	return &Commits{
		Groups: groups, Records: records,
		RecordsPerGroup: round3(float64(records) / float64(groups)),
		MeanMs:          round3((after.seconds - before.seconds) * 1000 / float64(groups)),
	}
}
