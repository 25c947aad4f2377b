package sqlite

import (
	"context"
	"database/sql"

	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

var _ profile.TierStore = (*DB)(nil)

var tierQueries = sqlstore.TierQueries{
	Exists: `SELECT 1 FROM profiles WHERE account = ? AND id = ?`,
	Delete: `DELETE FROM profile_tiers WHERE account = ? AND profile_id = ?`,
	Upsert: `INSERT INTO profile_tiers (account, profile_id, default_tier, max_tier) VALUES (?, ?, ?, ?)
		ON CONFLICT (account, profile_id) DO UPDATE SET default_tier = excluded.default_tier, max_tier = excluded.max_tier`,
}

// PutProfileTiers implements profile.TierStore.
func (db *DB) PutProfileTiers(ctx context.Context, account, id string, s profile.TierSettings) error {
	return db.inTx(ctx, "put profile tiers", func(tx *sql.Tx) error {
		return sqlstore.PutProfileTiers(ctx, tx, errs, tierQueries, account, id, s)
	})
}

// ListProfileTiers implements profile.TierStore.
func (db *DB) ListProfileTiers(ctx context.Context) ([]profile.ProfileTiers, error) {
	out, err := sqlstore.All(ctx, db.r, sqlstore.ScanProfileTiers, `SELECT t.account, t.profile_id, t.default_tier, t.max_tier
		FROM profile_tiers t JOIN profiles p ON p.account = t.account AND p.id = t.profile_id ORDER BY t.account, t.profile_id`)
	if err != nil {
		return nil, internal(err, "list profile tiers")
	}
	return out, nil
}
