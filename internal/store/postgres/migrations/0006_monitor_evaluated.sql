-- A cost anomaly monitor never evaluated has last_evaluated 0, not NULL,
-- as in the SQLite store: both stores keep the same value.
UPDATE anomaly_monitors SET last_evaluated = 0 WHERE last_evaluated IS NULL;
ALTER TABLE anomaly_monitors
    ALTER COLUMN last_evaluated SET DEFAULT 0,
    ALTER COLUMN last_evaluated SET NOT NULL;
