package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/server"
	"github.com/tollgate-dev/tollgate/internal/testsupport"
)

var runtimeRoutes = []string{
	"POST /model/{modelId}/converse",
	"POST /model/{modelId}/converse-stream",
	"POST /model/{modelId}/invoke",
	"POST /model/{modelId}/invoke-with-response-stream",
}

// TestBodyLimitPerRoute: only the runtime operations' routes get the
// runtime body limit; a control-plane request aimed at a /model/ path (by
// X-Amz-Target or the RPC v2 path) gets the control-plane limit.
func TestBodyLimitPerRoute(t *testing.T) {
	srv := server.New(server.Options{MaxBodyBytes: 1 << 20, RuntimeMaxBodyBytes: 25_000_000, RuntimeRoutes: runtimeRoutes})
	tests := []struct {
		name, method, path, target string
		want                       int64
	}{
		{"Converse", "POST", "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse", "", 25_000_000},
		{"ConverseStream", "POST", "/model/m/converse-stream", "", 25_000_000},
		{"InvokeModel", "POST", "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fabcd1234efgh/invoke", "", 25_000_000},
		{"InvokeModelWithResponseStream", "POST", "/model/m/invoke-with-response-stream", "", 25_000_000},
		{"runtime path with a Cost Explorer target", "POST", "/model/m/converse", "AWSInsightsIndexService.GetCostAndUsage", 1 << 20},
		{"runtime path with a Tagging target", "POST", "/model/m/invoke", "ResourceGroupsTaggingAPI_20170126.TagResources", 1 << 20},
		{"unknown /model/ operation", "POST", "/model/m/delete", "", 1 << 20},
		{"GET on a runtime path", "GET", "/model/m/converse", "", 1 << 20},
		{"nested /model/ path", "POST", "/model/m/x/converse", "", 1 << 20},
		{"control plane", "POST", "/inference-profiles", "", 1 << 20},
		{"RPC v2 CBOR", "POST", "/service/GraniteServiceVersion20100801/operation/PutMetricAlarm", "", 1 << 20},
		{"admin", "POST", "/tollgate/v1/principals", "", 1 << 20},
		{"awsJson", "POST", "/", "AWSBudgetServiceGateway.CreateBudget", 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.path, nil)
			if tt.target != "" {
				r.Header.Set("X-Amz-Target", tt.target)
			}
			if got := srv.BodyLimit(r); got != tt.want {
				t.Errorf("BodyLimit = %d, want %d", got, tt.want)
			}
		})
	}
}

// rawRequest writes a request's headers and the first sent bytes of its
// body on a new connection and returns the connection.
func rawRequest(t *testing.T, url string, req *http.Request, sent []byte) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.Method, req.URL.RequestURI(), req.Host, req.ContentLength)
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
	return c
}

// readResponse reads one response from c within d.
func readResponse(t *testing.T, c net.Conn, d time.Duration) (*http.Response, []byte, time.Duration) {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(d))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no response within %v: %v", d, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, body, time.Since(start)
}

// signed returns a request signed by the test server's root key for
// service bedrock over body.
func (ts *testServer) signed(t *testing.T, method, path string, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, ts.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: ts.keyID, SecretAccessKey: ts.secret},
		req, hex.EncodeToString(sum[:]), "bedrock", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	return req
}

