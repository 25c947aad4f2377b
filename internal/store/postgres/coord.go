package postgres

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/tollgate-dev/tollgate/internal/budget"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

// Coordination between replicas: leases for background jobs, and the
// budget allowances and throttle windows that enforce BLOCK and THROTTLE
// actions across replicas (migration 0005).

// AcquireLease implements lease.Store on the database's clock.
func (db *DB) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	var got string
	err := db.db.QueryRowContext(ctx, `INSERT INTO leases (name, holder, expires_at)
		VALUES ($1, $2, clock_timestamp() + $3 * interval '1 millisecond')
		ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
		WHERE leases.holder = EXCLUDED.holder OR leases.expires_at < clock_timestamp()
		RETURNING holder`, name, holder, ttl.Milliseconds()).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, internal(err, "acquire lease")
	}
	return got == holder, nil
}

// ReleaseLease implements lease.Store.
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := db.db.ExecContext(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, holder); err != nil {
		return internal(err, "release lease")
	}
	return nil
}

// LeaseHolder returns the holder of an unexpired lease, or "".
func (db *DB) LeaseHolder(ctx context.Context, name string) (string, error) {
	var h string
	err := db.db.QueryRowContext(ctx, `SELECT holder FROM leases WHERE name = $1 AND expires_at >= clock_timestamp()`, name).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", internal(err, "lease holder")
	}
	return h, nil
}

// ClaimAllowance implements budget.Shared in one round trip (the
// function tollgate_claim_allowance of migration 0005). Claims on one
// budget's period are serialised by a transaction-scoped advisory lock
// keyed by the schema, budget and period, so claims on different budgets
// never wait on each other and a transaction takes one lock only (no
// deadlock).
func (db *DB) ClaimAllowance(ctx context.Context, c budget.Claim) (int64, error) {
	var got int64
	err := db.db.QueryRowContext(ctx, `SELECT tollgate_claim_allowance($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		c.Account, c.Budget, sqlstore.MS(c.PeriodStart), sqlstore.MS(c.PeriodEnd), c.Replica, c.Limit, c.Base, c.Need, c.Want, sqlstore.MS(time.Now())).Scan(&got)
	if err != nil {
		return 0, internal(err, "claim allowance")
	}
	return got, nil
}

// ReturnAllowance implements budget.Shared: the replica's grant becomes
// keep, never more than it was. Only the replica's own row changes, so no
// lock is needed: a concurrent claim reading the old grant only errs on
// the side of granting less.
func (db *DB) ReturnAllowance(ctx context.Context, c budget.Claim, keep int64) error {
	if _, err := db.db.ExecContext(ctx, `UPDATE budget_allowances SET granted = least(granted, $5), updated_at = $6
		WHERE account = $1 AND budget = $2 AND period_start = $3 AND replica = $4`,
		c.Account, c.Budget, sqlstore.MS(c.PeriodStart), c.Replica, keep, sqlstore.MS(time.Now())); err != nil {
		return internal(err, "return allowance")
	}
	return nil
}

// AnnounceAllowanceShortage implements budget.Shared: it asks the other
// replicas (on Channel) to give back the allowance they do not need.
func (db *DB) AnnounceAllowanceShortage(ctx context.Context) error {
	if _, err := db.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, db.channel, ChangeAllowance); err != nil {
		return internal(err, "announce allowance shortage")
	}
	return nil
}

// ClaimRate implements budget.Shared in one round trip (the function
// tollgate_claim_rate of migration 0005): up to want of the limit calls of
// a budget's THROTTLE window (one UTC minute), across replicas. The
// window's row is locked for the claim only.
func (db *DB) ClaimRate(ctx context.Context, account, name string, minute time.Time, limit, want int64) (int64, error) {
	var got int64
	if err := db.db.QueryRowContext(ctx, `SELECT tollgate_claim_rate($1, $2, $3, $4, $5)`,
		account, name, minute.Unix(), limit, want).Scan(&got); err != nil {
		return 0, internal(err, "claim rate")
	}
	return got, nil
}

// PruneShared implements budget.Shared: it deletes the pools and
// allowances of periods that ended before before, and throttle windows of
// minutes before it.
func (db *DB) PruneShared(ctx context.Context, before time.Time) error {
	for _, q := range []string{
		`DELETE FROM throttle_windows WHERE minute < $1::bigint / 1000`,
		`DELETE FROM budget_allowances WHERE period_end < $1`,
		`DELETE FROM budget_pools WHERE period_end < $1`,
	} {
		if _, err := db.db.ExecContext(ctx, q, sqlstore.MS(before)); err != nil {
			return internal(err, "prune budget coordination")
		}
	}
	return nil
}

// Shared reports whether several Tollgate replicas may share the store:
// always for PostgreSQL, whose replicas coordinate through it (leases,
// budget pools, throttle windows, the change feed).
func (db *DB) Shared() bool { return true }
