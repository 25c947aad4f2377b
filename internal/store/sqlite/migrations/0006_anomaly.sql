-- Cost anomaly detection (Cost Explorer API): monitors, alert
-- subscriptions and the anomalies found. Times are Unix milliseconds,
-- amounts nano-USD; lists and expressions are JSON.

-- What spend each monitor watches. last_evaluated is the end of the
-- complete hours judged (0: never).
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
CREATE INDEX anomaly_monitors_account ON anomaly_monitors (account, created_at);

-- Who hears of which monitors' anomalies, how often, above which impact.
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
CREATE INDEX anomaly_subscriptions_account ON anomaly_subscriptions (account, created_at);

-- The monitors of each subscription, in the order given; a deleted
-- monitor leaves its subscriptions.
CREATE TABLE anomaly_subscription_monitors (
    subscription_arn TEXT    NOT NULL REFERENCES anomaly_subscriptions (arn) ON DELETE CASCADE,
    monitor_arn      TEXT    NOT NULL REFERENCES anomaly_monitors (arn) ON DELETE CASCADE,
    position         INTEGER NOT NULL,
    PRIMARY KEY (subscription_arn, monitor_arn)
);
CREATE INDEX anomaly_subscription_monitors_monitor ON anomaly_subscription_monitors (monitor_arn);

-- The anomalies found, kept with their monitor. start_ms and end_ms are
-- the first and last anomalous hours.
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
CREATE INDEX anomalies_monitor_end ON anomalies (monitor_arn, end_ms);
CREATE INDEX anomalies_account_end ON anomalies (account, end_ms);
