package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/tollgate-dev/tollgate/internal/anomaly"
	"github.com/tollgate-dev/tollgate/internal/budget"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// Execer runs statements: *sql.DB, *sql.Conn or *sql.Tx.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// The writes both stores make to the tables they share. Each runs the
// dialect's statement query on ex (the SQLite writer, or a PostgreSQL
// transaction that announces the change) with the parameters its comment
// lists, in that order, and sorts the errors with e: what the domain
// expects (a conflict, a missing row) as errkind errors, the rest
// through e.Internal.

// Exec runs query on ex; an error is e.Internal's of op.
func Exec(ctx context.Context, ex Execer, e Errors, op, query string, args ...any) error {
	if _, err := ex.ExecContext(ctx, query, args...); err != nil {
		return e.Internal(err, op)
	}
	return nil
}

// ExecFound runs query on ex and returns notFound when it affected no
// row; an error is e.Internal's of op.
func ExecFound(ctx context.Context, ex Execer, e Errors, op string, notFound error, query string, args ...any) error {
	res, err := ex.ExecContext(ctx, query, args...)
	if err != nil {
		return e.Internal(err, op)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound
	}
	return nil
}

// InsertProfile inserts p: account, id, arn, name, description, region,
// model_id, model_arns, source, tags, created_at, updated_at,
// client_request_token, request_hash, scope. A name or request token taken is
// errkind.Conflict.
func InsertProfile(ctx context.Context, ex Execer, e Errors, query string, p profile.Profile) error {
	arns, _ := json.Marshal(p.ModelARNs)
	_, err := ex.ExecContext(ctx, query,
		p.Account, p.ID, p.ARN, p.Name, p.Description, p.Region, p.ModelID, string(arns), p.Source,
		TagsJSON(p.Tags), MS(p.CreatedAt), MS(p.UpdatedAt), Nullable(p.ClientRequestToken), p.RequestHash, p.Scope)
	if e.IsConstraint(err) {
		return errkind.Wrap(errkind.Conflict, err, "An inference profile with this name or request token already exists.")
	}
	if err != nil {
		return e.Internal(err, "create profile")
	}
	return nil
}

// profileNotFound is the error of a profile that does not exist.
func profileNotFound(id string) error {
	return errkind.New(errkind.NotFound, "The inference profile %s could not be found.", id)
}

// DeleteProfile deletes a profile: account, id.
func DeleteProfile(ctx context.Context, ex Execer, e Errors, query, account, id string) error {
	return ExecFound(ctx, ex, e, "delete profile", profileNotFound(id), query, account, id)
}

// SetProfileTags replaces a profile's tags: tags, updated_at, account, id.
func SetProfileTags(ctx context.Context, ex Execer, e Errors, query, account, id string, t tags.Set, updated time.Time) error {
	return ExecFound(ctx, ex, e, "set profile tags", profileNotFound(id), query, TagsJSON(t), MS(updated), account, id)
}

// PutPrincipal upserts p: id, account, name, kind, tags, created_at.
func PutPrincipal(ctx context.Context, ex Execer, e Errors, query string, p principal.Principal) error {
	return Exec(ctx, ex, e, "put principal", query, p.ID, p.Account, p.Name, string(p.Kind), TagsJSON(p.Tags), MS(p.CreatedAt))
}

// PutAccessKey upserts k: id, principal_id, secret_sealed, status,
// created_at. A principal that does not exist is errkind.Invalid.
func PutAccessKey(ctx context.Context, ex Execer, e Errors, query string, k principal.AccessKey) error {
	_, err := ex.ExecContext(ctx, query, k.ID, k.PrincipalID, k.SecretSealed, k.Status, MS(k.CreatedAt))
	if e.IsConstraint(err) {
		return errkind.Wrap(errkind.Invalid, err, "the access key's principal does not exist")
	}
	if err != nil {
		return e.Internal(err, "put access key")
	}
	return nil
}

// PutAPIKey upserts k: hash, id, principal_id, status, created_at. A
// principal that does not exist, or an id taken, is errkind.Invalid.
func PutAPIKey(ctx context.Context, ex Execer, e Errors, query string, k principal.APIKey) error {
	_, err := ex.ExecContext(ctx, query, k.Hash, k.ID, k.PrincipalID, k.Status, MS(k.CreatedAt))
	if e.IsConstraint(err) {
		return errkind.Wrap(errkind.Invalid, err, "the API key's principal does not exist or its id is taken")
	}
	if err != nil {
		return e.Internal(err, "put api key")
	}
	return nil
}

// PutAccount upserts a: id, name, created_at.
func PutAccount(ctx context.Context, ex Execer, e Errors, query string, a principal.Account) error {
	return Exec(ctx, ex, e, "put account", query, a.ID, a.Name, MS(a.CreatedAt))
}

