package metrics

import (
	"cmp"
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
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
	// minute, once flushed, before only the store has them. Default 2m.
	Memory time.Duration
	// MaxMemory bounds the memory the buckets held in memory take, in
	// bytes (an estimate: see Registry). Default DefaultMaxMemory.
	MaxMemory int64
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

// DefaultMaxMemory is the default Config.MaxMemory: 32 MiB.
const DefaultMaxMemory = 32 << 20

// Registry holds the metric series: the buckets of the current minutes
// and hour in memory, fed by Add, written to the store by Flush (every
// FlushInterval under Run, at Close, and early when memory is full; on a
// single node Run's periodic flush writes a bucket once its minute or
// hour has ended, since the start-up rebuild makes the current ones),
// older buckets read back from the store.
//
// Memory bound: the buckets in memory are those with samples since the
// last flush, plus, once flushed, the minute buckets of the last
// Config.Memory (2 minutes) and the current hour's buckets. Their size is
// estimated as it grows (a bucket's fixed part, its key's strings and its
// sketch's bins); when the estimate passes Config.MaxMemory (32 MiB), Add
// asks Run for an early flush, after which every flushed bucket leaves
// memory, whatever its period: so memory holds at most MaxMemory plus
// what arrives during one flush, independent of the number of series
// (profiles). A flush itself holds copies of at most FlushChunk buckets
// at a time (it writes them in chunks of that many, one transaction
// each), so its transient memory, the store's included, is bounded too,
// but for the sorted list of the series it writes (a 48-byte key each,
// less than a third of what those series take in memory). The bound
// holds as long as the store takes the writes; a failing store keeps the
// unwritten buckets (no sample is dropped) and memory grows until it
// recovers.
//
// Durability: a bucket is held in memory either as the authority for its
// minute or hour (for this replica's samples), which replaces this
// replica's stored one when flushed, so those flushes are idempotent; or,
// once its period's authority has left memory, as a delta that the flush
// merges into the stored bucket (a sample older than the memory window,
// from a long call, or any sample of a bucket evicted early for want of
// memory).
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
// store for every period, adding every other replica's stored buckets
// (and this replica's, where memory is not their authority) to this
// replica's in memory, so it sees all replicas' flushed samples and its
// own unflushed ones, each once.
//
// Safe for concurrent use.
type Registry struct {
	store   Store
	replica string
	now     func() time.Time
	memory  time.Duration
	limit   int64
	every   time.Duration
	log     *slog.Logger
	kick    chan struct{} // Add asks Run for an early flush
	// flushMu: Flush holds it to write and evict, Query to read memory
	// and store as of one state.
	flushMu sync.RWMutex

	mu sync.Mutex
	// minFloor and hourFloor (unix seconds): a minute (hour) bucket
	// starting at or after its floor that is not in memory has no stored
	// row of this replica, so memory starts as its authority; below the
	// floor, memory holds deltas.
	minFloor, hourFloor int64
	series              map[Key]*series
	size                int64 // estimated bytes of the buckets in memory
	// pendingReplace and pendingMerge are the writes of a failed flush,
	// retried first.
	pendingReplace, pendingMerge []Bucket
}

// series holds a series' buckets in memory: usually its current minute
// and hour.
type series struct {
	b []mbucket
}

type mbucket struct {
	start int64
	hour  bool
	delta bool // merged into the stored bucket, not its authority
	dirty bool // samples since the last flush
	st    Stats
}

// Estimated sizes, in bytes, of a series and of a bucket in memory
// (map entry, struct and slice share, rounded up to the allocator's size
// classes) and of a sketch bin.
const (
	seriesSize = 160
	bucketSize = 96
	binSize    = 12
)

type bucketID struct {
	key   Key
	hour  bool
	start int64
}

// Open returns a Registry and rebuilds its recent buckets (single node)
// or reads back its own current ones (shared store).
func Open(ctx context.Context, cfg Config) (*Registry, error) {
	r := &Registry{store: cfg.Store, replica: cfg.Replica, now: cfg.Now, memory: cfg.Memory, limit: cfg.MaxMemory,
		every: cfg.FlushInterval, log: cfg.Logger, series: map[Key]*series{}, kick: make(chan struct{}, 1)}
	if r.now == nil {
		r.now = time.Now
	}
	if r.memory <= 0 {
		r.memory = 2 * time.Minute
	}
	if r.limit <= 0 {
		r.limit = DefaultMaxMemory
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
	r.setFloor(from)
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
			b := r.bucket(bucketID{bs[i].Key, true, hour.Unix()})
			r.mergeInto(b, &bs[i].Stats)
			b.dirty = true
		}
	}
	if cfg.Records != nil {
		recs, err := cfg.Records.Records(ctx, ledger.Query{From: from})
		if err != nil {
			return nil, err
		}
		r.mu.Lock()
		for i := range recs {
			r.addLocked(&recs[i])
		}
		r.mu.Unlock()
	}
	return r, nil
}

