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
CREATE TABLE alarm_history (
    seq        INTEGER PRIMARY KEY,
    account    TEXT    NOT NULL,
    alarm_name TEXT    NOT NULL,
    time_ms    INTEGER NOT NULL,
    type       TEXT    NOT NULL,
    summary    TEXT    NOT NULL,
    data       TEXT    NOT NULL
);
CREATE TABLE alarms (
    account               TEXT    NOT NULL,
    name                  TEXT    NOT NULL,
    definition            TEXT    NOT NULL, -- JSON of alarm.Alarm
    state                 TEXT    NOT NULL,
    state_updated_ms      INTEGER NOT NULL,
    config_updated_ms     INTEGER NOT NULL,
    PRIMARY KEY (account, name)
);
CREATE TABLE anomalies (
    id              TEXT PRIMARY KEY,
    account         TEXT    NOT NULL,
    monitor_arn     TEXT    NOT NULL REFERENCES anomaly_monitors (arn) ON DELETE CASCADE,
    dimension_value TEXT    NOT NULL,
    start_ms        INTEGER NOT NULL,
    end_ms          INTEGER NOT NULL,
    open            INTEGER NOT NULL,
    adapted         INTEGER NOT NULL,
    max_score       REAL    NOT NULL,
    current_score   REAL    NOT NULL,
    actual_nanos    INTEGER NOT NULL,
    expected_nanos  INTEGER NOT NULL,
    max_impact      INTEGER NOT NULL,
    root_causes     TEXT    NOT NULL DEFAULT '[]',
    feedback        TEXT    NOT NULL DEFAULT '',
    detected_at     INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE TABLE anomaly_monitors (
    arn            TEXT PRIMARY KEY,
    account        TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    type           TEXT    NOT NULL,
    dimension      TEXT    NOT NULL,
    tag_key        TEXT    NOT NULL DEFAULT '',
    monitor_values TEXT    NOT NULL DEFAULT '[]',
    resource_tags  TEXT    NOT NULL DEFAULT '{}',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    last_evaluated INTEGER NOT NULL DEFAULT 0,
    value_count    INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE anomaly_subscription_monitors (
    subscription_arn TEXT    NOT NULL REFERENCES anomaly_subscriptions (arn) ON DELETE CASCADE,
    monitor_arn      TEXT    NOT NULL REFERENCES anomaly_monitors (arn) ON DELETE CASCADE,
    position         INTEGER NOT NULL,
    PRIMARY KEY (subscription_arn, monitor_arn)
);
CREATE TABLE anomaly_subscriptions (
    arn           TEXT PRIMARY KEY,
    account       TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    frequency     TEXT    NOT NULL,
    subscribers   TEXT    NOT NULL,
    threshold     TEXT    NOT NULL,
    legacy        INTEGER NOT NULL DEFAULT 0,
    resource_tags TEXT    NOT NULL DEFAULT '{}',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE TABLE api_keys (
    hash         TEXT PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    principal_id TEXT    NOT NULL REFERENCES principals (id),
    status       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE TABLE budget_action_events (
    account    TEXT    NOT NULL,
    budget     TEXT    NOT NULL,
    action_id  TEXT    NOT NULL,
    at_ms      INTEGER NOT NULL,
    status     TEXT    NOT NULL,
    event_type TEXT    NOT NULL,
    message    TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    PRIMARY KEY (account, budget, action_id, at_ms, status)
);
CREATE TABLE budget_alerts (
    account         TEXT    NOT NULL,
    budget          TEXT    NOT NULL,
    alert           TEXT    NOT NULL,
    period_start_ms INTEGER NOT NULL,
    alarm           INTEGER NOT NULL,
    fired           INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL,
    PRIMARY KEY (account, budget, alert, period_start_ms)
);
CREATE TABLE budget_refusals (
    account         TEXT    NOT NULL,
    budget          TEXT    NOT NULL,
    action_id       TEXT    NOT NULL,
    replica         TEXT    NOT NULL,
    period_start_ms INTEGER NOT NULL,
    last_ms         INTEGER NOT NULL,
    count           INTEGER NOT NULL,
    PRIMARY KEY (account, budget, action_id, replica, period_start_ms)
);
CREATE TABLE budgets (
    account    TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    definition TEXT    NOT NULL, -- JSON of budget.Budget
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (account, name)
);
CREATE TABLE console_sessions (
    hash         TEXT PRIMARY KEY,
    principal_id TEXT    NOT NULL,
    key_id       TEXT    NOT NULL,
    api_key      INTEGER NOT NULL,
    view         TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    last_seen    INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE TABLE ledger_journal (
    seq  INTEGER PRIMARY KEY,
    body BLOB    NOT NULL
);
CREATE TABLE metric_buckets (
    res_s    INTEGER NOT NULL,
    account  TEXT    NOT NULL,
    metric   TEXT    NOT NULL,
    model_id TEXT    NOT NULL,
    start_ms INTEGER NOT NULL,
    replica  TEXT    NOT NULL DEFAULT '',
    count    INTEGER NOT NULL,
    sum      INTEGER NOT NULL,
    min      INTEGER NOT NULL,
    max      INTEGER NOT NULL,
    sketch   BLOB    NOT NULL,
    PRIMARY KEY (res_s, account, metric, model_id, start_ms, replica)
) WITHOUT ROWID;
CREATE TABLE outbox (
    key          TEXT    PRIMARY KEY,
    kind         TEXT    NOT NULL,
    target       TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    body         TEXT    NOT NULL,
    data         TEXT    NOT NULL, -- JSON, '' when none
    created_ms   INTEGER NOT NULL,
    state        TEXT    NOT NULL, -- pending, delivered, dead
    attempts     INTEGER NOT NULL,
    next_ms      INTEGER NOT NULL,
    last_error   TEXT    NOT NULL,
    delivered_ms INTEGER NOT NULL
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
CREATE TABLE profile_tiers (
    account      TEXT NOT NULL,
    profile_id   TEXT NOT NULL,
    default_tier TEXT NOT NULL,
    max_tier     TEXT NOT NULL,
    PRIMARY KEY (account, profile_id)
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
    request_hash         TEXT    NOT NULL, scope TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (account, id),
    UNIQUE (account, name)
);
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE tag_sets (
    id        INTEGER PRIMARY KEY,
    canonical TEXT NOT NULL UNIQUE,
    tags      TEXT NOT NULL -- JSON object
);
CREATE TABLE "usage_daily" (
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
CREATE TABLE "usage_hourly" (
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
, service_tier TEXT NOT NULL DEFAULT '', scope TEXT NOT NULL DEFAULT '', long_context INTEGER NOT NULL DEFAULT 0, latency_optimized INTEGER NOT NULL DEFAULT 0, cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0, cache_write_1h_cost INTEGER NOT NULL DEFAULT 0, fixed_cost INTEGER NOT NULL DEFAULT 0, price_version TEXT NOT NULL DEFAULT '', calls INTEGER NOT NULL DEFAULT 1, units INTEGER NOT NULL DEFAULT 0, unit_kind TEXT NOT NULL DEFAULT '', unit_cost INTEGER NOT NULL DEFAULT 0);
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
CREATE INDEX alarm_history_account_time ON alarm_history (account, time_ms);
CREATE INDEX anomalies_account_end ON anomalies (account, end_ms);
CREATE INDEX anomalies_monitor_end ON anomalies (monitor_arn, end_ms);
CREATE INDEX anomaly_monitors_account ON anomaly_monitors (account, created_at);
CREATE INDEX anomaly_subscription_monitors_monitor ON anomaly_subscription_monitors (monitor_arn);
CREATE INDEX anomaly_subscriptions_account ON anomaly_subscriptions (account, created_at);
CREATE INDEX budget_alerts_period ON budget_alerts (period_start_ms);
CREATE INDEX budget_refusals_last ON budget_refusals (last_ms);
CREATE INDEX console_sessions_principal ON console_sessions (principal_id);
CREATE INDEX metric_buckets_start ON metric_buckets (res_s, start_ms);
CREATE INDEX outbox_due ON outbox (next_ms) WHERE state = 'pending';
CREATE UNIQUE INDEX profiles_token ON profiles (account, client_request_token)
    WHERE client_request_token IS NOT NULL;
CREATE INDEX usage_records_account_time ON usage_records (account, time_ms);
CREATE INDEX usage_repricings_request ON usage_repricings (request_id);
