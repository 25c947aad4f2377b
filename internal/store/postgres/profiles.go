package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

var _ profile.QuotaStore = (*DB)(nil)

// CreateProfile implements profile.Store.
func (db *DB) CreateProfile(ctx context.Context, p profile.Profile) error {
	return db.change(ctx, ChangeProfile, "create profile", func(tx *sql.Tx) error { return insertProfile(ctx, tx, p) })
}

// CreateProfileWithin implements profile.QuotaStore: creates in one
// account are serialised by a transaction-scoped advisory lock on the
// account, and the count is read under it, so replicas together never
// pass the quota.
func (db *DB) CreateProfileWithin(ctx context.Context, p profile.Profile, quota int) error {
	return db.change(ctx, ChangeProfile, "create profile", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || '/profiles/' || $1, 0))`, p.Account); err != nil {
			return internal(err, "create profile: lock")
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM profiles WHERE account = $1`, p.Account).Scan(&n); err != nil {
			return internal(err, "create profile: count")
		}
		if n >= quota {
			return errkind.New(errkind.QuotaExceeded, "The account has reached its quota of %d application inference profiles.", quota)
		}
		return insertProfile(ctx, tx, p)
	})
}

func insertProfile(ctx context.Context, tx *sql.Tx, p profile.Profile) error {
	return sqlstore.InsertProfile(ctx, tx, errs, `INSERT INTO profiles
		(account, id, arn, name, description, region, model_id, model_arns, source, tags, created_at, updated_at, client_request_token, request_hash, scope)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`, p)
}

// DeleteProfile implements profile.Store.
func (db *DB) DeleteProfile(ctx context.Context, account, id string) error {
	return db.change(ctx, ChangeProfile, "delete profile", func(tx *sql.Tx) error {
		return sqlstore.DeleteProfile(ctx, tx, errs, `DELETE FROM profiles WHERE account = $1 AND id = $2`, account, id)
	})
}

// SetProfileTags implements profile.Store.
func (db *DB) SetProfileTags(ctx context.Context, account, id string, t tags.Set, updated time.Time) error {
	return db.change(ctx, ChangeProfile, "set profile tags", func(tx *sql.Tx) error {
		return sqlstore.SetProfileTags(ctx, tx, errs, `UPDATE profiles SET tags = $1, updated_at = $2 WHERE account = $3 AND id = $4`,
			account, id, t, updated)
	})
}

// ListAllProfiles implements profile.Store.
func (db *DB) ListAllProfiles(ctx context.Context) ([]profile.Profile, error) {
	out, err := sqlstore.All(ctx, db.db, sqlstore.ScanProfile, `SELECT account, id, arn, name, description, region, model_id,
		model_arns, source, tags, created_at, updated_at, client_request_token, request_hash, scope FROM profiles ORDER BY account COLLATE "C", created_at, id COLLATE "C"`)
	if err != nil {
		return nil, internal(err, "list profiles")
	}
	return out, nil
}

// PutPrincipal implements principal.Store.
func (db *DB) PutPrincipal(ctx context.Context, p principal.Principal) error {
	return db.change(ctx, ChangePrincipal, "put principal", func(tx *sql.Tx) error {
		return sqlstore.PutPrincipal(ctx, tx, errs, `INSERT INTO principals (id, account, name, kind, tags, created_at) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (id) DO UPDATE SET account = excluded.account, name = excluded.name, kind = excluded.kind, tags = excluded.tags`, p)
	})
}

// PutAccessKey implements principal.Store.
func (db *DB) PutAccessKey(ctx context.Context, k principal.AccessKey) error {
	return db.change(ctx, ChangeAccessKey, "put access key", func(tx *sql.Tx) error {
		return sqlstore.PutAccessKey(ctx, tx, errs, `INSERT INTO access_keys (id, principal_id, secret_sealed, status, created_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (id) DO UPDATE SET principal_id = excluded.principal_id, secret_sealed = excluded.secret_sealed, status = excluded.status`, k)
	})
}

// PutAPIKey implements principal.Store.
func (db *DB) PutAPIKey(ctx context.Context, k principal.APIKey) error {
	return db.change(ctx, ChangeAPIKey, "put api key", func(tx *sql.Tx) error {
		return sqlstore.PutAPIKey(ctx, tx, errs, `INSERT INTO api_keys (hash, id, principal_id, status, created_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (hash) DO UPDATE SET status = excluded.status`, k)
	})
}

// LoadPrincipals implements principal.Store.
func (db *DB) LoadPrincipals(ctx context.Context) ([]principal.Principal, []principal.AccessKey, []principal.APIKey, error) {
	ps, ks, as, err := sqlstore.LoadPrincipals(ctx, db.db,
		`SELECT id, account, name, kind, tags, created_at FROM principals ORDER BY id COLLATE "C"`,
		`SELECT id, principal_id, secret_sealed, status, created_at FROM access_keys ORDER BY id COLLATE "C"`,
		`SELECT hash, id, principal_id, status, created_at FROM api_keys ORDER BY id COLLATE "C"`)
	if err != nil {
		return nil, nil, nil, internal(err, "load principals")
	}
	return ps, ks, as, nil
}
