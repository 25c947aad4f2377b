package postgres

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// versionShards is the number of rows of ledger_version (see the migration).
const versionShards = 16

// appendAttempts bounds the tries of one applying transaction that
// fails on a deadlock or serialization failure. Appliers take their locks
// in one global order (journal rows without waiting, new tag sets,
// request ids, hourly rollups, daily rollups, version shard; each
// sorted), so neither should happen; the retry is insurance, and safe
// because applying is idempotent.
const appendAttempts = 3

// uniqueByRequestID returns recs without repeated request ids (the first
// of each is kept), sorted by request id so that concurrent appends insert
// overlapping ids in the same order. It sorts recs in place (records are
// large: journal rows usually hold them sorted already, and then nothing
// moves) and returns a prefix of it.
func uniqueByRequestID(recs []ledger.Record) []ledger.Record {
	byID := func(a, b ledger.Record) int { return strings.Compare(a.RequestID, b.RequestID) }
	if !slices.IsSortedFunc(recs, byID) {
		slices.SortStableFunc(recs, byID)
	}
	return slices.CompactFunc(recs, func(a, b ledger.Record) bool { return a.RequestID == b.RequestID })
}

// rollupKey is the primary key of one usage_hourly row, or of one
// usage_daily row with hour the day's midnight.
type rollupKey struct {
	hour                                                          int64
	account, regionServed, profileARN, modelID, principalID, oper string
	tagSet                                                        int64
	scope, tier, region                                           string
	long, latency                                                 bool
	unitKind                                                      string
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case b:
		return -1
	}
	return 1
}

func compareKeys(a, b rollupKey) int {
	return cmp.Or(cmp.Compare(a.hour, b.hour), strings.Compare(a.account, b.account),
		strings.Compare(a.regionServed, b.regionServed), strings.Compare(a.profileARN, b.profileARN),
		strings.Compare(a.modelID, b.modelID), strings.Compare(a.principalID, b.principalID),
		strings.Compare(a.oper, b.oper), cmp.Compare(a.tagSet, b.tagSet), strings.Compare(a.scope, b.scope),
		strings.Compare(a.tier, b.tier), compareBool(a.long, b.long), compareBool(a.latency, b.latency),
		strings.Compare(a.region, b.region), strings.Compare(a.unitKind, b.unitKind))
}

// rollupSums are the counters a batch adds to one rollup.
type rollupSums struct {
	calls, errors, in, out, cacheRead, cacheWrite, cacheWrite1h            int64
	cost, inCost, outCost, cacheReadCost, cacheWriteCost, cacheWrite1hCost int64
	fixedCost, n                                                           int64
	units, unitCost                                                        int64
}

func (s *rollupSums) add(o *rollupSums) {
	s.calls += o.calls
	s.errors += o.errors
	s.in += o.in
	s.out += o.out
	s.cacheRead += o.cacheRead
	s.cacheWrite += o.cacheWrite
	s.cost += o.cost
	s.inCost += o.inCost
	s.outCost += o.outCost
	s.cacheReadCost += o.cacheReadCost
	s.cacheWriteCost += o.cacheWriteCost
	s.cacheWrite1h += o.cacheWrite1h
	s.cacheWrite1hCost += o.cacheWrite1hCost
	s.fixedCost += o.fixedCost
	s.units += o.units
	s.unitCost += o.unitCost
	s.n += o.n
}

// rollupDeltas are the sums a batch adds to each rollup.
type rollupDeltas map[rollupKey]*rollupSums

func (d rollupDeltas) add(k rollupKey, s rollupSums) {
	if o := d[k]; o != nil {
		o.add(&s)
		return
	}
	d[k] = &s
}

// rollupKeyOf is the key of r's rollup at (hour) at.
func rollupKeyOf(at time.Time, r *ledger.Record, ts int64) rollupKey {
	return rollupKeyAt(sqlstore.MS(at), r, ts)
}

