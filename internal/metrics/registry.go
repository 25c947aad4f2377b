package metrics

import (
	"cmp"
	"context"
	"log/slog"
	"maps"
	"math/bits"
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
// Config.Memory (2 minutes) and the current hour's buckets. They are held
// per account and model id: one entry holding, for each minute or hour in
// memory, every metric's count, sum, minimum and maximum (40 bytes) and
// sketch (4 bytes a bin; none while every sample had one value). Their
// size is estimated as it grows (an entry's map slot and strings, its
// periods, statistics and sketch bins): a busy profile called 12 times a
// minute (six metrics a call) takes about 1.7 KB with its current minute,
// the memory window and the current hour, 2.1 KB at the end of an hour,
// so 10,000 of them fit the default bound. When the estimate passes
// Config.MaxMemory (32 MiB), Add asks Run for an early flush, after which
// every flushed bucket leaves memory, whatever its period: so memory
// holds at most MaxMemory plus what arrives during one flush, independent
// of the number of series (profiles). A flush itself holds copies of at
// most FlushChunk buckets at a time (it writes them in chunks of that
// many, one transaction each), so its transient memory, the store's
// included, is bounded too, but for the sorted list of the entries it
// writes (a 32-byte key each, a fraction of what those entries take in
// memory). The bound holds as long as the store takes the writes; a
// failing store keeps the unwritten buckets (no sample is dropped) and
// memory grows until it recovers. The estimate counts the live
// allocations; the heap in use is larger by the allocator's free slots
// (about 40 % in the busy probe of BenchmarkBusyProbe).
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
	entries             map[entryKey]*entry
	size                int64 // estimated bytes of the entries in memory
	// pendingReplace and pendingMerge are the writes of a failed flush,
	// retried first.
	pendingReplace, pendingMerge []Bucket
}

// Open returns a Registry and rebuilds its recent buckets (single node)
// or reads back its own current ones (shared store).
func Open(ctx context.Context, cfg Config) (*Registry, error) {
	r := &Registry{store: cfg.Store, replica: cfg.Replica, now: cfg.Now, memory: cfg.Memory, limit: cfg.MaxMemory,
		every: cfg.FlushInterval, log: cfg.Logger, entries: map[entryKey]*entry{}, kick: make(chan struct{}, 1)}
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
			r.mergeStored(&bs[i], hour.Unix(), true, true)
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
			r.mergeStored(&bs[i], bs[i].Start.Unix(), res == Hour, false)
		}
	}
	return nil
}

// entry returns the entry of account and model id, creating it. r.mu
// held (or r not yet shared).
func (r *Registry) entry(account, modelID string) *entry {
	if e := r.entries[entryKey{account, modelID}]; e != nil {
		return e
	}
	// Own copies: the record's strings may share a larger allocation.
	k := entryKey{strings.Clone(account), strings.Clone(modelID)}
	e := &entry{}
	r.entries[k] = e
	r.size += entrySize + int64(len(k.account)+len(k.modelID))
	return e
}

// period returns e's period (start, hour), creating it. r.mu held. The
// pointer is valid until e's next period is created.
func (r *Registry) period(e *entry, start int64, hour bool) *period {
	for i := range e.p {
		if p := &e.p[i]; p.start == start && p.hour == hour {
			return p
		}
	}
	if len(e.p) == cap(e.p) {
		// Grow by two, not twice: an entry holds a handful of periods.
		grown := make([]period, len(e.p), len(e.p)+2)
		copy(grown, e.p)
		r.size += int64(cap(grown)-cap(e.p)) * periodSize
		e.p = grown
	}
	p := period{start: start, hour: hour}
	// The metrics of e's latest period of this resolution are likely
	// those of the new one.
	for i := len(e.p) - 1; i >= 0; i-- {
		if e.p[i].hour == hour {
			p.st = make([]cstats, 0, bits.OnesCount16(e.p[i].has))
			r.size += int64(cap(p.st)) * cstatsSize
			break
		}
	}
	e.p = append(e.p, p)
	return &e.p[len(e.p)-1]
}

// floor returns the floor of a resolution.
func (r *Registry) floor(hour bool) int64 {
	if hour {
		return r.hourFloor
	}
	return r.minFloor
}

// sample counts the sample v of metric m in p, a period of e. r.mu held.
func (r *Registry) sample(p *period, m int, v int64) {
	before := p.bytes()
	p.stat(m, p.start < r.floor(p.hour))
	p.add(m, v)
	p.dirty |= 1 << m
	r.size += p.bytes() - before
}

