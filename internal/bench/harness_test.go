package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// writeStat writes a fake /proc/PID/stat under root.
func writeStat(t *testing.T, root string, pid, ppid int, comm string, utime, stime, cutime, cstime int) {
	t.Helper()
	dir := filepath.Join(root, fmt.Sprint(pid))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf("%d (%s) S %d %d 9530 0 -1 4194304 100 0 0 0 %d %d %d %d 20 0 1 0 90740 3133440 379\n",
		pid, comm, ppid, pid, utime, stime, cutime, cstime)
	if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestParseStat(t *testing.T) {
	// The command name may hold spaces and parentheses.
	got, err := parseStat([]byte("4242 (node (gw) x) S 17 4242 9530 0 -1 4194304 100 0 0 0 123 45 6 7 20 0 1 0 90740 3133440 379\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := procStat{PID: 4242, PPID: 17, CPU: 168 * clockTick, Children: 13 * clockTick}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("parseStat (-got +want):\n%s", diff)
	}
	for _, bad := range []string{"", "12 no parens", "x (a) S 1 2", "12 (a) S 1 2 3", "12 (a) S 1 2 3 4 5 6 7 8 9 10 x 12 13 14"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) accepted it", bad)
		}
	}
}

func TestProcCPU(t *testing.T) {
	root := t.TempDir()
	fs := procFS(root)
	writeStat(t, root, 100, 1, "sh", 1, 2, 30, 40)       // the gateway's shell; 70 ticks of waited-for children
	writeStat(t, root, 101, 100, "node", 200, 100, 0, 0) // its child
	writeStat(t, root, 102, 101, "node worker", 5, 5, 0, 0)
	writeStat(t, root, 200, 1, "other", 1000, 1000, 0, 0) // not in the tree
	if err := os.WriteFile(filepath.Join(root, "stat"), []byte("cpu  115512 7 41578 23003 319 11 520 3 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "uptime"), []byte("1 2\n"), 0o644); err != nil {
		t.Fatal(err) // not a process directory: skipped
	}

	if got, err := fs.processCPU(101); err != nil || got != 300*clockTick {
		t.Errorf("processCPU(101) = %v, %v; want %v", got, err, 300*clockTick)
	}
	if got, err := fs.treeCPU(100); err != nil || got != (3+70+300+10)*clockTick {
		t.Errorf("treeCPU(100) = %v, %v; want %v", got, err, (3+70+300+10)*clockTick)
	}
	if got, err := fs.busyCPU(); err != nil || got != (115512+7+41578+11+520+3)*clockTick {
		t.Errorf("busyCPU = %v, %v", got, err)
	}
	if _, err := fs.processCPU(999); err == nil {
		t.Error("processCPU of a missing process succeeded")
	}

	// The real /proc: this process has used some CPU, and the machine more.
	self, err := hostProc.processCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	busy, err := hostProc.busyCPU()
	if err != nil || busy < self {
		t.Errorf("busy %v (%v) below this process's %v", busy, err, self)
	}
}

// TestFixedRate drives a local handler open loop and checks the counts,
// the rate and that every request came from the RequestFunc.
func TestFixedRate(t *testing.T) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Header.Get("X-Bench") == "yes" {
			got.Add(1)
		}
		if r.URL.Path == "/fail" {
			http.Error(w, "no", http.StatusTeapot)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	client := Client(16)
	req := func(path string) RequestFunc {
		hdr := http.Header{"X-Bench": {"yes"}}
		return chatRequest(srv.URL+path, hdr)
	}

	st, err := fixedRate(t.Context(), client, req("/ok"), 100, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if st.Scheduled != 50 || st.Completed != 50 || st.Errors != 0 || st.Dropped != 0 || got.Load() != 50 {
		t.Errorf("scheduled %d completed %d errors %d dropped %d seen %d; want 50 each and no errors", st.Scheduled, st.Completed, st.Errors, st.Dropped, got.Load())
	}
	// Open loop never sends faster than the rate; a loaded machine may
	// answer the last calls late, which lowers the achieved rate.
	if st.AchievedRPS < 50 || st.AchievedRPS > 110 {
		t.Errorf("achieved %.1f req/s, want about 100", st.AchievedRPS)
	}
	if !(st.P50Ms > 0 && st.P50Ms <= st.P90Ms && st.P90Ms <= st.P99Ms && st.P99Ms <= st.MaxMs) {
		t.Errorf("quantiles out of order: %+v", st)
	}

	st, err = fixedRate(t.Context(), client, req("/fail"), 50, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if st.Completed != 0 || st.Errors != 10 || !strings.Contains(st.FirstError, "status 418") {
		t.Errorf("failing target: completed %d errors %d first %q; want 0, 10, status 418", st.Completed, st.Errors, st.FirstError)
	}
}

func TestQuantile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for q, want := range map[float64]time.Duration{0.5: 50 * time.Millisecond, 0.9: 90 * time.Millisecond, 0.99: 99 * time.Millisecond, 1: 100 * time.Millisecond, 0: time.Millisecond} {
		if got := quantile(d, q); got != want {
			t.Errorf("quantile(%v) = %v, want %v", q, got, want)
		}
	}
}

// TestAccount checks the CPU arithmetic of one run: per-call CPU of the
// target's processes (front first), the generator's, and the rest of the
// machine.
func TestAccount(t *testing.T) {
	up, sim, oai := &child{name: "upstream"}, &child{name: "tollgate-sim"}, &child{name: "tollgate-openai"}
	h := &harness{children: []*child{up, sim, oai}}
	tgt := &harnessTarget{info: TargetInfo{Name: "tollgate-openai"}, procs: []*child{oai, up}}
	t0 := time.Unix(1000, 0)
	before := cpuSample{at: t0, children: []time.Duration{time.Second, time.Second, time.Second}, self: time.Second, busy: 10 * time.Second}
	after := cpuSample{at: t0.Add(2 * time.Second),
		children: []time.Duration{1100 * time.Millisecond, 1010 * time.Millisecond, 1500 * time.Millisecond},
		self:     1200 * time.Millisecond, busy: 11500 * time.Millisecond}
	got := h.account(tgt, Stats{Completed: 1000}, before, after)
	want := TargetRun{Target: "tollgate-openai", Stats: Stats{Completed: 1000}, WindowMs: 2000,
		Processes: []ProcessCPU{{Name: "tollgate-openai", CPUMs: 500, CPUPerCallUs: 500}, {Name: "upstream", CPUMs: 100, CPUPerCallUs: 100}},
		// 1.5 s busy - (0.1 + 0.01 + 0.5 + 0.2) s of ours = 0.69 s over 2 s.
		LoadgenCPUPerCallUs: 200, OtherLoadCores: 0.345}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("account (-got +want):\n%s", diff)
	}
}

func sampleReport() *HarnessReport {
	run := func(target string, p50, p99 float64, achieved float64, errs int, procs ...ProcessCPU) TargetRun {
		return TargetRun{Target: target, Stats: Stats{Scheduled: 3000, Completed: 3000 - errs, Errors: errs, AchievedRPS: achieved,
			P50Ms: p50, P90Ms: p50 * 2, P99Ms: p99, MaxMs: p99 * 2, FirstError: map[bool]string{true: "status 500: boom"}[errs > 0]},
			WindowMs: 10_050, Processes: procs, LoadgenCPUPerCallUs: 120, OtherLoadCores: 0.04}
	}
	withCommits := func(r TargetRun, c Commits) TargetRun {
		r.Commits = &c
		return r
	}
	return &HarnessReport{
		StartedAt: time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC), NumCPU: 2, GoVersion: "go1.26", Duration: "10s", Warmup: "1s",
		Synchronous: "FULL", LateAfterMs: 5, SyncFloor: &SyncFloor{Syncs: 200, P50Ms: 0.29, P99Ms: 0.61, CPUMicros: 97.5},
		Targets: []TargetInfo{
			{Name: "direct", URL: "http://127.0.0.1:1/v1/chat/completions", Description: "the zero-latency OpenAI-compatible upstream, called directly"},
			{Name: "tollgate-sim", URL: "http://127.0.0.1:2", Description: "Converse through application profile P with a Bedrock API key"},
			{Name: "gateway", URL: "http://127.0.0.1:8787/v1/chat/completions", Description: "npx @portkey-ai/gateway"},
		},
		Rates: []HarnessRate{
			{Rate: 300, Runs: []TargetRun{
				run("direct", 0.88, 3.2, 300, 0, ProcessCPU{"upstream", 300, 100, 38.5, 41.2}),
				withCommits(run("tollgate-sim", 1.54, 2.7, 300, 0, ProcessCPU{"tollgate-sim", 2250, 750, 38.5, 41.2}), Commits{3010, 3012, 1.001, 0.288}),
				run("gateway", 2.7, 34.8, 299.5, 0, ProcessCPU{"gateway", 7590, 2530, 38.5, 41.2}, ProcessCPU{"upstream", 300, 100, 38.5, 41.2}),
			}},
			{Rate: 1000, Runs: []TargetRun{
				run("direct", 0.68, 1.4, 1000, 0, ProcessCPU{"upstream", 1000, 100, 38.5, 41.2}),
				withCommits(run("tollgate-sim", 1.4, 8.3, 1000, 0, ProcessCPU{"tollgate-sim", 6550, 655, 38.5, 41.2}), Commits{7436, 10025, 1.348, 0.301}),
				run("gateway", 900, 4000, 370, 12, ProcessCPU{"gateway", 9000, 2430, 38.5, 41.2}, ProcessCPU{"upstream", 370, 100, 38.5, 41.2}),
			}},
		},
	}
}

