package resolver_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/resolver"
)

var (
	acmeClaims = resolver.MustQuery(map[string]string{"tenant": "acme", "app": "claims_chatbot"})
	acmeSales  = resolver.MustQuery(map[string]string{"tenant": "acme", "app": "chat_app"})
	nobody     = resolver.MustQuery(map[string]string{"tenant": "nobody"})
)

func newResolver(t *testing.T, o resolver.Options) *resolver.Resolver {
	t.Helper()
	r, err := resolver.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// seed puts the insurance example's profiles in f.
func seed(f *fakeAPI) {
	f.put(profileARN("claims000001"), map[string]string{"tenant": "acme", "app": "claims_chatbot", "dept": "claims"})
	f.put(profileARN("sales0000001"), map[string]string{"tenant": "acme", "app": "chat_app", "dept": "sales"})
	f.put(profileARN("globex000001"), map[string]string{"tenant": "globex", "app": "chat_app"})
}

func mustResolve(t *testing.T, r *resolver.Resolver, q resolver.Query) resolver.Result {
	t.Helper()
	res, err := r.ResolveDetail(t.Context(), q)
	if err != nil {
		t.Fatalf("Resolve(%s): %v", q, err)
	}
	return res
}

func TestColdKeyOneUpstreamCall(t *testing.T) {
	f := newFake()
	seed(f)
	f.delay = 50 * time.Millisecond
	r := newResolver(t, resolver.Options{API: f})

	const n = 10_000
	start := make(chan struct{})
	var wg sync.WaitGroup
	var bad atomic.Int64
	for range n {
		wg.Go(func() {
			<-start
			arn, err := r.Resolve(context.Background(), acmeClaims)
			if err != nil || arn != profileARN("claims000001") {
				bad.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if got := f.calls.Load(); got != 1 {
		t.Errorf("upstream calls = %d, want 1", got)
	}
	if got := bad.Load(); got != 0 {
		t.Errorf("%d lookups failed or got the wrong ARN", got)
	}
	st := r.Stats()
	if st.Hits+st.Misses != n || st.UpstreamCalls != 1 || st.Keys != 1 {
		t.Errorf("Stats = %+v, want hits+misses = %d, 1 upstream call, 1 key", st, n)
	}
}

func TestTagChangeSeenWithinTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		seed(f)
		r := newResolver(t, resolver.Options{API: f, TTL: 5 * time.Minute})

		if got := mustResolve(t, r, acmeClaims); got.ARN != profileARN("claims000001") || got.Source != resolver.SourceUpstream {
			t.Fatalf("first lookup = %+v", got)
		}
		// The claims chatbot moves to a new profile.
		f.remove(profileARN("claims000001"))
		f.put(profileARN("claims000002"), map[string]string{"tenant": "acme", "app": "claims_chatbot"})

		time.Sleep(3 * time.Minute) // fresh, before the refresh-ahead window
		if got := mustResolve(t, r, acmeClaims); got.ARN != profileARN("claims000001") || got.Source != resolver.SourceCache {
			t.Errorf("lookup within TTL = %+v, want the cached ARN", got)
		}
		if got := f.calls.Load(); got != 1 {
			t.Errorf("upstream calls within TTL = %d, want 1", got)
		}
		time.Sleep(2*time.Minute + time.Second) // expired, never refreshed ahead
		if got := mustResolve(t, r, acmeClaims); got.ARN != profileARN("claims000002") || got.Source != resolver.SourceUpstream || got.Stale {
			t.Errorf("lookup after TTL = %+v, want the new ARN from upstream", got)
		}
	})
}

func TestRefreshAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		seed(f)
		f.delay = time.Second
		r := newResolver(t, resolver.Options{API: f, TTL: 5 * time.Minute, RefreshAhead: time.Minute})
		mustResolve(t, r, acmeClaims)

		f.put(profileARN("claims000001"), map[string]string{"tenant": "acme", "app": "other"})
		f.put(profileARN("claims000002"), map[string]string{"tenant": "acme", "app": "claims_chatbot"})
		time.Sleep(4*time.Minute + 30*time.Second) // inside the refresh-ahead window

		// The lookup answers from the cache at once and refreshes behind.
		got := mustResolve(t, r, acmeClaims)
		if got.ARN != profileARN("claims000001") || got.Source != resolver.SourceCache || got.Stale {
			t.Errorf("lookup in refresh window = %+v, want the cached ARN, fresh", got)
		}
		for range 100 { // a burst starts no second refresh
			mustResolve(t, r, acmeClaims)
		}
		synctest.Wait() // the refresh is waiting on the upstream's delay
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := f.calls.Load(); got != 2 {
			t.Errorf("upstream calls = %d, want 2", got)
		}
		got = mustResolve(t, r, acmeClaims)
		if got.ARN != profileARN("claims000002") || got.Source != resolver.SourceCache {
			t.Errorf("lookup after refresh = %+v, want the new ARN from the cache", got)
		}
		if st := r.Stats(); st.Refreshes != 1 || st.Misses != 1 {
			t.Errorf("Stats = %+v, want 1 refresh and 1 miss", st)
		}
	})
}

func TestStaleWhileRevalidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"down", errors.New("dial tcp 127.0.0.1:1: connect: connection refused")},
		{"throttled", &types.ThrottledException{Message: aws.String("Rate exceeded")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake()
				seed(f)
				r := newResolver(t, resolver.Options{API: f, TTL: time.Minute, MaxStale: 10 * time.Minute})
				want := profileARN("claims000001")
				mustResolve(t, r, acmeClaims)

				f.setErr(tc.err)
				time.Sleep(time.Minute + time.Second) // expired
				got := mustResolve(t, r, acmeClaims)
				if got.ARN != want || !got.Stale || got.Source != resolver.SourceCache {
					t.Errorf("lookup after expiry, upstream %s = %+v, want the stale ARN", tc.name, got)
				}
				// While failing, answers are immediate and stale; refreshes are
				// retried in the background, spaced out.
				callsBefore := f.calls.Load()
				for i := range 8 * 60 {
					got := mustResolve(t, r, acmeClaims)
					if got.ARN != want || !got.Stale {
						t.Fatalf("lookup %d while failing = %+v", i, got)
					}
					time.Sleep(time.Second)
				}
				synctest.Wait()
				retries := f.calls.Load() - callsBefore
				// Fetches are spaced by at least half the backoff cap (2.5s once
				// grown); a throttled fetch makes up to MaxAttempts calls.
				attempts := int64(1)
				if resolver.IsThrottle(tc.err) {
					attempts = 5
				}
				if retries < 10 || retries > attempts*(8*60/2) {
					t.Errorf("upstream calls over 8 minutes of failure = %d; want background retries, spaced", retries)
				}

				time.Sleep(3 * time.Minute) // beyond MaxStale past expiry
				_, err := r.Resolve(t.Context(), acmeClaims)
				var ue *resolver.UpstreamError
				if !errors.As(err, &ue) {
					t.Fatalf("lookup beyond MaxStale: err = %v, want *UpstreamError", err)
				}
				if tc.name == "throttled" && !resolver.IsThrottle(err) {
					t.Errorf("err = %v, want it to wrap the throttle", err)
				}

				// Recovery.
				f.setErr(nil)
				time.Sleep(6 * time.Second) // past the longest spacing of refetches
				got = mustResolve(t, r, acmeClaims)
				if got.ARN != want || got.Stale || got.Source != resolver.SourceUpstream {
					t.Errorf("lookup after recovery = %+v, want a fresh answer from upstream", got)
				}
				st := r.Stats()
				if st.StaleServes < 8*60 || st.UpstreamErrors == 0 {
					t.Errorf("Stats = %+v, want stale serves and upstream errors counted", st)
				}
			})
		})
	}
}

func TestNegativeCaching(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		seed(f)
		r := newResolver(t, resolver.Options{API: f, NegativeTTL: 30 * time.Second})
		for range 3 {
			if _, err := r.Resolve(t.Context(), nobody); !errors.Is(err, resolver.ErrNoMatch) {
				t.Fatalf("Resolve(%s) err = %v, want ErrNoMatch", nobody, err)
			}
		}
		if got := f.calls.Load(); got != 1 {
			t.Errorf("upstream calls = %d, want 1 (no match is cached)", got)
		}
		f.put(profileARN("nobody000001"), map[string]string{"tenant": "nobody"})
		time.Sleep(31 * time.Second)
		if got := mustResolve(t, r, nobody); got.ARN != profileARN("nobody000001") {
			t.Errorf("after NegativeTTL = %+v, want the new profile", got)
		}
	})
}

