package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/tollgate-dev/tollgate/internal/console/session"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// ConsoleSessionSQL is one dialect's statements of the console session
// store (session.Store); each names its parameters in order.
type ConsoleSessionSQL struct {
	// Put: hash, principal_id, key_id, api_key, view, created_at,
	// last_seen, expires_at (an upsert on hash).
	Put string
	// Get: hash -> the columns in Put's order.
	Get string
	// Touch: last_seen, view, hash.
	Touch string
	// Delete: hash. DeleteOf: principal_id. DeleteExpired: idle-before,
	// now (last_seen < $1 OR expires_at <= $2).
	Delete, DeleteOf, DeleteExpired string
}

// ConsoleSessions implements session.Store on a dialect's statements,
// writes on w and reads on r.
type ConsoleSessions struct {
	W   Execer
	R   *sql.DB
	E   Errors
	SQL ConsoleSessionSQL
}

var _ session.Store = ConsoleSessions{}

// PutConsoleSession implements session.Store.
func (c ConsoleSessions) PutConsoleSession(ctx context.Context, s session.Session) error {
	return Exec(ctx, c.W, c.E, "put console session", c.SQL.Put, s.Hash, s.PrincipalID, s.KeyID, s.APIKey, s.View,
		MS(s.CreatedAt), MS(s.LastSeen), MS(s.Expires))
}

// ConsoleSession implements session.Store.
func (c ConsoleSessions) ConsoleSession(ctx context.Context, hash string) (session.Session, error) {
	var s session.Session
	var created, seen, expires int64
	err := c.R.QueryRowContext(ctx, c.SQL.Get, hash).Scan(&s.Hash, &s.PrincipalID, &s.KeyID, &s.APIKey, &s.View, &created, &seen, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return session.Session{}, errkind.New(errkind.NotFound, "The console session does not exist.")
	}
	if err != nil {
		return session.Session{}, c.E.Internal(err, "get console session")
	}
	s.CreatedAt, s.LastSeen, s.Expires = FromMS(created), FromMS(seen), FromMS(expires)
	return s, nil
}

// TouchConsoleSession implements session.Store.
func (c ConsoleSessions) TouchConsoleSession(ctx context.Context, hash string, lastSeen time.Time, view string) error {
	return Exec(ctx, c.W, c.E, "touch console session", c.SQL.Touch, MS(lastSeen), view, hash)
}

// DeleteConsoleSession implements session.Store.
func (c ConsoleSessions) DeleteConsoleSession(ctx context.Context, hash string) error {
	return Exec(ctx, c.W, c.E, "delete console session", c.SQL.Delete, hash)
}

// DeleteConsoleSessionsOf implements session.Store.
func (c ConsoleSessions) DeleteConsoleSessionsOf(ctx context.Context, principalID string) (int, error) {
	return c.count(ctx, "delete console sessions", c.SQL.DeleteOf, principalID)
}

// DeleteExpiredConsoleSessions implements session.Store.
func (c ConsoleSessions) DeleteExpiredConsoleSessions(ctx context.Context, idleBefore, now time.Time) (int, error) {
	return c.count(ctx, "sweep console sessions", c.SQL.DeleteExpired, MS(idleBefore), MS(now))
}

func (c ConsoleSessions) count(ctx context.Context, op, query string, args ...any) (int, error) {
	res, err := c.W.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, c.E.Internal(err, op)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, c.E.Internal(err, op)
	}
	return int(n), nil
}
