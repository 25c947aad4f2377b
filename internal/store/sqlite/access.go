package sqlite

import (
	"context"

	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

var _ principal.AdminStore = (*DB)(nil)

// PutAccount implements principal.AdminStore.
func (db *DB) PutAccount(ctx context.Context, a principal.Account) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name`, a.ID, a.Name, sqlstore.MS(a.CreatedAt))
	if err != nil {
		return internal(err, "put account")
	}
	return nil
}

// PutPolicy implements principal.AdminStore.
func (db *DB) PutPolicy(ctx context.Context, p principal.PolicyDoc) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO policies (account, name, document, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (account, name) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at`,
		p.Account, p.Name, p.Document, sqlstore.MS(p.UpdatedAt))
	if err != nil {
		return internal(err, "put policy")
	}
	return nil
}

// DeletePolicy implements principal.AdminStore.
func (db *DB) DeletePolicy(ctx context.Context, account, name string) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return internal(err, "begin delete policy")
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM policies WHERE account = ? AND name = ?`, account, name)
	if err != nil {
		return internal(err, "delete policy")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errkind.New(errkind.NotFound, "Policy %s does not exist.", name)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM principal_policies WHERE account = ? AND policy_name = ?`, account, name); err != nil {
		return internal(err, "delete attachments")
	}
	if err := tx.Commit(); err != nil {
		return internal(err, "commit delete policy")
	}
	return nil
}

// Attach implements principal.AdminStore.
func (db *DB) Attach(ctx context.Context, a principal.Attachment) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO principal_policies (principal_id, account, policy_name) VALUES (?, ?, ?)
		ON CONFLICT DO NOTHING`, a.PrincipalID, a.Account, a.PolicyName)
	if isConstraint(err) {
		return errkind.Wrap(errkind.NotFound, err, "The principal does not exist.")
	}
	if err != nil {
		return internal(err, "attach policy")
	}
	return nil
}

// Detach implements principal.AdminStore.
func (db *DB) Detach(ctx context.Context, a principal.Attachment) error {
	res, err := db.w.ExecContext(ctx, `DELETE FROM principal_policies WHERE principal_id = ? AND account = ? AND policy_name = ?`,
		a.PrincipalID, a.Account, a.PolicyName)
	if err != nil {
		return internal(err, "detach policy")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errkind.New(errkind.NotFound, "The policy is not attached.")
	}
	return nil
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