// rollupKeyAt is the key of r's rollup at (hour) hourMS, unix
// milliseconds.
func rollupKeyAt(hourMS int64, r *ledger.Record, ts int64) rollupKey {
	return rollupKey{hourMS, r.Account, r.RegionServed, r.ProfileARN, r.ModelID, r.PrincipalID, r.Operation, ts,
		r.Scope, r.ServiceTier, r.Region, r.LongContext, r.LatencyOptimized, r.UnitKind}
}

// sumsOf is what r adds to its rollup: its calls, errors and unpriced
// calls as ledger.Record.RollupCalls counts them when call is set, or only its tokens and costs (a re-pricing delta).
func sumsOf(r *ledger.Record, call bool) rollupSums {
	s := rollupSums{in: r.InputTokens, out: r.OutputTokens, cacheRead: r.CacheReadTokens, cacheWrite: r.CacheWriteTokens,
		cacheWrite1h: r.CacheWrite1hTokens, cost: int64(r.Cost), inCost: int64(r.InputCost), outCost: int64(r.OutputCost),
		cacheReadCost: int64(r.CacheReadCost), cacheWriteCost: int64(r.CacheWriteCost), cacheWrite1hCost: int64(r.CacheWrite1hCost),
		fixedCost: int64(r.FixedCost), units: r.Units, unitCost: int64(r.UnitCost)}
	if call {
		s.calls, s.errors, s.n = r.RollupCalls()
	}
	return s
}

// msPerDay is the length of a UTC day in milliseconds.
const msPerDay = 24 * 60 * 60 * 1000

// dailySums sums hourly rollup deltas per UTC day.
func dailySums(hourly rollupDeltas) rollupDeltas {
	out := make(rollupDeltas, len(hourly))
	for k, s := range hourly {
		k.hour -= k.hour % msPerDay
		d := out[k]
		if d == nil {
			d = &rollupSums{}
			out[k] = d
		}
		d.add(s)
	}
	return out
}

// sortedColumns returns sums as rollup columns in key order.
func sortedColumns(sums rollupDeltas) *rollupColumns {
	keys := make([]rollupKey, 0, len(sums))
	for k := range sums {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareKeys)
	var u rollupColumns
	for _, k := range keys {
		u.add(k, sums[k])
	}
	return &u
}

// upsertRollups adds a batch's sums to its rollups, one row per key, in the
// order given (sorted: concurrent appends lock shared rows in one order).
const upsertRollups = `INSERT INTO usage_hourly AS h (hour_ms, ` + sqlstore.RollupKeyColumns + `,
	calls, errors, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, cost_nanos,
	input_cost, output_cost, cache_read_cost, cache_write_cost, cache_write_1h_cost, fixed_cost, unpriced, units, unit_cost)
	SELECT hour_ms, ` + sqlstore.RollupKeyColumns + `,
		calls, errors, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, cost_nanos,
		input_cost, output_cost, cache_read_cost, cache_write_cost, cache_write_1h_cost, fixed_cost, unpriced, units, unit_cost
	FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
		$7::text[], $8::bigint[], $9::text[], $10::text[], $11::boolean[], $12::boolean[], $13::text[], $14::text[],
		$15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[], $19::bigint[], $20::bigint[], $21::bigint[], $22::bigint[],
		$23::bigint[], $24::bigint[], $25::bigint[], $26::bigint[], $27::bigint[], $28::bigint[], $29::bigint[],
		$30::bigint[], $31::bigint[])
		WITH ORDINALITY AS u (hour_ms, ` + sqlstore.RollupKeyColumns + `,
		calls, errors, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, cost_nanos,
		input_cost, output_cost, cache_read_cost, cache_write_cost, cache_write_1h_cost, fixed_cost, unpriced, units, unit_cost, n)
	ORDER BY n
	ON CONFLICT (hour_ms, ` + sqlstore.RollupKeyColumns + `) DO UPDATE SET
	calls = h.calls + excluded.calls, errors = h.errors + excluded.errors,
	input_tokens = h.input_tokens + excluded.input_tokens, output_tokens = h.output_tokens + excluded.output_tokens,
	cache_read_tokens = h.cache_read_tokens + excluded.cache_read_tokens,
	cache_write_tokens = h.cache_write_tokens + excluded.cache_write_tokens,
	cache_write_1h_tokens = h.cache_write_1h_tokens + excluded.cache_write_1h_tokens,
	cost_nanos = h.cost_nanos + excluded.cost_nanos,
	input_cost = h.input_cost + excluded.input_cost, output_cost = h.output_cost + excluded.output_cost,
	cache_read_cost = h.cache_read_cost + excluded.cache_read_cost, cache_write_cost = h.cache_write_cost + excluded.cache_write_cost,
	cache_write_1h_cost = h.cache_write_1h_cost + excluded.cache_write_1h_cost, fixed_cost = h.fixed_cost + excluded.fixed_cost,
	unpriced = h.unpriced + excluded.unpriced, units = h.units + excluded.units, unit_cost = h.unit_cost + excluded.unit_cost`

