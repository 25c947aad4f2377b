// Package logbuf owns the process's log output: a writer that gathers
// whole log lines in memory and hands them to the underlying writer (a
// file, a pipe, stderr) in few writes — when the buffer fills, when its
// oldest line has waited MaxDelay, on Flush and at Close — so that a busy
// access log costs one write(2) per buffer instead of one per request.
//
// Lines written with Write go out at once, with whatever waits before
// them, in order; lines given to Buffer may wait. A process killed
// without running Close (SIGKILL, an unrecovered panic, power loss)
// loses the lines still waiting: at most MaxDelay of them.
package logbuf

import (
	"io"
	"sync"
	"time"
)

// Defaults of New.
const (
	// DefaultSize is the buffer's size: a Buffer call that would pass it
	// writes what waits first.
	DefaultSize = 64 << 10
	// DefaultMaxDelay is the longest a buffered line waits.
	DefaultMaxDelay = 100 * time.Millisecond
)

// Writer buffers log lines in front of an io.Writer. Each call must
// carry whole lines (a log handler's record): the writer never splits
// them, so concurrent callers' lines never interleave. Safe for
// concurrent use.
//
// The age bound comes from a timer armed when the first line enters an
// empty buffer, so an idle Writer wakes nothing. The underlying write
// runs under the Writer's lock, in the goroutine that fills the buffer,
// calls Write, Flush or Close, or in the timer's.
type Writer struct {
	mu       sync.Mutex
	w        io.Writer
	buf      []byte
	size     int
	maxDelay time.Duration
	timer    *time.Timer
	armed    bool  // the timer will flush the lines waiting
	closed   bool  // Close ran: Buffer writes through
	err      error // the first write error, for Flush and Close
}

// New returns a Writer in front of w that holds at most size bytes of
// lines (DefaultSize when size ≤ 0) for at most maxDelay
// (DefaultMaxDelay when maxDelay ≤ 0).
func New(w io.Writer, size int, maxDelay time.Duration) *Writer {
	if size <= 0 {
		size = DefaultSize
	}
	if maxDelay <= 0 {
		maxDelay = DefaultMaxDelay
	}
	b := &Writer{w: w, size: size, maxDelay: maxDelay, buf: make([]byte, 0, size)}
	b.timer = time.AfterFunc(time.Hour, b.flushAged)
	b.timer.Stop()
	return b
}

// Write writes p, and every line waiting before it, to the underlying
// writer now, in one write when they fit the buffer. It is the
// io.Writer a log handler writes its records through: lines that must
// not wait (errors, start-up and shutdown messages) use it. The error is
// the underlying writer's.
func (b *Writer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf)+len(p) <= b.size {
		b.buf = append(b.buf, p...)
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if err := b.flushLocked(); err != nil {
		return 0, err
	}
	return b.writeLocked(p)
}

// Buffer keeps a copy of line (one or more whole lines) for a later
// write: when the buffer would pass its size, when the oldest line
// waiting is MaxDelay old, or at Flush or Close. After Close it writes
// at once. A write error is kept for Flush and Close to return; the line
// that met it is lost, as a log line written straight would be.
func (b *Writer) Buffer(line []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf)+len(line) > b.size {
		_ = b.flushLocked()
		if len(line) > b.size {
			_, _ = b.writeLocked(line)
			return
		}
	}
	b.buf = append(b.buf, line...)
	if b.closed {
		_ = b.flushLocked()
		return
	}
	if !b.armed {
		b.armed = true
		b.timer.Reset(b.maxDelay)
	}
}

// Flush writes the lines waiting. It returns the first write error the
// Writer met since the last Flush, if any.
func (b *Writer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	err := b.flushLocked()
	if b.err != nil {
		err, b.err = b.err, nil
	}
	return err
}

// Close writes the lines waiting and stops the timer; lines buffered
// after it are written at once. It does not close the underlying writer.
// It returns the first write error met since the last Flush, if any.
func (b *Writer) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.timer.Stop()
	return b.Flush()
}

// flushAged is the timer's: the oldest line waiting has waited maxDelay.
func (b *Writer) flushAged() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.armed = false
	_ = b.flushLocked()
}

// flushLocked writes the buffer. The timer stays armed if it was: it
// then finds the buffer empty or holding younger lines, which it writes
// early.
func (b *Writer) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.writeLocked(b.buf)
	b.buf = b.buf[:0]
	return err
}

// writeLocked writes p to the underlying writer and keeps the first
// error.
func (b *Writer) writeLocked(p []byte) (int, error) {
	n, err := b.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil && b.err == nil {
		b.err = err
	}
	return n, err
}
