package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/console/session"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// testConsoleSessions checks the console session store: a session reads
// back as written, touches move LastSeen and View, deletes by hash and by
// principal, and the sweep removes idle and expired sessions only.
func testConsoleSessions(t *testing.T, st Store) {
	ctx := t.Context()
	at := t0.Truncate(time.Millisecond)
	mk := func(hash, principal string, seen, expires time.Time) session.Session {
		return session.Session{Hash: hash, PrincipalID: principal, KeyID: "AKIA" + hash, APIKey: hash == "b",
			CreatedAt: at, LastSeen: seen, Expires: expires}
	}
	a := mk("a", "root-111111111111", at, at.Add(12*time.Hour))
	b := mk("b", "user-x", at, at.Add(12*time.Hour))
	c := mk("c", "user-x", at.Add(-2*time.Hour), at.Add(12*time.Hour)) // idle
	d := mk("d", "user-y", at, at.Add(time.Minute))                    // expires soon
	for _, s := range []session.Session{a, b, c, d} {
		if err := st.PutConsoleSession(ctx, s); err != nil {
			t.Fatalf("PutConsoleSession(%s): %v", s.Hash, err)
		}
	}
	got, err := st.ConsoleSession(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, b); diff != "" {
		t.Errorf("ConsoleSession(b) (-got +want):\n%s", diff)
	}
	if _, err := st.ConsoleSession(ctx, "nope"); errkind.As(err).Kind != errkind.NotFound {
		t.Errorf("ConsoleSession(nope) = %v, want NotFound", err)
	}

	if err := st.TouchConsoleSession(ctx, "a", at.Add(5*time.Minute), "222222222222"); err != nil {
		t.Fatal(err)
	}
	if err := st.TouchConsoleSession(ctx, "nope", at, ""); err != nil {
		t.Errorf("TouchConsoleSession(nope) = %v, want nil", err)
	}
	got, err = st.ConsoleSession(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if !got.LastSeen.Equal(at.Add(5*time.Minute)) || got.View != "222222222222" {
		t.Errorf("after touch: LastSeen %v View %q, want %v 222222222222", got.LastSeen, got.View, at.Add(5*time.Minute))
	}

	// Sweep at at+2m with an idle limit of one hour: c (idle) and d
	// (expired) go.
	n, err := st.DeleteExpiredConsoleSessions(ctx, at.Add(2*time.Minute-time.Hour), at.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("DeleteExpiredConsoleSessions = %d, want 2", n)
	}
	for hash, want := range map[string]bool{"a": true, "b": true, "c": false, "d": false} {
		_, err := st.ConsoleSession(ctx, hash)
		if exists := err == nil; exists != want {
			t.Errorf("after sweep, session %s exists = %v, want %v (err %v)", hash, exists, want, err)
		}
	}

	if err := st.PutConsoleSession(ctx, mk("e", "user-x", at, at.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if n, err := st.DeleteConsoleSessionsOf(ctx, "user-x"); err != nil || n != 2 {
		t.Errorf("DeleteConsoleSessionsOf(user-x) = %d, %v, want 2", n, err)
	}
	if err := st.DeleteConsoleSession(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteConsoleSession(ctx, "a"); err != nil {
		t.Errorf("deleting a deleted session: %v", err)
	}
	for _, hash := range []string{"a", "b", "e"} {
		if _, err := st.ConsoleSession(ctx, hash); errkind.As(err).Kind != errkind.NotFound {
			t.Errorf("session %s after deletes: %v, want NotFound", hash, err)
		}
	}
}
