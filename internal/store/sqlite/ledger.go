package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// tagSetID returns the id of a tag set, inserting it if new, inside tx.
func (db *DB) tagSetID(ctx context.Context, tx *sql.Tx, local map[string]int64, t tags.Set) (int64, error) {
	if len(t) == 0 {
		return 0, nil
	}
	c := t.Canonical()
	if id, ok := local[c]; ok {
		return id, nil
	}
	db.tagMu.Lock()
	id, ok := db.tagIDs[c]
	db.tagMu.Unlock()
	if ok {
		local[c] = id
		return id, nil
	}
	if err := tx.QueryRowContext(ctx, `SELECT id FROM tag_sets WHERE canonical = ?`, c).Scan(&id); err == nil {
		local[c] = id
		return id, nil
	} else if err != sql.ErrNoRows {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO tag_sets (canonical, tags) VALUES (?, ?)`, c, sqlstore.TagsJSON(t))
	if err != nil {
		return 0, err
	}
	id, err = res.LastInsertId()
	local[c] = id
	return id, err
}

const insertRecord = `INSERT INTO usage_records (request_id, time_ms, account, region, region_served, principal_id,
	profile_arn, profile_id, model_id, provider, operation, input_tokens, output_tokens, cache_read_tokens,
	cache_write_tokens, latency_ms, ttft_ms, attempts, outcome, error_code, cost_nanos,
	input_cost, output_cost, cache_read_cost, cache_write_cost, priced, tag_set_id, service_tier,
	scope, long_context, latency_optimized, cache_write_1h_tokens, cache_write_1h_cost, fixed_cost, price_version, calls,
	units, unit_kind, unit_cost)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (request_id) DO NOTHING`

// upsertRollup adds one record (or, re-pricing, a cost delta) to its
// rollup.
const upsertRollup = `INSERT INTO usage_hourly (hour_ms, ` + sqlstore.RollupKeyColumns + `,
	calls, errors, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, cost_nanos,
	input_cost, output_cost, cache_read_cost, cache_write_cost, cache_write_1h_cost, fixed_cost, unpriced, units, unit_cost)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (hour_ms, ` + sqlstore.RollupKeyColumns + `) DO UPDATE SET
	calls = calls + excluded.calls, errors = errors + excluded.errors,
	input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens,
	cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
	cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
	cache_write_1h_tokens = cache_write_1h_tokens + excluded.cache_write_1h_tokens,
	cost_nanos = cost_nanos + excluded.cost_nanos,
	input_cost = input_cost + excluded.input_cost, output_cost = output_cost + excluded.output_cost,
	cache_read_cost = cache_read_cost + excluded.cache_read_cost, cache_write_cost = cache_write_cost + excluded.cache_write_cost,
	cache_write_1h_cost = cache_write_1h_cost + excluded.cache_write_1h_cost, fixed_cost = fixed_cost + excluded.fixed_cost,
	unpriced = unpriced + excluded.unpriced, units = units + excluded.units, unit_cost = unit_cost + excluded.unit_cost`

// rollupArgs are upsertRollup's parameters adding sign × d (sign 1: a
// record appended; -1: a record taken out, re-pricing) to its rollup at
// (time) at. The record adds its calls, errors and unpriced calls as
// ledger.Record.RollupCalls counts them (none for a fixed-cost record).
func rollupArgs(at time.Time, d ledger.Record, ts, sign int64) []any {
	calls, errs, unpriced := d.RollupCalls()
	calls, errs, unpriced = sign*calls, sign*errs, sign*unpriced
	return []any{sqlstore.MS(at), d.Account, d.RegionServed, d.ProfileARN, d.ModelID, d.PrincipalID,
		d.Operation, ts, d.Scope, d.ServiceTier, sqlstore.Bool(d.LongContext), sqlstore.Bool(d.LatencyOptimized), d.Region, d.UnitKind,
		calls, errs, sign * d.InputTokens, sign * d.OutputTokens, sign * d.CacheReadTokens, sign * d.CacheWriteTokens,
		sign * d.CacheWrite1hTokens, sign * int64(d.Cost), sign * int64(d.InputCost), sign * int64(d.OutputCost),
		sign * int64(d.CacheReadCost), sign * int64(d.CacheWriteCost), sign * int64(d.CacheWrite1hCost), sign * int64(d.FixedCost), unpriced,
		sign * d.Units, sign * int64(d.UnitCost)}
}

// upsertDaily is upsertRollup for the daily table.
var upsertDaily = strings.NewReplacer("usage_hourly", "usage_daily", "hour_ms", "day_ms").Replace(upsertRollup)

func (db *DB) tagSets(ctx context.Context) (map[int64]tags.Set, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, tags FROM tag_sets`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]tags.Set{}
	for rows.Next() {
		var id int64
		var tj string
		if err := rows.Scan(&id, &tj); err != nil {
			return nil, err
		}
		var t tags.Set
		if err := json.Unmarshal([]byte(tj), &t); err != nil {
			return nil, err
		}
		if t == nil {
			t = tags.Set{}
		}
		out[id] = t
	}
	return out, rows.Err()
}

func timeWhere(col string, account string, from, to time.Time, args []any) (string, []any) {
	var w []string
	if account != "" {
		w = append(w, "account = ?")
		args = append(args, account)
	}
	if !from.IsZero() {
		w = append(w, col+" >= ?")
		args = append(args, sqlstore.MS(from))
	}
	if !to.IsZero() {
		w = append(w, col+" < ?")
		args = append(args, sqlstore.MS(to))
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
	sets, err := db.tagSets(ctx)
	if err != nil {
		return nil, internal(err, "load tag sets")
	}
	where, args := timeWhere("time_ms", q.Account, q.From, q.To, nil)
	query := `SELECT ` + sqlstore.RecordColumns + ` FROM usage_records` + where + sqlstore.RecordsOrder(q.Newest)
	if q.Limit > 0 {
		query += " LIMIT ?"
		args = append(args, q.Limit)
	}
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, internal(err, "query records")
	}
	defer rows.Close()
	var out []ledger.Record
	for rows.Next() {
		var r ledger.Record
		var t, ts int64
		if err := rows.Scan(sqlstore.RecordDest(&r, &t, &ts)...); err != nil {
			return nil, internal(err, "scan record")
		}
		r.Time, r.Tags = sqlstore.FromMS(t), sets[ts].Clone()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(err, "query records")
	}
	return out, nil
}

// Rollups implements ledger.Reader.
func (db *DB) Rollups(ctx context.Context, account string, from, to time.Time) ([]ledger.Rollup, error) {
	if err := db.barrier(ctx); err != nil {
		return nil, err
	}
	sets, err := db.tagSets(ctx)
	if err != nil {
		return nil, internal(err, "load tag sets")
	}
	where, args := timeWhere("hour_ms", account, from.Truncate(time.Hour), to, nil)
	rows, err := db.r.QueryContext(ctx, `SELECT hour_ms, `+sqlstore.RollupColumns+`
		FROM usage_hourly`+where+` ORDER BY hour_ms`, args...)
	if err != nil {
		return nil, internal(err, "query rollups")
	}
	defer rows.Close()
	var out []ledger.Rollup
	for rows.Next() {
		var r ledger.Rollup
		var h, ts int64
		if err := rows.Scan(sqlstore.RollupDest(&r, &h, &ts)...); err != nil {
			return nil, internal(err, "scan rollup")
		}
		r.Hour, r.Tags = sqlstore.FromMS(h), sets[ts].Clone()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(err, "query rollups")
	}
	return out, nil
}