// upsertDaily is upsertRollups for the daily rollups.
var upsertDaily = strings.NewReplacer("usage_hourly", "usage_daily", "hour_ms", "day_ms").Replace(upsertRollups)

// recordInsertColumns are the columns of usage_records an append sets,
// in the order appendRecordCopy writes them.
const recordInsertColumns = `request_id, time_ms, account, region, region_served, principal_id,
	profile_arn, profile_id, model_id, provider, operation, input_tokens, output_tokens, cache_read_tokens,
	cache_write_tokens, latency_ms, ttft_ms, attempts, outcome, error_code, cost_nanos,
	input_cost, output_cost, cache_read_cost, cache_write_cost, priced, tag_set_id, service_tier,
	scope, long_context, latency_optimized, cache_write_1h_tokens, cache_write_1h_cost, fixed_cost, price_version, calls,
	units, unit_kind, unit_cost`

// insertRequestIDs inserts a batch's request ids ($1, $2: sorted, unique)
// that are new, in the order given (so appliers meeting on the same ids
// lock them in one order), and returns those it inserted: only their
// records are written and counted. A request id replayed, by this replica
// or another, so adds nothing anywhere.
const insertRequestIDs = `INSERT INTO usage_request_ids (request_id, time_ms)
	SELECT r, t FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS u (r, t, n) ORDER BY n
	ON CONFLICT (request_id) DO NOTHING
	RETURNING request_id`

// copyRequestIDs is the applier's first try at the request ids: a COPY
// of them all (sorted), which costs the database less than half
// insertRequestIDs, and fails (a unique violation, errRepeatedID) when one
// was recorded before. The transaction is then applied again with
// insertRequestIDs.
const copyRequestIDs = `COPY usage_request_ids (request_id, time_ms) FROM STDIN (FORMAT binary)`

// errRepeatedID is copyRequestIDs' unique violation: some request id of
// the batch is recorded already.
var errRepeatedID = errors.New("a request id of the batch is recorded already")

// copyRecords writes records in PostgreSQL's binary COPY format
// (appendRecordCopy): one COPY, routed to the month partitions, costs
// the database less per record than an INSERT of unnest()ed arrays, and
// needs no array encoding here.
const copyRecords = `COPY usage_records (` + recordInsertColumns + `) FROM STDIN (FORMAT binary)`

// applyRollups adds an applied batch's sums to its hourly rollups ($1 ..
// $31, rollupColumns.args, in key order), then to its daily ones ($32 ..
// $62, the same), then raises ledger_version shard $63, in one statement.
// Data-modifying WITH queries run once each; the daily rows wait for the
// count of the hourly ones and the version for that of the daily ones, so
// an applier takes its locks in the global order the comment on
// appendAttempts gives, each step's rows in key order.
var applyRollups = func() string {
	pairs := make([]string, 0, 2*31)
	for i := 1; i <= 31; i++ {
		pairs = append(pairs, fmt.Sprintf("$%d::", i), fmt.Sprintf("$%d::", i+31))
	}
	daily := strings.NewReplacer(pairs...).Replace(upsertDaily)
	daily = strings.Replace(daily, "\n\tORDER BY n", "\n\tWHERE (SELECT count(*) FROM hourly) >= 0\n\tORDER BY n", 1)
	return "WITH hourly AS (\n" + upsertRollups + "\n\tRETURNING 1\n), daily AS (\n" + daily + "\n\tRETURNING 1\n)\n" +
		"UPDATE ledger_version SET v = v + 1 WHERE shard = $63 AND (SELECT count(*) FROM daily) >= 0"
}()