// TestNothingReadBeforeIdentity: a request whose headers cannot prove a
// caller is answered at once, without waiting for the body it declares —
// an unknown access key, a bad API key, no credentials, a signature for
// another service.
func TestNothingReadBeforeIdentity(t *testing.T) {
	ts := startWith(t, restHandler(), func(o *server.Options) { o.BodyReadTimeout = time.Minute })
	body := bytes.Repeat([]byte("x"), 1000)
	unknownKey := ts.signed(t, "POST", "/model/m/converse", body)
	unknownKey.Header.Set("Authorization", strings.Replace(unknownKey.Header.Get("Authorization"), ts.keyID, "AKIAUNKNOWNKEY000000", 1))
	otherService := ts.signed(t, "POST", "/model/m/converse", body)
	otherService.Header.Set("Authorization", strings.Replace(otherService.Header.Get("Authorization"), "/bedrock/", "/tagging/", 1))
	badToken, _ := http.NewRequest("POST", ts.url+"/model/m/converse", nil)
	badToken.Header.Set("Authorization", "Bearer not-a-key")
	anonymous, _ := http.NewRequest("POST", ts.url+"/model/m/converse", nil)
	for name, req := range map[string]*http.Request{
		"unknown access key": unknownKey, "signed for another service": otherService,
		"invalid API key": badToken, "no credentials": anonymous,
	} {
		t.Run(name, func(t *testing.T) {
			req.ContentLength = 25_000_000
			c := rawRequest(t, ts.url, req, nil) // declares 25 MB, sends none
			resp, out, d := readResponse(t, c, 5*time.Second)
			if resp.StatusCode != 403 {
				t.Errorf("status %d, want 403; body %s", resp.StatusCode, out)
			}
			if d > 2*time.Second {
				t.Errorf("answered after %v: the server waited for the body", d)
			}
		})
	}
}

// TestBodyReadDeadline: a caller that stops sending its body is answered
// RequestTimeoutException once BodyReadTimeout passes, and the connection
// is closed.
func TestBodyReadDeadline(t *testing.T) {
	ts := startWith(t, restHandler(), func(o *server.Options) { o.BodyReadTimeout = 300 * time.Millisecond })
	for name, auth := range map[string]func(req *http.Request){
		"api key": func(req *http.Request) { req.Header.Set("Authorization", "Bearer "+ts.token) },
		"sigv4":   func(*http.Request) {},
	} {
		t.Run(name, func(t *testing.T) {
			body := bytes.Repeat([]byte("x"), 100)
			req := ts.signed(t, "POST", "/model/m/converse", body)
			auth(req)
			c := rawRequest(t, ts.url, req, body[:10])
			resp, out, _ := readResponse(t, c, 10*time.Second)
			if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-ErrorType") != "RequestTimeoutException" {
				t.Errorf("got %d %q, want 400 RequestTimeoutException; body %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), out)
			}
			if !resp.Close {
				t.Error("the connection is kept open after a body timeout")
			}
		})
	}
}

// TestConnectionsPerClient: past MaxConnsPerClient, a client's new
// connections are closed on accept; closing one frees its slot.
func TestConnectionsPerClient(t *testing.T) {
	ts := startWith(t, restHandler(), func(o *server.Options) { o.MaxConnsPerClient = 3 })
	addr := strings.TrimPrefix(ts.url, "http://")
	var held []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		held = append(held, c)
	}
	healthz := func() error {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		_, err = http.ReadResponse(bufio.NewReader(c), nil)
		return err
	}
	if err := healthz(); err == nil {
		t.Fatal("a fourth connection was served with MaxConnsPerClient 3")
	}
	held[0].Close()
	testsupport.Eventually(t, 5*time.Second, func() bool { return healthz() == nil }, "a closed connection's slot was never freed")
}

// TestAPIKeysOverPlainHTTP: without TLS, Bedrock API keys are accepted
// from loopback only, unless AllowPlaintextAPIKeys.
func TestAPIKeysOverPlainHTTP(t *testing.T) {
	tests := []struct {
		remote string
		allow  bool
		want   int
	}{
		{"127.0.0.1:5555", false, 200},
		{"[::1]:5555", false, 200},
		{"203.0.113.7:5555", false, 403},
		{"10.0.0.8:5555", false, 403},
		{"203.0.113.7:5555", true, 200},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s allow=%v", tt.remote, tt.allow), func(t *testing.T) {
			ts := startWith(t, restHandler(), func(o *server.Options) { o.AllowPlaintextAPIKeys = tt.allow })
			h := ts.srv.Handler()
			req := httptest.NewRequest("POST", "/ok", strings.NewReader("{}"))
			req.RemoteAddr = tt.remote
			req.Header.Set("Authorization", "Bearer "+ts.token)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("status %d, want %d; body %s", rec.Code, tt.want, rec.Body)
			}
		})
	}
}

