package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
)

// legacySources are model sources of profiles created before the store
// kept a profile's scope, with the scope migration 0016 gives them.
var legacySources = []struct{ id, source, scope string }{
	{"aaaaaaaaaaaa", "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0", "in-region"},
	{"bbbbbbbbbbbb", "arn:aws:bedrock:us-east-1:111111111111:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0", "geo"},
	{"cccccccccccc", "arn:aws:bedrock:us-east-1:111111111111:inference-profile/global.anthropic.claude-haiku-4-5-20251001-v1:0", "global"},
	{"dddddddddddd", "arn:aws:bedrock:us-east-1:111111111111:inference-profile/apac.amazon.nova-lite-v1:0", "geo"},
}

// TestProfileScopeMigrationBackfills puts a database back in the state
// before migration 0016 (profiles without a scope column, holding
// profiles copied from a foundation model, geographic and global system
// profiles), reopens it, and checks that each profile got the scope its
// source ARN names, which profile.ScopeOfSource agrees with.
func TestProfileScopeMigrationBackfills(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tollgate.db")
	db, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	stmts := []string{`ALTER TABLE profiles DROP COLUMN scope`, `DELETE FROM schema_migrations WHERE version = 16`}
	for _, p := range legacySources {
		stmts = append(stmts, `INSERT INTO profiles (account, id, arn, name, description, region, model_id, model_arns, source, tags,
			created_at, updated_at, client_request_token, request_hash) VALUES ('111111111111', '`+p.id+`',
			'arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/`+p.id+`', 'p-`+p.id+`', '', 'us-east-1',
			'anthropic.claude-3-haiku-20240307-v1:0', '["arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"]',
			'`+p.source+`', '{}', 1000, 1000, NULL, 'h')`)
	}
	for _, q := range stmts {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			raw.Close()
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()

	db, err = sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.ListAllProfiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(legacySources) {
		t.Fatalf("%d profiles after the migration, want %d", len(got), len(legacySources))
	}
	for i, p := range got {
		want := legacySources[i]
		if p.ID != want.id || p.Scope != want.scope {
			t.Errorf("profile %s from %s: scope %q, want %q", p.ID, p.Source, p.Scope, want.scope)
		}
		if s := profile.ScopeOfSource(p.Source); s != want.scope {
			t.Errorf("ScopeOfSource(%s) = %q, the migration says %q", p.Source, s, want.scope)
		}
	}
}
