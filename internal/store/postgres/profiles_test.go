package postgres_test

import (
	"database/sql"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/store/postgres/pgtest"
)

// TestPostgresProfileScopeBackfill checks migration 0014's backfill: on a
// schema put back in the state before it (profiles without a scope
// column, holding profiles copied from a foundation model, geographic and
// global system profiles), reopening gives each profile the scope its
// source ARN names, which profile.ScopeOfSource agrees with.
func TestPostgresProfileScopeBackfill(t *testing.T) {
	url := pgtest.URL(t)
	openURL(t, url).Close()
	ctx := t.Context()
	sources := []struct{ id, source, scope string }{
		{"aaaaaaaaaaaa", "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0", "in-region"},
		{"bbbbbbbbbbbb", "arn:aws:bedrock:us-east-1:111111111111:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0", "geo"},
		{"cccccccccccc", "arn:aws:bedrock:us-east-1:111111111111:inference-profile/global.anthropic.claude-haiku-4-5-20251001-v1:0", "global"},
		{"dddddddddddd", "arn:aws:bedrock:us-east-1:111111111111:inference-profile/apac.amazon.nova-lite-v1:0", "geo"},
	}
	raw, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(ctx, `ALTER TABLE profiles DROP COLUMN scope; DELETE FROM schema_migrations WHERE version = 14`); err != nil {
		t.Fatal(err)
	}
	for _, p := range sources {
		if _, err := raw.ExecContext(ctx, `INSERT INTO profiles (account, id, arn, name, description, region, model_id, model_arns, source, tags,
			created_at, updated_at, client_request_token, request_hash) VALUES ('111111111111', $1, $2, $3, '', 'us-east-1',
			'anthropic.claude-3-haiku-20240307-v1:0', '["arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"]',
			$4, '{}', 1000, 1000, NULL, 'h')`,
			p.id, "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/"+p.id, "p-"+p.id, p.source); err != nil {
			t.Fatal(err)
		}
	}
	got, err := openURL(t, url).ListAllProfiles(ctx) // migrates: 0014 again
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(sources) {
		t.Fatalf("%d profiles after the migration, want %d", len(got), len(sources))
	}
	for i, p := range got {
		want := sources[i]
		if p.ID != want.id || p.Scope != want.scope {
			t.Errorf("profile %s from %s: scope %q, want %q", p.ID, p.Source, p.Scope, want.scope)
		}
		if s := profile.ScopeOfSource(p.Source); s != want.scope {
			t.Errorf("ScopeOfSource(%s) = %q, the migration says %q", p.Source, s, want.scope)
		}
	}
}
