package invoke

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/internal/admission"
	"github.com/tollgate-dev/tollgate/internal/arn"
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/policy"
	"github.com/tollgate-dev/tollgate/internal/pricing"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// Route is the provider serving a model in a region.
type Route struct {
	Name     string // provider name, recorded in the ledger
	Provider Provider
	Upstream string // optional upstream model name or ARN
}

// Router finds the route for a model in a region; ok false when no
// provider serves it there.
type Router func(model catalog.Model, region string) (Route, bool)

// Appender makes a record durable (ledger.Batcher).
type Appender interface {
	Append(ctx context.Context, r ledger.Record) error
}

// Config configures a Service.
type Config struct {
	Profiles *profile.Service
	Catalog  *catalog.Catalog
	Router   Router
	Ledger   Appender
	Logger   *slog.Logger
	// AttemptTimeout bounds one non-streaming provider attempt, and a
	// stream attempt's wait for its first event, before failing over; a
	// stream that has started is not bounded. 0 = none.
	AttemptTimeout time.Duration
	// Now is the clock; nil = time.Now.
	Now func() time.Time
	// Tokens counts tokens of a text for requests no provider answers with
	// usage (simulated embeddings). nil = 1 token per 4 bytes.
	Tokens func(string) int64
	// OnRecord, if set, is called with every record after it is durable.
	OnRecord func(ledger.Record)
	// Admitter admits calls (budgets, rate limits); nil admits all.
	Admitter admission.Admitter
	// Tiers returns application profiles' service-tier settings; nil
	// when no profile has any.
	Tiers TierLookup
	// Quotas admits calls against Bedrock-style RPM/TPM quotas before
	// the Admitter; nil: none.
	Quotas admission.TierAdmitter
	// Upstream bounds the calls in flight to each provider route and
	// orders waiting calls by tier; nil: unbounded.
	Upstream admission.Upstream
	// OnAdmission, if set, is called with every record after it is
	// durable, with how long the call waited for admission (quota and
	// upstream queues) and the tier it asked for.
	OnAdmission func(r ledger.Record, tier string, wait time.Duration)
}

// Service is the runtime pipeline. Safe for concurrent use.
type Service struct {
	profiles *profile.Service
	catalog  *catalog.Catalog
	router   Router
	ledger   Appender
	log      *slog.Logger
	timeout  time.Duration
	now      func() time.Time
	tokens   func(string) int64
	onRecord func(ledger.Record)
	admitter admission.Admitter
	tiers    TierLookup
	quotas   admission.TierAdmitter
	upstream admission.Upstream
	onAdmit  func(ledger.Record, string, time.Duration)

	rr       atomic.Uint64
	unpriced atomic.Int64
	keys     invokeKeyCache
}

// NewService returns the pipeline.
func NewService(cfg Config) *Service {
	s := &Service{profiles: cfg.Profiles, catalog: cfg.Catalog, router: cfg.Router, ledger: cfg.Ledger,
		log: cfg.Logger, timeout: cfg.AttemptTimeout, now: cfg.Now, tokens: cfg.Tokens, onRecord: cfg.OnRecord, admitter: cfg.Admitter,
		tiers: cfg.Tiers, quotas: cfg.Quotas, upstream: cfg.Upstream, onAdmit: cfg.OnAdmission}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.tokens == nil {
		s.tokens = func(t string) int64 { return int64(len(t)+3) / 4 }
	}
	return s
}

// UnpricedCalls returns how many calls were recorded without a known price.
func (s *Service) UnpricedCalls() int64 { return s.unpriced.Load() }

// Operation names, as the ledger records them.
const (
	OpConverse       = "Converse"
	OpConverseStream = "ConverseStream"
	OpInvoke         = "InvokeModel"
	OpInvokeStream   = "InvokeModelWithResponseStream"
)

// Caller identifies who makes a call.
type Caller struct {
	RequestID   string
	Account     string
	PrincipalID string
	// ProfileTags, when set, names the application profile by its tags
	// (the X-Tollgate-Profile-Tags header); modelId is then the base model.
	ProfileTags []tags.Filter
	// Authorize, when set, decides whether the caller may perform an
	// action on a resource given its condition keys.
	Authorize func(action, resource string, keys map[string][]string) error
	// ServiceTier is the service tier the request names ("" for none):
	// Converse's serviceTier.type or InvokeModel's
	// X-Amzn-Bedrock-Service-Tier header.
	ServiceTier string
	// OnServed, when set, is called once with the tier serving a
	// streaming call before its first event reaches emit (InvokeModel
	// streams send it as a response header).
	OnServed func(tier string)
}

