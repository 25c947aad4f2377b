package supervise

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder notes the order jobs stop in.
type recorder struct {
	mu      sync.Mutex
	stopped []string
}

func (r *recorder) job(name string) Job {
	return Job{Name: name, Run: func(ctx context.Context) error {
		<-ctx.Done()
		time.Sleep(time.Millisecond) // a job still finishing must be waited for
		r.mu.Lock()
		r.stopped = append(r.stopped, name)
		r.mu.Unlock()
		return ctx.Err()
	}}
}

func TestStopInReverseOrder(t *testing.T) {
	g := New(Config{})
	var r recorder
	g.Start(t.Context(), r.job("a"), r.job("b"))
	g.Start(t.Context(), r.job("c"))
	if got, want := g.Running(), []string{"a", "b", "c"}; !slices.Equal(got, want) {
		t.Errorf("Running = %q, want %q", got, want)
	}
	g.Stop()
	if got, want := r.stopped, []string{"c", "b", "a"}; !slices.Equal(got, want) {
		t.Errorf("stopped %q, want %q", got, want)
	}
	if got := g.Running(); len(got) != 0 {
		t.Errorf("Running after Stop = %q, want none", got)
	}
	g.Stop() // a second Stop does nothing
	g.Start(t.Context(), r.job("d"))
	if got := g.Running(); len(got) != 0 {
		t.Errorf("Start after Stop started %q", got)
	}
}

func TestJobErrorsAreLogged(t *testing.T) {
	var logs bytes.Buffer
	g := New(Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	done := make(chan struct{})
	g.Start(t.Context(), Job{Name: "broken", Run: func(context.Context) error {
		defer close(done)
		return errors.New("feed lost")
	}})
	<-done
	g.Stop()
	if !strings.Contains(logs.String(), `"msg":"background_job_failed","job":"broken","err":"feed lost"`) {
		t.Errorf("log = %s", logs.String())
	}
	if got := g.Running(); len(got) != 0 {
		t.Errorf("Running = %q after the job returned", got)
	}
}

// leases is a lease store that grants every lease to the first holder.
type leases struct {
	mu    sync.Mutex
	held  map[string]string
	asked []string
	freed []string
}

func (l *leases) AcquireLease(_ context.Context, name, holder string, _ time.Duration) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.asked = append(l.asked, name)
	if h, ok := l.held[name]; ok && h != holder {
		return false, nil
	}
	l.held[name] = holder
	return true, nil
}

func (l *leases) ReleaseLease(_ context.Context, name, holder string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[name] == holder {
		delete(l.held, name)
		l.freed = append(l.freed, name)
	}
	return nil
}

func TestLeasedJobsRunOnOneReplica(t *testing.T) {
	store := &leases{held: map[string]string{}}
	ran := make(chan string, 4)
	job := func(replica string) []Job {
		return []Job{
			{Name: "evaluate", Leased: true, Run: func(ctx context.Context) error { ran <- replica; <-ctx.Done(); return nil }},
			{Name: "flush", Run: func(ctx context.Context) error { ran <- replica + "/flush"; <-ctx.Done(); return nil }},
		}
	}
	a := New(Config{Leases: store, Holder: "a", TTL: time.Hour})
	a.Start(t.Context(), job("a")...)
	got := []string{<-ran, <-ran}
	b := New(Config{Leases: store, Holder: "b", TTL: time.Hour})
	b.Start(t.Context(), job("b")...)
	got = append(got, <-ran)
	select {
	case r := <-ran:
		t.Errorf("%s ran the leased job too", r)
	case <-time.After(50 * time.Millisecond):
	}
	slices.Sort(got)
	if want := []string{"a", "a/flush", "b/flush"}; !slices.Equal(got, want) {
		t.Errorf("ran %q, want %q", got, want)
	}
	a.Stop()
	b.Stop()
	if !slices.Contains(store.freed, "evaluate") {
		t.Errorf("the lease was not released at Stop (freed %q)", store.freed)
	}
}
