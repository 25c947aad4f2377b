package sqlstore

import (
	"context"
	"database/sql"

	"github.com/tollgate-dev/tollgate/internal/profile"
)

// TierQueries are one dialect's statements of profile.TierStore.
type TierQueries struct {
	// Exists selects 1 for the profile (account, id).
	Exists string
	// Delete removes the settings of (account, id).
	Delete string
	// Upsert inserts or replaces (account, id, default_tier, max_tier).
	Upsert string
}

// PutProfileTiers replaces a profile's tier settings in tx: NotFound when
// the profile does not exist; empty settings delete the row.
func PutProfileTiers(ctx context.Context, tx *sql.Tx, e Errors, q TierQueries, account, id string, s profile.TierSettings) error {
	var one int
	switch err := tx.QueryRowContext(ctx, q.Exists, account, id).Scan(&one); {
	case err == sql.ErrNoRows:
		return profileNotFound(id)
	case err != nil:
		return e.Internal(err, "find profile")
	}
	if s == (profile.TierSettings{}) {
		return Exec(ctx, tx, e, "delete profile tiers", q.Delete, account, id)
	}
	return Exec(ctx, tx, e, "put profile tiers", q.Upsert, account, id, s.Default, s.Max)
}

// ScanProfileTiers scans account, profile_id, default_tier, max_tier.
func ScanProfileTiers(s Scanner) (profile.ProfileTiers, error) {
	var p profile.ProfileTiers
	err := s.Scan(&p.Account, &p.ID, &p.Default, &p.Max)
	return p, err
}
