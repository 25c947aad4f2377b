package resolver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
)

// API is the part of the Resource Groups Tagging API client a Resolver
// calls; *resourcegroupstaggingapi.Client satisfies it. Implementations
// must be safe for concurrent use. Errors are classified as the SDK
// reports them: a smithy.APIError whose code is ThrottledException or
// ThrottlingException is retried with backoff; any other error fails the
// fetch.
type API interface {
	GetResources(ctx context.Context, in *resourcegroupstaggingapi.GetResourcesInput, optFns ...func(*resourcegroupstaggingapi.Options)) (*resourcegroupstaggingapi.GetResourcesOutput, error)
}

var _ API = (*resourcegroupstaggingapi.Client)(nil)

// DefaultResourceType is the Tagging API resource type of Amazon Bedrock
// application inference profiles.
const DefaultResourceType = "bedrock:application-inference-profile"

// Defaults of Options.
const (
	DefaultTTL            = 5 * time.Minute
	DefaultNegativeTTL    = 30 * time.Second
	DefaultMaxStale       = time.Hour
	DefaultRefreshTimeout = 30 * time.Second
)

// Options configures a Resolver. The zero value of every field but API
// selects its default.
type Options struct {
	// API is the Tagging API client. Required unless Static is set, in
	// which case a nil API makes Static the only source.
	API API

	// ResourceTypes are the GetResources resource-type filters. Default:
	// [DefaultResourceType].
	ResourceTypes []string

	// TTL is how long an answer naming one profile is fresh. Default 5m.
	TTL time.Duration

	// NegativeTTL is how long "no match" and "several match" answers are
	// fresh. Default 30s.
	NegativeTTL time.Duration

	// RefreshAhead is how long before an answer expires a lookup starts a
	// background refresh; negative answers use the same fraction of
	// NegativeTTL. Default TTL/5. Must be less than TTL.
	RefreshAhead time.Duration

	// MaxStale bounds how long past its expiry an answer may still be
	// served while the upstream fails. Default 1h; negative: never serve
	// an expired answer.
	MaxStale time.Duration

	// RefreshTimeout bounds one upstream fetch (all its pages and retries).
	// Fetches run detached from the caller's context, so that one caller
	// giving up does not fail the others waiting on the same fetch.
	// Default 30s.
	RefreshTimeout time.Duration

	// Backoff spaces retries of throttled calls, and refetches of a query
	// whose last fetch failed. Zero fields take their defaults.
	Backoff Backoff

	// TieBreak picks one profile when several match. Default nil: the
	// lookup fails with *AmbiguousError.
	TieBreak TieBreak

	// Static is a static map consulted before the Tagging API or after it
	// fails, as StaticMode says. Default nil: none.
	Static *StaticMap

	// StaticMode says how Static is used. Default StaticFallback.
	StaticMode StaticMode

	// OnUpdate, when set, is called after an upstream fetch or Warm
	// changed the cache, on the goroutine that ran it. It must not block;
	// the sidecar uses it to schedule writing a snapshot.
	OnUpdate func()

	// Now reads the clock. Default time.Now. Expiry is measured on the
	// difference of two readings, so the default uses the monotonic clock.
	Now func() time.Time

	// Sleep waits between retries. Default: a timer, ended early by ctx.
	Sleep func(ctx context.Context, d time.Duration) error
}

// StaticMode says how a Resolver uses its StaticMap.
type StaticMode int

const (
	// StaticFallback answers from the static map only when the Tagging API
	// fails and no cached answer is within MaxStale. "No match" from the
	// Tagging API is an answer, not a failure.
	StaticFallback StaticMode = iota
	// StaticPrimary answers from the static map first, and asks the
	// Tagging API only for queries the map does not hold.
	StaticPrimary
)

// ParseStaticMode parses "fallback" or "primary".
func ParseStaticMode(s string) (StaticMode, error) {
	switch strings.ToLower(s) {
	case "fallback", "":
		return StaticFallback, nil
	case "primary":
		return StaticPrimary, nil
	}
	return 0, fmt.Errorf("resolver: static mode %q is neither primary nor fallback", s)
}

// String returns "fallback" or "primary".
func (m StaticMode) String() string {
	if m == StaticPrimary {
		return "primary"
	}
	return "fallback"
}

// Source says where an answer came from.
type Source string

