package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tollgate-dev/tollgate/internal/bench"
	"github.com/tollgate-dev/tollgate/internal/config"
)

// The gateway benchmarks compare one Converse call through Tollgate (SigV4
// verify, profile resolution, the zero-latency simulator, pricing, the
// group-commit ledger on SQLite with synchronous NORMAL, the access log)
// with a bare Go handler that returns the identical response bytes, in the
// same process and run. Names are chosen for benchstat:
//
//	benchstat -col '.name@(ConverseBare ConverseGateway)' -row /mode file
//	benchstat -col '/target@(bare gateway)' -filter .name:ConverseInProcess file
//
// docs/benchmarks.md has the figures and how to reproduce them.

// gatewayFixture is a running Tollgate with a "bench" application profile,
// a request signer for it, and one real response captured for the bare
// handler.
type gatewayFixture struct {
	m      *Main
	sig    *bench.Signer
	client *http.Client
	sample []byte
	header http.Header
	apiKey string // the root principal's Bedrock API key
}

// fixtureOptions choose the provider behind the fixture's profile.
type fixtureOptions struct {
	// openai routes the profile's model to the openai provider in front of
	// a zero-latency OpenAI-compatible server on loopback (zeroLatencyOpenAI)
	// instead of the simulator.
	openai bool
}

// openAIReply is the chat completion zeroLatencyOpenAI answers with.
const openAIReply = `{"id":"chatcmpl-bench","object":"chat.completion","created":1733000000,"model":"bench-model",` +
	`"choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"Claim 4711: the notes are complete except for the repair estimate and the police report."}}],` +
	`"usage":{"prompt_tokens":31,"completion_tokens":19,"total_tokens":50}}`

