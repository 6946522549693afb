package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"contenthub/domain"
	"contenthub/ports"
)

var _ ports.ContentReview = (*Store)(nil)

// contentReadRow is a content as read: its row, its pool entry's id (NULL
// while there is none) and its task's priority.
type contentReadRow struct {
	contentRow
	PoolEntryID  sql.NullString `db:"pool_entry_id"`
	TaskPriority int            `db:"task_priority"`
}

func (r contentReadRow) content() domain.Content {
	c := r.contentRow.content()
	c.PoolEntryID, c.TaskPriority = r.PoolEntryID.String, r.TaskPriority
	return c
}

// contentReadSQL reads contents with what is read alongside; callers add
// WHERE, ORDER BY and the lock.
var contentReadSQL = "SELECT c." + strings.Join(contentColumns, ", c.") +
	", p.id AS pool_entry_id, t.priority AS task_priority" +
	" FROM contents c JOIN tasks t ON t.id = c.task_id LEFT JOIN publish_pool p ON p.content_id = c.id"

// contentLock ends the read of a content to review: its row stays locked
// until the transaction ends (PostgreSQL; SQLite's single writer holds the
// database's write lock).
func (s *Store) contentLock() string {
	if s.flavor.dialect == Postgres {
		return " FOR UPDATE OF c"
	}
	return ""
}

// GetContent returns content by id with its pool entry's id and its task's
// priority, or an error wrapping domain.ErrNotFound.
func (s *Store) GetContent(ctx context.Context, id string) (domain.Content, error) {
	var row contentReadRow
	err := s.reads.GetContext(ctx, &row, s.reads.Rebind(contentReadSQL+" WHERE c.id = ?"), id)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Content{}, fmt.Errorf("content %s: %w", id, domain.ErrNotFound)
	}
	if err != nil {
		return domain.Content{}, fmt.Errorf("get content: %w", err)
	}
	return row.content(), nil
}

// ListContents returns contents newest first (created_at, then id,
// descending), q.Limit at a time (default DefaultPageSize, at most
// MaxPageSize). A malformed cursor or an unknown review status is an error
// wrapping *domain.ValidationError.
func (s *Store) ListContents(ctx context.Context, q ports.ContentQuery) (ports.ContentPage, error) {
	var (
		where []string
		args  []any
	)
	if q.ReviewStatus != "" {
		if !q.ReviewStatus.Valid() {
			return ports.ContentPage{}, fmt.Errorf("list contents: %w",
				&domain.ValidationError{Field: "review_status", Message: "is not a known review status"})
		}
		where = append(where, "c.review_status = ?")
		args = append(args, string(q.ReviewStatus))
	}
	if q.AccountID != 0 {
		where = append(where, "c.account_id = ?")
		args = append(args, q.AccountID)
	}
	if q.TaskID != "" {
		where = append(where, "c.task_id = ?")
		args = append(args, q.TaskID)
	}
	if q.Cursor != "" {
		after, id, err := decodeCursor(q.Cursor)
		if err != nil {
			return ports.ContentPage{}, fmt.Errorf("list contents: %w", err)
		}
		where = append(where, "(c.created_at < ? OR (c.created_at = ? AND c.id < ?))")
		args = append(args, after, after, id)
	}
	limit := pageSize(q.Limit)
	query := contentReadSQL
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY c.created_at DESC, c.id DESC LIMIT ?"
	args = append(args, limit+1) // one more tells whether a next page exists

	var rows []contentReadRow
	if err := s.reads.SelectContext(ctx, &rows, s.reads.Rebind(query), args...); err != nil {
		return ports.ContentPage{}, fmt.Errorf("list contents: %w", err)
	}
	var page ports.ContentPage
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[limit-1]
		page.NextCursor = encodeCursor(last.CreatedAt, last.ID)
	}
	page.Items = make([]domain.Content, len(rows))
	for i, r := range rows {
		page.Items[i] = r.content()
	}
	return page, nil
}

var (
	saveReviewSQL = "UPDATE contents SET review_status = ?, reviewed_at = ?, reviewer = ?, review_note = ? WHERE id = ?"
	// The content's row lock serialises approvals, so a second insert for
	// one content never happens; the unique key on content_id would refuse it.
	insertReviewedPoolSQL = insertSQL("publish_pool", poolColumns) + " ON CONFLICT (content_id) DO NOTHING"
)

// ReviewContent loads the content with its row locked (PostgreSQL; SQLite's
// single writer holds the write lock), lets fn decide, and writes the review
// fields and the pool entry in the same transaction. Concurrent reviews of
// one content, on any replica, take turns: the second sees the first's move.
func (s *Store) ReviewContent(ctx context.Context, id string, fn ports.ReviewFunc) (domain.Content, error) {
	var out domain.Content
	err := s.inWriteTx(ctx, func(tx *sqlx.Tx) error {
		var row contentReadRow
		err := tx.GetContext(ctx, &row, tx.Rebind(contentReadSQL+" WHERE c.id = ?"+s.contentLock()), id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("content %s: %w", id, domain.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("load content %s: %w", id, err)
		}
		c := row.content()
		changes, err := fn(&c)
		if err != nil {
			return err
		}
		if changes.SaveContent {
			r := contentRowOf(c)
			if _, err := tx.ExecContext(ctx, tx.Rebind(saveReviewSQL),
				r.ReviewStatus, r.ReviewedAt, r.Reviewer, r.ReviewNote, c.ID); err != nil {
				return fmt.Errorf("save review of content %s: %w", id, err)
			}
		}
		if changes.PoolEntry != nil {
			res, err := tx.ExecContext(ctx, tx.Rebind(insertReviewedPoolSQL), poolRowOf(*changes.PoolEntry).values()...)
			if err := oneRow(res, err); err != nil {
				if errors.Is(err, errNoRow) {
					return fmt.Errorf("pool entry for content %s exists: %w", id, domain.ErrConflict)
				}
				return fmt.Errorf("insert pool entry: %w", err)
			}
			c.PoolEntryID = changes.PoolEntry.ID
		}
		if changes.Notify != nil {
			if err := s.insertNotification(ctx, tx, changes.Notify); err != nil {
				return err
			}
		}
		c.ReviewedAt = timeCol(c.ReviewedAt).Time // the stored form
		out = c
		return nil
	})
	return out, err
}