// recordCopySize is about the size of a record in binary COPY data (39
// fields of 4 bytes' length, 24 of them 8-byte numbers, and the strings),
// to size the buffer once.
const recordCopySize = 512

// copyBuffers holds COPY data between applying transactions.
var copyBuffers = sync.Pool{New: func() any { return new([]byte) }}

// writeRecords writes recs (unique and sorted by request id) in tx, a
// transaction on conn: new tag sets first (in canonical order), then the
// request ids, the records of the ids inserted (COPY, copyRecords), and
// their sums, added up here per hourly and daily rollup, with the version
// (applyRollups). The ids go in with copyRequestIDs, or, when repeats is
// set, with insertRequestIDs, which skips those recorded before; without
// repeats a repeated id fails tx with errRepeatedID. It returns the tag
// set ids it used, by canonical form, for the cache once tx commits.
func (db *DB) writeRecords(ctx context.Context, conn *sql.Conn, tx *sql.Tx, recs []ledger.Record, repeats bool) (map[string]int64, error) {
	canon := make([]string, len(recs))
	for i := range recs {
		canon[i] = recs[i].Tags.Canonical()
	}
	local, err := db.tagSetIDsOf(ctx, tx, recs, canon)
	if err != nil {
		return nil, fmt.Errorf("tag sets: %w", err)
	}
	// The buffer goes back to the pool only when no COPY failed: pgconn's
	// CopyFrom can return an error while its goroutine still reads the
	// data (it does not wait for it), and a buffer reused meanwhile, by
	// the retry of a batch with a repeated id among others, would be
	// read and written at once. The race detector caught that in
	// TestPostgresReplicasFollowChanges.
	bp := copyBuffers.Get().(*[]byte)
	copied := true
	defer func() {
		if copied {
			copyBuffers.Put(bp)
		}
	}()
	times := make([]int64, len(recs))
	for i := range recs {
		times[i] = sqlstore.MS(recs[i].Time)
	}
	var inserted map[string]struct{} // nil: all of them
	if repeats {
		ids := make([]string, len(recs))
		for i := range recs {
			ids[i] = recs[i].RequestID
		}
		inserted = make(map[string]struct{}, len(recs))
		err = sqlstore.Each(ctx, tx, insertRequestIDs, []any{ids, times}, func(rows *sql.Rows) error {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			inserted[id] = struct{}{}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("request ids: %w", err)
		}
		if len(inserted) == 0 {
			return local, nil
		}
	} else {
		buf := append((*bp)[:0], copyHeader...)
		for i := range recs {
			buf = binary.BigEndian.AppendUint16(buf, 2)
			buf = appendText(buf, recs[i].RequestID)
			buf = appendBigint(buf, times[i])
		}
		buf = binary.BigEndian.AppendUint16(buf, 0xffff) // the trailer: -1 fields
		*bp = buf
		if err := copyFrom(ctx, conn, copyRequestIDs, buf); err != nil {
			copied = false
			if errs.Class(err) == sqlstore.Unique {
				return nil, fmt.Errorf("%w: %w", errRepeatedID, err)
			}
			return nil, fmt.Errorf("request ids: %w", err)
		}
	}
	buf := append(slices.Grow((*bp)[:0], len(copyHeader)+len(recs)*recordCopySize), copyHeader...)
	hourly := rollupDeltas{}
	for i := range recs {
		r := &recs[i]
		if inserted != nil {
			if _, ok := inserted[r.RequestID]; !ok {
				continue
			}
		}
		ts := local[canon[i]]
		buf = appendRecordCopy(buf, r, ts)
		hourly.add(rollupKeyAt(hourOf(times[i]), r, ts), sumsOf(r, true))
	}
	buf = binary.BigEndian.AppendUint16(buf, 0xffff)
	*bp = buf
	if err := copyFrom(ctx, conn, copyRecords, buf); err != nil {
		copied = false
		return nil, fmt.Errorf("records: %w", err)
	}
	args := append(sortedColumns(hourly).args(), sortedColumns(dailySums(hourly)).args()...)
	args = append(args, rand.IntN(versionShards))
	if _, err := tx.ExecContext(ctx, applyRollups, args...); err != nil {
		return nil, fmt.Errorf("rollups: %w", err)
	}
	return local, nil
}

// copyFrom runs the COPY ... FROM STDIN statement query on conn (in the
// transaction open on it) with data, binary COPY data.
func copyFrom(ctx context.Context, conn *sql.Conn, query string, data []byte) error {
	return conn.Raw(func(dc any) error {
		c, ok := dc.(interface{ Conn() *pgx.Conn })
		if !ok {
			return fmt.Errorf("connection of type %T: not pgx", dc)
		}
		_, err := c.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(data), query)
		return err
	})
}

