package server

import (
	"errors"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// bodyBudget bounds the bytes of request bodies held in memory at once,
// across every connection. Safe for concurrent use.
type bodyBudget struct {
	free atomic.Int64
}

func newBodyBudget(n int64) *bodyBudget {
	b := &bodyBudget{}
	b.free.Store(n)
	return b
}

// take reserves n bytes, or reports false when fewer are free.
func (b *bodyBudget) take(n int64) bool {
	if b.free.Add(-n) < 0 {
		b.free.Add(n)
		return false
	}
	return true
}

// give returns n bytes taken earlier.
func (b *bodyBudget) give(n int64) { b.free.Add(n) }

// firstChunk is the most a body buffer starts with, whatever length the
// client declares: memory follows the bytes that actually arrive.
const firstChunk = 16 << 10

var (
	errBodyBudget = errkind.New(errkind.Throttled, "Too many request bodies are in flight; retry later.")
	errBodyTime   = errkind.New(errkind.Invalid, "The request body was not received in time.").WithCode("RequestTimeoutException")
)

// readBody reads r's body incrementally: up to limit bytes, within timeout
// of the call, its buffer growing as bytes arrive and charged to budget
// beyond its first chunk.
// The caller calls release once it no longer holds the body (after the
// handler returns); release is never nil. A larger body is Invalid, a
// body that does not arrive in time is Invalid with the code
// RequestTimeoutException (and the connection is closed), and a full
// budget is Throttled.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, timeout time.Duration, budget *bodyBudget) (body []byte, release func(), err error) {
	body, charged, err := readCharged(w, r, limit, timeout, budget)
	if charged == 0 {
		return body, noRelease, err // most bodies: no closure to allocate
	}
	return body, func() { budget.give(charged) }, err
}

// noRelease is readBody's release when nothing was charged.
func noRelease() {}

// readCharged is readBody, returning what it charged to budget instead of
// a release.
func readCharged(w http.ResponseWriter, r *http.Request, limit int64, timeout time.Duration, budget *bodyBudget) (body []byte, charged int64, err error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, 0, nil
	}
	if r.ContentLength > limit {
		return nil, 0, errkind.New(errkind.Invalid, "Request body of %d bytes exceeds the limit of %d bytes.", r.ContentLength, limit)
	}
	rc := http.NewResponseController(w)
	if timeout > 0 {
		if rc.SetReadDeadline(time.Now().Add(timeout)) == nil {
			// Clear it once read: a deadline left behind would cut the
			// connection's later reads (the next request, or HTTP/1.1's
			// watch for a client that goes away mid-stream).
			defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
		}
	}
	size := int64(firstChunk)
	if r.ContentLength >= 0 && r.ContentLength < size {
		size = r.ContentLength + 1 // +1 to see EOF without growing
	}
	for {
		// The first chunk is free: connections and streams are bounded,
		// and so small bodies — most calls — are never throttled by
		// large ones in flight.
		if over := size - firstChunk; over > charged {
			if !budget.take(over - charged) {
				return nil, charged, errBodyBudget
			}
			charged = over
		}
		grown := make([]byte, len(body), size)
		copy(grown, body)
		body = grown
		for len(body) < cap(body) {
			n, rerr := r.Body.Read(body[len(body):cap(body)])
			body = body[:len(body)+n]
			if int64(len(body)) > limit {
				return nil, charged, errkind.New(errkind.Invalid, "Request body exceeds the limit of %d bytes.", limit)
			}
			if rerr == io.EOF {
				return body, charged, nil
			}
			if rerr != nil {
				if errors.Is(rerr, os.ErrDeadlineExceeded) {
					return nil, charged, errBodyTime
				}
				var tooLarge *http.MaxBytesError
				if errors.As(rerr, &tooLarge) {
					return nil, charged, errkind.New(errkind.Invalid, "Request body exceeds the limit of %d bytes.", limit)
				}
				return nil, charged, errkind.Wrap(errkind.Invalid, rerr, "Could not read the request body.")
			}
		}
		size = min(2*size, limit+1)
	}
}
