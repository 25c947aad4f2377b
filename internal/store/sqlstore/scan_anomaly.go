package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/tollgate-dev/tollgate/internal/anomaly"
	"github.com/tollgate-dev/tollgate/internal/metrics"
	"github.com/tollgate-dev/tollgate/internal/money"
)

// MonitorColumns are the columns of anomaly_monitors ScanMonitor reads.
const MonitorColumns = `arn, account, name, type, dimension, tag_key, monitor_values, resource_tags, created_at, updated_at,
	last_evaluated, value_count`

// ScanMonitor scans arn, account, name, type, dimension, tag_key,
// monitor_values, resource_tags, created_at, updated_at, last_evaluated
// (0: never), value_count: a cost anomaly monitor.
func ScanMonitor(sc Scanner) (anomaly.Monitor, error) {
	var m anomaly.Monitor
	var typ, dim string
	var vals, rt []byte
	var created, updated, evaluated int64
	if err := sc.Scan(&m.ARN, &m.Account, &m.Name, &typ, &dim, &m.TagKey, &vals, &rt, &created, &updated,
		&evaluated, &m.ValueCount); err != nil {
		return m, err
	}
	m.Type, m.Dimension = anomaly.MonitorType(typ), anomaly.Dimension(dim)
	if err := json.Unmarshal(vals, &m.Values); err != nil {
		return m, fmt.Errorf("monitor values: %w", err)
	}
	if len(m.Values) == 0 {
		m.Values = nil
	}
	var err error
	if m.ResourceTags, err = DecodeTags(rt); err != nil {
		return m, fmt.Errorf("monitor tags: %w", err)
	}
	m.CreatedAt, m.UpdatedAt, m.LastEvaluated = FromMS(created), FromMS(updated), FromMSOrZero(evaluated)
	return m, nil
}

// ScanSubscription scans arn, account, name, frequency, subscribers,
// threshold, legacy, resource_tags, created_at, updated_at and the JSON
// array of its monitors' ARNs in order: a cost anomaly subscription.
func ScanSubscription(sc Scanner) (anomaly.Subscription, error) {
	var s anomaly.Subscription
	var freq string
	var subscribers, threshold, rt, mons []byte
	var created, updated int64
	if err := sc.Scan(&s.ARN, &s.Account, &s.Name, &freq, &subscribers, &threshold, &s.Legacy, &rt,
		&created, &updated, &mons); err != nil {
		return s, err
	}
	s.Frequency = anomaly.Frequency(freq)
	if err := json.Unmarshal(subscribers, &s.Subscribers); err != nil {
		return s, fmt.Errorf("subscribers: %w", err)
	}
	if err := json.Unmarshal(threshold, &s.Threshold); err != nil {
		return s, fmt.Errorf("threshold: %w", err)
	}
	if err := json.Unmarshal(mons, &s.MonitorARNs); err != nil {
		return s, fmt.Errorf("subscription monitors: %w", err)
	}
	var err error
	if s.ResourceTags, err = DecodeTags(rt); err != nil {
		return s, fmt.Errorf("subscription tags: %w", err)
	}
	s.CreatedAt, s.UpdatedAt = FromMS(created), FromMS(updated)
	return s, nil
}

// ScanAnomaly scans id, account, monitor_arn, dimension_value, start_ms,
// end_ms, open, adapted, max_score, current_score, actual_nanos,
// expected_nanos, max_impact, root_causes, feedback, detected_at,
// updated_at: a cost anomaly.
func ScanAnomaly(sc Scanner) (anomaly.Anomaly, error) {
	var a anomaly.Anomaly
	var start, end, detected, updated, actual, expected, maxImpact int64
	var rc []byte
	var fb string
	if err := sc.Scan(&a.ID, &a.Account, &a.MonitorARN, &a.DimensionValue, &start, &end, &a.Open, &a.Adapted,
		&a.MaxScore, &a.CurrentScore, &actual, &expected, &maxImpact, &rc, &fb, &detected, &updated); err != nil {
		return a, err
	}
	if err := json.Unmarshal(rc, &a.RootCauses); err != nil {
		return a, fmt.Errorf("root causes: %w", err)
	}
	if len(a.RootCauses) == 0 {
		a.RootCauses = nil
	}
	a.Start, a.End, a.DetectedAt, a.UpdatedAt = FromMS(start), FromMS(end), FromMS(detected), FromMS(updated)
	a.Actual, a.Expected, a.MaxImpact = money.Amount(actual), money.Amount(expected), money.Amount(maxImpact)
	a.Feedback = anomaly.Feedback(fb)
	return a, nil
}

// ScanMetricKey scans account, metric, model_id: a metric series.
func ScanMetricKey(sc Scanner) (metrics.Key, error) {
	var k metrics.Key
	err := sc.Scan(&k.Account, &k.Metric, &k.ModelID)
	return k, err
}

// Monitors lists the cost anomaly monitors of account, or of every
// account when account is "", in the order the dialect's queries give:
// all selects every monitor's MonitorColumns, byAccount those of the
// account its one parameter names.
func Monitors(ctx context.Context, q Querier, e Errors, all, byAccount, account string) ([]anomaly.Monitor, error) {
	query, args := all, []any(nil)
	if account != "" {
		query, args = byAccount, []any{account}
	}
	out, err := All(ctx, q, ScanMonitor, query, args...)
	if err != nil {
		return nil, e.Internal(err, "list anomaly monitors")
	}
	return out, nil
}
