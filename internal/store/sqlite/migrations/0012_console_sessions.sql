-- Web console sessions (internal/console/session): one row per signed-in
-- browser, keyed by the SHA-256 of the session token (the token itself is
-- only in the user's cookie). Times are Unix milliseconds.
CREATE TABLE console_sessions (
    hash         TEXT PRIMARY KEY,
    principal_id TEXT    NOT NULL,
    key_id       TEXT    NOT NULL,
    api_key      INTEGER NOT NULL,
    view         TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    last_seen    INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX console_sessions_principal ON console_sessions (principal_id);
