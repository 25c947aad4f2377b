package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/anomaly"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

var _ anomaly.Store = (*DB)(nil)

func monitorNotFound(arn string) error {
	return errkind.New(errkind.NotFound, "The cost anomaly monitor %s does not exist.", arn)
}

// changedNone reports whether res affected no row.
func changedNone(res sql.Result) bool {
	n, _ := res.RowsAffected()
	return n == 0
}

// CreateAnomalyMonitor implements anomaly.Store: errkind.Conflict when the
// ARN exists.
func (db *DB) CreateAnomalyMonitor(ctx context.Context, m anomaly.Monitor) error {
	return db.change(ctx, ChangeAnomaly, "create anomaly monitor", func(tx *sql.Tx) error {
		return sqlstore.InsertMonitor(ctx, tx, errs, `INSERT INTO anomaly_monitors
			(arn, account, name, type, dimension, tag_key, monitor_values, resource_tags, created_at, updated_at,
			last_evaluated, value_count)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, m)
	})
}

// AnomalyMonitors implements anomaly.Store.
func (db *DB) AnomalyMonitors(ctx context.Context, account string) ([]anomaly.Monitor, error) {
	return sqlstore.Monitors(ctx, db.db, errs,
		`SELECT `+sqlstore.MonitorColumns+` FROM anomaly_monitors ORDER BY created_at, arn COLLATE "C"`,
		`SELECT `+sqlstore.MonitorColumns+` FROM anomaly_monitors WHERE account = $1 ORDER BY created_at, arn COLLATE "C"`, account)
}

// RenameAnomalyMonitor implements anomaly.Store: errkind.NotFound when
// account has no monitor arn.
func (db *DB) RenameAnomalyMonitor(ctx context.Context, account, arn, name string, at time.Time) error {
	return db.change(ctx, ChangeAnomaly, "rename anomaly monitor", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE anomaly_monitors SET name = $1, updated_at = $2 WHERE account = $3 AND arn = $4`,
			name, sqlstore.MS(at), account, arn)
		if err != nil {
			return internal(err, "rename anomaly monitor")
		}
		if changedNone(res) {
			return monitorNotFound(arn)
		}
		return nil
	})
}

// DeleteAnomalyMonitor implements anomaly.Store: errkind.NotFound when
// account has no monitor arn. The monitor's anomalies and subscription
// entries go with it (the foreign keys cascade).
func (db *DB) DeleteAnomalyMonitor(ctx context.Context, account, arn string) error {
	return db.change(ctx, ChangeAnomaly, "delete anomaly monitor", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM anomaly_monitors WHERE account = $1 AND arn = $2`, account, arn)
		if err != nil {
			return internal(err, "delete anomaly monitor")
		}
		if changedNone(res) {
			return monitorNotFound(arn)
		}
		return nil
	})
}

// SetAnomalyMonitorEvaluated implements anomaly.Store.
func (db *DB) SetAnomalyMonitorEvaluated(ctx context.Context, arn string, end time.Time, values int) error {
	if _, err := db.db.ExecContext(ctx, `UPDATE anomaly_monitors SET last_evaluated = $1, value_count = $2 WHERE arn = $3`,
		sqlstore.MSOrZero(end), values, arn); err != nil {
		return internal(err, "set anomaly monitor evaluated")
	}
	return nil
}

// linkMonitors writes a subscription's monitors in order, in one
// statement: errkind.NotFound for a monitor that does not exist,
// errkind.Invalid for one named twice. Each monitor row is locked (FOR
// KEY SHARE) as it is joined, so one deleted concurrently is either
// deleted after the link, which goes with it, or found missing.
func linkMonitors(ctx context.Context, tx *sql.Tx, s anomaly.Subscription) error {
	if len(s.MonitorARNs) == 0 {
		return nil
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO anomaly_subscription_monitors (subscription_arn, monitor_arn, position)
		SELECT $1, u.arn, u.n - 1 FROM unnest($2::text[]) WITH ORDINALITY AS u (arn, n)
		JOIN anomaly_monitors m ON m.arn = u.arn
		ORDER BY u.n
		FOR KEY SHARE OF m`, s.ARN, s.MonitorARNs)
	if errs.Class(err) == sqlstore.Unique {
		return errkind.Wrap(errkind.Invalid, err, "A cost anomaly monitor is named twice.")
	}
	if err != nil {
		return internal(err, "link subscription monitors")
	}
	if n, _ := res.RowsAffected(); n == int64(len(s.MonitorARNs)) {
		return nil
	}
	var missing string
	err = tx.QueryRowContext(ctx, `SELECT u.arn FROM unnest($1::text[]) WITH ORDINALITY AS u (arn, n)
		WHERE NOT EXISTS (SELECT 1 FROM anomaly_subscription_monitors l WHERE l.subscription_arn = $2 AND l.monitor_arn = u.arn)
		ORDER BY u.n LIMIT 1`, s.MonitorARNs, s.ARN).Scan(&missing)
	if err != nil {
		return internal(err, "find missing subscription monitor")
	}
	return monitorNotFound(missing)
}

