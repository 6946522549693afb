package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"contenthub/domain"
	"contenthub/ports"
)

var _ ports.TaskRetention = (*Store)(nil)

// DefaultRetentionBatch is PurgeTerminal's batch when the query sets none.
const DefaultRetentionBatch = 500

// perTaskRows are the tables holding rows that belong to one task, with the
// column naming it, deleted children first. A table added with a task_id
// column belongs here (TestRetentionLeavesNoRowOfADeletedTask checks).
var perTaskRows = []struct {
	table, column string
	count         func(*ports.RetentionCount) *int64
}{
	{"webhook_deliveries", "task_id", func(c *ports.RetentionCount) *int64 { return &c.Deliveries }},
	{"idempotency_keys", "task_id", func(c *ports.RetentionCount) *int64 { return &c.IdempotencyKeys }},
	{"contents", "task_id", func(c *ports.RetentionCount) *int64 { return &c.Contents }},
	{"task_attempts", "task_id", func(c *ports.RetentionCount) *int64 { return &c.Attempts }},
	{"tasks", "id", func(c *ports.RetentionCount) *int64 { return &c.Tasks }},
}

// eligibleSQL selects the ids of tasks retention may delete; the caller
// appends ordering, limits and locks.
const eligibleSQL = `SELECT id FROM tasks t
	WHERE status IN (?) AND updated_at < ?
		AND NOT EXISTS (SELECT 1 FROM publish_pool p WHERE p.task_id = t.id)`

func terminalStatuses() []string {
	var out []string
	for _, s := range domain.Statuses {
		if s.Terminal() {
			out = append(out, string(s))
		}
	}
	return out
}

// PurgeTerminal deletes up to q.Limit (DefaultRetentionBatch when unset)
// eligible tasks, least recently changed first, with their rows, in one
// transaction. On PostgreSQL the chosen tasks are locked and rows other
// transactions hold are skipped, so replicas purging at once share the work
// and a task being retried at that moment is left alone.
func (s *Store) PurgeTerminal(ctx context.Context, q ports.RetentionQuery) (ports.RetentionCount, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultRetentionBatch
	}
	var count ports.RetentionCount
	err := s.inWriteTx(ctx, func(tx *sqlx.Tx) error {
		query, args, err := sqlx.In(eligibleSQL+" ORDER BY updated_at, id LIMIT ?"+s.flavor.skipLocked,
			terminalStatuses(), timeCol(q.Before), limit)
		if err != nil {
			return fmt.Errorf("purge tasks: %w", err)
		}
		var ids []string
		if err := tx.SelectContext(ctx, &ids, tx.Rebind(query), args...); err != nil {
			return fmt.Errorf("purge tasks: select: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		for _, rows := range perTaskRows {
			query, args, err := sqlx.In("DELETE FROM "+rows.table+" WHERE "+rows.column+" IN (?)", ids)
			if err != nil {
				return fmt.Errorf("purge tasks: %w", err)
			}
			res, err := tx.ExecContext(ctx, tx.Rebind(query), args...)
			if err != nil {
				return fmt.Errorf("purge tasks: delete from %s: %w", rows.table, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("purge tasks: delete from %s: %w", rows.table, err)
			}
			*rows.count(&count) = n
		}
		return nil
	})
	if err != nil {
		return ports.RetentionCount{}, err
	}
	return count, nil
}

// CountTerminal counts, from one snapshot, what purging every eligible task
// last changed before before would delete.
func (s *Store) CountTerminal(ctx context.Context, before time.Time) (ports.RetentionCount, error) {
	var count ports.RetentionCount
	err := s.inReadTx(ctx, func(tx *sqlx.Tx) error {
		eligible, args, err := sqlx.In(eligibleSQL, terminalStatuses(), timeCol(before))
		if err != nil {
			return fmt.Errorf("count purgeable tasks: %w", err)
		}
		for _, rows := range perTaskRows {
			var n int64
			query := "SELECT COUNT(*) FROM " + rows.table + " WHERE " + rows.column + " IN (" + eligible + ")"
			if err := tx.GetContext(ctx, &n, tx.Rebind(query), args...); err != nil {
				return fmt.Errorf("count purgeable rows of %s: %w", rows.table, err)
			}
			*rows.count(&count) = n
		}
		return nil
	})
	if err != nil {
		return ports.RetentionCount{}, err
	}
	return count, nil
}