// call is the state of one runtime call from resolution to its record.
type call struct {
	s        *Service
	caller   Caller
	op       string
	target   Target
	start    time.Time
	firstTok time.Time
	route    Route
	region   string
	attempts int
	ticket   admission.Ticket  // from the admitter, settled by finish
	recorded bool              // finish has run
	tier     string            // the tier asked of the provider
	served   string            // the tier the provider says served the call ("" = tier)
	asked    string            // the tier the call asked for (before a reserved overflow)
	latency  string            // the latency mode the provider says served the call ("" = not said)
	quota    admission.Ticket  // from the quotas, settled by finish
	waited   time.Duration     // time spent waiting for admission
	units    pricing.UnitUsage // per-unit items (images) the call made, priced by finish
	// askedUnits are the images the request asks for: admission's worst
	// case.
	askedUnits pricing.UnitUsage
}

func (s *Service) begin(caller Caller, op, modelID string) (*call, error) {
	var t Target
	var err error
	if len(caller.ProfileTags) > 0 {
		t, err = s.ResolveTagged(caller.Account, modelID, caller.ProfileTags)
	} else {
		t, err = s.Resolve(caller.Account, modelID)
	}
	if err != nil {
		return nil, err
	}
	tier, set := s.requestedTier(caller, t)
	if err := authorizeInvoke(caller, op, t, tier, &s.keys); err != nil {
		return nil, err
	}
	if err := checkTier(tier, set, t); err != nil {
		return nil, err
	}
	return &call{s: s, caller: caller, op: op, target: t, start: s.now(), tier: tier, asked: tier}, nil
}

// servedTier returns the tier that served the call: the provider's word
// when it gave one, else the tier asked for.
func (c *call) servedTier() string {
	if c.served != "" {
		return c.served
	}
	return c.tier
}

// announce passes the served tier to the caller's OnServed once, before
// a stream's first event.
func (c *call) announce() {
	if c.caller.OnServed != nil {
		f := c.caller.OnServed
		c.caller.OnServed = nil
		f(c.servedTier())
	}
}

// authorizeInvoke checks the invoke action as AWS does: on the profile
// (with its tags as aws:ResourceTag keys) and on every foundation-model ARN
// it routes to (with bedrock:InferenceProfileArn naming the profile).
// Every check carries tollgate:ServiceTier, the tier asked for. The keys
// of an application or system profile come from cache (built again when
// the profile's tags or the tier differ).
func authorizeInvoke(caller Caller, op string, t Target, tier string, cache *invokeKeyCache) error {
	if caller.Authorize == nil {
		return nil
	}
	action := "bedrock:InvokeModel"
	if op == OpConverseStream || op == OpInvokeStream {
		action = "bedrock:InvokeModelWithResponseStream"
	}
	if t.ProfileARN == "" {
		return caller.Authorize(action, arn.FoundationModel(t.Regions[0], t.Model.ID), map[string][]string{policy.KeyServiceTier: {tier}})
	}
	k := cache.get(t, tier)
	if err := caller.Authorize(action, t.ProfileARN, k.onProfile); err != nil {
		return err
	}
	for i, region := range t.Regions {
		if err := caller.Authorize(action, t.modelARN(i, region), k.onModels); err != nil {
			return err
		}
	}
	return nil
}

// invokeKeys are the condition keys of a profile's invoke checks for one
// tier: on the profile (its tags as aws:ResourceTag keys) and on its
// models (bedrock:InferenceProfileArn). Read-only once built: the
// authorizer does not modify keys.
type invokeKeys struct {
	tags                tags.Set // the profile's tags they were built from
	tier                string
	onProfile, onModels map[string][]string
}

// newInvokeKeys builds t's keys for tier.
func newInvokeKeys(t Target, tier string) *invokeKeys {
	tierKey := []string{tier}
	onProfile := make(map[string][]string, len(t.Tags)+1)
	vals := make([]string, 0, len(t.Tags)) // one backing array for the tags' values
	for k, v := range t.Tags {
		vals = append(vals, v)
		n := len(vals)
		onProfile[resourceTagKey(k)] = vals[n-1 : n : n]
	}
	onProfile[policy.KeyServiceTier] = tierKey
	onModels := map[string][]string{"bedrock:InferenceProfileArn": {t.ProfileARN}, policy.KeyServiceTier: tierKey}
	return &invokeKeys{tags: t.Tags, tier: tier, onProfile: onProfile, onModels: onModels}
}