// hourOf returns the start of the UTC hour holding unix milliseconds ms.
func hourOf(ms int64) int64 {
	const msPerHour = 60 * 60 * 1000
	return ms - ((ms%msPerHour)+msPerHour)%msPerHour
}

// copyHeader starts COPY data in the binary format: the signature, no
// flags, no header extension.
var copyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// appendRecordCopy appends r, with tag set tagSet, to buf as one tuple of
// binary COPY data in recordInsertColumns' order: text as its UTF-8
// bytes, bigint as 8 bytes and boolean as 1, big-endian, each after its
// length.
func appendRecordCopy(buf []byte, r *ledger.Record, tagSet int64) []byte {
	text := func(s string) { buf = appendText(buf, s) }
	bigint := func(v int64) { buf = appendBigint(buf, v) }
	boolean := func(v bool) {
		buf = binary.BigEndian.AppendUint32(buf, 1)
		if v {
			buf = append(buf, 1)
		} else {
			buf = append(buf, 0)
		}
	}
	buf = binary.BigEndian.AppendUint16(buf, 39)
	text(r.RequestID)
	bigint(sqlstore.MS(r.Time))
	text(r.Account)
	text(r.Region)
	text(r.RegionServed)
	text(r.PrincipalID)
	text(r.ProfileARN)
	text(r.ProfileID)
	text(r.ModelID)
	text(r.Provider)
	text(r.Operation)
	bigint(r.InputTokens)
	bigint(r.OutputTokens)
	bigint(r.CacheReadTokens)
	bigint(r.CacheWriteTokens)
	bigint(r.LatencyMs)
	bigint(r.TTFTMs)
	bigint(int64(r.Attempts))
	text(r.Outcome)
	text(r.ErrorCode)
	bigint(int64(r.Cost))
	bigint(int64(r.InputCost))
	bigint(int64(r.OutputCost))
	bigint(int64(r.CacheReadCost))
	bigint(int64(r.CacheWriteCost))
	boolean(r.Priced)
	bigint(tagSet)
	text(r.ServiceTier)
	text(r.Scope)
	boolean(r.LongContext)
	boolean(r.LatencyOptimized)
	bigint(r.CacheWrite1hTokens)
	bigint(int64(r.CacheWrite1hCost))
	bigint(int64(r.FixedCost))
	text(r.PriceVersion)
	bigint(r.CallCount())
	bigint(r.Units)
	text(r.UnitKind)
	bigint(int64(r.UnitCost))
	return buf
}

// appendText appends s to binary COPY data as a text field.
func appendText(buf []byte, s string) []byte {
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(s)))
	return append(buf, s...)
}

// appendBigint appends v to binary COPY data as a bigint field.
func appendBigint(buf []byte, v int64) []byte {
	buf = binary.BigEndian.AppendUint32(buf, 8)
	return binary.BigEndian.AppendUint64(buf, uint64(v))
}

