-- IF NOT EXISTS: a test of migration 0008 re-runs every later migration.
-- Budget actions' histories (DescribeBudgetActionHistories): one row per
-- event (engaged, released, created, updated, deleted); action is the
-- action as it was, JSON of budget.Action.
CREATE TABLE IF NOT EXISTS budget_action_events (
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

-- Each replica's report of the calls a budget action refused (a shadow
-- action: would have refused) in a period: the replica evaluating alerts
-- reads them to engage and release the action for the fleet.
CREATE TABLE IF NOT EXISTS budget_refusals (
    account         TEXT    NOT NULL,
    budget          TEXT    NOT NULL,
    action_id       TEXT    NOT NULL,
    replica         TEXT    NOT NULL,
    period_start_ms INTEGER NOT NULL,
    last_ms         INTEGER NOT NULL,
    count           INTEGER NOT NULL,
    PRIMARY KEY (account, budget, action_id, replica, period_start_ms)
);
CREATE INDEX IF NOT EXISTS budget_refusals_last ON budget_refusals (last_ms);