// invokeKeyCache holds the invokeKeys of up to maxInvokeKeys profiles,
// one tier each, by profile ARN; past that, keys are built per call.
// Safe for concurrent use; the zero value is empty.
type invokeKeyCache struct {
	m   sync.Map // profile ARN -> *invokeKeys
	len atomic.Int64
}

// maxInvokeKeys bounds an invokeKeyCache (a few hundred bytes each).
const maxInvokeKeys = 16384

// get returns t's keys for tier: cached when they were built from the
// same tags for the same tier, else built (and cached).
func (c *invokeKeyCache) get(t Target, tier string) *invokeKeys {
	if v, ok := c.m.Load(t.ProfileARN); ok {
		if k := v.(*invokeKeys); k.tier == tier && maps.Equal(k.tags, t.Tags) {
			return k
		}
	}
	k := newInvokeKeys(t, tier)
	if _, loaded := c.m.Load(t.ProfileARN); loaded || c.len.Load() < maxInvokeKeys {
		if _, loaded := c.m.Swap(t.ProfileARN, k); !loaded {
			c.len.Add(1)
		}
	}
	return k
}

// modelARN returns the ARN of t's model in region, the i-th of t.Regions:
// the profile's own ARN string when it is that ARN, so that a call does
// not build it again.
func (t Target) modelARN(i int, region string) string {
	if i < len(t.modelARNs) && isFoundationModelARN(t.modelARNs[i], region, t.Model.ID) {
		return t.modelARNs[i]
	}
	return arn.FoundationModel(region, t.Model.ID)
}

// isFoundationModelARN reports whether a == arn.FoundationModel(region, id),
// without building the latter.
func isFoundationModelARN(a, region, id string) bool {
	const head, mid = "arn:aws:bedrock:", "::" + arn.TypeFoundationModel + "/"
	if len(a) != len(head)+len(region)+len(mid)+len(id) {
		return false
	}
	a, ok := strings.CutPrefix(a, head)
	if !ok {
		return false
	}
	if a, ok = strings.CutPrefix(a, region); !ok {
		return false
	}
	if a, ok = strings.CutPrefix(a, mid); !ok {
		return false
	}
	return a == id
}

// resourceTagKeys interns the condition keys "aws:ResourceTag/" + key of
// the tag keys calls have carried, at most maxResourceTagKeys of them, so
// that authorizing a call does not concatenate them again.
var (
	resourceTagKeys    sync.Map // tag key -> condition key
	resourceTagKeysLen atomic.Int64
)

// maxResourceTagKeys bounds resourceTagKeys; keys past it are built per call.
const maxResourceTagKeys = 4096

// resourceTagKey returns "aws:ResourceTag/" + k.
func resourceTagKey(k string) string {
	if v, ok := resourceTagKeys.Load(k); ok {
		return v.(string)
	}
	ck := "aws:ResourceTag/" + k
	if resourceTagKeysLen.Load() < maxResourceTagKeys {
		if _, loaded := resourceTagKeys.LoadOrStore(k, ck); !loaded {
			resourceTagKeysLen.Add(1)
		}
	}
	return ck
}

// regionsInOrder returns the target's regions starting at the next
// round-robin position.
func (c *call) regionsInOrder() []string {
	rs := c.target.Regions
	if len(rs) <= 1 {
		return rs
	}
	start := int(c.s.rr.Add(1) % uint64(len(rs)))
	out := make([]string, 0, len(rs))
	out = append(out, rs[start:]...)
	return append(out, rs[:start]...)
}

// failover reports whether an attempt's error lets the call move on to the
// next region: throttling, an upstream 5xx (Unavailable, or Internal from
// the provider), a connection failure or the attempt timeout.
func failover(err error) bool {
	var nf noFailover
	if errors.As(err, &nf) {
		return false
	}
	if errkind.Is(err, errkind.Throttled) || errkind.Is(err, errkind.Unavailable) || errkind.Is(err, errkind.Internal) {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded)
}