func TestAmbiguity(t *testing.T) {
	acme := resolver.MustQuery(map[string]string{"tenant": "acme"})
	t.Run("error", func(t *testing.T) {
		f := newFake()
		seed(f)
		r := newResolver(t, resolver.Options{API: f})
		_, err := r.Resolve(t.Context(), acme)
		var ae *resolver.AmbiguousError
		if !errors.As(err, &ae) {
			t.Fatalf("err = %v, want *AmbiguousError", err)
		}
		if diff := cmp.Diff(ae.ARNs, []string{profileARN("claims000001"), profileARN("sales0000001")}); diff != "" {
			t.Errorf("ARNs (-got +want):\n%s", diff)
		}
		if _, err := r.Resolve(t.Context(), acme); !errors.As(err, &ae) || f.calls.Load() != 1 {
			t.Errorf("second lookup: err = %v, calls = %d; want the cached ambiguity", err, f.calls.Load())
		}
	})
	t.Run("lowest ARN", func(t *testing.T) {
		f := newFake()
		seed(f)
		r := newResolver(t, resolver.Options{API: f, TieBreak: resolver.TieBreakLowestARN})
		if got := mustResolve(t, r, acme); got.ARN != profileARN("claims000001") {
			t.Errorf("ARN = %s, want the lowest", got.ARN)
		}
	})
	t.Run("hook by tag", func(t *testing.T) {
		f := newFake()
		seed(f)
		preferSales := func(_ resolver.Query, cands []resolver.Resource) (string, bool) {
			for _, c := range cands {
				for _, tag := range c.Tags {
					if tag == (resolver.Tag{Key: "dept", Value: "sales"}) {
						return c.ARN, true
					}
				}
			}
			return "", false
		}
		r := newResolver(t, resolver.Options{API: f, TieBreak: preferSales})
		if got := mustResolve(t, r, acme); got.ARN != profileARN("sales0000001") {
			t.Errorf("ARN = %s, want the sales profile", got.ARN)
		}
	})
	t.Run("hook returns a stranger", func(t *testing.T) {
		f := newFake()
		seed(f)
		r := newResolver(t, resolver.Options{API: f, TieBreak: func(resolver.Query, []resolver.Resource) (string, bool) {
			return profileARN("elsewhere001"), true
		}})
		var ae *resolver.AmbiguousError
		if _, err := r.Resolve(t.Context(), acme); !errors.As(err, &ae) {
			t.Errorf("err = %v, want *AmbiguousError", err)
		}
	})
}

func TestBackoffOnThrottle(t *testing.T) {
	throttled := &types.ThrottledException{Message: aws.String("Rate exceeded")}
	generic := &smithy.GenericAPIError{Code: "ThrottlingException", Message: "slow down"}
	invalid := &types.InvalidParameterException{Message: aws.String("bad filter")}
	for _, tc := range []struct {
		name      string
		errs      []error
		wantCalls int64
		wantErr   bool
	}{
		{"ThrottledException then success", []error{throttled, throttled, throttled}, 4, false},
		{"ThrottlingException then success", []error{generic, generic}, 3, false},
		{"throttled past MaxAttempts", []error{throttled, throttled, throttled, throttled, throttled, throttled}, 5, true},
		{"not a throttle", []error{invalid}, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			seed(f)
			f.queueErrs(tc.errs...)
			var mu sync.Mutex
			var sleeps []time.Duration
			r := newResolver(t, resolver.Options{
				API:     f,
				Backoff: resolver.Backoff{Base: 100 * time.Millisecond, Max: 300 * time.Millisecond, MaxAttempts: 5},
				Sleep: func(_ context.Context, d time.Duration) error {
					mu.Lock()
					defer mu.Unlock()
					sleeps = append(sleeps, d)
					return nil
				},
			})
			arn, err := r.Resolve(t.Context(), acmeClaims)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Resolve = %q, %v; want error %v", arn, err, tc.wantErr)
			}
			if got := f.calls.Load(); got != tc.wantCalls {
				t.Errorf("calls = %d, want %d", got, tc.wantCalls)
			}
			mu.Lock()
			defer mu.Unlock()
			if want := int(tc.wantCalls) - 1; len(sleeps) != want {
				t.Errorf("sleeps = %v, want %d", sleeps, want)
			}
			for i, d := range sleeps {
				limit := min(100*time.Millisecond<<i, 300*time.Millisecond)
				if d < 0 || d > limit {
					t.Errorf("sleep %d = %v, want within [0, %v]", i+1, d, limit)
				}
			}
			wantErrors := min(int64(len(tc.errs)), tc.wantCalls)
			if st := r.Stats(); st.UpstreamCalls != uint64(tc.wantCalls) || st.UpstreamErrors != uint64(wantErrors) {
				t.Errorf("Stats = %+v, want %d calls, %d errors", st, tc.wantCalls, wantErrors)
			}
		})
	}
}

