package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/store/postgres"
	"github.com/tollgate-dev/tollgate/internal/store/postgres/pgtest"
)

// TestWatch checks that a committed change is announced to a watcher on
// another connection, that a failed change is not, and that the
// reconciliation tick fires.
func TestWatch(t *testing.T) {
	url := pgtest.URL(t)
	writer := openURL(t, url)
	db, err := postgres.Open(t.Context(), url, postgres.Options{Reconcile: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })

	ctx, cancel := context.WithCancel(t.Context())
	kinds := make(chan string, 100)
	done := make(chan error, 1)
	go func() { done <- db.Watch(ctx, func(k string) { kinds <- k }) }()
	next := func(want string) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case k := <-kinds:
				if k == want {
					return
				}
			case <-deadline:
				t.Fatalf("no %q notification within 5s", want)
			}
		}
	}
	next(postgres.ChangeTick)
	// The listener is up once a tick arrived; retry the write until its
	// notification is heard, in case LISTEN was not yet in place.
	for i := 0; ; i++ {
		if err := writer.PutAccount(ctx, principal.Account{ID: "111111111111", Name: "a", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		select {
		case k := <-kinds:
			if k != postgres.ChangeAccount {
				continue
			}
		case <-time.After(time.Second):
			if i < 5 {
				continue
			}
			t.Fatal("no account notification")
		}
		break
	}
	if err := writer.Detach(ctx, principal.Attachment{PrincipalID: "nobody", Account: "111111111111", PolicyName: "p"}); err == nil {
		t.Fatal("Detach of a missing attachment succeeded")
	}
	if err := writer.PutPolicy(ctx, principal.PolicyDoc{Account: "111111111111", Name: "p", Document: "{}", UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	// The failed Detach rolled back its notification: the next change
	// heard is the policy (after ticks, and after the account writes the
	// loop above retried when a notification was slow to arrive: under
	// load one may be heard after the retry's).
	for {
		k := <-kinds
		if k == postgres.ChangeTick || k == postgres.ChangeAccount {
			continue
		}
		if k != postgres.ChangePolicy {
			t.Fatalf("heard %q, want %q (a rolled-back change was announced)", k, postgres.ChangePolicy)
		}
		break
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Watch returned %v, want context.Canceled", err)
	}
}

// TestWatchCatchesUpWhenListening: a change committed after a replica
// loaded its state but before its LISTEN took effect is not heard; Watch
// makes up for it with a ChangeTick as soon as it listens, not at the next
// reconciliation.
func TestWatchCatchesUpWhenListening(t *testing.T) {
	url := pgtest.URL(t)
	kinds := watchKinds(t, url, time.Hour, true)
	select {
	case k := <-kinds:
		if k != postgres.ChangeTick {
			t.Errorf("first callback %q, want %q", k, postgres.ChangeTick)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no catch-up tick once listening (the reconciliation is an hour away)")
	}
}

// TestWatchIgnoresOtherSchemas: a Tollgate on another schema of the same
// database has its own channel, so its changes are not heard.
func TestWatchIgnoresOtherSchemas(t *testing.T) {
	url := pgtest.URL(t)
	mine, other := openURL(t, url), openURL(t, pgtest.URL(t))
	kinds := watchKinds(t, url, time.Hour, false)
	// Once mine hears its own change, it listens.
	for i := 0; ; i++ {
		if err := mine.PutAccount(t.Context(), principal.Account{ID: "111111111111", Name: "a", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-kinds:
		case <-time.After(time.Second):
			if i < 5 {
				continue
			}
			t.Fatal("no notification of a change on the watched schema")
		}
		break
	}
	if err := other.PutAccount(t.Context(), principal.Account{ID: "222222222222", Name: "b", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	select {
	case k := <-kinds:
		t.Errorf("heard %q from another schema", k)
	case <-time.After(500 * time.Millisecond):
	}
	if postgres.ChannelFor("public") != postgres.Channel || postgres.ChannelFor("a") == postgres.ChannelFor("b") {
		t.Errorf("ChannelFor: public %q, a %q, b %q", postgres.ChannelFor("public"), postgres.ChannelFor("a"), postgres.ChannelFor("b"))
	}
}

// watchKinds starts Watch on a store of its own over url, reconciling
// every reconcile, and returns the kinds it hears (without ChangeTick
// unless ticks); it stops when t ends.
func watchKinds(t *testing.T, url string, reconcile time.Duration, ticks bool) <-chan string {
	t.Helper()
	db, err := postgres.Open(t.Context(), url, postgres.Options{Reconcile: reconcile})
	if err != nil {
		t.Fatal(err)
	}
	kinds := make(chan string, 1000)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = db.Watch(t.Context(), func(k string) {
			if ticks || k != postgres.ChangeTick {
				kinds <- k
			}
		})
	}()
	t.Cleanup(func() { <-done; db.Close() })
	return kinds
}