// upstreamRetries is how many times a call above flex that its upstream
// throttled queues again for a slot of the same route.
const upstreamRetries = 2

// gateRefusal marks the gate's own refusal (no slot in time), which is
// not retried on the same route.
type gateRefusal struct{ err error }

func (e gateRefusal) Error() string { return e.err.Error() }
func (e gateRefusal) Unwrap() error { return e.err }

// once runs one attempt of f on route in region: a slot of the upstream
// gate (when there is one) around the provider call.
func (c *call) once(ctx context.Context, f func(ctx context.Context, cl converse.Call, r Route) error, route Route, region string) error {
	c.served = ""
	var slot admission.Slot
	if c.s.upstream != nil {
		var waited time.Duration
		var err error
		slot, waited, err = c.s.upstream.Acquire(ctx, admission.Route{Provider: route.Name, Model: c.target.Model.ID, Region: region},
			c.tier, c.target.ProfileID)
		c.waited += waited
		if err != nil {
			return gateRefusal{err}
		}
	}
	c.attempts++
	cl := converse.Call{RequestID: c.caller.RequestID, ModelID: c.target.Model.ID, Region: region, Upstream: route.Upstream,
		ServiceTier: c.tier, OnServed: c.onServed, OnLatency: c.onLatency}
	err := f(ctx, cl, route)
	if slot != nil {
		slot.Release(errkind.Is(err, errkind.Throttled))
	}
	return err
}

// attempt runs f against each region in turn until one succeeds or fails
// with an error that does not allow failover.
func (c *call) attempt(ctx context.Context, f func(ctx context.Context, cl converse.Call, r Route) error) error {
	var last error
	regions := c.regionsInOrder()
	for i, region := range regions {
		route, ok := c.s.router(c.target.Model, region)
		if !ok {
			last = errkind.New(errkind.Unavailable, "No provider serves %s in %s.", c.target.Model.ID, region)
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.route, c.region = route, region
		var err error
		for retry := 0; ; retry++ {
			err = c.once(ctx, f, route, region)
			// An upstream that throttles a call the gate admitted has
			// less room than the gate thought (its limit has backed off
			// now): in the last region to try, calls above flex queue
			// again for a slot, twice at most, rather than pass the 429
			// on. Elsewhere they fail over.
			if err == nil || c.s.upstream == nil || retry == upstreamRetries || c.tier == "flex" || i < len(regions)-1 ||
				!errkind.Is(err, errkind.Throttled) || !failover(err) || ctx.Err() != nil || errors.As(err, new(gateRefusal)) {
				break
			}
		}
		if err == nil {
			return nil
		}
		last = err
		if !failover(err) || ctx.Err() != nil {
			return err
		}
		c.s.log.Warn("provider_failover", "request_id", c.caller.RequestID, "region", region, "provider", route.Name, "err", err.Error())
	}
	if last == nil {
		last = errkind.New(errkind.Unavailable, "No region is available for %s.", c.target.Model.ID)
	}
	if errors.Is(last, context.DeadlineExceeded) {
		last = errkind.Wrap(errkind.Unavailable, last, "The model did not answer in time.")
	}
	return last
}

func (c *call) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.s.timeout > 0 {
		return context.WithTimeout(ctx, c.s.timeout)
	}
	return ctx, func() {}
}

// firstEvent bounds a stream attempt's wait for its first event by the
// attempt timeout. Once the first event has come the stream runs to its
// end: past that point it can no longer fail over.
type firstEvent struct {
	timer   *time.Timer // nil without an attempt timeout
	expired atomic.Bool // the timeout ran out before the first event
	started bool        // an event came (set by the emitting goroutine)
}

// streamAttempt returns the context of one stream attempt and its
// first-event bound; stop releases both.
func (c *call) streamAttempt(ctx context.Context) (actx context.Context, fe *firstEvent, stop func()) {
	actx, cancel := context.WithCancel(ctx)
	fe = &firstEvent{}
	if c.s.timeout > 0 {
		fe.timer = time.AfterFunc(c.s.timeout, func() {
			fe.expired.Store(true)
			cancel()
		})
	}
	return actx, fe, func() {
		if fe.timer != nil {
			fe.timer.Stop()
		}
		cancel()
	}
}

