CREATE TABLE access_keys (
    id            TEXT PRIMARY KEY,
    principal_id  TEXT    NOT NULL REFERENCES principals (id),
    secret_sealed BLOB    NOT NULL,
    status        TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE TABLE accounts (
    id         TEXT PRIMARY KEY,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE api_keys (
    hash         TEXT PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    principal_id TEXT    NOT NULL REFERENCES principals (id),
    status       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE TABLE policies (
    account    TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    document   TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account, name)
);
CREATE TABLE principal_policies (
    principal_id TEXT NOT NULL REFERENCES principals (id),
    account      TEXT NOT NULL,
    policy_name  TEXT NOT NULL,
    PRIMARY KEY (principal_id, account, policy_name)
);
CREATE TABLE principals (
    id         TEXT PRIMARY KEY,
    account    TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    tags       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE profiles (
    account              TEXT    NOT NULL,
    id                   TEXT    NOT NULL,
    arn                  TEXT    NOT NULL,
    name                 TEXT    NOT NULL,
    description          TEXT    NOT NULL,
    region               TEXT    NOT NULL,
    model_id             TEXT    NOT NULL,
    model_arns           TEXT    NOT NULL, -- JSON array
    source               TEXT    NOT NULL,
    tags                 TEXT    NOT NULL, -- JSON object
    created_at           INTEGER NOT NULL, -- unix milliseconds
    updated_at           INTEGER NOT NULL,
    client_request_token TEXT,
    request_hash         TEXT    NOT NULL,
    PRIMARY KEY (account, id),
    UNIQUE (account, name)
);
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE tag_sets (
    id        INTEGER PRIMARY KEY,
    canonical TEXT NOT NULL UNIQUE,
    tags      TEXT NOT NULL -- JSON object
);
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
CREATE UNIQUE INDEX profiles_token ON profiles (account, client_request_token)
    WHERE client_request_token IS NOT NULL;
CREATE INDEX usage_records_account_time ON usage_records (account, time_ms);