// subscriptionJSON encodes a subscription's subscribers and threshold.
func subscriptionJSON(s anomaly.Subscription) (subscribers, threshold string, err error) {
	if subscribers, err = sqlstore.JSONText(s.Subscribers); err != nil {
		return "", "", err
	}
	if threshold, err = sqlstore.JSONText(s.Threshold); err != nil {
		return "", "", err
	}
	return subscribers, threshold, nil
}

// CreateAnomalySubscription implements anomaly.Store: errkind.Conflict
// when the ARN exists, errkind.NotFound when a monitor does not.
func (db *DB) CreateAnomalySubscription(ctx context.Context, s anomaly.Subscription) error {
	subs, thr, err := subscriptionJSON(s)
	if err != nil {
		return internal(err, "encode anomaly subscription")
	}
	return db.change(ctx, ChangeAnomaly, "create anomaly subscription", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO anomaly_subscriptions
			(arn, account, name, frequency, subscribers, threshold, legacy, resource_tags, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			s.ARN, s.Account, s.Name, string(s.Frequency), subs, thr, s.Legacy, sqlstore.TagsJSON(s.ResourceTags),
			sqlstore.MS(s.CreatedAt), sqlstore.MS(s.UpdatedAt))
		if errs.Class(err) == sqlstore.Unique {
			return errkind.Wrap(errkind.Conflict, err, "The cost anomaly subscription %s already exists.", s.ARN)
		}
		if err != nil {
			return internal(err, "create anomaly subscription")
		}
		return linkMonitors(ctx, tx, s)
	})
}

// AnomalySubscriptions implements anomaly.Store.
func (db *DB) AnomalySubscriptions(ctx context.Context, account string) ([]anomaly.Subscription, error) {
	q := `SELECT s.arn, s.account, s.name, s.frequency, s.subscribers, s.threshold, s.legacy, s.resource_tags,
		s.created_at, s.updated_at,
		COALESCE((SELECT json_agg(l.monitor_arn ORDER BY l.position) FROM anomaly_subscription_monitors l
			WHERE l.subscription_arn = s.arn), '[]')
		FROM anomaly_subscriptions s`
	var args []any
	if account != "" {
		q += ` WHERE s.account = $1`
		args = append(args, account)
	}
	out, err := sqlstore.All(ctx, db.db, sqlstore.ScanSubscription, q+` ORDER BY s.created_at, s.arn COLLATE "C"`, args...)
	if err != nil {
		return nil, internal(err, "list anomaly subscriptions")
	}
	return out, nil
}