// Sources of a Result.
const (
	SourceCache    Source = "cache"    // the in-memory cache
	SourceUpstream Source = "upstream" // a Tagging API call this lookup waited for
	SourceSnapshot Source = "snapshot" // restored from a snapshot, not yet refreshed
	SourceStatic   Source = "static"   // the static map
)

// Result is one answer of ResolveDetail.
type Result struct {
	// ARN is the profile's ARN; empty when an error is returned.
	ARN string
	// Source says where the answer came from.
	Source Source
	// Stale is true when the answer is past its TTL or comes from a
	// snapshot and could not be refreshed yet.
	Stale bool
	// FetchedAt is when the answer was read from the upstream (zero for a
	// static answer).
	FetchedAt time.Time
}

// Resource is one tagged resource as GetResources lists it.
type Resource struct {
	ARN  string `json:"arn"`
	Tags []Tag  `json:"tags"`
}

// TieBreak picks the profile to use when several match q. candidates are
// sorted by ARN and hold their tags (except when restored from a
// snapshot, which keeps ARNs only). It returns ok false to leave the
// query ambiguous; an arn that is not one of the candidates counts as
// ok false. It must be safe for concurrent use.
type TieBreak func(q Query, candidates []Resource) (arn string, ok bool)

// TieBreakLowestARN picks the candidate whose ARN sorts first: a stable,
// if arbitrary, choice.
func TieBreakLowestARN(_ Query, candidates []Resource) (string, bool) {
	if len(candidates) == 0 {
		return "", false
	}
	return candidates[0].ARN, true
}

// ErrNoMatch is returned (wrapped; test with errors.Is) when no profile
// carries the query's tags.
var ErrNoMatch = errors.New("no profile matches")

// ErrClosed is returned (wrapped in *UpstreamError) for a fetch started
// after Close.
var ErrClosed = errors.New("resolver closed")

// AmbiguousError is returned when several profiles match a query and no
// TieBreak chose one.
type AmbiguousError struct {
	Query Query
	ARNs  []string // sorted
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("resolver: %d profiles match %s: %s", len(e.ARNs), e.Query, strings.Join(e.ARNs, ", "))
}

// UpstreamError is returned when the Tagging API failed (or the lookup's
// context ended while waiting for it) and neither a cached answer within
// MaxStale nor the static map could answer. Err is the cause.
type UpstreamError struct {
	Query Query
	Err   error
}

func (e *UpstreamError) Error() string {
	return fmt.Sprintf("resolver: resolve %s: %v", e.Query, e.Err)
}

// Unwrap returns the cause.
func (e *UpstreamError) Unwrap() error { return e.Err }

// Stats are a Resolver's counters since New.
type Stats struct {
	Hits           uint64 `json:"hits"`           // lookups answered fresh from the cache
	Misses         uint64 `json:"misses"`         // lookups that waited for an upstream fetch
	Refreshes      uint64 `json:"refreshes"`      // successful fetches that replaced a cached answer
	StaleServes    uint64 `json:"staleServes"`    // lookups answered past TTL or from a snapshot
	StaticHits     uint64 `json:"staticHits"`     // lookups answered by the static map
	UpstreamCalls  uint64 `json:"upstreamCalls"`  // GetResources calls (pages and retries count)
	UpstreamErrors uint64 `json:"upstreamErrors"` // GetResources calls that failed
	Throttles      uint64 `json:"throttles"`      // of which throttled
	Keys           int    `json:"keys"`           // distinct queries cached
}

// Resolver resolves tag queries to profile ARNs through a TTL cache in
// front of the Tagging API. Create it with New; it is safe for concurrent
// use. Close stops its background fetches.
type Resolver struct {
	api          API
	types        []string
	ttl          time.Duration
	negTTL       time.Duration
	aheadFrac    float64
	maxStale     time.Duration
	fetchTimeout time.Duration
	backoff      Backoff
	tieBreak     TieBreak
	static       *StaticMap
	staticFirst  bool
	onUpdate     func()
	nowFn        func() time.Time
	sleep        func(context.Context, time.Duration) error
	epoch        time.Time

	slots sync.Map // Query.mkey -> *slot
	warm  atomic.Pointer[listing]

	base   context.Context
	cancel context.CancelFunc
	life   sync.Mutex // guards closed and wg.Add against Close
	closed bool
	wg     sync.WaitGroup

	hits  paddedCounter
	stats counters
}

type paddedCounter struct {
	atomic.Uint64
	_ [56]byte // keep the hot counter on its own cache line
}

