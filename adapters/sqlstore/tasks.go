package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"contenthub/domain"
	"contenthub/ports"
)

// Page sizes of ListTasks and ListPool.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// DefaultStaleLimit caps FindStale when the query sets no limit.
const DefaultStaleLimit = 500

var insertTaskSQL = insertSQL("tasks", taskColumns)

// errKeyTaken rolls back a creation whose idempotency key another request
// stored first.
var errKeyTaken = errors.New("idempotency key taken")

// insertTask writes a new task with its attempts in tx: CreateTask's
// insert, shared by everything that creates tasks inside a transaction of
// its own (a schedule's run). An id that exists is domain.ErrConflict.
func insertTask(ctx context.Context, tx *sqlx.Tx, snap domain.TaskSnapshot) error {
	res, err := tx.ExecContext(ctx, tx.Rebind(insertTaskSQL+" ON CONFLICT DO NOTHING"), taskRowOf(snap).values()...)
	if err := oneRow(res, err); err != nil {
		if errors.Is(err, errNoRow) {
			return fmt.Errorf("create task %s: id exists: %w", snap.ID, domain.ErrConflict)
		}
		return fmt.Errorf("create task %s: %w", snap.ID, err)
	}
	for _, a := range snap.Attempts {
		if _, err := tx.ExecContext(ctx, tx.Rebind(upsertAttemptSQL), attemptRowOf(snap.ID, a).values()...); err != nil {
			return fmt.Errorf("create task %s: attempt %d: %w", snap.ID, a.Number, err)
		}
	}
	return nil
}

// CreateTask stores a new task with its attempts. With a key, the key is
// stored in the same transaction; a key stored before (or concurrently, by a
// transaction that commits first) makes this a replay or a conflict. The
// returned task is the stored form: times truncated to microseconds.
func (s *Store) CreateTask(ctx context.Context, t *domain.Task, key *ports.IdempotencyKey) (*domain.Task, bool, error) {
	if key != nil {
		// Fast path for replays: no write at all.
		stored, replayed, err := s.replay(ctx, *key)
		if err != nil || replayed {
			return stored, replayed, err
		}
	}
	snap := t.Snapshot()
	row := taskRowOf(snap)
	err := s.inWriteTx(ctx, func(tx *sqlx.Tx) error {
		if err := insertTask(ctx, tx, snap); err != nil {
			return err
		}
		if key == nil {
			return nil
		}
		// On PostgreSQL this waits for a concurrent transaction holding the
		// same key, then does nothing if that one committed.
		res, err := tx.ExecContext(ctx, tx.Rebind(
			`INSERT INTO idempotency_keys (key, request_hash, task_id, created_at) VALUES (?, ?, ?, ?)
			 ON CONFLICT (key) DO NOTHING`),
			key.Key, key.RequestHash, snap.ID, timeCol(snap.CreatedAt))
		if err := oneRow(res, err); err != nil {
			if errors.Is(err, errNoRow) {
				return errKeyTaken
			}
			return fmt.Errorf("create task %s: idempotency key: %w", snap.ID, err)
		}
		return nil
	})
	switch {
	case errors.Is(err, errKeyTaken):
		stored, replayed, err := s.replay(ctx, *key)
		if err == nil && !replayed {
			err = fmt.Errorf("create task %s: idempotency key %q vanished", snap.ID, key.Key)
		}
		return stored, replayed, err
	case err != nil:
		return nil, false, err
	}
	attempts := make([]domain.Attempt, len(snap.Attempts))
	for i, a := range snap.Attempts {
		attempts[i] = attemptRowOf(snap.ID, a).attempt()
	}
	return row.task(attempts), false, nil
}

// replay returns the task stored under key, replayed=false when the key is
// unknown, or domain.ErrIdempotencyConflict when it came with another request.
func (s *Store) replay(ctx context.Context, key ports.IdempotencyKey) (*domain.Task, bool, error) {
	var stored struct {
		RequestHash string   `db:"request_hash"`
		TaskID      string   `db:"task_id"`
		TaskIDs     jsonList `db:"task_ids"` // a batch's key (CreateTasks)
	}
	err := s.reads.GetContext(ctx, &stored,
		s.reads.Rebind("SELECT request_hash, task_id, task_ids FROM idempotency_keys WHERE key = ?"), key.Key)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("idempotency key: %w", err)
	case stored.RequestHash != key.RequestHash || len(stored.TaskIDs) > 0:
		return nil, false, fmt.Errorf("idempotency key %q: %w", key.Key, domain.ErrIdempotencyConflict)
	}
	t, err := s.GetTask(ctx, stored.TaskID)
	if err != nil {
		return nil, false, err
	}
	return t, true, nil
}

