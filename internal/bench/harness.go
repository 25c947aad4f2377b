package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tollgate-dev/tollgate/internal/api/adminapi"
	"github.com/tollgate-dev/tollgate/internal/arn"
)

// scaleSuffix ends the name of a Tollgate target at HarnessOptions.Scale.
const scaleSuffix = "-scale"

// Target names of a side-by-side run.
const (
	TargetDirect  = "direct"  // the zero-latency upstream, called directly
	TargetGateway = "gateway" // the other gateway --gateway-cmd starts
	// A Tollgate target is "tollgate-" and its provider: tollgate-sim,
	// tollgate-openai.
	tollgatePrefix = "tollgate-"
)

// Providers the harness can put behind a Tollgate.
var harnessProviders = []string{"sim", "openai"}

// HarnessOptions configures a side-by-side run: the harness starts the
// zero-latency upstream, one `tollgate serve` per provider and, when
// given, another gateway, each its own process, all in a temporary
// directory it deletes.
type HarnessOptions struct {
	// Executable is the tollgate binary to start; "" = this process's.
	Executable string
	// Providers are the Tollgate targets, "sim" and/or "openai".
	Providers []string
	Rates     []int
	Duration  time.Duration // measured time per rate and target
	Warmup    time.Duration // unmeasured time at the same rate before each
	// Synchronous is the durability of the Tollgates' ledger (SQLite
	// synchronous); "" = FULL, the default of serve.
	Synchronous string
	// GatewayCmd is another gateway's command line, run by /bin/sh -c in
	// its own process group; "{upstream}" in it is replaced by the
	// upstream's base URL. "" = none.
	GatewayCmd string
	// GatewayURL is the chat-completions URL of that gateway (loopback).
	GatewayURL string
	// GatewayHeaders are "Name: value" headers sent to that gateway;
	// "{upstream}" in a value is replaced by the upstream's base URL.
	GatewayHeaders []string
	// GatewayReady bounds the wait for the gateway's first answer.
	GatewayReady time.Duration
	// Scale, when set, adds a target per provider started at that scale
	// ("tollgate-sim-scale"), measured beside the empty one.
	Scale *Scale
	// ProfileDir, when set, gives each Tollgate a debug listener
	// (debugAddr) and writes into it, for each rate and Tollgate, the CPU
	// profile of the measured window (NAME-RATE.cpu.pprof) and the heap
	// profile after it (NAME-RATE.heap.pprof), for `go tool pprof`.
	ProfileDir string
	// TraceDir, when set, gives each Tollgate a debug listener and
	// writes into it, for each rate and Tollgate, a runtime execution
	// trace of the first TraceWindow seconds of the measured window
	// (NAME-RATE.trace), for `go tool trace`: where the slow calls
	// waited (scheduling, system calls, blocking).
	TraceDir string
}

// TraceWindow is how much of a measured window HarnessOptions.TraceDir
// traces, at most: a trace at 2,000 calls/s grows by megabytes a second.
const TraceWindow = 5 * time.Second

// Validate checks the options as RunHarness will.
func (o HarnessOptions) Validate() error {
	if err := (Options{Endpoint: "http://127.0.0.1", Rates: o.Rates, Duration: o.Duration, Warmup: o.Warmup}).validate(); err != nil {
		return err
	}
	for i, p := range o.Providers {
		if !slices.Contains(harnessProviders, p) {
			return fmt.Errorf("bench: provider %q must be one of %s", p, strings.Join(harnessProviders, ", "))
		}
		if slices.Contains(o.Providers[:i], p) {
			return fmt.Errorf("bench: provider %q is named twice", p)
		}
	}
	if (o.GatewayCmd == "") != (o.GatewayURL == "") {
		return errors.New("bench: --gateway-cmd and --gateway-url go together")
	}
	if o.GatewayURL != "" {
		if _, err := checkLoopback(o.GatewayURL); err != nil {
			return err
		}
	}
	for _, h := range o.GatewayHeaders {
		if name, _, ok := strings.Cut(h, ":"); !ok || strings.TrimSpace(name) == "" {
			return fmt.Errorf("bench: gateway header %q must be \"Name: value\"", h)
		}
	}
	switch o.Synchronous {
	case "", "FULL", "NORMAL": // what serve's synchronous setting accepts
	default:
		return fmt.Errorf("bench: durability %q must be FULL or NORMAL", o.Synchronous)
	}
	return nil
}

