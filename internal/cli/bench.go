package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/bench"
	"github.com/tollgate-dev/tollgate/internal/ledger"
)

const benchUsage = `Usage: tollgate bench [flags]
       tollgate bench --endpoint URL [flags]

Measure Tollgate side by side with the bare upstream, open loop at fixed
rates, latency from each request's intended start. By default bench starts
everything itself, each in a process of its own, in a temporary directory
it deletes afterwards: a zero-latency OpenAI-compatible upstream, one
'tollgate serve' per --providers (sim at zero latency; openai in front of
that upstream), each with its own data directory and ledger at --durability,
and the gateway --gateway-cmd starts, if any. Calls to a Tollgate are
Converse through an application profile with a Bedrock API key, provisioned
through its APIs; the direct and other-gateway calls are OpenAI chat
completions. For each rate and target it prints p50/p90/p99, the achieved
rate, errors, the CPU per call of each process serving it (user+system CPU
from /proc over the window / calls answered), the load generator's own CPU
and the rest of the machine's load, so a disturbed run is visible. First
it measures the sync floor of the data directories' file system (4 KiB
appends, each fsynced): the least a call answered with FULL durability
waits for. --scale adds, per provider, a Tollgate measured beside the
empty one with that many records seeded into its ledger, application
profiles and budgets (each with a BLOCK action) created through its APIs,
and the calls spread over "busy" of the profiles; the table shows each
process's resident memory. Linux only (/proc).

With --endpoint it drives a running Tollgate on this machine instead, with
SigV4 credentials, through --model (default: the application profile
"bench", created if missing). Those calls are metered: they bill that
server's ledger, budgets and alarms. Bench asks the server which providers
serve the model and refuses any but the simulator without --yes, since the
calls would reach a real model.

Examples:
  tollgate bench --rates 300,1000,2000
  tollgate bench --rates 50 --duration 2s --providers sim -o json
  tollgate bench --out docs/bench/side-by-side
  tollgate bench --providers sim --rates 2000 --scale records=10000000,profiles=100000,budgets=1000,busy=10000
  tollgate bench --providers sim --rates 2000 --pprof /tmp/prof   # then: go tool pprof /tmp/prof/tollgate-sim-2000.cpu.pprof
  tollgate bench --providers sim --rates 2000 --trace /tmp/trace  # then: go tool trace /tmp/trace/tollgate-sim-2000.trace
  tollgate bench --gateway-cmd 'npx @portkey-ai/gateway' --gateway-url http://127.0.0.1:8787/v1/chat/completions \
    --gateway-header 'x-portkey-provider: openai' --gateway-header 'x-portkey-custom-host: {upstream}/v1' \
    --gateway-header 'Authorization: Bearer sk-bench'
  tollgate bench --endpoint http://127.0.0.1:8080 --rates 500 --bare
`

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ", ") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// benchCmd is `tollgate bench`: the side-by-side harness, or the load
// generator against a running Tollgate (--endpoint). It goes through the
// runtime and admin APIs like any client; the harness's Tollgates are
// its own, so it never touches the operator's data directory or ledger.
func benchCmd(ctx context.Context, args []string, env Env) error {
	if len(args) > 0 && args[0] == "upstream" {
		return benchUpstreamCmd(ctx, args[1:], env)
	}
	if len(args) > 0 && args[0] == "seed" {
		return benchSeedCmd(ctx, args[1:], env)
	}
	fs := NewFlagSet("tollgate bench", benchUsage, env.Stdout, env.Stderr)
	rates := fs.String("rates", "300,1000,2000", "comma-separated request rates per second, one run each")
	dur := fs.Duration("duration", 10*time.Second, "measured time per rate and target")
	warmup := fs.Duration("warmup", time.Second, "unmeasured time at the same rate before each measurement")
	providers := fs.String("providers", "sim,openai", "the Tollgates to start: sim, openai or both, comma-separated")
	durability := fs.String("durability", "FULL", "the started Tollgates' ledger durability (SQLite synchronous): FULL or NORMAL")
	gwCmd := fs.String("gateway-cmd", "", "another gateway's `command`, run by /bin/sh -c; {upstream} is replaced by the upstream's URL")
	gwURL := fs.String("gateway-url", "", "that gateway's chat-completions `URL` (loopback)")
	var gwHeaders stringList
	fs.Var(&gwHeaders, "gateway-header", "a `header` sent to that gateway, as 'Name: value'; repeatable; {upstream} is replaced by the upstream's URL")
	endpoint := fs.String("endpoint", "", "drive the running Tollgate at this loopback `URL` instead of starting one (bills its ledger)")
	creds := fs.String("credentials", "./tollgate-data/credentials", "with --endpoint: AWS shared-credentials file")
	profile := fs.String("profile", "default", "with --endpoint: profile (section) of the credentials file")
	region := fs.String("region", "us-east-1", "with --endpoint: region requests are signed for")
	model := fs.String("model", "", `with --endpoint: modelId to call; empty: create or reuse the application profile "bench"`)
	bare := fs.Bool("bare", false, "with --endpoint: also measure a bare Go handler returning identical bytes, in this process")
	yes := fs.Bool("yes", false, "with --endpoint: send traffic even when a provider other than the simulator serves the model")
	scale := fs.String("scale", "", "also measure each Tollgate started at this `scale`: records=N,profiles=N,budgets=N,busy=N")
	out := fs.String("out", "", "also write the report to `DIR`/bench.json and DIR/bench.txt")
	pprofDir := fs.String("pprof", "", "write each started Tollgate's CPU profile of every measured window, and its heap profile after it, into `DIR`")
	traceDir := fs.String("trace", "", fmt.Sprintf("write each started Tollgate's runtime execution trace of the first %v of every measured window into `DIR`", bench.TraceWindow))
	format := fs.String("output", "table", "output `format`: table or json")
	short(fs, "o", "output")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return Usagef("bench", "bench: unexpected argument %q", fs.Arg(0))
	}
	if *format != "table" && *format != "json" {
		return Usagef("bench", "bench: -o %s: bench prints table or json", *format)
	}
	rateList, err := bench.ParseRates(*rates)
	if err != nil {
		return Usagef("bench", "%v", err)
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	var report interface{ Print(io.Writer) error }
	if *endpoint != "" {
		for _, n := range []string{"providers", "durability", "gateway-cmd", "gateway-url", "gateway-header", "scale", "pprof", "trace"} {
			if given[n] {
				return Usagef("bench", "bench: --%s starts processes, which --endpoint does not", n)
			}
		}
		rep, err := bench.Run(ctx, bench.Options{Endpoint: *endpoint, Credentials: *creds, Profile: *profile, Region: *region,
			Model: *model, Rates: rateList, Duration: *dur, Warmup: *warmup, Bare: *bare, Yes: *yes}, env.Stderr)
		if err != nil {
			return benchError(err)
		}
		report = rep
	} else {
		for _, n := range []string{"credentials", "profile", "region", "model", "bare", "yes"} {
			if given[n] {
				return Usagef("bench", "bench: --%s applies only with --endpoint", n)
			}
		}
		var provs []string
		for p := range strings.SplitSeq(*providers, ",") {
			if p = strings.TrimSpace(p); p != "" {
				provs = append(provs, p)
			}
		}
		hopts := bench.HarnessOptions{Providers: provs, Rates: rateList, Duration: *dur, Warmup: *warmup,
			Synchronous: strings.ToUpper(*durability), GatewayCmd: *gwCmd, GatewayURL: *gwURL, GatewayHeaders: gwHeaders,
			ProfileDir: *pprofDir, TraceDir: *traceDir}
		for _, dir := range []string{*pprofDir, *traceDir} {
			if dir != "" {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return err
				}
			}
		}
		if *scale != "" {
			if hopts.Scale, err = bench.ParseScale(*scale); err != nil {
				return Usagef("bench", "%v", err)
			}
		}
		if err := hopts.Validate(); err != nil {
			return Usagef("bench", "%v", err)
		}
		rep, err := bench.RunHarness(ctx, hopts, env.Stderr)
		if err != nil {
			return err
		}
		report = rep
	}
	if *out != "" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
		if err := writeOutput(filepath.Join(*out, "bench.json"), nil, func(w io.Writer) error { return writeJSON(w, report) }); err != nil {
			return err
		}
		if err := writeOutput(filepath.Join(*out, "bench.txt"), nil, report.Print); err != nil {
			return err
		}
	}
	if *format == "json" {
		return writeJSON(env.Stdout, report)
	}
	return report.Print(env.Stdout)
}

