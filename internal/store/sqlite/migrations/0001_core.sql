CREATE TABLE profiles (
    account              TEXT    NOT NULL,
    id                   TEXT    NOT NULL,
    arn                  TEXT    NOT NULL,
    name                 TEXT    NOT NULL,
    description          TEXT    NOT NULL,
    region               TEXT    NOT NULL,
    model_id             TEXT    NOT NULL,
    model_arns           TEXT    NOT NULL, -- JSON array
    source               TEXT    NOT NULL,
    tags                 TEXT    NOT NULL, -- JSON object
    created_at           INTEGER NOT NULL, -- unix milliseconds
    updated_at           INTEGER NOT NULL,
    client_request_token TEXT,
    request_hash         TEXT    NOT NULL,
    PRIMARY KEY (account, id),
    UNIQUE (account, name)
);
CREATE UNIQUE INDEX profiles_token ON profiles (account, client_request_token)
    WHERE client_request_token IS NOT NULL;

CREATE TABLE principals (
    id         TEXT PRIMARY KEY,
    account    TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    tags       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE access_keys (
    id            TEXT PRIMARY KEY,
    principal_id  TEXT    NOT NULL REFERENCES principals (id),
    secret_sealed BLOB    NOT NULL,
    status        TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE api_keys (
    hash         TEXT PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    principal_id TEXT    NOT NULL REFERENCES principals (id),
    status       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);
