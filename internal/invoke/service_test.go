package invoke_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/admission"
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/invoke"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/provider/sim"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
)

const (
	account = "123456789012"
	// usHaiku is a system-defined profile over three regions.
	usHaiku = "us.anthropic.claude-3-haiku-20240307-v1:0"
)

// pipeline is a Service under test with the real components around it: a
// SQLite store in a temporary directory, its profiles and the ledger
// batcher writing to it. Only the model providers are fakes (the
// simulator).
type pipeline struct {
	db       *sqlite.DB
	profiles *profile.Service
	catalog  *catalog.Catalog
}

// records returns every record the ledger holds.
func (p *pipeline) records(t *testing.T) []ledger.Record {
	t.Helper()
	recs, err := p.db.Records(context.WithoutCancel(t.Context()), ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// newPipeline opens the store and the profiles of a pipeline.
func newPipeline(t *testing.T) *pipeline {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "tollgate.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cat := catalog.Default()
	profiles, err := profile.NewService(t.Context(), profile.Config{Store: db, Catalog: cat, Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	return &pipeline{db: db, profiles: profiles, catalog: cat}
}

// service returns the pipeline configured by cfg over p's profiles, the
// catalogue and a ledger batcher on p's store (closed before the store).
func (p *pipeline) service(t *testing.T, cfg invoke.Config, router invoke.Router) *invoke.Service {
	t.Helper()
	batcher := ledger.NewBatcher(p.db, 0, nil)
	t.Cleanup(batcher.Close)
	cfg.Profiles, cfg.Catalog, cfg.Router, cfg.Ledger = p.profiles, p.catalog, router, batcher
	return invoke.NewService(cfg)
}

// newService returns a pipeline configured by cfg whose n-th provider
// attempt (counted across calls, 0-based) goes to providers[n], the last
// one serving every attempt past the list: the first attempt of a test's
// first call always meets providers[0], whatever region round-robin
// picks.
func newService(t *testing.T, cfg invoke.Config, providers ...invoke.Provider) (*invoke.Service, *pipeline) {
	t.Helper()
	p := newPipeline(t)
	var n atomic.Int64
	router := func(catalog.Model, string) (invoke.Route, bool) {
		i := min(int(n.Add(1)-1), len(providers)-1)
		return invoke.Route{Name: "p" + string(rune('0'+i)), Provider: providers[i]}, true
	}
	return p.service(t, cfg, router), p
}

func request(text string) *converse.Request {
	return &converse.Request{Messages: []converse.Message{{Role: "user", Content: []converse.ContentBlock{{Text: &text}}}}}
}

// call runs one Converse or ConverseStream call and returns its error.
func call(ctx context.Context, svc *invoke.Service, stream bool, id string) error {
	caller := invoke.Caller{RequestID: id, Account: account}
	if !stream {
		_, err := svc.Converse(ctx, caller, usHaiku, request("tell me about floods"))
		return err
	}
	return svc.ConverseStream(ctx, caller, usHaiku, request("tell me about floods"), func(converse.StreamEvent) error { return nil })
}

// onlyRecord returns the one record of the test's call.
func onlyRecord(t *testing.T, p *pipeline) ledger.Record {
	t.Helper()
	all := p.records(t)
	if len(all) != 1 {
		t.Fatalf("%d records, want 1: %+v", len(all), all)
	}
	return all[0]
}

// TestFailover checks which failures of a first attempt move a call on to
// the next region of a cross-region profile (docs/providers.md): throttling,
// 5xx (Unavailable and Internal from the providers) and, for a stream,
// only before its first event.
func TestFailover(t *testing.T) {
	for _, tc := range []struct {
		name     string
		first    sim.Config
		stream   bool         // only as a stream
		fails    bool         // the call fails ...
		wantErr  errkind.Kind // ... with this kind
		attempts int
	}{
		{name: "throttled", first: sim.Config{Faults: []sim.Fault{{Kind: errkind.Throttled}}}, attempts: 2},
		{name: "unavailable", first: sim.Config{Faults: []sim.Fault{{Kind: errkind.Unavailable}}}, attempts: 2},
		{name: "internal server error", first: sim.Config{Faults: []sim.Fault{{Kind: errkind.Internal}}}, attempts: 2},
		{name: "invalid request", first: sim.Config{Faults: []sim.Fault{{Kind: errkind.Invalid}}}, fails: true, wantErr: errkind.Invalid, attempts: 1},
		{name: "internal error mid-stream", first: sim.Config{Faults: []sim.Fault{{Kind: errkind.Internal, MidStream: true, MidStreamAfter: 2}}},
			stream: true, fails: true, wantErr: errkind.Internal, attempts: 1},
	} {
		for _, stream := range []bool{false, true} {
			if tc.stream && !stream {
				continue
			}
			name := tc.name + "/converse"
			if stream {
				name = tc.name + "/stream"
			}
			t.Run(name, func(t *testing.T) {
				svc, recs := newService(t, invoke.Config{}, sim.New(tc.first), sim.New(sim.Config{}))
				err := call(t.Context(), svc, stream, "req-1")
				if !tc.fails && err != nil {
					t.Fatalf("call failed: %v", err)
				}
				if tc.fails && (err == nil || errkind.KindOf(err) != tc.wantErr) {
					t.Fatalf("call error = %v, want kind %v", err, tc.wantErr)
				}
				r := onlyRecord(t, recs)
				if r.Attempts != tc.attempts {
					t.Errorf("attempts = %d, want %d", r.Attempts, tc.attempts)
				}
				wantProvider := "p0"
				if tc.attempts == 2 {
					wantProvider = "p1"
				}
				if r.Provider != wantProvider {
					t.Errorf("served by %s, want %s", r.Provider, wantProvider)
				}
			})
		}
	}
}

// TestAttemptTimeout checks that attemptTimeout fails a silent attempt
// over, streams included (bounding the wait for their first event), and
// that it does not cut a stream that has started.
func TestAttemptTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	for _, stream := range []bool{false, true} {
		name := "converse"
		if stream {
			name = "stream"
		}
		t.Run(name+"/silent attempt fails over", func(t *testing.T) {
			// The first region never answers; without the attempt timeout
			// the call would wait for the test's own deadline.
			svc, recs := newService(t, invoke.Config{AttemptTimeout: timeout}, sim.New(sim.Config{Latency: time.Hour}), sim.New(sim.Config{}))
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			start := time.Now()
			if err := call(ctx, svc, stream, "req-1"); err != nil {
				t.Fatalf("call failed after %v: %v", time.Since(start), err)
			}
			r := onlyRecord(t, recs)
			if r.Attempts != 2 || r.Provider != "p1" || r.Outcome != ledger.OutcomeSuccess {
				t.Errorf("record: attempts %d, provider %s, outcome %s; want 2, p1, success", r.Attempts, r.Provider, r.Outcome)
			}
			t.Logf("failed over after %v", time.Since(start))
		})
		t.Run(name+"/every region silent", func(t *testing.T) {
			svc, recs := newService(t, invoke.Config{AttemptTimeout: timeout}, sim.New(sim.Config{Latency: time.Hour}))
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			err := call(ctx, svc, stream, "req-1")
			if errkind.KindOf(err) != errkind.Unavailable || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("call error = %v, want Unavailable after the deadline", err)
			}
			if r := onlyRecord(t, recs); r.Attempts != 3 || r.Outcome != ledger.OutcomeServerError {
				t.Errorf("record: attempts %d, outcome %s; want 3, server error", r.Attempts, r.Outcome)
			}
		})
	}
	t.Run("stream/started stream outlives the timeout", func(t *testing.T) {
		// The first event comes at once; the whole stream takes longer
		// than the attempt timeout, and must not be cut or failed over.
		svc, recs := newService(t, invoke.Config{AttemptTimeout: timeout}, sim.New(sim.Config{TokensPerSecond: 50}))
		if err := call(t.Context(), svc, true, "req-1"); err != nil {
			t.Fatal(err)
		}
		r := onlyRecord(t, recs)
		if r.LatencyMs < 2*timeout.Milliseconds() {
			t.Fatalf("the stream took %d ms, too short to prove anything", r.LatencyMs)
		}
		if r.Attempts != 1 || r.Outcome != ledger.OutcomeSuccess || r.OutputTokens < 16 {
			t.Errorf("record: attempts %d, outcome %s, %d output tokens; want 1, success, the whole reply", r.Attempts, r.Outcome, r.OutputTokens)
		}
	})
}

// tickets is an Admitter that counts the tickets it issues and settles.
type tickets struct {
	issued, settled atomic.Int64
	twice           atomic.Bool // a ticket was settled more than once
}

func (a *tickets) Admit(context.Context, admission.Request) (admission.Ticket, error) {
	a.issued.Add(1)
	return &ticket{a: a}, nil
}

type ticket struct {
	a    *tickets
	done atomic.Bool
}

func (t *ticket) Model() string { return "" }

func (t *ticket) Done(ledger.Record) {
	if t.done.Swap(true) {
		t.a.twice.Store(true)
	}
	t.a.settled.Add(1)
}

// panicky is a provider whose code panics: at once for Converse, after
// two events for a stream.
type panicky struct{ *sim.Provider }

func (p panicky) Converse(context.Context, converse.Call, *converse.Request) (*converse.Response, error) {
	panic("provider bug")
}

func (p panicky) ConverseStream(ctx context.Context, c converse.Call, req *converse.Request, emit func(converse.StreamEvent) error) (converse.Usage, error) {
	n := 0
	return p.Provider.ConverseStream(ctx, c, req, func(ev converse.StreamEvent) error {
		if n++; n > 2 {
			panic("provider bug")
		}
		return emit(ev)
	})
}

// TestReservationSettledOnEveryExit checks that an admitted call settles
// its ticket (releasing a budget reservation) exactly once and is recorded
// however it ends: success, provider error, attempt timeout, the client
// going away, a failed write to the client, or a panic.
func TestReservationSettledOnEveryExit(t *testing.T) {
	errWrite := errors.New("write: i/o timeout")
	for _, tc := range []struct {
		name      string
		provider  invoke.Provider
		stream    bool
		emit      func(cancel context.CancelFunc, n int) error // for streams
		wantPanic bool
		outcome   string
	}{
		{name: "success", provider: sim.New(sim.Config{}), outcome: ledger.OutcomeSuccess},
		{name: "stream success", provider: sim.New(sim.Config{}), stream: true, outcome: ledger.OutcomeSuccess},
		{name: "provider error", provider: sim.New(sim.Config{Faults: []sim.Fault{{Kind: errkind.Invalid}}}), outcome: ledger.OutcomeClientError},
		{name: "attempt timeout", provider: sim.New(sim.Config{Latency: time.Hour}), stream: true, outcome: ledger.OutcomeServerError},
		{name: "client gone", provider: sim.New(sim.Config{TokensPerSecond: 1000}), stream: true, outcome: ledger.OutcomeCancelled,
			emit: func(cancel context.CancelFunc, n int) error {
				if n == 3 {
					cancel()
				}
				return nil
			}},
		{name: "write failed", provider: sim.New(sim.Config{}), stream: true, outcome: ledger.OutcomeCancelled,
			emit: func(_ context.CancelFunc, n int) error {
				if n == 3 {
					return errWrite
				}
				return nil
			}},
		{name: "provider panic", provider: panicky{sim.New(sim.Config{})}, wantPanic: true, outcome: ledger.OutcomeServerError},
		{name: "stream provider panic", provider: panicky{sim.New(sim.Config{})}, stream: true, wantPanic: true, outcome: ledger.OutcomeServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			adm := &tickets{}
			svc, recs := newService(t, invoke.Config{AttemptTimeout: 100 * time.Millisecond, Admitter: adm}, tc.provider)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var panicked any
			func() {
				defer func() { panicked = recover() }()
				caller := invoke.Caller{RequestID: "req-1", Account: account}
				if !tc.stream {
					_, _ = svc.Converse(ctx, caller, usHaiku, request("tell me about floods"))
					return
				}
				n := 0
				_ = svc.ConverseStream(ctx, caller, usHaiku, request("tell me about floods"), func(converse.StreamEvent) error {
					n++
					if tc.emit != nil {
						return tc.emit(cancel, n)
					}
					return nil
				})
			}()
			if (panicked != nil) != tc.wantPanic {
				t.Fatalf("panic = %v, want a panic: %v", panicked, tc.wantPanic)
			}
			if adm.issued.Load() != 1 || adm.settled.Load() != 1 || adm.twice.Load() {
				t.Errorf("tickets: %d issued, %d settled (twice: %v); want 1 and 1", adm.issued.Load(), adm.settled.Load(), adm.twice.Load())
			}
			if r := onlyRecord(t, recs); r.Outcome != tc.outcome {
				t.Errorf("outcome %s, want %s", r.Outcome, tc.outcome)
			}
		})
	}
}
