-- Price dimensions and token kinds (issue #15): the endpoint scope priced
-- ('' in-region, 'geo', 'global'), whether the call fell into its price's
-- long-context tier, whether latency-optimized inference was served, the
-- 1-hour cache writes (disjoint from cache_write_tokens, the 5-minute
-- ones), the fixed cost of a reserved-capacity hour, and the version of
-- the price the cost was computed at.
ALTER TABLE usage_records ADD COLUMN scope TEXT NOT NULL DEFAULT '';
ALTER TABLE usage_records ADD COLUMN long_context INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN latency_optimized INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN cache_write_1h_cost INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN fixed_cost INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN price_version TEXT NOT NULL DEFAULT '';

-- The rollups gain the price dimensions and the source region (which AWS
-- bills a cross-region call in) in their key, so each usage type is its
-- own row, and the new sums. SQLite cannot change a primary key in
-- place: the tables are rebuilt, existing rows keeping in-region, Standard.
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
    unpriced              INTEGER NOT NULL,
    PRIMARY KEY (hour_ms, account, region_served, profile_arn, model_id, principal_id, operation, tag_set_id,
                 scope, service_tier, long_context, latency_optimized, region)
) WITHOUT ROWID;
INSERT INTO usage_hourly_new
SELECT hour_ms, account, region_served, profile_arn, model_id, principal_id, operation, tag_set_id, '', '', 0, 0, '',
       calls, errors, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, 0,
       cost_nanos, input_cost, output_cost, cache_read_cost, cache_write_cost, 0, 0, unpriced
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
    unpriced              INTEGER NOT NULL,
    PRIMARY KEY (day_ms, account, region_served, profile_arn, model_id, principal_id, operation, tag_set_id,
                 scope, service_tier, long_context, latency_optimized, region)
) WITHOUT ROWID;
INSERT INTO usage_daily_new
SELECT day_ms, account, region_served, profile_arn, model_id, principal_id, operation, tag_set_id, '', '', 0, 0, '',
       calls, errors, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, 0,
       cost_nanos, input_cost, output_cost, cache_read_cost, cache_write_cost, 0, 0, unpriced
FROM usage_daily;
DROP TABLE usage_daily;
ALTER TABLE usage_daily_new RENAME TO usage_daily;

-- The re-pricing log: one row per record whose cost a re-pricing changed,
-- with the cost lines before and after and the price versions. The
-- record itself carries the new cost; this keeps the old one.
CREATE TABLE usage_repricings (
    seq                 INTEGER PRIMARY KEY,
    run_id              TEXT    NOT NULL,
    repriced_ms         INTEGER NOT NULL,
    request_id          TEXT    NOT NULL,
    time_ms             INTEGER NOT NULL,
    old_version         TEXT    NOT NULL,
    new_version         TEXT    NOT NULL,
    old_priced          INTEGER NOT NULL,
    new_priced          INTEGER NOT NULL,
    old_cost            INTEGER NOT NULL,
    new_cost            INTEGER NOT NULL,
    old_lines           TEXT    NOT NULL, -- JSON: input, output, cacheRead, cacheWrite, cacheWrite1h
    new_lines           TEXT    NOT NULL
);
CREATE INDEX usage_repricings_request ON usage_repricings (request_id);
