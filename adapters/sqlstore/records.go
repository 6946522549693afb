package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"contenthub/domain"
)

// RecordDelivery stores an audit record outside a task update. A delivery id
// already recorded for the task fails with domain.ErrDuplicateDelivery. A
// refused delivery is stored once per task, reason and RefusedAuditWindow;
// the others of that window are dropped without error.
func (s *Store) RecordDelivery(ctx context.Context, d domain.Delivery) error {
	if d.Outcome == domain.DeliveryRejected {
		return recordRefused(ctx, s.db, d)
	}
	return insertDelivery(ctx, s.db, d)
}

func insertDelivery(ctx context.Context, e sqlx.ExtContext, d domain.Delivery) error {
	res, err := e.ExecContext(ctx, e.Rebind(insertDeliverySQL), deliveryRowOf(d).values()...)
	if err := oneRow(res, err); err != nil {
		if errors.Is(err, errNoRow) {
			return fmt.Errorf("delivery %s of task %s: %w", d.DeliveryID, d.TaskID, domain.ErrDuplicateDelivery)
		}
		return fmt.Errorf("record delivery: %w", err)
	}
	return nil
}

// HasDelivery reports whether a delivery with this id was recorded for the task.
func (s *Store) HasDelivery(ctx context.Context, taskID, deliveryID string) (bool, error) {
	if deliveryID == "" {
		return false, nil // unauthenticated deliveries carry none
	}
	st, err := s.readStmts.get(ctx, s.reads.Rebind(
		"SELECT EXISTS (SELECT 1 FROM webhook_deliveries WHERE task_id = ? AND delivery_id = ?)"))
	if err != nil {
		return false, err
	}
	var found bool
	if err := st.QueryRowContext(ctx, taskID, deliveryID).Scan(&found); err != nil {
		return false, fmt.Errorf("look up delivery: %w", err)
	}
	return found, nil
}

// ListDeliveries returns a task's delivery log, oldest first.
func (s *Store) ListDeliveries(ctx context.Context, taskID string) ([]domain.Delivery, error) {
	var rows []deliveryRow
	err := s.reads.SelectContext(ctx, &rows, s.reads.Rebind(
		"SELECT "+deliverySelect+" FROM webhook_deliveries WHERE task_id = ? ORDER BY received_at, id"), taskID)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	out := make([]domain.Delivery, len(rows))
	for i, r := range rows {
		out[i] = r.delivery()
	}
	return out, nil
}

// ListPool returns publish-pool entries with the status ("" = any), highest
// priority first, then earliest scheduled; limit as in ListTasks. No port
// has it (readers use ListPoolItems): tests read the pool with it.
func (s *Store) ListPool(ctx context.Context, status domain.PoolStatus, limit int) ([]domain.PoolEntry, error) {
	query := "SELECT " + poolSelect + " FROM publish_pool"
	var args []any
	if status != "" {
		query += " WHERE status = ?"
		args = append(args, string(status))
	}
	query += " ORDER BY priority DESC, scheduled_at, id LIMIT ?"
	args = append(args, pageSize(limit))
	var rows []poolRow
	if err := s.reads.SelectContext(ctx, &rows, s.reads.Rebind(query), args...); err != nil {
		return nil, fmt.Errorf("list pool: %w", err)
	}
	out := make([]domain.PoolEntry, len(rows))
	for i, r := range rows {
		out[i] = r.entry()
	}
	return out, nil
}
