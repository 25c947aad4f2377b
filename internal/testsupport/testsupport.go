// Package testsupport owns the helpers Tollgate's tests share across
// packages: Eventually, which polls a condition until a deadline;
// Receiver, a webhook endpoint (an httptest server) that records what is
// posted to it and answers the statuses it is told to; and HeapInuse, for
// the benchmarks that report memory held.
package testsupport

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"
)

// Eventually calls cond every 5 ms until it returns true, and fails t
// (with the message format and args give) when it has not after timeout.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf(format, args...)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Request is one request a Receiver recorded.
type Request struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

// Receiver is a webhook endpoint: it records every request and answers
// the statuses it was given, in order, then 200. Safe for concurrent use.
type Receiver struct {
	*httptest.Server

	mu       sync.Mutex
	statuses []int
	got      []Request
}

// NewReceiver starts a Receiver that answers statuses, then 200; it is
// closed when the test ends.
func NewReceiver(t testing.TB, statuses ...int) *Receiver {
	rc := &Receiver{statuses: statuses}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
		status := http.StatusOK
		if len(rc.statuses) > 0 {
			status, rc.statuses = rc.statuses[0], rc.statuses[1:]
		}
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// Requests returns the requests recorded so far, in arrival order.
func (rc *Receiver) Requests() []Request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Request(nil), rc.got...)
}

// HeapInuse returns the bytes of heap in use after two garbage
// collections: what the live objects hold, for memory benchmarks.
func HeapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}