type counters struct {
	misses, refreshes, staleServes, staticHits atomic.Uint64
	upstreamCalls, upstreamErrors, throttles   atomic.Uint64
}

// slot holds the state of one query.
type slot struct {
	q        Query
	cur      atomic.Pointer[entry] // the answer; immutable once stored
	inflight atomic.Pointer[call]  // the fetch running, if any
	nextTry  atomic.Int64          // after a failed fetch, no new one before this (mono ns)

	mu       sync.Mutex // serialises starting and finishing fetches; guards below
	failures int        // consecutive failed fetches
	lastErr  error
}

// call is one upstream fetch that lookups wait on.
type call struct {
	done chan struct{}
	e    *entry // set before done closes
	err  error
}

// entry is one immutable answer. Times are monotonic nanoseconds since
// the Resolver's epoch.
type entry struct {
	arn        string
	err        error    // cached ErrNoMatch or *AmbiguousError; nil when arn is set
	ambiguous  []string // the ARNs of an ambiguous answer, for snapshots
	fetchedAt  time.Time
	fetched    int64
	refreshAt  int64
	expires    int64
	staleUntil int64
	restored   bool // from a snapshot and not refreshed since
}

// listing is the result of Warm: every profile, and when it was read.
type listing struct {
	resources []Resource
	fetched   int64
	fetchedAt time.Time
}

// New returns a Resolver. It makes no upstream call.
func New(o Options) (*Resolver, error) {
	if o.API == nil && o.Static == nil {
		return nil, errors.New("resolver: Options need an API, a Static map, or both")
	}
	r := &Resolver{
		api:          o.API,
		types:        o.ResourceTypes,
		ttl:          o.TTL,
		negTTL:       o.NegativeTTL,
		maxStale:     o.MaxStale,
		fetchTimeout: o.RefreshTimeout,
		backoff:      o.Backoff.withDefaults(),
		tieBreak:     o.TieBreak,
		static:       o.Static,
		staticFirst:  o.Static != nil && (o.StaticMode == StaticPrimary || o.API == nil),
		onUpdate:     o.OnUpdate,
		nowFn:        o.Now,
		sleep:        o.Sleep,
	}
	if len(r.types) == 0 {
		r.types = []string{DefaultResourceType}
	}
	if r.ttl == 0 {
		r.ttl = DefaultTTL
	}
	if r.negTTL == 0 {
		r.negTTL = DefaultNegativeTTL
	}
	ahead := o.RefreshAhead
	if ahead == 0 {
		ahead = r.ttl / 5
	}
	if r.maxStale == 0 {
		r.maxStale = DefaultMaxStale
	}
	if r.maxStale < 0 {
		r.maxStale = 0
	}
	if r.fetchTimeout == 0 {
		r.fetchTimeout = DefaultRefreshTimeout
	}
	switch {
	case r.ttl < 0 || r.negTTL < 0 || ahead < 0 || r.fetchTimeout < 0:
		return nil, errors.New("resolver: TTL, NegativeTTL, RefreshAhead and RefreshTimeout must not be negative")
	case ahead >= r.ttl:
		return nil, fmt.Errorf("resolver: RefreshAhead %v must be less than TTL %v", ahead, r.ttl)
	case o.StaticMode != StaticFallback && o.StaticMode != StaticPrimary:
		return nil, fmt.Errorf("resolver: unknown StaticMode %d", o.StaticMode)
	}
	r.aheadFrac = float64(ahead) / float64(r.ttl)
	if r.sleep == nil {
		r.sleep = sleepCtx
	}
	r.epoch = r.now()
	r.base, r.cancel = context.WithCancel(context.Background())
	return r, nil
}

func (r *Resolver) now() time.Time {
	if r.nowFn != nil {
		return r.nowFn()
	}
	return time.Now()
}

// mono returns the time since the epoch in nanoseconds (monotonic with the
// default clock).
func (r *Resolver) mono() int64 {
	if r.nowFn != nil {
		return int64(r.nowFn().Sub(r.epoch))
	}
	return int64(time.Since(r.epoch))
}

// Close stops background fetches and waits for them to end. Lookups still
// answer from the cache afterwards; fetches fail with ErrClosed.
func (r *Resolver) Close() error {
	r.life.Lock()
	r.closed = true
	r.life.Unlock()
	r.cancel()
	r.wg.Wait()
	return nil
}

