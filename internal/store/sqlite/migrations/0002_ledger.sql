-- Tag sets are stored once and referenced by id from records and rollups.
CREATE TABLE tag_sets (
    id        INTEGER PRIMARY KEY,
    canonical TEXT NOT NULL UNIQUE,
    tags      TEXT NOT NULL -- JSON object
);
INSERT INTO tag_sets (id, canonical, tags) VALUES (0, '', '{}');

-- The append-only usage ledger: one row per model call.
CREATE TABLE usage_records (
    seq                INTEGER PRIMARY KEY,
    request_id         TEXT    NOT NULL UNIQUE,
    time_ms            INTEGER NOT NULL,
    account            TEXT    NOT NULL,
    region             TEXT    NOT NULL,
    region_served      TEXT    NOT NULL,
    principal_id       TEXT    NOT NULL,
    profile_arn        TEXT    NOT NULL,
    profile_id         TEXT    NOT NULL,
    model_id           TEXT    NOT NULL,
    provider           TEXT    NOT NULL,
    operation          TEXT    NOT NULL,
    input_tokens       INTEGER NOT NULL,
    output_tokens      INTEGER NOT NULL,
    cache_read_tokens  INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    latency_ms         INTEGER NOT NULL,
    ttft_ms            INTEGER NOT NULL,
    attempts           INTEGER NOT NULL,
    outcome            TEXT    NOT NULL,
    error_code         TEXT    NOT NULL,
    cost_nanos         INTEGER NOT NULL, -- total: the four classes below
    input_cost         INTEGER NOT NULL,
    output_cost        INTEGER NOT NULL,
    cache_read_cost    INTEGER NOT NULL,
    cache_write_cost   INTEGER NOT NULL,
    priced             INTEGER NOT NULL,
    tag_set_id         INTEGER NOT NULL REFERENCES tag_sets (id)
);
CREATE INDEX usage_records_account_time ON usage_records (account, time_ms);

-- Hourly rollups, kept in step with usage_records in the same transaction.
CREATE TABLE usage_hourly (
    hour_ms            INTEGER NOT NULL,
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
    PRIMARY KEY (hour_ms, account, region_served, profile_arn, model_id, principal_id, operation, tag_set_id)
) WITHOUT ROWID;
