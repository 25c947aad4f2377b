package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/tollgate-dev/tollgate/internal/budget"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/notify"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

// CreateBudget implements budget.Store.
func (db *DB) CreateBudget(ctx context.Context, b budget.Budget) error {
	return sqlstore.InsertBudget(ctx, db.w, errs, `INSERT INTO budgets (account, name, definition, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?)`, b)
}

// UpdateBudget implements budget.Store.
func (db *DB) UpdateBudget(ctx context.Context, b budget.Budget) error {
	return sqlstore.UpdateBudget(ctx, db.w, errs, `UPDATE budgets SET definition = ?, updated_ms = ? WHERE account = ? AND name = ?`, b)
}

// DeleteBudget implements budget.Store.
func (db *DB) DeleteBudget(ctx context.Context, account, name string) error {
	return db.inTx(ctx, "delete budget", func(tx *sql.Tx) error {
		if err := sqlstore.ExecFound(ctx, tx, errs, "delete budget", sqlstore.BudgetNotFound(name),
			`DELETE FROM budgets WHERE account = ? AND name = ?`, account, name); err != nil {
			return err
		}
		for _, table := range []string{"budget_alerts", "budget_action_events", "budget_refusals"} {
			if err := sqlstore.Exec(ctx, tx, errs, "delete "+table, `DELETE FROM `+table+` WHERE account = ? AND budget = ?`, account, name); err != nil {
				return err
			}
		}
		return nil
	})
}

// ListBudgets implements budget.Store.
func (db *DB) ListBudgets(ctx context.Context) ([]budget.Budget, error) {
	out, err := sqlstore.All(ctx, db.r, sqlstore.ScanBudget, `SELECT definition FROM budgets ORDER BY account, name`)
	if err != nil {
		return nil, internal(err, "list budgets")
	}
	return out, nil
}

// PutBudgetAlertState implements budget.Store.
func (db *DB) PutBudgetAlertState(ctx context.Context, s budget.AlertState) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO budget_alerts (account, budget, alert, period_start_ms, alarm, fired, updated_ms)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (account, budget, alert, period_start_ms) DO UPDATE SET alarm = excluded.alarm, fired = excluded.fired, updated_ms = excluded.updated_ms`,
		s.Account, s.Budget, s.Alert, sqlstore.MS(s.PeriodStart), sqlstore.Bool(s.Alarm), s.Fired, sqlstore.MS(s.UpdatedAt))
	if err != nil {
		return internal(err, "put budget alert state")
	}
	return nil
}

// BudgetAlertStates implements budget.Store.
func (db *DB) BudgetAlertStates(ctx context.Context, since time.Time) ([]budget.AlertState, error) {
	out, err := sqlstore.All(ctx, db.r, sqlstore.ScanAlertState, `SELECT account, budget, alert, period_start_ms, alarm, fired, updated_ms
		FROM budget_alerts WHERE period_start_ms >= ? ORDER BY account, budget, alert, period_start_ms`, sqlstore.MS(since))
	if err != nil {
		return nil, internal(err, "list budget alert states")
	}
	return out, nil
}

// AppendBudgetActionEvent implements budget.Store.
func (db *DB) AppendBudgetActionEvent(ctx context.Context, e budget.ActionEvent) error {
	action, err := json.Marshal(e.Action)
	if err != nil {
		return internal(err, "encode budget action")
	}
	_, err = db.w.ExecContext(ctx, `INSERT INTO budget_action_events (account, budget, action_id, at_ms, status, event_type, message, action)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		e.Account, e.Budget, e.ActionID, sqlstore.MS(e.At), string(e.Status), e.EventType, e.Message, string(action))
	if err != nil {
		return internal(err, "append budget action event")
	}
	return nil
}

// BudgetActionEvents implements budget.Store.
func (db *DB) BudgetActionEvents(ctx context.Context, account, name, actionID string) ([]budget.ActionEvent, error) {
	out, err := sqlstore.All(ctx, db.r, sqlstore.ScanActionEvent, `SELECT account, budget, action_id, at_ms, status, event_type, message, action
		FROM budget_action_events WHERE account = ? AND budget = ? AND action_id = ? ORDER BY at_ms, status`, account, name, actionID)
	if err != nil {
		return nil, internal(err, "list budget action events")
	}
	return out, nil
}