// event is called with each event of the attempt before it goes
// anywhere; it returns an error, and the event must be dropped, when the
// timeout ran out first.
func (fe *firstEvent) event() error {
	if !fe.started {
		fe.started = true
		if fe.timer != nil && !fe.timer.Stop() {
			fe.expired.Store(true)
		}
	}
	if fe.expired.Load() {
		return context.DeadlineExceeded
	}
	return nil
}

// err returns the attempt's error: a timeout that fails over when the
// attempt produced no event in time, else err as is.
func (fe *firstEvent) err(err error) error {
	var nf noFailover
	if err == nil || !fe.expired.Load() || errors.As(err, &nf) {
		return err
	}
	return errkind.Wrap(errkind.Unavailable, context.DeadlineExceeded, "The model did not answer in time.")
}

// finish prices the usage and appends the call's record durably. It runs
// without the request's cancellation: a call the client abandoned is still
// recorded and billed for what it consumed.
func (c *call) finish(ctx context.Context, u converse.Usage, callErr error) error {
	c.recorded = true
	end := c.s.now()
	out, code := ledger.OutcomeOf(callErr)
	r := ledger.Record{
		RequestID:        c.caller.RequestID,
		Time:             c.start.UTC().Truncate(time.Millisecond),
		Account:          c.caller.Account,
		Region:           c.s.profiles.Region(),
		PrincipalID:      c.caller.PrincipalID,
		ProfileARN:       c.target.ProfileARN,
		ProfileID:        c.target.ProfileID,
		ModelID:          c.target.Model.ID,
		Provider:         c.route.Name,
		Operation:        c.op,
		InputTokens:      u.InputTokens,
		OutputTokens:     u.OutputTokens,
		CacheReadTokens:  u.CacheReadInputTokens,
		CacheWriteTokens: u.CacheWriteInputTokens,
		LatencyMs:        end.Sub(c.start).Milliseconds(),
		Attempts:         c.attempts,
		Outcome:          out,
		ErrorCode:        code,
		Tags:             c.target.Tags,
	}
	if c.attempts > 0 {
		r.RegionServed = c.region
		r.ServiceTier = c.servedTier()
		// Latency-optimized inference is priced only when the response
		// says it served the call: Bedrock serves (and bills) Standard
		// once the optimized capacity is used up.
		r.LatencyOptimized = c.latency == converse.LatencyOptimized
	}
	if !c.firstTok.IsZero() {
		r.TTFTMs = c.firstTok.Sub(c.start).Milliseconds()
	}
	c.price(&r, u)
	if !r.Priced {
		c.s.unpriced.Add(1)
		c.s.log.Warn("usage_unpriced", "request_id", r.RequestID, "model", r.ModelID, "time", r.Time)
	}
	if c.quota != nil {
		c.quota.Done(r) // the tokens were used, recorded or not
	}
	if err := c.s.ledger.Append(context.WithoutCancel(ctx), r); err != nil {
		c.s.log.Error("ledger_append_failed", "request_id", r.RequestID, "err", err.Error())
		if c.ticket != nil {
			c.ticket.Done(r) // the cost was incurred all the same
		}
		return errkind.Wrap(errkind.Internal, err, "The usage of this call could not be recorded.")
	}
	if c.ticket != nil {
		c.ticket.Done(r)
	}
	if c.s.onRecord != nil {
		c.s.onRecord(r)
	}
	if c.s.onAdmit != nil {
		c.s.onAdmit(r, c.asked, c.waited)
	}
	return nil
}

