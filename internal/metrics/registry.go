package metrics

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/internal/ledger"
)

// Bucket is the aggregate of the samples one replica counted for one
// series at one resolution over [Start, Start+Res).
type Bucket struct {
	Key   Key
	Res   time.Duration // Minute or Hour
	Start time.Time
	// Replica is the Config.Replica of the Registry that counted the
	// samples; "" for a single node.
	Replica string
	Stats   Stats
}

// Store persists buckets. Implementations are safe for concurrent use,
// also by several processes sharing one database; their errors are
// errkind.Internal (or errkind.Unavailable when the database cannot be
// reached).
//
// A stored bucket is identified by its key, resolution, start and
// replica: the replicas sharing a store each keep a row of their own for
// the same series and minute, and a write of one replica's bucket never
// touches another replica's row. Reads see every replica's rows.
type Store interface {
	// WriteMetricBuckets stores, in one transaction, each bucket of
	// replace (replacing the stored bucket of the same key, resolution,
	// start and replica), then merges each bucket of merge into the stored
	// one of the same key, resolution, start and replica (storing it when
	// there is none). A bucket may appear more than once; later ones win
	// (replace) or add up (merge).
	WriteMetricBuckets(ctx context.Context, replace, merge []Bucket) error
	// MetricBuckets returns the stored buckets of resolution res whose
	// start lies in [from, to), of the series keys (every series when keys
	// is empty), one per replica that stored one (they are not merged),
	// each with its Replica. They are ordered by start, then account,
	// metric, model id and replica (byte order).
	MetricBuckets(ctx context.Context, res time.Duration, from, to time.Time, keys ...Key) ([]Bucket, error)
	// MetricSeries returns the series of account ("" = every account)
	// with a bucket of resolution res, of any replica, starting at or
	// after since, ordered by account, metric and model id (byte order).
	MetricSeries(ctx context.Context, account string, res time.Duration, since time.Time) ([]Key, error)
	// LatestMetricBucket returns the start of the newest stored bucket of
	// resolution res, of any replica, or the zero time when there is none.
	LatestMetricBucket(ctx context.Context, res time.Duration) (time.Time, error)
	// DeleteMetricBuckets deletes the buckets of resolution res, of every
	// replica, that start before before.
	DeleteMetricBuckets(ctx context.Context, res time.Duration, before time.Time) error
}

// RecordReader reads usage records (ledger.Reader).
type RecordReader interface {
	Records(ctx context.Context, q ledger.Query) ([]ledger.Record, error)
}

// Config configures a Registry.
type Config struct {
	// Store persists the buckets. Required.
	Store Store
	// Records, when set, is read at Open to rebuild recent buckets. It is
	// not read when Replica is set.
	Records RecordReader
	// Replica is this process's id among the Tollgate replicas that share
	// Store, or "" (the default) for a single node, which alone writes the
	// store. Each replica's buckets are stored apart (Bucket.Replica) and
	// a Query adds up every replica's. The ids of the replicas running at
	// one time must differ; a replica restarted under the same id carries
	// on with its stored buckets. See Registry for what a shared store
	// changes to durability. A store written by replicas should not go
	// back to a single node: the single node's start-up rebuild would
	// count again, for the rebuilt minutes, the calls the replicas' rows
	// already hold.
	Replica string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Memory is how long minute buckets stay in memory after their
	// minute before only the store has them. Default 3h.
	Memory time.Duration
	// Rebuild is how far before the newest stored minute bucket the
	// start-up rebuild from the ledger begins (it must cover the longest
	// call, since a call is counted at its start). Default 15m. Not used
	// when Replica is set.
	Rebuild time.Duration
	// FlushInterval is how often Run writes changed buckets. Default 10s.
	FlushInterval time.Duration
	// Logger logs flush failures; nil discards.
	Logger *slog.Logger
}

