package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"contenthub/domain"
	"contenthub/ports"
)

// The predicates below are written with literal statuses, identical to the
// partial indexes of migration 00004, so that both planners can use them.
const (
	// waitingTask: a pending task whose next attempt is not open.
	waitingTask = "status = 'pending' AND NOT attempt_open"
	// runningTask: an attempt is open and has not ended (a slot is held).
	runningTask = "attempt_open AND status IN ('pending', 'submitted', 'processing')"
)

// dueTask is waitingTask, due at the first bound time and not leased at the
// second (both now); t is the table's alias.
func dueTask(t string) string {
	return t + ".status = 'pending' AND NOT " + t + ".attempt_open AND " + t + ".next_attempt_at <= ? AND (" +
		t + ".lease_until IS NULL OR " + t + ".lease_until < ?)"
}

// backlogSQL walks the accounts that have waiting tasks (one index probe
// each, tasks_account_due_idx) and reads, per account, its oldest due task,
// its due tasks up to a cap, and its own limits. Accounts whose waiting tasks
// are all in backoff come out with no oldest due task. hint names the index
// each read of tasks t is to use (flavor.indexHint).
func backlogSQL(hint func(index string) string) string {
	dueIndex, oldestIndex := hint("tasks_account_due_idx"), hint("tasks_account_oldest_idx")
	return `WITH RECURSIVE backlog(account_id) AS (
		SELECT (SELECT t.account_id FROM tasks t` + dueIndex + ` WHERE ` + waitingTask + `
				ORDER BY t.account_id LIMIT 1)
		UNION ALL
		SELECT (SELECT t.account_id FROM tasks t` + dueIndex + ` WHERE ` + waitingTask + `
				AND t.account_id > b.account_id ORDER BY t.account_id LIMIT 1)
		FROM backlog b WHERE b.account_id IS NOT NULL
	)
	SELECT b.account_id AS account_id,
		(SELECT t.created_at FROM tasks t` + oldestIndex + ` WHERE t.account_id = b.account_id AND ` + dueTask("t") + `
				ORDER BY t.created_at LIMIT 1) AS oldest_due,
		(SELECT count(*) FROM (SELECT 1 AS one FROM tasks t` + dueIndex + ` WHERE t.account_id = b.account_id AND ` + dueTask("t") + ` LIMIT ?) d) AS due,
		l.max_concurrency AS max_concurrency, l.max_tasks_per_hour AS max_tasks_per_hour, l.weight AS weight
	FROM backlog b LEFT JOIN account_limits l ON l.account_id = b.account_id
	WHERE b.account_id IS NOT NULL`
}

// runningSQL counts running attempts per account (tasks_running_idx).
var runningSQL = `SELECT account_id, count(*) AS n FROM tasks WHERE ` + runningTask + ` GROUP BY account_id`

// openedSQL counts the attempts each account opened since the bound time.
const openedSQL = `SELECT t.account_id AS account_id, count(*) AS n
	FROM task_attempts a JOIN tasks t ON t.id = a.task_id
	WHERE a.opened_at > ? GROUP BY t.account_id`

type backlogRow struct {
	AccountID       int64  `db:"account_id"`
	OldestDue       dbTime `db:"oldest_due"`
	Due             int    `db:"due"`
	MaxConcurrency  *int   `db:"max_concurrency"`
	MaxTasksPerHour *int   `db:"max_tasks_per_hour"`
	Weight          *int   `db:"weight"`
}

// limits are the row's own limits, else the defaults.
func (r backlogRow) limits(defaults domain.AccountLimits) domain.AccountLimits {
	if r.Weight == nil || r.MaxConcurrency == nil || r.MaxTasksPerHour == nil {
		return defaults
	}
	return domain.RehydrateAccountLimits(*r.MaxConcurrency, *r.MaxTasksPerHour, *r.Weight)
}

type accountCount struct {
	AccountID int64 `db:"account_id"`
	N         int   `db:"n"`
}

