package openai

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tollgate-dev/tollgate/internal/converse"
)

// fake is an OpenAI-compatible server: it records each request and
// answers with reply.
type fake struct {
	srv *httptest.Server
	p   *Provider

	mu  sync.Mutex
	got []captured
}

type captured struct {
	method, path string
	header       http.Header
	body         []byte
}

// newFake starts a fake server answering with reply, and a Provider for
// it whose clock advances 7ms per reading. edit, if given, adjusts the
// Config before New.
func newFake(t *testing.T, reply http.HandlerFunc, edit ...func(*Config)) *fake {
	t.Helper()
	f := &fake{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.got = append(f.got, captured{r.Method, r.URL.Path, r.Header.Clone(), body})
		f.mu.Unlock()
		reply(w, r)
	}))
	t.Cleanup(f.srv.Close)
	cfg := Config{BaseURL: f.srv.URL + "/v1", Models: map[string]string{"meta.llama3-8b-instruct-v1:0": "served"}}
	for _, e := range edit {
		e(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	p.now = stepClock(7 * time.Millisecond)
	f.p = p
	return f
}

// last returns the last request the fake received.
func (f *fake) last(t *testing.T) captured {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.got) == 0 {
		t.Fatal("the server received no request")
	}
	return f.got[len(f.got)-1]
}

func (f *fake) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.got)
}

// stepClock is a clock that advances by step at each reading.
func stepClock(step time.Duration) func() time.Time {
	var n atomic.Int64
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return func() time.Time { return base.Add(time.Duration(n.Add(1)) * step) }
}

// call is the converse.Call the tests use; the fake's Models names it
// "served".
var call = converse.Call{RequestID: "req-1", ModelID: "meta.llama3-8b-instruct-v1:0", Region: "us-east-1"}

// jsonReply answers with status and body as application/json.
func jsonReply(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// sseReply answers with each chunk as one "data:" event, flushed.
func sseReply(chunks ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, c := range chunks {
			fmt.Fprintf(w, "data: %s\n\n", c)
			w.(http.Flusher).Flush()
		}
	}
}

// converseRequest decodes a Converse request body.
func converseRequest(t *testing.T, body string) *converse.Request {
	t.Helper()
	var req converse.Request
	if err := json.Unmarshal([]byte(body), &req); err != nil {
		t.Fatalf("bad test request %s: %v", body, err)
	}
	return &req
}

// diffJSON compares two JSON texts as values.
func diffJSON(t *testing.T, got []byte, want string) string {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want is not JSON: %v\n%s", err, want)
	}
	return cmp.Diff(g, w)
}

// recorder collects stream events as JSON, the way the runtime API will
// send them.
type recorder struct {
	events []string
	// fail, if set, is returned by emit for the event numbered failAt
	// (counting from 1), and every later one.
	fail   error
	failAt int
	// on, if set, runs for each event before it is recorded.
	on func(n int, ev converse.StreamEvent)
}

func (r *recorder) emit(ev converse.StreamEvent) error {
	n := len(r.events) + 1
	if r.on != nil {
		r.on(n, ev)
	}
	if r.fail != nil && n >= r.failAt {
		return r.fail
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	r.events = append(r.events, string(b))
	return nil
}
