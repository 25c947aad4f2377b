-- The PostgreSQL schema of SQLite's 0004_budgets (budgets, their alert
-- states, the notification outbox) and 0006_anomaly (cost anomaly
-- monitors, subscriptions and anomalies). Times are unix milliseconds
-- (bigint), amounts nano-USD, as in 0001.

-- Budgets (AWS Budgets): the whole definition, with its notifications,
-- subscribers and actions, as JSON of budget.Budget. Spend is not stored:
-- it is summed from the ledger.
CREATE TABLE budgets (
    account    text   NOT NULL,
    name       text   NOT NULL,
    definition jsonb  NOT NULL, -- JSON of budget.Budget
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (account, name)
);

-- Alert state of each notification (alert = its key) or action
-- ('action/' || id) of a budget, per budget period: whether it is in
-- ALARM and how often it fired, so an alert fires once per period across
-- restarts and replicas. The states go with their budget; the foreign key
-- also keeps a replica that evaluates a budget while another deletes it
-- from leaving states behind for a budget later created under the name.
CREATE TABLE budget_alerts (
    account      text    NOT NULL,
    budget       text    NOT NULL,
    alert        text    NOT NULL,
    period_start bigint  NOT NULL,
    alarm        boolean NOT NULL,
    fired        integer NOT NULL,
    updated_at   bigint  NOT NULL,
    PRIMARY KEY (account, budget, alert, period_start),
    FOREIGN KEY (account, budget) REFERENCES budgets (account, name) ON DELETE CASCADE
);
CREATE INDEX budget_alerts_period ON budget_alerts (period_start);

-- The notification outbox: one row per message, keyed by its idempotency
-- key (replicas enqueueing one key concurrently store it once); pending
-- rows are delivered (and retried) until delivered or dead. data is json,
-- not jsonb: the payload goes to webhook receivers as it was given, with
-- its keys in their order.
CREATE TABLE outbox (
    key          text    PRIMARY KEY,
    kind         text    NOT NULL,
    target       text    NOT NULL,
    subject      text    NOT NULL,
    body         text    NOT NULL,
    data         json,             -- NULL when none
    created_at   bigint  NOT NULL,
    state        text    NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts     integer NOT NULL,
    next_at      bigint  NOT NULL, -- when a pending message is due
    last_error   text    NOT NULL,
    delivered_at bigint            -- NULL until delivered
);
CREATE INDEX outbox_due ON outbox (next_at) WHERE state = 'pending';

-- Cost anomaly detection (Cost Explorer API).

-- What spend each monitor watches. last_evaluated is the end of the
-- complete hours judged (NULL: never).
CREATE TABLE anomaly_monitors (
    arn            text PRIMARY KEY,
    account        text    NOT NULL,
    name           text    NOT NULL,
    type           text    NOT NULL,
    dimension      text    NOT NULL,
    tag_key        text    NOT NULL,
    monitor_values jsonb   NOT NULL, -- JSON array
    resource_tags  jsonb   NOT NULL, -- JSON object
    created_at     bigint  NOT NULL,
    updated_at     bigint  NOT NULL,
    last_evaluated bigint,
    value_count    integer NOT NULL
);
CREATE INDEX anomaly_monitors_account ON anomaly_monitors (account, created_at);

-- Who hears of which monitors' anomalies, how often, above which impact.
CREATE TABLE anomaly_subscriptions (
    arn           text PRIMARY KEY,
    account       text    NOT NULL,
    name          text    NOT NULL,
    frequency     text    NOT NULL,
    subscribers   jsonb   NOT NULL, -- JSON array of anomaly.Subscriber
    threshold     jsonb   NOT NULL, -- JSON of anomaly.Threshold
    legacy        boolean NOT NULL,
    resource_tags jsonb   NOT NULL, -- JSON object
    created_at    bigint  NOT NULL,
    updated_at    bigint  NOT NULL
);
CREATE INDEX anomaly_subscriptions_account ON anomaly_subscriptions (account, created_at);

-- The monitors of each subscription, in the order given; a deleted
-- monitor leaves its subscriptions.
CREATE TABLE anomaly_subscription_monitors (
    subscription_arn text    NOT NULL REFERENCES anomaly_subscriptions (arn) ON DELETE CASCADE,
    monitor_arn      text    NOT NULL REFERENCES anomaly_monitors (arn) ON DELETE CASCADE,
    position         integer NOT NULL,
    PRIMARY KEY (subscription_arn, monitor_arn)
);
CREATE INDEX anomaly_subscription_monitors_monitor ON anomaly_subscription_monitors (monitor_arn);

-- The anomalies found, kept with their monitor. start_ms and end_ms are
-- the starts of the first and last anomalous hours. feedback is '' when
-- none was given.
CREATE TABLE anomalies (
    id              text PRIMARY KEY,
    account         text             NOT NULL,
    monitor_arn     text             NOT NULL REFERENCES anomaly_monitors (arn) ON DELETE CASCADE,
    dimension_value text             NOT NULL,
    start_ms        bigint           NOT NULL,
    end_ms          bigint           NOT NULL,
    open            boolean          NOT NULL,
    adapted         boolean          NOT NULL,
    max_score       double precision NOT NULL,
    current_score   double precision NOT NULL,
    actual_nanos    bigint           NOT NULL,
    expected_nanos  bigint           NOT NULL,
    max_impact      bigint           NOT NULL,
    root_causes     jsonb            NOT NULL, -- JSON array of anomaly.RootCause
    feedback        text             NOT NULL,
    detected_at     bigint           NOT NULL,
    updated_at      bigint           NOT NULL
);
CREATE INDEX anomalies_monitor_end ON anomalies (monitor_arn, end_ms);
CREATE INDEX anomalies_account_end ON anomalies (account, end_ms);
