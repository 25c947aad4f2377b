package sqlite

import (
	"context"
	"time"

	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// CreateProfile implements profile.Store.
func (db *DB) CreateProfile(ctx context.Context, p profile.Profile) error {
	return sqlstore.InsertProfile(ctx, db.w, errs, `INSERT INTO profiles
		(account, id, arn, name, description, region, model_id, model_arns, source, tags, created_at, updated_at, client_request_token, request_hash, scope)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, p)
}

// DeleteProfile implements profile.Store.
func (db *DB) DeleteProfile(ctx context.Context, account, id string) error {
	return sqlstore.DeleteProfile(ctx, db.w, errs, `DELETE FROM profiles WHERE account = ? AND id = ?`, account, id)
}

// SetProfileTags implements profile.Store.
func (db *DB) SetProfileTags(ctx context.Context, account, id string, t tags.Set, updated time.Time) error {
	return sqlstore.SetProfileTags(ctx, db.w, errs, `UPDATE profiles SET tags = ?, updated_at = ? WHERE account = ? AND id = ?`,
		account, id, t, updated)
}

// ListAllProfiles implements profile.Store.
func (db *DB) ListAllProfiles(ctx context.Context) ([]profile.Profile, error) {
	out, err := sqlstore.All(ctx, db.r, sqlstore.ScanProfile, `SELECT account, id, arn, name, description, region, model_id,
		model_arns, source, tags, created_at, updated_at, client_request_token, request_hash, scope FROM profiles ORDER BY account, created_at, id`)
	if err != nil {
		return nil, internal(err, "list profiles")
	}
	return out, nil
}

// PutPrincipal implements principal.Store.
func (db *DB) PutPrincipal(ctx context.Context, p principal.Principal) error {
	return sqlstore.PutPrincipal(ctx, db.w, errs, `INSERT INTO principals (id, account, name, kind, tags, created_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET account = excluded.account, name = excluded.name, kind = excluded.kind, tags = excluded.tags`, p)
}

// PutAccessKey implements principal.Store.
func (db *DB) PutAccessKey(ctx context.Context, k principal.AccessKey) error {
	return sqlstore.PutAccessKey(ctx, db.w, errs, `INSERT INTO access_keys (id, principal_id, secret_sealed, status, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET principal_id = excluded.principal_id, secret_sealed = excluded.secret_sealed, status = excluded.status`, k)
}

// PutAPIKey implements principal.Store.
func (db *DB) PutAPIKey(ctx context.Context, k principal.APIKey) error {
	return sqlstore.PutAPIKey(ctx, db.w, errs, `INSERT INTO api_keys (hash, id, principal_id, status, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (hash) DO UPDATE SET status = excluded.status`, k)
}

// LoadPrincipals implements principal.Store.
func (db *DB) LoadPrincipals(ctx context.Context) ([]principal.Principal, []principal.AccessKey, []principal.APIKey, error) {
	ps, ks, as, err := sqlstore.LoadPrincipals(ctx, db.r,
		`SELECT id, account, name, kind, tags, created_at FROM principals ORDER BY id`,
		`SELECT id, principal_id, secret_sealed, status, created_at FROM access_keys ORDER BY id`,
		`SELECT hash, id, principal_id, status, created_at FROM api_keys ORDER BY id`)
	if err != nil {
		return nil, nil, nil, internal(err, "load principals")
	}
	return ps, ks, as, nil
}
