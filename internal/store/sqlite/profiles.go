package sqlite

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

var (
	_ profile.Store   = (*DB)(nil)
	_ principal.Store = (*DB)(nil)
)

// CreateProfile implements profile.Store.
func (db *DB) CreateProfile(ctx context.Context, p profile.Profile) error {
	arns, _ := json.Marshal(p.ModelARNs)
	_, err := db.w.ExecContext(ctx, `INSERT INTO profiles
		(account, id, arn, name, description, region, model_id, model_arns, source, tags, created_at, updated_at, client_request_token, request_hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.Account, p.ID, p.ARN, p.Name, p.Description, p.Region, p.ModelID, string(arns), p.Source,
		sqlstore.TagsJSON(p.Tags), sqlstore.MS(p.CreatedAt), sqlstore.MS(p.UpdatedAt), sqlstore.Nullable(p.ClientRequestToken), p.RequestHash)
	if isConstraint(err) {
		return errkind.Wrap(errkind.Conflict, err, "An inference profile with this name or request token already exists.")
	}
	if err != nil {
		return internal(err, "create profile")
	}
	return nil
}

// DeleteProfile implements profile.Store.
func (db *DB) DeleteProfile(ctx context.Context, account, id string) error {
	res, err := db.w.ExecContext(ctx, `DELETE FROM profiles WHERE account = ? AND id = ?`, account, id)
	if err != nil {
		return internal(err, "delete profile")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errkind.New(errkind.NotFound, "The inference profile %s could not be found.", id)
	}
	return nil
}

// SetProfileTags implements profile.Store.
func (db *DB) SetProfileTags(ctx context.Context, account, id string, t tags.Set, updated time.Time) error {
	res, err := db.w.ExecContext(ctx, `UPDATE profiles SET tags = ?, updated_at = ? WHERE account = ? AND id = ?`,
		sqlstore.TagsJSON(t), sqlstore.MS(updated), account, id)
	if err != nil {
		return internal(err, "set profile tags")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errkind.New(errkind.NotFound, "The inference profile %s could not be found.", id)
	}
	return nil
}

// ListAllProfiles implements profile.Store.
func (db *DB) ListAllProfiles(ctx context.Context) ([]profile.Profile, error) {
	out, err := sqlstore.All(ctx, db.r, sqlstore.ScanProfile, `SELECT account, id, arn, name, description, region, model_id,
		model_arns, source, tags, created_at, updated_at, client_request_token, request_hash FROM profiles ORDER BY account, created_at, id`)
	if err != nil {
		return nil, internal(err, "list profiles")
	}
	return out, nil
}

// PutPrincipal implements principal.Store.
func (db *DB) PutPrincipal(ctx context.Context, p principal.Principal) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO principals (id, account, name, kind, tags, created_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET account = excluded.account, name = excluded.name, kind = excluded.kind, tags = excluded.tags`,
		p.ID, p.Account, p.Name, string(p.Kind), sqlstore.TagsJSON(p.Tags), sqlstore.MS(p.CreatedAt))
	if err != nil {
		return internal(err, "put principal")
	}
	return nil
}

// PutAccessKey implements principal.Store.
func (db *DB) PutAccessKey(ctx context.Context, k principal.AccessKey) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO access_keys (id, principal_id, secret_sealed, status, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET principal_id = excluded.principal_id, secret_sealed = excluded.secret_sealed, status = excluded.status`,
		k.ID, k.PrincipalID, k.SecretSealed, k.Status, sqlstore.MS(k.CreatedAt))
	if isConstraint(err) {
		return errkind.Wrap(errkind.Invalid, err, "the access key's principal does not exist")
	}
	if err != nil {
		return internal(err, "put access key")
	}
	return nil
}

// PutAPIKey implements principal.Store.
func (db *DB) PutAPIKey(ctx context.Context, k principal.APIKey) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO api_keys (hash, id, principal_id, status, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (hash) DO UPDATE SET status = excluded.status`,
		k.Hash, k.ID, k.PrincipalID, k.Status, sqlstore.MS(k.CreatedAt))
	if isConstraint(err) {
		return errkind.Wrap(errkind.Invalid, err, "the API key's principal does not exist or its id is taken")
	}
	if err != nil {
		return internal(err, "put api key")
	}
	return nil
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
