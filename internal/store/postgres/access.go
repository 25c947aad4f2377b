package postgres

import (
	"context"
	"database/sql"

	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

// PutAccount implements principal.AdminStore.
func (db *DB) PutAccount(ctx context.Context, a principal.Account) error {
	return db.change(ctx, ChangeAccount, "put account", func(tx *sql.Tx) error {
		return sqlstore.PutAccount(ctx, tx, errs, `INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name`, a)
	})
}

// PutPolicy implements principal.AdminStore.
func (db *DB) PutPolicy(ctx context.Context, p principal.PolicyDoc) error {
	return db.change(ctx, ChangePolicy, "put policy", func(tx *sql.Tx) error {
		return sqlstore.PutPolicy(ctx, tx, errs, `INSERT INTO policies (account, name, document, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (account, name) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at`, p)
	})
}

// DeletePolicy implements principal.AdminStore.
func (db *DB) DeletePolicy(ctx context.Context, account, name string) error {
	return db.change(ctx, ChangePolicy, "delete policy", func(tx *sql.Tx) error {
		return sqlstore.DeletePolicy(ctx, tx, errs, `DELETE FROM policies WHERE account = $1 AND name = $2`,
			`DELETE FROM principal_policies WHERE account = $1 AND policy_name = $2`, account, name)
	})
}

// Attach implements principal.AdminStore.
func (db *DB) Attach(ctx context.Context, a principal.Attachment) error {
	return db.change(ctx, ChangeAttachment, "attach policy", func(tx *sql.Tx) error {
		return sqlstore.Attach(ctx, tx, errs, `INSERT INTO principal_policies (principal_id, account, policy_name) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING`, a)
	})
}

// Detach implements principal.AdminStore.
func (db *DB) Detach(ctx context.Context, a principal.Attachment) error {
	return db.change(ctx, ChangeAttachment, "detach policy", func(tx *sql.Tx) error {
		return sqlstore.Detach(ctx, tx, errs, `DELETE FROM principal_policies WHERE principal_id = $1 AND account = $2 AND policy_name = $3`, a)
	})
}

// LoadAdmin implements principal.AdminStore.
func (db *DB) LoadAdmin(ctx context.Context) ([]principal.Account, []principal.PolicyDoc, []principal.Attachment, error) {
	ps, ks, as, err := sqlstore.LoadAdmin(ctx, db.db,
		`SELECT id, name, created_at FROM accounts ORDER BY id COLLATE "C"`,
		`SELECT account, name, document, updated_at FROM policies ORDER BY account COLLATE "C", name COLLATE "C"`,
		`SELECT principal_id, account, policy_name FROM principal_policies
		ORDER BY principal_id COLLATE "C", account COLLATE "C", policy_name COLLATE "C"`)
	if err != nil {
		return nil, nil, nil, internal(err, "load admin")
	}
	return ps, ks, as, nil
}
