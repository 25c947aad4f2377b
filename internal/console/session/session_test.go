package session_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/console/session"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// memStore is an in-memory session.Store that counts writes.
type memStore struct {
	mu      sync.Mutex
	m       map[string]session.Session
	touches int
}

func (s *memStore) PutConsoleSession(_ context.Context, x session.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[x.Hash] = x
	return nil
}

func (s *memStore) ConsoleSession(_ context.Context, hash string) (session.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.m[hash]
	if !ok {
		return x, errkind.New(errkind.NotFound, "no session")
	}
	return x, nil
}

func (s *memStore) TouchConsoleSession(_ context.Context, hash string, seen time.Time, view string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.touches++
	if x, ok := s.m[hash]; ok {
		x.LastSeen, x.View = seen, view
		s.m[hash] = x
	}
	return nil
}

func (s *memStore) DeleteConsoleSession(_ context.Context, hash string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, hash)
	return nil
}

func (s *memStore) DeleteConsoleSessionsOf(_ context.Context, p string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for h, x := range s.m {
		if x.PrincipalID == p {
			delete(s.m, h)
			n++
		}
	}
	return n, nil
}

func (s *memStore) DeleteExpiredConsoleSessions(_ context.Context, idleBefore, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for h, x := range s.m {
		if x.LastSeen.Before(idleBefore) || !x.Expires.After(now) {
			delete(s.m, h)
			n++
		}
	}
	return n, nil
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestManagerLifecycle(t *testing.T) {
	st := &memStore{m: map[string]session.Session{}}
	c := &clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	m := &session.Manager{Store: st, IdleTimeout: time.Hour, Lifetime: 3 * time.Hour, Now: c.now}
	ctx := t.Context()
	token, s, err := m.Start(ctx, "user-a", "AKIA1", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, stored := st.m[token]; stored {
		t.Fatal("the store holds the token itself")
	}
	if s.Hash != session.Hash(token) || !s.Expires.Equal(c.t.Add(3*time.Hour)) {
		t.Errorf("session %+v", s)
	}
	// Used every 50 minutes: the idle timeout never strikes, the
	// lifetime does.
	for i := 1; i <= 3; i++ {
		c.t = c.t.Add(50 * time.Minute)
		if _, err := m.Check(ctx, token); err != nil {
			t.Fatalf("check %d at %v: %v", i, c.t, err)
		}
	}
	c.t = c.t.Add(31 * time.Minute) // 3h01 after sign-in
	if _, err := m.Check(ctx, token); err != session.ErrNoSession {
		t.Errorf("past the lifetime: %v, want ErrNoSession", err)
	}
	if len(st.m) != 0 {
		t.Error("the expired session is still stored")
	}

	// Idle.
	token, _, _ = m.Start(ctx, "user-a", "AKIA1", false)
	c.t = c.t.Add(61 * time.Minute)
	if _, err := m.Check(ctx, token); err != session.ErrNoSession {
		t.Errorf("idle: %v, want ErrNoSession", err)
	}

	// Sign-out, unknown and empty tokens.
	token, _, _ = m.Start(ctx, "user-a", "AKIA1", false)
	if err := m.End(ctx, token); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{token, "made-up", ""} {
		if _, err := m.Check(ctx, tok); err != session.ErrNoSession {
			t.Errorf("Check(%q) = %v, want ErrNoSession", tok, err)
		}
	}
}

func TestManagerTouchesAtMostOnceAMinute(t *testing.T) {
	st := &memStore{m: map[string]session.Session{}}
	c := &clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	m := &session.Manager{Store: st, Now: c.now}
	token, _, _ := m.Start(t.Context(), "p", "k", true)
	for range 10 {
		c.t = c.t.Add(10 * time.Second)
		if _, err := m.Check(t.Context(), token); err != nil {
			t.Fatal(err)
		}
	}
	if st.touches != 1 {
		t.Errorf("%d touches in 100 seconds, want 1", st.touches)
	}
}

func TestSweep(t *testing.T) {
	st := &memStore{m: map[string]session.Session{}}
	c := &clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	m := &session.Manager{Store: st, IdleTimeout: time.Hour, Now: c.now}
	m.Start(t.Context(), "p", "k", false)
	c.t = c.t.Add(30 * time.Minute)
	m.Start(t.Context(), "p", "k", false)
	c.t = c.t.Add(31 * time.Minute)
	if n, err := m.Sweep(t.Context()); err != nil || n != 1 {
		t.Errorf("Sweep = %d, %v; want the first session only", n, err)
	}
}

func TestCSRF(t *testing.T) {
	a, b := "token-a", "token-b"
	if session.CSRF(a) == session.CSRF(b) {
		t.Error("two sessions share a CSRF token")
	}
	if session.CSRF(a) == session.Hash(a) || session.CSRF(a) == a {
		t.Error("the CSRF token is derivable from what the store or the cookie holds")
	}
	for _, tc := range []struct {
		token, got string
		want       bool
	}{
		{a, session.CSRF(a), true},
		{a, session.CSRF(b), false},
		{a, "", false},
		{"", session.CSRF(""), false},
		{a, session.CSRF(a)[:10], false},
	} {
		if got := session.CheckCSRF(tc.token, tc.got); got != tc.want {
			t.Errorf("CheckCSRF(%q, %q) = %v, want %v", tc.token, tc.got, got, tc.want)
		}
	}
}
