package postgres

import (
	"context"
	"database/sql"

	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

var _ principal.AdminStore = (*DB)(nil)

// PutAccount implements principal.AdminStore.
func (db *DB) PutAccount(ctx context.Context, a principal.Account) error {
	return db.change(ctx, ChangeAccount, "put account", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name`, a.ID, a.Name, sqlstore.MS(a.CreatedAt))
		if err != nil {
			return internal(err, "put account")
		}
		return nil
	})
}

// PutPolicy implements principal.AdminStore.
func (db *DB) PutPolicy(ctx context.Context, p principal.PolicyDoc) error {
	return db.change(ctx, ChangePolicy, "put policy", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO policies (account, name, document, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (account, name) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at`,
			p.Account, p.Name, p.Document, sqlstore.MS(p.UpdatedAt))
		if err != nil {
			return internal(err, "put policy")
		}
		return nil
	})
}

// DeletePolicy implements principal.AdminStore.
func (db *DB) DeletePolicy(ctx context.Context, account, name string) error {
	return db.change(ctx, ChangePolicy, "delete policy", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM policies WHERE account = $1 AND name = $2`, account, name)
		if err != nil {
			return internal(err, "delete policy")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errkind.New(errkind.NotFound, "Policy %s does not exist.", name)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM principal_policies WHERE account = $1 AND policy_name = $2`, account, name); err != nil {
			return internal(err, "delete attachments")
		}
		return nil
	})
}

// Attach implements principal.AdminStore.
func (db *DB) Attach(ctx context.Context, a principal.Attachment) error {
	return db.change(ctx, ChangeAttachment, "attach policy", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO principal_policies (principal_id, account, policy_name) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING`, a.PrincipalID, a.Account, a.PolicyName)
		if isConstraint(err) {
			return errkind.Wrap(errkind.NotFound, err, "The principal does not exist.")
		}
		if err != nil {
			return internal(err, "attach policy")
		}
		return nil
	})
}

// Detach implements principal.AdminStore.
func (db *DB) Detach(ctx context.Context, a principal.Attachment) error {
	return db.change(ctx, ChangeAttachment, "detach policy", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM principal_policies WHERE principal_id = $1 AND account = $2 AND policy_name = $3`,
			a.PrincipalID, a.Account, a.PolicyName)
		if err != nil {
			return internal(err, "detach policy")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errkind.New(errkind.NotFound, "The policy is not attached.")
		}
		return nil
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
