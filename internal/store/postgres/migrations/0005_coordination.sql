-- Coordination between the replicas that share this database.
--
-- leases: a named background job (budget alert evaluation, alarm
-- evaluation, anomaly detection, notification delivery) runs on the replica
-- holding its lease. Expiry is the database's clock, so replicas' clocks
-- need not agree; a holder renews well before expiry, and another replica
-- takes the lease over once it has expired.
CREATE TABLE leases (
    name       text        PRIMARY KEY,
    holder     text        NOT NULL,
    expires_at timestamptz NOT NULL
);

-- Budget allowances: a BLOCK threshold is enforced across replicas by
-- granting each replica a share of it. budget_pools holds, per budget and
-- period, the spend the ledger held when the pool was opened (base);
-- budget_allowances what each replica was granted since. Invariant, kept
-- by claims serialised per budget and period (an advisory lock on the
-- pool): base + sum(granted) <= threshold. A replica admits a call only
-- within its own grant, and gives back what it does not need.
CREATE TABLE budget_pools (
    account      text   NOT NULL,
    budget       text   NOT NULL,
    period_start bigint NOT NULL, -- unix milliseconds
    period_end   bigint NOT NULL, -- for pruning
    base         bigint NOT NULL, -- units (nano-dollars or usage units)
    created_at   bigint NOT NULL,
    PRIMARY KEY (account, budget, period_start)
);

CREATE TABLE budget_allowances (
    account      text   NOT NULL,
    budget       text   NOT NULL,
    period_start bigint NOT NULL,
    period_end   bigint NOT NULL,
    replica      text   NOT NULL,
    granted      bigint NOT NULL,
    updated_at   bigint NOT NULL,
    PRIMARY KEY (account, budget, period_start, replica)
);

-- Budget THROTTLE windows: the calls admitted in scope per UTC minute,
-- across replicas. Replicas claim slots in small batches.
CREATE TABLE throttle_windows (
    account text   NOT NULL,
    budget  text   NOT NULL,
    minute  bigint NOT NULL, -- unix seconds of the minute's start
    used    bigint NOT NULL,
    PRIMARY KEY (account, budget, minute)
);
