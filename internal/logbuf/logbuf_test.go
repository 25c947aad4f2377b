package logbuf_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/logbuf"
)

// recorder keeps each write the Writer makes, and when it came.
type recorder struct {
	mu     sync.Mutex
	writes []string
	at     []time.Time
	fail   error
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return 0, r.fail
	}
	r.writes = append(r.writes, string(p))
	r.at = append(r.at, time.Now())
	return len(p), nil
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.writes...)
}

// TestBufferWaitsAtMostMaxDelay checks buffered lines wait for the timer
// and go out together in one write, maxDelay after the first of them.
func TestBufferWaitsAtMostMaxDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		w := logbuf.New(rec, 1024, 100*time.Millisecond)
		start := time.Now()
		w.Buffer([]byte("a\n"))
		time.Sleep(60 * time.Millisecond)
		w.Buffer([]byte("b\n"))
		synctest.Wait()
		if got := rec.got(); len(got) != 0 {
			t.Fatalf("written before maxDelay: %q", got)
		}
		time.Sleep(40 * time.Millisecond)
		synctest.Wait()
		if diff := cmp.Diff(rec.got(), []string{"a\nb\n"}); diff != "" {
			t.Fatalf("writes (-got +want):\n%s", diff)
		}
		if d := rec.at[0].Sub(start); d != 100*time.Millisecond {
			t.Errorf("first line written after %v, want 100ms", d)
		}
		// The next line starts a new wait of its own.
		time.Sleep(time.Second)
		w.Buffer([]byte("c\n"))
		time.Sleep(99 * time.Millisecond)
		synctest.Wait()
		if got := len(rec.got()); got != 1 {
			t.Fatalf("%d writes 99ms after the third line, want 1", got)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if diff := cmp.Diff(rec.got(), []string{"a\nb\n", "c\n"}); diff != "" {
			t.Fatalf("writes (-got +want):\n%s", diff)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestIdleWriterWritesNothing checks an idle Writer has nothing running
// on a period: an idle hour passes without a write, and a line buffered
// at an arbitrary moment after it waits its whole maxDelay (a ticker
// would have sent it at its next tick).
func TestIdleWriterWritesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		w := logbuf.New(rec, 1024, 100*time.Millisecond)
		time.Sleep(time.Hour + 30*time.Millisecond)
		synctest.Wait()
		if got := rec.got(); len(got) != 0 {
			t.Fatalf("an idle Writer wrote %q", got)
		}
		w.Buffer([]byte("a\n"))
		time.Sleep(99 * time.Millisecond)
		synctest.Wait()
		if got := rec.got(); len(got) != 0 {
			t.Fatalf("written 99ms after the line: %q", got)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if diff := cmp.Diff(rec.got(), []string{"a\n"}); diff != "" {
			t.Fatalf("writes (-got +want):\n%s", diff)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestBufferFlushesBySize checks a line that would pass the buffer's
// size sends the lines waiting first, and a line larger than the buffer
// goes out on its own after them.
func TestBufferFlushesBySize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		w := logbuf.New(rec, 10, time.Second)
		w.Buffer([]byte("1234\n"))
		w.Buffer([]byte("5678\n")) // exactly full: waits
		if got := rec.got(); len(got) != 0 {
			t.Fatalf("written before the buffer passed its size: %q", got)
		}
		w.Buffer([]byte("9\n")) // would pass: the first two go
		w.Buffer([]byte("a very long line\n"))
		w.Buffer([]byte("z\n"))
		want := []string{"1234\n5678\n", "9\n", "a very long line\n"}
		if diff := cmp.Diff(rec.got(), want); diff != "" {
			t.Fatalf("writes (-got +want):\n%s", diff)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(rec.got(), append(want, "z\n")); diff != "" {
			t.Fatalf("writes after Flush (-got +want):\n%s", diff)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestWriteGoesOutAtOnce checks Write sends the lines waiting and its own
// in one write, in order, and a Write too large for the buffer sends the
// waiting lines first.
func TestWriteGoesOutAtOnce(t *testing.T) {
	rec := &recorder{}
	w := logbuf.New(rec, 16, time.Hour)
	w.Buffer([]byte("info\n"))
	if n, err := w.Write([]byte("ERROR\n")); n != 6 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	w.Buffer([]byte("info2\n"))
	if _, err := w.Write([]byte("a line longer than the buffer\n")); err != nil {
		t.Fatal(err)
	}
	want := []string{"info\nERROR\n", "info2\n", "a line longer than the buffer\n"}
	if diff := cmp.Diff(rec.got(), want); diff != "" {
		t.Fatalf("writes (-got +want):\n%s", diff)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCloseFlushesAndWritesThrough checks Close sends what waits and
// lines buffered afterwards go out at once.
func TestCloseFlushesAndWritesThrough(t *testing.T) {
	rec := &recorder{}
	w := logbuf.New(rec, 1024, time.Hour)
	w.Buffer([]byte("a\n"))
	w.Buffer([]byte("b\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w.Buffer([]byte("late\n"))
	if diff := cmp.Diff(rec.got(), []string{"a\nb\n", "late\n"}); diff != "" {
		t.Fatalf("writes (-got +want):\n%s", diff)
	}
}

// TestWriteErrors checks the underlying writer's error reaches Write at
// once and Flush and Close for buffered lines, once.
func TestWriteErrors(t *testing.T) {
	boom := errors.New("disk full")
	rec := &recorder{fail: boom}
	w := logbuf.New(rec, 1024, time.Hour)
	if _, err := w.Write([]byte("x\n")); !errors.Is(err, boom) {
		t.Errorf("Write error = %v, want %v", err, boom)
	}
	if err := w.Flush(); !errors.Is(err, boom) {
		t.Errorf("Flush after a failed Write = %v, want %v", err, boom)
	}
	w.Buffer([]byte("y\n"))
	if err := w.Flush(); !errors.Is(err, boom) {
		t.Errorf("Flush = %v, want %v", err, boom)
	}
	if err := w.Flush(); err != nil {
		t.Errorf("second Flush = %v, want nil (reported once)", err)
	}
	rec.mu.Lock()
	rec.fail = nil
	rec.mu.Unlock()
	w.Buffer([]byte("z\n"))
	if err := w.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if diff := cmp.Diff(rec.got(), []string{"z\n"}); diff != "" {
		t.Fatalf("writes (-got +want):\n%s", diff)
	}
}

// TestConcurrentLinesStayWhole checks lines from many goroutines, through
// Buffer and Write, reach the writer whole and each exactly once, and in
// each goroutine's order.
func TestConcurrentLinesStayWhole(t *testing.T) {
	var out bytes.Buffer
	var outMu sync.Mutex
	w := logbuf.New(writerFunc(func(p []byte) (int, error) {
		outMu.Lock()
		defer outMu.Unlock()
		return out.Write(p)
	}), 256, time.Millisecond)
	const goroutines, lines = 8, 500
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range lines {
				line := fmt.Appendf(nil, "g%d line %d %s\n", g, i, strings.Repeat("x", i%40))
				if i%50 == 0 {
					_, _ = w.Write(line)
				} else {
					w.Buffer(line)
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	next := make([]int, goroutines)
	for l := range strings.Lines(out.String()) {
		var g, i int
		if _, err := fmt.Sscanf(l, "g%d line %d", &g, &i); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if want := fmt.Sprintf("g%d line %d %s\n", g, i, strings.Repeat("x", i%40)); l != want {
			t.Fatalf("line %q, want %q", l, want)
		}
		if i != next[g] {
			t.Fatalf("goroutine %d: line %d after %d", g, i, next[g]-1)
		}
		next[g]++
	}
	for g, n := range next {
		if n != lines {
			t.Errorf("goroutine %d: %d lines, want %d", g, n, lines)
		}
	}
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
