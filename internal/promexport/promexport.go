// Package promexport registers Tollgate's Prometheus metrics on an
// injected registry: API requests by service and operation, model calls,
// latency and time-to-first-token histograms, tokens, cost, throttles and
// errors by account, profile id and model, budget spend and remaining
// (through a hook the budget service fills), and alarm states.
//
// Label values are bounded: services and operations are Tollgate's own
// names (at most MaxOperations pairs, the rest counted as "other"),
// outcomes and error codes come from fixed lists, accounts are created by
// an administrator and models come from the catalogue. Profile ids are
// bounded by Options.MaxProfiles, a cardinality limit after
// OpenTelemetry's: the first MaxProfiles application profiles seen get
// series of their own, the calls of any other are counted in one series
// per account and model labelled profile="__overflow__" (OverflowProfile),
// so the exporter's memory does not grow with the number of profiles.
// Tag values are free-form, so a tag becomes a label (tag_<key>) only
// when the operator lists its key in Options.TagLabels, and the overflow
// series leave it empty.
package promexport

import (
	"encoding/binary"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
)

// AlarmStatus is an alarm's current state, for the alarm gauges.
type AlarmStatus struct {
	Account string
	Name    string
	State   string // OK, ALARM or INSUFFICIENT_DATA
}

// BudgetStatus is a budget's spend in its current period.
type BudgetStatus struct {
	Account string
	Name    string
	Limit   money.Amount
	Spent   money.Amount
}

// EnforcementStatus is a budget action's enforcement state.
type EnforcementStatus struct {
	Account, Budget, ActionID, Type string
	// Shadow marks a shadow (MANUAL) action; Engaged says it is enforcing
	// (a shadow: would be).
	Shadow, Engaged bool
	// Refusals counts the calls the action refused (a shadow: would
	// have) on this replica since it started.
	Refusals uint64
}

// Options configures an Exporter.
type Options struct {
	// TagLabels are the tag keys that become labels on the model-call
	// counters, as tag_<key> (other characters than letters, digits and
	// "_" become "_"). Default none.
	TagLabels []string
	// MaxOperations bounds the distinct (service, operation) label pairs
	// of the request metrics. Default 256.
	MaxOperations int
	// MaxProfiles bounds the application profiles with series of their
	// own in the model-call metrics: the first MaxProfiles distinct
	// (account, profile id) pairs seen since start keep theirs for good
	// (counters never reset); the calls of any other profile are counted
	// under profile OverflowProfile, per account and model, with empty
	// tag labels. Direct model calls (no profile) are not counted against
	// it. 0 means no bound (the configuration's default is 2,000).
	MaxProfiles int
	// Logger gets one warning the first time a profile's calls go to the
	// overflow series. Default none.
	Logger *slog.Logger
	// Alarms, when set, is read at each scrape for the alarm gauges.
	Alarms func() []AlarmStatus
	// Budgets, when set, is read at each scrape for the budget gauges
	// (the hook the budget service fills).
	Budgets func() []BudgetStatus
	// Enforcements, when set, is read at each scrape for the budget
	// actions' enforcement gauge and refusal counters.
	Enforcements func() []EnforcementStatus
	// Outbox, when set, is read at each scrape for the notification
	// outbox's counters and backlog.
	Outbox func() OutboxStatus
	// ProfileName, when set, names an application profile (account, id)
	// for the cost counter's profile_name label ("" when unknown).
	ProfileName func(account, id string) string
}

// OutboxStatus is the notification outbox's counts since start and its
// backlog at the last delivery pass.
type OutboxStatus struct {
	Enqueued, Delivered, Retried, Dead uint64
	Due                                int64
}

