package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/alarm"
	"github.com/tollgate-dev/tollgate/internal/metrics"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

// lockMetricReplica is the first key of the transaction-scoped advisory
// lock WriteMetricBuckets holds per replica (the second is the hash of the
// replica id), so two writes of one replica's buckets never interleave:
// a merge reads the stored bucket and writes the sum, which a concurrent
// write of the same row would otherwise undo. The two-key form never
// collides with the single-key locks of postgres.go. Advisory locks are
// per database, so replicas of another schema using the same ids only
// wait for one another now and then. "tgmb" in ASCII.
const lockMetricReplica int32 = 0x74676d62

// metricWriteAttempts bounds the tries of one WriteMetricBuckets that
// fails on a deadlock or serialization failure. Writers of one replica
// are serialised and write their rows in one order, so neither should
// happen (only a concurrent DeleteMetricBuckets of the same old rows
// could); a failed attempt is rolled back, so trying again is safe.
const metricWriteAttempts = 3

// bucketColumns holds rows column by column, for unnest.
type bucketColumns struct {
	res, start, count, sum, min, max  []int64
	account, metric, modelID, replica []string
	sketch                            [][]byte
	sketches                          []byte // what sketch's slices hold
}

func (c *bucketColumns) reset() {
	c.res, c.start, c.count, c.sum, c.min, c.max = c.res[:0], c.start[:0], c.count[:0], c.sum[:0], c.min[:0], c.max[:0]
	c.account, c.metric, c.modelID, c.replica = c.account[:0], c.metric[:0], c.modelID[:0], c.replica[:0]
	c.sketch, c.sketches = c.sketch[:0], c.sketches[:0]
}

func (c *bucketColumns) addKey(r *sqlstore.MetricRow) {
	c.res, c.start = append(c.res, r.Res), append(c.start, r.Start)
	c.account, c.metric = append(c.account, r.Account), append(c.metric, r.Metric)
	c.modelID, c.replica = append(c.modelID, r.ModelID), append(c.replica, r.Replica)
}

func (c *bucketColumns) addStats(s *metrics.Stats) {
	c.count, c.sum, c.min, c.max = append(c.count, s.Count), append(c.sum, s.Sum), append(c.min, s.Min), append(c.max, s.Max)
	// An earlier sketch's slice keeps its array if appending moves the
	// buffer: it stays valid.
	at := len(c.sketches)
	c.sketches, _ = s.Sketch.AppendBinary(c.sketches)
	sk := c.sketches[at:len(c.sketches):len(c.sketches)]
	if sk == nil {
		sk = []byte{} // bytea NOT NULL
	}
	c.sketch = append(c.sketch, sk)
}

// selectBuckets reads the stored rows of a list of primary keys ($1 to
// $6): the key's position in the list (from 1), then count, sum, min, max
// and sketch.
const selectBuckets = `SELECT k.n, b.count, b.sum, b.min, b.max, b.sketch
	FROM unnest($1::integer[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[])
		WITH ORDINALITY AS k (res_s, account, metric, model_id, start_ms, replica, n)
	JOIN metric_buckets b USING (res_s, account, metric, model_id, start_ms, replica)`

// upsertBuckets writes rows, replacing stored ones, in the order given.
const upsertBuckets = `INSERT INTO metric_buckets (res_s, account, metric, model_id, start_ms, replica, count, sum, min, max, sketch)
	SELECT res_s, account, metric, model_id, start_ms, replica, count, sum, min, max, sketch
	FROM unnest($1::integer[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[],
		$7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bytea[])
		WITH ORDINALITY AS u (res_s, account, metric, model_id, start_ms, replica, count, sum, min, max, sketch, n)
	ORDER BY n
	ON CONFLICT (res_s, account, metric, model_id, start_ms, replica) DO UPDATE SET
	count = excluded.count, sum = excluded.sum, min = excluded.min, max = excluded.max, sketch = excluded.sketch`

// WriteMetricBuckets implements metrics.Store. In one transaction it
// takes the advisory lock of each replica the buckets belong to (in
// order), folds replace and merge into one final row per primary key
// (sqlstore.FoldMetricRows), adds the stored rows of the merged ones (one
// query), and writes every row with one INSERT ... ON CONFLICT DO
// UPDATE, sorted by primary key, so concurrent writes lock shared rows in
// one order.
func (db *DB) WriteMetricBuckets(ctx context.Context, replace, merge []metrics.Bucket) error {
	rows := sqlstore.FoldMetricRows(replace, merge)
	if len(rows) == 0 {
		return nil
	}
	var replicas []string
	for i := range rows {
		if !slices.Contains(replicas, rows[i].Replica) {
			replicas = append(replicas, rows[i].Replica)
		}
	}
	slices.Sort(replicas)
	var c bucketColumns
	var err error
	for attempt := 1; attempt <= metricWriteAttempts; attempt++ {
		err = db.writeBucketsTx(ctx, rows, replicas, &c)
		if errs.Class(err) != sqlstore.Serialization {
			break
		}
	}
	if err != nil {
		return internal(err, "write metric buckets")
	}
	return nil
}