// TestHarnessReport checks the table, the summary and the JSON of a
// report against golden files.
func TestHarnessReport(t *testing.T) {
	rep := sampleReport()
	var out bytes.Buffer
	if err := rep.Print(&out); err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	out.WriteString("\n-- json --\n")
	out.Write(b)
	out.WriteString("\n")
	golden(t, "report", out.Bytes())
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(got), string(want)); diff != "" {
		t.Errorf("%s (-got +want):\n%s", path, diff)
	}
}

func TestHarnessOptionsValidate(t *testing.T) {
	ok := HarnessOptions{Providers: []string{"sim", "openai"}, Rates: []int{300}, Duration: time.Second}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*HarnessOptions){
		"provider":        func(o *HarnessOptions) { o.Providers = []string{"bedrock"} },
		"provider twice":  func(o *HarnessOptions) { o.Providers = []string{"sim", "sim"} },
		"cmd without url": func(o *HarnessOptions) { o.GatewayCmd = "gw" },
		"url without cmd": func(o *HarnessOptions) { o.GatewayURL = "http://127.0.0.1:1" },
		"remote gateway":  func(o *HarnessOptions) { o.GatewayCmd, o.GatewayURL = "gw", "http://10.1.2.3:80/v1" },
		"header":          func(o *HarnessOptions) { o.GatewayHeaders = []string{"novalue"} },
		"durability":      func(o *HarnessOptions) { o.Synchronous = "SOMETIMES" },
		"no duration":     func(o *HarnessOptions) { o.Duration = 0 },
		"no rate":         func(o *HarnessOptions) { o.Rates = nil },
		"rate":            func(o *HarnessOptions) { o.Rates = []int{40_001} },
		"too many calls":  func(o *HarnessOptions) { o.Rates, o.Duration = []int{40_000}, 10*time.Minute },
	} {
		o := ok
		mutate(&o)
		if err := o.Validate(); err == nil {
			t.Errorf("%s: accepted %+v", name, o)
		}
	}
}

