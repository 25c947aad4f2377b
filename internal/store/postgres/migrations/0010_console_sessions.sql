-- Web console sessions (internal/console/session): one row per signed-in
-- browser, keyed by the SHA-256 of the session token (the token itself is
-- only in the user's cookie). Times are Unix milliseconds.
CREATE TABLE IF NOT EXISTS console_sessions (
    hash         text PRIMARY KEY,
    principal_id text    NOT NULL,
    key_id       text    NOT NULL,
    api_key      boolean NOT NULL,
    view         text    NOT NULL DEFAULT '',
    created_at   bigint  NOT NULL,
    last_seen    bigint  NOT NULL,
    expires_at   bigint  NOT NULL
);
CREATE INDEX IF NOT EXISTS console_sessions_principal ON console_sessions (principal_id);