// Exporter updates the metrics. Safe for concurrent use.
type Exporter struct {
	tagKeys []string

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	calls    *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	ttft     *prometheus.HistogramVec
	tokens   *prometheus.CounterVec
	cost     *prometheus.CounterVec
	nanoCost *prometheus.CounterVec
	name     func(account, id string) string
	throttle *prometheus.CounterVec
	errors   *prometheus.CounterVec
	unpriced *prometheus.CounterVec

	opsMu  sync.Mutex
	ops    map[[2]string]*opSeries
	maxOps int

	// profiles are the (account, profile id) pairs with series of their
	// own, at most maxProfiles of them (0: no bound).
	profMu      sync.RWMutex
	profiles    map[[2]string]struct{}
	maxProfiles int
	overflowed  atomic.Uint64 // calls counted under OverflowProfile
	warned      atomic.Bool
	log         *slog.Logger

	// hot caches the series of successful calls by their labels (see
	// observeSuccess); at most maxHot entries.
	hotMu     sync.RWMutex
	hot       map[string]*hotSeries
	hotMisses atomic.Uint64 // label sets met while the cache was full
}

// maxHot bounds the series cache of successful calls, so that it holds at
// most this many entries (a few hundred bytes each) whatever the number of
// profiles. When it is full, a label set not in it is counted through the
// vectors, and one such call in hotTurnover replaces an arbitrary entry:
// with more busy label sets than the cache holds, a call costs what it
// did without the cache, and the cache still follows the busiest ones.
const (
	maxHot      = 4096
	hotTurnover = 64
)

// hotSeries is the series a successful call of one account, profile,
// model and tag values updates, resolved once. It is never modified once
// in the cache: a series found missing (tokens of a kind first seen, the
// first priced call, a renamed profile) is added to a copy that replaces
// it. A nil series has not been resolved yet; it is created only when a
// call updates it, as the vectors would.
type hotSeries struct {
	profile  string // the profile label: the id, or OverflowProfile
	calls    prometheus.Counter
	latency  prometheus.Observer
	ttft     prometheus.Observer
	tokens   [4]prometheus.Counter // input, output, cache_read, cache_write
	cost     prometheus.Counter
	name     string // the profile name nanoCost is labelled with
	nanoCost prometheus.Counter
}

// OverflowProfile is the profile label (and profile_name) of the series
// counting the calls of the profiles past Options.MaxProfiles. A profile
// id is 12 lower-case letters and digits, so it never clashes.
const OverflowProfile = "__overflow__"

// tokenTypes are the token kinds of hotSeries.tokens, in order.
var tokenTypes = [4]string{"input", "output", "cache_read", "cache_write"}

// latencyBuckets span 5 ms to 2 minutes, for model calls.
var latencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 30, 60, 120}

