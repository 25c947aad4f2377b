package main

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/demo"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
)

// TestDemoOnce runs `tollgate demo --once` twice on one data directory: the
// second run reuses the profiles (idempotent creation) and adds traffic.
func TestDemoOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	args := []string{"demo", "--once", "--calls", "40", "--data-dir", dir, "--addr", "127.0.0.1:0"}
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
