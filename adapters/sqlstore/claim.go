package sqlstore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
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

// candidatesSQL reads the accounts with waiting tasks in the fair share's
// order — fewest running attempts per unit of weight (share), then the oldest
// waiting task (head), then the lower id — from account_dispatch (migration
// 00009, kept by triggers in the transaction of every change), after the
// keyset position when after is set: one index range read, and per account
// whether it has a due task (due is then the bound cap: planClaims counts
// only where the fair share would give it more than one) and its own limits. So the claim's work is
// bounded by the slots it fills, not by the accounts with a backlog. hint
// names the index each read is to use (flavor.indexHint).
func candidatesSQL(hint func(index string) string, after bool) string {
	keyset := ""
	if after {
		keyset = " AND (d.share > ? OR d.share = ? AND (d.head > ? OR d.head = ? AND d.account_id > ?))"
	}
	return `SELECT d.account_id AS account_id, d.running AS running, d.share AS share, d.head AS head,
		CASE WHEN EXISTS (SELECT 1 FROM tasks t` + hint("tasks_account_due_idx") + ` WHERE t.account_id = d.account_id AND ` + dueTask("t") + `)
			THEN ? ELSE 0 END AS due,
		l.max_concurrency AS max_concurrency, l.max_tasks_per_hour AS max_tasks_per_hour, l.weight AS weight
	FROM account_dispatch d` + hint("account_dispatch_next_idx") + ` LEFT JOIN account_limits l ON l.account_id = d.account_id
	WHERE d.waiting > 0` + keyset + `
	ORDER BY d.share, d.head, d.account_id LIMIT ?`
}

// runningSQL counts running attempts per account (tasks_running_idx).
var runningSQL = `SELECT account_id, count(*) AS n FROM tasks WHERE ` + runningTask + ` GROUP BY account_id`

// runningTotalSQL counts running attempts in all (tasks_running_idx): the
// slots CREATOR_MAX_CONCURRENCY leaves free.
var runningTotalSQL = `SELECT count(*) FROM tasks WHERE ` + runningTask

// openedInSQL counts the attempts each of some accounts opened since the
// bound time.
const openedInSQL = `SELECT t.account_id AS account_id, count(*) AS n
	FROM task_attempts a JOIN tasks t ON t.id = a.task_id
	WHERE a.opened_at > ? AND t.account_id IN (?) GROUP BY t.account_id`

// candidateColumns are candidatesSQL's columns, in order.
var candidateColumns = []string{"account_id", "running", "share", "head", "due", "max_concurrency", "max_tasks_per_hour", "weight"}

type candidateRow struct {
	AccountID       int64   `db:"account_id"`
	Running         int     `db:"running"`
	Share           float64 `db:"share"`
	Head            dbTime  `db:"head"`
	Due             int     `db:"due"`
	MaxConcurrency  *int    `db:"max_concurrency"`
	MaxTasksPerHour *int    `db:"max_tasks_per_hour"`
	Weight          *int    `db:"weight"`
}