// GetTask returns a task with its attempts, or an error wrapping
// domain.ErrNotFound. One statement: one snapshot, one round trip.
func (s *Store) GetTask(ctx context.Context, id string) (*domain.Task, error) {
	st, err := s.readStmts.get(ctx, s.taskReads.get)
	if err != nil {
		return nil, err
	}
	return readTask(ctx, statement{st: st}, id, []any{id}, nil)
}

// GetTaskAndDelivery is GetTask that also tells, in the same read, whether
// a delivery with this id was recorded for the task ("" → false).
func (s *Store) GetTaskAndDelivery(ctx context.Context, id, deliveryID string) (*domain.Task, bool, error) {
	if deliveryID == "" {
		t, err := s.GetTask(ctx, id)
		return t, false, err
	}
	st, err := s.readStmts.get(ctx, s.taskReads.getSeen)
	if err != nil {
		return nil, false, err
	}
	var seen bool
	t, err := readTask(ctx, statement{st: st}, id, []any{id, deliveryID, id}, &seen)
	return t, seen, err
}

// withAttempts turns rows into tasks, loading every row's attempts with one query.
func withAttempts(ctx context.Context, q sqlx.ExtContext, rows []taskRow) ([]*domain.Task, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	query, args, err := sqlx.In("SELECT "+attemptSelect+" FROM task_attempts WHERE task_id IN (?) ORDER BY task_id, number", ids)
	if err != nil {
		return nil, fmt.Errorf("load attempts: %w", err)
	}
	var attemptRows []attemptRow
	if err := sqlx.SelectContext(ctx, q, &attemptRows, q.Rebind(query), args...); err != nil {
		return nil, fmt.Errorf("load attempts: %w", err)
	}
	return rehydrate(rows, attemptRows), nil
}

// rehydrate turns each task row into its task with its attempts (read in task and
// number order), keeping the rows' order.
func rehydrate(rows []taskRow, attemptRows []attemptRow) []*domain.Task {
	byTask := make(map[string][]domain.Attempt, len(rows))
	for _, a := range attemptRows {
		byTask[a.TaskID] = append(byTask[a.TaskID], a.attempt())
	}
	tasks := make([]*domain.Task, len(rows))
	for i, r := range rows {
		tasks[i] = r.task(byTask[r.ID])
	}
	return tasks
}

// ListTasks returns tasks newest first (created_at, then id, descending),
// Limit at a time (default DefaultPageSize, at most MaxPageSize). A malformed
// cursor or an unknown status is an error wrapping *domain.ValidationError.
func (s *Store) ListTasks(ctx context.Context, q ports.TaskQuery) (ports.TaskPage, error) {
	var (
		where []string
		args  []any
	)
	if q.AccountID != 0 {
		where = append(where, "account_id = ?")
		args = append(args, q.AccountID)
	}
	if q.ScheduleID != "" {
		where = append(where, "schedule_id = ?")
		args = append(args, q.ScheduleID)
	}
	if q.Status != "" {
		if !q.Status.Valid() {
			return ports.TaskPage{}, fmt.Errorf("list tasks: %w",
				&domain.ValidationError{Field: "status", Message: "is not a known status"})
		}
		where = append(where, "status = ?")
		args = append(args, string(q.Status))
	}
	if q.Cursor != "" {
		after, id, err := decodeCursor(q.Cursor)
		if err != nil {
			return ports.TaskPage{}, fmt.Errorf("list tasks: %w", err)
		}
		where = append(where, "(created_at < ? OR (created_at = ? AND id < ?))")
		args = append(args, after, after, id)
	}
	limit := pageSize(q.Limit)
	query := "SELECT " + taskSelect + " FROM tasks"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY created_at DESC, id DESC LIMIT ?"
	args = append(args, limit+1) // one more tells whether a next page exists

	var page ports.TaskPage
	err := s.inReadTx(ctx, func(tx *sqlx.Tx) error {
		var rows []taskRow
		if err := tx.SelectContext(ctx, &rows, tx.Rebind(query), args...); err != nil {
			return fmt.Errorf("list tasks: %w", err)
		}
		if len(rows) > limit {
			rows = rows[:limit]
			last := rows[limit-1]
			page.NextCursor = encodeCursor(last.CreatedAt, last.ID)
		}
		var err error
		page.Items, err = withAttempts(ctx, tx, rows)
		return err
	})
	if err != nil {
		return ports.TaskPage{}, err
	}
	return page, nil
}

