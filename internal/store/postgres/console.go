package postgres

import (
	"github.com/tollgate-dev/tollgate/internal/console/session"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

var consoleSQL = sqlstore.ConsoleSessionSQL{
	Put: `INSERT INTO console_sessions (hash, principal_id, key_id, api_key, view, created_at, last_seen, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (hash) DO UPDATE SET principal_id = excluded.principal_id, key_id = excluded.key_id, api_key = excluded.api_key,
		view = excluded.view, created_at = excluded.created_at, last_seen = excluded.last_seen, expires_at = excluded.expires_at`,
	Get:           `SELECT hash, principal_id, key_id, api_key, view, created_at, last_seen, expires_at FROM console_sessions WHERE hash = $1`,
	Touch:         `UPDATE console_sessions SET last_seen = $1, view = $2 WHERE hash = $3`,
	Delete:        `DELETE FROM console_sessions WHERE hash = $1`,
	DeleteOf:      `DELETE FROM console_sessions WHERE principal_id = $1`,
	DeleteExpired: `DELETE FROM console_sessions WHERE last_seen < $1 OR expires_at <= $2`,
}

// DB implements session.Store through its embedded
// sqlstore.ConsoleSessions.
var _ session.Store = (*DB)(nil)