// limits are the row's own limits, else the defaults.
func (r candidateRow) limits(defaults domain.AccountLimits) domain.AccountLimits {
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
// transaction whose work is bounded by the slots it fills, whatever the
// number of accounts with a backlog: claimers take turns (serializeClaims),
// the running attempts in all are counted, the accounts are read in the fair
// share's order from their dispatch state (planClaims) with their due
// counts, limits and (only when rate-limited) the hour's openings,
// domain.FairShare decides how many tasks each account gets, and their best
// due tasks (priority desc, then oldest) are leased with their version
// bumped (leasePicks). On PostgreSQL rows another transaction holds (a
// cancel) are skipped.
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
		if tasks, err = s.claimedAttempts(ctx, tx, rows); err != nil || open == nil {
			return err
		}
		// Opened by account: each opening's trigger takes its account's
		// dispatch row (migration 00009), and every transaction that
		// touches several accounts' rows (a claim, a batch create) takes
		// them in account order, so that two of them never wait for each
		// other on PostgreSQL. The tasks are returned in the picks' order.
		byAccount := make([]int, len(tasks))
		for i := range byAccount {
			byAccount[i] = i
		}
		slices.SortStableFunc(byAccount, func(a, b int) int { return cmp.Compare(tasks[a].AccountID(), tasks[b].AccountID()) })
		ok := make([]bool, len(tasks))
		for _, i := range byAccount {
			t := tasks[i]
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
			ok[i] = true
		}
		opened := tasks[:0]
		for i, t := range tasks {
			if ok[i] {
				opened = append(opened, t)
			}
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
//
// Only the first accounts in the fair share's order can get one of free
// slots: an account gets a slot only when every account before it (fewer
// running per weight, or equal and an older head) either got one already or
// cannot take one (nothing due, held by its own limits). So the claim reads
// the accounts in that order until free of them can take a slot, and runs
// domain.FairShare on those: the same picks as over every account, for the
// work of a few index reads per slot — accounts held by their own limits
// are read past, the only cost that grows with the backlog's accounts.
func (s *Store) planClaims(ctx context.Context, tx *sqlx.Tx, q ports.ClaimQuery) ([]int64, error) {
	free := q.Limit
	if q.Capacity > 0 {
		var total int
		if err := s.claimStatement(ctx, tx, runningTotalSQL, 0).row(ctx).Scan(&total); err != nil {
			return nil, fmt.Errorf("claim due tasks: count running attempts: %w", err)
		}
		free = min(free, q.Capacity-total)
	}
	if free <= 0 {
		return nil, nil
	}
	nowCol := timeCol(q.Now)
	page := free
	var (
		loads    []domain.AccountLoad
		eligible int
		last     *candidateRow
	)
	for eligible < free {
		args := []any{nowCol, nowCol, free}
		if last != nil {
			args = append(args, last.Share, last.Share, last.Head, last.Head, last.AccountID)
		}
		args = append(args, page)
		st := s.claimStatement(ctx, tx, tx.Rebind(candidatesSQL(s.flavor.indexHint, last != nil)), 0)
		rows, err := scanClaimRows[candidateRow](ctx, st, candidateColumns, args)
		if err != nil {
			return nil, fmt.Errorf("claim due tasks: read the accounts with a backlog: %w", err)
		}
		pageLoads := make([]domain.AccountLoad, 0, len(rows))
		var limited []int64
		for _, r := range rows {
			if r.Due == 0 {
				continue
			}
			l := r.limits(q.Defaults)
			if l.MaxTasksPerHour() > 0 {
				limited = append(limited, r.AccountID)
			}
			pageLoads = append(pageLoads, domain.AccountLoad{AccountID: r.AccountID, Limits: l, Running: r.Running,
				Due: r.Due, OldestDue: r.Head.Time})
		}
		if err := s.countOpenings(ctx, tx, q.Now, limited, pageLoads); err != nil {
			return nil, err
		}
		for _, l := range pageLoads {
			if l.Held().Reason == domain.WaitingNone {
				eligible++
			}
		}
		loads = append(loads, pageLoads...)
		if len(rows) < page {
			break
		}
		last = &rows[len(rows)-1]
		page = min(2*page, 256) // reading past held accounts: fewer, longer reads
	}
	return s.shareCounted(ctx, tx, q.Now, loads, free)
}

// dueCountSQL counts an account's due tasks, up to a cap.
var dueCountSQL = `SELECT count(*) FROM (SELECT 1 AS one FROM tasks t INDEXHINT WHERE t.account_id = ? AND ` +
	dueTask("t") + ` LIMIT ?) x`

// shareCounted runs the fair share on loads whose Due says only whether the
// account has a due task (as free), counting an account's due tasks only
// when the share gives it more than one slot, and sharing again when it has
// fewer than that: the accounts given one slot each — the common case with
// many accounts — cost no count.
func (s *Store) shareCounted(ctx context.Context, tx *sqlx.Tx, now time.Time, loads []domain.AccountLoad, free int) ([]int64, error) {
	nowCol := timeCol(now)
	query := tx.Rebind(strings.Replace(dueCountSQL, " INDEXHINT", s.flavor.indexHint("tasks_account_due_idx"), 1))
	exact := make(map[int64]bool)
	for {
		picks := domain.FairShare(loads, free)
		given := make(map[int64]int, len(picks))
		for _, a := range picks {
			given[a]++
		}
		changed := false
		for i := range loads {
			l := &loads[i]
			if given[l.AccountID] <= 1 || exact[l.AccountID] {
				continue
			}
			var n int
			if err := s.claimStatement(ctx, tx, query, 0).row(ctx, l.AccountID, nowCol, nowCol, free).Scan(&n); err != nil {
				return nil, fmt.Errorf("claim due tasks: count an account's due tasks: %w", err)
			}
			exact[l.AccountID] = true
			if n < l.Due {
				l.Due, changed = n, true
			}
		}
		if !changed {
			return picks, nil
		}
	}
}

// countOpenings fills in the hour's openings of the rate-limited accounts
// among loads.
func (s *Store) countOpenings(ctx context.Context, tx *sqlx.Tx, now time.Time, limited []int64, loads []domain.AccountLoad) error {
	if len(limited) == 0 {
		return nil
	}
	query, args, err := sqlx.In(openedInSQL, windowStart(now), limited)
	if err != nil {
		return fmt.Errorf("claim due tasks: count the hour's openings: %w", err)
	}
	var opened []accountCount
	if err := tx.SelectContext(ctx, &opened, tx.Rebind(query), args...); err != nil {
		return fmt.Errorf("claim due tasks: count the hour's openings: %w", err)
	}
	n := make(map[int64]int, len(opened))
	for _, o := range opened {
		n[o.AccountID] = o.N
	}
	for i := range loads {
		loads[i].OpenedInWindow = n[loads[i].AccountID]
	}
	return nil
}

// leasePicks leases each picked account's best due tasks, as many as it was
// picked — in one statement, or one per account (flavor.leaseEach) — and
// returns them in the order of the picks.
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
	head := []any{q.Owner, timeCol(q.Now.Add(q.Lease))}
	lease := func(accounts []int64) ([]taskRow, error) {
		args := head
		branches := make([]string, len(accounts))
		for i, a := range accounts {
			branches[i] = fmt.Sprintf(`SELECT id FROM (SELECT t.id FROM tasks t%s WHERE t.account_id = ? AND %s
			ORDER BY t.priority DESC, t.created_at, t.id LIMIT ?%s) p%d`, s.flavor.indexHint("tasks_account_due_idx"), dueTask("t"), s.flavor.skipLocked, i)
			args = append(args, a, nowCol, nowCol, count[a])
		}
		query := `UPDATE tasks SET lease_owner = ?, lease_until = ?, version = version + 1
		WHERE id IN (` + strings.Join(branches, " UNION ALL ") + `)
		RETURNING ` + taskSelect
		rows, err := scanClaimRows[taskRow](ctx, s.claimStatement(ctx, tx, tx.Rebind(query), len(accounts)), taskColumns, args)
		if err != nil {
			return nil, fmt.Errorf("claim due tasks: %w", err)
		}
		return rows, nil
	}
	var rows []taskRow
	if !s.flavor.leaseEach {
		var err error
		if rows, err = lease(order); err != nil {
			return nil, err
		}
	} else {
		var once []int64
		for _, a := range order {
			if count[a] == 1 {
				once = append(once, a)
				continue
			}
			leased, err := lease([]int64{a})
			if err != nil {
				return nil, err
			}
			rows = append(rows, leased...)
		}
		if len(once) > 0 {
			leased, err := s.leaseOnce(ctx, tx, q, once)
			if err != nil {
				return nil, err
			}
			rows = append(rows, leased...)
		}
	}
	return inPickOrder(rows, picks), nil
}

// leaseOnceSQL leases the best due task of each account of a JSON list
// (SQLite's json_each), in one statement of one text.
var leaseOnceSQL = `UPDATE tasks SET lease_owner = ?, lease_until = ?, version = version + 1
	WHERE id IN (SELECT (SELECT t.id FROM tasks t INDEXED BY tasks_account_due_idx
		WHERE t.account_id = j.value AND ` + dueTask("t") + `
		ORDER BY t.priority DESC, t.created_at, t.id LIMIT 1) FROM json_each(?) j)
	RETURNING ` + taskSelect

// leaseOnce leases the best due task of each of accounts (leaseOnceSQL).
func (s *Store) leaseOnce(ctx context.Context, tx *sqlx.Tx, q ports.ClaimQuery, accounts []int64) ([]taskRow, error) {
	list, err := json.Marshal(accounts)
	if err != nil {
		return nil, fmt.Errorf("claim due tasks: %w", err)
	}
	nowCol := timeCol(q.Now)
	args := []any{q.Owner, timeCol(q.Now.Add(q.Lease)), nowCol, nowCol, string(list)}
	rows, err := scanClaimRows[taskRow](ctx, s.claimStatement(ctx, tx, leaseOnceSQL, 0), taskColumns, args)
	if err != nil {
		return nil, fmt.Errorf("claim due tasks: %w", err)
	}
	return rows, nil
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

// maxPreparedShapes bounds the claim's statements kept prepared: the lease
// and the attempts' read have one text per number of accounts or tasks
// claimed, which the free slots bound; past this many they run unprepared,
// so that a large CREATOR_MAX_CONCURRENCY cannot fill the statement cache.
const maxPreparedShapes = 32

// claimStatement is query bound to the claim's transaction, prepared once
// per text (parsing and planning the claim's statements each time cost
// SQLite more than running them) unless shapes exceeds maxPreparedShapes.
func (s *Store) claimStatement(ctx context.Context, tx *sqlx.Tx, query string, shapes int) statement {
	if shapes > maxPreparedShapes {
		return statement{tx: tx.Tx, query: query}
	}
	return s.writes.in(ctx, tx.Tx, query)
}

// scanClaimRows runs st and scans each row into a T, columns in order.
func scanClaimRows[T any](ctx context.Context, st statement, columns []string, args []any) ([]T, error) {
	rows, err := st.rows(ctx, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var r T
		if err := rows.Scan(rowTargets(&r, columns)...); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// claimedAttempts reads the attempts of the claimed rows' tasks (withAttempts
// through a prepared statement).
func (s *Store) claimedAttempts(ctx context.Context, tx *sqlx.Tx, rows []taskRow) ([]*domain.Task, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	ids := make([]any, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	query := tx.Rebind("SELECT " + attemptSelect + " FROM task_attempts WHERE task_id IN (?" +
		strings.Repeat(", ?", len(ids)-1) + ") ORDER BY task_id, number")
	attemptRows, err := scanClaimRows[attemptRow](ctx, s.claimStatement(ctx, tx, query, len(ids)), attemptColumns, ids)
	if err != nil {
		return nil, fmt.Errorf("load attempts: %w", err)
	}
	return rehydrate(rows, attemptRows), nil
}