// New registers the metrics on reg.
func New(reg prometheus.Registerer, opts Options) (*Exporter, error) {
	e := &Exporter{maxOps: opts.MaxOperations, ops: map[[2]string]*opSeries{}, name: opts.ProfileName, hot: map[string]*hotSeries{},
		maxProfiles: max(opts.MaxProfiles, 0), profiles: map[[2]string]struct{}{}, log: opts.Logger}
	if e.maxOps <= 0 {
		e.maxOps = 256
	}
	var tagLabels []string
	seen := map[string]bool{}
	for _, k := range opts.TagLabels {
		l := "tag_" + sanitize(k)
		if k == "" || seen[l] {
			continue
		}
		seen[l] = true
		e.tagKeys = append(e.tagKeys, k)
		tagLabels = append(tagLabels, l)
	}
	call := []string{"account", "profile", "model"}
	withTags := func(ls ...string) []string { return append(append(append([]string{}, call...), ls...), tagLabels...) }
	e.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_http_requests_total",
		Help: "API requests by service, operation and HTTP status code."}, []string{"service", "operation", "code"})
	e.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tollgate_http_request_duration_seconds",
		Help: "API request duration by service and operation.", Buckets: latencyBuckets}, []string{"service", "operation"})
	e.calls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_model_invocations_total",
		Help: "Model calls by account, inference profile id (empty for direct calls), model and outcome (success, client_error, server_error, throttled, cancelled)."},
		withTags("outcome"))
	e.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tollgate_model_invocation_latency_seconds",
		Help: "Model call latency, to the last token, of calls that were not throttled.", Buckets: latencyBuckets}, call)
	e.ttft = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tollgate_model_time_to_first_token_seconds",
		Help: "Time to first token of successful streaming calls.", Buckets: latencyBuckets}, call)
	e.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_model_tokens_total",
		Help: "Tokens by type (input, output, cache_read, cache_write)."}, withTags("type"))
	e.cost = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_model_cost_usd_total",
		Help: "Cost of model calls in USD (priced calls)."}, withTags())
	// The exact cost counter: integer nano-dollars (1e-9 USD) as the
	// counter's value. A float64 holds every integer up to 2^53 exactly,
	// so a series stays exact up to about $9,007,199 (then it keeps
	// counting, rounded to the float's precision).
	e.nanoCost = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_cost_nanodollars_total",
		Help: "Exact cost of priced model calls in nano-dollars (1e-9 USD), by account, profile id and name, model and the allow-listed tags."},
		append([]string{"account", "profile", "profile_name", "model"}, tagLabels...))
	e.throttle = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_model_throttles_total",
		Help: "Model calls refused with ThrottlingException."}, call)
	e.errors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_model_errors_total",
		Help: "Failed model calls by AWS error code."}, append(append([]string{}, call...), "code"))
	e.unpriced = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_model_unpriced_calls_total",
		Help: "Model calls recorded without a known price (no cost billed: fix the catalogue)."}, call)
	cs := []prometheus.Collector{e.requests, e.duration, e.calls, e.latency, e.ttft, e.tokens, e.cost, e.nanoCost, e.throttle, e.errors, e.unpriced, e.limitCollector()}
	if opts.Alarms != nil {
		cs = append(cs, alarmCollector(opts.Alarms))
	}
	if opts.Budgets != nil {
		cs = append(cs, budgetCollector(opts.Budgets))
	}
	if opts.Enforcements != nil {
		cs = append(cs, enforcementCollector(opts.Enforcements))
	}
	if opts.Outbox != nil {
		cs = append(cs, outboxCollector(opts.Outbox))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// ObserveRequest counts one API request. service and op are what served
// it ("" when nothing did, before routing or authentication).
func (e *Exporter) ObserveRequest(service, op string, status int, d time.Duration) {
	if service == "" {
		service, op = "none", "none"
	}
	e.opsMu.Lock()
	s := e.ops[[2]string{service, op}]
	if s == nil {
		if len(e.ops) >= e.maxOps {
			op = "other"
		} else {
			s = &opSeries{duration: e.duration.WithLabelValues(service, op), codes: map[int]prometheus.Counter{}}
			e.ops[[2]string{service, op}] = s
		}
	}
	var requests prometheus.Counter
	if s != nil {
		if requests = s.codes[status]; requests == nil {
			requests = e.requests.WithLabelValues(service, op, statusLabel(status))
			s.codes[status] = requests
		}
	}
	e.opsMu.Unlock()
	if s == nil { // past maxOps: "other", through the vectors
		e.requests.WithLabelValues(service, op, statusLabel(status)).Inc()
		e.duration.WithLabelValues(service, op).Observe(d.Seconds())
		return
	}
	requests.Inc()
	s.duration.Observe(d.Seconds())
}

// opSeries are the request series of one service and operation, resolved
// once: its duration and its counter by status code.
type opSeries struct {
	duration prometheus.Observer
	codes    map[int]prometheus.Counter // guarded by Exporter.opsMu
}

// statusLabels are the decimal forms of the HTTP status codes, so that a
// request's status label does not allocate.
var statusLabels = func() (out [600]string) {
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}()

// statusLabel returns status in decimal.
func statusLabel(status int) string {
	if status >= 0 && status < len(statusLabels) {
		return statusLabels[status]
	}
	return strconv.Itoa(status)
}

// ObserveRecord counts one durable usage record: as many calls (and
// throttles, errors, unpriced calls) as it stands for
// (ledger.Record.CallCount), one latency observation.
func (e *Exporter) ObserveRecord(r ledger.Record) {
	if r.Outcome == ledger.OutcomeSuccess && r.ErrorCode == "" {
		e.observeSuccess(r)
		return
	}
	e.observe(r)
}

// observeSuccess is ObserveRecord for a successful call, through the
// series cache: one map lookup under a read lock instead of a hash of
// every label set in each vector.
func (e *Exporter) observeSuccess(r ledger.Record) {
	var keyBuf [256]byte
	key := binary.AppendUvarint(keyBuf[:0], uint64(len(r.Account)))
	key = append(key, r.Account...)
	key = binary.AppendUvarint(key, uint64(len(r.ProfileID)))
	key = append(key, r.ProfileID...)
	key = binary.AppendUvarint(key, uint64(len(r.ModelID)))
	key = append(key, r.ModelID...)
	for _, k := range e.tagKeys {
		v := r.Tags[k]
		key = binary.AppendUvarint(key, uint64(len(v)))
		key = append(key, v...)
	}
	tokens := [4]int64{r.InputTokens, r.OutputTokens, r.CacheReadTokens, r.CacheWriteAll()}
	priced := r.Priced && r.Cost > 0
	e.hotMu.RLock()
	h := e.hot[string(key)]
	e.hotMu.RUnlock()
	if h == nil && !e.admit() {
		e.observe(r)
		return
	}
	name := ""
	if priced && e.name != nil && r.ProfileID != "" && (h == nil || h.profile != OverflowProfile) {
		name = e.name(r.Account, r.ProfileID)
	}
	if h == nil || !h.covers(r, tokens, priced, name) {
		h = e.resolveHot(string(key), h, r, tokens, priced, name)
	}
	if h.profile == OverflowProfile {
		e.overflowed.Add(uint64(r.CallCount()))
	}
	h.calls.Add(float64(r.CallCount()))
	h.latency.Observe(float64(r.LatencyMs) / 1000)
	if r.TTFTMs > 0 {
		h.ttft.Observe(float64(r.TTFTMs) / 1000)
	}
	for i, n := range tokens {
		if n > 0 {
			h.tokens[i].Add(float64(n))
		}
	}
	if priced {
		h.cost.Add(usd(r.Cost))
		h.nanoCost.Add(float64(r.Cost))
	}
	if !r.Priced && tokens[0]+tokens[1]+tokens[2]+tokens[3] > 0 {
		e.unpriced.WithLabelValues(r.Account, h.profile, r.ModelID).Add(float64(r.CallCount()))
	}
}

// admit reports whether a label set not in the cache enters it: always
// while there is room, one time in hotTurnover when it is full.
func (e *Exporter) admit() bool {
	e.hotMu.RLock()
	full := len(e.hot) >= maxHot
	e.hotMu.RUnlock()
	return !full || e.hotMisses.Add(1)%hotTurnover == 0
}

// covers reports whether h holds every series r updates.
func (h *hotSeries) covers(r ledger.Record, tokens [4]int64, priced bool, name string) bool {
	if r.TTFTMs > 0 && h.ttft == nil {
		return false
	}
	for i, n := range tokens {
		if n > 0 && h.tokens[i] == nil {
			return false
		}
	}
	return !priced || (h.cost != nil && h.nanoCost != nil && (h.name == name || h.profile == OverflowProfile))
}

// resolveHot returns a copy of old (nil: an empty entry) completed with
// the series r updates, and caches it under key.
func (e *Exporter) resolveHot(key string, old *hotSeries, r ledger.Record, tokens [4]int64, priced bool, name string) *hotSeries {
	h := &hotSeries{}
	if old != nil {
		*h = *old
	} else {
		h.profile = e.profileLabel(r.Account, r.ProfileID)
	}
	if h.profile == OverflowProfile {
		name = OverflowProfile
	}
	n := len(e.tagKeys)
	with := make([]string, 4+n)
	with[0], with[1], with[2] = r.Account, h.profile, r.ModelID
	if h.profile != OverflowProfile {
		for i, k := range e.tagKeys {
			with[4+i] = r.Tags[k]
		}
	}
	call := with[:3]
	if h.calls == nil {
		with[3] = ledger.OutcomeSuccess
		h.calls = e.calls.WithLabelValues(with...)
		h.latency = e.latency.WithLabelValues(call...)
	}
	if r.TTFTMs > 0 && h.ttft == nil {
		h.ttft = e.ttft.WithLabelValues(call...)
	}
	for i, t := range tokens {
		if t > 0 && h.tokens[i] == nil {
			with[3] = tokenTypes[i]
			h.tokens[i] = e.tokens.WithLabelValues(with...)
		}
	}
	if priced {
		if h.cost == nil {
			h.cost = e.cost.WithLabelValues(append(append(make([]string, 0, 3+n), call...), with[4:]...)...)
		}
		if h.nanoCost == nil || h.name != name {
			h.name = name
			h.nanoCost = e.nanoCost.WithLabelValues(append([]string{r.Account, h.profile, name, r.ModelID}, with[4:]...)...)
		}
	}
	e.hotMu.Lock()
	if _, ok := e.hot[key]; !ok && len(e.hot) >= maxHot {
		for k := range e.hot { // an arbitrary entry leaves
			delete(e.hot, k)
			break
		}
	}
	e.hot[key] = h
	e.hotMu.Unlock()
	return h
}

// observe is ObserveRecord through the vectors.
func (e *Exporter) observe(r ledger.Record) {
	// The label values are laid out in stack arrays (the vectors copy them
	// only when a series is created), so an update allocates nothing:
	// with is account, profile, model, one extra value and the tag values;
	// bare is the same without the extra value; named puts the profile's
	// name after its id.
	n := len(e.tagKeys)
	var withBuf, bareBuf, namedBuf [4 + stackTagLabels]string
	var with, bare, named []string
	if n <= stackTagLabels {
		with, bare, named = withBuf[:4+n], bareBuf[:3+n], namedBuf[:4+n]
	} else {
		with, bare, named = make([]string, 4+n), make([]string, 3+n), make([]string, 4+n)
	}
	profile := e.profileLabel(r.Account, r.ProfileID)
	overflow := profile == OverflowProfile
	with[0], with[1], with[2] = r.Account, profile, r.ModelID
	bare[0], bare[1], bare[2] = r.Account, profile, r.ModelID
	for i, k := range e.tagKeys {
		v := ""
		if !overflow {
			v = r.Tags[k]
		}
		with[4+i], bare[3+i], named[4+i] = v, v, v
	}
	call := bare[:3]
	calls := float64(r.CallCount())
	if overflow {
		e.overflowed.Add(uint64(r.CallCount()))
	}
	with[3] = r.Outcome
	e.calls.WithLabelValues(with...).Add(calls)
	if r.Outcome == ledger.OutcomeThrottled {
		e.throttle.WithLabelValues(call...).Add(calls)
	} else {
		e.latency.WithLabelValues(call...).Observe(float64(r.LatencyMs) / 1000)
	}
	if r.ErrorCode != "" {
		e.errors.WithLabelValues(r.Account, profile, r.ModelID, r.ErrorCode).Add(calls)
	}
	if r.Outcome == ledger.OutcomeSuccess && r.TTFTMs > 0 {
		e.ttft.WithLabelValues(call...).Observe(float64(r.TTFTMs) / 1000)
	}
	e.addTokens(with, "input", r.InputTokens)
	e.addTokens(with, "output", r.OutputTokens)
	e.addTokens(with, "cache_read", r.CacheReadTokens)
	e.addTokens(with, "cache_write", r.CacheWriteAll())
	if r.Priced && r.Cost > 0 {
		e.cost.WithLabelValues(bare...).Add(usd(r.Cost))
		name := ""
		if overflow {
			name = OverflowProfile
		} else if e.name != nil && r.ProfileID != "" {
			name = e.name(r.Account, r.ProfileID)
		}
		named[0], named[1], named[2], named[3] = r.Account, profile, name, r.ModelID
		e.nanoCost.WithLabelValues(named...).Add(float64(r.Cost))
	}
	if !r.Priced && r.InputTokens+r.OutputTokens+r.CacheReadTokens+r.CacheWriteAll() > 0 {
		e.unpriced.WithLabelValues(call...).Add(calls)
	}
}

// profileLabel returns the profile label of a call of account's profile
// id: the id itself for a direct call (""), for a profile with series of
// its own, and for a new one while fewer than maxProfiles have theirs;
// OverflowProfile for any other. A profile's answer never changes.
func (e *Exporter) profileLabel(account, id string) string {
	if id == "" || e.maxProfiles == 0 {
		return id
	}
	key := [2]string{account, id}
	e.profMu.RLock()
	_, ok := e.profiles[key]
	full := len(e.profiles) >= e.maxProfiles
	e.profMu.RUnlock()
	if ok {
		return id
	}
	if !full {
		e.profMu.Lock()
		if _, ok = e.profiles[key]; !ok && len(e.profiles) < e.maxProfiles {
			e.profiles[key] = struct{}{}
			ok = true
		}
		e.profMu.Unlock()
		if ok {
			return id
		}
	}
	if e.log != nil && !e.warned.Load() && e.warned.CompareAndSwap(false, true) {
		// Once: the calls of this profile and of any other new one are
		// counted under OverflowProfile from now on.
		e.log.Warn("metrics_profile_limit_reached", "max_profiles", e.maxProfiles, "account", account, "profile", id, "counted_as", OverflowProfile)
	}
	return OverflowProfile
}

// limitCollector exports how many profiles have series of their own, the
// bound (when there is one) and the calls counted in the overflow series.
func (e *Exporter) limitCollector() prometheus.Collector {
	profiles := prometheus.NewDesc("tollgate_metrics_profiles", "Application profiles with model-call series of their own (absent when metricsMaxProfiles is 0, unbounded).", nil, nil)
	limit := prometheus.NewDesc("tollgate_metrics_max_profiles", "The most application profiles with model-call series of their own (metricsMaxProfiles; absent when unbounded).", nil, nil)
	overflow := prometheus.NewDesc("tollgate_metrics_profile_overflow_calls_total",
		`Model calls of profiles past metricsMaxProfiles, counted under profile="`+OverflowProfile+`".`, nil, nil)
	return collector{descs: []*prometheus.Desc{profiles, limit, overflow}, collect: func(ch chan<- prometheus.Metric) {
		e.profMu.RLock()
		n := len(e.profiles)
		e.profMu.RUnlock()
		if e.maxProfiles > 0 {
			ch <- prometheus.MustNewConstMetric(profiles, prometheus.GaugeValue, float64(n))
			ch <- prometheus.MustNewConstMetric(limit, prometheus.GaugeValue, float64(e.maxProfiles))
		}
		ch <- prometheus.MustNewConstMetric(overflow, prometheus.CounterValue, float64(e.overflowed.Load()))
	}}
}

// stackTagLabels is how many tag labels ObserveRecord lays out without
// allocating.
const stackTagLabels = 12

// addTokens adds n tokens of kind typ when n is positive; with holds the
// series' labels, typ goes in its fourth place.
func (e *Exporter) addTokens(with []string, typ string, n int64) {
	if n > 0 {
		with[3] = typ
		e.tokens.WithLabelValues(with...).Add(float64(n))
	}
}

func usd(a money.Amount) float64 { return float64(a) / 1e9 }

var alarmStates = []string{"OK", "ALARM", "INSUFFICIENT_DATA"}

func alarmCollector(f func() []AlarmStatus) prometheus.Collector {
	state := prometheus.NewDesc("tollgate_alarm_state", "1 for the state each alarm is in, 0 for the others.",
		[]string{"account", "alarm", "state"}, nil)
	count := prometheus.NewDesc("tollgate_alarms", "Alarms by state.", []string{"state"}, nil)
	return collector{descs: []*prometheus.Desc{state, count}, collect: func(ch chan<- prometheus.Metric) {
		n := map[string]float64{}
		for _, a := range f() {
			n[a.State]++
			for _, s := range alarmStates {
				v := 0.0
				if s == a.State {
					v = 1
				}
				ch <- prometheus.MustNewConstMetric(state, prometheus.GaugeValue, v, a.Account, a.Name, s)
			}
		}
		for _, s := range alarmStates {
			ch <- prometheus.MustNewConstMetric(count, prometheus.GaugeValue, n[s], s)
		}
	}}
}

func budgetCollector(f func() []BudgetStatus) prometheus.Collector {
	labels := []string{"account", "budget"}
	limit := prometheus.NewDesc("tollgate_budget_limit_usd", "Budget limit of the current period in USD.", labels, nil)
	spent := prometheus.NewDesc("tollgate_budget_spend_usd", "Actual spend of the budget's current period in USD.", labels, nil)
	left := prometheus.NewDesc("tollgate_budget_remaining_usd", "Limit minus spend (negative when over budget) in USD.", labels, nil)
	return collector{descs: []*prometheus.Desc{limit, spent, left}, collect: func(ch chan<- prometheus.Metric) {
		for _, b := range f() {
			ch <- prometheus.MustNewConstMetric(limit, prometheus.GaugeValue, usd(b.Limit), b.Account, b.Name)
			ch <- prometheus.MustNewConstMetric(spent, prometheus.GaugeValue, usd(b.Spent), b.Account, b.Name)
			ch <- prometheus.MustNewConstMetric(left, prometheus.GaugeValue, usd(b.Limit-b.Spent), b.Account, b.Name)
		}
	}}
}

// collector is a prometheus.Collector reading its values at each scrape.
type collector struct {
	descs   []*prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }

// enforcementCollector exports tollgate_budget_enforcement_active (1 while
// an action enforces, or a shadow would) and the refusals counters, by
// account, budget, action id, action type and mode (enforce or shadow).
// Label values are bounded by the budgets' quota (10 actions a budget).
func enforcementCollector(f func() []EnforcementStatus) prometheus.Collector {
	labels := []string{"account", "budget", "action", "type", "mode"}
	active := prometheus.NewDesc("tollgate_budget_enforcement_active", "1 while a budget action is engaged (a shadow action: would be), else 0.", labels, nil)
	refused := prometheus.NewDesc("tollgate_budget_refusals_total", "Calls a budget action refused, throttled or downgraded on this replica (mode=enforce).", labels, nil)
	shadow := prometheus.NewDesc("tollgate_budget_shadow_refusals_total", "Calls a shadow budget action would have refused, throttled or downgraded on this replica.", labels, nil)
	return collector{descs: []*prometheus.Desc{active, refused, shadow}, collect: func(ch chan<- prometheus.Metric) {
		for _, e := range f() {
			mode, counter := "enforce", refused
			if e.Shadow {
				mode, counter = "shadow", shadow
			}
			v := 0.0
			if e.Engaged {
				v = 1
			}
			ls := []string{e.Account, e.Budget, e.ActionID, e.Type, mode}
			ch <- prometheus.MustNewConstMetric(active, prometheus.GaugeValue, v, ls...)
			ch <- prometheus.MustNewConstMetric(counter, prometheus.CounterValue, float64(e.Refusals), ls...)
		}
	}}
}

// outboxCollector exports the notification outbox's counters and backlog.
func outboxCollector(f func() OutboxStatus) prometheus.Collector {
	due := prometheus.NewDesc("tollgate_notify_due", "Notifications due for delivery at the outbox's last pass (at most 64): the backlog.", nil, nil)
	attempts := prometheus.NewDesc("tollgate_notify_attempts_total", "Delivery attempts by result: delivered, retry (failed, will be retried) or dead (failed for good).", []string{"result"}, nil)
	enq := prometheus.NewDesc("tollgate_notify_enqueued_total", "Notifications queued for delivery.", nil, nil)
	return collector{descs: []*prometheus.Desc{due, attempts, enq}, collect: func(ch chan<- prometheus.Metric) {
		s := f()
		ch <- prometheus.MustNewConstMetric(due, prometheus.GaugeValue, float64(s.Due))
		ch <- prometheus.MustNewConstMetric(enq, prometheus.CounterValue, float64(s.Enqueued))
		ch <- prometheus.MustNewConstMetric(attempts, prometheus.CounterValue, float64(s.Delivered), "delivered")
		ch <- prometheus.MustNewConstMetric(attempts, prometheus.CounterValue, float64(s.Retried), "retry")
		ch <- prometheus.MustNewConstMetric(attempts, prometheus.CounterValue, float64(s.Dead), "dead")
	}}
}
