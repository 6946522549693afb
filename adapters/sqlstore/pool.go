package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"contenthub/domain"
	"contenthub/ports"
)

var (
	_ ports.PublishPool = (*Store)(nil)
	_ ports.TaskCounter = (*Store)(nil)
)

// poolOrder is the claim order: priority desc, then the reviewer's
// schedule, then id so that the order is total.
const poolOrder = " ORDER BY priority DESC, scheduled_at, id"

// ListPoolEntries returns entries with their titles in claim order, q.Limit
// at a time (default DefaultPageSize, at most MaxPageSize).
func (s *Store) ListPoolEntries(ctx context.Context, q ports.PoolEntryQuery) ([]ports.PoolItem, error) {
	var (
		where []string
		args  []any
	)
	if q.Status != "" {
		where = append(where, "p.status = ?")
		args = append(args, string(q.Status))
	}
	if q.AccountID != 0 {
		where = append(where, "p.account_id = ?")
		args = append(args, q.AccountID)
	}
	query := "SELECT " + poolItemSelect + " FROM publish_pool p JOIN contents c ON c.id = p.content_id"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY p.priority DESC, p.scheduled_at, p.id LIMIT ?"
	args = append(args, pageSize(q.Limit))
	var rows []poolItemRow
	if err := s.reads.SelectContext(ctx, &rows, s.reads.Rebind(query), args...); err != nil {
		return nil, fmt.Errorf("list pool entries: %w", err)
	}
	out := make([]ports.PoolItem, len(rows))
	for i, r := range rows {
		out[i] = ports.PoolItem{Entry: r.entry(), Title: r.Title}
	}
	return out, nil
}

// CountPool counts entries per status, every status present (0 when none).
func (s *Store) CountPool(ctx context.Context, accountID int64) (ports.PoolCounts, error) {
	rows, err := s.countBy(ctx, "publish_pool", accountID)
	if err != nil {
		return nil, fmt.Errorf("count pool: %w", err)
	}
	counts := ports.PoolCounts{}
	for _, st := range domain.PoolStatuses {
		counts[st] = rows[string(st)]
	}
	return counts, nil
}

// CountTasks counts tasks per status, every status present (0 when none).
func (s *Store) CountTasks(ctx context.Context, accountID int64) (ports.TaskCounts, error) {
	rows, err := s.countBy(ctx, "tasks", accountID)
	if err != nil {
		return nil, fmt.Errorf("count tasks: %w", err)
	}
	counts := ports.TaskCounts{}
	for _, st := range domain.Statuses {
		counts[st] = rows[string(st)]
	}
	return counts, nil
}

