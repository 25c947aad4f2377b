CREATE TABLE access_keys (
    id text NOT NULL,
    principal_id text NOT NULL,
    secret_sealed bytea NOT NULL,
    status text NOT NULL,
    created_at bigint NOT NULL,
    CONSTRAINT access_keys_pkey PRIMARY KEY (id),
    CONSTRAINT access_keys_principal_id_fkey FOREIGN KEY (principal_id) REFERENCES principals(id)
);
CREATE TABLE accounts (
    id text NOT NULL,
    name text NOT NULL,
    created_at bigint NOT NULL,
    CONSTRAINT accounts_pkey PRIMARY KEY (id)
);
CREATE TABLE anomalies (
    id text NOT NULL,
    account text NOT NULL,
    monitor_arn text NOT NULL,
    dimension_value text NOT NULL,
    start_ms bigint NOT NULL,
    end_ms bigint NOT NULL,
    open boolean NOT NULL,
    adapted boolean NOT NULL,
    max_score double precision NOT NULL,
    current_score double precision NOT NULL,
    actual_nanos bigint NOT NULL,
    expected_nanos bigint NOT NULL,
    max_impact bigint NOT NULL,
    root_causes jsonb NOT NULL,
    feedback text NOT NULL,
    detected_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    CONSTRAINT anomalies_monitor_arn_fkey FOREIGN KEY (monitor_arn) REFERENCES anomaly_monitors(arn) ON DELETE CASCADE,
    CONSTRAINT anomalies_pkey PRIMARY KEY (id)
);
CREATE INDEX anomalies_account_end ON anomalies USING btree (account, end_ms);
CREATE INDEX anomalies_monitor_end ON anomalies USING btree (monitor_arn, end_ms);
CREATE TABLE anomaly_monitors (
    arn text NOT NULL,
    account text NOT NULL,
    name text NOT NULL,
    type text NOT NULL,
    dimension text NOT NULL,
    tag_key text NOT NULL,
    monitor_values jsonb NOT NULL,
    resource_tags jsonb NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    last_evaluated bigint,
    value_count integer NOT NULL,
    CONSTRAINT anomaly_monitors_pkey PRIMARY KEY (arn)
);
CREATE INDEX anomaly_monitors_account ON anomaly_monitors USING btree (account, created_at);
CREATE TABLE anomaly_subscription_monitors (
    subscription_arn text NOT NULL,
    monitor_arn text NOT NULL,
    "position" integer NOT NULL,
    CONSTRAINT anomaly_subscription_monitors_monitor_arn_fkey FOREIGN KEY (monitor_arn) REFERENCES anomaly_monitors(arn) ON DELETE CASCADE,
    CONSTRAINT anomaly_subscription_monitors_pkey PRIMARY KEY (subscription_arn, monitor_arn),
    CONSTRAINT anomaly_subscription_monitors_subscription_arn_fkey FOREIGN KEY (subscription_arn) REFERENCES anomaly_subscriptions(arn) ON DELETE CASCADE
);
CREATE INDEX anomaly_subscription_monitors_monitor ON anomaly_subscription_monitors USING btree (monitor_arn);
CREATE TABLE anomaly_subscriptions (
    arn text NOT NULL,
    account text NOT NULL,
    name text NOT NULL,
    frequency text NOT NULL,
    subscribers jsonb NOT NULL,
    threshold jsonb NOT NULL,
    legacy boolean NOT NULL,
    resource_tags jsonb NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    CONSTRAINT anomaly_subscriptions_pkey PRIMARY KEY (arn)
);
CREATE INDEX anomaly_subscriptions_account ON anomaly_subscriptions USING btree (account, created_at);
CREATE TABLE api_keys (
    hash text NOT NULL,
    id text NOT NULL,
    principal_id text NOT NULL,
    status text NOT NULL,
    created_at bigint NOT NULL,
    CONSTRAINT api_keys_id_key UNIQUE (id),
    CONSTRAINT api_keys_pkey PRIMARY KEY (hash),
    CONSTRAINT api_keys_principal_id_fkey FOREIGN KEY (principal_id) REFERENCES principals(id)
);
CREATE TABLE budget_alerts (
    account text NOT NULL,
    budget text NOT NULL,
    alert text NOT NULL,
    period_start bigint NOT NULL,
    alarm boolean NOT NULL,
    fired integer NOT NULL,
    updated_at bigint NOT NULL,
    CONSTRAINT budget_alerts_account_budget_fkey FOREIGN KEY (account, budget) REFERENCES budgets(account, name) ON DELETE CASCADE,
    CONSTRAINT budget_alerts_pkey PRIMARY KEY (account, budget, alert, period_start)
);
CREATE INDEX budget_alerts_period ON budget_alerts USING btree (period_start);
CREATE TABLE budget_allowances (
    account text NOT NULL,
    budget text NOT NULL,
    period_start bigint NOT NULL,
    period_end bigint NOT NULL,
    replica text NOT NULL,
    granted bigint NOT NULL,
    updated_at bigint NOT NULL,
    CONSTRAINT budget_allowances_pkey PRIMARY KEY (account, budget, period_start, replica)
);
CREATE TABLE budget_pools (
    account text NOT NULL,
    budget text NOT NULL,
    period_start bigint NOT NULL,
    period_end bigint NOT NULL,
    base bigint NOT NULL,
    created_at bigint NOT NULL,
    CONSTRAINT budget_pools_pkey PRIMARY KEY (account, budget, period_start)
);
CREATE TABLE budgets (
    account text NOT NULL,
    name text NOT NULL,
    definition jsonb NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    CONSTRAINT budgets_pkey PRIMARY KEY (account, name)
);
CREATE TABLE leases (
    name text NOT NULL,
    holder text NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    CONSTRAINT leases_pkey PRIMARY KEY (name)
);
CREATE TABLE ledger_version (
    shard integer NOT NULL,
    v bigint NOT NULL,
    CONSTRAINT ledger_version_pkey PRIMARY KEY (shard)
);
CREATE TABLE outbox (
    key text NOT NULL,
    kind text NOT NULL,
    target text NOT NULL,
    subject text NOT NULL,
    body text NOT NULL,
    data json,
    created_at bigint NOT NULL,
    state text NOT NULL,
    attempts integer NOT NULL,
    next_at bigint NOT NULL,
    last_error text NOT NULL,
    delivered_at bigint,
    CONSTRAINT outbox_pkey PRIMARY KEY (key),
    CONSTRAINT outbox_state_check CHECK ((state = ANY (ARRAY['pending'::text, 'delivered'::text, 'dead'::text])))
);
CREATE INDEX outbox_due ON outbox USING btree (next_at) WHERE (state = 'pending'::text);
CREATE TABLE policies (
    account text NOT NULL,
    name text NOT NULL,
    document text NOT NULL,
    updated_at bigint NOT NULL,
    CONSTRAINT policies_pkey PRIMARY KEY (account, name)
);
CREATE TABLE principal_policies (
    principal_id text NOT NULL,
    account text NOT NULL,
    policy_name text NOT NULL,
    CONSTRAINT principal_policies_pkey PRIMARY KEY (principal_id, account, policy_name),
    CONSTRAINT principal_policies_principal_id_fkey FOREIGN KEY (principal_id) REFERENCES principals(id)
);
CREATE TABLE principals (
    id text NOT NULL,
    account text NOT NULL,
    name text NOT NULL,
    kind text NOT NULL,
    tags jsonb NOT NULL,
    created_at bigint NOT NULL,
    CONSTRAINT principals_pkey PRIMARY KEY (id)
);
CREATE TABLE profiles (
    account text NOT NULL,
    id text NOT NULL,
    arn text NOT NULL,
    name text NOT NULL,
    description text NOT NULL,
    region text NOT NULL,
    model_id text NOT NULL,
    model_arns jsonb NOT NULL,
    source text NOT NULL,
    tags jsonb NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    client_request_token text,
    request_hash text NOT NULL,
    CONSTRAINT profiles_account_name_key UNIQUE (account, name),
    CONSTRAINT profiles_pkey PRIMARY KEY (account, id)
);
CREATE UNIQUE INDEX profiles_token ON profiles USING btree (account, client_request_token) WHERE (client_request_token IS NOT NULL);
CREATE TABLE schema_migrations (
    version integer NOT NULL,
    name text NOT NULL,
    applied_at timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT schema_migrations_pkey PRIMARY KEY (version)
);
CREATE TABLE tag_sets (
    id bigint GENERATED BY DEFAULT AS IDENTITY NOT NULL,
    canonical bytea NOT NULL,
    tags jsonb NOT NULL,
    CONSTRAINT tag_sets_canonical_key UNIQUE (canonical),
    CONSTRAINT tag_sets_pkey PRIMARY KEY (id)
);
CREATE TABLE throttle_windows (
    account text NOT NULL,
    budget text NOT NULL,
    minute bigint NOT NULL,
    used bigint NOT NULL,
    CONSTRAINT throttle_windows_pkey PRIMARY KEY (account, budget, minute)
);
CREATE TABLE usage_daily (
    day_ms bigint NOT NULL,
    account text NOT NULL,
    region_served text NOT NULL,
    profile_arn text NOT NULL,
    model_id text NOT NULL,
    principal_id text NOT NULL,
    operation text NOT NULL,
    tag_set_id bigint NOT NULL,
    calls bigint NOT NULL,
    errors bigint NOT NULL,
    input_tokens bigint NOT NULL,
    output_tokens bigint NOT NULL,
    cache_read_tokens bigint NOT NULL,
    cache_write_tokens bigint NOT NULL,
    cost_nanos bigint NOT NULL,
    input_cost bigint NOT NULL,
    output_cost bigint NOT NULL,
    cache_read_cost bigint NOT NULL,
    cache_write_cost bigint NOT NULL,
    unpriced bigint NOT NULL,
    CONSTRAINT usage_daily_pkey PRIMARY KEY (day_ms, account, region_served, profile_arn, model_id, principal_id, operation, tag_set_id),
    CONSTRAINT usage_daily_tag_set_id_fkey FOREIGN KEY (tag_set_id) REFERENCES tag_sets(id)
);
CREATE TABLE usage_hourly (
    hour_ms bigint NOT NULL,
    account text NOT NULL,
    region_served text NOT NULL,
    profile_arn text NOT NULL,
    model_id text NOT NULL,
    principal_id text NOT NULL,
    operation text NOT NULL,
    tag_set_id bigint NOT NULL,
    calls bigint NOT NULL,
    errors bigint NOT NULL,
    input_tokens bigint NOT NULL,
    output_tokens bigint NOT NULL,
    cache_read_tokens bigint NOT NULL,
    cache_write_tokens bigint NOT NULL,
    cost_nanos bigint NOT NULL,
    input_cost bigint NOT NULL,
    output_cost bigint NOT NULL,
    cache_read_cost bigint NOT NULL,
    cache_write_cost bigint NOT NULL,
    unpriced bigint NOT NULL,
    CONSTRAINT usage_hourly_pkey PRIMARY KEY (hour_ms, account, region_served, profile_arn, model_id, principal_id, operation, tag_set_id),
    CONSTRAINT usage_hourly_tag_set_id_fkey FOREIGN KEY (tag_set_id) REFERENCES tag_sets(id)
);
CREATE TABLE usage_records (
    seq bigint NOT NULL DEFAULT nextval('usage_records_seq'::regclass),
    request_id text NOT NULL,
    time_ms bigint NOT NULL,
    account text NOT NULL,
    region text NOT NULL,
    region_served text NOT NULL,
    principal_id text NOT NULL,
    profile_arn text NOT NULL,
    profile_id text NOT NULL,
    model_id text NOT NULL,
    provider text NOT NULL,
    operation text NOT NULL,
    input_tokens bigint NOT NULL,
    output_tokens bigint NOT NULL,
    cache_read_tokens bigint NOT NULL,
    cache_write_tokens bigint NOT NULL,
    latency_ms bigint NOT NULL,
    ttft_ms bigint NOT NULL,
    attempts bigint NOT NULL,
    outcome text NOT NULL,
    error_code text NOT NULL,
    cost_nanos bigint NOT NULL,
    input_cost bigint NOT NULL,
    output_cost bigint NOT NULL,
    cache_read_cost bigint NOT NULL,
    cache_write_cost bigint NOT NULL,
    priced boolean NOT NULL,
    tag_set_id bigint NOT NULL,
    CONSTRAINT usage_records_pkey PRIMARY KEY (time_ms, seq),
    CONSTRAINT usage_records_tag_set_id_fkey FOREIGN KEY (tag_set_id) REFERENCES tag_sets(id)
) PARTITION BY RANGE (time_ms);
CREATE INDEX usage_records_account_time ON ONLY usage_records USING btree (account, time_ms);
CREATE TABLE usage_request_ids (
    request_id text NOT NULL,
    time_ms bigint NOT NULL,
    CONSTRAINT usage_request_ids_pkey PRIMARY KEY (request_id)
);
CREATE SEQUENCE usage_records_seq AS bigint;