// Registry holds the metric series: recent buckets in memory, fed by
// Add, written to the store by Flush (every FlushInterval under Run, and
// at Close), older buckets read back from the store.
//
// Durability: a bucket in memory is authoritative for its minute or hour
// (for this replica's samples) and replaces this replica's stored one
// when flushed, so flushes are idempotent. A sample older than the memory
// window (a very long call) is merged into the stored bucket.
//
// On a single node (Config.Replica ""), the buckets from Config.Rebuild
// before the newest stored minute on are rebuilt from the ledger at Open;
// the ledger is durable before Add sees a record, so a crash loses
// nothing, except samples of calls longer than Rebuild that ended in the
// last FlushInterval before it.
//
// On a shared store (Config.Replica set), the ledger holds every
// replica's calls, so rebuilding from it would count other replicas'
// samples twice: there is no rebuild. Open reads back this replica's
// stored buckets of the current minute and hour (a replica restarted
// under the same id carries on with them), and a replica that dies
// loses the samples it had not flushed: at most FlushInterval's worth
// (more if its flushes were failing).
// The ledger, costs and budgets are unaffected; only the metric series
// (and the alarms reading them) miss those samples. A Query reads the
// store for every period, adding every other replica's stored buckets to
// this replica's own, so it sees all replicas' flushed samples and its
// own unflushed ones, each once.
//
// Safe for concurrent use.
type Registry struct {
	store   Store
	replica string
	now     func() time.Time
	memory  time.Duration
	every   time.Duration
	log     *slog.Logger
	flushMu sync.Mutex // one Flush at a time

	mu     sync.Mutex
	floor  time.Time // minute: buckets from here on are complete in memory
	series map[Key]*series
	dirty  map[bucketID]struct{}
	late   map[bucketID]*Stats // samples below the floor, to merge
	// pendingReplace and pendingMerge are the writes of a failed flush,
	// retried first.
	pendingReplace, pendingMerge []Bucket
}

type series struct {
	minutes map[int64]*Stats // by unix second of the bucket start
	hours   map[int64]*Stats
}

type bucketID struct {
	key   Key
	hour  bool
	start int64
}

func (id bucketID) res() time.Duration {
	if id.hour {
		return Hour
	}
	return Minute
}