func TestWarm(t *testing.T) {
	f := newFake()
	f.pageSize = 2
	for i := range 5 {
		f.put(profileARN(fmt.Sprintf("tenant%06d", i)), map[string]string{"tenant": fmt.Sprintf("t%d", i), "app": "chat_app"})
	}
	f.put(profileARN("untagged0001"), map[string]string{})
	f.put("arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0", map[string]string{"tenant": "t0"})
	r := newResolver(t, resolver.Options{API: f})

	// A query cached before Warm is refreshed by it.
	if got := mustResolve(t, r, resolver.MustQuery(map[string]string{"tenant": "t1"})); got.ARN != profileARN("tenant000001") {
		t.Fatalf("before Warm: %+v", got)
	}
	f.put(profileARN("tenant000001"), map[string]string{"tenant": "t1-renamed", "app": "chat_app"})
	f.calls.Store(0)
	n, err := r.Warm(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n != 6 {
		t.Errorf("Warm listed %d profiles, want 6 (5 tagged, 1 untagged; not the foundation model)", n)
	}
	if got := f.calls.Load(); got != 3 {
		t.Errorf("Warm made %d calls, want 3 pages of 2", got)
	}
	for _, in := range f.inputs[len(f.inputs)-3:] {
		if len(in.TagFilters) != 0 || !cmp.Equal(in.ResourceTypeFilters, []string{resolver.DefaultResourceType}) {
			t.Errorf("Warm sent TagFilters %v, ResourceTypeFilters %v", in.TagFilters, in.ResourceTypeFilters)
		}
	}
	if _, err := r.Resolve(t.Context(), resolver.MustQuery(map[string]string{"tenant": "t1"})); !errors.Is(err, resolver.ErrNoMatch) {
		t.Errorf("cached query after Warm: err = %v, want ErrNoMatch (refreshed from the listing)", err)
	}
	for i := range 5 {
		tenant := fmt.Sprintf("t%d", i)
		if i == 1 {
			tenant = "t1-renamed"
		}
		q := resolver.MustQuery(map[string]string{"tenant": tenant, "app": "chat_app"})
		if got := mustResolve(t, r, q); got.ARN != profileARN(fmt.Sprintf("tenant%06d", i)) {
			t.Errorf("Resolve(%s) = %+v", q, got)
		}
	}
	if got := f.calls.Load(); got != 3 {
		t.Errorf("lookups after Warm made %d more calls, want none", got-3)
	}
	profiles, err := r.ListProfiles(t.Context())
	if err != nil || len(profiles) != 6 || profiles[0].ARN > profiles[5].ARN {
		t.Errorf("ListProfiles = %d profiles, %v; want 6 sorted", len(profiles), err)
	}
}

func TestStatic(t *testing.T) {
	staticARN := profileARN("static000001")
	m, err := resolver.NewStaticMap([]string{"tenant", "app"}, map[string]string{
		resolver.StaticKey("acme", "claims_chatbot"): staticARN,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("primary", func(t *testing.T) {
		f := newFake()
		seed(f)
		r := newResolver(t, resolver.Options{API: f, Static: m, StaticMode: resolver.StaticPrimary})
		if got := mustResolve(t, r, acmeClaims); got.ARN != staticARN || got.Source != resolver.SourceStatic {
			t.Errorf("in map: %+v, want the static ARN", got)
		}
		if got := mustResolve(t, r, acmeSales); got.ARN != profileARN("sales0000001") || got.Source != resolver.SourceUpstream {
			t.Errorf("not in map: %+v, want the upstream's", got)
		}
		if got := f.calls.Load(); got != 1 {
			t.Errorf("calls = %d, want 1", got)
		}
	})
	t.Run("fallback", func(t *testing.T) {
		f := newFake()
		seed(f)
		r := newResolver(t, resolver.Options{API: f, Static: m})
		if got := mustResolve(t, r, acmeClaims); got.ARN != profileARN("claims000001") || got.Source != resolver.SourceUpstream {
			t.Errorf("upstream up: %+v, want the upstream's", got)
		}
		if _, err := r.Resolve(t.Context(), nobody); !errors.Is(err, resolver.ErrNoMatch) {
			t.Errorf("no match upstream: err = %v, want ErrNoMatch", err)
		}
		f2 := newFake()
		f2.setErr(errors.New("connection refused"))
		r2 := newResolver(t, resolver.Options{API: f2, Static: m})
		if got := mustResolve(t, r2, acmeClaims); got.ARN != staticARN || got.Source != resolver.SourceStatic {
			t.Errorf("upstream down: %+v, want the static ARN", got)
		}
		var ue *resolver.UpstreamError
		if _, err := r2.Resolve(t.Context(), acmeSales); !errors.As(err, &ue) {
			t.Errorf("upstream down, not in map: err = %v, want *UpstreamError", err)
		}
	})
	t.Run("static only", func(t *testing.T) {
		r := newResolver(t, resolver.Options{Static: m, StaticMode: resolver.StaticFallback})
		if got := mustResolve(t, r, acmeClaims); got.ARN != staticARN {
			t.Errorf("in map: %+v", got)
		}
		if _, err := r.Resolve(t.Context(), acmeSales); !errors.Is(err, resolver.ErrNoMatch) {
			t.Errorf("not in map: err = %v, want ErrNoMatch", err)
		}
	})
}

func TestSnapshotRoundTrip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		seed(f)
		acme := resolver.MustQuery(map[string]string{"tenant": "acme"})
		r1 := newResolver(t, resolver.Options{API: f})
		mustResolve(t, r1, acmeClaims)
		r1.Resolve(t.Context(), nobody)
		r1.Resolve(t.Context(), acme)
		var buf bytes.Buffer
		if err := r1.Snapshot(&buf); err != nil {
			t.Fatal(err)
		}
		snap := buf.String()

		time.Sleep(10 * time.Minute) // restart later, upstream down
		f.setErr(errors.New("connection refused"))
		r2 := newResolver(t, resolver.Options{API: f})
		n, err := r2.Restore(strings.NewReader(snap))
		if err != nil || n != 3 {
			t.Fatalf("Restore = %d, %v; want 3", n, err)
		}
		got := mustResolve(t, r2, acmeClaims)
		if got.ARN != profileARN("claims000001") || got.Source != resolver.SourceSnapshot || !got.Stale {
			t.Errorf("restored lookup = %+v, want the ARN from the snapshot, stale", got)
		}
		if _, err := r2.Resolve(t.Context(), nobody); !errors.Is(err, resolver.ErrNoMatch) {
			t.Errorf("restored no match: err = %v", err)
		}
		var ae *resolver.AmbiguousError
		if _, err := r2.Resolve(t.Context(), acme); !errors.As(err, &ae) || len(ae.ARNs) != 2 {
			t.Errorf("restored ambiguity: err = %v", err)
		}

		synctest.Wait() // the background refreshes fail

		// Upstream back: the background refresh replaces the snapshot answer.
		f.setErr(nil)
		time.Sleep(10 * time.Second)
		mustResolve(t, r2, acmeClaims) // starts the refresh
		synctest.Wait()
		if got := mustResolve(t, r2, acmeClaims); got.Source != resolver.SourceCache || got.Stale {
			t.Errorf("after refresh = %+v, want fresh from cache", got)
		}

		// A second snapshot keeps the first's fetch times for what was not
		// refreshed, so staleness stays bounded across restarts.
		buf.Reset()
		if err := r2.Snapshot(&buf); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour)
		r3 := newResolver(t, resolver.Options{API: f})
		if n, err := r3.Restore(&buf); err != nil || n != 1 {
			t.Errorf("Restore after an hour = %d, %v; want only the refreshed answer", n, err)
		}
	})
}