// ClaimDue leases the next due tasks under q's rules (§11). In one write
// transaction, whatever the number of accounts with a backlog: claimers take
// turns (serializeClaims), the running attempts per account and in all, the
// accounts' backlogs and (only when some account is rate-limited) their
// openings of the last hour are read, domain.FairShare decides how many
// tasks each account gets, and one statement leases each chosen account's
// best due tasks (priority desc, then oldest) and bumps their version. On
// PostgreSQL rows another transaction holds (a cancel) are skipped.
func (s *Store) ClaimDue(ctx context.Context, q ports.ClaimQuery, open ports.UpdateFunc) ([]*domain.Task, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	// The dispatcher looks on every wake-up — each completion frees a slot
	// and wakes it — and mostly finds nothing due: answer that from the
	// reader pool, without the write transaction (SQLite's one writer, the
	// PostgreSQL claim lock) or counting the running attempts.
	if due, err := s.anyDue(ctx, q.Now); err != nil || !due {
		return nil, err
	}
	var (
		tasks []*domain.Task
		saved []savedTask
	)
	err := s.inWriteTx(ctx, func(tx *sqlx.Tx) error {
		if s.flavor.serializeClaims != "" {
			if _, err := tx.ExecContext(ctx, s.flavor.serializeClaims); err != nil {
				return fmt.Errorf("claim due tasks: take the claim lock: %w", err)
			}
		}
		picks, err := s.planClaims(ctx, tx, q)
		if err != nil || len(picks) == 0 {
			return err
		}
		rows, err := s.leasePicks(ctx, tx, q, picks)
		if err != nil {
			return err
		}
		if tasks, err = withAttempts(ctx, tx, rows); err != nil || open == nil {
			return err
		}
		opened := tasks[:0]
		for _, t := range tasks {
			before, expected := t.Attempts(), t.Version()
			changes, err := open(t)
			if err != nil {
				continue // leased, unchanged: claimed again when the lease ends
			}
			w := newWrite(t, expected, before, changes)
			if err := s.apply(ctx, tx.Tx, w); err != nil {
				return fmt.Errorf("claim due task %s: %w", t.ID(), err)
			}
			if w.task != nil {
				saved = append(saved, savedTask{t, w.task.Version})
			}
			opened = append(opened, t)
		}
		tasks = opened
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, st := range saved {
		st.task.MarkSaved(st.version) // only once committed
	}
	return tasks, nil
}

// anyDue reports whether some task is due at now (one probe of the waiting
// tasks' index). A task that becomes due after it answered wakes the
// dispatcher again (an insert, a sweep, a retry's backoff).
func (s *Store) anyDue(ctx context.Context, now time.Time) (bool, error) {
	nowCol := timeCol(now)
	var one []int
	query := s.reads.Rebind(`SELECT 1 FROM tasks t` + s.flavor.indexHint("tasks_account_due_idx") + ` WHERE ` +
		dueTask("t") + ` LIMIT 1`)
	if err := s.reads.SelectContext(ctx, &one, query, nowCol, nowCol); err != nil {
		return false, fmt.Errorf("claim due tasks: look for a due task: %w", err)
	}
	return len(one) > 0, nil
}

// planClaims reads the counts and returns the fair share's picks: one
// account id per task to claim, in order.
func (s *Store) planClaims(ctx context.Context, tx *sqlx.Tx, q ports.ClaimQuery) ([]int64, error) {
	var running []accountCount
	if err := tx.SelectContext(ctx, &running, runningSQL); err != nil {
		return nil, fmt.Errorf("claim due tasks: count running attempts: %w", err)
	}
	total := 0
	byAccount := make(map[int64]int, len(running))
	for _, r := range running {
		byAccount[r.AccountID] = r.N
		total += r.N
	}
	free := q.Limit
	if q.Capacity > 0 {
		free = min(free, q.Capacity-total)
	}
	if free <= 0 {
		return nil, nil
	}
	nowCol := timeCol(q.Now)
	var backlog []backlogRow
	if err := tx.SelectContext(ctx, &backlog, tx.Rebind(backlogSQL(s.flavor.indexHint)), nowCol, nowCol, nowCol, nowCol, free); err != nil {
		return nil, fmt.Errorf("claim due tasks: read the backlog: %w", err)
	}
	loads := make([]domain.AccountLoad, 0, len(backlog))
	rateLimited := false
	for _, b := range backlog {
		if b.Due == 0 {
			continue
		}
		l := b.limits(q.Defaults)
		rateLimited = rateLimited || l.MaxTasksPerHour() > 0
		loads = append(loads, domain.AccountLoad{AccountID: b.AccountID, Limits: l, Running: byAccount[b.AccountID],
			Due: b.Due, OldestDue: b.OldestDue.Time})
	}
	if rateLimited {
		var opened []accountCount
		if err := tx.SelectContext(ctx, &opened, tx.Rebind(openedSQL), windowStart(q.Now)); err != nil {
			return nil, fmt.Errorf("claim due tasks: count the hour's openings: %w", err)
		}
		n := make(map[int64]int, len(opened))
		for _, o := range opened {
			n[o.AccountID] = o.N
		}
		for i := range loads {
			loads[i].OpenedInWindow = n[loads[i].AccountID]
		}
	}
	return domain.FairShare(loads, free), nil
}

// leasePicks leases, in one statement, each picked account's best due tasks,
// as many as it was picked, and returns them in the order of the picks.
func (s *Store) leasePicks(ctx context.Context, tx *sqlx.Tx, q ports.ClaimQuery, picks []int64) ([]taskRow, error) {
	var order []int64
	count := make(map[int64]int)
	for _, a := range picks {
		if count[a] == 0 {
			order = append(order, a)
		}
		count[a]++
	}
	nowCol := timeCol(q.Now)
	args := []any{q.Owner, timeCol(q.Now.Add(q.Lease))}
	branches := make([]string, len(order))
	for i, a := range order {
		branches[i] = fmt.Sprintf(`SELECT id FROM (SELECT t.id FROM tasks t%s WHERE t.account_id = ? AND %s
			ORDER BY t.priority DESC, t.created_at, t.id LIMIT ?%s) p%d`, s.flavor.indexHint("tasks_account_due_idx"), dueTask("t"), s.flavor.skipLocked, i)
		args = append(args, a, nowCol, nowCol, count[a])
	}
	query := `UPDATE tasks SET lease_owner = ?, lease_until = ?, version = version + 1
		WHERE id IN (` + strings.Join(branches, " UNION ALL ") + `)
		RETURNING ` + taskSelect
	var rows []taskRow
	if err := tx.SelectContext(ctx, &rows, tx.Rebind(query), args...); err != nil {
		return nil, fmt.Errorf("claim due tasks: %w", err)
	}
	return inPickOrder(rows, picks), nil
}

// inPickOrder orders leased rows as the fair share picked their accounts,
// each account's rows by priority desc, then oldest (RETURNING follows no
// ORDER BY). A pick whose task was skipped (locked) is dropped.
func inPickOrder(rows []taskRow, picks []int64) []taskRow {
	byAccount := make(map[int64][]taskRow)
	for _, r := range rows {
		byAccount[r.AccountID] = append(byAccount[r.AccountID], r)
	}
	for _, rs := range byAccount {
		sortTaskRows(rs)
	}
	out := make([]taskRow, 0, len(rows))
	for _, a := range picks {
		if rs := byAccount[a]; len(rs) > 0 {
			out = append(out, rs[0])
			byAccount[a] = rs[1:]
		}
	}
	return out
}

func sortTaskRows(rs []taskRow) {
	less := func(a, b taskRow) bool {
		if a.Priority != b.Priority {
			return a.Priority > b.Priority
		}
		if !a.CreatedAt.Equal(b.CreatedAt.Time) {
			return a.CreatedAt.Before(b.CreatedAt.Time)
		}
		return a.ID < b.ID
	}
	for i := 1; i < len(rs); i++ { // insertion sort: a handful of rows
		for j := i; j > 0 && less(rs[j], rs[j-1]); j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

// windowStart is where the sliding hour ending at now begins.
func windowStart(now time.Time) dbTime { return timeCol(now.Add(-domain.RateWindow)) }

// savedTask is a task written in a transaction, to mark saved at commit.
type savedTask struct {
	task    *domain.Task
	version int64
}