// Open returns a Registry and rebuilds its recent buckets (single node)
// or reads back its own current ones (shared store).
func Open(ctx context.Context, cfg Config) (*Registry, error) {
	r := &Registry{store: cfg.Store, replica: cfg.Replica, now: cfg.Now, memory: cfg.Memory, every: cfg.FlushInterval, log: cfg.Logger,
		series: map[Key]*series{}, dirty: map[bucketID]struct{}{}, late: map[bucketID]*Stats{}}
	if r.now == nil {
		r.now = time.Now
	}
	if r.memory <= 0 {
		r.memory = 3 * time.Hour
	}
	if r.every <= 0 {
		r.every = 10 * time.Second
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	rebuild := cfg.Rebuild
	if rebuild <= 0 {
		rebuild = 15 * time.Minute
	}
	now := r.now().UTC()
	if r.replica != "" {
		if err := r.openShared(ctx, now); err != nil {
			return nil, err
		}
		return r, nil
	}
	latest, err := r.store.LatestMetricBucket(ctx, Minute)
	if err != nil {
		return nil, err
	}
	from := now.Add(-r.memory)
	if !latest.IsZero() {
		from = latest
		if now.Before(from) {
			from = now
		}
		from = from.Add(-rebuild)
	}
	from = from.UTC().Truncate(Minute)
	r.floor = from
	// The floor's hour bucket starts with the stored minutes before it.
	if hour := from.Truncate(Hour); hour.Before(from) {
		bs, err := r.store.MetricBuckets(ctx, Minute, hour, from)
		if err != nil {
			return nil, err
		}
		for i := range bs {
			if bs[i].Replica != r.replica {
				continue // not this node's: Query adds it up
			}
			id := bucketID{bs[i].Key, true, hour.Unix()}
			r.bucket(id).Merge(&bs[i].Stats)
			r.dirty[id] = struct{}{}
		}
	}
	if cfg.Records != nil {
		recs, err := cfg.Records.Records(ctx, ledger.Query{From: from})
		if err != nil {
			return nil, err
		}
		r.mu.Lock()
		for _, rec := range recs {
			r.addLocked(rec)
		}
		r.mu.Unlock()
	}
	return r, nil
}

// maxTime bounds reads of buckets "from now on".
var maxTime = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// openShared starts a replica of a shared store: its floor is the current
// minute (older samples are merged into the stored buckets), and the
// buckets it stored under its id from the floor's minute and hour on, if
// it ran before, become its in-memory ones, so the next flush, which
// replaces them, keeps what they hold.
func (r *Registry) openShared(ctx context.Context, now time.Time) error {
	r.floor = now.Truncate(Minute)
	for _, res := range [2]time.Duration{Minute, Hour} {
		bs, err := r.store.MetricBuckets(ctx, res, r.floor.Truncate(res), maxTime)
		if err != nil {
			return err
		}
		for i := range bs {
			if bs[i].Replica != r.replica {
				continue
			}
			*r.bucket(bucketID{bs[i].Key, res == Hour, bs[i].Start.Unix()}) = bs[i].Stats
		}
	}
	return nil
}

// bucket returns the in-memory bucket id, creating it. r.mu held (or r
// not yet shared).
func (r *Registry) bucket(id bucketID) *Stats {
	s := r.series[id.key]
	if s == nil {
		s = &series{minutes: map[int64]*Stats{}, hours: map[int64]*Stats{}}
		r.series[id.key] = s
	}
	m := s.minutes
	if id.hour {
		m = s.hours
	}
	st := m[id.start]
	if st == nil {
		st = &Stats{}
		m[id.start] = st
	}
	return st
}

// Add counts a durable usage record.
func (r *Registry) Add(rec ledger.Record) {
	r.mu.Lock()
	r.addLocked(rec)
	r.mu.Unlock()
}

// Gauge records one sample v of metric at t under the dimension value dim
// and in the series without dimensions (budget enforcement's
// EnforcementActive).
func (r *Registry) Gauge(account, metric, dim string, t time.Time, v int64) {
	t = t.UTC()
	minute, hour := t.Truncate(Minute), t.Truncate(Hour)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, key := range [2]Key{{account, metric, dim}, {account, metric, ""}} {
		r.sample(bucketID{key, false, minute.Unix()}, minute.Before(r.floor), v)
		r.sample(bucketID{key, true, hour.Unix()}, hour.Before(r.floor.Truncate(Hour)), v)
	}
}

func (r *Registry) addLocked(rec ledger.Record) {
	t := rec.Time.UTC()
	minute, hour := t.Truncate(Minute), t.Truncate(Hour)
	dim := DimensionValue(rec)
	tierDim := TierDimensionValue(dim, rec)
	for _, smp := range SamplesOf(rec) {
		for i, key := range [3]Key{{rec.Account, smp.Metric, dim}, {rec.Account, smp.Metric, ""}, {rec.Account, smp.Metric, tierDim}} {
			if i == 2 && tierDim == "" {
				continue // Standard has no series of its own
			}
			r.sample(bucketID{key, false, minute.Unix()}, minute.Before(r.floor), smp.Value)
			r.sample(bucketID{key, true, hour.Unix()}, hour.Before(r.floor.Truncate(Hour)), smp.Value)
		}
	}
}

// AddAdmission counts how a call was admitted, beside its record: the
// time it waited (QueueWait) under its ModelId, its tier's ModelId
// ("<id>+<tier>", tier being the one it asked for when none served it)
// and across all model ids; and, for a call refused in a tier other than
// Standard, InvocationThrottles under its tier's ModelId (the record
// counts it under the plain one).
func (r *Registry) AddAdmission(rec ledger.Record, tier string, wait time.Duration) {
	if rec.ServiceTier != "" {
		tier = rec.ServiceTier
	}
	t := rec.Time.UTC()
	minute, hour := t.Truncate(Minute), t.Truncate(Hour)
	dim := DimensionValue(rec)
	tagged := rec
	tagged.ServiceTier = tier
	tierDim := TierDimensionValue(dim, tagged)
	r.mu.Lock()
	defer r.mu.Unlock()
	add := func(metric, modelID string, v int64) {
		key := Key{rec.Account, metric, modelID}
		r.sample(bucketID{key, false, minute.Unix()}, minute.Before(r.floor), v)
		r.sample(bucketID{key, true, hour.Unix()}, hour.Before(r.floor.Truncate(Hour)), v)
	}
	ms := wait.Milliseconds()
	add(QueueWait, dim, ms)
	add(QueueWait, "", ms)
	if tierDim != "" {
		add(QueueWait, tierDim, ms)
		if rec.Outcome == ledger.OutcomeThrottled && rec.ServiceTier == "" {
			add(InvocationThrottles, tierDim, 1)
		}
	}
}

func (r *Registry) sample(id bucketID, late bool, v int64) {
	if late {
		st := r.late[id]
		if st == nil {
			st = &Stats{}
			r.late[id] = st
		}
		st.Add(v)
		return
	}
	r.bucket(id).Add(v)
	r.dirty[id] = struct{}{}
}

// Flush writes every bucket changed since the last flush, then lets
// buckets older than the memory window go.
func (r *Registry) Flush(ctx context.Context) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	replace, merge := r.pendingReplace, r.pendingMerge
	r.pendingReplace, r.pendingMerge = nil, nil
	for id := range r.dirty {
		replace = append(replace, Bucket{Key: id.key, Res: id.res(), Start: time.Unix(id.start, 0).UTC(), Replica: r.replica,
			Stats: *r.bucket(id).Clone()})
	}
	clear(r.dirty)
	for id, st := range r.late {
		merge = append(merge, Bucket{Key: id.key, Res: id.res(), Start: time.Unix(id.start, 0).UTC(), Replica: r.replica, Stats: *st})
	}
	clear(r.late)
	r.mu.Unlock()

	if len(replace)+len(merge) > 0 {
		if err := r.store.WriteMetricBuckets(ctx, replace, merge); err != nil {
			r.mu.Lock()
			r.pendingReplace, r.pendingMerge = replace, merge
			r.mu.Unlock()
			return err
		}
	}
	r.evict()
	return nil
}

