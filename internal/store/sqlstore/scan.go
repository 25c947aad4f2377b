package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tollgate-dev/tollgate/internal/alarm"
	"github.com/tollgate-dev/tollgate/internal/budget"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/metrics"
	"github.com/tollgate-dev/tollgate/internal/notify"
	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/profile"
)

// Row scanners of the tables whose columns both stores share. Each reads
// the columns its comment lists, in that order; the queries are the
// dialects' own. Both drivers scan TEXT and jsonb into []byte, and a
// boolean column (INTEGER 0/1 or boolean) into bool.

// ScanProfile scans account, id, arn, name, description, region,
// model_id, model_arns, source, tags, created_at, updated_at,
// client_request_token, request_hash, scope.
func ScanProfile(sc Scanner) (profile.Profile, error) {
	var p profile.Profile
	var arns, tj []byte
	var created, updated int64
	var token sql.NullString
	if err := sc.Scan(&p.Account, &p.ID, &p.ARN, &p.Name, &p.Description, &p.Region, &p.ModelID, &arns, &p.Source, &tj,
		&created, &updated, &token, &p.RequestHash, &p.Scope); err != nil {
		return p, err
	}
	if err := json.Unmarshal(arns, &p.ModelARNs); err != nil {
		return p, fmt.Errorf("model arns: %w", err)
	}
	var err error
	if p.Tags, err = DecodeTags(tj); err != nil {
		return p, fmt.Errorf("tags: %w", err)
	}
	p.Type = profile.Application
	p.CreatedAt, p.UpdatedAt = FromMS(created), FromMS(updated)
	p.ClientRequestToken = token.String
	return p, nil
}

// ScanPrincipal scans id, account, name, kind, tags, created_at.
func ScanPrincipal(sc Scanner) (principal.Principal, error) {
	var p principal.Principal
	var kind string
	var tj []byte
	var created int64
	if err := sc.Scan(&p.ID, &p.Account, &p.Name, &kind, &tj, &created); err != nil {
		return p, err
	}
	p.Kind = principal.Kind(kind)
	p.CreatedAt = FromMS(created)
	var err error
	if p.Tags, err = DecodeTags(tj); err != nil {
		return p, fmt.Errorf("principal tags: %w", err)
	}
	return p, nil
}

// ScanAccessKey scans id, principal_id, secret_sealed, status, created_at.
func ScanAccessKey(sc Scanner) (principal.AccessKey, error) {
	var k principal.AccessKey
	var created int64
	err := sc.Scan(&k.ID, &k.PrincipalID, &k.SecretSealed, &k.Status, &created)
	k.CreatedAt = FromMS(created)
	return k, err
}

// ScanAPIKey scans hash, id, principal_id, status, created_at.
func ScanAPIKey(sc Scanner) (principal.APIKey, error) {
	var k principal.APIKey
	var created int64
	err := sc.Scan(&k.Hash, &k.ID, &k.PrincipalID, &k.Status, &created)
	k.CreatedAt = FromMS(created)
	return k, err
}

// ScanAccount scans id, name, created_at.
func ScanAccount(sc Scanner) (principal.Account, error) {
	var a principal.Account
	var created int64
	err := sc.Scan(&a.ID, &a.Name, &created)
	a.CreatedAt = FromMS(created)
	return a, err
}

// ScanPolicy scans account, name, document, updated_at.
func ScanPolicy(sc Scanner) (principal.PolicyDoc, error) {
	var p principal.PolicyDoc
	var updated int64
	err := sc.Scan(&p.Account, &p.Name, &p.Document, &updated)
	p.UpdatedAt = FromMS(updated)
	return p, err
}

// ScanAttachment scans principal_id, account, policy_name.
func ScanAttachment(sc Scanner) (principal.Attachment, error) {
	var a principal.Attachment
	err := sc.Scan(&a.PrincipalID, &a.Account, &a.PolicyName)
	return a, err
}

// ScanJSON returns a scanner of one JSON column decoded into a T: the
// definition column of budgets and alarms.
func ScanJSON[T any](sc Scanner) (T, error) {
	var v T
	var doc []byte
	if err := sc.Scan(&doc); err != nil {
		return v, err
	}
	err := json.Unmarshal(doc, &v)
	return v, err
}

// ScanBudget scans the definition of a budget.
func ScanBudget(sc Scanner) (budget.Budget, error) { return ScanJSON[budget.Budget](sc) }

// ScanAlarm scans the definition of an alarm.
func ScanAlarm(sc Scanner) (alarm.Alarm, error) { return ScanJSON[alarm.Alarm](sc) }

// ScanAlertState scans account, budget, alert, period start, alarm,
// fired, updated.
func ScanAlertState(sc Scanner) (budget.AlertState, error) {
	var s budget.AlertState
	var start, updated int64
	err := sc.Scan(&s.Account, &s.Budget, &s.Alert, &start, &s.Alarm, &s.Fired, &updated)
	s.PeriodStart, s.UpdatedAt = FromMS(start), FromMS(updated)
	return s, err
}