// PutBudgetRefusals implements budget.Store.
func (db *DB) PutBudgetRefusals(ctx context.Context, r budget.Refusals) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO budget_refusals (account, budget, action_id, replica, period_start_ms, last_ms, count)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (account, budget, action_id, replica, period_start_ms) DO UPDATE SET last_ms = excluded.last_ms, count = excluded.count`,
		r.Account, r.Budget, r.ActionID, r.Replica, sqlstore.MS(r.PeriodStart), sqlstore.MS(r.Last), r.Count)
	if err != nil {
		return internal(err, "put budget refusals")
	}
	return nil
}

// BudgetRefusals implements budget.Store.
func (db *DB) BudgetRefusals(ctx context.Context, since time.Time) ([]budget.Refusals, error) {
	out, err := sqlstore.All(ctx, db.r, sqlstore.ScanRefusals, `SELECT account, budget, action_id, replica, period_start_ms, last_ms, count
		FROM budget_refusals WHERE last_ms >= ? ORDER BY account, budget, action_id, replica, period_start_ms`, sqlstore.MS(since))
	if err != nil {
		return nil, internal(err, "list budget refusals")
	}
	return out, nil
}

// EnqueueMessage implements notify.Store.
func (db *DB) EnqueueMessage(ctx context.Context, m notify.Message) (bool, error) {
	res, err := db.w.ExecContext(ctx, `INSERT INTO outbox (key, kind, target, subject, body, data, created_ms, state, attempts, next_ms, last_error, delivered_ms)
		VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, '', 0) ON CONFLICT (key) DO NOTHING`,
		m.Key, m.Kind, m.Target, m.Subject, m.Body, string(m.Data), sqlstore.MS(m.CreatedAt), sqlstore.MS(m.CreatedAt))
	if err != nil {
		return false, internal(err, "enqueue message")
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

const outboxColumns = `key, kind, target, subject, body, data, created_ms, state, attempts, next_ms, last_error, delivered_ms`

// DueMessages implements notify.Store.
func (db *DB) DueMessages(ctx context.Context, now time.Time, limit int) ([]notify.Delivery, error) {
	out, err := sqlstore.All(ctx, db.r, sqlstore.ScanDelivery, `SELECT `+outboxColumns+` FROM outbox
		WHERE state = 'pending' AND next_ms <= ? ORDER BY next_ms, key LIMIT ?`, sqlstore.MS(now), limit)
	if err != nil {
		return nil, internal(err, "due messages")
	}
	return out, nil
}

// MarkDelivered implements notify.Store.
func (db *DB) MarkDelivered(ctx context.Context, key string, attempts int, at time.Time) error {
	return sqlstore.ExecFound(ctx, db.w, errs, "mark delivered", sqlstore.MessageNotFound(key),
		`UPDATE outbox SET state = 'delivered', attempts = ?, delivered_ms = ?, last_error = '' WHERE key = ?`, attempts, sqlstore.MS(at), key)
}

// MarkFailed implements notify.Store.
func (db *DB) MarkFailed(ctx context.Context, key string, attempts int, next time.Time, dead bool, lastErr string) error {
	state := notify.Pending
	if dead {
		state = notify.Dead
	}
	return sqlstore.ExecFound(ctx, db.w, errs, "mark failed", sqlstore.MessageNotFound(key),
		`UPDATE outbox SET state = ?, attempts = ?, next_ms = ?, last_error = ? WHERE key = ?`,
		string(state), attempts, sqlstore.MS(next), lastErr, key)
}

// OutboxMessage implements notify.Store.
func (db *DB) OutboxMessage(ctx context.Context, key string) (notify.Delivery, error) {
	d, err := sqlstore.ScanDelivery(db.r.QueryRowContext(ctx, `SELECT `+outboxColumns+` FROM outbox WHERE key = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return d, errkind.New(errkind.NotFound, "The message %s does not exist.", key)
	}
	if err != nil {
		return d, internal(err, "get message")
	}
	return d, nil
}