// PutPolicy upserts p: account, name, document, updated_at.
func PutPolicy(ctx context.Context, ex Execer, e Errors, query string, p principal.PolicyDoc) error {
	return Exec(ctx, ex, e, "put policy", query, p.Account, p.Name, p.Document, MS(p.UpdatedAt))
}

// DeletePolicy deletes a policy, then its attachments, with the two
// statements: account, name each. ex should be a transaction.
func DeletePolicy(ctx context.Context, ex Execer, e Errors, deletePolicy, deleteAttachments, account, name string) error {
	if err := ExecFound(ctx, ex, e, "delete policy", errkind.New(errkind.NotFound, "Policy %s does not exist.", name),
		deletePolicy, account, name); err != nil {
		return err
	}
	return Exec(ctx, ex, e, "delete attachments", deleteAttachments, account, name)
}

// Attach inserts a (doing nothing when it exists): principal_id,
// account, policy_name. A principal that does not exist is
// errkind.NotFound.
func Attach(ctx context.Context, ex Execer, e Errors, query string, a principal.Attachment) error {
	_, err := ex.ExecContext(ctx, query, a.PrincipalID, a.Account, a.PolicyName)
	if e.IsConstraint(err) {
		return errkind.Wrap(errkind.NotFound, err, "The principal does not exist.")
	}
	if err != nil {
		return e.Internal(err, "attach policy")
	}
	return nil
}

// Detach deletes a: principal_id, account, policy_name.
func Detach(ctx context.Context, ex Execer, e Errors, query string, a principal.Attachment) error {
	return ExecFound(ctx, ex, e, "detach policy", errkind.New(errkind.NotFound, "The policy is not attached."),
		query, a.PrincipalID, a.Account, a.PolicyName)
}

// InsertBudget inserts b: account, name, definition (JSON of b), created,
// updated. A budget of that name is errkind.Conflict.
func InsertBudget(ctx context.Context, ex Execer, e Errors, query string, b budget.Budget) error {
	doc, err := json.Marshal(b)
	if err != nil {
		return e.Internal(err, "encode budget")
	}
	_, err = ex.ExecContext(ctx, query, b.Account, b.Name, string(doc), MS(b.CreatedAt), MS(b.UpdatedAt))
	if e.Class(err) == Unique {
		return errkind.Wrap(errkind.Conflict, err, "The budget %s already exists.", b.Name)
	}
	if err != nil {
		return e.Internal(err, "create budget")
	}
	return nil
}

// BudgetNotFound is the error of a budget that does not exist.
func BudgetNotFound(name string) error {
	return errkind.New(errkind.NotFound, "The budget %s does not exist.", name)
}

// UpdateBudget replaces b's definition: definition (JSON of b), updated,
// account, name.
func UpdateBudget(ctx context.Context, ex Execer, e Errors, query string, b budget.Budget) error {
	doc, err := json.Marshal(b)
	if err != nil {
		return e.Internal(err, "encode budget")
	}
	return ExecFound(ctx, ex, e, "update budget", BudgetNotFound(b.Name), query, string(doc), MS(b.UpdatedAt), b.Account, b.Name)
}

// InTx runs f in a transaction of db and commits it when f succeeds.
// Errors from f are returned unchanged; failures to begin or commit are
// e.Internal's of op.
func InTx(ctx context.Context, db *sql.DB, e Errors, op string, f func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return e.Internal(err, "begin "+op)
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return e.Internal(err, "commit "+op)
	}
	return nil
}

// InsertMonitor inserts m: arn, account, name, type, dimension, tag_key,
// monitor_values, resource_tags, created_at, updated_at, last_evaluated
// (0: never, in both stores), value_count. An ARN taken is
// errkind.Conflict.
func InsertMonitor(ctx context.Context, ex Execer, e Errors, query string, m anomaly.Monitor) error {
	vals := m.Values
	if vals == nil {
		vals = []string{}
	}
	vj, err := JSONText(vals)
	if err != nil {
		return e.Internal(err, "encode monitor values")
	}
	_, err = ex.ExecContext(ctx, query,
		m.ARN, m.Account, m.Name, string(m.Type), string(m.Dimension), m.TagKey, vj, TagsJSON(m.ResourceTags),
		MS(m.CreatedAt), MS(m.UpdatedAt), MSOrZero(m.LastEvaluated), m.ValueCount)
	if e.Class(err) == Unique {
		return errkind.Wrap(errkind.Conflict, err, "The cost anomaly monitor %s already exists.", m.ARN)
	}
	if err != nil {
		return e.Internal(err, "create anomaly monitor")
	}
	return nil
}