// ScanDelivery scans key, kind, target, subject, body, data, created,
// state, attempts, next, last_error, delivered: an outbox message. An
// empty or NULL data is none; a NULL or 0 delivered time is the zero
// time.
func ScanDelivery(sc Scanner) (notify.Delivery, error) {
	var d notify.Delivery
	var data []byte
	var state string
	var created, next int64
	var delivered sql.NullInt64
	if err := sc.Scan(&d.Key, &d.Kind, &d.Target, &d.Subject, &d.Body, &data, &created, &state, &d.Attempts, &next,
		&d.LastError, &delivered); err != nil {
		return d, err
	}
	if len(data) > 0 {
		d.Data = json.RawMessage(data)
	}
	d.CreatedAt, d.NextAt, d.State = FromMS(created), FromMS(next), notify.State(state)
	d.DeliveredAt = FromNullMS(delivered)
	return d, nil
}

// ScanBucket scans res_s, account, metric, model_id, start_ms, replica,
// count, sum, min, max, sketch: a metric bucket.
func ScanBucket(sc Scanner) (metrics.Bucket, error) {
	var b metrics.Bucket
	var res, start int64
	var sk []byte
	if err := sc.Scan(&res, &b.Key.Account, &b.Key.Metric, &b.Key.ModelID, &start, &b.Replica, &b.Stats.Count, &b.Stats.Sum,
		&b.Stats.Min, &b.Stats.Max, &sk); err != nil {
		return b, err
	}
	b.Res, b.Start = time.Duration(res)*time.Second, FromMS(start)
	return b, b.Stats.Sketch.UnmarshalBinary(sk)
}

// ScanHistoryItem scans account, alarm_name, time_ms, type, summary,
// data: an alarm history item.
func ScanHistoryItem(sc Scanner) (alarm.HistoryItem, error) {
	var h alarm.HistoryItem
	var t int64
	err := sc.Scan(&h.Account, &h.AlarmName, &t, &h.Type, &h.Summary, &h.Data)
	h.Time = FromMS(t)
	return h, err
}

// ResSeconds returns a metric resolution in whole seconds, as res_s
// holds it.
func ResSeconds(res time.Duration) int64 { return int64(res / time.Second) }

// LoadPrincipals reads every principal, access key and API key with the
// dialect's three queries (of the columns ScanPrincipal, ScanAccessKey
// and ScanAPIKey read), for principal.Store. Errors are returned
// unwrapped, named by what failed.
func LoadPrincipals(ctx context.Context, q Querier, principals, accessKeys, apiKeys string) ([]principal.Principal, []principal.AccessKey, []principal.APIKey, error) {
	ps, err := All(ctx, q, ScanPrincipal, principals)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("principals: %w", err)
	}
	aks, err := All(ctx, q, ScanAccessKey, accessKeys)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("access keys: %w", err)
	}
	apis, err := All(ctx, q, ScanAPIKey, apiKeys)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("api keys: %w", err)
	}
	return ps, aks, apis, nil
}

// LoadAdmin reads every account, policy and attachment with the
// dialect's three queries (of the columns ScanAccount, ScanPolicy and
// ScanAttachment read), for principal.AdminStore.
func LoadAdmin(ctx context.Context, q Querier, accounts, policies, attachments string) ([]principal.Account, []principal.PolicyDoc, []principal.Attachment, error) {
	accts, err := All(ctx, q, ScanAccount, accounts)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("accounts: %w", err)
	}
	pols, err := All(ctx, q, ScanPolicy, policies)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("policies: %w", err)
	}
	atts, err := All(ctx, q, ScanAttachment, attachments)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("attachments: %w", err)
	}
	return accts, pols, atts, nil
}

// RecordColumns are the columns of usage_records a ledger.Record is read
// from, in the order both stores scan them (see RecordDest).
const RecordColumns = `request_id, time_ms, account, region, region_served, principal_id, profile_arn, profile_id, model_id,
	provider, operation, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, latency_ms, ttft_ms,
	attempts, outcome, error_code, cost_nanos, input_cost, output_cost, cache_read_cost, cache_write_cost,
	priced, tag_set_id, service_tier, scope, long_context, latency_optimized, cache_write_1h_tokens,
	cache_write_1h_cost, fixed_cost, price_version, calls, units, unit_kind, unit_cost`