func pageSize(limit int) int {
	switch {
	case limit <= 0:
		return DefaultPageSize
	case limit > MaxPageSize:
		return MaxPageSize
	}
	return limit
}

// A cursor is the position of the last task of a page: its creation time and
// id, base64url-encoded so clients treat it as opaque.
func encodeCursor(createdAt dbTime, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(createdAt.UTC().Format(timeLayout) + " " + id))
}

func decodeCursor(cursor string) (dbTime, string, error) {
	invalid := &domain.ValidationError{Field: "cursor", Message: "is not a cursor from a previous page"}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return dbTime{}, "", invalid
	}
	ts, id, ok := strings.Cut(string(raw), " ")
	if !ok || !domain.ValidTaskID(id) {
		return dbTime{}, "", invalid
	}
	at, err := time.Parse(timeLayout, ts)
	if err != nil {
		return dbTime{}, "", invalid
	}
	return dbTime{at}, id, nil
}

// UpdateTask loads the task (row-locked on PostgreSQL; SQLite's single writer
// holds the database's write lock), lets fn decide, and writes the delivery
// record, the task (compare-and-set on its version), its changed attempts,
// the content and the pool entry in one transaction: on PostgreSQL one
// statement after the read. fn runs while the transaction is open: it must
// be quick and must not write through the store.
func (s *Store) UpdateTask(ctx context.Context, id string, fn ports.UpdateFunc) error {
	var (
		saved   *domain.Task
		version int64
	)
	err := s.inWriteTx(ctx, func(tx *sqlx.Tx) error {
		if s.taskReads.lock != "" {
			var one int
			switch err := s.writes.in(ctx, tx.Tx, s.taskReads.lock).row(ctx, id).Scan(&one); {
			case errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("load task %s: %w", id, domain.ErrNotFound)
			case err != nil:
				return fmt.Errorf("lock task %s: %w", id, err)
			}
		}
		t, err := readTask(ctx, s.writes.in(ctx, tx.Tx, s.taskReads.get), id, []any{id}, nil)
		if err != nil {
			return err
		}
		before, expected := t.Attempts(), t.Version()
		changes, err := fn(t)
		if err != nil {
			return err
		}
		w := newWrite(t, expected, before, changes)
		if err := s.apply(ctx, tx.Tx, w); err != nil {
			if errors.Is(err, errStale) { // cannot happen while the row is locked, but say so if it does
				return fmt.Errorf("save task %s at version %d: %w", id, expected, domain.ErrVersionConflict)
			}
			return err
		}
		if w.task != nil {
			saved, version = t, w.task.Version
		}
		return nil
	})
	if err != nil {
		return err
	}
	if saved != nil {
		saved.MarkSaved(version) // only once committed
	}
	return nil
}

// UpdateTaskAt is UpdateTask for a task the caller read moments ago: fn
// decides on t without any transaction open, and the decision is written
// only if the task is still at t's version — on PostgreSQL in one statement,
// one round trip and one commit. A task changed since fails with
// domain.ErrVersionConflict and nothing is written.
func (s *Store) UpdateTaskAt(ctx context.Context, t *domain.Task, fn ports.UpdateFunc) error {
	before, expected := t.Attempts(), t.Version()
	changes, err := fn(t)
	if err != nil {
		return err
	}
	w := newWrite(t, expected, before, changes)
	switch err := s.apply(ctx, nil, w); {
	case errors.Is(err, errStale):
		return fmt.Errorf("save task %s at version %d: %w", t.ID(), expected, domain.ErrVersionConflict)
	case err != nil:
		return err
	}
	if w.task != nil {
		t.MarkSaved(w.task.Version)
	}
	return nil
}

