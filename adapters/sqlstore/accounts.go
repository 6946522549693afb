package sqlstore

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jmoiron/sqlx"

	"contenthub/domain"
	"contenthub/ports"
)

// PutAccountLimits stores an account's own limits, replacing earlier ones.
func (s *Store) PutAccountLimits(ctx context.Context, accountID int64, l domain.AccountLimits, at time.Time) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO account_limits
			(account_id, max_concurrency, max_tasks_per_hour, weight, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (account_id) DO UPDATE SET max_concurrency = excluded.max_concurrency,
			max_tasks_per_hour = excluded.max_tasks_per_hour, weight = excluded.weight, updated_at = excluded.updated_at`),
		accountID, l.MaxConcurrency(), l.MaxTasksPerHour(), l.Weight(), timeCol(at))
	if err != nil {
		return fmt.Errorf("put limits of account %d: %w", accountID, err)
	}
	return nil
}

// GetAccount returns one account's limits in force, counts and load.
func (s *Store) GetAccount(ctx context.Context, accountID int64, q ports.AccountQuery) (ports.AccountState, error) {
	var state ports.AccountState
	err := s.inReadTx(ctx, func(tx *sqlx.Tx) error {
		states, err := s.accountStates(ctx, tx, []int64{accountID}, q)
		if err == nil {
			state = states[0]
		}
		return err
	})
	return state, err
}

// ListAccounts returns every account that has tasks or limits, by id, from
// one snapshot.
func (s *Store) ListAccounts(ctx context.Context, q ports.AccountQuery) ([]ports.AccountState, error) {
	var states []ports.AccountState
	err := s.inReadTx(ctx, func(tx *sqlx.Tx) error {
		// The distinct account ids of tasks, one index probe each
		// (tasks_account_list_idx), and those with limits.
		var ids []int64
		if err := tx.SelectContext(ctx, &ids, `WITH RECURSIVE known(account_id) AS (
				SELECT (SELECT account_id FROM tasks ORDER BY account_id LIMIT 1)
				UNION ALL
				SELECT (SELECT t.account_id FROM tasks t WHERE t.account_id > k.account_id ORDER BY t.account_id LIMIT 1)
				FROM known k WHERE k.account_id IS NOT NULL
			)
			SELECT account_id FROM known WHERE account_id IS NOT NULL
			UNION SELECT account_id FROM account_limits`); err != nil {
			return fmt.Errorf("list accounts: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		var err error
		states, err = s.accountStates(ctx, tx, ids, q)
		return err
	})
	return states, err
}

// accountStates reads the given accounts' limits, counts and loads.
func (s *Store) accountStates(ctx context.Context, tx *sqlx.Tx, ids []int64, q ports.AccountQuery) ([]ports.AccountState, error) {
	loads, err := s.loads(ctx, tx, ports.LoadQuery{AccountIDs: ids, Now: q.Now, Defaults: q.Defaults})
	if err != nil {
		return nil, err
	}
	own, err := ownLimits(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	query, args, err := sqlx.In(`SELECT account_id, status, count(*) AS n FROM tasks
		WHERE account_id IN (?) AND (status = 'pending' OR (status IN ('completed', 'failed') AND updated_at > ?))
		GROUP BY account_id, status`, ids, timeCol(q.Now.Add(-24*time.Hour)))
	if err != nil {
		return nil, fmt.Errorf("count account tasks: %w", err)
	}
	var counts []struct {
		AccountID int64  `db:"account_id"`
		Status    string `db:"status"`
		N         int    `db:"n"`
	}
	if err := tx.SelectContext(ctx, &counts, tx.Rebind(query), args...); err != nil {
		return nil, fmt.Errorf("count account tasks: %w", err)
	}
	byAccount := make(map[int64]*ports.AccountCounts, len(ids))
	for _, id := range ids {
		byAccount[id] = &ports.AccountCounts{Running: loads.Accounts[id].Running}
	}
	for _, c := range counts {
		ac := byAccount[c.AccountID]
		switch domain.Status(c.Status) {
		case domain.StatusPending:
			ac.Pending = c.N
		case domain.StatusCompleted:
			ac.Completed24h = c.N
		case domain.StatusFailed:
			ac.Failed24h = c.N
		}
	}
	states := make([]ports.AccountState, len(ids))
	for i, id := range ids {
		_, isOwn := own[id]
		states[i] = ports.AccountState{AccountID: id, Limits: loads.Accounts[id].Limits, Own: isOwn,
			Counts: *byAccount[id], Load: loads.Accounts[id]}
	}
	return states, nil
}

// AccountLoads returns the loads of the given accounts and the running
// attempts in all, from one snapshot.
func (s *Store) AccountLoads(ctx context.Context, q ports.LoadQuery) (ports.Loads, error) {
	var loads ports.Loads
	err := s.inReadTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		loads, err = s.loads(ctx, tx, q)
		return err
	})
	return loads, err
}

func (s *Store) loads(ctx context.Context, tx *sqlx.Tx, q ports.LoadQuery) (ports.Loads, error) {
	out := ports.Loads{Accounts: make(map[int64]domain.AccountLoad, len(q.AccountIDs))}
	var running []accountCount
	if err := tx.SelectContext(ctx, &running, runningSQL); err != nil {
		return out, fmt.Errorf("account loads: count running attempts: %w", err)
	}
	runningOf := make(map[int64]int, len(running))
	for _, r := range running {
		runningOf[r.AccountID] = r.N
		out.Running += r.N
	}
	if len(q.AccountIDs) == 0 {
		return out, nil
	}
	own, err := ownLimits(ctx, tx, q.AccountIDs)
	if err != nil {
		return out, err
	}
	var limited []int64
	for _, id := range q.AccountIDs {
		l, ok := own[id]
		if !ok {
			l = q.Defaults
		}
		out.Accounts[id] = domain.AccountLoad{AccountID: id, Limits: l, Running: runningOf[id]}
		if l.MaxTasksPerHour() > 0 {
			limited = append(limited, id)
		}
	}
	if len(limited) == 0 {
		return out, nil
	}
	// The openings of the hour, oldest first, of the rate-limited accounts:
	// how many, and when the window lets the next one open.
	query, args, err := sqlx.In(`SELECT t.account_id AS account_id, a.opened_at AS opened_at
		FROM task_attempts a JOIN tasks t ON t.id = a.task_id
		WHERE a.opened_at > ? AND t.account_id IN (?) ORDER BY a.opened_at`, windowStart(q.Now), limited)
	if err != nil {
		return out, fmt.Errorf("account loads: %w", err)
	}
	var openings []struct {
		AccountID int64  `db:"account_id"`
		OpenedAt  dbTime `db:"opened_at"`
	}
	if err := tx.SelectContext(ctx, &openings, tx.Rebind(query), args...); err != nil {
		return out, fmt.Errorf("account loads: read the hour's openings: %w", err)
	}
	opened := make(map[int64][]time.Time, len(limited))
	for _, o := range openings {
		opened[o.AccountID] = append(opened[o.AccountID], o.OpenedAt.Time)
	}
	for _, id := range limited {
		l := out.Accounts[id]
		l.OpenedInWindow = len(opened[id])
		l.WindowReopensAt = domain.WindowReopensAt(opened[id], l.Limits.MaxTasksPerHour())
		out.Accounts[id] = l
	}
	return out, nil
}

// ownLimits reads the limits the given accounts set for themselves.
func ownLimits(ctx context.Context, tx *sqlx.Tx, ids []int64) (map[int64]domain.AccountLimits, error) {
	query, args, err := sqlx.In(`SELECT account_id, max_concurrency, max_tasks_per_hour, weight
		FROM account_limits WHERE account_id IN (?)`, ids)
	if err != nil {
		return nil, fmt.Errorf("read account limits: %w", err)
	}
	var rows []struct {
		AccountID       int64 `db:"account_id"`
		MaxConcurrency  int   `db:"max_concurrency"`
		MaxTasksPerHour int   `db:"max_tasks_per_hour"`
		Weight          int   `db:"weight"`
	}
	if err := tx.SelectContext(ctx, &rows, tx.Rebind(query), args...); err != nil {
		return nil, fmt.Errorf("read account limits: %w", err)
	}
	out := make(map[int64]domain.AccountLimits, len(rows))
	for _, r := range rows {
		out[r.AccountID] = domain.RehydrateAccountLimits(r.MaxConcurrency, r.MaxTasksPerHour, r.Weight)
	}
	return out, nil
}