// HarnessReport is the result of a side-by-side run; -o json prints it.
type HarnessReport struct {
	StartedAt   time.Time `json:"startedAt"`
	NumCPU      int       `json:"numCPU"`
	GoVersion   string    `json:"goVersion"`
	Duration    string    `json:"duration"`
	Warmup      string    `json:"warmup"`
	Synchronous string    `json:"synchronous"`
	LateAfterMs float64   `json:"lateAfterMs"`
	// SyncFloor is the latency of a 4 KiB append and fsync in the
	// directory the started Tollgates keep their data in, measured before
	// the rates.
	SyncFloor *SyncFloor    `json:"syncFloor,omitempty"`
	Targets   []TargetInfo  `json:"targets"`
	Rates     []HarnessRate `json:"rates"`
}

// TargetInfo says what one target is.
type TargetInfo struct {
	Name        string `json:"name"`
	URL         string `json:"url"`
	Description string `json:"description"`
}

// HarnessRate is one offered rate against every target.
type HarnessRate struct {
	Rate int         `json:"rate"`
	Runs []TargetRun `json:"runs"`
}

// TargetRun is one fixed-rate run against one target, with the CPU the
// processes serving it used over the measured window.
type TargetRun struct {
	Target string `json:"target"`
	Stats
	WindowMs float64 `json:"windowMs"` // the window CPU is measured over
	// Processes are the processes that serve the target: the gateway
	// first, then the upstream behind it (none behind sim).
	Processes []ProcessCPU `json:"processes"`
	// LoadgenCPUPerCallUs is the harness's own CPU per completed call.
	LoadgenCPUPerCallUs float64 `json:"loadgenCPUPerCallUs"`
	// OtherLoadCores is the CPU every other process of the machine used
	// over the window (the machine's busy time minus the harness's
	// processes), in cores: above a few tenths the run was disturbed.
	OtherLoadCores float64 `json:"otherLoadCores"`
	// Commits is what a started Tollgate's ledger committed from just
	// before the window to just after it; nil for other targets.
	Commits *Commits `json:"commits,omitempty"`
}

// ProcessCPU is one process's CPU over a measured window.
type ProcessCPU struct {
	Name string `json:"name"`
	// CPUMs is its user+system CPU time over the window.
	CPUMs float64 `json:"cpuMs"`
	// CPUPerCallUs is CPUMs divided by the calls answered, in µs.
	CPUPerCallUs float64 `json:"cpuPerCallUs"`
	// RSSMiB is its resident set size at the end of the window and
	// PeakRSSMiB the largest it has been since it started (VmRSS and
	// VmHWM); 0 for a gateway run through a shell.
	RSSMiB     float64 `json:"rssMiB"`
	PeakRSSMiB float64 `json:"peakRSSMiB"`
}

// harnessTarget is a target being measured.
type harnessTarget struct {
	info   TargetInfo
	client *http.Client
	req    RequestFunc
	procs  []*child // serving it: front first, then the upstream
	debug  string   // base URL of its debug listener; "" = none
	// metrics is the URL of its /metrics on the metrics listener bench
	// gives it, for the ledger's commit counters; "" = none.
	metrics string
}

// Harness is a started side-by-side setup; Close stops every process it
// started and deletes its temporary directory.
type harness struct {
	o        HarnessOptions
	dir      string
	fs       procFS
	children []*child
	upstream string // base URL of the upstream
	targets  []*harnessTarget
	progress io.Writer
}

