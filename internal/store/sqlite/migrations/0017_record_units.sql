-- Per-unit items (issue #15): images an image-generation call was billed
-- for, the per-unit price they were billed at (catalog.UnitPrice.Kind,
-- such as 'image-premium-2048x2048'; '' for a token-only call) and their
-- exact cost (part of cost_nanos).
ALTER TABLE usage_records ADD COLUMN units INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN unit_kind TEXT NOT NULL DEFAULT '';
ALTER TABLE usage_records ADD COLUMN unit_cost INTEGER NOT NULL DEFAULT 0;

-- The rollups gain the unit kind in their key (each per-image price is
-- its own usage type, so its own row) and the sums of units and their
-- cost. SQLite cannot change a primary key in place: the tables are
-- rebuilt, existing rows keeping no units.
CREATE TABLE usage_hourly_new (
    hour_ms               INTEGER NOT NULL,
    account               TEXT    NOT NULL,
    region_served         TEXT    NOT NULL,
    profile_arn           TEXT    NOT NULL,
    model_id              TEXT    NOT NULL,
    principal_id          TEXT    NOT NULL,
    operation             TEXT    NOT NULL,
    tag_set_id            INTEGER NOT NULL REFERENCES tag_sets (id),
    scope                 TEXT    NOT NULL,
    service_tier          TEXT    NOT NULL,
    long_context          INTEGER NOT NULL,
    latency_optimized     INTEGER NOT NULL,
    region                TEXT    NOT NULL,
    unit_kind             TEXT    NOT NULL,
    calls                 INTEGER NOT NULL,
    errors                INTEGER NOT NULL,
    input_tokens          INTEGER NOT NULL,
    output_tokens         INTEGER NOT NULL,
    cache_read_tokens     INTEGER NOT NULL,
    cache_write_tokens    INTEGER NOT NULL,
    cache_write_1h_tokens INTEGER NOT NULL,
    cost_nanos            INTEGER NOT NULL,
    input_cost            INTEGER NOT NULL,
    output_cost           INTEGER NOT NULL,
    cache_read_cost       INTEGER NOT NULL,
    cache_write_cost      INTEGER NOT NULL,
    cache_write_1h_cost   INTEGER NOT NULL,
    fixed_cost            INTEGER NOT NULL,
    units                 INTEGER NOT NULL,
    unit_cost             INTEGER NOT NULL,
    unpriced              INTEGER NOT NULL,
    PRIMARY KEY (hour_ms, account, region_served, profile_arn, model_id, principal_id, operation, tag_set_id,
                 scope, service_tier, long_context, latency_optimized, region, unit_kind)
) WITHOUT ROWID;
INSERT INTO usage_hourly_new
SELECT hour_ms, account, region_served, profile_arn, model_id, principal_id, operation, tag_set_id,
       scope, service_tier, long_context, latency_optimized, region, '',
       calls, errors, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens,
       cost_nanos, input_cost, output_cost, cache_read_cost, cache_write_cost, cache_write_1h_cost, fixed_cost, 0, 0, unpriced
FROM usage_hourly;
DROP TABLE usage_hourly;
ALTER TABLE usage_hourly_new RENAME TO usage_hourly;

CREATE TABLE usage_daily_new (
    day_ms                INTEGER NOT NULL,
    account               TEXT    NOT NULL,
    region_served         TEXT    NOT NULL,
    profile_arn           TEXT    NOT NULL,
    model_id              TEXT    NOT NULL,
    principal_id          TEXT    NOT NULL,
    operation             TEXT    NOT NULL,
    tag_set_id            INTEGER NOT NULL REFERENCES tag_sets (id),
    scope                 TEXT    NOT NULL,
    service_tier          TEXT    NOT NULL,
    long_context          INTEGER NOT NULL,
    latency_optimized     INTEGER NOT NULL,
    region                TEXT    NOT NULL,
    unit_kind             TEXT    NOT NULL,
    calls                 INTEGER NOT NULL,
    errors                INTEGER NOT NULL,
    input_tokens          INTEGER NOT NULL,
    output_tokens         INTEGER NOT NULL,
    cache_read_tokens     INTEGER NOT NULL,
    cache_write_tokens    INTEGER NOT NULL,
    cache_write_1h_tokens INTEGER NOT NULL,
    cost_nanos            INTEGER NOT NULL,
    input_cost            INTEGER NOT NULL,
    output_cost           INTEGER NOT NULL,
    cache_read_cost       INTEGER NOT NULL,
    cache_write_cost      INTEGER NOT NULL,
    cache_write_1h_cost   INTEGER NOT NULL,
    fixed_cost            INTEGER NOT NULL,
    units                 INTEGER NOT NULL,
    unit_cost             INTEGER NOT NULL,
    unpriced              INTEGER NOT NULL,
    PRIMARY KEY (day_ms, account, region_served, profile_arn, model_id, principal_id, operation, tag_set_id,
                 scope, service_tier, long_context, latency_optimized, region, unit_kind)
) WITHOUT ROWID;
INSERT INTO usage_daily_new
SELECT day_ms, account, region_served, profile_arn, model_id, principal_id, operation, tag_set_id,
       scope, service_tier, long_context, latency_optimized, region, '',
       calls, errors, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens,
       cost_nanos, input_cost, output_cost, cache_read_cost, cache_write_cost, cache_write_1h_cost, fixed_cost, 0, 0, unpriced
FROM usage_daily;
DROP TABLE usage_daily;
ALTER TABLE usage_daily_new RENAME TO usage_daily;