// zeroLatencyOpenAI starts an OpenAI-compatible chat-completions server
// that reads each request and answers openAIReply at once.
func zeroLatencyOpenAI(b *testing.B) *httptest.Server {
	reply := []byte(openAIReply)
	clen := strconv.Itoa(len(reply))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", clen)
		_, _ = w.Write(reply)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// newGatewayFixture starts Tollgate the way `tollgate serve` does (info
// access log, formatted and discarded) on 127.0.0.1:0 in a temp dir, and
// stops it when the benchmark ends.
func newGatewayFixture(b *testing.B, opts fixtureOptions) *gatewayFixture {
	b.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = b.TempDir()
	cfg.Synchronous = "NORMAL"
	if opts.openai {
		up := zeroLatencyOpenAI(b)
		cfg.Providers = []config.Provider{{Name: "upstream", Type: "openai", BaseURL: up.URL + "/v1",
			Models: map[string]string{"anthropic.claude-3-haiku-20240307-v1:0": "bench-model"}}}
		cfg.Routes = []config.Route{{Models: []string{"anthropic.*"}, Provider: "upstream"}}
	}
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	m := NewMain(cfg, io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Open(ctx); err != nil {
		cancel()
		m.Close()
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		<-done
		m.Close()
	})

	client := bench.Client(256)
	b.Cleanup(client.CloseIdleConnections)
	creds := aws.Credentials{AccessKeyID: m.RootAccessKeyID, SecretAccessKey: m.RootSecretAccessKey}
	var arn string
	var err error
	for range 100 { // until the listener answers
		if arn, err = bench.EnsureProfile(b.Context(), m.URL(), cfg.Region, creds); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		b.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(cfg.DataDir, "bedrock-api-key"))
	if err != nil {
		b.Fatal(err)
	}
	f := &gatewayFixture{m: m, client: client, sig: bench.NewSigner(creds, cfg.Region, arn, bench.ConverseBody()),
		apiKey: strings.TrimSpace(string(key))}
	req, err := f.sig.Request(b.Context(), m.URL())
	if err != nil {
		b.Fatal(err)
	}
	if f.sample, f.header, err = bench.Do(client, req); err != nil {
		b.Fatal(err)
	}
	return f
}

// bare returns the bare handler for f's captured response.
func (f *gatewayFixture) bare() http.Handler {
	return bench.BareHandler(f.sample, f.header.Get("Content-Type"), f.header.Get("X-Amzn-Requestid"))
}

// loopback sends b.N signed Converse requests to base over HTTP/1.1
// keep-alive, serially or from 16 goroutines (b.SetParallelism(8) on two
// CPUs), signing each just before it is sent.
func (f *gatewayFixture) loopback(b *testing.B, base string) {
	ctx := b.Context()
	call := func() error {
		req, err := f.sig.Request(ctx, base)
		if err != nil {
			return err
		}
		_, _, err = bench.Do(f.client, req)
		return err
	}
	b.Run("mode=serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := call(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mode=parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := call(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkConverseGateway is one Converse call through Tollgate over
// loopback, client work included.
func BenchmarkConverseGateway(b *testing.B) {
	f := newGatewayFixture(b, fixtureOptions{})
	f.loopback(b, f.m.URL())
}

// BenchmarkConverseBare is the same call, the same client and the same
// response bytes, against a bare Go handler.
func BenchmarkConverseBare(b *testing.B) {
	f := newGatewayFixture(b, fixtureOptions{})
	srv := httptest.NewServer(f.bare())
	b.Cleanup(srv.Close)
	f.loopback(b, srv.URL)
}

// reportCPU reports the process's CPU time per operation since cpu, as
// cpu-ns/op: issue #18's measure, every goroutine included (the ledger's
// applier, the garbage collector), which ns/op — the caller's wait —
// is not.
func reportCPU(b *testing.B, cpu time.Duration) {
	if used := processCPU() - cpu; used > 0 && b.N > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkConverseInProcess calls the gateway's root handler directly with
// a pre-signed request and a ResponseRecorder, next to the bare handler, to
// isolate the gateway's own CPU and allocations from the network and the
// client. The gateway targets are:
//
//   - gateway: SigV4, the zero-latency simulator;
//   - gateway-apikey: the same with the root principal's Bedrock API key
//     (Authorization: Bearer) instead of SigV4;
//   - gateway-openai: the issue #18 configuration, a Bedrock API key and the
//     openai provider in front of a zero-latency OpenAI-compatible server
//     on loopback (that server's CPU, in the same process, is counted).
//
// Every target writes the ledger to SQLite with synchronous NORMAL.
func BenchmarkConverseInProcess(b *testing.B) {
	f := newGatewayFixture(b, fixtureOptions{})
	fo := newGatewayFixture(b, fixtureOptions{openai: true})
	targets := []struct {
		name   string
		f      *gatewayFixture
		h      http.Handler
		apiKey bool
	}{
		{"bare", f, f.bare(), false},
		{"gateway", f, f.m.Server.Handler(), false},
		{"gateway-apikey", f, f.m.Server.Handler(), true},
		{"gateway-openai", fo, fo.m.Server.Handler(), true},
	}
	for _, tg := range targets {
		b.Run("target="+tg.name, func(b *testing.B) {
			f := tg.f
			ctx := b.Context()
			var (
				signed   *http.Request
				signedAt time.Time
			)
			// request returns a shallow copy of a signed request with a
			// fresh body; the signature is renewed each minute (5 minutes of
			// skew are allowed). With an API key the request carries the
			// bearer token and no signature.
			request := func() *http.Request {
				if time.Since(signedAt) > time.Minute {
					var err error
					if signed, err = f.sig.Request(ctx, f.m.URL()); err != nil {
						b.Fatal(err)
					}
					if tg.apiKey {
						for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Content-Sha256", "X-Amz-Security-Token"} {
							signed.Header.Del(h)
						}
						signed.Header.Set("Authorization", "Bearer "+f.apiKey)
					}
					signed.RemoteAddr = "127.0.0.1:40000"
					signedAt = time.Now()
				}
				r := *signed
				r.Body = io.NopCloser(bytes.NewReader(f.sig.Body()))
				return &r
			}
			b.Run("mode=serial", func(b *testing.B) {
				b.ReportAllocs()
				cpu := processCPU()
				for b.Loop() {
					rec := httptest.NewRecorder()
					tg.h.ServeHTTP(rec, request())
					if rec.Code != http.StatusOK {
						b.Fatalf("status %d: %s", rec.Code, rec.Body.Bytes())
					}
				}
				reportCPU(b, cpu)
			})
			b.Run("mode=parallel", func(b *testing.B) {
				req := request() // one signature for the whole run
				b.ReportAllocs()
				b.SetParallelism(8)
				cpu := processCPU()
				defer reportCPU(b, cpu)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						r := *req
						r.Body = io.NopCloser(bytes.NewReader(f.sig.Body()))
						rec := httptest.NewRecorder()
						tg.h.ServeHTTP(rec, &r)
						if rec.Code != http.StatusOK {
							b.Errorf("status %d: %s", rec.Code, rec.Body.Bytes())
							return
						}
					}
				})
			})
		})
	}
}
