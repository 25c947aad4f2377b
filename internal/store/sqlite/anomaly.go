package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/anomaly"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

var _ anomaly.Store = (*DB)(nil)

// CreateAnomalyMonitor implements anomaly.Store: errkind.Conflict when
// the ARN exists.
func (db *DB) CreateAnomalyMonitor(ctx context.Context, m anomaly.Monitor) error {
	return sqlstore.InsertMonitor(ctx, db.w, errs, `INSERT INTO anomaly_monitors
		(arn, account, name, type, dimension, tag_key, monitor_values, resource_tags, created_at, updated_at, last_evaluated, value_count)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, m)
}

// AnomalyMonitors implements anomaly.Store.
func (db *DB) AnomalyMonitors(ctx context.Context, account string) ([]anomaly.Monitor, error) {
	return sqlstore.Monitors(ctx, db.r, errs,
		`SELECT `+sqlstore.MonitorColumns+` FROM anomaly_monitors ORDER BY created_at, arn`,
		`SELECT `+sqlstore.MonitorColumns+` FROM anomaly_monitors WHERE account = ? ORDER BY created_at, arn`, account)
}

func notFoundIfNone(res sql.Result, format string, args ...any) error {
	if n, _ := res.RowsAffected(); n == 0 {
		return errkind.New(errkind.NotFound, format, args...)
	}
	return nil
}

// RenameAnomalyMonitor implements anomaly.Store.
func (db *DB) RenameAnomalyMonitor(ctx context.Context, account, arn, name string, at time.Time) error {
	res, err := db.w.ExecContext(ctx, `UPDATE anomaly_monitors SET name = ?, updated_at = ? WHERE account = ? AND arn = ?`,
		name, sqlstore.MS(at), account, arn)
	if err != nil {
		return internal(err, "rename anomaly monitor")
	}
	return notFoundIfNone(res, "The cost anomaly monitor %s does not exist.", arn)
}

// DeleteAnomalyMonitor implements anomaly.Store: the monitor's anomalies
// and subscription entries go with it (foreign keys cascade).
func (db *DB) DeleteAnomalyMonitor(ctx context.Context, account, arn string) error {
	res, err := db.w.ExecContext(ctx, `DELETE FROM anomaly_monitors WHERE account = ? AND arn = ?`, account, arn)
	if err != nil {
		return internal(err, "delete anomaly monitor")
	}
	return notFoundIfNone(res, "The cost anomaly monitor %s does not exist.", arn)
}

// SetAnomalyMonitorEvaluated implements anomaly.Store.
func (db *DB) SetAnomalyMonitorEvaluated(ctx context.Context, arn string, end time.Time, values int) error {
	if _, err := db.w.ExecContext(ctx, `UPDATE anomaly_monitors SET last_evaluated = ?, value_count = ? WHERE arn = ?`,
		sqlstore.MSOrZero(end), values, arn); err != nil {
		return internal(err, "set anomaly monitor evaluated")
	}
	return nil
}

// insertLinks writes a subscription's monitors in order.
func insertLinks(ctx context.Context, tx *sql.Tx, s anomaly.Subscription) error {
	for i, m := range s.MonitorARNs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO anomaly_subscription_monitors (subscription_arn, monitor_arn, position)
			VALUES (?, ?, ?)`, s.ARN, m, i); err != nil {
			if isConstraint(err) {
				return errkind.Wrap(errkind.NotFound, err, "The cost anomaly monitor %s does not exist.", m)
			}
			return internal(err, "link subscription monitor")
		}
	}
	return nil
}