// mergeStored adds a stored bucket (the Store's) to the bucket of its key
// and metric at start in memory; dirty marks it changed. r not yet
// shared.
func (r *Registry) mergeStored(b *Bucket, start int64, hour, dirty bool) {
	m, ok := metricIndex[b.Key.Metric]
	if !ok {
		return // not a metric of this package: nothing in memory to add to
	}
	p := r.period(r.entry(b.Key.Account, b.Key.ModelID), start, hour)
	before := p.bytes()
	p.stat(m, start < r.floor(hour))
	p.merge(m, &b.Stats)
	if dirty {
		p.dirty |= 1 << m
	}
	r.size += p.bytes() - before
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
// EnforcementActive). A metric this package does not define is ignored.
func (r *Registry) Gauge(account, metric, dim string, t time.Time, v int64) {
	m, ok := metricIndex[metric]
	if !ok {
		return
	}
	t = t.UTC()
	minute, hour := t.Truncate(Minute).Unix(), t.Truncate(Hour).Unix()
	r.mu.Lock()
	for _, modelID := range [2]string{dim, ""} {
		e := r.entry(account, modelID)
		r.sample(r.period(e, minute, false), m, v)
		r.sample(r.period(e, hour, true), m, v)
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
	smps := appendSamples(buf[:0], rec)
	var idx [8]int
	for i := range smps {
		idx[i] = metricIndex[smps[i].Metric]
	}
	for i, modelID := range [3]string{dim, "", tierDim} {
		if i == 2 && tierDim == "" {
			continue // Standard has no series of its own
		}
		e := r.entry(rec.Account, modelID)
		for h, start := range [2]int64{minute, hour} {
			p := r.period(e, start, h == 1)
			for j := range smps {
				r.sample(p, idx[j], smps[j].Value)
			}
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
		m, e := metricIndex[metric], r.entry(rec.Account, modelID)
		r.sample(r.period(e, minute, false), m, v)
		r.sample(r.period(e, hour, true), m, v)
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
	// The buckets to write, in the order of the store's primary key
	// (account, metric, model id), so that each chunk's rows are
	// neighbours there (a chunk of scattered rows would rewrite most of
	// the table's pages): the changed entries sorted by account and model
	// id, taken metric by metric within each account. Entries added from
	// now on are written by the next Flush; none leaves (evict holds
	// flushMu).
	r.mu.Lock()
	// Leave the unended periods' buckets out only on a single node (a
	// replica's buckets are not rebuilt) and while memory is within its
	// bound (an early flush must write what it lets go).
	ended = ended && r.replica == "" && r.size <= r.limit
	nowUnix := r.now().Unix()
	keys := make([]entryKey, 0, len(r.entries))
	for k, e := range r.entries {
		for i := range e.p {
			if e.p[i].dirty != 0 {
				keys = append(keys, k)
				break
			}
		}
	}
	r.mu.Unlock()
	slices.SortFunc(keys, func(a, b entryKey) int {
		return cmp.Or(strings.Compare(a.account, b.account), strings.Compare(a.modelID, b.modelID))
	})
	r.mu.Lock()
	for len(keys) > 0 {
		n := 1 // keys[:n]: one account's
		for n < len(keys) && keys[n].account == keys[0].account {
			n++
		}
		for _, m := range metricsByName {
			for _, k := range keys[:n] {
				if len(replace)+len(merge) >= FlushChunk {
					r.mu.Unlock()
					if replace, merge, err = r.writeChunk(ctx, replace, merge); err != nil {
						return err
					}
					r.mu.Lock()
				}
				e := r.entries[k]
				if e == nil {
					continue // cannot happen: only evict deletes entries
				}
				replace, merge = r.take(k, e, m, ended, nowUnix, replace, merge)
			}
		}
		keys = keys[n:]
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

// take appends metric m's changed buckets of e (of key k) to replace
// (authorities, now clean) or merge (deltas, now gone), leaving out with
// ended the unended periods' authorities (flush). r.mu held.
func (r *Registry) take(k entryKey, e *entry, m int, ended bool, nowUnix int64, replace, merge []Bucket) ([]Bucket, []Bucket) {
	bit := uint16(1) << m
	n := 0
	for i := range e.p {
		p := &e.p[i]
		res := Minute
		if p.hour {
			res = Hour
		}
		if p.dirty&bit != 0 && (!ended || p.delta&bit != 0 || p.start+int64(res/time.Second) <= nowUnix) {
			out := Bucket{Key: Key{k.account, defs[m].Name, k.modelID}, Res: res, Start: time.Unix(p.start, 0).UTC(),
				Replica: r.replica, Stats: p.stats(m)}
			before := p.bytes()
			if p.delta&bit != 0 {
				// The delta goes to the store as it is; the next sample
				// starts a new one.
				merge = append(merge, out)
				p.remove(m)
			} else {
				replace = append(replace, out)
				p.dirty &^= bit
			}
			if p.dirty == 0 && p.start+int64(res/time.Second) <= nowUnix {
				p.trim() // its samples have ended
			}
			r.size += p.bytes() - before
		}
		if p.has == 0 {
			r.size -= p.bytes()
			continue
		}
		e.p[n] = *p
		n++
	}
	clear(e.p[n:])
	e.p = e.p[:n]
	return replace, merge
}

// evict advances the floors to the memory window (all, when over is set:
// to the next minute and hour) and drops the periods below them that have
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
	for k, e := range r.entries {
		n := 0
		for i := range e.p {
			p := &e.p[i]
			if p.has != 0 && (p.dirty != 0 || p.start >= r.floor(p.hour)) {
				e.p[n] = *p
				n++
				continue
			}
			r.size -= p.bytes()
		}
		clear(e.p[n:])
		e.p = e.p[:n]
		if n == 0 {
			delete(r.entries, k)
			r.size -= entrySize + int64(len(k.account)+len(k.modelID)) + int64(cap(e.p))*periodSize
		}
	}
	if over {
		r.entries = maps.Clone(r.entries) // a map does not shrink
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
	m, known := metricIndex[key.Metric]
	if e := r.entries[entryKey{key.Account, key.ModelID}]; e != nil && known {
		bit := uint16(1) << m
		for i := range e.p {
			p := &e.p[i]
			if p.hour != hour || p.start < lo || p.start >= hi || p.has&bit == 0 {
				continue
			}
			st := p.stats(m)
			if p.delta&bit != 0 {
				deltas = append(deltas, Bucket{Start: time.Unix(p.start, 0), Stats: st})
				continue
			}
			own[p.start] = true
			all[p.start] = &st
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
	for k, e := range r.entries {
		if account != "" && k.account != account {
			continue
		}
		for i := range e.p {
			p := &e.p[i]
			if !p.hour || p.start+int64(Hour/time.Second) <= lo {
				continue
			}
			for m := range defs {
				if p.has&(1<<m) != 0 && p.st[p.pos(m)].count > 0 {
					seen[Key{k.account, defs[m].Name, k.modelID}] = true
				}
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

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