// rollupColumns holds a batch of rollup deltas column by column.
type rollupColumns struct {
	hour, tagSet                                                                       []int64
	account, regionServed, profileARN, modelID, principalID, oper, scope, tier, region []string
	unitKind                                                                           []string
	long, latency                                                                      []bool
	calls, errors, in, out, cacheRead, cacheWrite, cacheWrite1h, cost, inCost,
	outCost, cacheReadCost, cacheWriteCost, cacheWrite1hCost, fixedCost, unpriced, units, unitCost []int64
}

func (u *rollupColumns) add(k rollupKey, s *rollupSums) {
	u.hour = append(u.hour, k.hour)
	u.account = append(u.account, k.account)
	u.regionServed = append(u.regionServed, k.regionServed)
	u.profileARN = append(u.profileARN, k.profileARN)
	u.modelID = append(u.modelID, k.modelID)
	u.principalID = append(u.principalID, k.principalID)
	u.oper = append(u.oper, k.oper)
	u.tagSet = append(u.tagSet, k.tagSet)
	u.scope = append(u.scope, k.scope)
	u.tier = append(u.tier, k.tier)
	u.long = append(u.long, k.long)
	u.latency = append(u.latency, k.latency)
	u.region = append(u.region, k.region)
	u.unitKind = append(u.unitKind, k.unitKind)
	u.calls = append(u.calls, s.calls)
	u.errors = append(u.errors, s.errors)
	u.in = append(u.in, s.in)
	u.out = append(u.out, s.out)
	u.cacheRead = append(u.cacheRead, s.cacheRead)
	u.cacheWrite = append(u.cacheWrite, s.cacheWrite)
	u.cacheWrite1h = append(u.cacheWrite1h, s.cacheWrite1h)
	u.cost = append(u.cost, s.cost)
	u.inCost = append(u.inCost, s.inCost)
	u.outCost = append(u.outCost, s.outCost)
	u.cacheReadCost = append(u.cacheReadCost, s.cacheReadCost)
	u.cacheWriteCost = append(u.cacheWriteCost, s.cacheWriteCost)
	u.cacheWrite1hCost = append(u.cacheWrite1hCost, s.cacheWrite1hCost)
	u.fixedCost = append(u.fixedCost, s.fixedCost)
	u.unpriced = append(u.unpriced, s.n)
	u.units = append(u.units, s.units)
	u.unitCost = append(u.unitCost, s.unitCost)
}

// args returns the columns in upsertRollups' parameter order.
func (u *rollupColumns) args() []any {
	return []any{u.hour, u.account, u.regionServed, u.profileARN, u.modelID, u.principalID,
		u.oper, u.tagSet, u.scope, u.tier, u.long, u.latency, u.region, u.unitKind, u.calls, u.errors, u.in, u.out, u.cacheRead,
		u.cacheWrite, u.cacheWrite1h, u.cost, u.inCost, u.outCost, u.cacheReadCost, u.cacheWriteCost,
		u.cacheWrite1hCost, u.fixedCost, u.unpriced, u.units, u.unitCost}
}

// tagSetIDs returns the id of every tag set of recs, by canonical form,
// inserting the new ones through tx (a transaction, or the pool: each
// statement then commits at once). The sets are looked up, then inserted
// (ON CONFLICT DO NOTHING, in canonical order), then looked up again for
// those another transaction inserted meanwhile; an existing row is never
// locked, so appends of popular tag sets do not wait for one another.
func (db *DB) tagSetIDs(ctx context.Context, tx sqlstore.Querier, recs []ledger.Record) (map[string]int64, error) {
	canon := make([]string, len(recs))
	for i := range recs {
		canon[i] = recs[i].Tags.Canonical()
	}
	return db.tagSetIDsOf(ctx, tx, recs, canon)
}

