package sqlite

import (
	"context"
	"database/sql"

	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

// PutAccount implements principal.AdminStore.
func (db *DB) PutAccount(ctx context.Context, a principal.Account) error {
	return sqlstore.PutAccount(ctx, db.w, errs, `INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name`, a)
}

// PutPolicy implements principal.AdminStore.
func (db *DB) PutPolicy(ctx context.Context, p principal.PolicyDoc) error {
	return sqlstore.PutPolicy(ctx, db.w, errs, `INSERT INTO policies (account, name, document, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (account, name) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at`, p)
}

// DeletePolicy implements principal.AdminStore.
func (db *DB) DeletePolicy(ctx context.Context, account, name string) error {
	return db.inTx(ctx, "delete policy", func(tx *sql.Tx) error {
		return sqlstore.DeletePolicy(ctx, tx, errs, `DELETE FROM policies WHERE account = ? AND name = ?`,
			`DELETE FROM principal_policies WHERE account = ? AND policy_name = ?`, account, name)
	})
}

// Attach implements principal.AdminStore.
func (db *DB) Attach(ctx context.Context, a principal.Attachment) error {
	return sqlstore.Attach(ctx, db.w, errs, `INSERT INTO principal_policies (principal_id, account, policy_name) VALUES (?, ?, ?)
		ON CONFLICT DO NOTHING`, a)
}

// Detach implements principal.AdminStore.
func (db *DB) Detach(ctx context.Context, a principal.Attachment) error {
	return sqlstore.Detach(ctx, db.w, errs, `DELETE FROM principal_policies WHERE principal_id = ? AND account = ? AND policy_name = ?`, a)
}

// LoadAdmin implements principal.AdminStore.
func (db *DB) LoadAdmin(ctx context.Context) ([]principal.Account, []principal.PolicyDoc, []principal.Attachment, error) {
	ps, ks, as, err := sqlstore.LoadAdmin(ctx, db.r,
		`SELECT id, name, created_at FROM accounts ORDER BY id`,
		`SELECT account, name, document, updated_at FROM policies ORDER BY account, name`,
		`SELECT principal_id, account, policy_name FROM principal_policies ORDER BY principal_id, account, policy_name`)
	if err != nil {
		return nil, nil, nil, internal(err, "load admin")
	}
	return ps, ks, as, nil
}
