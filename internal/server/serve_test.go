package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/secretbox"
	"github.com/tollgate-dev/tollgate/internal/server"
	"github.com/tollgate-dev/tollgate/internal/sigv4"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
	"github.com/tollgate-dev/tollgate/internal/testsupport"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testServer is a server.Server serving on a loopback listener.
type testServer struct {
	url   string
	token string // a Bedrock API key the server accepts
	// keyID and secret are the root's access key.
	keyID, secret string
	srv           *server.Server
	logs          *syncBuffer
	cancel        context.CancelFunc
	done          chan error
}

// start serves rest (the restJson1 handler) behind real authentication:
// the principal service over SQLite in a temporary directory, with a root
// principal holding one API key.
func start(t *testing.T, rest http.Handler) *testServer {
	t.Helper()
	return startWith(t, rest, nil)
}

// startWith is start with options changed by mutate (when not nil).
func startWith(t *testing.T, rest http.Handler, mutate func(*server.Options)) *testServer {
	t.Helper()
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tollgate.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	box, err := secretbox.New(secretbox.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	principals, err := principal.NewService(ctx, db, box, nil)
	if err != nil {
		t.Fatal(err)
	}
	keyID, secret, _, err := principals.EnsureRoot(ctx, "123456789012", "", "")
	if err != nil {
		t.Fatal(err)
	}
	token, err := principals.CreateAPIKey(ctx, principal.RootID("123456789012"))
	if err != nil {
		t.Fatal(err)
	}

	logs := &syncBuffer{}
	opts := server.Options{
		Logger:   slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), // probes log at DEBUG
		Verifier: &sigv4.Verifier{Keys: principals},
		Auth:     principals,
		Region:   "us-east-1",
		RestJSON: rest,
		Ready:    db.Ping,
	}
	if mutate != nil {
		mutate(&opts)
	}
	srv := server.New(opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{url: "http://" + ln.Addr().String(), token: token, keyID: keyID, secret: secret, srv: srv,
		logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { ts.done <- srv.Serve(sctx, ln) }()
	t.Cleanup(func() {
		if ts.cancel != nil {
			ts.stop(t)
		}
	})
	return ts
}

// stop cancels Serve's context and waits for it to return.
func (ts *testServer) stop(t *testing.T) error {
	t.Helper()
	ts.cancel()
	ts.cancel = nil
	select {
	case err := <-ts.done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return within 10s of cancellation")
		return nil
	}
}

// request builds an authenticated request.
func (ts *testServer) request(t *testing.T, method, path string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, ts.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+ts.token)
	req.Header.Set("Content-Type", "application/json")
	return req
}

// h2cClient speaks only cleartext HTTP/2, as the JavaScript v3 client does
// to an http:// endpoint.
func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}}
}

func http1Client() *http.Client {
	var p http.Protocols
	p.SetHTTP1(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}}
}

// closeIdle closes the clients' idle connections, so a graceful shutdown
// need not wait for HTTP/2 clients to answer its GOAWAY.
func closeIdle(clients []*http.Client) {
	for _, c := range clients {
		c.CloseIdleConnections()
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
	proto  int
}

func do(t *testing.T, c *http.Client, req *http.Request) response {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL.Path, err)
	}
	return response{resp.StatusCode, resp.Header, body, resp.ProtoMajor}
}

