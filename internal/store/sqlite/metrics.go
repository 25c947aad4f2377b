package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/alarm"
	"github.com/tollgate-dev/tollgate/internal/metrics"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

const upsertBucket = `INSERT INTO metric_buckets (res_s, account, metric, model_id, start_ms, replica, count, sum, min, max, sketch)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (res_s, account, metric, model_id, start_ms, replica) DO UPDATE SET
	count = excluded.count, sum = excluded.sum, min = excluded.min, max = excluded.max, sketch = excluded.sketch`

const bucketColumns = `res_s, account, metric, model_id, start_ms, replica, count, sum, min, max, sketch`

// WriteMetricBuckets implements metrics.Store. SQLite has one writer at a
// time, so a merge's read and write cannot interleave with another's.
func (db *DB) WriteMetricBuckets(ctx context.Context, replace, merge []metrics.Bucket) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return internal(err, "begin metric write")
	}
	defer tx.Rollback()
	up, err := tx.PrepareContext(ctx, upsertBucket)
	if err != nil {
		return internal(err, "prepare metric write")
	}
	defer up.Close()
	put := func(b *metrics.Bucket) error {
		sk, _ := b.Stats.Sketch.MarshalBinary()
		_, err := up.ExecContext(ctx, sqlstore.ResSeconds(b.Res), b.Key.Account, b.Key.Metric, b.Key.ModelID, sqlstore.MS(b.Start), b.Replica,
			b.Stats.Count, b.Stats.Sum, b.Stats.Min, b.Stats.Max, sk)
		return err
	}
	for i := range replace {
		if err := put(&replace[i]); err != nil {
			return internal(err, "write metric bucket")
		}
	}
	for i := range merge {
		b := merge[i]
		stored, err := sqlstore.ScanBucket(tx.QueryRowContext(ctx, `SELECT `+bucketColumns+` FROM metric_buckets
			WHERE res_s = ? AND account = ? AND metric = ? AND model_id = ? AND start_ms = ? AND replica = ?`,
			sqlstore.ResSeconds(b.Res), b.Key.Account, b.Key.Metric, b.Key.ModelID, sqlstore.MS(b.Start), b.Replica))
		switch {
		case err == sql.ErrNoRows:
		case err != nil:
			return internal(err, "read metric bucket")
		default:
			stored.Stats.Merge(&b.Stats)
			b.Stats = stored.Stats
		}
		if err := put(&b); err != nil {
			return internal(err, "merge metric bucket")
		}
	}
	if err := tx.Commit(); err != nil {
		return internal(err, "commit metric write")
	}
	return nil
}

// MetricBuckets implements metrics.Store.
func (db *DB) MetricBuckets(ctx context.Context, res time.Duration, from, to time.Time, keys ...metrics.Key) ([]metrics.Bucket, error) {
	const order = ` ORDER BY start_ms, account, metric, model_id, replica`
	var out []metrics.Bucket
	query := func(q string, args ...any) error {
		bs, err := sqlstore.All(ctx, db.r, sqlstore.ScanBucket, q, args...)
		out = append(out, bs...)
		return err
	}
	if len(keys) == 0 {
		if err := query(`SELECT `+bucketColumns+` FROM metric_buckets WHERE res_s = ? AND start_ms >= ? AND start_ms < ?`+order,
			sqlstore.ResSeconds(res), sqlstore.MS(from), sqlstore.MS(to)); err != nil {
			return nil, internal(err, "query metric buckets")
		}
		return out, nil
	}
	for _, k := range uniqueKeys(keys) {
		if err := query(`SELECT `+bucketColumns+` FROM metric_buckets
			WHERE res_s = ? AND account = ? AND metric = ? AND model_id = ? AND start_ms >= ? AND start_ms < ?`+order,
			sqlstore.ResSeconds(res), k.Account, k.Metric, k.ModelID, sqlstore.MS(from), sqlstore.MS(to)); err != nil {
			return nil, internal(err, "query metric buckets")
		}
	}
	if len(keys) > 1 {
		slices.SortStableFunc(out, compareBuckets)
	}
	return out, nil
}