// Converse runs a non-streaming Converse call through modelID.
func (s *Service) Converse(ctx context.Context, caller Caller, modelID string, req *converse.Request) (*converse.Response, error) {
	c, err := s.begin(caller, OpConverse, modelID)
	if err != nil {
		return nil, err
	}
	if c.target.Model.GeneratesImages() {
		return nil, errImageConverse()
	}
	if err := c.admit(ctx, req.Raw, maxTokensOf(req)); err != nil {
		return nil, c.reject(ctx, err)
	}
	defer c.settlePanic(ctx, nil)
	var resp *converse.Response
	err = c.attempt(ctx, func(ctx context.Context, cl converse.Call, r Route) error {
		actx, cancel := c.withTimeout(ctx)
		defer cancel()
		var err error
		resp, err = r.Provider.Converse(actx, cl, req)
		return err
	})
	var u converse.Usage
	if err == nil {
		u = resp.Usage
		resp.Metrics.LatencyMs = s.now().Sub(c.start).Milliseconds()
		if t := resp.ServiceTier.Tier(); t != "" {
			c.served = t
		}
		c.onLatency(converse.LatencyOf(resp.PerformanceConfig))
		resp.ServiceTier = &converse.ServiceTier{Type: c.servedTier()}
	}
	if ferr := c.finish(ctx, u, err); ferr != nil && err == nil {
		return nil, ferr
	}
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// ConverseStream runs a streaming Converse call, passing events to emit.
// The final metadata event is held back until the call's record is
// durable, so a client that received the whole stream is always billed.
// An error returned before any emit is an ordinary error response; after
// that the caller writes it into the stream.
func (s *Service) ConverseStream(ctx context.Context, caller Caller, modelID string, req *converse.Request, emit func(converse.StreamEvent) error) error {
	c, err := s.begin(caller, OpConverseStream, modelID)
	if err != nil {
		return err
	}
	if c.target.Model.GeneratesImages() {
		return errImageConverse()
	}
	if err := c.admit(ctx, req.Raw, maxTokensOf(req)); err != nil {
		return c.reject(ctx, err)
	}
	var (
		usage    converse.Usage
		emitted  bool
		metadata *converse.MetadataEvent
		emitErr  error
		fe       *firstEvent // the current attempt's
	)
	defer c.settlePanic(ctx, &usage)
	wrapped := func(ev converse.StreamEvent) error {
		if err := fe.event(); err != nil {
			return err
		}
		if ev.Metadata != nil {
			m := *ev.Metadata
			metadata = &m
			if t := m.ServiceTier.Tier(); t != "" {
				c.served = t
			}
			c.onLatency(converse.LatencyOf(m.PerformanceConfig))
			return nil
		}
		if ev.ContentBlockDelta != nil && c.firstTok.IsZero() {
			c.firstTok = s.now()
		}
		c.announce()
		emitted = true
		if err := emit(ev); err != nil {
			emitErr = err
			return err
		}
		return nil
	}
	err = c.attempt(ctx, func(ctx context.Context, cl converse.Call, r Route) error {
		actx, afe, stop := c.streamAttempt(ctx)
		defer stop()
		fe = afe
		var err error
		usage, err = r.Provider.ConverseStream(actx, cl, req, wrapped)
		err = fe.err(err)
		if err != nil && emitted {
			// Past the first event there is no failover: the client has
			// part of this region's answer.
			return noFailover{err}
		}
		return err
	})
	err = unwrapNoFailover(err)
	if emitErr != nil && err == nil {
		err = emitErr
	}
	if emitErr != nil && !errors.Is(err, context.Canceled) {
		err = errors.Join(context.Canceled, err) // the client went away
	}
	if ferr := c.finish(ctx, usage, err); ferr != nil && err == nil {
		return ferr
	}
	if err != nil {
		return err
	}
	if metadata == nil {
		metadata = &converse.MetadataEvent{Usage: usage}
	}
	metadata.Metrics.LatencyMs = s.now().Sub(c.start).Milliseconds()
	metadata.ServiceTier = &converse.ServiceTier{Type: c.servedTier()}
	c.announce()
	return emit(converse.StreamEvent{Metadata: metadata})
}

// noFailover marks an error after which the call must not move on.
type noFailover struct{ err error }

func (e noFailover) Error() string { return e.err.Error() }
func (e noFailover) Unwrap() error { return e.err }

func unwrapNoFailover(err error) error {
	var nf noFailover
	if errors.As(err, &nf) {
		return nf.err
	}
	return err
}

// settlePanic, deferred by every operation once its call is admitted,
// records a call that panicked (a bug in a provider or in the code
// writing to the client) with the usage known so far (u may be nil), so
// that its reservation is released and its cost counted, then panics on.
func (c *call) settlePanic(ctx context.Context, u *converse.Usage) {
	if c.recorded {
		return // the panic, if any, came after the record: nothing is held
	}
	v := recover()
	if v == nil {
		return
	}
	var usage converse.Usage
	if u != nil {
		usage = *u
	}
	_ = c.finish(ctx, usage, errkind.New(errkind.Internal, "internal error"))
	panic(v)
}

// reject records a call the admitter refused (no tokens, no cost) and
// returns the refusal.
func (c *call) reject(ctx context.Context, err error) error {
	_ = c.finish(ctx, converse.Usage{}, err)
	return err
}
