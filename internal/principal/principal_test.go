package principal_test

import (
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/secretbox"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite/sqlitetest"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

const mgmt = "111111111111"

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newBox(t *testing.T) *secretbox.Box {
	t.Helper()
	box, err := secretbox.New(secretbox.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	return box
}

// newDirectory opens a Service and Directory over db.
func newDirectory(t *testing.T, db *sqlite.DB, box *secretbox.Box) *principal.Directory {
	t.Helper()
	svc, err := principal.NewService(t.Context(), db, box, func() time.Time { return t0 })
	if err != nil {
		t.Fatal(err)
	}
	d, err := principal.NewDirectory(t.Context(), svc, db, func(doc []byte) (any, error) { return string(doc), nil }, mgmt)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDirectoryPersists walks the life of an organisation's identities
// over a real store, and reopens the directory to check what was kept.
func TestDirectoryPersists(t *testing.T) {
	db, box := sqlitetest.Open(t), newBox(t)
	d := newDirectory(t, db, box)
	var p principal.Principal
	var keyID, secret, apiKey string

	t.Run("root", func(t *testing.T) {
		id, sec, created, err := d.EnsureRoot(t.Context(), mgmt, "", "")
		if err != nil || !created || id == "" || sec == "" {
			t.Fatalf("EnsureRoot = %q, %q, %v, %v", id, sec, created, err)
		}
		again, _, created, err := d.EnsureRoot(t.Context(), mgmt, "", "")
		if err != nil || created || again != id {
			t.Errorf("EnsureRoot again = %q, created %v, %v; want the same key", again, created, err)
		}
	})
	t.Run("principal and keys", func(t *testing.T) {
		var err error
		if p, err = d.CreatePrincipal(t.Context(), mgmt, principal.User, "alice", tags.Set{"team": "risk"}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.CreatePrincipal(t.Context(), mgmt, principal.User, "Bob!", nil); errkind.KindOf(err) != errkind.Invalid {
			t.Errorf("a name with '!': %v, want Invalid", err)
		}
		if _, err := d.CreatePrincipal(t.Context(), "999999999999", principal.User, "bob", nil); errkind.KindOf(err) != errkind.NotFound {
			t.Errorf("an unknown account: %v, want NotFound", err)
		}
		if keyID, secret, err = d.CreateAccessKey(t.Context(), p.ID); err != nil {
			t.Fatal(err)
		}
		if apiKey, err = d.CreateAPIKey(t.Context(), p.ID); err != nil {
			t.Fatal(err)
		}
		if got, ok := d.ByAccessKey(keyID); !ok || got.Principal.ID != p.ID {
			t.Errorf("ByAccessKey = %+v, %v", got, ok)
		}
		if got, ok := d.ByAPIKey(apiKey); !ok || got.Principal.ID != p.ID {
			t.Errorf("ByAPIKey = %+v, %v", got, ok)
		}
		// Creating alice again retags her; her keys follow.
		again, err := d.CreatePrincipal(t.Context(), mgmt, principal.User, "alice", tags.Set{"team": "sales"})
		if err != nil || again.ID != p.ID || !again.CreatedAt.Equal(p.CreatedAt) {
			t.Fatalf("CreatePrincipal again = %+v, %v; want alice, created when she was", again, err)
		}
		if got, ok := d.ByAccessKey(keyID); !ok || got.Principal.Tags["team"] != "sales" {
			t.Errorf("ByAccessKey after retagging = %+v, %v", got, ok)
		}
	})
	t.Run("policies", func(t *testing.T) {
		if err := d.PutPolicy(t.Context(), mgmt, "readers", `{"Version":"2012-10-17"}`); err != nil {
			t.Fatal(err)
		}
		if err := d.AttachPolicy(t.Context(), p.ID, "readers"); err != nil {
			t.Fatal(err)
		}
		if got := d.AttachedPolicyNames(p.ID); len(got) != 1 || got[0] != "readers" {
			t.Errorf("AttachedPolicyNames = %q", got)
		}
	})
	t.Run("reopened", func(t *testing.T) {
		d2 := newDirectory(t, db, box)
		got, err := d2.Secret(t.Context(), keyID)
		if err != nil || got != secret {
			t.Errorf("Secret after reopening = %q, %v; want the sealed secret back", got, err)
		}
		if id, ok := d2.ByAPIKey(apiKey); !ok || id.Principal.Name != "alice" || id.Principal.Tags["team"] != "sales" {
			t.Errorf("ByAPIKey after reopening = %+v, %v", id, ok)
		}
		if got := d2.AttachedPolicyNames(p.ID); len(got) != 1 || got[0] != "readers" {
			t.Errorf("AttachedPolicyNames after reopening = %q", got)
		}
	})
	t.Run("revoked", func(t *testing.T) {
		if err := d.SetAccessKeyStatus(t.Context(), keyID, principal.Inactive); err != nil {
			t.Fatal(err)
		}
		if _, ok := d.ByAccessKey(keyID); ok {
			t.Error("an inactive access key still authenticates")
		}
	})
}