func (r *Registry) setFloor(minute time.Time) {
	r.minFloor, r.hourFloor = minute.Unix(), minute.Truncate(Hour).Unix()
}

// maxTime bounds reads of buckets "from now on".
var maxTime = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// openShared starts a replica of a shared store: its floor is the current
// minute (older samples are merged into the stored buckets), and the
// buckets it stored under its id from the floor's minute and hour on, if
// it ran before, become its in-memory ones, so the next flush, which
// replaces them, keeps what they hold.
func (r *Registry) openShared(ctx context.Context, now time.Time) error {
	floor := now.Truncate(Minute)
	r.setFloor(floor)
	for _, res := range [2]time.Duration{Minute, Hour} {
		bs, err := r.store.MetricBuckets(ctx, res, floor.Truncate(res), maxTime)
		if err != nil {
			return err
		}
		for i := range bs {
			if bs[i].Replica != r.replica {
				continue
			}
			r.mergeInto(r.bucket(bucketID{bs[i].Key, res == Hour, bs[i].Start.Unix()}), &bs[i].Stats)
		}
	}
	return nil
}

// bucket returns the in-memory bucket id, creating it (as the authority
// of its period at or above the floor, else as a delta). r.mu held (or r
// not yet shared). The pointer is valid until the series' next bucket is
// created.
func (r *Registry) bucket(id bucketID) *mbucket {
	s := r.series[id.key]
	if s == nil {
		s = &series{b: make([]mbucket, 0, 2)}
		r.series[id.key] = s
		r.size += seriesSize + int64(len(id.key.Account)+len(id.key.ModelID))
	}
	for i := range s.b {
		if b := &s.b[i]; b.start == id.start && b.hour == id.hour {
			return b
		}
	}
	floor := r.minFloor
	if id.hour {
		floor = r.hourFloor
	}
	r.size += bucketSize
	s.b = append(s.b, mbucket{start: id.start, hour: id.hour, delta: id.start < floor})
	return &s.b[len(s.b)-1]
}

// mergeInto adds o to b, accounting for the sketch's growth. r.mu held.
func (r *Registry) mergeInto(b *mbucket, o *Stats) {
	c := cap(b.st.Sketch.bins)
	b.st.Merge(o)
	r.size += int64(cap(b.st.Sketch.bins)-c) * binSize
}

// Add counts a durable usage record.
func (r *Registry) Add(rec ledger.Record) {
	r.mu.Lock()
	r.addLocked(&rec)
	over := r.size > r.limit
	r.mu.Unlock()
	if over {
		r.askFlush()
	}
}