// writeBucketsTx is one attempt at WriteMetricBuckets; rows are sorted by
// primary key, replicas too. rows is not modified; c is a buffer.
func (db *DB) writeBucketsTx(ctx context.Context, rows []sqlstore.MetricRow, replicas []string, c *bucketColumns) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, r := range replicas {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, lockMetricReplica, r); err != nil {
			return err
		}
	}
	// The stored rows of the merged buckets: under the replicas' locks no
	// other write of them can come in between this read and the write.
	c.reset()
	var merged []int // positions in rows of c's keys
	for i := range rows {
		if rows[i].Merge {
			c.addKey(&rows[i])
			merged = append(merged, i)
		}
	}
	stored := map[int]metrics.Stats{}
	if len(merged) > 0 {
		err := sqlstore.Each(ctx, tx, selectBuckets, []any{c.res, c.account, c.metric, c.modelID, c.start, c.replica}, func(r *sql.Rows) error {
			var n int
			var st metrics.Stats
			var sk sql.RawBytes
			if err := r.Scan(&n, &st.Count, &st.Sum, &st.Min, &st.Max, &sk); err != nil {
				return err
			}
			if err := st.Sketch.UnmarshalBinary(sk); err != nil {
				return err
			}
			stored[merged[n-1]] = st
			return nil
		})
		if err != nil {
			return err
		}
	}
	c.reset()
	for i := range rows {
		r := &rows[i]
		c.addKey(r)
		if st, ok := stored[i]; ok {
			st.Merge(&r.Stats)
			c.addStats(&st)
			continue
		}
		c.addStats(&r.Stats)
	}
	if _, err := tx.ExecContext(ctx, upsertBuckets, c.res, c.account, c.metric, c.modelID, c.start, c.replica,
		c.count, c.sum, c.min, c.max, c.sketch); err != nil {
		return err
	}
	return tx.Commit()
}

// MetricBuckets implements metrics.Store.
func (db *DB) MetricBuckets(ctx context.Context, res time.Duration, from, to time.Time, keys ...metrics.Key) ([]metrics.Bucket, error) {
	q := `SELECT res_s, account, metric, model_id, start_ms, replica, count, sum, min, max, sketch FROM metric_buckets
		WHERE res_s = $1 AND start_ms >= $2 AND start_ms < $3`
	args := []any{sqlstore.ResSeconds(res), sqlstore.MS(from), sqlstore.MS(to)}
	if len(keys) > 0 {
		var accounts, names, models []string
		for _, k := range keys {
			accounts, names, models = append(accounts, k.Account), append(names, k.Metric), append(models, k.ModelID)
		}
		q += ` AND (account, metric, model_id) IN (SELECT * FROM unnest($4::text[], $5::text[], $6::text[]))`
		args = append(args, accounts, names, models)
	}
	q += ` ORDER BY start_ms, account COLLATE "C", metric COLLATE "C", model_id COLLATE "C", replica COLLATE "C"`
	out, err := sqlstore.All(ctx, db.db, sqlstore.ScanBucket, q, args...)
	if err != nil {
		return nil, internal(err, "query metric buckets")
	}
	return out, nil
}

// MetricSeries implements metrics.Store.
func (db *DB) MetricSeries(ctx context.Context, account string, res time.Duration, since time.Time) ([]metrics.Key, error) {
	q := `SELECT account, metric, model_id FROM metric_buckets WHERE res_s = $1 AND start_ms >= $2`
	args := []any{sqlstore.ResSeconds(res), sqlstore.MS(since)}
	if account != "" {
		q += ` AND account = $3`
		args = append(args, account)
	}
	q += ` GROUP BY account, metric, model_id ORDER BY account COLLATE "C", metric COLLATE "C", model_id COLLATE "C"`
	out, err := sqlstore.All(ctx, db.db, sqlstore.ScanMetricKey, q, args...)
	if err != nil {
		return nil, internal(err, "query metric series")
	}
	return out, nil
}

// LatestMetricBucket implements metrics.Store.
func (db *DB) LatestMetricBucket(ctx context.Context, res time.Duration) (time.Time, error) {
	var v sql.NullInt64
	if err := db.db.QueryRowContext(ctx, `SELECT max(start_ms) FROM metric_buckets WHERE res_s = $1`, sqlstore.ResSeconds(res)).Scan(&v); err != nil {
		return time.Time{}, internal(err, "latest metric bucket")
	}
	if !v.Valid {
		return time.Time{}, nil
	}
	return sqlstore.FromMS(v.Int64), nil
}

// DeleteMetricBuckets implements metrics.Store.
func (db *DB) DeleteMetricBuckets(ctx context.Context, res time.Duration, before time.Time) error {
	if _, err := db.db.ExecContext(ctx, `DELETE FROM metric_buckets WHERE res_s = $1 AND start_ms < $2`, sqlstore.ResSeconds(res), sqlstore.MS(before)); err != nil {
		return internal(err, "delete metric buckets")
	}
	return nil
}

