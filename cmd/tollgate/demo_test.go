package main

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/demo"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
)

// TestDemoOnce runs `tollgate demo --once` twice on one data directory: the
// second run reuses the profiles (idempotent creation) and adds traffic.
func TestDemoOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	args := []string{"demo", "--once", "--calls", "40", "--days", "0", "--data-dir", dir, "--addr", "127.0.0.1:0"}
	var out bytes.Buffer
	if err := run(t.Context(), args, &out, io.Discard, func(string) string { return "" }); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{"Cost by tag", "claims_chatbot", "chat_app", "policy_recommendations", "risk_assessment", "Cost by inference profile", "TOTAL", "AWS_SHARED_CREDENTIALS_FILE=", "/console/ and sign in"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := run(t.Context(), args, &out, io.Discard, func(string) string { return "" }); err != nil {
		t.Fatalf("second demo: %v\n%s", err, out.String())
	}
	db, err := sqlite.Open(t.Context(), dir+"/tollgate.db", sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recs, err := db.Records(t.Context(), ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	profiles := map[string]bool{}
	ops := map[string]int{}
	for _, r := range recs {
		profiles[r.ProfileID] = true
		ops[r.Operation]++
	}
	if len(recs) != 80 || len(profiles) != len(demo.Profiles) || len(ops) != 4 {
		t.Errorf("%d records over %d profiles and operations %v; want 80 over %d and all four", len(recs), len(profiles), ops, len(demo.Profiles))
	}

	out.Reset()
	if err := run(t.Context(), []string{"usage", "--data-dir", dir, "--limit", "5"}, &out, io.Discard, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(out.String(), "\n"); lines != 6 {
		t.Errorf("usage printed %d lines, want a header and 5 records:\n%s", lines, out.String())
	}
}

// TestDemoHistory runs `tollgate demo --once --days 60`: the history is
// backfilled through the ledger, the seed scenario's budget is exceeded,
// the claims budget is near its limit, the anomaly detector finds the
// spike, and the demo says what to try next. A second run on the same
// data directory adds no history (and no second spike).
func TestDemoHistory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	args := []string{"demo", "--once", "--calls", "12", "--days", "60", "--data-dir", dir, "--addr", "127.0.0.1:0"}
	var out bytes.Buffer
	if err := run(t.Context(), args, &out, io.Discard, func(string) string { return "" }); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{"Backfilled 60 days of usage history through the ledger", "with a spike: sales-chat-prod",
		"sales-support-chat   limit $10000.00", "EXCEEDED", "claims-automation", "near its limit",
		"claims-chatbot-invocation-limit", "above expected (app$chat_app)", "Try next", "/console/", "tollgate budgets", "tollgate anomalies"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	count := func() (history, spike, live int) {
		db, err := sqlite.Open(t.Context(), dir+"/tollgate.db", sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		recs, err := db.Records(t.Context(), ledger.Query{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			switch {
			case strings.HasPrefix(r.RequestID, "demo-history-"):
				history++
			case strings.HasPrefix(r.RequestID, "demo-spike-"):
				spike++
			default:
				live++
			}
		}
		return
	}
	h1, s1, l1 := count()
	if h1 < 60*24*len(demo.Profiles)-len(demo.Profiles) || s1 == 0 || l1 != 12 {
		t.Errorf("records: %d history, %d spike, %d live; want 60 days of 6 profiles, a spike and 12", h1, s1, l1)
	}
	checkReportCalls(t, dir, out.String())
	out.Reset()
	if err := run(t.Context(), args, &out, io.Discard, func(string) string { return "" }); err != nil {
		t.Fatalf("second demo: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "already in") {
		t.Errorf("second run backfilled again:\n%s", out.String())
	}
	if h2, s2, l2 := count(); h2 != h1 || s2 != s1 || l2 != 24 {
		t.Errorf("after a second run: %d history, %d spike, %d live; want %d, %d, 24", h2, s2, l2, h1, s1)
	}
}

// checkReportCalls checks the demo report's TOTAL calls (this month so
// far) against the ledger: the calls the month's records stand for, not
// the number of records, of which the history has one per profile and
// hour.
func checkReportCalls(t *testing.T, dir, out string) {
	t.Helper()
	var reported int64 = -1
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "TOTAL" {
			n, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatalf("report total %q: %v", line, err)
			}
			reported = n
		}
	}
	if reported < 0 {
		t.Fatalf("no TOTAL line in the report:\n%s", out)
	}
	db, err := sqlite.Open(t.Context(), dir+"/tollgate.db", sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC()
	recs, err := db.Records(t.Context(), ledger.Query{From: time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	var calls, history int64
	for _, r := range recs {
		calls += r.CallCount()
		if r.Calls > 1 {
			history++
		}
	}
	if reported != calls {
		t.Errorf("report: %d calls this month; the month's %d records stand for %d", reported, len(recs), calls)
	}
	if history > 0 && reported < 10*int64(len(recs)) {
		t.Errorf("report: %d calls for %d records (%d of them history hours): hours counted as calls", reported, len(recs), history)
	}
}

// TestDemoHelp: demo --help lists the demo's flags and exits 0.
func TestDemoHelp(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"demo", "--help"}, &out, io.Discard, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--once", "--calls int", "--days int", "(default 60)", "Examples:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo --help lacks %q:\n%s", want, out.String())
		}
	}
}