// askFlush asks Run for an early flush.
func (r *Registry) askFlush() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Gauge records one sample v of metric at t under the dimension value dim
// and in the series without dimensions (budget enforcement's
// EnforcementActive).
func (r *Registry) Gauge(account, metric, dim string, t time.Time, v int64) {
	t = t.UTC()
	minute, hour := t.Truncate(Minute).Unix(), t.Truncate(Hour).Unix()
	r.mu.Lock()
	for _, key := range [2]Key{{account, metric, dim}, {account, metric, ""}} {
		r.sample(bucketID{key, false, minute}, v)
		r.sample(bucketID{key, true, hour}, v)
	}
	over := r.size > r.limit
	r.mu.Unlock()
	if over {
		r.askFlush()
	}
}

func (r *Registry) addLocked(rec *ledger.Record) {
	t := rec.Time.UTC()
	minute, hour := t.Truncate(Minute).Unix(), t.Truncate(Hour).Unix()
	dim := DimensionValue(*rec)
	tierDim := TierDimensionValue(dim, *rec)
	var buf [8]Sample
	for _, smp := range appendSamples(buf[:0], rec) {
		for i, key := range [3]Key{{rec.Account, smp.Metric, dim}, {rec.Account, smp.Metric, ""}, {rec.Account, smp.Metric, tierDim}} {
			if i == 2 && tierDim == "" {
				continue // Standard has no series of its own
			}
			r.sample(bucketID{key, false, minute}, smp.Value)
			r.sample(bucketID{key, true, hour}, smp.Value)
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
	minute, hour := t.Truncate(Minute).Unix(), t.Truncate(Hour).Unix()
	dim := DimensionValue(rec)
	tagged := rec
	tagged.ServiceTier = tier
	tierDim := TierDimensionValue(dim, tagged)
	r.mu.Lock()
	add := func(metric, modelID string, v int64) {
		key := Key{rec.Account, metric, modelID}
		r.sample(bucketID{key, false, minute}, v)
		r.sample(bucketID{key, true, hour}, v)
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
	over := r.size > r.limit
	r.mu.Unlock()
	if over {
		r.askFlush()
	}
}

func (r *Registry) sample(id bucketID, v int64) {
	b := r.bucket(id)
	c := cap(b.st.Sketch.bins)
	b.st.Add(v)
	r.size += int64(cap(b.st.Sketch.bins)-c) * binSize
	b.dirty = true
}

// FlushChunk is the most buckets one Store.WriteMetricBuckets call of
// Flush carries (one series' buckets more, at most): Flush writes in
// transactions of that many buckets so that its transient memory, and
// the store's, is bounded whatever the number of series.
const FlushChunk = 4096

// Flush writes every bucket changed since the last flush, then lets
// buckets go that are older than the memory window or, when memory is
// over its bound, every bucket it wrote.
//
// It writes in chunks of at most FlushChunk buckets (plus a series'
// few), one WriteMetricBuckets call (one transaction) each, taking the
// series in key order. A chunk written is done: its replaced buckets are
// clean, its deltas gone. When a chunk fails, Flush stops: that chunk's
// buckets are kept aside and written first by the next Flush, and the
// buckets not yet taken stay changed in memory, so each sample is
// written once. A crash between two chunks leaves the store as a smaller
// flush would have (the single node's start-up rebuild replaces the
// recent buckets anyway).
func (r *Registry) Flush(ctx context.Context) error { return r.flush(ctx, false) }

// flush is Flush; with ended set, on a single node and while memory is
// within its bound, it leaves out the buckets this node is the authority
// for whose minute or hour has not ended yet (they stay changed in
// memory for a later flush): Run's periodic flush. Nothing is lost by
// it: the single node's start-up rebuild makes the current minutes from
// the ledger and the current hour from the stored minutes and the
// ledger, so writing a period's bucket before its end only rewrote it
// (every FlushInterval, six times a minute for a busy series).
func (r *Registry) flush(ctx context.Context, ended bool) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	replace, merge := r.pendingReplace, r.pendingMerge
	r.pendingReplace, r.pendingMerge = nil, nil
	r.mu.Unlock()
	replace, merge, err := r.writeChunk(ctx, replace, merge)
	if err != nil {
		return err
	}
	// The series to write, in the order of the store's primary key, so
	// that each chunk's rows are neighbours there (a chunk of scattered
	// rows would rewrite most of the table's pages). Series added from
	// now on are written by the next Flush; none leaves (evict holds
	// flushMu).
	r.mu.Lock()
	// Leave the unended periods' buckets out only on a single node (a
	// replica's buckets are not rebuilt) and while memory is within its
	// bound (an early flush must write what it lets go).
	ended = ended && r.replica == "" && r.size <= r.limit
	nowUnix := r.now().Unix()
	keys := make([]Key, 0, len(r.series))
	for key, s := range r.series {
		for i := range s.b {
			if s.b[i].dirty {
				keys = append(keys, key)
				break
			}
		}
	}
	r.mu.Unlock()
	slices.SortFunc(keys, compareKeys)
	r.mu.Lock()
	for _, key := range keys {
		if len(replace)+len(merge) >= FlushChunk {
			r.mu.Unlock()
			if replace, merge, err = r.writeChunk(ctx, replace, merge); err != nil {
				return err
			}
			r.mu.Lock()
		}
		s := r.series[key]
		if s == nil {
			continue // cannot happen: only evict deletes series
		}
		n := 0
		for i := range s.b {
			b := &s.b[i]
			res := Minute
			if b.hour {
				res = Hour
			}
			if !b.dirty || (ended && !b.delta && b.start+int64(res/time.Second) > nowUnix) {
				s.b[n] = *b
				n++
				continue
			}
			out := Bucket{Key: key, Res: res, Start: time.Unix(b.start, 0).UTC(), Replica: r.replica}
			if b.delta {
				// The delta goes to the store as it is; the next sample
				// starts a new one.
				out.Stats = b.st
				merge = append(merge, out)
				r.size -= bucketSize + int64(cap(b.st.Sketch.bins))*binSize
				continue
			}
			out.Stats = *b.st.Clone()
			replace = append(replace, out)
			b.dirty = false
			s.b[n] = *b
			n++
		}
		clear(s.b[n:])
		s.b = s.b[:n]
	}
	over := r.size > r.limit
	r.mu.Unlock()
	if err := r.write(ctx, replace, merge); err != nil {
		return err
	}
	r.evict(over)
	return nil
}

// writeChunk writes one chunk (r.write) and returns its slices emptied
// for the next one.
func (r *Registry) writeChunk(ctx context.Context, replace, merge []Bucket) ([]Bucket, []Bucket, error) {
	if err := r.write(ctx, replace, merge); err != nil {
		return replace, merge, err
	}
	clear(replace)
	clear(merge)
	return replace[:0], merge[:0], nil
}

// write writes one chunk of Flush; on failure it keeps copies of the
// chunk's buckets aside for the next Flush (pendingReplace and
// pendingMerge, which Query reads). flushMu held.
func (r *Registry) write(ctx context.Context, replace, merge []Bucket) error {
	if len(replace)+len(merge) == 0 {
		return nil
	}
	err := r.store.WriteMetricBuckets(ctx, replace, merge)
	if err != nil {
		r.mu.Lock()
		r.pendingReplace, r.pendingMerge = slices.Clone(replace), slices.Clone(merge)
		r.mu.Unlock()
	}
	return err
}

// evict advances the floors to the memory window (all, when over is set:
// to the next minute and hour) and drops the buckets below them that have
// no unflushed samples. flushMu held.
func (r *Registry) evict(over bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now().UTC()
	floor := now.Add(-r.memory).Truncate(Minute)
	minFloor, hourFloor := floor.Unix(), floor.Truncate(Hour).Unix()
	if over {
		minFloor, hourFloor = now.Truncate(Minute).Add(Minute).Unix(), now.Truncate(Hour).Add(Hour).Unix()
	}
	r.minFloor, r.hourFloor = max(r.minFloor, minFloor), max(r.hourFloor, hourFloor)
	for key, s := range r.series {
		n := 0
		for i := range s.b {
			b := &s.b[i]
			floor := r.minFloor
			if b.hour {
				floor = r.hourFloor
			}
			if b.dirty || b.start >= floor {
				s.b[n] = *b
				n++
				continue
			}
			r.size -= bucketSize + int64(cap(b.st.Sketch.bins))*binSize
		}
		clear(s.b[n:])
		s.b = s.b[:n]
		if n == 0 {
			delete(r.series, key)
			r.size -= seriesSize + int64(len(key.Account)+len(key.ModelID))
		}
	}
	if over {
		r.series = maps.Clone(r.series) // a map does not shrink
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

// Run flushes every FlushInterval, and early when memory passes its
// bound, and prunes every hour until ctx is done, then flushes once more.
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
		case <-r.kick:
		}
		if err := r.flush(ctx, true); err != nil {
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
// Each bucket start adds up this replica's bucket in memory when memory is
// its authority (else its stored one, plus any delta in memory not yet
// merged into it) and every other replica's stored one.
func (r *Registry) Query(ctx context.Context, key Key, from, to time.Time, period time.Duration) ([]Period, error) {
	if period < Minute || !to.After(from) {
		return nil, nil
	}
	from, to = from.UTC(), to.UTC()
	res := Resolution(from, period)
	hour := res == Hour
	lo, hi := from.Unix(), to.Unix()
	// No flush between reading memory and reading the store: a delta is
	// either in memory or merged into the stored bucket.
	r.flushMu.RLock()
	defer r.flushMu.RUnlock()
	own := map[int64]bool{} // memory is the authority
	var deltas []Bucket
	all := map[int64]*Stats{}
	r.mu.Lock()
	if s := r.series[key]; s != nil {
		for i := range s.b {
			b := &s.b[i]
			if b.hour != hour || b.start < lo || b.start >= hi {
				continue
			}
			if b.delta {
				deltas = append(deltas, Bucket{Start: time.Unix(b.start, 0), Stats: *b.st.Clone()})
				continue
			}
			own[b.start] = true
			all[b.start] = b.st.Clone()
		}
	}
	for _, b := range r.pendingMerge {
		if b.Key == key && b.Res == res && !b.Start.Before(from) && b.Start.Before(to) {
			deltas = append(deltas, Bucket{Start: b.Start, Stats: *b.Stats.Clone()})
		}
	}
	r.mu.Unlock()

	stored, err := r.store.MetricBuckets(ctx, res, from, to, key)
	if err != nil {
		return nil, err
	}
	for i := range stored {
		start := stored[i].Start.Unix()
		if own[start] && stored[i].Replica == r.replica {
			continue // memory is authoritative for this replica's samples
		}
		deltas = append(deltas, stored[i])
	}
	for i := range deltas {
		start := deltas[i].Start.Unix()
		if st := all[start]; st != nil {
			st.Merge(&deltas[i].Stats)
		} else {
			all[start] = &deltas[i].Stats
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
		for i := range s.b {
			if b := &s.b[i]; b.hour && b.st.Count > 0 && b.start+int64(Hour/time.Second) > lo {
				seen[key] = true
				break
			}
		}
	}
	for _, b := range r.pendingMerge {
		if b.Res == Hour && (account == "" || b.Key.Account == account) && b.Start.Unix()+int64(Hour/time.Second) > lo {
			seen[b.Key] = true
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

// compareKeys orders keys by account, metric and model id (byte order).
func compareKeys(a, b Key) int {
	return cmp.Or(strings.Compare(a.Account, b.Account), strings.Compare(a.Metric, b.Metric), strings.Compare(a.ModelID, b.ModelID))
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
