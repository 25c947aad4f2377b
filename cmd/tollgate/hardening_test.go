package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/api/runtimeapi"
	"github.com/tollgate-dev/tollgate/internal/config"
)

// signAs signs req over body with the given key for service.
func signAs(t *testing.T, req *http.Request, body []byte, keyID, secret, service string) {
	t.Helper()
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret},
		req, sha256Hex(body), service, "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
}

// getMetrics reads /metrics on the API port as the root: a signed request
// (signing name "tollgate").
func (ts *testServer) getMetrics(t *testing.T) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", ts.URL()+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	signAs(t, req, nil, ts.RootAccessKeyID, ts.RootSecretAccessKey, "tollgate")
	return http.DefaultClient.Do(req)
}

// TestMetricsNeedCredentials: /metrics names every account's budgets,
// alarms and profiles, so on the API port only principals of the
// deployment's account allowed tollgate:GetMetrics read it; the private
// metrics listener serves it to whoever reaches that address.
func TestMetricsNeedCredentials(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", func(c *config.Config) { c.MetricsAddr = "127.0.0.1:0" })
	allowMetrics := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"tollgate:*","Resource":"*"}]}`
	ts.mustCLI(t, nil, "accounts", "create", "--id", "210987654321", "--name", "other")
	ts.putPolicy(t, "123456789012", "metrics", allowMetrics)
	ts.putPolicy(t, "210987654321", "metrics", allowMetrics)
	_, opsKey, opsSecret := ts.newUser(t, "123456789012", "ops", []string{"metrics"})
	_, devKey, devSecret := ts.newUser(t, "123456789012", "dev", nil)
	_, otherKey, otherSecret := ts.newUser(t, "210987654321", "other-admin", []string{"metrics"})

	get := func(url, keyID, secret string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), "GET", url+"/metrics", nil)
		if keyID != "" {
			signAs(t, req, nil, keyID, secret, "tollgate")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 && !bytes.Contains(body, []byte("tollgate_")) {
			t.Errorf("GET %s/metrics: 200 without Tollgate's series", url)
		}
		return resp.StatusCode
	}
	tests := []struct {
		name, url, key, secret string
		want                   int
	}{
		{"anonymous on the API port", ts.URL(), "", "", 403},
		{"root", ts.URL(), ts.RootAccessKeyID, ts.RootSecretAccessKey, 200},
		{"operator allowed tollgate:GetMetrics", ts.URL(), opsKey, opsSecret, 200},
		{"user without the permission", ts.URL(), devKey, devSecret, 403},
		{"another account's admin", ts.URL(), otherKey, otherSecret, 403},
		{"anonymous on the metrics listener", ts.MetricsURL(), "", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := get(tt.url, tt.key, tt.secret); got != tt.want {
				t.Errorf("status %d, want %d", got, tt.want)
			}
		})
	}
}

// route is one way a request reaches the server, for the enumerations.
type route struct {
	name, path, target, signing string
	runtime                     bool // the runtime body limit applies
}

// allRoutes enumerates how requests reach Tollgate: every RPC service the
// server dispatches in each protocol it speaks (aimed at a /model/ path,
// where the runtime limit once applied to them), the admin API, the
// Bedrock control plane, and every runtime route.
func allRoutes(ts *testServer) []route {
	var rs []route
	for _, svc := range ts.Server.Services() {
		if svc.Speaks(awsproto.AWSJSON10) || svc.Speaks(awsproto.AWSJSON11) {
			rs = append(rs, route{svc.Name + " awsJson", "/model/m/converse", svc.Name + ".AnyOperation", svc.SigningName, false})
		}
		if svc.Speaks(awsproto.RPCv2CBOR) {
			rs = append(rs, route{svc.Name + " RPC v2 CBOR", "/service/" + svc.Name + "/operation/AnyOperation", "", svc.SigningName, false})
		}
	}
	rs = append(rs,
		route{"admin", "/tollgate/v1/principals", "", "tollgate", false},
		route{"bedrock control plane", "/inference-profiles", "", "bedrock", false},
		route{"unknown /model/ operation", "/model/m/delete", "", "bedrock", false},
	)
	for _, r := range runtimeapi.Routes() {
		_, path, _ := strings.Cut(r.Pattern, " ")
		rs = append(rs, route{"runtime " + path, strings.Replace(path, "{modelId}", "anthropic.claude-3-haiku-20240307-v1%3A0", 1), "", "bedrock", true})
	}
	return rs
}

// signedRaw builds a signed POST for rt over body.
func (ts *testServer) signedRaw(t *testing.T, rt route, body []byte) *http.Request {
	t.Helper()
	u, _ := url.Parse(ts.URL() + rt.path)
	req, err := http.NewRequest("POST", u.String(), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.URL = u
	if rt.target != "" {
		req.Header.Set("X-Amz-Target", rt.target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	} else if strings.HasPrefix(rt.path, "/service/") {
		req.Header.Set("Content-Type", "application/cbor")
		req.Header.Set("Smithy-Protocol", "rpc-v2-cbor")
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	signAs(t, req, body, ts.RootAccessKeyID, ts.RootSecretAccessKey, rt.signing)
	return req
}

// sendRaw writes req's headers, declaring length, and the first sent
// bytes of its body on a new connection, and reads the response.
func sendRaw(t *testing.T, base string, req *http.Request, length int64, sent []byte, wait time.Duration) (*http.Response, []byte) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.URL.RequestURI(), req.Host, length)
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	b.Write(sent)
	if _, err := c.Write(b.Bytes()); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s: no response within %v: %v", req.URL.Path, wait, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, body
}

// TestEveryRouteBodyLimitAndDeadline walks every route: a body one byte
// over its limit is refused before it is read, the runtime limit applies
// to the runtime operations only, and a body that stops arriving is
// answered RequestTimeoutException after bodyReadTimeout.
func TestEveryRouteBodyLimitAndDeadline(t *testing.T) {
	t.Parallel()
	const small, large = 4096, 1 << 20
	ts := startServer(t, "", func(c *config.Config) {
		c.MaxBodyBytes, c.RuntimeMaxBodyBytes, c.BodyMemoryBytes = small, large, 4*large
		c.BodyReadTimeout = 400 * time.Millisecond
	})
	routes := allRoutes(ts)
	if len(routes) < 13 {
		t.Fatalf("only %d routes enumerated", len(routes))
	}
	for _, rt := range routes {
		t.Run(rt.name, func(t *testing.T) {
			limit := int64(small)
			if rt.runtime {
				limit = large
			}
			// One byte over the limit, declared and never sent.
			req := ts.signedRaw(t, rt, nil)
			resp, body := sendRaw(t, ts.URL(), req, limit+1, nil, 5*time.Second)
			if resp.StatusCode != 400 || !bytes.Contains(body, []byte("exceeds the limit of "+strconv.FormatInt(limit, 10))) {
				t.Errorf("%d bytes declared: %d %s, want 400 naming the limit %d", limit+1, resp.StatusCode, body, limit)
			}
			// At the control-plane limit plus one, only runtime routes read on.
			over := bytes.Repeat([]byte(" "), small+1)
			resp, body = sendRaw(t, ts.URL(), ts.signedRaw(t, rt, over), int64(len(over)), over, 5*time.Second)
			refused := bytes.Contains(body, []byte("exceeds the limit"))
			if refused == rt.runtime {
				t.Errorf("%d-byte body: %d %s; runtime route %v", len(over), resp.StatusCode, body, rt.runtime)
			}
			// A body that stops arriving.
			full := bytes.Repeat([]byte(" "), 100)
			resp, body = sendRaw(t, ts.URL(), ts.signedRaw(t, rt, full), 100, full[:10], 5*time.Second)
			if resp.StatusCode != 400 || !bytes.Contains(body, []byte("RequestTimeoutException")) && resp.Header.Get("X-Amzn-ErrorType") != "RequestTimeoutException" {
				t.Errorf("stalled body: %d %q %s, want 400 RequestTimeoutException", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), body)
			}
		})
	}
}

// rss returns a process's resident set in bytes.
func rss(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err) // Linux only; CI runs Linux
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestResourceExhaustion opens, against a `tollgate serve` process on
// loopback, what once took it to gigabytes: idle connections declaring
// 25 MB bodies without credentials, an h2c connection with a hundred such
// streams, and connections with a real access key id (but no secret)
// sending large bodies slowly, while a signed client keeps calling
// Converse. The process's RSS stays under 200 MB (bodyMemoryBytes is
// 32 MiB here) and every signed call is served within 2 s.
func TestResourceExhaustion(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process and holds hundreds of connections for seconds")
	}
	const keyID, secret = "AKIAEXHAUSTIONTEST01", "exhaustion-secret"
	p := startProcess(t, t.TempDir(), "TOLLGATE_ROOT_ACCESS_KEY_ID="+keyID, "TOLLGATE_ROOT_SECRET_ACCESS_KEY="+secret,
		"TOLLGATE_BODY_MEMORY_BYTES="+strconv.Itoa(32<<20), "TOLLGATE_BODY_READ_TIMEOUT=5s")
	pid := p.cmd.Process.Pid
	base := rss(t, pid)
	addr := strings.TrimPrefix(p.url, "http://")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	var peak int64
	var mu sync.Mutex
	sample := func() {
		v := rss(t, pid)
		mu.Lock()
		peak = max(peak, v)
		mu.Unlock()
	}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		return c
	}
	converse := "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"

	// 150 connections without credentials, each declaring 25 MB.
	for range 150 {
		fmt.Fprintf(dial(), "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 25000000\r\n\r\n{", converse, addr)
	}
	// One h2c connection with 100 streams declaring 25 MB each.
	var h2 http.Protocols
	h2.SetUnencryptedHTTP2(true)
	h2c := &http.Client{Transport: &http.Transport{Protocols: &h2}}
	defer h2c.CloseIdleConnections()
	var streams sync.WaitGroup
	for range 100 {
		pr, pw := io.Pipe()
		defer pw.Close()
		req, _ := http.NewRequestWithContext(ctx, "POST", p.url+converse, pr)
		req.ContentLength = 25_000_000
		streams.Go(func() {
			if resp, err := h2c.Do(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	// 100 connections with the root's key id but a wrong secret, each
	// sending 1 MB of a 20 MB body slowly: the budget throttles most.
	wrong := bytes.Repeat([]byte(" "), 20_000_000)
	var slow sync.WaitGroup
	for range 100 {
		req := signedFor(t, p.url+converse, wrong, keyID, "not-the-secret")
		c := dial()
		slow.Go(func() {
			var b bytes.Buffer
			fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.URL.RequestURI(), addr, len(wrong))
			for k, vs := range req.Header {
				fmt.Fprintf(&b, "%s: %s\r\n", k, vs[0])
			}
			b.WriteString("\r\n")
			if _, err := c.Write(b.Bytes()); err != nil {
				return
			}
			for i := 0; i < 16 && ctx.Err() == nil; i++ {
				if _, err := c.Write(wrong[:64<<10]); err != nil {
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}

	// Meanwhile a signed client calls Converse every 50 ms for 6 s.
	rt := bedrockruntime.New(bedrockruntime.Options{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(keyID, secret, ""),
		BaseEndpoint: aws.String(p.url), RetryMaxAttempts: 1, HTTPClient: &http.Client{},
	})
	var slowest time.Duration
	calls := 0
	for end := time.Now().Add(6 * time.Second); time.Now().Before(end); {
		start := time.Now()
		if _, err := rt.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("anthropic.claude-3-haiku-20240307-v1:0"), Messages: userText("hello")}); err != nil {
			t.Fatalf("signed Converse under attack: %v", err)
		}
		slowest = max(slowest, time.Since(start))
		calls++
		sample()
		time.Sleep(50 * time.Millisecond)
	}
	slow.Wait()
	sample()
	cancel()
	streams.Wait()
	t.Logf("RSS %d MB before, peak %d MB; %d signed calls, slowest %v", base>>20, peak>>20, calls, slowest)
	if peak > 200<<20 {
		t.Errorf("peak RSS %d MB, want under 200 MB", peak>>20)
	}
	if slowest > 2*time.Second {
		t.Errorf("slowest signed call %v, want under 2s", slowest)
	}
}

// signedFor returns a request for url signed over body (service
// bedrock) with keyID and secret.
func signedFor(t *testing.T, url string, body []byte, keyID, secret string) *http.Request {
	t.Helper()
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	signAs(t, req, body, keyID, secret, "bedrock")
	return req
}

// TestDebugListener: with debugAddr, Go's profiles are served on that
// listener only; the API port does not serve them to anyone, signed or
// not, and without debugAddr there is no such listener.
func TestDebugListener(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", func(c *config.Config) { c.DebugAddr = "127.0.0.1:0" })
	get := func(url string, sign bool) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), "GET", url, nil)
		if sign {
			signAs(t, req, nil, ts.RootAccessKeyID, ts.RootSecretAccessKey, "tollgate")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}
	if ts.DebugURL() == "" {
		t.Fatal("no debug listener with debugAddr set")
	}
	code, body := get(ts.DebugURL()+"/debug/pprof/heap?debug=1", false)
	if code != 200 || !bytes.Contains(body, []byte("heap profile:")) {
		t.Errorf("GET /debug/pprof/heap on the debug listener: %d %.80q", code, body)
	}
	code, body = get(ts.DebugURL()+"/debug/pprof/goroutine?debug=1", false)
	if code != 200 || !bytes.Contains(body, []byte("goroutine profile:")) {
		t.Errorf("GET /debug/pprof/goroutine on the debug listener: %d %.80q", code, body)
	}
	if code, _ := get(ts.DebugURL()+"/metrics", false); code != 404 {
		t.Errorf("GET /metrics on the debug listener: %d, want 404", code)
	}
	for _, sign := range []bool{false, true} {
		if code, body := get(ts.URL()+"/debug/pprof/heap?debug=1", sign); code == 200 || bytes.Contains(body, []byte("heap profile:")) {
			t.Errorf("GET /debug/pprof/heap on the API port (signed %v): %d %.80q", sign, code, body)
		}
	}
	if plain := startServer(t, "", nil); plain.DebugURL() != "" {
		t.Errorf("debug listener %s without debugAddr", plain.DebugURL())
	}
}
