package postgres

import (
	"context"
	"database/sql"

	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

var _ profile.TierStore = (*DB)(nil)

var tierQueries = sqlstore.TierQueries{
	Exists: `SELECT 1 FROM profiles WHERE account = $1 AND id = $2`,
	Delete: `DELETE FROM profile_tiers WHERE account = $1 AND profile_id = $2`,
	Upsert: `INSERT INTO profile_tiers (account, profile_id, default_tier, max_tier) VALUES ($1, $2, $3, $4)
		ON CONFLICT (account, profile_id) DO UPDATE SET default_tier = excluded.default_tier, max_tier = excluded.max_tier`,
}

// PutProfileTiers implements profile.TierStore; other replicas reload
// their profiles (and tier settings) on the change.
func (db *DB) PutProfileTiers(ctx context.Context, account, id string, s profile.TierSettings) error {
	return db.change(ctx, ChangeProfile, "put profile tiers", func(tx *sql.Tx) error {
		return sqlstore.PutProfileTiers(ctx, tx, errs, tierQueries, account, id, s)
	})
}

// ListProfileTiers implements profile.TierStore.
func (db *DB) ListProfileTiers(ctx context.Context) ([]profile.ProfileTiers, error) {
	out, err := sqlstore.All(ctx, db.db, sqlstore.ScanProfileTiers, `SELECT t.account, t.profile_id, t.default_tier, t.max_tier
		FROM profile_tiers t JOIN profiles p ON p.account = t.account AND p.id = t.profile_id
		ORDER BY t.account COLLATE "C", t.profile_id COLLATE "C"`)
	if err != nil {
		return nil, internal(err, "list profile tiers")
	}
	return out, nil
}
