// Package session owns the web console's sign-in sessions: the session
// record kept server-side in the store (only a hash of the session token
// is stored), the rules for idle timeout and absolute lifetime, and the
// per-session CSRF token derived from the session token. It is plain Go:
// the console package turns sessions into cookies.
package session

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"time"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// Session is one signed-in console user, as stored.
type Session struct {
	// Hash is the hex SHA-256 of the session token; the token itself is
	// only ever in the user's cookie.
	Hash string
	// PrincipalID is the signed-in principal; KeyID the access key id or
	// Bedrock API key id it signed in with (a deactivated key ends the
	// session).
	PrincipalID string
	KeyID       string
	// APIKey reports whether KeyID is a Bedrock API key's id.
	APIKey bool
	// View is the account a management account's root is looking at;
	// "" is its own account (the consolidated view).
	View string
	// CreatedAt is when the user signed in; LastSeen the last request.
	CreatedAt time.Time
	LastSeen  time.Time
	// Expires is CreatedAt plus the absolute lifetime.
	Expires time.Time
}

// Store persists sessions. Implementations are safe for concurrent use.
type Store interface {
	// PutConsoleSession inserts or replaces the session with s.Hash.
	PutConsoleSession(ctx context.Context, s Session) error
	// ConsoleSession returns the session with hash, or an
	// errkind.NotFound error.
	ConsoleSession(ctx context.Context, hash string) (Session, error)
	// TouchConsoleSession sets the session's LastSeen and View; a
	// session that does not exist is not an error.
	TouchConsoleSession(ctx context.Context, hash string, lastSeen time.Time, view string) error
	// DeleteConsoleSession deletes one session (none is not an error).
	DeleteConsoleSession(ctx context.Context, hash string) error
	// DeleteConsoleSessionsOf deletes every session of a principal and
	// returns how many there were.
	DeleteConsoleSessionsOf(ctx context.Context, principalID string) (int, error)
	// DeleteExpiredConsoleSessions deletes the sessions last seen before
	// idleBefore or expiring at or before now, and returns how many.
	DeleteExpiredConsoleSessions(ctx context.Context, idleBefore, now time.Time) (int, error)
}

// Defaults of Manager's timeouts.
const (
	DefaultIdleTimeout = time.Hour
	DefaultLifetime    = 12 * time.Hour
)

// Manager creates, checks and ends sessions over a Store. Safe for
// concurrent use.
type Manager struct {
	Store Store
	// IdleTimeout ends a session not used for this long; Lifetime ends
	// every session this long after sign-in.
	IdleTimeout, Lifetime time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Manager) idle() time.Duration {
	if m.IdleTimeout > 0 {
		return m.IdleTimeout
	}
	return DefaultIdleTimeout
}

func (m *Manager) lifetime() time.Duration {
	if m.Lifetime > 0 {
		return m.Lifetime
	}
	return DefaultLifetime
}

// ErrNoSession is returned for a missing, unknown, idle or expired
// session token.
var ErrNoSession = errkind.New(errkind.Denied, "Your console session has ended; sign in again.")

// Hash returns the stored form of a session token.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CSRF returns the CSRF token of the session whose token is token: an
// HMAC of a fixed label under the session token, so it cannot be derived
// from the stored hash nor forged without the cookie.
func CSRF(token string) string {
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write([]byte("tollgate console csrf v1"))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// CheckCSRF reports whether got is the CSRF token of the session token.
func CheckCSRF(token, got string) bool {
	if token == "" || got == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(CSRF(token)), []byte(got)) == 1
}

// Start creates a session for principalID signed in with keyID and
// returns its token (for the cookie) and the session.
func (m *Manager) Start(ctx context.Context, principalID, keyID string, apiKey bool) (string, Session, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", Session{}, err
	}
	token := base64.RawURLEncoding.EncodeToString(b[:])
	now := m.now().UTC()
	s := Session{Hash: Hash(token), PrincipalID: principalID, KeyID: keyID, APIKey: apiKey,
		CreatedAt: now, LastSeen: now, Expires: now.Add(m.lifetime())}
	if err := m.Store.PutConsoleSession(ctx, s); err != nil {
		return "", Session{}, err
	}
	return token, s, nil
}

// Check returns the live session of token and records its use (at most
// once a minute, to spare the store). An idle or expired session is
// deleted and ErrNoSession returned.
func (m *Manager) Check(ctx context.Context, token string) (Session, error) {
	if token == "" {
		return Session{}, ErrNoSession
	}
	h := Hash(token)
	s, err := m.Store.ConsoleSession(ctx, h)
	if errkind.As(err).Kind == errkind.NotFound {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, err
	}
	now := m.now().UTC()
	if !now.Before(s.Expires) || now.Sub(s.LastSeen) >= m.idle() {
		if err := m.Store.DeleteConsoleSession(ctx, h); err != nil {
			return Session{}, err
		}
		return Session{}, ErrNoSession
	}
	if now.Sub(s.LastSeen) >= time.Minute {
		s.LastSeen = now
		if err := m.Store.TouchConsoleSession(ctx, h, now, s.View); err != nil {
			return Session{}, err
		}
	}
	return s, nil
}

// SetView records the account a session looks at.
func (m *Manager) SetView(ctx context.Context, s Session, view string) error {
	return m.Store.TouchConsoleSession(ctx, s.Hash, m.now().UTC(), view)
}

// End deletes the session of token (sign-out).
func (m *Manager) End(ctx context.Context, token string) error {
	if token == "" {
		return errors.New("session: no token")
	}
	return m.Store.DeleteConsoleSession(ctx, Hash(token))
}

// Sweep deletes the idle and expired sessions and returns how many.
func (m *Manager) Sweep(ctx context.Context) (int, error) {
	now := m.now().UTC()
	return m.Store.DeleteExpiredConsoleSessions(ctx, now.Add(-m.idle()), now)
}
