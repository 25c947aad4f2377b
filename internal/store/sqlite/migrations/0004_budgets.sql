-- Budgets (AWS Budgets): the whole definition, with its notifications,
-- subscribers and actions, as JSON of budget.Budget. Spend is not stored:
-- it is summed from the ledger.
CREATE TABLE budgets (
    account    TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    definition TEXT    NOT NULL, -- JSON of budget.Budget
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (account, name)
);

-- Alert state of each notification (alert = its key) or action
-- ('action/' || id) of a budget, per budget period: whether it is in
-- ALARM and how often it fired, so an alert fires once per period across
-- restarts.
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
CREATE INDEX budget_alerts_period ON budget_alerts (period_start_ms);

-- The notification outbox: one row per message, keyed by its idempotency
-- key; pending rows are delivered (and retried) until delivered or dead.
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
CREATE INDEX outbox_due ON outbox (next_ms) WHERE state = 'pending';