// TestUpstream checks the zero-latency upstream answers a chat
// completion with usage, and nothing else.
func TestUpstream(t *testing.T) {
	srv := httptest.NewServer(UpstreamHandler())
	defer srv.Close()
	body, _, err := Do(srv.Client(), mustRequest(t, chatRequest(srv.URL+upstreamPath, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Choices []struct{ Message struct{ Content string } }
		Usage   struct{ PromptTokens, CompletionTokens int } `json:"usage"`
	}
	if err := json.Unmarshal(body, &c); err != nil || len(c.Choices) != 1 || c.Choices[0].Message.Content == "" {
		t.Errorf("answer %s (%v)", body, err)
	}
	if _, _, err := Do(srv.Client(), mustRequest(t, chatRequest(srv.URL+"/v1/embeddings", nil))); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("other path: %v, want 404", err)
	}
	if err := ServeUpstream(t.Context(), "10.0.0.1:0", io.Discard); err == nil {
		t.Error("ServeUpstream listened on a non-loopback address")
	}
}

func mustRequest(t *testing.T, f RequestFunc) *http.Request {
	t.Helper()
	r, err := f(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestMeasureSyncFloor measures a few syncs in a temporary directory and
// leaves nothing behind.
func TestMeasureSyncFloor(t *testing.T) {
	dir := t.TempDir()
	sf, err := measureSyncFloor(dir, 5)
	if err != nil {
		t.Fatal(err)
	}
	if sf.Syncs != 5 || sf.P50Ms <= 0 || sf.P99Ms < sf.P50Ms {
		t.Fatalf("sync floor = %+v, want 5 syncs with 0 < p50 <= p99", sf)
	}
	// Linux reads a thread's CPU time, and a sync takes some.
	if sf.CPUMicros <= 0 {
		t.Fatalf("sync floor CPU = %v µs, want > 0", sf.CPUMicros)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("left %d files in the directory", len(left))
	}
	if _, err := measureSyncFloor(filepath.Join(dir, "missing"), 1); err == nil {
		t.Fatal("a missing directory gave no error")
	}
}

func TestParseScale(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want *Scale
		err  string
	}{
		{in: "records=10000000,profiles=100000,budgets=1000,busy=10000", want: &Scale{Records: 10_000_000, Profiles: 100_000, Budgets: 1000, Busy: 10_000}},
		{in: "profiles=50", want: &Scale{Profiles: 50, Busy: 50}},
		{in: "records=5", want: &Scale{Records: 5}},
		{in: "profiles=5,busy=6", err: "busy=6 is more than the 5 profiles"},
		{in: "budgets=3", err: "need profiles"},
		{in: "records=-1", err: "want records=N"},
		{in: "records", err: "want records=N"},
		{in: "rows=3", err: `unknown "rows"`},
		{in: "records=0", err: "nothing to scale"},
	} {
		got, err := ParseScale(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseScale(%q) = %v, %v; want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || *got != *tc.want {
			t.Errorf("ParseScale(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseStatusMemory(t *testing.T) {
	status := "Name:\ttollgate\nVmPeak:\t 1300000 kB\nVmHWM:\t   81920 kB\nVmRSS:\t   40960 kB\nThreads:\t9\n"
	rss, peak, err := parseStatusMemory([]byte(status))
	if err != nil || rss != 40<<20 || peak != 80<<20 {
		t.Fatalf("parseStatusMemory = %d, %d, %v; want 40 MiB, 80 MiB", rss, peak, err)
	}
	for _, bad := range []string{"Name:\tx\n", "VmRSS:\t12 MB\nVmHWM:\t1 kB\n", "VmRSS:\tx kB\nVmHWM:\t1 kB\n"} {
		if _, _, err := parseStatusMemory([]byte(bad)); err == nil {
			t.Errorf("parseStatusMemory(%q) gave no error", bad)
		}
	}
}

// TestParseLedgerCounters reads the ledger's commit counters out of a
// Prometheus text exposition, and refuses one that lacks them.
func TestParseLedgerCounters(t *testing.T) {
	expo := `# HELP tollgate_ledger_commit_duration_seconds Time to make one commit group durable.
# TYPE tollgate_ledger_commit_duration_seconds histogram
tollgate_ledger_commit_duration_seconds_bucket{le="0.0005"} 90
tollgate_ledger_commit_duration_seconds_bucket{le="+Inf"} 100
tollgate_ledger_commit_duration_seconds_sum 0.025
tollgate_ledger_commit_duration_seconds_count 100
tollgate_ledger_commit_errors_total 0
tollgate_ledger_committed_records_total 250
tollgate_model_invocations_total{account="1"} 7
`
	got, err := parseLedgerCounters(bufio.NewScanner(strings.NewReader(expo)))
	if err != nil || got != (ledgerCounters{groups: 100, records: 250, seconds: 0.025}) {
		t.Fatalf("parse = %+v, %v", got, err)
	}
	c := commitsBetween(ledgerCounters{groups: 20, records: 50, seconds: 0.005}, got)
	if c == nil || *c != (Commits{Groups: 80, Records: 200, RecordsPerGroup: 2.5, MeanMs: 0.25}) {
		t.Errorf("commitsBetween = %+v", c)
	}
	if c := commitsBetween(got, got); c != nil {
		t.Errorf("commitsBetween without a commit = %+v, want nil", c)
	}
	lacking := strings.ReplaceAll(expo, "tollgate_ledger_committed_records_total", "other_total")
	if _, err := parseLedgerCounters(bufio.NewScanner(strings.NewReader(lacking))); err == nil {
		t.Error("an exposition without the records counter parsed")
	}
}
