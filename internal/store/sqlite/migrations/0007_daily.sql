-- Daily rollups, kept in step with usage_records in the same transaction
-- as the hourly ones: daily and monthly cost queries read a day's usage
-- from one row per dimension combination instead of 24.
CREATE TABLE usage_daily (
    day_ms             INTEGER NOT NULL,
    account            TEXT    NOT NULL,
    region_served      TEXT    NOT NULL,
    profile_arn        TEXT    NOT NULL,
    model_id           TEXT    NOT NULL,
    principal_id       TEXT    NOT NULL,
    operation          TEXT    NOT NULL,
    tag_set_id         INTEGER NOT NULL REFERENCES tag_sets (id),
    calls              INTEGER NOT NULL,
    errors             INTEGER NOT NULL,
    input_tokens       INTEGER NOT NULL,
    output_tokens      INTEGER NOT NULL,
    cache_read_tokens  INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    cost_nanos         INTEGER NOT NULL,
    input_cost         INTEGER NOT NULL,
    output_cost        INTEGER NOT NULL,
    cache_read_cost    INTEGER NOT NULL,
    cache_write_cost   INTEGER NOT NULL,
    unpriced           INTEGER NOT NULL,
    PRIMARY KEY (day_ms, account, region_served, profile_arn, model_id, principal_id, operation, tag_set_id)
) WITHOUT ROWID;

-- Existing hourly rollups fill it.
INSERT INTO usage_daily
SELECT (hour_ms / 86400000) * 86400000, account, region_served, profile_arn, model_id, principal_id, operation, tag_set_id,
       SUM(calls), SUM(errors), SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens), SUM(cache_write_tokens),
       SUM(cost_nanos), SUM(input_cost), SUM(output_cost), SUM(cache_read_cost), SUM(cache_write_cost), SUM(unpriced)
FROM usage_hourly
GROUP BY 1, account, region_served, profile_arn, model_id, principal_id, operation, tag_set_id;