// LoadAlarms implements alarm.Store.
func (db *DB) LoadAlarms(ctx context.Context) ([]alarm.Alarm, error) {
	out, err := sqlstore.All(ctx, db.db, sqlstore.ScanAlarm, `SELECT definition FROM alarms ORDER BY account COLLATE "C", name COLLATE "C"`)
	if err != nil {
		return nil, internal(err, "query alarms")
	}
	return out, nil
}

// appendHistory inserts items in their order (seq follows it).
func appendHistory(ctx context.Context, ex interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, items []alarm.HistoryItem) error {
	if len(items) == 0 {
		return nil
	}
	n := len(items)
	accounts, names, types, summaries, data := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	times := make([]int64, n)
	for i, h := range items {
		accounts[i], names[i], times[i], types[i], summaries[i], data[i] = h.Account, h.AlarmName, sqlstore.MS(h.Time), h.Type, h.Summary, h.Data
	}
	_, err := ex.ExecContext(ctx, `INSERT INTO alarm_history (account, alarm_name, time_ms, type, summary, data)
		SELECT account, alarm_name, time_ms, type, summary, data
		FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[])
			WITH ORDINALITY AS u (account, alarm_name, time_ms, type, summary, data, n)
		ORDER BY n`, accounts, names, times, types, summaries, data)
	return err
}

// SaveAlarm implements alarm.Store. The change is announced on Channel
// (ChangeAlarm).
func (db *DB) SaveAlarm(ctx context.Context, a alarm.Alarm, items []alarm.HistoryItem) error {
	def, err := json.Marshal(a)
	if err != nil {
		return internal(err, "encode alarm")
	}
	return db.change(ctx, ChangeAlarm, "save alarm", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO alarms (account, name, definition, state, state_updated_ms, config_updated_ms)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account, name) DO UPDATE SET definition = excluded.definition,
			state = excluded.state, state_updated_ms = excluded.state_updated_ms, config_updated_ms = excluded.config_updated_ms`,
			a.Account, a.Name, string(def), string(a.State), sqlstore.MS(a.StateUpdated), sqlstore.MS(a.ConfigurationUpdated)); err != nil {
			return internal(err, "write alarm")
		}
		if err := appendHistory(ctx, tx, items); err != nil {
			return internal(err, "write alarm history")
		}
		return nil
	})
}

// DeleteAlarms implements alarm.Store. The change is announced on
// Channel (ChangeAlarm).
func (db *DB) DeleteAlarms(ctx context.Context, account string, names []string, items []alarm.HistoryItem) error {
	return db.change(ctx, ChangeAlarm, "delete alarms", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM alarms WHERE account = $1 AND name = ANY ($2::text[])`,
			account, slices.Sorted(slices.Values(names))); err != nil {
			return internal(err, "delete alarms")
		}
		if err := appendHistory(ctx, tx, items); err != nil {
			return internal(err, "write alarm history")
		}
		return nil
	})
}

// AppendAlarmHistory implements alarm.Store.
func (db *DB) AppendAlarmHistory(ctx context.Context, items []alarm.HistoryItem) error {
	if err := appendHistory(ctx, db.db, items); err != nil {
		return internal(err, "write alarm history")
	}
	return nil
}

// AlarmHistory implements alarm.Store.
func (db *DB) AlarmHistory(ctx context.Context, q alarm.HistoryQuery) ([]alarm.HistoryItem, error) {
	var w []string
	var args []any
	where := func(cond string, v any) {
		args = append(args, v)
		w = append(w, cond+" $"+strconv.Itoa(len(args)))
	}
	if q.Account != "" {
		where("account =", q.Account)
	}
	if q.AlarmName != "" {
		where("alarm_name =", q.AlarmName)
	}
	if q.Type != "" {
		where("type =", q.Type)
	}
	if !q.From.IsZero() {
		where("time_ms >=", sqlstore.MS(q.From))
	}
	if !q.To.IsZero() {
		where("time_ms <", sqlstore.MS(q.To))
	}
	query := `SELECT account, alarm_name, time_ms, type, summary, data FROM alarm_history`
	if len(w) > 0 {
		query += ` WHERE ` + strings.Join(w, " AND ")
	}
	if q.Newest {
		query += ` ORDER BY time_ms DESC, seq DESC`
	} else {
		query += ` ORDER BY time_ms, seq`
	}
	if q.Limit > 0 {
		args = append(args, q.Limit)
		query += ` LIMIT $` + strconv.Itoa(len(args))
	}
	if q.Offset > 0 {
		args = append(args, q.Offset)
		query += ` OFFSET $` + strconv.Itoa(len(args))
	}
	out, err := sqlstore.All(ctx, db.db, sqlstore.ScanHistoryItem, query, args...)
	if err != nil {
		return nil, internal(err, "query alarm history")
	}
	return out, nil
}

// PruneAlarmHistory implements alarm.Store.
func (db *DB) PruneAlarmHistory(ctx context.Context, before time.Time) error {
	if _, err := db.db.ExecContext(ctx, `DELETE FROM alarm_history WHERE time_ms < $1`, sqlstore.MS(before)); err != nil {
		return internal(err, "prune alarm history")
	}
	return nil
}