// Resolve returns the ARN of the one profile matching q. Errors:
// ErrNoMatch (wrapped), *AmbiguousError, *UpstreamError; and an error for
// the zero Query. A cached answer is returned without allocating. ctx
// bounds only this caller's wait for an upstream fetch; the fetch itself
// goes on (bounded by RefreshTimeout) and fills the cache for others.
func (r *Resolver) Resolve(ctx context.Context, q Query) (string, error) {
	res, err := r.ResolveDetail(ctx, q)
	return res.ARN, err
}

var errZeroQuery = errors.New("resolver: empty query (build one with NewQuery)")

// ResolveDetail is Resolve, also saying where the answer came from and
// whether it is stale.
func (r *Resolver) ResolveDetail(ctx context.Context, q Query) (Result, error) {
	if q.key == "" {
		return Result{}, errZeroQuery
	}
	if r.staticFirst {
		if arn, ok := r.static.index[q.key]; ok {
			r.stats.staticHits.Add(1)
			return Result{ARN: arn, Source: SourceStatic}, nil
		}
		if r.api == nil {
			return Result{}, fmt.Errorf("resolver: %w: %s (static map)", ErrNoMatch, q)
		}
	}
	v, ok := r.slots.Load(q.mkey)
	if !ok {
		v, _ = r.slots.LoadOrStore(q.mkey, &slot{q: q})
	} else if e := v.(*slot).cur.Load(); e != nil && !e.restored {
		now := r.mono()
		if now < e.expires {
			r.hits.Add(1)
			if now >= e.refreshAt {
				r.refreshAhead(v.(*slot), e, now)
			}
			return e.result(SourceCache, false)
		}
	}
	return r.resolveSlow(ctx, v.(*slot))
}

func (e *entry) result(src Source, stale bool) (Result, error) {
	if e.err != nil {
		return Result{Source: src, Stale: stale, FetchedAt: e.fetchedAt}, e.err
	}
	return Result{ARN: e.arn, Source: src, Stale: stale, FetchedAt: e.fetchedAt}, nil
}

func (e *entry) staleResult() (Result, error) {
	if e.restored {
		return e.result(SourceSnapshot, true)
	}
	return e.result(SourceCache, true)
}

// refreshAhead starts a background fetch for a fresh entry about to
// expire, unless one runs or the last failed too recently.
func (r *Resolver) refreshAhead(s *slot, e *entry, now int64) {
	if s.inflight.Load() != nil || now < s.nextTry.Load() {
		return
	}
	s.mu.Lock()
	if s.inflight.Load() == nil && s.cur.Load() == e {
		r.startLocked(s)
	}
	s.mu.Unlock()
}

// resolveSlow handles every lookup that is not a fresh cache hit.
func (r *Resolver) resolveSlow(ctx context.Context, s *slot) (Result, error) {
	now := r.mono()
	s.mu.Lock()
	e := s.cur.Load()
	if e != nil && !e.restored && now < e.expires { // filled meanwhile
		s.mu.Unlock()
		r.hits.Add(1)
		return e.result(SourceCache, false)
	}
	// Stale-while-revalidate: a snapshot entry, or an expired one while the
	// upstream is failing, is served at once within the bound.
	if e != nil && now < e.staleUntil && (e.restored || s.failures > 0) {
		if s.inflight.Load() == nil && now >= s.nextTry.Load() {
			r.startLocked(s)
		}
		s.mu.Unlock()
		r.stats.staleServes.Add(1)
		return e.staleResult()
	}
	c := s.inflight.Load()
	if c == nil && s.failures > 0 && now < s.nextTry.Load() {
		// Failing, nothing servable, and too soon to ask again.
		err := s.lastErr
		s.mu.Unlock()
		return r.failed(s.q, err)
	}
	if c == nil {
		c = r.startLocked(s)
	}
	s.mu.Unlock()
	r.stats.misses.Add(1)

	select {
	case <-c.done:
	case <-ctx.Done():
		return r.failed(s.q, context.Cause(ctx))
	}
	if c.err == nil {
		return c.e.result(SourceUpstream, false)
	}
	if e := s.cur.Load(); e != nil && r.mono() < e.staleUntil {
		r.stats.staleServes.Add(1)
		return e.staleResult()
	}
	return r.failed(s.q, c.err)
}

// failed answers a lookup the upstream could not: from the static
// fallback, or with the error.
func (r *Resolver) failed(q Query, err error) (Result, error) {
	if r.static != nil && !r.staticFirst {
		if arn, ok := r.static.index[q.key]; ok {
			r.stats.staticHits.Add(1)
			return Result{ARN: arn, Source: SourceStatic}, nil
		}
	}
	return Result{}, &UpstreamError{Query: q, Err: err}
}