func TestRestoreRejects(t *testing.T) {
	r := newResolver(t, resolver.Options{API: newFake()})
	for _, tc := range []struct{ name, doc string }{
		{"not JSON", "{"},
		{"version", `{"version":2,"resourceTypes":["bedrock:application-inference-profile"],"entries":[]}`},
		{"resource types", `{"version":1,"resourceTypes":["bedrock"],"entries":[]}`},
		{"unknown field", `{"version":1,"resourceTypes":["bedrock:application-inference-profile"],"entries":[],"extra":1}`},
		{"two answers", `{"version":1,"resourceTypes":["bedrock:application-inference-profile"],"entries":[{"tags":{"a":"b"},"arn":"arn:x","noMatch":true,"fetchedAt":"2000-01-01T00:00:00Z"}]}`},
		{"empty tags", `{"version":1,"resourceTypes":["bedrock:application-inference-profile"],"entries":[{"tags":{},"arn":"arn:x","fetchedAt":"2000-01-01T00:00:00Z"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := r.Restore(strings.NewReader(tc.doc)); err == nil {
				t.Error("Restore accepted it")
			}
		})
	}
}

func TestSaveLoadSnapshotFile(t *testing.T) {
	f := newFake()
	seed(f)
	r1 := newResolver(t, resolver.Options{API: f})
	mustResolve(t, r1, acmeClaims)
	path := t.TempDir() + "/snapshot.json"
	if err := r1.SaveSnapshot(path); err != nil {
		t.Fatal(err)
	}
	r2 := newResolver(t, resolver.Options{API: f})
	if n, err := r2.LoadSnapshot(path); err != nil || n != 1 {
		t.Errorf("LoadSnapshot = %d, %v", n, err)
	}
	if n, err := r2.LoadSnapshot(path + ".missing"); err != nil || n != 0 {
		t.Errorf("LoadSnapshot(missing) = %d, %v; want 0, nil", n, err)
	}
}

func TestCallerCancelDoesNotFailOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		seed(f)
		f.delay = 5 * time.Second
		r := newResolver(t, resolver.Options{API: f})
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		var other resolver.Result
		var otherErr error
		done := make(chan struct{})
		go func() {
			other, otherErr = r.ResolveDetail(t.Context(), acmeClaims)
			close(done)
		}()
		if _, err := r.Resolve(ctx, acmeClaims); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("impatient caller: err = %v, want DeadlineExceeded", err)
		}
		<-done
		if otherErr != nil || other.ARN != profileARN("claims000001") {
			t.Errorf("patient caller = %+v, %v", other, otherErr)
		}
		if got := f.calls.Load(); got != 1 {
			t.Errorf("calls = %d, want 1", got)
		}
	})
}

func TestClose(t *testing.T) {
	f := newFake()
	seed(f)
	r := newResolver(t, resolver.Options{API: f})
	mustResolve(t, r, acmeClaims)
	r.Close()
	if got := mustResolve(t, r, acmeClaims); got.Source != resolver.SourceCache {
		t.Errorf("cached lookup after Close = %+v", got)
	}
	if _, err := r.Resolve(t.Context(), acmeSales); !errors.Is(err, resolver.ErrClosed) {
		t.Errorf("new lookup after Close: err = %v, want ErrClosed", err)
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    resolver.Options
	}{
		{"no source", resolver.Options{}},
		{"refresh ahead too long", resolver.Options{API: newFake(), TTL: time.Minute, RefreshAhead: time.Minute}},
		{"negative TTL", resolver.Options{API: newFake(), TTL: -time.Minute}},
		{"bad static mode", resolver.Options{API: newFake(), StaticMode: 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := resolver.New(tc.o); err == nil {
				t.Error("New accepted it")
			}
		})
	}
	r := newResolver(t, resolver.Options{API: newFake()})
	if _, err := r.Resolve(t.Context(), resolver.Query{}); err == nil {
		t.Error("Resolve accepted the zero Query")
	}
}

func TestNewQuery(t *testing.T) {
	q, err := resolver.NewQuery(map[string]string{"tenant": "acme", "app": "claims_chatbot"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := q.String(), "app=claims_chatbot,tenant=acme"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if !q.Matches([]resolver.Tag{{Key: "tenant", Value: "acme"}, {Key: "app", Value: "claims_chatbot"}, {Key: "x", Value: "y"}}) {
		t.Error("Matches = false for a superset of the tags")
	}
	if q.Matches([]resolver.Tag{{Key: "tenant", Value: "acme"}}) {
		t.Error("Matches = true for a subset of the tags")
	}
	for _, tc := range []struct {
		name string
		tags map[string]string
	}{
		{"empty", nil},
		{"empty key", map[string]string{"": "x"}},
		{"empty value", map[string]string{"tenant": ""}},
		{"long key", map[string]string{strings.Repeat("k", 129): "x"}},
		{"long value", map[string]string{"k": strings.Repeat("v", 257)}},
		{"NUL", map[string]string{"k": "a\x00b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := resolver.NewQuery(tc.tags); err == nil {
				t.Error("NewQuery accepted it")
			}
		})
	}
}
