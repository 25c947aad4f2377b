package sim

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// ErrInjected is the cause wrapped by every error a [Fault] injects, so
// tests and logs can tell injected failures from real ones.
var ErrInjected = errors.New("sim: injected fault")

// Config configures a simulator. The zero value answers at once and never
// fails.
type Config struct {
	// Latency is slept before the response of Converse and before the
	// first event of ConverseStream. Default 0.
	Latency time.Duration
	// TimeToFirstToken is slept before the first content delta of
	// ConverseStream, after Latency; Converse sleeps it too, so both take
	// equally long. Default 0.
	TimeToFirstToken time.Duration
	// TokensPerSecond paces output: a content delta carrying k output
	// tokens is preceded by a sleep of k/TokensPerSecond seconds, and
	// Converse sleeps for all its output tokens at once. Default 0:
	// unlimited, no sleeping at all.
	TokensPerSecond float64
	// Faults are the failures to inject, in order of precedence. Default
	// none.
	Faults []Fault
	// Capacity is the most calls the simulator serves at once, like a
	// model endpoint of fixed capacity: a call arriving when Capacity
	// calls are in progress fails at once with a ThrottlingException
	// ("Too many requests, please wait before trying again."). Default 0:
	// unlimited.
	Capacity int
	// Now returns the current time; latencyMs is measured with it.
	// Default time.Now.
	Now func() time.Time
	// Sleep waits for d, or returns ctx.Err() as soon as ctx is done.
	// Default: a real timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Fault makes calls fail on a schedule. Each Fault counts, 1-based, the
// calls that match its Regions and Models (and, when MidStream is set,
// that are streams) across everything the Provider serves, and fires on
// calls After+1, After+1+Every, After+1+2*Every, and so on.
type Fault struct {
	// Every is the period of the schedule; values below 1 mean 1 (every
	// call from After+1 on).
	Every int
	// After is how many matching calls succeed before the first failure.
	// Default 0: the first matching call fails.
	After int
	// Kind is the kind of the injected error: errkind.Throttled,
	// errkind.Unavailable, errkind.Invalid or errkind.Internal (the zero
	// value).
	Kind errkind.Kind
	// Message is the client-safe message of the error. Default: a
	// Bedrock-like message for the Kind, such as "Too many requests,
	// please wait before trying again." for errkind.Throttled.
	Message string
	// Regions restricts the fault to calls routed to these regions.
	// Default empty: all regions.
	Regions []string
	// Models restricts the fault to calls for these foundation-model ids.
	// Default empty: all models.
	Models []string
	// MidStream makes the fault apply to ConverseStream calls only and
	// fire after the stream has emitted messageStart and MidStreamAfter
	// content deltas; ConverseStream then returns the error with the
	// partial usage. Default false: the call fails before any event.
	MidStream bool
	// MidStreamAfter is how many content deltas a MidStream fault lets
	// through. Default 0.
	MidStreamAfter int
}

// defaultMessages are the messages of faults that set none.
var defaultMessages = map[errkind.Kind]string{
	errkind.Throttled:   "Too many requests, please wait before trying again.",
	errkind.Unavailable: "The service is temporarily unable to handle the request. Try your request again later.",
	errkind.Invalid:     "The model rejected the request.",
	errkind.Internal:    "The system encountered an unexpected error during processing. Try your request again.",
}

// Validate reports the first setting of c that New would have to correct,
// as an errkind.Invalid error.
func (c Config) Validate() error {
	switch {
	case c.Latency < 0:
		return errkind.New(errkind.Invalid, "sim: latency must not be negative")
	case c.TimeToFirstToken < 0:
		return errkind.New(errkind.Invalid, "sim: time to first token must not be negative")
	case math.IsNaN(c.TokensPerSecond) || math.IsInf(c.TokensPerSecond, 0) || c.TokensPerSecond < 0:
		return errkind.New(errkind.Invalid, "sim: tokens per second must be a finite number, 0 or more")
	case c.Capacity < 0:
		return errkind.New(errkind.Invalid, "sim: capacity must not be negative")
	}
	for i, f := range c.Faults {
		switch {
		case f.Every < 0 || f.After < 0 || f.MidStreamAfter < 0:
			return errkind.New(errkind.Invalid, "sim: fault %d: every, after and midStreamAfter must not be negative", i)
		case defaultMessages[f.Kind] == "":
			return errkind.New(errkind.Invalid, "sim: fault %d: kind %s is not throttled, unavailable, invalid or internal", i, f.Kind)
		}
	}
	return nil
}

// Provider is the simulated model backend. It is safe for concurrent use.
type Provider struct {
	cfg        Config
	calls      atomic.Int64
	inFlight   atomic.Int64   // calls in progress, against Capacity
	refused    atomic.Int64   // calls refused for Capacity
	faultCalls []atomic.Int64 // per fault, the matching calls seen
	cache      *prefixCache
}

// New returns a simulator configured by cfg. It does not fail: negative
// durations act as 0, a TokensPerSecond that is not a positive number
// means unlimited, and faults get the defaults Fault documents. Use
// Config.Validate to reject such settings instead.
func New(cfg Config) *Provider {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	cfg.Faults = slices.Clone(cfg.Faults)
	for i := range cfg.Faults {
		f := &cfg.Faults[i]
		f.Every = max(f.Every, 1)
		f.After = max(f.After, 0)
		f.MidStreamAfter = max(f.MidStreamAfter, 0)
		if f.Message == "" {
			f.Message = defaultMessages[f.Kind]
			if f.Message == "" {
				f.Message = "Simulated fault."
			}
		}
		f.Regions = slices.Clone(f.Regions)
		f.Models = slices.Clone(f.Models)
	}
	return &Provider{
		cfg:        cfg,
		faultCalls: make([]atomic.Int64, len(cfg.Faults)),
		cache:      newPrefixCache(),
	}
}

// Calls returns how many Converse and ConverseStream calls the Provider has
// seen, whatever their outcome.
func (p *Provider) Calls() int64 { return p.calls.Load() }

// OverCapacity returns how many calls were refused because Capacity calls
// were in progress.
func (p *Provider) OverCapacity() int64 { return p.refused.Load() }

// enter counts a call in against Capacity; done must be called when it
// ends. It fails with a ThrottlingException when the simulator is full.
func (p *Provider) enter() (done func(), err error) {
	if p.cfg.Capacity <= 0 {
		return func() {}, nil
	}
	if p.inFlight.Add(1) > int64(p.cfg.Capacity) {
		p.inFlight.Add(-1)
		p.refused.Add(1)
		return nil, errkind.Wrap(errkind.Throttled, ErrInjected, "%s", defaultMessages[errkind.Throttled])
	}
	return func() { p.inFlight.Add(-1) }, nil
}

// Converse answers one non-streaming call following the rules of the
// package documentation. Errors are *errkind.Error values (Invalid for a
// request Bedrock would reject, or an injected fault's Kind), or ctx's
// error as is.
func (p *Provider) Converse(ctx context.Context, call converse.Call, req *converse.Request) (*converse.Response, error) {
	start := p.cfg.Now()
	p.calls.Add(1)
	if f, _ := p.faults(call, false); f != nil {
		return nil, f.err()
	}
	done, err := p.enter()
	if err != nil {
		return nil, err
	}
	defer done()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	g, err := p.generate(call, req)
	if err != nil {
		return nil, err
	}
	wait := p.cfg.Latency + p.cfg.TimeToFirstToken + p.pace(g.outputTokens())
	if err := p.pause(ctx, wait); err != nil {
		return nil, err
	}

	// The response and everything it points to, in one allocation.
	o := &converseReply{text: g.text}
	content := o.content[:1]
	content[0].Text = &o.text
	if g.tool != nil {
		content = append(content, converse.ContentBlock{ToolUse: g.tool})
	}
	o.resp = converse.Response{
		StopReason: g.stopReason,
		Usage:      g.usage(g.outputTokens()),
		Metrics:    converse.Metrics{LatencyMs: p.cfg.Now().Sub(start).Milliseconds()},
	}
	if call.ServiceTier != "" {
		// The simulator serves every tier it is asked for.
		o.tier = converse.ServiceTier{Type: call.ServiceTier}
		o.resp.ServiceTier = &o.tier
	}
	o.msg = converse.Message{Role: "assistant", Content: content}
	o.resp.Output.Message = &o.msg
	return &o.resp, nil
}

// converseReply holds a Converse response with the values it points to.
type converseReply struct {
	resp    converse.Response
	msg     converse.Message
	tier    converse.ServiceTier
	text    string
	content [2]converse.ContentBlock
}

// ConverseStream answers one streaming call, passing the events the
// package documentation lists to emit. It returns the final usage, or the
// usage so far with the error that stopped it: emit's error, ctx's error
// as is, or an injected mid-stream fault. Validation errors, injected
// up-front faults and a context already done when the call starts come
// before any event and with a zero Usage.
func (p *Provider) ConverseStream(ctx context.Context, call converse.Call, req *converse.Request, emit func(converse.StreamEvent) error) (converse.Usage, error) {
	start := p.cfg.Now()
	p.calls.Add(1)
	pre, mid := p.faults(call, true)
	if pre != nil {
		return converse.Usage{}, pre.err()
	}
	done, err := p.enter()
	if err != nil {
		return converse.Usage{}, err
	}
	defer done()
	if err := ctx.Err(); err != nil {
		return converse.Usage{}, err
	}
	g, err := p.generate(call, req)
	if err != nil {
		return converse.Usage{}, err
	}
	s := &stream{p: p, ctx: ctx, emit: emit, g: &g, mid: mid, tier: call.ServiceTier}
	err = s.run(start)
	return g.usage(s.out), err
}

// generation is a reply with the input usage of its request.
type generation struct {
	reply
	input, cacheRead, cacheWrite int64
	cacheTTL                     string // the TTL of the cache write ("" = 5 minutes)
}

// usage is the usage of the generation once out output tokens are out.
func (g *generation) usage(out int64) converse.Usage {
	return converse.Usage{
		InputTokens:           g.input,
		OutputTokens:          out,
		TotalTokens:           g.input + out + g.cacheRead + g.cacheWrite,
		CacheReadInputTokens:  g.cacheRead,
		CacheWriteInputTokens: g.cacheWrite,
		CacheDetails:          g.cacheDetails(),
	}
}

// cacheDetails splits the cache write by TTL as Bedrock reports it.
func (g *generation) cacheDetails() converse.CacheDetails {
	if g.cacheTTL == "1h" {
		return converse.CacheDetails{OneHour: g.cacheWrite}
	}
	return converse.CacheDetails{FiveMinutes: g.cacheWrite}
}

// generate validates req, counts its input and makes the reply.
func (p *Provider) generate(call converse.Call, req *converse.Request) (generation, error) {
	choice, err := validate(req)
	if err != nil {
		return generation{}, err
	}
	pr := readPrompt(req)
	r, err := makeReply(req, choice, pr.hash)
	if err != nil {
		return generation{}, err
	}
	g := generation{reply: r, input: pr.tokens}
	if pr.cached && pr.prefixTokens > 0 {
		g.input -= pr.prefixTokens
		if p.cache.seen(cacheKey{model: call.ModelID, hash: pr.prefixHash}) {
			g.cacheRead = pr.prefixTokens
		} else {
			g.cacheWrite, g.cacheTTL = pr.prefixTokens, pr.prefixTTL
		}
	}
	return g, nil
}

// faults counts call against every fault it matches and returns the
// first firing fault that fails the call up front, and the first firing
// MidStream fault (only when stream is set).
func (p *Provider) faults(call converse.Call, stream bool) (pre, mid *Fault) {
	for i := range p.cfg.Faults {
		f := &p.cfg.Faults[i]
		if f.MidStream && !stream || !matches(f.Regions, call.Region) || !matches(f.Models, call.ModelID) {
			continue
		}
		n := p.faultCalls[i].Add(1)
		if n <= int64(f.After) || (n-int64(f.After)-1)%int64(f.Every) != 0 {
			continue
		}
		switch {
		case !f.MidStream && pre == nil:
			pre = f
		case f.MidStream && mid == nil:
			mid = f
		}
	}
	return pre, mid
}

func matches(allowed []string, v string) bool {
	return len(allowed) == 0 || slices.Contains(allowed, v)
}

// err is the error the fault injects.
func (f *Fault) err() error {
	return errkind.Wrap(f.Kind, ErrInjected, "%s", f.Message)
}

// pace is how long k output tokens take to generate.
func (p *Provider) pace(k int64) time.Duration {
	tps := p.cfg.TokensPerSecond
	if !(tps > 0) || k <= 0 {
		return 0
	}
	return time.Duration(float64(k) * float64(time.Second) / tps)
}

// pause sleeps for d, or only checks ctx when there is nothing to sleep.
func (p *Provider) pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	return p.cfg.Sleep(ctx, d)
}

// sleep is the default Config.Sleep.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
