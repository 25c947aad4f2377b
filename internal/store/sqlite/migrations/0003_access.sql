-- Accounts of the organisation; the management account is created at start.
CREATE TABLE accounts (
    id         TEXT PRIMARY KEY,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

-- IAM-style identity policies, named per account.
CREATE TABLE policies (
    account    TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    document   TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account, name)
);

-- Which policies are attached to which principal.
CREATE TABLE principal_policies (
    principal_id TEXT NOT NULL REFERENCES principals (id),
    account      TEXT NOT NULL,
    policy_name  TEXT NOT NULL,
    PRIMARY KEY (principal_id, account, policy_name)
);
