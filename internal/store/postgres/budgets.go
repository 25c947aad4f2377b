package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/budget"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/notify"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

// CreateBudget implements budget.Store.
func (db *DB) CreateBudget(ctx context.Context, b budget.Budget) error {
	return db.change(ctx, ChangeBudget, "create budget", func(tx *sql.Tx) error {
		return sqlstore.InsertBudget(ctx, tx, errs, `INSERT INTO budgets (account, name, definition, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5)`, b)
	})
}

// UpdateBudget implements budget.Store.
func (db *DB) UpdateBudget(ctx context.Context, b budget.Budget) error {
	return db.change(ctx, ChangeBudget, "update budget", func(tx *sql.Tx) error {
		return sqlstore.UpdateBudget(ctx, tx, errs, `UPDATE budgets SET definition = $1, updated_at = $2 WHERE account = $3 AND name = $4`, b)
	})
}

// DeleteBudget implements budget.Store. The budget's alert states, action
// histories and refusal reports go with it (the foreign keys cascade).
func (db *DB) DeleteBudget(ctx context.Context, account, name string) error {
	return db.change(ctx, ChangeBudget, "delete budget", func(tx *sql.Tx) error {
		return sqlstore.ExecFound(ctx, tx, errs, "delete budget", sqlstore.BudgetNotFound(name),
			`DELETE FROM budgets WHERE account = $1 AND name = $2`, account, name)
	})
}

// ListBudgets implements budget.Store.
func (db *DB) ListBudgets(ctx context.Context) ([]budget.Budget, error) {
	out, err := sqlstore.All(ctx, db.db, sqlstore.ScanBudget, `SELECT definition FROM budgets ORDER BY account COLLATE "C", name COLLATE "C"`)
	if err != nil {
		return nil, internal(err, "list budgets")
	}
	return out, nil
}

// PutBudgetAlertState implements budget.Store. The state of a budget that
// no longer exists (another replica deleted it while this one evaluated
// it) is dropped without error: DeleteBudget removed its states, and a
// budget later created under the name must start without them.
func (db *DB) PutBudgetAlertState(ctx context.Context, s budget.AlertState) error {
	_, err := db.db.ExecContext(ctx, `INSERT INTO budget_alerts (account, budget, alert, period_start, alarm, fired, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (account, budget, alert, period_start) DO UPDATE SET
			alarm = excluded.alarm, fired = excluded.fired, updated_at = excluded.updated_at`,
		s.Account, s.Budget, s.Alert, sqlstore.MS(s.PeriodStart), s.Alarm, s.Fired, sqlstore.MS(s.UpdatedAt))
	if err != nil && errs.Class(err) != sqlstore.ForeignKey {
		return internal(err, "put budget alert state")
	}
	return nil
}

// BudgetAlertStates implements budget.Store.
func (db *DB) BudgetAlertStates(ctx context.Context, since time.Time) ([]budget.AlertState, error) {
	out, err := sqlstore.All(ctx, db.db, sqlstore.ScanAlertState, `SELECT account, budget, alert, period_start, alarm, fired, updated_at
		FROM budget_alerts WHERE period_start >= $1 ORDER BY account COLLATE "C", budget COLLATE "C", alert COLLATE "C", period_start`, sqlstore.MS(since))
	if err != nil {
		return nil, internal(err, "list budget alert states")
	}
	return out, nil
}