func sameAttempt(a, b domain.Attempt) bool {
	ae, be := a.Error, b.Error
	a.Error, b.Error = nil, nil
	if a != b || (ae == nil) != (be == nil) {
		return false
	}
	return ae == nil || *ae == *be
}

// FindStale returns, with two queries whatever their number, the active
// (submitted or processing) tasks not heard from since q.HeardBefore or past
// their timeout at q.Now, and the pending tasks whose open attempt's lease has
// expired at q.Now (or that have none). At most q.Limit tasks
// (DefaultStaleLimit when unset): never polled first, then least recently
// polled (MarkPolled), then least recently updated.
func (s *Store) FindStale(ctx context.Context, q ports.StaleQuery) ([]*domain.Task, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultStaleLimit
	}
	query := `SELECT ` + taskSelect + ` FROM tasks
		WHERE (status IN (?, ?) AND (last_heard_at IS NULL OR last_heard_at < ? OR timeout_at < ?))
			OR (status = ? AND attempt_open AND (lease_until IS NULL OR lease_until < ?))
		ORDER BY last_polled_at ASC NULLS FIRST, updated_at, id
		LIMIT ?`
	var tasks []*domain.Task
	err := s.inReadTx(ctx, func(tx *sqlx.Tx) error {
		var rows []taskRow
		if err := tx.SelectContext(ctx, &rows, tx.Rebind(query),
			string(domain.StatusSubmitted), string(domain.StatusProcessing),
			timeCol(q.HeardBefore), timeCol(q.Now),
			string(domain.StatusPending), timeCol(q.Now), limit); err != nil {
			return fmt.Errorf("find stale tasks: %w", err)
		}
		var err error
		tasks, err = withAttempts(ctx, tx, rows)
		return err
	})
	if err != nil {
		return nil, err
	}
	return tasks, nil
}

// MarkPolled records that the reconciler asked about these tasks at at, in
// one statement. It changes neither the tasks nor their versions.
func (s *Store) MarkPolled(ctx context.Context, ids []string, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	query, args, err := sqlx.In("UPDATE tasks SET last_polled_at = ? WHERE id IN (?)", timeCol(at), ids)
	if err != nil {
		return fmt.Errorf("mark polled: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(query), args...); err != nil {
		return fmt.Errorf("mark polled: %w", err)
	}
	return nil
}

// ObserveProgress compares mark with the one stored for the attempt and,
// when it differs, stores it with at as its start. The read comes first so
// that a run reporting the same thing poll after poll costs no write (on
// SQLite none of the single writer's time); two replicas recording a new
// mark at once both write, and either start is right.
func (s *Store) ObserveProgress(ctx context.Context, taskID string, attempt int, mark string, at time.Time) (time.Time, error) {
	var row struct {
		Mark  sql.NullString `db:"progress_mark"`
		Since dbTime         `db:"progress_since"`
	}
	err := s.reads.GetContext(ctx, &row, s.reads.Rebind(
		"SELECT progress_mark, progress_since FROM task_attempts WHERE task_id = ? AND number = ?"), taskID, attempt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, fmt.Errorf("observe progress of %s attempt %d: %w", taskID, attempt, domain.ErrNotFound)
	case err != nil:
		return time.Time{}, fmt.Errorf("observe progress: %w", err)
	case row.Mark.Valid && row.Mark.String == mark && !row.Since.IsZero():
		return row.Since.Time, nil
	}
	since := timeCol(at)
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(
		"UPDATE task_attempts SET progress_mark = ?, progress_since = ? WHERE task_id = ? AND number = ?"),
		mark, since, taskID, attempt); err != nil {
		return time.Time{}, fmt.Errorf("observe progress: %w", err)
	}
	return since.Time, nil
}

// errNoRow is oneRow's report that a statement changed nothing.
var errNoRow = errors.New("no row affected")

// oneRow checks the result of a statement meant to change exactly one row.
func oneRow(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return errNoRow
	}
	return nil
}