// countBy counts a table's rows per status in one statement (an index scan
// of the status indexes), of one account or all.
func (s *Store) countBy(ctx context.Context, table string, accountID int64) (map[string]int, error) {
	query := "SELECT status, COUNT(*) AS n FROM " + table
	var args []any
	if accountID != 0 {
		query += " WHERE account_id = ?"
		args = append(args, accountID)
	}
	query += " GROUP BY status"
	var rows []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	if err := s.reads.SelectContext(ctx, &rows, s.reads.Rebind(query), args...); err != nil {
		return nil, err
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out, nil
}

// GetPoolEntry returns one entry with its title, or domain.ErrNotFound.
func (s *Store) GetPoolEntry(ctx context.Context, id string) (ports.PoolItem, error) {
	var row poolItemRow
	err := s.reads.GetContext(ctx, &row, s.reads.Rebind(
		"SELECT "+poolItemSelect+" FROM publish_pool p JOIN contents c ON c.id = p.content_id WHERE p.id = ?"), id)
	if errors.Is(err, sql.ErrNoRows) {
		return ports.PoolItem{}, fmt.Errorf("pool entry %s: %w", id, domain.ErrNotFound)
	}
	if err != nil {
		return ports.PoolItem{}, fmt.Errorf("get pool entry: %w", err)
	}
	return ports.PoolItem{Entry: row.entry(), Title: row.Title}, nil
}

// ClaimPool is domain.PoolEntry.Claim for up to q.Limit entries in one
// statement, the shape of the task claim (ClaimDue): the due pending entries
// in claim order, skipping rows another claimer holds (PostgreSQL's SKIP
// LOCKED; SQLite's single writer serialises claimers), leased to q.Claim.
func (s *Store) ClaimPool(ctx context.Context, q ports.PoolClaimQuery) ([]domain.PoolEntry, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	c := q.Claim
	at := timeCol(c.At)
	args := []any{string(domain.PoolClaimed), c.SecretHash, at, timeCol(c.LeaseExpiresAt), at,
		string(domain.PoolPending), at}
	filter := ""
	if q.AccountID != 0 {
		filter = " AND account_id = ?"
		args = append(args, q.AccountID)
	}
	args = append(args, q.Limit)
	query := `UPDATE publish_pool SET status = ?, claim_token_hash = ?, claimed_at = ?, lease_expires_at = ?, updated_at = ?
		WHERE id IN (
			SELECT id FROM publish_pool WHERE status = ? AND available_at <= ?` + filter +
		poolOrder + ` LIMIT ?` + s.flavor.skipLocked + `)
		RETURNING ` + poolSelect
	var rows []poolRow
	if err := s.db.SelectContext(ctx, &rows, s.db.Rebind(query), args...); err != nil {
		return nil, fmt.Errorf("claim pool entries: %w", err)
	}
	// RETURNING follows no ORDER BY.
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.Priority != b.Priority {
			return a.Priority > b.Priority
		}
		if !a.ScheduledAt.Equal(b.ScheduledAt.Time) {
			return a.ScheduledAt.Before(b.ScheduledAt.Time)
		}
		return a.ID < b.ID
	})
	out := make([]domain.PoolEntry, len(rows))
	for i, r := range rows {
		out[i] = r.entry()
	}
	return out, nil
}

var savePoolSQL = func() string {
	sets := make([]string, 0, len(poolColumns))
	for _, c := range poolColumns[1:] {
		sets = append(sets, c+" = ?")
	}
	return "UPDATE publish_pool SET " + strings.Join(sets, ", ") + " WHERE id = ?"
}()

// UpdatePoolEntry loads the entry with its row locked (PostgreSQL; SQLite's
// single writer holds the write lock), lets fn decide and writes it.
func (s *Store) UpdatePoolEntry(ctx context.Context, id string, fn ports.PoolUpdateFunc) (domain.PoolEntry, error) {
	lock := ""
	if s.flavor.dialect == Postgres {
		lock = " FOR UPDATE"
	}
	var out domain.PoolEntry
	err := s.inWriteTx(ctx, func(tx *sqlx.Tx) error {
		var row poolRow
		err := tx.GetContext(ctx, &row, tx.Rebind("SELECT "+poolSelect+" FROM publish_pool WHERE id = ?"+lock), id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("pool entry %s: %w", id, domain.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("load pool entry %s: %w", id, err)
		}
		e := row.entry()
		changes, err := fn(&e)
		if err != nil {
			return err
		}
		if changes.SaveEntry {
			values := poolRowOf(e).values()
			if _, err := tx.ExecContext(ctx, tx.Rebind(savePoolSQL), append(values[1:], e.ID)...); err != nil {
				return fmt.Errorf("save pool entry %s: %w", id, err)
			}
		}
		if changes.Notify != nil {
			if err := s.insertNotification(ctx, tx, changes.Notify); err != nil {
				return err
			}
		}
		out = poolRowOf(e).entry() // the stored form
		return nil
	})
	return out, err
}

// ReleaseExpiredLeases is domain.PoolEntry.ReleaseExpired for every claimed
// entry whose lease ended at or before now, in one statement.
func (s *Store) ReleaseExpiredLeases(ctx context.Context, now time.Time) (int, error) {
	at := timeCol(now)
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE publish_pool
		SET status = ?, available_at = ?, lease_expires_at = NULL, updated_at = ?
		WHERE status = ? AND lease_expires_at <= ?`),
		string(domain.PoolPending), at, at, string(domain.PoolClaimed), at)
	if err != nil {
		return 0, fmt.Errorf("release expired pool leases: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("release expired pool leases: %w", err)
	}
	return int(n), nil
}
