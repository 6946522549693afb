package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	_ "github.com/lib/pq"  // PostgreSQL, as the service uses it
	_ "modernc.org/sqlite" // SQLite, as the service uses it

	"contenthub/domain"
)

// baseline is what one completed callback must write, done directly through
// database/sql by a plain program, in one transaction: read the task row
// FOR UPDATE, update it, insert the content, the pool entry and the
// delivery record. It runs on a schema (or file) of its own, migrated by
// the service's migrations, so that tables and indexes are the service's.
type baseline struct {
	db      *sql.DB
	dialect string // "postgres" or "sqlite"
	article string
	seq     int
}

const baselineTime = "2006-01-02T15:04:05.000000Z"

func openBaseline(ctx context.Context, dialect, databaseURL, article string) (*baseline, error) {
	var (
		db  *sql.DB
		err error
	)
	switch dialect {
	case "postgres":
		db, err = sql.Open("postgres", databaseURL)
	case "sqlite":
		// The service's writer settings: WAL, full sync, write lock taken at BEGIN.
		db, err = sql.Open("sqlite", strings.TrimPrefix(databaseURL, "sqlite://")+
			"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
		if err == nil {
			db.SetMaxOpenConns(1) // one writer, as in the service
		}
	}
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return &baseline{db: db, dialect: dialect, article: article}, nil
}

func (b *baseline) close() error { return b.db.Close() }

// q turns ? placeholders into PostgreSQL's $n.
func (b *baseline) q(query string) string {
	if b.dialect != "postgres" {
		return query
	}
	var out strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&out, "$%d", n)
			continue
		}
		out.WriteRune(r)
	}
	return out.String()
}

// baselineTask is a task ready for the measured transaction, with what it
// writes worked out beforehand.
type baselineTask struct {
	id, article, heading, summary, images string
}

// prepare inserts n submitted tasks (not timed) and returns them.
func (b *baseline) prepare(ctx context.Context, n int) ([]baselineTask, error) {
	now := time.Now().UTC().Format(baselineTime)
	tasks := make([]baselineTask, n)
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	insert := b.q(`INSERT INTO tasks (id, account_id, topic, requirements, priority, auto_approve, status, attempt,
		attempt_open, max_attempts, next_attempt_at, timeout_at, last_heard_at, created_at, submitted_at, updated_at, version)
		VALUES (?, ?, ?, ?, ?, ?, 'submitted', 1, ?, 4, ?, ?, ?, ?, ?, ?, 4)`)
	for i := range n {
		b.seq++
		id, topic := fmt.Sprintf("task-baseline-%d", b.seq), fmt.Sprintf("边缘计算入门（第 %d 篇）", b.seq)
		article := personalised(b.article, topic)
		facts := domain.DescribeArticle(article, false)
		images, _ := json.Marshal(imageURLs(article))
		tasks[i] = baselineTask{id: id, article: article, heading: facts.Heading, summary: facts.Summary, images: string(images)}
		if _, err := tx.ExecContext(ctx, insert, id, 2, topic,
			"写一篇面向开发者的科普文章", 5, true, true, now, now, now, now, now, now); err != nil {
			return nil, fmt.Errorf("baseline: insert task: %w", err)
		}
	}
	return tasks, tx.Commit()
}

// complete is the measured transaction for one task.
func (b *baseline) complete(ctx context.Context, t baselineTask) error {
	lock := " FOR UPDATE"
	if b.dialect == "sqlite" {
		lock = "" // the write lock is taken at BEGIN
	}
	now := time.Now().UTC().Format(baselineTime)
	id, contentID, poolID := t.id, "content-"+t.id, "pool-"+t.id

	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	rows, err := tx.QueryContext(ctx, b.q("SELECT * FROM tasks WHERE id = ?"+lock), id)
	if err != nil {
		return fmt.Errorf("baseline: read task: %w", err)
	}
	cols, _ := rows.Columns()
	values := make([]any, len(cols))
	for i := range values {
		values[i] = new(sql.RawBytes)
	}
	found := false
	for rows.Next() {
		found = true
		if err := rows.Scan(values...); err != nil {
			rows.Close()
			return err
		}
	}
	if err := rows.Close(); err != nil || !found {
		return fmt.Errorf("baseline: read task %s: found=%v: %v", id, found, err)
	}
	if _, err := tx.ExecContext(ctx, b.q(`UPDATE tasks SET status = 'completed', content_id = ?, progress_percentage = 100,
		progress_stage = 'completed', last_heard_at = ?, completed_at = ?, updated_at = ?, version = version + 1 WHERE id = ?`),
		contentID, now, now, now, id); err != nil {
		return fmt.Errorf("baseline: update task: %w", err)
	}
	if _, err := tx.ExecContext(ctx, b.q(`INSERT INTO contents (id, task_id, account_id, attempt, title, summary, body,
		html_content, images, cover_image, quality_score, word_count, metrics, review_status, late, created_at,
		reviewed_at, reviewer, review_note)
		VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'approved', ?, ?, ?, 'auto', '')`),
		contentID, id, 2, t.heading, t.summary, t.article, t.article, t.images, "https://example.com/cover.png",
		8.2, utf8.RuneCountInString(t.article), `{"tokensUsed":5321,"cost":0.012,"duration":95000}`, false, now, now); err != nil {
		return fmt.Errorf("baseline: insert content: %w", err)
	}
	if _, err := tx.ExecContext(ctx, b.q(`INSERT INTO publish_pool (id, content_id, task_id, account_id, priority, status,
		scheduled_at, created_at, available_at, updated_at) VALUES (?, ?, ?, ?, 5, 'pending', ?, ?, ?, ?)`),
		poolID, contentID, id, 2, now, now, now, now); err != nil {
		return fmt.Errorf("baseline: insert pool entry: %w", err)
	}
	if _, err := tx.ExecContext(ctx, b.q(`INSERT INTO webhook_deliveries (task_id, attempt, event, delivery_id, scheme,
		outcome, reason, http_status, request_id, received_at, sent_at) VALUES (?, 1, 'completed', ?, 'hmac-raw', 'applied', '', 200, ?, ?, ?)`),
		id, "sha256:"+randomHex(32), "req-"+randomHex(12), now, now); err != nil {
		return fmt.Errorf("baseline: insert delivery: %w", err)
	}
	return tx.Commit()
}
