package principal_test

import (
	"testing"

	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite/sqlitetest"
)

// TestByAPIKeyDoesNotAllocate: the lookup runs on every call that
// carries a Bedrock API key.
func TestByAPIKeyDoesNotAllocate(t *testing.T) {
	d := newDirectory(t, sqlitetest.Open(t), newBox(t))
	p, err := d.CreatePrincipal(t.Context(), mgmt, principal.User, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	token, err := d.CreateAPIKey(t.Context(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := d.ByAPIKey(token); !ok || got.Principal.ID != p.ID {
		t.Fatalf("ByAPIKey = %+v, %v; want alice", got, ok)
	}
	if n := testing.AllocsPerRun(100, func() { d.ByAPIKey(token) }); n != 0 {
		t.Errorf("ByAPIKey allocates %v times, want 0", n)
	}
}