// RunHarness starts the upstream, a Tollgate per provider and the other
// gateway, measures every rate against every target, stops everything and
// deletes what it wrote. Progress lines go to progress.
func RunHarness(ctx context.Context, o HarnessOptions, progress io.Writer) (rep *HarnessReport, err error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if runtime.GOOS != "linux" {
		return nil, errors.New("bench: the side-by-side harness reads CPU times from /proc, so it runs on Linux only; use --endpoint")
	}
	if o.Executable == "" {
		if o.Executable, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	if o.Synchronous == "" {
		o.Synchronous = "FULL"
	}
	if o.GatewayReady == 0 {
		o.GatewayReady = 2 * time.Minute
	}
	dir, err := os.MkdirTemp("", "tollgate-bench-")
	if err != nil {
		return nil, err
	}
	h := &harness{o: o, dir: dir, fs: hostProc, progress: progress}
	defer func() {
		if cerr := h.close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	if err := h.start(ctx); err != nil {
		return nil, err
	}
	return h.measure(ctx)
}

// close stops the children in reverse order and removes the directory.
func (h *harness) close() error {
	var errs []error
	for i := len(h.children) - 1; i >= 0; i-- {
		if err := h.children[i].stop(15 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	for _, t := range h.targets {
		t.client.CloseIdleConnections()
	}
	errs = append(errs, os.RemoveAll(h.dir))
	return errors.Join(errs...)
}

func (h *harness) start(ctx context.Context) error {
	conns := benchWorkers(slices.Max(h.o.Rates))
	fmt.Fprintf(h.progress, "bench: starting the zero-latency upstream...\n")
	up, err := startChild("upstream", h.dir, false, h.o.Executable, "bench", "upstream", "--listen", "127.0.0.1:0")
	if err != nil {
		return err
	}
	h.children = append(h.children, up)
	if h.upstream, err = up.waitLine(ctx, upstreamReady, 30*time.Second); err != nil {
		return err
	}
	h.targets = append(h.targets, &harnessTarget{
		info:   TargetInfo{Name: TargetDirect, URL: h.upstream + upstreamPath, Description: "the zero-latency OpenAI-compatible upstream, called directly"},
		client: Client(conns), req: chatRequest(h.upstream+upstreamPath, nil), procs: []*child{up},
	})

	for _, p := range h.o.Providers {
		t, err := h.startTollgate(ctx, p, up, conns, nil)
		if err != nil {
			return err
		}
		h.targets = append(h.targets, t)
		if h.o.Scale != nil {
			t, err := h.startTollgate(ctx, p, up, conns, h.o.Scale)
			if err != nil {
				return err
			}
			h.targets = append(h.targets, t)
		}
	}

	if h.o.GatewayCmd != "" {
		cmd := strings.ReplaceAll(h.o.GatewayCmd, "{upstream}", h.upstream)
		fmt.Fprintf(h.progress, "bench: starting the other gateway: %s\n", cmd)
		gw, err := startChild("gateway", h.dir, true, "/bin/sh", "-c", cmd)
		if err != nil {
			return err
		}
		h.children = append(h.children, gw)
		hdr := http.Header{}
		for _, kv := range h.o.GatewayHeaders {
			name, value, _ := strings.Cut(kv, ":")
			hdr.Add(strings.TrimSpace(name), strings.ReplaceAll(strings.TrimSpace(value), "{upstream}", h.upstream))
		}
		t := &harnessTarget{
			info:   TargetInfo{Name: TargetGateway, URL: h.o.GatewayURL, Description: cmd},
			client: Client(conns), req: chatRequest(h.o.GatewayURL, hdr), procs: []*child{gw, up},
		}
		h.targets = append(h.targets, t)
		if err := h.waitAnswer(ctx, t, gw, h.o.GatewayReady); err != nil {
			return err
		}
	}
	for _, t := range h.targets {
		if err := firstCall(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

// waitAnswer waits until the target answers a call, while its process
// runs.
func (h *harness) waitAnswer(ctx context.Context, t *harnessTarget, c *child, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := firstCall(ctx, t)
		if err == nil {
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("bench: %s exited (%v) before it answered%s", c.name, c.err, c.tail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: %s did not answer within %v: %w%s", t.info.Name, timeout, err, c.tail())
		}
	}
}

// firstCall checks the target answers one call.
func firstCall(ctx context.Context, t *harnessTarget) error {
	req, err := t.req(ctx)
	if err != nil {
		return err
	}
	if _, _, err := Do(t.client, req); err != nil {
		return fmt.Errorf("bench: first call to %s (%s): %w", t.info.Name, t.info.URL, err)
	}
	return nil
}

// startTollgate starts `tollgate serve` with provider in front of up (for
// openai), in a data directory of its own, and provisions through its
// APIs an application profile and a Bedrock API key to call it with.
func (h *harness) startTollgate(ctx context.Context, provider string, up *child, conns int, sc *Scale) (*harnessTarget, error) {
	name := tollgatePrefix + provider
	if sc != nil {
		name += scaleSuffix
	}
	dataDir := filepath.Join(h.dir, name)
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		return nil, err
	}
	if sc != nil && sc.Records > 0 {
		if err := h.seedLedger(ctx, name, dataDir, sc.Records); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(h.progress, "bench: starting %s (durability %s)...\n", name, h.o.Synchronous)
	prov := map[string]any{"name": "bench-" + provider, "type": provider}
	if provider == "openai" {
		prov["baseURL"] = h.upstream + "/v1"
	}
	cfg := map[string]any{
		"addr":    "127.0.0.1:0",
		"dataDir": dataDir,
		// Every connection of the load generator comes from 127.0.0.1.
		"maxConnsPerClient": 0,
		"synchronous":       h.o.Synchronous,
		"providers":         []any{prov},
		"routes":            []any{map[string]any{"provider": "bench-" + provider}},
	}
	if sc != nil && sc.Profiles >= 1000 {
		cfg["profileQuota"] = sc.Profiles + 1 // AWS's default quota is 1,000; the bench profile is one more
	}
	metricsAddr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	cfg["metricsAddr"] = metricsAddr
	var debugURL string
	if h.o.ProfileDir != "" || h.o.TraceDir != "" {
		addr, err := freeLoopbackAddr()
		if err != nil {
			return nil, err
		}
		cfg["debugAddr"] = addr
		debugURL = "http://" + addr
	}
	b, err := json.Marshal(cfg) // JSON is YAML
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(h.dir, name+".yaml")
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		return nil, err
	}
	c, err := startChild(name, h.dir, false, h.o.Executable, "serve", "--config", cfgPath)
	if err != nil {
		return nil, err
	}
	h.children = append(h.children, c)
	line, err := c.waitLine(ctx, "tollgate: serving on ", 60*time.Second)
	if err != nil {
		return nil, err
	}
	base, region, _ := strings.Cut(line, " (region ")
	region, _, _ = strings.Cut(region, ",")
	creds, err := loadCredentials(ctx, filepath.Join(dataDir, "credentials"), "default")
	if err != nil {
		return nil, err
	}
	model, err := EnsureProfile(ctx, base, region, creds)
	if err != nil {
		return nil, err
	}
	key, err := rootAPIKey(ctx, base, region, creds)
	if err != nil {
		return nil, err
	}
	procs := []*child{c}
	if provider == "openai" {
		procs = append(procs, up)
	}
	t := &harnessTarget{
		info:   TargetInfo{Name: name, URL: base, Description: "Converse through application profile " + model + " with a Bedrock API key"},
		client: Client(conns), req: bearerConverse(base, model, key), procs: procs, debug: debugURL,
		metrics: "http://" + metricsAddr + "/metrics",
	}
	if sc != nil && sc.Busy > 0 {
		account := scaleAccount
		if a, err := arn.Parse(model); err == nil {
			account = a.Account
		}
		busy, err := provisionScale(ctx, base, region, account, creds, sc, h.progress)
		if err != nil {
			return nil, err
		}
		t.info.Description = fmt.Sprintf("at scale (%s): Converse through %d application profiles in turn with a Bedrock API key", sc, len(busy))
		t.req = bearerConverseEach(base, busy, key)
	} else if sc != nil {
		t.info.Description = fmt.Sprintf("at scale (%s): %s", sc, t.info.Description)
	}
	return t, nil
}

// rootAPIKey creates a Bedrock API key for the root principal of the
// credentials' account through the admin API.
func rootAPIKey(ctx context.Context, endpoint, region string, creds aws.Credentials) (string, error) {
	c := adminapi.NewClient(endpoint, region, aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }))
	ps, err := c.ListPrincipals(ctx, "")
	if err != nil {
		return "", fmt.Errorf("bench: list principals: %w", err)
	}
	for _, p := range ps {
		if p.Kind == "root" {
			k, err := c.CreateAPIKey(ctx, p.ID)
			if err != nil {
				return "", fmt.Errorf("bench: create API key: %w", err)
			}
			return k.APIKey, nil
		}
	}
	return "", errors.New("bench: the account has no root principal")
}

// chatRequest is the RequestFunc of OpenAI chat completions to url.
func chatRequest(url string, hdr http.Header) RequestFunc {
	body := ChatBody()
	return func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			req.Header[k] = v
		}
		return req, nil
	}
}

// bearerConverse is the RequestFunc of Converse calls through model,
// authenticated with a Bedrock API key.
func bearerConverse(base, model, key string) RequestFunc {
	return bearerConverseEach(base, []string{model}, key)
}

// ChatBody is the OpenAI chat-completions request the direct and other
// gateway targets get: the same prompt as ConverseBody.
func ChatBody() []byte {
	b, _ := json.Marshal(map[string]any{
		"model":      "bench",
		"messages":   []any{map[string]any{"role": "user", "content": benchPrompt}},
		"max_tokens": 200,
	})
	return b
}

// cpuSample is the CPU time of every process of interest at one instant.
type cpuSample struct {
	at       time.Time
	children []time.Duration // per h.children
	rss      [][2]int64      // per h.children: VmRSS and VmHWM in bytes (0 for a process tree)
	self     time.Duration
	busy     time.Duration
}

func (h *harness) sample() (cpuSample, error) {
	s := cpuSample{at: time.Now()}
	var err error
	for _, c := range h.children {
		d, cerr := c.cpu(h.fs)
		if cerr != nil {
			return s, fmt.Errorf("bench: CPU of %s: %w", c.name, cerr)
		}
		s.children = append(s.children, d)
		var m [2]int64
		if !c.tree && c.cmd != nil && c.cmd.Process != nil {
			m[0], m[1], _ = h.fs.memory(c.cmd.Process.Pid) // best effort: gone when it exited
		}
		s.rss = append(s.rss, m)
	}
	if s.self, err = h.fs.processCPU(os.Getpid()); err != nil {
		return s, err
	}
	s.busy, err = h.fs.busyCPU()
	return s, err
}

func (h *harness) measure(ctx context.Context) (*HarnessReport, error) {
	rep := &HarnessReport{
		StartedAt: time.Now().UTC(), NumCPU: runtime.NumCPU(), GoVersion: runtime.Version(),
		Duration: h.o.Duration.String(), Warmup: h.o.Warmup.String(), Synchronous: h.o.Synchronous,
		LateAfterMs: ms(benchLateAfter),
	}
	for _, t := range h.targets {
		rep.Targets = append(rep.Targets, t.info)
	}
	if len(h.o.Providers) > 0 {
		sf, err := measureSyncFloor(h.dir, syncFloorSyncs)
		if err != nil {
			return nil, fmt.Errorf("bench: sync floor: %w", err)
		}
		rep.SyncFloor = &sf
	}
	for _, rate := range h.o.Rates {
		hr := HarnessRate{Rate: rate}
		for _, t := range h.targets {
			fmt.Fprintf(h.progress, "bench: %d req/s against %s for %v...\n", rate, t.info.Name, h.o.Duration)
			if h.o.Warmup > 0 {
				if _, err := fixedRate(ctx, t.client, t.req, rate, h.o.Warmup); err != nil {
					return nil, err
				}
			}
			select { // let the warm-up's last answers and records drain
			case <-time.After(200 * time.Millisecond):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			committed, err := h.ledgerCounters(ctx, t)
			if err != nil {
				return nil, err
			}
			before, err := h.sample()
			if err != nil {
				return nil, err
			}
			cpuDone := h.cpuProfile(ctx, t, rate)
			traceDone := h.trace(ctx, t, rate)
			st, err := fixedRate(ctx, t.client, t.req, rate, h.o.Duration)
			if err != nil {
				return nil, err
			}
			after, err := h.sample()
			if err != nil {
				return nil, err
			}
			if err := <-cpuDone; err != nil {
				return nil, err
			}
			if err := <-traceDone; err != nil {
				return nil, err
			}
			run := h.account(t, st, before, after)
			now, err := h.ledgerCounters(ctx, t)
			if err != nil {
				return nil, err
			}
			run.Commits = commitsBetween(committed, now) // nil without a metrics listener
			if err := h.heapProfile(ctx, t, rate); err != nil {
				return nil, err
			}
			hr.Runs = append(hr.Runs, run)
		}
		rep.Rates = append(rep.Rates, hr)
	}
	return rep, nil
}

// mib is n bytes in MiB, to a tenth.
func mib(n int64) float64 { return math.Round(float64(n)/(1<<20)*10) / 10 }

// account turns two samples around a run into its TargetRun.
func (h *harness) account(t *harnessTarget, st Stats, before, after cpuSample) TargetRun {
	run := TargetRun{Target: t.info.Name, Stats: st, WindowMs: ms(after.at.Sub(before.at))}
	perCall := func(d time.Duration) float64 {
		if st.Completed == 0 {
			return 0
		}
		return round3(float64(d) / float64(time.Microsecond) / float64(st.Completed))
	}
	ours := after.self - before.self
	for i, c := range h.children {
		d := after.children[i] - before.children[i]
		ours += d
		if slices.Contains(t.procs, c) {
			p := ProcessCPU{Name: c.name, CPUMs: ms(d)}
			if i < len(after.rss) {
				p.RSSMiB, p.PeakRSSMiB = mib(after.rss[i][0]), mib(after.rss[i][1])
			}
			run.Processes = append(run.Processes, p)
		}
	}
	// Keep t.procs' order: the front process first.
	slices.SortStableFunc(run.Processes, func(a, b ProcessCPU) int {
		return slices.IndexFunc(t.procs, func(c *child) bool { return c.name == a.Name }) -
			slices.IndexFunc(t.procs, func(c *child) bool { return c.name == b.Name })
	})
	for i := range run.Processes {
		run.Processes[i].CPUPerCallUs = perCall(time.Duration(run.Processes[i].CPUMs * float64(time.Millisecond)))
	}
	run.LoadgenCPUPerCallUs = perCall(after.self - before.self)
	if w := after.at.Sub(before.at); w > 0 {
		other := max(after.busy-before.busy-ours, 0)
		run.OtherLoadCores = round3(float64(other) / float64(w))
	}
	return run
}

// ledgerCounters scrapes t's ledger commit counters; zero for a target
// without a metrics listener.
func (h *harness) ledgerCounters(ctx context.Context, t *harnessTarget) (ledgerCounters, error) {
	if t.metrics == "" {
		return ledgerCounters{}, nil
	}
	c, err := scrapeLedger(ctx, t.metrics)
	if err != nil {
		return c, fmt.Errorf("bench: %s: %w", t.info.Name, err)
	}
	return c, nil
}

// freeLoopbackAddr returns a loopback address with a port free a moment
// ago, for a child's listener the harness must know in advance.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// cpuProfile starts fetching t's CPU profile over the measured window
// (--pprof) and returns where its result arrives; without a debug
// listener the result is nil at once.
func (h *harness) cpuProfile(ctx context.Context, t *harnessTarget, rate int) <-chan error {
	done := make(chan error, 1)
	if t.debug == "" {
		done <- nil
		return done
	}
	if h.o.ProfileDir == "" {
		done <- nil
		return done
	}
	secs := max(1, int(h.o.Duration.Round(time.Second)/time.Second))
	go func() {
		done <- h.fetchProfile(ctx, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", t.debug, secs),
			filepath.Join(h.o.ProfileDir, fmt.Sprintf("%s-%d.cpu.pprof", t.info.Name, rate)))
	}()
	return done
}

// trace starts fetching t's execution trace of the first TraceWindow of
// the measured window (--trace) and returns where its result arrives;
// without a trace directory the result is nil at once.
func (h *harness) trace(ctx context.Context, t *harnessTarget, rate int) <-chan error {
	done := make(chan error, 1)
	if t.debug == "" || h.o.TraceDir == "" {
		done <- nil
		return done
	}
	secs := max(1, int(min(h.o.Duration, TraceWindow).Round(time.Second)/time.Second))
	go func() {
		done <- h.fetchProfile(ctx, fmt.Sprintf("%s/debug/pprof/trace?seconds=%d", t.debug, secs),
			filepath.Join(h.o.TraceDir, fmt.Sprintf("%s-%d.trace", t.info.Name, rate)))
	}()
	return done
}

// heapProfile writes t's heap profile (after a GC) once a rate's window
// has ended (--pprof).
func (h *harness) heapProfile(ctx context.Context, t *harnessTarget, rate int) error {
	if t.debug == "" || h.o.ProfileDir == "" {
		return nil
	}
	return h.fetchProfile(ctx, t.debug+"/debug/pprof/heap?gc=1",
		filepath.Join(h.o.ProfileDir, fmt.Sprintf("%s-%d.heap.pprof", t.info.Name, rate)))
}

func (h *harness) fetchProfile(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("bench: profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("bench: profile %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