// tagSetIDsOf is tagSetIDs with the canonical form of each record's tag
// set given (canons[i] is recs[i]'s).
func (db *DB) tagSetIDsOf(ctx context.Context, tx sqlstore.Querier, recs []ledger.Record, canons []string) (map[string]int64, error) {
	local := map[string]int64{}
	sets := map[string]tags.Set{}
	db.mu.Lock()
	for i, c := range canons {
		if _, ok := local[c]; ok {
			continue
		}
		if id, ok := db.tagIDs[c]; ok {
			local[c] = id
		} else {
			sets[c] = recs[i].Tags
		}
	}
	db.mu.Unlock()
	if len(sets) == 0 {
		return local, nil
	}
	missing := func() [][]byte {
		var out [][]byte
		for c := range sets {
			if _, ok := local[c]; !ok {
				out = append(out, []byte(c))
			}
		}
		slices.SortFunc(out, bytes.Compare)
		return out
	}
	scan := func(rows *sql.Rows) error {
		var id int64
		var c []byte
		if err := rows.Scan(&id, &c); err != nil {
			return err
		}
		local[string(c)] = id
		return nil
	}
	lookup := func() error {
		return sqlstore.Each(ctx, tx, `SELECT id, canonical FROM tag_sets WHERE canonical = ANY($1::bytea[])`, []any{missing()}, scan)
	}
	if err := lookup(); err != nil {
		return nil, err
	}
	canon := missing()
	if len(canon) == 0 {
		return local, nil
	}
	js := make([]string, len(canon))
	for i, c := range canon {
		js[i] = sqlstore.TagsJSON(sets[string(c)])
	}
	err := sqlstore.Each(ctx, tx, `INSERT INTO tag_sets (canonical, tags)
		SELECT c, t FROM unnest($1::bytea[], $2::jsonb[]) WITH ORDINALITY AS u (c, t, n) ORDER BY n
		ON CONFLICT (canonical) DO NOTHING
		RETURNING id, canonical`, []any{canon, js}, scan)
	if err != nil {
		return nil, err
	}
	if len(missing()) > 0 {
		if err := lookup(); err != nil {
			return nil, err
		}
		if m := missing(); len(m) > 0 {
			return nil, fmt.Errorf("%d tag sets neither found nor inserted", len(m))
		}
	}
	return local, nil
}