// awsError returns the exception name of a restJson1 error response,
// failing t unless header and body agree and carry a message.
func awsError(t *testing.T, r response) string {
	t.Helper()
	var e struct {
		Type    *string `json:"__type"`
		Message *string `json:"message"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", r.body, err)
	}
	name := r.header.Get("X-Amzn-ErrorType")
	if e.Type == nil || e.Message == nil || *e.Type != name || name == "" {
		t.Fatalf("error response X-Amzn-ErrorType %q, body %s: want __type and message matching the header", name, r.body)
	}
	return name
}

func TestH2C(t *testing.T) {
	ts := start(t, http.NotFoundHandler())
	c := h2cClient()
	t.Cleanup(c.CloseIdleConnections) // before the server stops: no GOAWAY wait
	for _, path := range []string{"/healthz", "/readyz"} {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", ts.url+path, nil)
		r := do(t, c, req)
		if r.status != 200 || r.proto != 2 {
			t.Errorf("GET %s over h2c = %d HTTP/%d, want 200 HTTP/2", path, r.status, r.proto)
		}
	}
	// The same listener still serves HTTP/1.1.
	req, _ := http.NewRequestWithContext(t.Context(), "GET", ts.url+"/healthz", nil)
	if r := do(t, http1Client(), req); r.status != 200 || r.proto != 1 {
		t.Errorf("GET /healthz over HTTP/1.1 = %d HTTP/%d, want 200 HTTP/1", r.status, r.proto)
	}
}

func TestGracefulShutdownDrains(t *testing.T) {
	for _, tc := range []struct {
		name   string
		client *http.Client
	}{
		{"http1", http1Client()},
		{"h2c", h2cClient()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			started, release := make(chan struct{}), make(chan struct{})
			payload := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB, more than any buffer
			ts := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				close(started)
				<-release
				w.Header().Set("Content-Type", "application/octet-stream")
				w.WriteHeader(http.StatusOK)
				for chunk := range slices.Chunk(payload, 32<<10) {
					if _, err := w.Write(chunk); err != nil {
						return
					}
				}
			}))

			got := make(chan response, 1)
			errc := make(chan error, 1)
			go func() {
				resp, err := tc.client.Do(ts.request(t, "POST", "/inference-profiles", strings.NewReader("{}")))
				if err != nil {
					errc <- err
					return
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					errc <- err
					return
				}
				got <- response{resp.StatusCode, resp.Header, body, resp.ProtoMajor}
			}()
			select {
			case <-started:
			case err := <-errc:
				t.Fatal(err)
			case <-time.After(10 * time.Second):
				t.Fatal("the handler never started")
			}

			ts.cancel()
			ts.cancel = nil
			// Release the handler only once shutdown has begun.
			testsupport.Eventually(t, 10*time.Second, func() bool { return strings.Contains(ts.logs.String(), `"msg":"shutting_down"`) },
				"the server never logged shutting_down")
			select {
			case err := <-ts.done:
				t.Fatalf("Serve returned %v with a request in flight", err)
			case <-time.After(50 * time.Millisecond):
			}
			close(release)

			select {
			case r := <-got:
				if r.status != 200 || !bytes.Equal(r.body, payload) {
					t.Errorf("in-flight request = %d with %d of %d body bytes, want 200 and all of them", r.status, len(r.body), len(payload))
				}
			case err := <-errc:
				t.Fatalf("in-flight request failed during shutdown: %v", err)
			case <-time.After(10 * time.Second):
				t.Fatal("in-flight request never completed")
			}
			select {
			case err := <-ts.done:
				if err != nil {
					t.Errorf("Serve = %v, want nil after a graceful drain", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Serve did not return after the drain")
			}
		})
	}
}

// restHandler is a small restJson1 API: /ok answers JSON, /panic panics.
func restHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ok", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
	mux.HandleFunc("POST /panic", func(w http.ResponseWriter, r *http.Request) {
		panic("handler bug")
	})
	mux.HandleFunc("/", server.UnknownOperation)
	return mux
}

func TestPanicAnswersInternalServerException(t *testing.T) {
	ts := start(t, restHandler())
	clients := []*http.Client{http1Client(), h2cClient()}
	for _, c := range clients {
		r := do(t, c, ts.request(t, "POST", "/panic", strings.NewReader("{}")))
		if r.status != 500 || awsError(t, r) != "InternalServerException" {
			t.Errorf("panicking handler = %d %s, want 500 InternalServerException", r.status, r.body)
		}
		if strings.Contains(string(r.body), "handler bug") {
			t.Errorf("the panic value leaked to the client: %s", r.body)
		}
		// The server keeps serving, on a new connection and on the same one.
		for range 2 {
			if r := do(t, c, ts.request(t, "POST", "/ok", strings.NewReader("{}"))); r.status != 200 {
				t.Errorf("request after a panic = %d %s, want 200", r.status, r.body)
			}
		}
	}
	closeIdle(clients)
	if err := ts.stop(t); err != nil {
		t.Errorf("Serve = %v", err)
	}
	if !strings.Contains(ts.logs.String(), `"msg":"panic"`) {
		t.Error("the panic was not logged")
	}
}

func TestNonCanonicalPathIsAnAWSError(t *testing.T) {
	ts := start(t, restHandler())
	for _, path := range []string{"/a/../ok", "//ok", "/./ok", "/ok/.", "/ok/"} {
		req := ts.request(t, "POST", path, strings.NewReader("{}"))
		client := http1Client()
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		r := do(t, client, req)
		if r.status != 404 || awsError(t, r) != "UnknownOperationException" {
			t.Errorf("POST %s = %d %q, want 404 UnknownOperationException", path, r.status, r.body)
		}
	}
}

// accessLine is one access-log record.
type accessLine struct {
	Msg       string  `json:"msg"`
	RequestID string  `json:"request_id"`
	Status    int     `json:"status"`
	Path      string  `json:"path"`
	Method    string  `json:"method"`
	Duration  float64 `json:"duration_ms"`
}

func TestRequestIDsAndAccessLog(t *testing.T) {
	ts := start(t, restHandler())
	type sent struct {
		method, path string
		client       *http.Client
		auth         bool
		status       int
	}
	var reqs []sent
	clients := []*http.Client{http1Client(), h2cClient()}
	for _, c := range clients {
		reqs = append(reqs,
			sent{"GET", "/healthz", c, false, 200},
			sent{"GET", "/readyz", c, false, 200},
			sent{"POST", "/ok", c, true, 200},
			sent{"POST", "/ok", c, false, 403},
			sent{"POST", "/panic", c, true, 500},
			sent{"PUT", "/nowhere", c, true, 404},
			sent{"POST", "/inference%2Dprofiles/arn%3Aaws%3Abedrock", c, true, 404},
		)
	}
	ids := map[string]sent{}
	for _, s := range reqs {
		req, _ := http.NewRequestWithContext(t.Context(), s.method, ts.url+s.path, strings.NewReader("{}"))
		if s.auth {
			req.Header.Set("Authorization", "Bearer "+ts.token)
		}
		r := do(t, s.client, req)
		if r.status != s.status {
			t.Errorf("%s %s = %d, want %d", s.method, s.path, r.status, s.status)
		}
		id := r.header.Get("X-Amzn-RequestId")
		if id == "" {
			t.Errorf("%s %s: no X-Amzn-RequestId", s.method, s.path)
			continue
		}
		if _, dup := ids[id]; dup {
			t.Errorf("request id %s given twice", id)
		}
		ids[id] = s
		if r.status >= 400 {
			awsError(t, r)
		}
	}

	// After Serve returns every handler has finished, and with it its
	// access line.
	closeIdle(clients)
	if err := ts.stop(t); err != nil {
		t.Errorf("Serve = %v", err)
	}
	logged := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(ts.logs.String()))
	for sc.Scan() {
		var l accessLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		if l.Msg != "request" {
			continue
		}
		logged[l.RequestID]++
		s, ok := ids[l.RequestID]
		if !ok {
			t.Errorf("access line for unknown request id %q: %s", l.RequestID, sc.Text())
			continue
		}
		if l.Status != s.status || l.Path != s.path || l.Method != s.method {
			t.Errorf("access line %s, want status %d, path %s, method %s", sc.Text(), s.status, s.path, s.method)
		}
	}
	if len(logged) != len(reqs) {
		t.Errorf("%d requests have access lines, want %d", len(logged), len(reqs))
	}
	for id, n := range logged {
		if n != 1 {
			t.Errorf("request %s has %d access lines, want 1", id, n)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", ts.logs.String())
	}
}