// benchError gives the refusal to drive a real provider its hint.
func benchError(err error) error {
	if bench.IsRealProvider(err) {
		return &hintError{err, "Add --yes to send this traffic anyway; it is billed by that provider and recorded in that server's ledger."}
	}
	return err
}

// benchUpstreamCmd is the hidden `tollgate bench upstream`, the
// zero-latency OpenAI-compatible upstream the harness starts.
func benchUpstreamCmd(ctx context.Context, args []string, env Env) error {
	fs := NewFlagSet("tollgate bench upstream", "Usage: tollgate bench upstream [--listen ADDR]\n\nServe the harness's zero-latency OpenAI-compatible upstream (started by 'tollgate bench').\n", env.Stdout, env.Stderr)
	listen := fs.String("listen", "127.0.0.1:0", "loopback `address` to listen on")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return Usagef("bench upstream", "bench upstream: unexpected argument %q", fs.Arg(0))
	}
	return bench.ServeUpstream(ctx, *listen, env.Stdout)
}

// benchSeedCmd is the hidden `tollgate bench seed`, which fills the empty
// SQLite ledger of a data directory with synthetic records before the
// harness starts a Tollgate on it (--scale records=N).
func benchSeedCmd(ctx context.Context, args []string, env Env) error {
	fs := NewFlagSet("tollgate bench seed", "Usage: tollgate bench seed --data-dir DIR --records N [--account ID]\n\nFill the empty SQLite ledger in DIR with N synthetic records over the last 30 days (run by 'tollgate bench --scale').\n", env.Stdout, env.Stderr)
	dataDir := fs.String("data-dir", "", "the data `directory` (its ledger is created if missing)")
	records := fs.Int("records", 0, "how many records to seed")
	account := fs.String("account", "123456789012", "the account the records belong to")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return Usagef("bench seed", "bench seed: unexpected argument %q", fs.Arg(0))
	}
	if *dataDir == "" || *records <= 0 {
		return Usagef("bench seed", "bench seed: --data-dir and a positive --records are required")
	}
	st, err := env.OpenStore(ctx, StoreLocation{DataDir: *dataDir, Create: true})
	if err != nil {
		return err
	}
	defer st.Close()
	seeder, ok := st.(interface {
		SeedLedger(ctx context.Context, templates []ledger.Record, n int, end time.Time, span time.Duration) error
	})
	if !ok {
		return errors.New("bench seed: this store cannot be seeded")
	}
	start := time.Now()
	end := start.UTC().Truncate(time.Hour)
	tpl := bench.SeedTemplates(*account, end)
	if err := seeder.SeedLedger(ctx, tpl, max(*records, len(tpl)), end, 30*24*time.Hour); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "seeded %d records in %v\n", max(*records, len(tpl)), time.Since(start).Round(time.Millisecond))
	return nil
}
