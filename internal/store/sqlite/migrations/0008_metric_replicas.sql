-- Metric buckets per replica: when several Tollgate processes share one
-- store, each keeps its own row of a series' bucket (metrics.Bucket.Replica)
-- and queries add the rows up; '' is the single node, so the rows stored
-- before this migration keep their meaning. SQLite cannot change a primary
-- key in place: the table is rebuilt, its rows copied.
ALTER TABLE metric_buckets RENAME TO metric_buckets_0007;
DROP INDEX metric_buckets_start;
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
INSERT INTO metric_buckets (res_s, account, metric, model_id, start_ms, replica, count, sum, min, max, sketch)
    SELECT res_s, account, metric, model_id, start_ms, '', count, sum, min, max, sketch FROM metric_buckets_0007;
DROP TABLE metric_buckets_0007;
CREATE INDEX metric_buckets_start ON metric_buckets (res_s, start_ms);