// AppendBudgetActionEvent implements budget.Store. The event of a budget
// that no longer exists is dropped without error, as its alert states are.
func (db *DB) AppendBudgetActionEvent(ctx context.Context, e budget.ActionEvent) error {
	action, err := json.Marshal(e.Action)
	if err != nil {
		return internal(err, "encode budget action")
	}
	_, err = db.db.ExecContext(ctx, `INSERT INTO budget_action_events (account, budget, action_id, at, status, event_type, message, action)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
		e.Account, e.Budget, e.ActionID, sqlstore.MS(e.At), string(e.Status), e.EventType, e.Message, string(action))
	if err != nil && errs.Class(err) != sqlstore.ForeignKey {
		return internal(err, "append budget action event")
	}
	return nil
}

// BudgetActionEvents implements budget.Store.
func (db *DB) BudgetActionEvents(ctx context.Context, account, name, actionID string) ([]budget.ActionEvent, error) {
	out, err := sqlstore.All(ctx, db.db, sqlstore.ScanActionEvent, `SELECT account, budget, action_id, at, status, event_type, message, action
		FROM budget_action_events WHERE account = $1 AND budget = $2 AND action_id = $3 ORDER BY at, status COLLATE "C"`, account, name, actionID)
	if err != nil {
		return nil, internal(err, "list budget action events")
	}
	return out, nil
}

// PutBudgetRefusals implements budget.Store. A report of a budget that no
// longer exists is dropped without error.
func (db *DB) PutBudgetRefusals(ctx context.Context, r budget.Refusals) error {
	_, err := db.db.ExecContext(ctx, `INSERT INTO budget_refusals (account, budget, action_id, replica, period_start, last_at, count)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (account, budget, action_id, replica, period_start) DO UPDATE SET last_at = excluded.last_at, count = excluded.count`,
		r.Account, r.Budget, r.ActionID, r.Replica, sqlstore.MS(r.PeriodStart), sqlstore.MS(r.Last), r.Count)
	if err != nil && errs.Class(err) != sqlstore.ForeignKey {
		return internal(err, "put budget refusals")
	}
	return nil
}

// BudgetRefusals implements budget.Store.
func (db *DB) BudgetRefusals(ctx context.Context, since time.Time) ([]budget.Refusals, error) {
	out, err := sqlstore.All(ctx, db.db, sqlstore.ScanRefusals, `SELECT account, budget, action_id, replica, period_start, last_at, count
		FROM budget_refusals WHERE last_at >= $1
		ORDER BY account COLLATE "C", budget COLLATE "C", action_id COLLATE "C", replica COLLATE "C", period_start`, sqlstore.MS(since))
	if err != nil {
		return nil, internal(err, "list budget refusals")
	}
	return out, nil
}

// EnqueueMessage implements notify.Store. Of replicas enqueueing one key
// at once, exactly one stores it and gets true: the insert of the other
// waits for the first to commit, then does nothing.
func (db *DB) EnqueueMessage(ctx context.Context, m notify.Message) (bool, error) {
	var data any // NULL when none
	if len(m.Data) > 0 {
		data = string(m.Data)
	}
	res, err := db.db.ExecContext(ctx, `INSERT INTO outbox
		(key, kind, target, subject, body, data, created_at, state, attempts, next_at, last_error, delivered_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $7, '', NULL)
		ON CONFLICT (key) DO NOTHING`,
		m.Key, m.Kind, m.Target, m.Subject, m.Body, data, sqlstore.MS(m.CreatedAt))
	if err != nil {
		return false, internal(err, "enqueue message")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, internal(err, "enqueue message")
	}
	return n == 1, nil
}

const outboxColumns = `key, kind, target, subject, body, data, created_at, state, attempts, next_at, last_error, delivered_at`

// DueMessages implements notify.Store. Replicas sharing the database see
// the same due messages: each replica's outbox may attempt a message
// another is attempting (delivery is at least once; receivers drop
// repeated keys).
func (db *DB) DueMessages(ctx context.Context, now time.Time, limit int) ([]notify.Delivery, error) {
	out, err := sqlstore.All(ctx, db.db, sqlstore.ScanDelivery, `SELECT `+outboxColumns+` FROM outbox
		WHERE state = 'pending' AND next_at <= $1 ORDER BY next_at, key COLLATE "C" LIMIT $2`, sqlstore.MS(now), limit)
	if err != nil {
		return nil, internal(err, "due messages")
	}
	return out, nil
}

// MarkDelivered implements notify.Store.
func (db *DB) MarkDelivered(ctx context.Context, key string, attempts int, at time.Time) error {
	return sqlstore.ExecFound(ctx, db.db, errs, "mark delivered", sqlstore.MessageNotFound(key),
		`UPDATE outbox SET state = 'delivered', attempts = $1, delivered_at = $2, last_error = '' WHERE key = $3`, attempts, sqlstore.MS(at), key)
}

// MarkFailed implements notify.Store. A message another replica delivered
// meanwhile stays delivered: it is never sent again. lastErr is stored as
// valid UTF-8 without NUL bytes (PostgreSQL text holds no others), so an
// error message cut at a byte limit cannot make the record fail.
func (db *DB) MarkFailed(ctx context.Context, key string, attempts int, next time.Time, dead bool, lastErr string) error {
	state := notify.Pending
	if dead {
		state = notify.Dead
	}
	lastErr = strings.ReplaceAll(strings.ToValidUTF8(lastErr, "\uFFFD"), "\x00", "")
	res, err := db.db.ExecContext(ctx, `UPDATE outbox SET state = $1, attempts = $2, next_at = $3, last_error = $4
		WHERE key = $5 AND state <> 'delivered'`,
		string(state), attempts, sqlstore.MS(next), lastErr, key)
	if err != nil {
		return internal(err, "mark failed")
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	// Messages are never deleted, so one seen now stays.
	var exists bool
	if err := db.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM outbox WHERE key = $1)`, key).Scan(&exists); err != nil {
		return internal(err, "mark failed")
	}
	if !exists {
		return sqlstore.MessageNotFound(key)
	}
	return nil
}

// OutboxMessage implements notify.Store.
func (db *DB) OutboxMessage(ctx context.Context, key string) (notify.Delivery, error) {
	d, err := sqlstore.ScanDelivery(db.db.QueryRowContext(ctx, `SELECT `+outboxColumns+` FROM outbox WHERE key = $1`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return d, errkind.New(errkind.NotFound, "The message %s does not exist.", key)
	}
	if err != nil {
		return d, internal(err, "get message")
	}
	return d, nil
}