// UpdateAnomalySubscription implements anomaly.Store: errkind.NotFound
// when s's account has no subscription s.ARN or a monitor does not
// exist. The resource tags and creation time stay as stored.
func (db *DB) UpdateAnomalySubscription(ctx context.Context, s anomaly.Subscription) error {
	subs, thr, err := subscriptionJSON(s)
	if err != nil {
		return internal(err, "encode anomaly subscription")
	}
	return db.change(ctx, ChangeAnomaly, "update anomaly subscription", func(tx *sql.Tx) error {
		// The update locks the subscription's row first, so concurrent
		// updates of one subscription relink its monitors one at a time.
		res, err := tx.ExecContext(ctx, `UPDATE anomaly_subscriptions SET name = $1, frequency = $2, subscribers = $3,
			threshold = $4, legacy = $5, updated_at = $6 WHERE account = $7 AND arn = $8`,
			s.Name, string(s.Frequency), subs, thr, s.Legacy, sqlstore.MS(s.UpdatedAt), s.Account, s.ARN)
		if err != nil {
			return internal(err, "update anomaly subscription")
		}
		if changedNone(res) {
			return errkind.New(errkind.NotFound, "The cost anomaly subscription %s does not exist.", s.ARN)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM anomaly_subscription_monitors WHERE subscription_arn = $1`, s.ARN); err != nil {
			return internal(err, "unlink subscription monitors")
		}
		return linkMonitors(ctx, tx, s)
	})
}

// DeleteAnomalySubscription implements anomaly.Store: errkind.NotFound
// when account has no subscription arn.
func (db *DB) DeleteAnomalySubscription(ctx context.Context, account, arn string) error {
	return db.change(ctx, ChangeAnomaly, "delete anomaly subscription", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM anomaly_subscriptions WHERE account = $1 AND arn = $2`, account, arn)
		if err != nil {
			return internal(err, "delete anomaly subscription")
		}
		if changedNone(res) {
			return errkind.New(errkind.NotFound, "The cost anomaly subscription %s does not exist.", arn)
		}
		return nil
	})
}

// putAnomalies upserts a batch of anomalies, in the order given, skipping
// those whose monitor does not exist. Each anomaly's monitor row is
// locked (FOR KEY SHARE) as it is joined, so a monitor deleted
// concurrently is either deleted after the batch, anomalies and all, or
// seen as gone and skipped; never a foreign key error.
const putAnomalies = `INSERT INTO anomalies AS a (id, account, monitor_arn, dimension_value, start_ms, end_ms, open, adapted,
	max_score, current_score, actual_nanos, expected_nanos, max_impact, root_causes, feedback, detected_at, updated_at)
	SELECT u.id, u.account, u.monitor_arn, u.dimension_value, u.start_ms, u.end_ms, u.open, u.adapted,
		u.max_score, u.current_score, u.actual_nanos, u.expected_nanos, u.max_impact, u.root_causes, u.feedback,
		u.detected_at, u.updated_at
	FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::boolean[], $8::boolean[],
		$9::float8[], $10::float8[], $11::bigint[], $12::bigint[], $13::bigint[], $14::jsonb[], $15::text[],
		$16::bigint[], $17::bigint[])
		WITH ORDINALITY AS u (id, account, monitor_arn, dimension_value, start_ms, end_ms, open, adapted,
		max_score, current_score, actual_nanos, expected_nanos, max_impact, root_causes, feedback, detected_at, updated_at, n)
	JOIN anomaly_monitors m ON m.arn = u.monitor_arn
	ORDER BY u.n
	FOR KEY SHARE OF m
	ON CONFLICT (id) DO UPDATE SET dimension_value = excluded.dimension_value, start_ms = excluded.start_ms,
		end_ms = excluded.end_ms, open = excluded.open, adapted = excluded.adapted, max_score = excluded.max_score,
		current_score = excluded.current_score, actual_nanos = excluded.actual_nanos,
		expected_nanos = excluded.expected_nanos, max_impact = excluded.max_impact,
		root_causes = excluded.root_causes, updated_at = excluded.updated_at`

