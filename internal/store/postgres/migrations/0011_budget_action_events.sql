-- Budget actions' histories (DescribeBudgetActionHistories): one row per
-- event (engaged, released, created, updated, deleted); action is the
-- action as it was, JSON of budget.Action. Rows go with their budget.
CREATE TABLE budget_action_events (
    account    text   NOT NULL,
    budget     text   NOT NULL,
    action_id  text   NOT NULL,
    at         bigint NOT NULL,
    status     text   NOT NULL,
    event_type text   NOT NULL,
    message    text   NOT NULL,
    action     text   NOT NULL,
    PRIMARY KEY (account, budget, action_id, at, status),
    FOREIGN KEY (account, budget) REFERENCES budgets (account, name) ON DELETE CASCADE
);

-- Each replica's report of the calls a budget action refused (a shadow
-- action: would have refused) in a period: the replica evaluating alerts
-- reads them to engage and release the action for the fleet.
CREATE TABLE budget_refusals (
    account      text   NOT NULL,
    budget       text   NOT NULL,
    action_id    text   NOT NULL,
    replica      text   NOT NULL,
    period_start bigint NOT NULL,
    last_at      bigint NOT NULL,
    count        bigint NOT NULL,
    PRIMARY KEY (account, budget, action_id, replica, period_start),
    FOREIGN KEY (account, budget) REFERENCES budgets (account, name) ON DELETE CASCADE
);
CREATE INDEX budget_refusals_last ON budget_refusals (last_at);