// uniqueKeys returns keys without repeats, in their first order.
func uniqueKeys(keys []metrics.Key) []metrics.Key {
	seen := make(map[metrics.Key]bool, len(keys))
	out := make([]metrics.Key, 0, len(keys))
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// compareBuckets orders buckets as metrics.Store.MetricBuckets returns
// them: by start, account, metric, model id and replica.
func compareBuckets(a, b metrics.Bucket) int {
	return cmp.Or(a.Start.Compare(b.Start), strings.Compare(a.Key.Account, b.Key.Account),
		strings.Compare(a.Key.Metric, b.Key.Metric), strings.Compare(a.Key.ModelID, b.Key.ModelID),
		strings.Compare(a.Replica, b.Replica))
}

// MetricSeries implements metrics.Store.
func (db *DB) MetricSeries(ctx context.Context, account string, res time.Duration, since time.Time) ([]metrics.Key, error) {
	q := `SELECT DISTINCT account, metric, model_id FROM metric_buckets WHERE res_s = ? AND start_ms >= ?`
	args := []any{sqlstore.ResSeconds(res), sqlstore.MS(since)}
	if account != "" {
		q += ` AND account = ?`
		args = append(args, account)
	}
	out, err := sqlstore.All(ctx, db.r, sqlstore.ScanMetricKey, q+` ORDER BY account, metric, model_id`, args...)
	if err != nil {
		return nil, internal(err, "query metric series")
	}
	return out, nil
}

// LatestMetricBucket implements metrics.Store.
func (db *DB) LatestMetricBucket(ctx context.Context, res time.Duration) (time.Time, error) {
	var v sql.NullInt64
	if err := db.r.QueryRowContext(ctx, `SELECT MAX(start_ms) FROM metric_buckets WHERE res_s = ?`, sqlstore.ResSeconds(res)).Scan(&v); err != nil {
		return time.Time{}, internal(err, "latest metric bucket")
	}
	if !v.Valid {
		return time.Time{}, nil
	}
	return sqlstore.FromMS(v.Int64), nil
}

// DeleteMetricBuckets implements metrics.Store.
func (db *DB) DeleteMetricBuckets(ctx context.Context, res time.Duration, before time.Time) error {
	if _, err := db.w.ExecContext(ctx, `DELETE FROM metric_buckets WHERE res_s = ? AND start_ms < ?`, sqlstore.ResSeconds(res), sqlstore.MS(before)); err != nil {
		return internal(err, "delete metric buckets")
	}
	return nil
}

// LoadAlarms implements alarm.Store.
func (db *DB) LoadAlarms(ctx context.Context) ([]alarm.Alarm, error) {
	out, err := sqlstore.All(ctx, db.r, sqlstore.ScanAlarm, `SELECT definition FROM alarms ORDER BY account, name`)
	if err != nil {
		return nil, internal(err, "query alarms")
	}
	return out, nil
}

func appendHistory(ctx context.Context, tx *sql.Tx, items []alarm.HistoryItem) error {
	for _, h := range items {
		if _, err := tx.ExecContext(ctx, `INSERT INTO alarm_history (account, alarm_name, time_ms, type, summary, data) VALUES (?, ?, ?, ?, ?, ?)`,
			h.Account, h.AlarmName, sqlstore.MS(h.Time), h.Type, h.Summary, h.Data); err != nil {
			return err
		}
	}
	return nil
}

// SaveAlarm implements alarm.Store.
func (db *DB) SaveAlarm(ctx context.Context, a alarm.Alarm, items []alarm.HistoryItem) error {
	def, err := json.Marshal(a)
	if err != nil {
		return internal(err, "encode alarm")
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return internal(err, "begin alarm write")
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO alarms (account, name, definition, state, state_updated_ms, config_updated_ms)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account, name) DO UPDATE SET definition = excluded.definition,
		state = excluded.state, state_updated_ms = excluded.state_updated_ms, config_updated_ms = excluded.config_updated_ms`,
		a.Account, a.Name, string(def), string(a.State), sqlstore.MS(a.StateUpdated), sqlstore.MS(a.ConfigurationUpdated)); err != nil {
		return internal(err, "write alarm")
	}
	if err := appendHistory(ctx, tx, items); err != nil {
		return internal(err, "write alarm history")
	}
	if err := tx.Commit(); err != nil {
		return internal(err, "commit alarm write")
	}
	return nil
}

// DeleteAlarms implements alarm.Store.
func (db *DB) DeleteAlarms(ctx context.Context, account string, names []string, items []alarm.HistoryItem) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return internal(err, "begin alarm delete")
	}
	defer tx.Rollback()
	for _, n := range names {
		if _, err := tx.ExecContext(ctx, `DELETE FROM alarms WHERE account = ? AND name = ?`, account, n); err != nil {
			return internal(err, "delete alarm")
		}
	}
	if err := appendHistory(ctx, tx, items); err != nil {
		return internal(err, "write alarm history")
	}
	if err := tx.Commit(); err != nil {
		return internal(err, "commit alarm delete")
	}
	return nil
}

// AppendAlarmHistory implements alarm.Store.
func (db *DB) AppendAlarmHistory(ctx context.Context, items []alarm.HistoryItem) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return internal(err, "begin alarm history")
	}
	defer tx.Rollback()
	if err := appendHistory(ctx, tx, items); err != nil {
		return internal(err, "write alarm history")
	}
	if err := tx.Commit(); err != nil {
		return internal(err, "commit alarm history")
	}
	return nil
}

// AlarmHistory implements alarm.Store.
func (db *DB) AlarmHistory(ctx context.Context, q alarm.HistoryQuery) ([]alarm.HistoryItem, error) {
	w := []string{"1 = 1"}
	var args []any
	if q.Account != "" {
		w, args = append(w, "account = ?"), append(args, q.Account)
	}
	if q.AlarmName != "" {
		w, args = append(w, "alarm_name = ?"), append(args, q.AlarmName)
	}
	if q.Type != "" {
		w, args = append(w, "type = ?"), append(args, q.Type)
	}
	if !q.From.IsZero() {
		w, args = append(w, "time_ms >= ?"), append(args, sqlstore.MS(q.From))
	}
	if !q.To.IsZero() {
		w, args = append(w, "time_ms < ?"), append(args, sqlstore.MS(q.To))
	}
	order := " ORDER BY time_ms, seq"
	if q.Newest {
		order = " ORDER BY time_ms DESC, seq DESC"
	}
	query := `SELECT account, alarm_name, time_ms, type, summary, data FROM alarm_history WHERE ` + strings.Join(w, " AND ") + order
	if q.Limit > 0 || q.Offset > 0 {
		limit := q.Limit
		if limit <= 0 {
			limit = -1
		}
		query += ` LIMIT ? OFFSET ?`
		args = append(args, limit, q.Offset)
	}
	out, err := sqlstore.All(ctx, db.r, sqlstore.ScanHistoryItem, query, args...)
	if err != nil {
		return nil, internal(err, "query alarm history")
	}
	return out, nil
}

// PruneAlarmHistory implements alarm.Store.
func (db *DB) PruneAlarmHistory(ctx context.Context, before time.Time) error {
	if _, err := db.w.ExecContext(ctx, `DELETE FROM alarm_history WHERE time_ms < ?`, sqlstore.MS(before)); err != nil {
		return internal(err, "prune alarm history")
	}
	return nil
}
