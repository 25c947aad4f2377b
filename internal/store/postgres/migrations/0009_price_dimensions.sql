-- Price dimensions and token kinds (issue #15): the endpoint scope priced
-- ('' in-region, 'geo', 'global'), whether the call fell into its price's
-- long-context tier, whether latency-optimized inference was served, the
-- 1-hour cache writes (disjoint from cache_write_tokens, the 5-minute
-- ones), the fixed cost of a reserved-capacity hour, and the version of
-- the price the cost was computed at.
ALTER TABLE usage_records ADD COLUMN IF NOT EXISTS scope text NOT NULL DEFAULT '';
ALTER TABLE usage_records ADD COLUMN IF NOT EXISTS long_context boolean NOT NULL DEFAULT false;
ALTER TABLE usage_records ADD COLUMN IF NOT EXISTS latency_optimized boolean NOT NULL DEFAULT false;
ALTER TABLE usage_records ADD COLUMN IF NOT EXISTS cache_write_1h_tokens bigint NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN IF NOT EXISTS cache_write_1h_cost bigint NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN IF NOT EXISTS fixed_cost bigint NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN IF NOT EXISTS price_version text NOT NULL DEFAULT '';

-- The rollups gain the price dimensions and the source region (which AWS
-- bills a cross-region call in) in their key, so each usage type is its
-- own row, and the new sums; existing rows are in-region, Standard.
-- Every statement may run again (a test rebuilds usage_daily through
-- 0004 and then this).
ALTER TABLE usage_hourly ADD COLUMN IF NOT EXISTS scope text NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS service_tier text NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS long_context boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS latency_optimized boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS region text NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS cache_write_1h_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS cache_write_1h_cost bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS fixed_cost bigint NOT NULL DEFAULT 0;
ALTER TABLE usage_hourly DROP CONSTRAINT usage_hourly_pkey,
    ADD PRIMARY KEY (hour_ms, account, region_served, profile_arn, model_id, principal_id, operation, tag_set_id,
                     scope, service_tier, long_context, latency_optimized, region);
ALTER TABLE usage_daily ADD COLUMN IF NOT EXISTS scope text NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS service_tier text NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS long_context boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS latency_optimized boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS region text NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS cache_write_1h_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS cache_write_1h_cost bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS fixed_cost bigint NOT NULL DEFAULT 0;
ALTER TABLE usage_daily DROP CONSTRAINT usage_daily_pkey,
    ADD PRIMARY KEY (day_ms, account, region_served, profile_arn, model_id, principal_id, operation, tag_set_id,
                     scope, service_tier, long_context, latency_optimized, region);

-- The re-pricing log: one row per record whose cost a re-pricing changed,
-- with the cost lines before and after and the price versions. The
-- record itself carries the new cost; this keeps the old one.
CREATE TABLE IF NOT EXISTS usage_repricings (
    seq         bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      text    NOT NULL,
    repriced_ms bigint  NOT NULL,
    request_id  text    NOT NULL,
    time_ms     bigint  NOT NULL,
    old_version text    NOT NULL,
    new_version text    NOT NULL,
    old_priced  boolean NOT NULL,
    new_priced  boolean NOT NULL,
    old_cost    bigint  NOT NULL,
    new_cost    bigint  NOT NULL,
    old_lines   jsonb   NOT NULL, -- input, output, cacheRead, cacheWrite, cacheWrite1h
    new_lines   jsonb   NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_repricings_request ON usage_repricings (request_id);
