-- Per-unit items (issue #15): images an image-generation call was billed
-- for, the per-unit price they were billed at (catalog.UnitPrice.Kind,
-- such as 'image-premium-2048x2048'; '' for a token-only call) and their
-- exact cost (part of cost_nanos). Added to the partitioned table, the
-- columns reach every partition.
ALTER TABLE usage_records ADD COLUMN IF NOT EXISTS units bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS unit_kind text NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS unit_cost bigint NOT NULL DEFAULT 0;

-- The rollups gain the unit kind in their key (each per-image price is
-- its own usage type, so its own row) and the sums of units and their
-- cost; existing rows have no units. Every statement may run again (a
-- test rebuilds usage_daily through 0004, 0009 and then this).
ALTER TABLE usage_hourly ADD COLUMN IF NOT EXISTS unit_kind text NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS units bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS unit_cost bigint NOT NULL DEFAULT 0;
ALTER TABLE usage_hourly DROP CONSTRAINT usage_hourly_pkey,
    ADD PRIMARY KEY (hour_ms, account, region_served, profile_arn, model_id, principal_id, operation, tag_set_id,
                     scope, service_tier, long_context, latency_optimized, region, unit_kind);
ALTER TABLE usage_daily ADD COLUMN IF NOT EXISTS unit_kind text NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS units bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS unit_cost bigint NOT NULL DEFAULT 0;
ALTER TABLE usage_daily DROP CONSTRAINT usage_daily_pkey,
    ADD PRIMARY KEY (day_ms, account, region_served, profile_arn, model_id, principal_id, operation, tag_set_id,
                     scope, service_tier, long_context, latency_optimized, region, unit_kind);