// startLocked starts a fetch for s; s.mu is held and no fetch runs.
func (r *Resolver) startLocked(s *slot) *call {
	c := &call{done: make(chan struct{})}
	r.life.Lock()
	if r.closed {
		r.life.Unlock()
		c.err = ErrClosed
		close(c.done)
		return c
	}
	r.wg.Add(1)
	r.life.Unlock()
	s.inflight.Store(c)
	go r.runFetch(s, c)
	return c
}

func (r *Resolver) runFetch(s *slot, c *call) {
	defer r.wg.Done()
	prev := s.cur.Load()
	ctx, cancel := context.WithTimeout(r.base, r.fetchTimeout)
	e, err := r.fetchEntry(ctx, s.q)
	cancel()

	s.mu.Lock()
	if err == nil {
		s.cur.Store(e)
		s.failures, s.lastErr = 0, nil
		s.nextTry.Store(0)
	} else {
		s.failures++
		s.lastErr = err
		s.nextTry.Store(r.mono() + int64(r.backoff.failureDelay(s.failures)))
	}
	c.e, c.err = e, err
	s.inflight.Store(nil)
	s.mu.Unlock()
	close(c.done)

	if err == nil {
		if prev != nil {
			r.stats.refreshes.Add(1)
		}
		if r.onUpdate != nil {
			r.onUpdate()
		}
	}
}

// fetchEntry reads the answer for q: from the Warm listing while it is
// fresh (and not yet due for refresh), else from the Tagging API.
func (r *Resolver) fetchEntry(ctx context.Context, q Query) (*entry, error) {
	start, startAt := r.mono(), r.now()
	if w := r.warm.Load(); w != nil && start < w.fetched+int64(float64(r.ttl)*(1-r.aheadFrac)) {
		return r.newEntry(q, matching(w.resources, q), w.fetched, w.fetchedAt), nil
	}
	cands, err := r.query(ctx, q)
	if err != nil {
		return nil, err
	}
	return r.newEntry(q, cands, start, startAt), nil
}

// newEntry turns the profiles matching q, sorted by ARN, into an answer
// read at fetched.
func (r *Resolver) newEntry(q Query, cands []Resource, fetched int64, fetchedAt time.Time) *entry {
	e := &entry{fetched: fetched, fetchedAt: fetchedAt}
	ttl := r.ttl
	switch len(cands) {
	case 0:
		e.err = fmt.Errorf("resolver: %w: %s", ErrNoMatch, q)
		ttl = r.negTTL
	case 1:
		e.arn = cands[0].ARN
	default:
		if r.tieBreak != nil {
			if arn, ok := r.tieBreak(q, cands); ok && hasARN(cands, arn) {
				e.arn = arn
				break
			}
		}
		e.ambiguous = make([]string, len(cands))
		for i, c := range cands {
			e.ambiguous[i] = c.ARN
		}
		e.err = &AmbiguousError{Query: q, ARNs: e.ambiguous}
		ttl = r.negTTL
	}
	r.setTimes(e, ttl)
	return e
}

func (r *Resolver) setTimes(e *entry, ttl time.Duration) {
	e.expires = e.fetched + int64(ttl)
	e.refreshAt = e.expires - int64(float64(ttl)*r.aheadFrac)
	e.staleUntil = e.expires + int64(r.maxStale)
}

func hasARN(rs []Resource, arn string) bool {
	for _, x := range rs {
		if x.ARN == arn {
			return true
		}
	}
	return false
}

// Stats returns the counters. Keys costs a walk of the cache.
func (r *Resolver) Stats() Stats {
	keys := 0
	r.slots.Range(func(_, v any) bool {
		if v.(*slot).cur.Load() != nil {
			keys++
		}
		return true
	})
	return Stats{
		Hits:           r.hits.Load(),
		Misses:         r.stats.misses.Load(),
		Refreshes:      r.stats.refreshes.Load(),
		StaleServes:    r.stats.staleServes.Load(),
		StaticHits:     r.stats.staticHits.Load(),
		UpstreamCalls:  r.stats.upstreamCalls.Load(),
		UpstreamErrors: r.stats.upstreamErrors.Load(),
		Throttles:      r.stats.throttles.Load(),
		Keys:           keys,
	}
}
