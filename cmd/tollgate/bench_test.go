package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/api/adminapi"
	"github.com/tollgate-dev/tollgate/internal/bench"
	"github.com/tollgate-dev/tollgate/internal/config"
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

// TestBenchRefusesRealProvider checks that bench --endpoint asks the
// server which provider serves the model (GetModelRoutes) and sends no
// call to a real one without --yes.
func TestBenchRefusesRealProvider(t *testing.T) {
	t.Parallel()
	upstream, seen := fakeOpenAI(t)
	ts := startServer(t, "", func(c *config.Config) {
		c.Secrets.ProviderAPIKeys = map[string]string{"vllm": "sk-test"}
		c.Providers = []config.Provider{{Name: "vllm", Type: "openai", BaseURL: upstream.URL + "/v1", APIKeyEnv: "FAKE_OPENAI_KEY"}}
		c.Routes = []config.Route{{Provider: "vllm"}}
	})
	o := bench.Options{Endpoint: ts.URL(), Credentials: ts.CredentialsFile(), Profile: "default", Region: ts.Config.Region,
		Rates: []int{5}, Duration: 200 * time.Millisecond}
	_, err := bench.Run(t.Context(), o, &bytes.Buffer{})
	if !bench.IsRealProvider(err) || !strings.Contains(err.Error(), "vllm (openai)") {
		t.Fatalf("bench without --yes: %v; want the refusal naming vllm (openai)", err)
	}
	if len(*seen) != 0 {
		t.Fatalf("the upstream got %d calls before the refusal", len(*seen))
	}
	o.Yes = true
	rep, err := bench.Run(t.Context(), o, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if s := rep.Runs[0].Tollgate; s.Completed != 1 || s.Errors != 0 || len(*seen) < 2 {
		t.Errorf("with --yes: completed %d, errors %d (%s), upstream saw %d; want the first call and 1 measured", s.Completed, s.Errors, s.FirstError, len(*seen))
	}

	// The admin operation itself, through the typed client.
	creds, err := ts.awsConfig(t).Credentials.Retrieve(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c := adminapi.NewClient(ts.URL(), ts.Config.Region, credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""))
	mr, err := c.GetModelRoutes(t.Context(), "anthropic.claude-3-haiku-20240307-v1:0")
	if err != nil {
		t.Fatal(err)
	}
	if len(mr.Routes) == 0 || mr.Routes[0].Provider != "vllm" || mr.Routes[0].ProviderType != "openai" || !strings.Contains(mr.ARN, ":foundation-model/anthropic.claude-3-haiku") {
		t.Errorf("GetModelRoutes: %+v", mr)
	}
	if _, err := c.GetModelRoutes(t.Context(), "arn:aws:bedrock:us-east-1:"+ts.Config.AccountID+":application-inference-profile/nosuchprofil"); err == nil ||
		!strings.Contains(err.Error(), "ResourceNotFound") {
		t.Errorf("unknown profile: %v, want ResourceNotFoundException", err)
	}
}

// TestBenchHarness runs the side-by-side harness from a built binary at
// 50 calls/s for a second: it must start the upstream and a sim and an
// openai Tollgate, get answers from all three, report a row per target
// with each process's CPU, and leave no temporary directory or process
// behind.
func TestBenchHarness(t *testing.T) {
	t.Parallel()
	built, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	// A copy of our own, so the processes it starts are told apart from
	// other tests' by their executable.
	bin := filepath.Join(t.TempDir(), "tollgate-harness")
	b, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	outDir := filepath.Join(t.TempDir(), "results")
	cmd := exec.CommandContext(ctx, bin, "bench", "--rates", "50", "--duration", "1s", "--warmup", "200ms", "-o", "json", "--out", outDir)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "TOLLGATE_DATA_DIR=/nonexistent/operator-data")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tollgate bench: %v\n%s", err, stderr.String())
	}
	var rep bench.HarnessReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, stdout.String())
	}
	if rep.Synchronous != "FULL" || len(rep.Rates) != 1 || rep.Rates[0].Rate != 50 {
		t.Fatalf("report: durability %s, rates %+v", rep.Synchronous, rep.Rates)
	}
	wantProcs := map[string][]string{"direct": {"upstream"}, "tollgate-sim": {"tollgate-sim"}, "tollgate-openai": {"tollgate-openai", "upstream"}}
	var targets []string
	for _, run := range rep.Rates[0].Runs {
		targets = append(targets, run.Target)
		if run.Completed != 50 || run.Errors != 0 || run.Dropped != 0 {
			t.Errorf("%s: completed %d, errors %d (%s), dropped %d; want 50 and none", run.Target, run.Completed, run.Errors, run.FirstError, run.Dropped)
		}
		var procs []string
		for _, p := range run.Processes {
			procs = append(procs, p.Name)
			if p.CPUMs < 0 || p.CPUPerCallUs < 0 {
				t.Errorf("%s: %s CPU %v ms", run.Target, p.Name, p.CPUMs)
			}
		}
		if diff := cmp.Diff(procs, wantProcs[run.Target]); diff != "" {
			t.Errorf("%s: processes (-got +want):\n%s", run.Target, diff)
		}
		if run.WindowMs < 900 {
			t.Errorf("%s: CPU window %v ms, shorter than the run", run.Target, run.WindowMs)
		}
		// A Tollgate's ledger committed the window's 50 calls (and the
		// warm-up's tail) in groups of at least one call each.
		switch c := run.Commits; {
		case run.Target == "direct" && c != nil:
			t.Errorf("direct: commits %+v, want none", c)
		case run.Target != "direct" && (c == nil || c.Records < 50 || c.Groups < 1 || c.Groups > c.Records || c.MeanMs <= 0):
			t.Errorf("%s: commits %+v, want the 50 calls' records in 1 to 50 groups", run.Target, c)
		}
	}
	if diff := cmp.Diff(targets, []string{"direct", "tollgate-sim", "tollgate-openai"}); diff != "" {
		t.Errorf("targets (-got +want):\n%s", diff)
	}
	// The Tollgates were called through application profiles with a
	// Bedrock API key.
	for _, ti := range rep.Targets {
		if strings.HasPrefix(ti.Name, "tollgate-") && !strings.Contains(ti.Description, ":application-inference-profile/") {
			t.Errorf("%s: %s", ti.Name, ti.Description)
		}
	}

	// --out wrote the same report as JSON and as the table.
	saved, err := os.ReadFile(filepath.Join(outDir, "bench.json"))
	if err != nil || !bytes.Equal(saved, stdout.Bytes()) {
		t.Errorf("--out bench.json (%v) differs from stdout", err)
	}
	if table, err := os.ReadFile(filepath.Join(outDir, "bench.txt")); err != nil || !strings.Contains(string(table), "| offered | direct p50 / p99 |") {
		t.Errorf("--out bench.txt (%v):\n%s", err, table)
	}

	if ents, err := os.ReadDir(tmp); err != nil || len(ents) != 0 {
		t.Errorf("left in TMPDIR: %v (%v)", ents, err)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/exe")
	for _, p := range procs {
		if exe, err := os.Readlink(p); err == nil && exe == bin {
			t.Errorf("process %s still runs %s", filepath.Dir(p), bin)
		}
	}
}