// TestProfileTagsHeaderMustBeSigned: X-Tollgate-Profile-Tags chooses who is
// billed, so a SigV4 request must sign it.
func TestProfileTagsHeaderMustBeSigned(t *testing.T) {
	ts := start(t, restHandler())
	body := []byte("{}")
	unsigned := ts.signed(t, "POST", "/ok", body)
	unsigned.Header.Set("X-Tollgate-Profile-Tags", "team=other")
	r := do(t, http1Client(), unsigned)
	if r.status != 403 || awsError(t, r) != "IncompleteSignatureException" {
		t.Errorf("unsigned X-Tollgate-Profile-Tags: %d %s", r.status, r.body)
	}

	req, _ := http.NewRequest("POST", ts.url+"/ok", bytes.NewReader(body))
	req.Header.Set("X-Tollgate-Profile-Tags", "team=mine")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: ts.keyID, SecretAccessKey: ts.secret},
		req, hex.EncodeToString(sum[:]), "bedrock", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if r := do(t, http1Client(), req); r.status != 200 {
		t.Errorf("signed X-Tollgate-Profile-Tags: %d %s", r.status, r.body)
	}
}

// TestUnknownOperationIsAClientError: unknown operations are the
// caller's mistake: answered 4xx and logged below ERROR.
func TestUnknownOperationIsAClientError(t *testing.T) {
	ts := start(t, restHandler())
	for _, target := range []string{"", "NoSuchService.Op"} {
		req := ts.request(t, "POST", "/no/such/operation", strings.NewReader("{}"))
		if target != "" {
			req.Header.Set("X-Amz-Target", target)
		}
		r := do(t, http1Client(), req)
		if r.status >= 500 || awsError(t, r) != "UnknownOperationException" {
			t.Errorf("target %q: %d %s", target, r.status, r.body)
		}
	}
	if strings.Contains(ts.logs.String(), `"level":"ERROR"`) {
		t.Errorf("unknown operations logged at ERROR:\n%s", ts.logs.String())
	}
}

// TestClientGoneIsNotAnError: a request whose client went away (its
// context cancelled) is logged below ERROR with kind canceled and status
// 499, not as a server fault.
func TestClientGoneIsNotAnError(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /gone", func(w http.ResponseWriter, r *http.Request) {
		awsproto.WriteRestJSONError(w, r, awsproto.BedrockCodes, fmt.Errorf("provider call: %w", context.Canceled))
	})
	ts := start(t, mux)
	r := do(t, http1Client(), ts.request(t, "POST", "/gone", strings.NewReader("{}")))
	if r.status != 499 {
		t.Errorf("status %d, want 499", r.status)
	}
	logs := ts.logs.String()
	if strings.Contains(logs, `"level":"ERROR"`) || !strings.Contains(logs, `"kind":"canceled"`) {
		t.Errorf("a cancelled request's access line:\n%s", logs)
	}
}

// BenchmarkBodyLimit is the body limit's decision for a Converse call on
// an application profile's percent-encoded ARN, as the server makes it
// for each request.
func BenchmarkBodyLimit(b *testing.B) {
	srv := server.New(server.Options{MaxBodyBytes: 1 << 20, RuntimeMaxBodyBytes: 25_000_000, RuntimeRoutes: runtimeRoutes})
	r := httptest.NewRequest("POST", "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fabcd1234efgh/converse", nil)
	b.ReportAllocs()
	for b.Loop() {
		if srv.BodyLimit(r) != 25_000_000 {
			b.Fatal("not the runtime limit")
		}
	}
}