// CreateAnomalySubscription implements anomaly.Store.
func (db *DB) CreateAnomalySubscription(ctx context.Context, s anomaly.Subscription) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return internal(err, "begin")
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `INSERT INTO anomaly_subscriptions
		(arn, account, name, frequency, subscribers, threshold, legacy, resource_tags, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ARN, s.Account, s.Name, string(s.Frequency), jsonText(s.Subscribers), jsonText(s.Threshold), s.Legacy,
		sqlstore.TagsJSON(s.ResourceTags), sqlstore.MS(s.CreatedAt), sqlstore.MS(s.UpdatedAt))
	if isConstraint(err) {
		return errkind.Wrap(errkind.Conflict, err, "The cost anomaly subscription %s already exists.", s.ARN)
	}
	if err != nil {
		return internal(err, "create anomaly subscription")
	}
	if err := insertLinks(ctx, tx, s); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return internal(err, "commit")
	}
	return nil
}

// AnomalySubscriptions implements anomaly.Store.
func (db *DB) AnomalySubscriptions(ctx context.Context, account string) ([]anomaly.Subscription, error) {
	q := `SELECT s.arn, s.account, s.name, s.frequency, s.subscribers, s.threshold, s.legacy, s.resource_tags,
		s.created_at, s.updated_at, COALESCE((SELECT json_group_array(monitor_arn) FROM
			(SELECT monitor_arn FROM anomaly_subscription_monitors WHERE subscription_arn = s.arn ORDER BY position)), '[]')
		FROM anomaly_subscriptions s`
	var args []any
	if account != "" {
		q += ` WHERE s.account = ?`
		args = append(args, account)
	}
	out, err := sqlstore.All(ctx, db.r, sqlstore.ScanSubscription, q+` ORDER BY s.created_at, s.arn`, args...)
	if err != nil {
		return nil, internal(err, "list anomaly subscriptions")
	}
	return out, nil
}

// UpdateAnomalySubscription implements anomaly.Store.
func (db *DB) UpdateAnomalySubscription(ctx context.Context, s anomaly.Subscription) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return internal(err, "begin")
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE anomaly_subscriptions SET name = ?, frequency = ?, subscribers = ?, threshold = ?,
		legacy = ?, updated_at = ? WHERE account = ? AND arn = ?`,
		s.Name, string(s.Frequency), jsonText(s.Subscribers), jsonText(s.Threshold), s.Legacy, sqlstore.MS(s.UpdatedAt), s.Account, s.ARN)
	if err != nil {
		return internal(err, "update anomaly subscription")
	}
	if err := notFoundIfNone(res, "The cost anomaly subscription %s does not exist.", s.ARN); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM anomaly_subscription_monitors WHERE subscription_arn = ?`, s.ARN); err != nil {
		return internal(err, "unlink subscription monitors")
	}
	if err := insertLinks(ctx, tx, s); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return internal(err, "commit")
	}
	return nil
}

// DeleteAnomalySubscription implements anomaly.Store.
func (db *DB) DeleteAnomalySubscription(ctx context.Context, account, arn string) error {
	res, err := db.w.ExecContext(ctx, `DELETE FROM anomaly_subscriptions WHERE account = ? AND arn = ?`, account, arn)
	if err != nil {
		return internal(err, "delete anomaly subscription")
	}
	return notFoundIfNone(res, "The cost anomaly subscription %s does not exist.", arn)
}

// PutAnomalies implements anomaly.Store. An anomaly whose monitor no
// longer exists (deleted during an evaluation) is skipped.
func (db *DB) PutAnomalies(ctx context.Context, as []anomaly.Anomaly) error {
	if len(as) == 0 {
		return nil
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return internal(err, "begin")
	}
	defer tx.Rollback()
	for _, a := range as {
		rc := a.RootCauses
		if rc == nil {
			rc = []anomaly.RootCause{}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO anomalies (id, account, monitor_arn, dimension_value, start_ms, end_ms,
			open, adapted, max_score, current_score, actual_nanos, expected_nanos, max_impact, root_causes, feedback,
			detected_at, updated_at)
			SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM anomaly_monitors WHERE arn = ?)
			ON CONFLICT (id) DO UPDATE SET dimension_value = excluded.dimension_value, start_ms = excluded.start_ms,
			end_ms = excluded.end_ms, open = excluded.open, adapted = excluded.adapted, max_score = excluded.max_score,
			current_score = excluded.current_score, actual_nanos = excluded.actual_nanos,
			expected_nanos = excluded.expected_nanos, max_impact = excluded.max_impact,
			root_causes = excluded.root_causes, updated_at = excluded.updated_at`,
			a.ID, a.Account, a.MonitorARN, a.DimensionValue, sqlstore.MS(a.Start), sqlstore.MS(a.End), a.Open, a.Adapted, a.MaxScore,
			a.CurrentScore, int64(a.Actual), int64(a.Expected), int64(a.MaxImpact), jsonText(rc), string(a.Feedback),
			sqlstore.MS(a.DetectedAt), sqlstore.MS(a.UpdatedAt), a.MonitorARN); err != nil {
			return internal(err, "put anomaly")
		}
	}
	if err := tx.Commit(); err != nil {
		return internal(err, "commit")
	}
	return nil
}

// Anomalies implements anomaly.Store.
func (db *DB) Anomalies(ctx context.Context, f anomaly.AnomalyFilter) ([]anomaly.Anomaly, error) {
	var where []string
	var args []any
	if f.Account != "" {
		where, args = append(where, "account = ?"), append(args, f.Account)
	}
	if f.MonitorARN != "" {
		where, args = append(where, "monitor_arn = ?"), append(args, f.MonitorARN)
	}
	if !f.EndFrom.IsZero() {
		where, args = append(where, "end_ms >= ?"), append(args, sqlstore.MS(f.EndFrom))
	}
	if !f.EndTo.IsZero() {
		where, args = append(where, "end_ms < ?"), append(args, sqlstore.MS(f.EndTo))
	}
	q := `SELECT id, account, monitor_arn, dimension_value, start_ms, end_ms, open, adapted, max_score, current_score,
		actual_nanos, expected_nanos, max_impact, root_causes, feedback, detected_at, updated_at FROM anomalies`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	out, err := sqlstore.All(ctx, db.r, sqlstore.ScanAnomaly, q+" ORDER BY end_ms, id", args...)
	if err != nil {
		return nil, internal(err, "list anomalies")
	}
	return out, nil
}

// SetAnomalyFeedback implements anomaly.Store.
func (db *DB) SetAnomalyFeedback(ctx context.Context, account, id string, fb anomaly.Feedback) error {
	res, err := db.w.ExecContext(ctx, `UPDATE anomalies SET feedback = ? WHERE account = ? AND id = ?`, string(fb), account, id)
	if err != nil {
		return internal(err, "set anomaly feedback")
	}
	return notFoundIfNone(res, "The anomaly %s does not exist.", id)
}

// jsonText encodes v, a value that always encodes (lists, plain structs).
func jsonText(v any) string {
	s, _ := sqlstore.JSONText(v)
	return s
}
