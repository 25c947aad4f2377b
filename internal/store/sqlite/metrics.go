package sqlite

import (
	"cmp"
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

const bucketColumns = `res_s, account, metric, model_id, start_ms, replica, count, sum, min, max, sketch`

// metricBatch is the most rows one statement of WriteMetricBuckets reads
// or writes: 11 parameters a row stay far below SQLite's 32,766.
const metricBatch = 256

// upsertBuckets returns the statement writing n rows (11 parameters each,
// in bucketColumns order), replacing stored ones.
func upsertBuckets(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO metric_buckets (` + bucketColumns + `) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`(?,?,?,?,?,?,?,?,?,?,?)`)
	}
	b.WriteString(` ON CONFLICT (res_s, account, metric, model_id, start_ms, replica) DO UPDATE SET
	count = excluded.count, sum = excluded.sum, min = excluded.min, max = excluded.max, sketch = excluded.sketch`)
	return b.String()
}

// selectBuckets returns the query of the stored rows of n primary keys (6
// parameters each): the key's position in the list, then count, sum, min,
// max and sketch.
func selectBuckets(n int) string {
	var b strings.Builder
	b.WriteString(`WITH k (n, res_s, account, metric, model_id, start_ms, replica) AS (VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`(` + strconv.Itoa(i) + `,?,?,?,?,?,?)`)
	}
	b.WriteString(`) SELECT k.n, b.count, b.sum, b.min, b.max, b.sketch FROM k JOIN metric_buckets b
	ON b.res_s = k.res_s AND b.account = k.account AND b.metric = k.metric AND b.model_id = k.model_id
	AND b.start_ms = k.start_ms AND b.replica = k.replica`)
	return b.String()
}

var (
	upsertBatch = upsertBuckets(metricBatch)
	selectBatch = selectBuckets(metricBatch)
)

// WriteMetricBuckets implements metrics.Store. It folds replace and merge
// into one row per primary key (sqlstore.FoldMetricRows); then, metricBatch
// rows at a time, it reads the stored rows of the merged ones with one
// query, adds them up in Go and writes every row with one multi-row
// INSERT ... ON CONFLICT DO UPDATE. SQLite has one writer at a time, so a
// merge's read and write cannot interleave with another's.
func (db *DB) WriteMetricBuckets(ctx context.Context, replace, merge []metrics.Bucket) error {
	rows := sqlstore.FoldMetricRows(replace, merge)
	if len(rows) == 0 {
		return nil
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return internal(err, "begin metric write")
	}
	defer tx.Rollback()
	w := metricWriter{tx: tx}
	defer w.close()
	for len(rows) > 0 {
		n := min(len(rows), metricBatch)
		if err := w.mergeStored(ctx, rows[:n]); err != nil {
			return internal(err, "read metric buckets")
		}
		if err := w.upsert(ctx, rows[:n]); err != nil {
			return internal(err, "write metric buckets")
		}
		rows = rows[n:]
	}
	if err := tx.Commit(); err != nil {
		return internal(err, "commit metric write")
	}
	return nil
}

// metricWriter writes the batches of one WriteMetricBuckets, reusing its
// prepared statements and argument buffers.
type metricWriter struct {
	tx                     *sql.Tx
	upsertStmt, selectStmt *sql.Stmt // of metricBatch rows, prepared on first use
	args                   []any
	idx                    []int  // positions of a batch's merged rows
	sketches               []byte // a batch's encoded sketches, never nil
}

func (w *metricWriter) close() {
	for _, st := range [2]*sql.Stmt{w.upsertStmt, w.selectStmt} {
		if st != nil {
			st.Close()
		}
	}
}

// prepared returns *p, preparing q into it first if need be.
func (w *metricWriter) prepared(ctx context.Context, p **sql.Stmt, q string) (*sql.Stmt, error) {
	if *p == nil {
		st, err := w.tx.PrepareContext(ctx, q)
		if err != nil {
			return nil, err
		}
		*p = st
	}
	return *p, nil
}

// mergeStored adds the stored row of each merged row of rows (at most
// metricBatch) to it, which then replaces the stored one.
func (w *metricWriter) mergeStored(ctx context.Context, rows []sqlstore.MetricRow) error {
	w.args, w.idx = w.args[:0], w.idx[:0]
	for i := range rows {
		if r := &rows[i]; r.Merge {
			w.idx = append(w.idx, i)
			w.args = append(w.args, r.Res, r.Account, r.Metric, r.ModelID, r.Start, r.Replica)
		}
	}
	if len(w.idx) == 0 {
		return nil
	}
	var rs *sql.Rows
	var err error
	if len(w.idx) == metricBatch {
		var st *sql.Stmt
		if st, err = w.prepared(ctx, &w.selectStmt, selectBatch); err == nil {
			rs, err = st.QueryContext(ctx, w.args...)
		}
	} else {
		rs, err = w.tx.QueryContext(ctx, selectBuckets(len(w.idx)), w.args...)
	}
	if err != nil {
		return err
	}
	defer rs.Close()
	for rs.Next() {
		var n int
		var st metrics.Stats
		var sk sql.RawBytes
		if err := rs.Scan(&n, &st.Count, &st.Sum, &st.Min, &st.Max, &sk); err != nil {
			return err
		}
		if err := st.Sketch.UnmarshalBinary(sk); err != nil {
			return err
		}
		r := &rows[w.idx[n]]
		st.Merge(&r.Stats)
		r.Stats, r.Merge = st, false
	}
	return rs.Err()
}

// upsert writes rows (at most metricBatch), replacing the stored ones.
func (w *metricWriter) upsert(ctx context.Context, rows []sqlstore.MetricRow) error {
	if w.sketches == nil {
		w.sketches = make([]byte, 0, 32*metricBatch)
	}
	w.args, w.sketches = w.args[:0], w.sketches[:0]
	for i := range rows {
		r := &rows[i]
		// An earlier sketch's slice keeps its array if appending moves
		// the buffer: it stays valid.
		at := len(w.sketches)
		w.sketches, _ = r.Stats.Sketch.AppendBinary(w.sketches)
		w.args = append(w.args, r.Res, r.Account, r.Metric, r.ModelID, r.Start, r.Replica,
			r.Stats.Count, r.Stats.Sum, r.Stats.Min, r.Stats.Max, w.sketches[at:len(w.sketches):len(w.sketches)])
	}
	if len(rows) < metricBatch {
		_, err := w.tx.ExecContext(ctx, upsertBuckets(len(rows)), w.args...)
		return err
	}
	st, err := w.prepared(ctx, &w.upsertStmt, upsertBatch)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, w.args...)
	return err
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
