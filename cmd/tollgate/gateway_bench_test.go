package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
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
}

// newGatewayFixture starts Tollgate the way `tollgate serve` does (info
// access log, formatted and discarded) on 127.0.0.1:0 in a temp dir, and
// stops it when the benchmark ends.
func newGatewayFixture(b *testing.B) *gatewayFixture {
	b.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = b.TempDir()
	cfg.Synchronous = "NORMAL"
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
	f := &gatewayFixture{m: m, client: client, sig: bench.NewSigner(creds, cfg.Region, arn, bench.ConverseBody())}
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
	f := newGatewayFixture(b)
	f.loopback(b, f.m.URL())
}

// BenchmarkConverseBare is the same call, the same client and the same
// response bytes, against a bare Go handler.
func BenchmarkConverseBare(b *testing.B) {
	f := newGatewayFixture(b)
	srv := httptest.NewServer(f.bare())
	b.Cleanup(srv.Close)
	f.loopback(b, srv.URL)
}

// BenchmarkConverseInProcess calls the gateway's root handler directly with
// a pre-signed request and a ResponseRecorder, next to the bare handler, to
// isolate the gateway's own CPU and allocations from the network and the
// client.
func BenchmarkConverseInProcess(b *testing.B) {
	f := newGatewayFixture(b)
	targets := []struct {
		name string
		h    http.Handler
	}{{"bare", f.bare()}, {"gateway", f.m.Server.Handler()}}
	ctx := b.Context()
	var (
		signed   *http.Request
		signedAt time.Time
	)
	// request returns a shallow copy of a signed request with a fresh
	// body; the signature is renewed each minute (5 minutes of skew are
	// allowed).
	request := func() *http.Request {
		if time.Since(signedAt) > time.Minute {
			var err error
			if signed, err = f.sig.Request(ctx, f.m.URL()); err != nil {
				b.Fatal(err)
			}
			signed.RemoteAddr = "127.0.0.1:40000"
			signedAt = time.Now()
		}
		r := *signed
		r.Body = io.NopCloser(bytes.NewReader(f.sig.Body()))
		return &r
	}
	for _, tg := range targets {
		b.Run("target="+tg.name, func(b *testing.B) {
			b.Run("mode=serial", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					rec := httptest.NewRecorder()
					tg.h.ServeHTTP(rec, request())
					if rec.Code != http.StatusOK {
						b.Fatalf("status %d: %s", rec.Code, rec.Body.Bytes())
					}
				}
			})
			b.Run("mode=parallel", func(b *testing.B) {
				req := request() // one signature for the whole run
				b.ReportAllocs()
				b.SetParallelism(8)
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
