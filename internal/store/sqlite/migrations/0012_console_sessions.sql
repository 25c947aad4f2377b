-- Web console sessions (internal/console/session): one row per signed-in
-- browser, keyed by the SHA-256 of the session token (the token itself is
-- only in the user's cookie). Times are Unix milliseconds.
-- IF NOT EXISTS: a database whose recorded migrations were rolled back
-- by hand (as a test of an older migration does) runs it again.
CREATE TABLE IF NOT EXISTS console_sessions (
    hash         TEXT PRIMARY KEY,
    principal_id TEXT    NOT NULL,
    key_id       TEXT    NOT NULL,
    api_key      INTEGER NOT NULL,
    view         TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    last_seen    INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS console_sessions_principal ON console_sessions (principal_id);
