package sqlite

import (
	"github.com/tollgate-dev/tollgate/internal/console/session"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

var consoleSQL = sqlstore.ConsoleSessionSQL{
	Put: `INSERT INTO console_sessions (hash, principal_id, key_id, api_key, view, created_at, last_seen, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (hash) DO UPDATE SET principal_id = excluded.principal_id, key_id = excluded.key_id, api_key = excluded.api_key,
		view = excluded.view, created_at = excluded.created_at, last_seen = excluded.last_seen, expires_at = excluded.expires_at`,
	Get:           `SELECT hash, principal_id, key_id, api_key, view, created_at, last_seen, expires_at FROM console_sessions WHERE hash = ?`,
	Touch:         `UPDATE console_sessions SET last_seen = ?, view = ? WHERE hash = ?`,
	Delete:        `DELETE FROM console_sessions WHERE hash = ?`,
	DeleteOf:      `DELETE FROM console_sessions WHERE principal_id = ?`,
	DeleteExpired: `DELETE FROM console_sessions WHERE last_seen < ? OR expires_at <= ?`,
}

// DB implements session.Store through its embedded
// sqlstore.ConsoleSessions.
var _ session.Store = (*DB)(nil)