// RecordDest returns the scan destinations of RecordColumns for r; the
// time (unix ms) goes to t and the tag set id to ts. The calls column
// (ledger.Record.CallCount, at least 1) is read back as r.Calls, 0 for
// a single call, as runtime calls write it.
func RecordDest(r *ledger.Record, t, ts *int64) []any {
	return []any{&r.RequestID, t, &r.Account, &r.Region, &r.RegionServed, &r.PrincipalID, &r.ProfileARN,
		&r.ProfileID, &r.ModelID, &r.Provider, &r.Operation, &r.InputTokens, &r.OutputTokens, &r.CacheReadTokens,
		&r.CacheWriteTokens, &r.LatencyMs, &r.TTFTMs, &r.Attempts, &r.Outcome, &r.ErrorCode, &r.Cost,
		&r.InputCost, &r.OutputCost, &r.CacheReadCost, &r.CacheWriteCost, &r.Priced, ts, &r.ServiceTier,
		&r.Scope, &r.LongContext, &r.LatencyOptimized, &r.CacheWrite1hTokens, &r.CacheWrite1hCost, &r.FixedCost, &r.PriceVersion, (*callsDest)(&r.Calls),
		&r.Units, &r.UnitKind, &r.UnitCost}
}

// callsDest scans a calls column into ledger.Record.Calls: 1 becomes 0.
type callsDest int64

// Scan implements sql.Scanner.
func (c *callsDest) Scan(src any) error {
	n, ok := src.(int64)
	if !ok {
		return fmt.Errorf("calls: %T, want an integer", src)
	}
	if n == 1 {
		n = 0
	}
	*c = callsDest(n)
	return nil
}

// RecordLines is the JSON of a record's cost lines, as the re-pricing
// log keeps them: nano-dollars by kind.
func RecordLines(r ledger.Record) string {
	b, _ := json.Marshal(map[string]int64{"input": int64(r.InputCost), "output": int64(r.OutputCost),
		"cacheRead": int64(r.CacheReadCost), "cacheWrite": int64(r.CacheWriteCost), "cacheWrite1h": int64(r.CacheWrite1hCost),
		"fixed": int64(r.FixedCost), "unit": int64(r.UnitCost)})
	return string(b)
}

// RollupColumns are the columns of usage_hourly and usage_daily after
// the time column, in the order both stores scan them (see RollupDest).
const RollupColumns = `account, region_served, profile_arn, model_id, principal_id, operation,
	tag_set_id, calls, errors, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_nanos,
	input_cost, output_cost, cache_read_cost, cache_write_cost, unpriced, scope, service_tier, long_context,
	latency_optimized, cache_write_1h_tokens, cache_write_1h_cost, fixed_cost, region, unit_kind, units, unit_cost`

// RollupDest returns the scan destinations of the time column and
// RollupColumns for r; the time (unix ms) goes to h and the tag set id
// to ts.
func RollupDest(r *ledger.Rollup, h, ts *int64) []any {
	return []any{h, &r.Account, &r.RegionServed, &r.ProfileARN, &r.ModelID, &r.PrincipalID, &r.Operation,
		ts, &r.Calls, &r.Errors, &r.InputTokens, &r.OutputTokens, &r.CacheReadTokens, &r.CacheWriteTokens,
		&r.Cost, &r.InputCost, &r.OutputCost, &r.CacheReadCost, &r.CacheWriteCost, &r.Unpriced, &r.Scope,
		&r.ServiceTier, &r.LongContext, &r.LatencyOptimized, &r.CacheWrite1hTokens, &r.CacheWrite1hCost, &r.FixedCost, &r.Region,
		&r.UnitKind, &r.Units, &r.UnitCost}
}

// RollupKeyColumns are the key columns of the rollup tables after the
// time column.
const RollupKeyColumns = `account, region_served, profile_arn, model_id, principal_id, operation, tag_set_id,
	scope, service_tier, long_context, latency_optimized, region, unit_kind`

// RecordsOrder is the ORDER BY of a ledger.Query's records: oldest
// first, or newest first.
func RecordsOrder(newest bool) string {
	if newest {
		return " ORDER BY time_ms DESC, seq DESC"
	}
	return " ORDER BY time_ms, seq"
}

// MessageNotFound is the error of an outbox message that does not exist.
func MessageNotFound(key string) error {
	return errkind.New(errkind.NotFound, "The message %s does not exist.", key)
}

// ScanActionEvent scans account, budget, action_id, at, status,
// event_type, message, action (JSON of budget.Action): a budget action's
// history event.
func ScanActionEvent(sc Scanner) (budget.ActionEvent, error) {
	var e budget.ActionEvent
	var at int64
	var status, action string
	if err := sc.Scan(&e.Account, &e.Budget, &e.ActionID, &at, &status, &e.EventType, &e.Message, &action); err != nil {
		return e, err
	}
	e.At, e.Status = FromMS(at), budget.ActionStatus(status)
	err := json.Unmarshal([]byte(action), &e.Action)
	return e, err
}

// ScanRefusals scans account, budget, action_id, replica, period_start,
// last, count: a replica's refusal report.
func ScanRefusals(sc Scanner) (budget.Refusals, error) {
	var r budget.Refusals
	var start, last int64
	err := sc.Scan(&r.Account, &r.Budget, &r.ActionID, &r.Replica, &start, &last, &r.Count)
	r.PeriodStart, r.Last = FromMS(start), FromMS(last)
	return r, err
}
