package server

import (
	"bytes"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// TestReadBodyBudget: bodies are charged to the shared budget beyond their
// first chunk as they grow, a body that would pass the budget is
// throttled, small bodies pass even when the budget is spent, and release
// gives every byte back.
func TestReadBodyBudget(t *testing.T) {
	budget := newBodyBudget(64 << 10)
	read := func(n int) ([]byte, func(), error) {
		r := httptest.NewRequest("POST", "/", bytes.NewReader(bytes.Repeat([]byte("x"), n)))
		return readBody(httptest.NewRecorder(), r, 1<<20, 0, budget)
	}

	body, releaseBig, err := read(40 << 10) // grows 16K -> 32K -> 64K: 48K charged
	if err != nil || len(body) != 40<<10 {
		t.Fatalf("40 KiB body: %d bytes, %v", len(body), err)
	}
	if got := budget.free.Load(); got != 16<<10 {
		t.Errorf("free after a 40 KiB body = %d, want %d", got, 16<<10)
	}
	if _, release, err := read(100 << 10); !errkind.Is(err, errkind.Throttled) {
		t.Errorf("100 KiB body with 16 KiB free: err %v, want Throttled", err)
	} else {
		release()
	}
	if got := budget.free.Load(); got != 16<<10 {
		t.Errorf("free after a throttled body = %d, want %d (its partial charge returned)", got, 16<<10)
	}
	small, releaseSmall, err := read(10 << 10)
	if err != nil || len(small) != 10<<10 {
		t.Errorf("10 KiB body: %d bytes, %v; small bodies never wait for the budget", len(small), err)
	}
	releaseSmall()
	releaseBig()
	if got := budget.free.Load(); got != 64<<10 {
		t.Errorf("free after release = %d, want all %d", got, 64<<10)
	}
}

// TestReadBodyIgnoresDeclaredLength: the buffer follows the bytes that
// arrive, not the Content-Length a client declares.
func TestReadBodyIgnoresDeclaredLength(t *testing.T) {
	budget := newBodyBudget(1 << 30)
	r := httptest.NewRequest("POST", "/", strings.NewReader("{}"))
	r.ContentLength = 20_000_000
	body, release, err := readBody(httptest.NewRecorder(), r, 25_000_000, 0, budget)
	defer release()
	if !errkind.Is(err, errkind.Invalid) && err != nil {
		t.Fatalf("err %v", err)
	}
	if cap(body) > firstChunk {
		t.Errorf("buffer of %d bytes for a body of 2 that declared 20 MB", cap(body))
	}
	if got := budget.free.Load(); got != 1<<30 {
		t.Errorf("charged %d bytes for a 2-byte body", 1<<30-got)
	}
}

// TestReadBodyLimit: a body over the limit is Invalid, declared or not.
func TestReadBodyLimit(t *testing.T) {
	budget := newBodyBudget(1 << 30)
	for _, declared := range []bool{true, false} {
		r := httptest.NewRequest("POST", "/", io.LimitReader(strings.NewReader(strings.Repeat("x", 3000)), 3000))
		if declared {
			r.ContentLength = 3000
		} else {
			r.ContentLength = -1
		}
		_, release, err := readBody(httptest.NewRecorder(), r, 2048, 0, budget)
		release()
		if !errkind.Is(err, errkind.Invalid) || !strings.Contains(errkind.As(err).Message, "limit of 2048") {
			t.Errorf("declared=%v: err %v, want Invalid naming the limit", declared, err)
		}
	}
}
