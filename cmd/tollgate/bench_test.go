package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/bench"
)

// TestBenchAgainstServer runs the load generator for one second at a low
// rate against a real Tollgate and checks the report is sane. It asserts
// nothing about latency: only counts, rates and shape.
func TestBenchAgainstServer(t *testing.T) {
	ts := startServer(t, "", nil)
	const rate = 50
	rep, err := bench.Run(t.Context(), bench.Options{
		Endpoint:    ts.URL(),
		Credentials: ts.CredentialsFile(),
		Profile:     "default",
		Region:      ts.Config.Region,
		Rates:       []int{rate},
		Duration:    time.Second,
		Warmup:      200 * time.Millisecond,
		Bare:        true,
	}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rep.Model, ":application-inference-profile/") {
		t.Errorf("model %q is not an application profile ARN", rep.Model)
	}
	if rep.BareURL == "" || rep.BodyBytes == 0 {
		t.Errorf("bare URL %q, response bytes %d", rep.BareURL, rep.BodyBytes)
	}
	if len(rep.Runs) != 1 {
		t.Fatalf("%d runs, want 1", len(rep.Runs))
	}
	run := rep.Runs[0]
	if run.Bare == nil || run.P99OverheadMs == nil {
		t.Fatal("no bare measurement")
	}
	for name, s := range map[string]bench.Stats{"tollgate": run.Tollgate, "bare": *run.Bare} {
		if s.Scheduled != rate || s.Completed != rate || s.Errors != 0 || s.Dropped != 0 {
			t.Errorf("%s: scheduled %d, completed %d, errors %d (%s), dropped %d; want %d completed and no errors",
				name, s.Scheduled, s.Completed, s.Errors, s.FirstError, s.Dropped, rate)
		}
		if s.AchievedRPS < rate*0.8 || s.AchievedRPS > rate*1.2 {
			t.Errorf("%s: achieved %.1f req/s, want within 20%% of %d", name, s.AchievedRPS, rate)
		}
		if !(s.P50Ms > 0 && s.P50Ms <= s.P90Ms && s.P90Ms <= s.P99Ms && s.P99Ms <= s.MaxMs) {
			t.Errorf("%s: quantiles out of order: p50 %v p90 %v p99 %v max %v", name, s.P50Ms, s.P90Ms, s.P99Ms, s.MaxMs)
		}
	}

	// A second run reuses the "bench" profile instead of creating another.
	again, err := bench.Run(t.Context(), bench.Options{Endpoint: ts.URL(), Credentials: ts.CredentialsFile(), Profile: "default",
		Region: ts.Config.Region, Rates: []int{5}, Duration: 200 * time.Millisecond}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Model != rep.Model {
		t.Errorf("second run used %s, want the same profile %s", again.Model, rep.Model)
	}

	var out bytes.Buffer
	if err := rep.Print(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tollgate", "bare", "overhead at 50 req/s"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
