package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"

	"contenthub/domain"
	"contenthub/ports"
)

// CreateTasks stores a batch of new tasks in one transaction, or none of
// them. With a key, the key and the batch's task ids are stored in the same
// transaction; a key stored before (or concurrently, by a transaction that
// commits first) makes this a replay of the stored batch or a conflict. The
// returned tasks are the stored form, in the batch's order.
func (s *Store) CreateTasks(ctx context.Context, tasks []*domain.Task, key *ports.IdempotencyKey) ([]*domain.Task, bool, error) {
	if len(tasks) == 0 {
		return nil, false, nil
	}
	if key != nil {
		stored, replayed, err := s.replayBatch(ctx, *key)
		if err != nil || replayed {
			return stored, replayed, err
		}
	}
	snaps := make([]domain.TaskSnapshot, len(tasks))
	ids := make(jsonList, len(tasks))
	for i, t := range tasks {
		snaps[i] = t.Snapshot()
		ids[i] = snaps[i].ID
	}
	// Inserted by account: each insert's trigger takes its account's
	// dispatch row (migration 00009), and every transaction that touches
	// several accounts' rows (a batch, a claim) takes them in account order,
	// so that two of them never wait for each other on PostgreSQL.
	byAccount := slices.Clone(snaps)
	slices.SortStableFunc(byAccount, func(a, b domain.TaskSnapshot) int { return cmp.Compare(a.AccountID, b.AccountID) })
	err := s.inWriteTx(ctx, func(tx *sqlx.Tx) error {
		for start := 0; start < len(byAccount); start += batchInsertRows {
			if err := s.insertTaskRows(ctx, tx, byAccount[start:min(start+batchInsertRows, len(byAccount))]); err != nil {
				return err
			}
		}
		if key == nil {
			return nil
		}
		res, err := tx.ExecContext(ctx, tx.Rebind(
			`INSERT INTO idempotency_keys (key, request_hash, task_id, task_ids, created_at) VALUES (?, ?, ?, ?, ?)
			 ON CONFLICT (key) DO NOTHING`),
			key.Key, key.RequestHash, snaps[0].ID, ids, timeCol(snaps[0].CreatedAt))
		if err := oneRow(res, err); err != nil {
			if errors.Is(err, errNoRow) {
				return errKeyTaken
			}
			return fmt.Errorf("create batch: idempotency key: %w", err)
		}
		return nil
	})
	switch {
	case errors.Is(err, errKeyTaken):
		stored, replayed, err := s.replayBatch(ctx, *key)
		if err == nil && !replayed {
			err = fmt.Errorf("create batch: idempotency key %q vanished", key.Key)
		}
		return stored, replayed, err
	case err != nil:
		return nil, false, err
	}
	out := make([]*domain.Task, len(snaps))
	for i, snap := range snaps {
		attempts := make([]domain.Attempt, len(snap.Attempts))
		for j, a := range snap.Attempts {
			attempts[j] = attemptRowOf(snap.ID, a).attempt()
		}
		out[i] = taskRowOf(snap).task(attempts)
	}
	return out, false, nil
}

// replayBatch returns the batch stored under key, replayed=false when the
// key is unknown, or domain.ErrIdempotencyConflict when it came with another
// request (a single create's key included).
func (s *Store) replayBatch(ctx context.Context, key ports.IdempotencyKey) ([]*domain.Task, bool, error) {
	var stored struct {
		RequestHash string   `db:"request_hash"`
		TaskIDs     jsonList `db:"task_ids"`
	}
	err := s.reads.GetContext(ctx, &stored,
		s.reads.Rebind("SELECT request_hash, task_ids FROM idempotency_keys WHERE key = ?"), key.Key)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("idempotency key: %w", err)
	case stored.RequestHash != key.RequestHash || len(stored.TaskIDs) == 0:
		return nil, false, fmt.Errorf("idempotency key %q: %w", key.Key, domain.ErrIdempotencyConflict)
	}
	var tasks []*domain.Task
	err = s.inReadTx(ctx, func(tx *sqlx.Tx) error {
		query, args, err := sqlx.In("SELECT "+taskSelect+" FROM tasks WHERE id IN (?)", []string(stored.TaskIDs))
		if err != nil {
			return fmt.Errorf("replay batch: %w", err)
		}
		var rows []taskRow
		if err := tx.SelectContext(ctx, &rows, tx.Rebind(query), args...); err != nil {
			return fmt.Errorf("replay batch: %w", err)
		}
		found, err := withAttempts(ctx, tx, rows)
		if err != nil {
			return err
		}
		byID := make(map[string]*domain.Task, len(found))
		for _, t := range found {
			byID[t.ID()] = t
		}
		for _, id := range stored.TaskIDs {
			if t, ok := byID[id]; ok { // a task removed by retention is left out
				tasks = append(tasks, t)
			}
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return tasks, true, nil
}

// batchInsertRows is how many tasks one INSERT writes: 250 × 33 columns
// stays well inside both databases' limits on bound values.
const batchInsertRows = 250

// insertTaskRows writes new tasks' rows with one multi-row INSERT (one
// round trip), then their attempts if any; an id that exists fails the
// whole statement with domain.ErrConflict.
func (s *Store) insertTaskRows(ctx context.Context, tx *sqlx.Tx, snaps []domain.TaskSnapshot) error {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(taskColumns)), ", ") + ")"
	rows := make([]string, len(snaps))
	args := make([]any, 0, len(snaps)*len(taskColumns))
	for i, snap := range snaps {
		rows[i] = row
		args = append(args, taskRowOf(snap).values()...)
	}
	query := "INSERT INTO tasks (" + strings.Join(taskColumns, ", ") + ") VALUES " + strings.Join(rows, ", ") +
		" ON CONFLICT DO NOTHING"
	// A full chunk's text is always the same: prepared once, it is neither
	// parsed nor planned again (a large batch is mostly full chunks).
	st := statement{tx: tx.Tx, query: tx.Rebind(query)}
	if len(snaps) == batchInsertRows {
		st = s.writes.in(ctx, tx.Tx, tx.Rebind(query))
	}
	res, err := st.exec(ctx, args...)
	if err != nil {
		return fmt.Errorf("create batch: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("create batch: %w", err)
	}
	if int(n) != len(snaps) {
		return fmt.Errorf("create batch: %d of %d task ids exist: %w", len(snaps)-int(n), len(snaps), domain.ErrConflict)
	}
	for _, snap := range snaps {
		for _, a := range snap.Attempts {
			if _, err := tx.ExecContext(ctx, tx.Rebind(upsertAttemptSQL), attemptRowOf(snap.ID, a).values()...); err != nil {
				return fmt.Errorf("create task %s: attempt %d: %w", snap.ID, a.Number, err)
			}
		}
	}
	return nil
}