// evict advances the floor to the memory window and drops buckets below
// it that have no unflushed samples.
func (r *Registry) evict() {
	r.mu.Lock()
	defer r.mu.Unlock()
	floor := r.now().UTC().Add(-r.memory).Truncate(Minute)
	if !floor.After(r.floor) {
		return
	}
	r.floor = floor
	minFloor, hourFloor := floor.Unix(), floor.Truncate(Hour).Unix()
	for key, s := range r.series {
		for start := range s.minutes {
			if _, d := r.dirty[bucketID{key, false, start}]; start < minFloor && !d {
				delete(s.minutes, start)
			}
		}
		for start := range s.hours {
			if _, d := r.dirty[bucketID{key, true, start}]; start < hourFloor && !d {
				delete(s.hours, start)
			}
		}
		if len(s.minutes) == 0 && len(s.hours) == 0 {
			delete(r.series, key)
		}
	}
}

// Prune deletes stored buckets past their retention.
func (r *Registry) Prune(ctx context.Context) error {
	now := r.now().UTC()
	if err := r.store.DeleteMetricBuckets(ctx, Minute, now.Add(-MinuteRetention)); err != nil {
		return err
	}
	return r.store.DeleteMetricBuckets(ctx, Hour, now.Add(-HourRetention))
}

// Run flushes every FlushInterval and prunes every hour until ctx is
// done, then flushes once more.
func (r *Registry) Run(ctx context.Context) {
	t := time.NewTicker(r.every)
	defer t.Stop()
	var pruned time.Time
	for {
		select {
		case <-ctx.Done():
			if err := r.Flush(context.WithoutCancel(ctx)); err != nil {
				r.log.Error("metrics_flush_failed", "err", err.Error())
			}
			return
		case <-t.C:
		}
		if err := r.Flush(ctx); err != nil {
			r.log.Error("metrics_flush_failed", "err", err.Error())
		}
		if now := r.now(); now.Sub(pruned) >= time.Hour {
			if err := r.Prune(ctx); err != nil {
				r.log.Error("metrics_prune_failed", "err", err.Error())
			} else {
				pruned = now
			}
		}
	}
}

