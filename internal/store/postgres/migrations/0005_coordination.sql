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

-- A claim of BLOCK allowance in one round trip: under a transaction-scoped
-- advisory lock on the budget's pool (so claims of one pool are serialised
-- and claims of different pools never wait on each other), open the pool
-- with p_base if it is new, and grant between p_need and p_want of what is
-- free, or nothing. Returns the replica's whole grant afterwards.
CREATE FUNCTION tollgate_claim_allowance(p_account text, p_budget text, p_start bigint, p_end bigint,
        p_replica text, p_limit bigint, p_base bigint, p_need bigint, p_want bigint, p_now bigint)
    RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_base bigint;
    v_sum  bigint;
    v_mine bigint;
    v_give bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(current_schema() || '/' || p_account || '/' || p_budget || '/' || p_start::text, 0));
    INSERT INTO budget_pools (account, budget, period_start, period_end, base, created_at)
        VALUES (p_account, p_budget, p_start, p_end, p_base, p_now) ON CONFLICT DO NOTHING;
    SELECT base INTO v_base FROM budget_pools WHERE account = p_account AND budget = p_budget AND period_start = p_start;
    SELECT coalesce(sum(granted), 0), coalesce(sum(granted) FILTER (WHERE replica = p_replica), 0) INTO v_sum, v_mine
        FROM budget_allowances WHERE account = p_account AND budget = p_budget AND period_start = p_start;
    v_give := least(greatest(p_want, p_need), p_limit - v_base - v_sum);
    IF v_give < p_need OR v_give <= 0 THEN
        RETURN v_mine;
    END IF;
    INSERT INTO budget_allowances AS a (account, budget, period_start, period_end, replica, granted, updated_at)
        VALUES (p_account, p_budget, p_start, p_end, p_replica, v_give, p_now)
        ON CONFLICT (account, budget, period_start, replica) DO UPDATE SET granted = a.granted + EXCLUDED.granted, updated_at = EXCLUDED.updated_at;
    RETURN v_mine + v_give;
END $$;

-- Up to p_want slots of a THROTTLE window of p_limit calls, in one round
-- trip; returns how many were taken.
CREATE FUNCTION tollgate_claim_rate(p_account text, p_budget text, p_minute bigint, p_limit bigint, p_want bigint)
    RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_used bigint;
    v_give bigint;
BEGIN
    INSERT INTO throttle_windows (account, budget, minute, used) VALUES (p_account, p_budget, p_minute, 0) ON CONFLICT DO NOTHING;
    SELECT used INTO v_used FROM throttle_windows WHERE account = p_account AND budget = p_budget AND minute = p_minute FOR UPDATE;
    v_give := least(p_want, p_limit - v_used);
    IF v_give <= 0 THEN
        RETURN 0;
    END IF;
    UPDATE throttle_windows SET used = used + v_give WHERE account = p_account AND budget = p_budget AND minute = p_minute;
    RETURN v_give;
END $$;