// PutAnomalies implements anomaly.Store, in one statement. An anomaly
// whose monitor no longer exists (deleted during an evaluation) is
// skipped. The rows are written in ID order, so replicas writing
// overlapping batches lock them in one order and cannot deadlock. An ID
// named twice in as counts as an insert then an update: the later values,
// with the earlier Feedback and DetectedAt.
func (db *DB) PutAnomalies(ctx context.Context, as []anomaly.Anomaly) error {
	if len(as) == 0 {
		return nil
	}
	byID := make(map[string]anomaly.Anomaly, len(as))
	for _, a := range as {
		if prev, ok := byID[a.ID]; ok {
			a.Feedback, a.DetectedAt = prev.Feedback, prev.DetectedAt
		}
		byID[a.ID] = a
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	n := len(ids)
	var (
		accounts, monitors, values, rcs, fbs = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		starts, ends, detected, updated      = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		actual, expected, maxImpact          = make([]int64, n), make([]int64, n), make([]int64, n)
		open, adapted                        = make([]bool, n), make([]bool, n)
		maxScore, curScore                   = make([]float64, n), make([]float64, n)
	)
	for i, id := range ids {
		a := byID[id]
		rc := a.RootCauses
		if rc == nil {
			rc = []anomaly.RootCause{}
		}
		js, err := sqlstore.JSONText(rc)
		if err != nil {
			return internal(err, "encode root causes")
		}
		accounts[i], monitors[i], values[i], rcs[i], fbs[i] = a.Account, a.MonitorARN, a.DimensionValue, js, string(a.Feedback)
		starts[i], ends[i], detected[i], updated[i] = sqlstore.MS(a.Start), sqlstore.MS(a.End), sqlstore.MS(a.DetectedAt), sqlstore.MS(a.UpdatedAt)
		actual[i], expected[i], maxImpact[i] = int64(a.Actual), int64(a.Expected), int64(a.MaxImpact)
		open[i], adapted[i] = a.Open, a.Adapted
		maxScore[i], curScore[i] = a.MaxScore, a.CurrentScore
	}
	if _, err := db.db.ExecContext(ctx, putAnomalies, ids, accounts, monitors, values, starts, ends, open, adapted,
		maxScore, curScore, actual, expected, maxImpact, rcs, fbs, detected, updated); err != nil {
		return internal(err, "put anomalies")
	}
	return nil
}

// Anomalies implements anomaly.Store.
func (db *DB) Anomalies(ctx context.Context, f anomaly.AnomalyFilter) ([]anomaly.Anomaly, error) {
	var where []string
	var args []any
	cond := func(c string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(c, len(args)))
	}
	if f.Account != "" {
		cond("account = $%d", f.Account)
	}
	if f.MonitorARN != "" {
		cond("monitor_arn = $%d", f.MonitorARN)
	}
	if !f.EndFrom.IsZero() {
		cond("end_ms >= $%d", sqlstore.MS(f.EndFrom))
	}
	if !f.EndTo.IsZero() {
		cond("end_ms < $%d", sqlstore.MS(f.EndTo))
	}
	q := `SELECT id, account, monitor_arn, dimension_value, start_ms, end_ms, open, adapted, max_score, current_score,
		actual_nanos, expected_nanos, max_impact, root_causes, feedback, detected_at, updated_at FROM anomalies`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	out, err := sqlstore.All(ctx, db.db, sqlstore.ScanAnomaly, q+` ORDER BY end_ms, id COLLATE "C"`, args...)
	if err != nil {
		return nil, internal(err, "list anomalies")
	}
	return out, nil
}

// SetAnomalyFeedback implements anomaly.Store: errkind.NotFound when
// account has no anomaly id.
func (db *DB) SetAnomalyFeedback(ctx context.Context, account, id string, fb anomaly.Feedback) error {
	res, err := db.db.ExecContext(ctx, `UPDATE anomalies SET feedback = $1 WHERE account = $2 AND id = $3`, string(fb), account, id)
	if err != nil {
		return internal(err, "set anomaly feedback")
	}
	if changedNone(res) {
		return errkind.New(errkind.NotFound, "The anomaly %s does not exist.", id)
	}
	return nil
}