// Period is the aggregate of one period of a query.
type Period struct {
	Start time.Time
	Stats Stats
}

// Resolution returns the bucket resolution a query of period starting at
// from reads: hours when both are whole hours, else minutes.
func Resolution(from time.Time, period time.Duration) time.Duration {
	if period%Hour == 0 && from.Equal(from.Truncate(Hour)) {
		return Hour
	}
	return Minute
}

// Query returns, for the series key, the aggregate of each period of
// length period (a multiple of a minute) starting at from and before to
// that has samples, by start. from should be a whole minute; buckets are
// assigned to the period their start falls in.
//
// Each bucket start adds up this replica's bucket in memory (or, once it
// left memory, its stored one) and every other replica's stored one. A
// single node reads the store only below its memory floor; a replica of a
// shared store reads it for the whole range.
func (r *Registry) Query(ctx context.Context, key Key, from, to time.Time, period time.Duration) ([]Period, error) {
	if period < Minute || !to.After(from) {
		return nil, nil
	}
	from, to = from.UTC(), to.UTC()
	res := Resolution(from, period)
	lo, hi := from.Unix(), to.Unix()
	mem := map[int64]*Stats{}
	r.mu.Lock()
	floor := r.floor
	if res == Hour {
		floor = floor.Truncate(Hour)
	}
	if s := r.series[key]; s != nil {
		m := s.minutes
		if res == Hour {
			m = s.hours
		}
		for start, st := range m {
			if start >= lo && start < hi {
				mem[start] = st.Clone()
			}
		}
	}
	r.mu.Unlock()

	all := maps.Clone(mem)
	if shared := r.replica != ""; shared || from.Before(floor) {
		hi := to
		if !shared {
			hi = minTime(to, floor)
		}
		stored, err := r.store.MetricBuckets(ctx, res, from, hi, key)
		if err != nil {
			return nil, err
		}
		for i := range stored {
			start := stored[i].Start.Unix()
			if _, ok := mem[start]; ok && stored[i].Replica == r.replica {
				continue // memory is authoritative for this replica's samples
			}
			if st := all[start]; st != nil {
				st.Merge(&stored[i].Stats)
			} else {
				all[start] = &stored[i].Stats
			}
		}
	}
	p := int64(period / time.Second)
	byPeriod := map[int64]*Stats{}
	for _, start := range sortedKeys(all) {
		ps := lo + (start-lo)/p*p
		agg := byPeriod[ps]
		if agg == nil {
			agg = &Stats{}
			byPeriod[ps] = agg
		}
		agg.Merge(all[start])
	}
	out := make([]Period, 0, len(byPeriod))
	for _, start := range sortedKeys(byPeriod) {
		out = append(out, Period{Start: time.Unix(start, 0).UTC(), Stats: *byPeriod[start]})
	}
	return out, nil
}

// Series returns the series of account ("" = every account) with samples
// since since, sorted by metric, then ModelId.
func (r *Registry) Series(ctx context.Context, account string, since time.Time) ([]Key, error) {
	seen := map[Key]bool{}
	lo := since.Unix()
	r.mu.Lock()
	for key, s := range r.series {
		if account != "" && key.Account != account {
			continue
		}
		for start := range s.hours {
			if start+int64(Hour/time.Second) > lo {
				seen[key] = true
				break
			}
		}
	}
	r.mu.Unlock()
	stored, err := r.store.MetricSeries(ctx, account, Hour, since.UTC().Truncate(Hour))
	if err != nil {
		return nil, err
	}
	for _, k := range stored {
		seen[k] = true
	}
	out := make([]Key, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b Key) int {
		switch {
		case a.Account != b.Account:
			return cmpStr(a.Account, b.Account)
		case a.Metric != b.Metric:
			return cmpStr(a.Metric, b.Metric)
		}
		return cmpStr(a.ModelID, b.ModelID)
	})
	return out, nil
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