// querier is what tagSetsByID reads with: the pool, or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// tagSetsByID returns the tag sets with the given ids, from the cache or
// through q (tag sets never change, so the cache is never stale). The
// sets returned are shared: callers must not modify them.
func (db *DB) tagSetsByID(ctx context.Context, q querier, ids map[int64]bool) (map[int64]tags.Set, error) {
	out := make(map[int64]tags.Set, len(ids))
	var miss []int64
	db.mu.Lock()
	for id := range ids {
		if s, ok := db.tagsByID[id]; ok {
			out[id] = s
		} else {
			miss = append(miss, id)
		}
	}
	db.mu.Unlock()
	if len(miss) == 0 {
		return out, nil
	}
	rows, err := q.QueryContext(ctx, `SELECT id, tags FROM tag_sets WHERE id = ANY($1::bigint[])`, miss)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	fetched := map[int64]tags.Set{}
	for rows.Next() {
		var id int64
		var tj []byte
		if err := rows.Scan(&id, &tj); err != nil {
			return nil, err
		}
		s, err := sqlstore.DecodeTags(tj)
		if err != nil {
			return nil, err
		}
		fetched[id] = s
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	db.mu.Lock()
	for id, s := range fetched {
		db.tagsByID[id] = s
		out[id] = s
	}
	db.mu.Unlock()
	return out, nil
}

// where builds a WHERE clause on an optional account and a [from, to)
// range of col, numbering parameters after those in args.
func where(col string, account string, from, to time.Time, args []any) (string, []any) {
	var w []string
	if account != "" {
		args = append(args, account)
		w = append(w, fmt.Sprintf("account = $%d", len(args)))
	}
	if !from.IsZero() {
		args = append(args, sqlstore.MS(from))
		w = append(w, fmt.Sprintf("%s >= $%d", col, len(args)))
	}
	if !to.IsZero() {
		args = append(args, sqlstore.MS(to))
		w = append(w, fmt.Sprintf("%s < $%d", col, len(args)))
	}
	if len(w) == 0 {
		return "", args
	}
	return " WHERE " + strings.Join(w, " AND "), args
}

// Records implements ledger.Reader.
func (db *DB) Records(ctx context.Context, q ledger.Query) ([]ledger.Record, error) {
	if err := db.barrier(ctx); err != nil {
		return nil, err
	}
	cond, args := where("time_ms", q.Account, q.From, q.To, nil)
	query := `SELECT ` + sqlstore.RecordColumns + ` FROM usage_records` + cond + sqlstore.RecordsOrder(q.Newest)
	if q.Limit > 0 {
		args = append(args, q.Limit)
		query += fmt.Sprintf(" LIMIT $%d", len(args))
	}
	var out []ledger.Record
	var setIDs []int64
	ids := map[int64]bool{}
	err := sqlstore.Each(ctx, db.db, query, args, func(rows *sql.Rows) error {
		var r ledger.Record
		var t, ts int64
		if err := rows.Scan(sqlstore.RecordDest(&r, &t, &ts)...); err != nil {
			return err
		}
		r.Time = sqlstore.FromMS(t)
		out = append(out, r)
		setIDs = append(setIDs, ts)
		ids[ts] = true
		return nil
	})
	if err != nil {
		return nil, internal(err, "query records")
	}
	sets, err := db.tagSetsByID(ctx, db.db, ids)
	if err != nil {
		return nil, internal(err, "load tag sets")
	}
	for i := range out {
		out[i].Tags = sets[setIDs[i]].Clone()
	}
	return out, nil
}

const selectRollups = `SELECT hour_ms, ` + sqlstore.RollupColumns + `
	FROM usage_hourly`

// rollups runs a selectRollups query and returns its rollups with their
// tag sets, shared between rollups of one set.
func (db *DB) rollups(ctx context.Context, query string, args []any) ([]ledger.Rollup, error) {
	if err := db.barrier(ctx); err != nil {
		return nil, err
	}
	var sc rollupScanner
	var out []ledger.Rollup
	var setIDs []int64
	ids := map[int64]bool{}
	err := sqlstore.Each(ctx, db.db, query, args, func(rows *sql.Rows) error {
		r, ts, err := sc.scan(rows)
		if err != nil {
			return err
		}
		out = append(out, r)
		setIDs = append(setIDs, ts)
		ids[ts] = true
		return nil
	})
	if err != nil {
		return nil, internal(err, "query rollups")
	}
	sets, err := db.tagSetsByID(ctx, db.db, ids)
	if err != nil {
		return nil, internal(err, "load tag sets")
	}
	for i := range out {
		out[i].Tags = sets[setIDs[i]]
		if out[i].Tags == nil {
			out[i].Tags = tags.Set{}
		}
	}
	return slices.Clip(out), nil
}

// Rollups implements ledger.Reader.
func (db *DB) Rollups(ctx context.Context, account string, from, to time.Time) ([]ledger.Rollup, error) {
	cond, args := where("hour_ms", account, from.Truncate(time.Hour), to, nil)
	out, err := db.rollups(ctx, selectRollups+cond+" ORDER BY hour_ms", args)
	for i := range out {
		out[i].Tags = out[i].Tags.Clone() // callers own what Rollups returns
	}
	return out, err
}

// rollupScanner scans rows of the rollup columns (hour, then
// sqlstore.RollupColumns) through one set of destinations, so a query's
// rows cost no allocation each for them.
type rollupScanner struct {
	r     ledger.Rollup
	h, ts int64
	dest  []any
}

// scan returns the next row's rollup without its tags, and the tag set's
// id.
func (s *rollupScanner) scan(rows *sql.Rows) (ledger.Rollup, int64, error) {
	if s.dest == nil {
		s.dest = sqlstore.RollupDest(&s.r, &s.h, &s.ts)
	}
	s.r = ledger.Rollup{}
	err := rows.Scan(s.dest...)
	s.r.Hour = sqlstore.FromMS(s.h)
	return s.r, s.ts, err
}
