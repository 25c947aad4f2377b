-- Metric buckets (CloudWatch AWS/Bedrock series): one row per series,
-- resolution and bucket start. res_s is 60 (kept 15 days) or 3600 (kept
-- 15 months); model_id '' is the series across all model ids. Values are
-- integers in the metric's stored unit (nano-USD for Cost); sketch is the
-- encoded percentile histogram (metrics.Sketch).
CREATE TABLE metric_buckets (
    res_s    INTEGER NOT NULL,
    account  TEXT    NOT NULL,
    metric   TEXT    NOT NULL,
    model_id TEXT    NOT NULL,
    start_ms INTEGER NOT NULL,
    count    INTEGER NOT NULL,
    sum      INTEGER NOT NULL,
    min      INTEGER NOT NULL,
    max      INTEGER NOT NULL,
    sketch   BLOB    NOT NULL,
    PRIMARY KEY (res_s, account, metric, model_id, start_ms)
) WITHOUT ROWID;
CREATE INDEX metric_buckets_start ON metric_buckets (res_s, start_ms);

-- Metric alarms: the configuration as JSON, the state in columns.
CREATE TABLE alarms (
    account               TEXT    NOT NULL,
    name                  TEXT    NOT NULL,
    definition            TEXT    NOT NULL, -- JSON of alarm.Alarm
    state                 TEXT    NOT NULL,
    state_updated_ms      INTEGER NOT NULL,
    config_updated_ms     INTEGER NOT NULL,
    PRIMARY KEY (account, name)
);

-- Alarm history (configuration updates, state updates, actions), kept
-- two weeks; it outlives a deleted alarm.
CREATE TABLE alarm_history (
    seq        INTEGER PRIMARY KEY,
    account    TEXT    NOT NULL,
    alarm_name TEXT    NOT NULL,
    time_ms    INTEGER NOT NULL,
    type       TEXT    NOT NULL,
    summary    TEXT    NOT NULL,
    data       TEXT    NOT NULL
);
CREATE INDEX alarm_history_account_time ON alarm_history (account, time_ms);
