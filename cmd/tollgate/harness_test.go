package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/smithy-go"

	"github.com/tollgate-dev/tollgate/internal/config"
)

// testServer is a Tollgate started in-process on a free port.
type testServer struct {
	*Main
	cancel context.CancelFunc
	done   chan error
}

// startServer starts Tollgate on 127.0.0.1:0 in dir (a new temp dir when
// empty) and stops it when the test ends.
func startServer(t *testing.T, dir string, mutate func(*config.Config)) *testServer {
	t.Helper()
	return startServerIn(t, dir, mutate, nil)
}

// startServerTLS starts a server whose certificate pool trusts.
func startServerTLS(t *testing.T, mutate func(*config.Config), pool *x509.CertPool) *testServer {
	t.Helper()
	return startServerIn(t, "", mutate, pool)
}

func startServerIn(t *testing.T, dir string, mutate func(*config.Config), pool *x509.CertPool) *testServer {
	t.Helper()
	return startMain(t, dir, mutate, pool, nil)
}

// allowLoopback lets alert webhooks reach the test receivers on
// 127.0.0.1, which the outbound policy refuses by default. Only the tests
// that deliver to such a receiver set it, so every other test runs with
// the default policy.
func allowLoopback(c *config.Config) { c.OutboundAllow = []string{"127.0.0.0/8"} }

// startMain starts a server like startServerIn; prepare, when not nil,
// adjusts the Main before Open.
func startMain(t *testing.T, dir string, mutate func(*config.Config), pool *x509.CertPool, prepare func(*Main)) *testServer {
	t.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = dir
	if dir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.Synchronous = "NORMAL"
	cfg.LogLevel = "error"
	// A simulated model that answers after 3 ms: at zero latency the AWS
	// SDK for Go can drop a stream's connection (docs/providers.md).
	cfg.Providers = []config.Provider{{Name: "test-sim", Type: "sim", Latency: 3 * time.Millisecond}}
	cfg.Routes = []config.Route{{Provider: "test-sim"}}
	if mutate != nil {
		mutate(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var logw io.Writer = io.Discard
	if os.Getenv("TOLLGATE_TEST_LOG") != "" {
		logw = os.Stderr
	}
	m := NewMain(cfg, logw)
	if prepare != nil {
		prepare(m)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Open(ctx); err != nil {
		cancel()
		m.Close()
		t.Fatal(err)
	}
	ts := &testServer{Main: m, cancel: cancel, done: make(chan error, 1)}
	go func() { ts.done <- m.Run(ctx) }()
	waitHealthy(t, m.URL(), pool)
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) stop() {
	if ts.cancel == nil {
		return
	}
	ts.cancel()
	<-ts.done
	ts.Close()
	ts.cancel = nil
}

func waitHealthy(t *testing.T, url string, pool *x509.CertPool) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := client.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never became healthy", url)
}

// awsConfig loads an SDK configuration the way a user would: the shared
// credentials and config files Tollgate wrote, plus the endpoint.
func (ts *testServer) awsConfig(t *testing.T) aws.Config {
	t.Helper()
	cfg, err := awsconfig.LoadDefaultConfig(t.Context(),
		awsconfig.WithSharedCredentialsFiles([]string{ts.CredentialsFile()}),
		awsconfig.WithSharedConfigFiles([]string{ts.ConfigFile()}),
		awsconfig.WithSharedConfigProfile("default"),
		awsconfig.WithRetryer(testRetryer),
		awsconfig.WithBaseEndpoint(ts.URL()),
	)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// testRetryer makes one attempt per call, so tests see every error the
// server answers, except that it retries once, at once, a call whose
// connection the client closed under it ("use of closed network
// connection", net.ErrClosed) up to three times, 20 ms apart and more:
// under load net/http can close a connection as a response arrives
// (aws/aws-sdk-go-v2#2737; seen in TestCE under CI load, two attempts in a
// row), which the SDK's default retryer retries too.
func testRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 4
		o.Retryables = []retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
			return aws.BoolTernary(errors.Is(err, net.ErrClosed))
		})}
		o.Backoff = retry.BackoffDelayerFunc(func(attempt int, _ error) (time.Duration, error) {
			return time.Duration(attempt) * 20 * time.Millisecond, nil
		})
		o.RateLimiter = ratelimit.None
	})
}

func (ts *testServer) bedrock(t *testing.T, opts ...func(*bedrock.Options)) *bedrock.Client {
	return bedrock.NewFromConfig(ts.awsConfig(t), opts...)
}

func (ts *testServer) runtime(t *testing.T, opts ...func(*bedrockruntime.Options)) *bedrockruntime.Client {
	return bedrockruntime.NewFromConfig(ts.awsConfig(t), opts...)
}

// errorCode returns the AWS error code of err, or "" when err is not an
// API error.
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