// TestBenchHarnessScale runs the harness with --scale at a small scale:
// the scaled Tollgate is seeded, provisioned with profiles and budgets
// with BLOCK actions through the APIs, and called through its profiles in
// turn without an error, beside the empty one; both report memory. With
// --pprof and --trace each Tollgate's CPU and heap profiles and execution
// trace are saved.
func TestBenchHarnessScale(t *testing.T) {
	t.Parallel()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	profDir, traceDir := filepath.Join(t.TempDir(), "prof"), filepath.Join(t.TempDir(), "trace")
	cmd := exec.CommandContext(ctx, bin, "bench", "--providers", "sim", "--rates", "40", "--duration", "1s", "--warmup", "200ms",
		"--scale", "records=3000,profiles=30,budgets=5,busy=10", "-o", "json", "--pprof", profDir, "--trace", traceDir)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tollgate bench --scale: %v\n%s", err, stderr.String())
	}
	var rep bench.HarnessReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, stdout.String())
	}
	if rep.SyncFloor == nil || rep.SyncFloor.P50Ms <= 0 {
		t.Errorf("sync floor %+v", rep.SyncFloor)
	}
	var targets []string
	for _, run := range rep.Rates[0].Runs {
		targets = append(targets, run.Target)
		if run.Completed != 40 || run.Errors != 0 {
			t.Errorf("%s: completed %d, errors %d (%s); want 40 and none", run.Target, run.Completed, run.Errors, run.FirstError)
		}
		if p := run.Processes[0]; p.RSSMiB <= 0 || p.PeakRSSMiB < p.RSSMiB {
			t.Errorf("%s: %s RSS %v MiB, peak %v MiB", run.Target, p.Name, p.RSSMiB, p.PeakRSSMiB)
		}
	}
	if diff := cmp.Diff(targets, []string{"direct", "tollgate-sim", "tollgate-sim-scale"}); diff != "" {
		t.Errorf("targets (-got +want):\n%s", diff)
	}
	if d := rep.Targets[2].Description; !strings.Contains(d, "records=3000,profiles=30,budgets=5,busy=10") || !strings.Contains(d, "through 10 application profiles") {
		t.Errorf("scaled target: %s", d)
	}
	for _, want := range []string{"seeding tollgate-sim-scale's ledger with 3000 records", "creating 30 application profiles", "creating 5 budgets"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, stderr.String())
		}
	}
	for _, name := range []string{"tollgate-sim", "tollgate-sim-scale"} {
		for _, f := range []struct{ dir, file, magic string }{
			{profDir, name + "-40.cpu.pprof", "\x1f\x8b"}, // gzipped protocol buffers
			{profDir, name + "-40.heap.pprof", "\x1f\x8b"},
			{traceDir, name + "-40.trace", "go 1."}, // "go 1.N trace"
		} {
			if b, err := os.ReadFile(filepath.Join(f.dir, f.file)); err != nil || !bytes.HasPrefix(b, []byte(f.magic)) {
				t.Errorf("%s: %v, starts %.16q", f.file, err, b)
			}
		}
	}
	if ents, err := os.ReadDir(tmp); err != nil || len(ents) != 0 {
		t.Errorf("left in TMPDIR: %v (%v)", ents, err)
	}
}
