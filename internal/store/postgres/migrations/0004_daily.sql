-- Daily rollups: usage_hourly summed per UTC day (day_ms is the day's
-- midnight, unix milliseconds), kept in step in the append transaction
-- that updates usage_hourly, after it. Daily and monthly cost queries read
-- a whole day from one row per dimension combination instead of 24.
CREATE TABLE usage_daily (
    day_ms             bigint NOT NULL,
    account            text   NOT NULL,
    region_served      text   NOT NULL,
    profile_arn        text   NOT NULL,
    model_id           text   NOT NULL,
    principal_id       text   NOT NULL,
    operation          text   NOT NULL,
    tag_set_id         bigint NOT NULL REFERENCES tag_sets (id),
    calls              bigint NOT NULL,
    errors             bigint NOT NULL,
    input_tokens       bigint NOT NULL,
    output_tokens      bigint NOT NULL,
    cache_read_tokens  bigint NOT NULL,
    cache_write_tokens bigint NOT NULL,
    cost_nanos         bigint NOT NULL,
    input_cost         bigint NOT NULL,
    output_cost        bigint NOT NULL,
    cache_read_cost    bigint NOT NULL,
    cache_write_cost   bigint NOT NULL,
    unpriced           bigint NOT NULL,
    PRIMARY KEY (day_ms, account, region_served, profile_arn, model_id, principal_id, operation, tag_set_id)
);

-- The existing hourly rollups fill it. The migration runs under the
-- migration lock but not under the appends' locks: a replica of an older
-- version appending while or after this runs updates usage_hourly only
-- (docs/scale-out.md, "Upgrading to daily rollups").
INSERT INTO usage_daily
SELECT hour_ms - hour_ms % 86400000, account, region_served, profile_arn, model_id, principal_id, operation, tag_set_id,
       sum(calls), sum(errors), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens),
       sum(cost_nanos), sum(input_cost), sum(output_cost), sum(cache_read_cost), sum(cache_write_cost), sum(unpriced)
FROM usage_hourly
GROUP BY 1, account, region_served, profile_arn, model_id, principal_id, operation, tag_set_id;
