package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"contenthub/domain"
	"contenthub/ports"
)

var (
	_ ports.WebhookEndpoints = (*Store)(nil)
	_ ports.Outbox           = (*Store)(nil)
)

// endpointRow is a row of webhook_endpoints.
type endpointRow struct {
	ID             string        `db:"id"`
	URL            string        `db:"url"`
	Events         jsonList      `db:"events"`
	AccountID      sql.NullInt64 `db:"account_id"`
	Description    string        `db:"description"`
	Enabled        bool          `db:"enabled"`
	DisabledReason string        `db:"disabled_reason"`
	Secrets        string        `db:"secrets"`
	FailingSince   dbTime        `db:"failing_since"`
	CreatedAt      dbTime        `db:"created_at"`
	UpdatedAt      dbTime        `db:"updated_at"`
}

var endpointColumns = []string{"id", "url", "events", "account_id", "description", "enabled", "disabled_reason",
	"secrets", "failing_since", "created_at", "updated_at"}

var endpointSelect = strings.Join(endpointColumns, ", ")

// storedSecret is one element of the secrets column.
type storedSecret struct {
	Stored    string     `json:"stored"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

func encodeSecrets(secrets []domain.EndpointSecret) string {
	out := make([]storedSecret, len(secrets))
	for i, s := range secrets {
		out[i].Stored = s.Stored
		if !s.ExpiresAt.IsZero() {
			at := s.ExpiresAt.UTC()
			out[i].ExpiresAt = &at
		}
	}
	b, _ := json.Marshal(out) // strings and times: cannot fail
	return string(b)
}

func decodeSecrets(raw string) ([]domain.EndpointSecret, error) {
	var in []storedSecret
	if err := json.Unmarshal([]byte(raw), &in); err != nil {
		return nil, fmt.Errorf("endpoint secrets: %w", err)
	}
	out := make([]domain.EndpointSecret, len(in))
	for i, s := range in {
		out[i].Stored = s.Stored
		if s.ExpiresAt != nil {
			out[i].ExpiresAt = s.ExpiresAt.UTC()
		}
	}
	return out, nil
}

func endpointRowOf(e *domain.WebhookEndpoint) endpointRow {
	s := e.Snapshot()
	events := make(jsonList, len(s.Events))
	for i, ev := range s.Events {
		events[i] = string(ev)
	}
	return endpointRow{
		ID: s.ID, URL: s.URL, Events: events, AccountID: sql.NullInt64{Int64: s.AccountID, Valid: s.AccountID != 0},
		Description: s.Description, Enabled: s.Enabled, DisabledReason: s.DisabledReason,
		Secrets: encodeSecrets(s.Secrets), FailingSince: timeCol(s.FailingSince),
		CreatedAt: timeCol(s.CreatedAt), UpdatedAt: timeCol(s.UpdatedAt),
	}
}

func (r endpointRow) endpoint() (*domain.WebhookEndpoint, error) {
	secrets, err := decodeSecrets(r.Secrets)
	if err != nil {
		return nil, fmt.Errorf("endpoint %s: %w", r.ID, err)
	}
	events := make([]domain.NotifyEvent, len(r.Events))
	for i, ev := range r.Events {
		events[i] = domain.NotifyEvent(ev)
	}
	return domain.RehydrateWebhookEndpoint(domain.WebhookEndpointSnapshot{
		ID: r.ID, URL: r.URL, Events: events, AccountID: r.AccountID.Int64, Description: r.Description,
		Enabled: r.Enabled, DisabledReason: r.DisabledReason, Secrets: secrets, FailingSince: r.FailingSince.Time,
		CreatedAt: r.CreatedAt.Time, UpdatedAt: r.UpdatedAt.Time,
	}), nil
}

// CreateEndpoint stores a new endpoint.
func (s *Store) CreateEndpoint(ctx context.Context, e *domain.WebhookEndpoint) error {
	row := endpointRowOf(e)
	_, err := s.db.ExecContext(ctx, s.db.Rebind(insertSQL("webhook_endpoints", endpointColumns)),
		rowValues(row, endpointColumns)...)
	if err != nil {
		return fmt.Errorf("create endpoint %s: %w", row.ID, err)
	}
	return nil
}

// GetEndpoint returns an endpoint or domain.ErrNotFound.
func (s *Store) GetEndpoint(ctx context.Context, id string) (*domain.WebhookEndpoint, error) {
	var row endpointRow
	err := s.reads.GetContext(ctx, &row, s.reads.Rebind("SELECT "+endpointSelect+" FROM webhook_endpoints WHERE id = ?"), id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("endpoint %s: %w", id, domain.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("load endpoint %s: %w", id, err)
	}
	return row.endpoint()
}

// ListEndpoints returns every endpoint, oldest first.
func (s *Store) ListEndpoints(ctx context.Context) ([]*domain.WebhookEndpoint, error) {
	var rows []endpointRow
	if err := s.reads.SelectContext(ctx, &rows, "SELECT "+endpointSelect+" FROM webhook_endpoints ORDER BY created_at, id"); err != nil {
		return nil, fmt.Errorf("list endpoints: %w", err)
	}
	out := make([]*domain.WebhookEndpoint, 0, len(rows))
	for _, r := range rows {
		e, err := r.endpoint()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// UpdateEndpoint loads the endpoint (row-locked on PostgreSQL), lets fn
// change it and writes every column back in the same transaction.
func (s *Store) UpdateEndpoint(ctx context.Context, id string, fn func(*domain.WebhookEndpoint) error) (*domain.WebhookEndpoint, error) {
	var out *domain.WebhookEndpoint
	err := s.inWriteTx(ctx, func(tx *sqlx.Tx) error {
		var row endpointRow
		lock := ""
		if s.flavor.dialect == Postgres {
			lock = " FOR UPDATE"
		}
		err := tx.GetContext(ctx, &row, tx.Rebind("SELECT "+endpointSelect+" FROM webhook_endpoints WHERE id = ?"+lock), id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("endpoint %s: %w", id, domain.ErrNotFound)
		case err != nil:
			return fmt.Errorf("load endpoint %s: %w", id, err)
		}
		e, err := row.endpoint()
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
		next := endpointRowOf(e)
		sets := make([]string, 0, len(endpointColumns)-1)
		for _, c := range endpointColumns[1:] {
			sets = append(sets, c+" = ?")
		}
		args := append(rowValues(next, endpointColumns)[1:], id)
		if _, err := tx.ExecContext(ctx, tx.Rebind("UPDATE webhook_endpoints SET "+strings.Join(sets, ", ")+" WHERE id = ?"), args...); err != nil {
			return fmt.Errorf("save endpoint %s: %w", id, err)
		}
		out = e
		return nil
	})
	return out, err
}

// DeleteEndpoint removes the endpoint; its messages and their attempts go
// with it (ON DELETE CASCADE).
func (s *Store) DeleteEndpoint(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, s.db.Rebind("DELETE FROM webhook_endpoints WHERE id = ?"), id)
	if err := oneRow(res, err); err != nil {
		if errors.Is(err, errNoRow) {
			return fmt.Errorf("endpoint %s: %w", id, domain.ErrNotFound)
		}
		return fmt.Errorf("delete endpoint %s: %w", id, err)
	}
	return nil
}

// messageRow is a row of webhook_messages.
type messageRow struct {
	ID            string `db:"id"`
	EndpointID    string `db:"endpoint_id"`
	Event         string `db:"event"`
	Subject       string `db:"subject"`
	AccountID     int64  `db:"account_id"`
	Payload       string `db:"payload"`
	Status        string `db:"status"`
	Attempts      int    `db:"attempts"`
	Retries       int    `db:"retries"`
	NextAttemptAt dbTime `db:"next_attempt_at"`
	LeaseOwner    string `db:"lease_owner"`
	LeaseUntil    dbTime `db:"lease_until"`
	LastError     string `db:"last_error"`
	CreatedAt     dbTime `db:"created_at"`
	DeliveredAt   dbTime `db:"delivered_at"`
}

var messageSelect = "id, endpoint_id, event, subject, account_id, payload, status, attempts, retries, " +
	"next_attempt_at, lease_owner, lease_until, last_error, created_at, delivered_at"

func (r messageRow) message() domain.WebhookMessage {
	return domain.WebhookMessage{
		ID: r.ID, EndpointID: r.EndpointID, Event: domain.NotifyEvent(r.Event), Subject: r.Subject,
		AccountID: r.AccountID, Payload: []byte(r.Payload), Status: domain.MessageStatus(r.Status),
		Attempts: r.Attempts, Retries: r.Retries, NextAttemptAt: r.NextAttemptAt.Time,
		CreatedAt: r.CreatedAt.Time, DeliveredAt: r.DeliveredAt.Time, LastError: r.LastError,
	}
}

// attemptLogRow is a row of webhook_message_attempts.
type attemptLogRow struct {
	MessageID  string `db:"message_id"`
	Number     int    `db:"number"`
	EndpointID string `db:"endpoint_id"`
	At         dbTime `db:"at"`
	StatusCode int    `db:"status_code"`
	Error      string `db:"error"`
	LatencyUS  int64  `db:"latency_us"`
}

func (r attemptLogRow) attempt() domain.MessageAttempt {
	return domain.MessageAttempt{MessageID: r.MessageID, EndpointID: r.EndpointID, Number: r.Number, At: r.At.Time,
		StatusCode: r.StatusCode, Error: r.Error, Latency: time.Duration(r.LatencyUS) * time.Microsecond}
}

// outboxInsertSQL fans a notification out to one message per enabled
// endpoint subscribed to its event (and to its account, or to all): one
// INSERT … SELECT, so the fan-out costs no round trip whatever the number of
// endpoints. Parameters: notification id, event, subject, account id,
// payload, time, and the event again for the match. onlyIf is appended to
// the FROM list (PostgreSQL's CTE: the compare-and-set's row).
func outboxInsertSQL(param func(cast string) string, from string) string {
	id, event, subject, account := param("text"), param("text"), param("text"), param("bigint")
	payload, at, match := param("text"), param("timestamptz"), param("text")
	return "INSERT INTO webhook_messages (id, endpoint_id, event, subject, account_id, payload, status, " +
		"attempts, retries, next_attempt_at, created_at) SELECT " + id + " || '_' || e.id, e.id, " + event + ", " +
		subject + ", " + account + ", " + payload + ", 'pending', 0, 0, " + at + ", " + at +
		" FROM " + from + "webhook_endpoints e WHERE e.enabled AND e.events LIKE '%\"' || " + match +
		" || '\"%' AND (e.account_id IS NULL OR e.account_id = " + account + ")"
}

// outboxInsertSQL as a statement of its own, with ? parameters (the time and
// the account id appear twice, so they are bound twice: outboxArgs): SQLite's
// write of a task's change, and the review's and the pool's writes on both
// databases (PostgreSQL with the casts it needs to type the parameters).
var (
	sqliteOutboxInsert   = outboxInsertSQL(func(string) string { return "?" }, "")
	postgresOutboxInsert = outboxInsertSQL(func(cast string) string { return "?::" + cast }, "")
)

func outboxArgs(n *domain.Notification) []any {
	at := timeCol(n.At)
	return []any{n.ID, string(n.Event), n.Subject, n.AccountID, string(n.Payload), at, at, string(n.Event), n.AccountID}
}

// insertNotification writes n's messages in tx, the transaction of the change
// that causes it (the outbox).
func (s *Store) insertNotification(ctx context.Context, tx *sqlx.Tx, n *domain.Notification) error {
	query := sqliteOutboxInsert
	if s.flavor.dialect == Postgres {
		query = postgresOutboxInsert
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(query), outboxArgs(n)...); err != nil {
		return fmt.Errorf("write notification %s: %w", n.ID, err)
	}
	return nil
}

// ClaimMessages leases due messages: at most c.PerEndpoint per endpoint,
// none of c.Busy's, oldest due first. On PostgreSQL rows another claimer
// holds are skipped (SKIP LOCKED); SQLite's single writer serialises claims.
func (s *Store) ClaimMessages(ctx context.Context, c ports.MessageClaim) ([]ports.ClaimedMessage, error) {
	if c.Limit <= 0 {
		return nil, nil
	}
	per := c.PerEndpoint
	if per <= 0 {
		per = c.Limit
	}
	now := timeCol(c.Now)
	busy, busyArgs := "", []any{}
	if len(c.Busy) > 0 {
		busy = " AND m.endpoint_id NOT IN (?" + strings.Repeat(", ?", len(c.Busy)-1) + ")"
		for _, b := range c.Busy {
			busyArgs = append(busyArgs, b)
		}
	}
	lock := ""
	if s.flavor.dialect == Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	// Ranked per endpoint first, so that a slow endpoint's backlog never
	// fills a claim; the lease conditions are repeated where the rows are
	// locked, so that PostgreSQL rechecks them on a row another claimer
	// leased meanwhile.
	dueWhere := `m.status = 'pending' AND m.next_attempt_at <= ? AND (m.lease_until IS NULL OR m.lease_until < ?)`
	query := `WITH ranked AS (
			SELECT m.id, row_number() OVER (PARTITION BY m.endpoint_id ORDER BY m.next_attempt_at, m.id) AS rn
			FROM webhook_messages m JOIN webhook_endpoints e ON e.id = m.endpoint_id
			WHERE e.enabled AND ` + dueWhere + busy + `),
		due AS (
			SELECT m.id FROM webhook_messages m
			WHERE m.id IN (SELECT id FROM ranked WHERE rn <= ?) AND ` + dueWhere + `
			ORDER BY m.next_attempt_at, m.id LIMIT ?` + lock + `)
		UPDATE webhook_messages SET lease_owner = ?, lease_until = ?
		WHERE id IN (SELECT id FROM due)
		RETURNING ` + messageSelect
	args := append([]any{now, now}, busyArgs...)
	args = append(args, per, now, now, c.Limit, c.Owner, timeCol(c.Now.Add(c.Lease)))
	// The sender looks on every terminal change and mostly finds nothing
	// (no endpoint subscribed, or sent already): answer that from the reader
	// pool, without taking SQLite's one writer or a PostgreSQL row lock.
	var due []int
	probe := s.reads.Rebind(`SELECT 1 FROM webhook_messages m JOIN webhook_endpoints e ON e.id = m.endpoint_id
		WHERE e.enabled AND ` + dueWhere + ` LIMIT 1`)
	if err := s.reads.SelectContext(ctx, &due, probe, now, now); err != nil {
		return nil, fmt.Errorf("claim messages: look for a due message: %w", err)
	}
	if len(due) == 0 {
		return nil, nil
	}
	var out []ports.ClaimedMessage
	err := s.inWriteTx(ctx, func(tx *sqlx.Tx) error {
		var rows []messageRow
		if err := tx.SelectContext(ctx, &rows, tx.Rebind(query), args...); err != nil {
			return fmt.Errorf("claim messages: %w", err)
		}
		if len(rows) == 0 {
			return nil
		}
		// RETURNING follows no order: oldest due first.
		sortMessages(rows)
		ids := map[string]bool{}
		var endpointIDs []string
		for _, r := range rows {
			if !ids[r.EndpointID] {
				ids[r.EndpointID] = true
				endpointIDs = append(endpointIDs, r.EndpointID)
			}
		}
		q, a, err := sqlx.In("SELECT "+endpointSelect+" FROM webhook_endpoints WHERE id IN (?)", endpointIDs)
		if err != nil {
			return fmt.Errorf("claim messages: %w", err)
		}
		var eps []endpointRow
		if err := tx.SelectContext(ctx, &eps, tx.Rebind(q), a...); err != nil {
			return fmt.Errorf("claim messages: endpoints: %w", err)
		}
		byID := map[string]endpointRow{}
		for _, e := range eps {
			byID[e.ID] = e
		}
		for _, r := range rows {
			ep := byID[r.EndpointID]
			secrets, err := decodeSecrets(ep.Secrets)
			if err != nil {
				return fmt.Errorf("claim messages: endpoint %s: %w", ep.ID, err)
			}
			out = append(out, ports.ClaimedMessage{Message: r.message(), URL: ep.URL, Secrets: secrets,
				FailingSince: ep.FailingSince.Time})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func sortMessages(rows []messageRow) {
	for i := 1; i < len(rows); i++ { // insertion sort: claims are small
		for j := i; j > 0 && messageBefore(rows[j], rows[j-1]); j-- {
			rows[j], rows[j-1] = rows[j-1], rows[j]
		}
	}
}

func messageBefore(a, b messageRow) bool {
	if !a.NextAttemptAt.Equal(b.NextAttemptAt.Time) {
		return a.NextAttemptAt.Before(b.NextAttemptAt.Time)
	}
	return a.ID < b.ID
}

// RecordAttempt writes the attempt's log line, the message's new state and
// its endpoint's failure streak in one transaction, if the message is still
// leased to r.Owner.
func (s *Store) RecordAttempt(ctx context.Context, r ports.AttemptRecord) (bool, error) {
	d, a := r.Decision, r.Attempt
	var next, delivered dbTime
	if d.Status == domain.MessagePending {
		next = timeCol(d.NextAttemptAt)
	}
	if d.Status == domain.MessageDelivered {
		delivered = timeCol(a.At)
	}
	recorded := false
	err := s.inWriteTx(ctx, func(tx *sqlx.Tx) error {
		var number int
		err := tx.GetContext(ctx, &number, tx.Rebind(`UPDATE webhook_messages SET status = ?, attempts = attempts + 1,
				retries = ?, next_attempt_at = COALESCE(?, next_attempt_at), lease_owner = '', lease_until = NULL,
				last_error = ?, delivered_at = COALESCE(?, delivered_at)
			WHERE id = ? AND lease_owner = ? RETURNING attempts`),
			string(d.Status), d.Retries, next, a.Error, delivered, a.MessageID, r.Owner)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return nil // the lease went to another sender
		case err != nil:
			return fmt.Errorf("record attempt of %s: %w", a.MessageID, err)
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO webhook_message_attempts
				(message_id, number, endpoint_id, at, status_code, error, latency_us) VALUES (?, ?, ?, ?, ?, ?, ?)`),
			a.MessageID, number, a.EndpointID, timeCol(a.At), a.StatusCode, a.Error, a.Latency.Microseconds()); err != nil {
			return fmt.Errorf("record attempt of %s: %w", a.MessageID, err)
		}
		var update string
		args := []any{}
		if d.EndpointFailing {
			update = "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, ?)"
			args = append(args, timeCol(a.At))
		} else {
			update = "UPDATE webhook_endpoints SET failing_since = NULL"
		}
		if d.DisableEndpoint != "" {
			update += ", enabled = ?, disabled_reason = ?, updated_at = ?"
			args = append(args, false, d.DisableEndpoint, timeCol(a.At))
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(update+" WHERE id = ?"), append(args, a.EndpointID)...); err != nil {
			return fmt.Errorf("record attempt of %s: endpoint: %w", a.MessageID, err)
		}
		recorded = true
		return nil
	})
	return recorded, err
}

// ListMessages returns an endpoint's messages, newest first, each with its
// attempts.
func (s *Store) ListMessages(ctx context.Context, q ports.MessageQuery) ([]ports.MessageLog, error) {
	query := "SELECT " + messageSelect + " FROM webhook_messages WHERE endpoint_id = ?"
	args := []any{q.EndpointID}
	if q.Status != "" {
		if !q.Status.Valid() {
			return nil, &domain.ValidationError{Field: "status", Message: "must be pending, delivered or failed"}
		}
		query += " AND status = ?"
		args = append(args, string(q.Status))
	}
	query += " ORDER BY created_at DESC, id DESC LIMIT ?"
	args = append(args, pageSize(q.Limit))
	var logs []ports.MessageLog
	err := s.inReadTx(ctx, func(tx *sqlx.Tx) error {
		var rows []messageRow
		if err := tx.SelectContext(ctx, &rows, tx.Rebind(query), args...); err != nil {
			return fmt.Errorf("list messages: %w", err)
		}
		var err error
		logs, err = withMessageAttempts(ctx, tx, rows)
		return err
	})
	return logs, err
}

func withMessageAttempts(ctx context.Context, q sqlx.ExtContext, rows []messageRow) ([]ports.MessageLog, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	query, args, err := sqlx.In(`SELECT message_id, number, endpoint_id, at, status_code, error, latency_us
		FROM webhook_message_attempts WHERE message_id IN (?) ORDER BY message_id, number`, ids)
	if err != nil {
		return nil, fmt.Errorf("load attempts: %w", err)
	}
	var attempts []attemptLogRow
	if err := sqlx.SelectContext(ctx, q, &attempts, q.Rebind(query), args...); err != nil {
		return nil, fmt.Errorf("load attempts: %w", err)
	}
	byMessage := map[string][]domain.MessageAttempt{}
	for _, a := range attempts {
		byMessage[a.MessageID] = append(byMessage[a.MessageID], a.attempt())
	}
	out := make([]ports.MessageLog, len(rows))
	for i, r := range rows {
		out[i] = ports.MessageLog{Message: r.message(), Attempts: byMessage[r.ID]}
	}
	return out, nil
}

// ReplayMessage makes the message due at now with a fresh schedule. A lease
// in progress is left alone, so an attempt running now is not doubled.
func (s *Store) ReplayMessage(ctx context.Context, endpointID, messageID string, now time.Time) (ports.MessageLog, error) {
	var out ports.MessageLog
	err := s.inWriteTx(ctx, func(tx *sqlx.Tx) error {
		var rows []messageRow
		if err := tx.SelectContext(ctx, &rows, tx.Rebind(`UPDATE webhook_messages SET status = 'pending', retries = 0,
				next_attempt_at = ? WHERE id = ? AND endpoint_id = ? RETURNING `+messageSelect),
			timeCol(now), messageID, endpointID); err != nil {
			return fmt.Errorf("replay message %s: %w", messageID, err)
		}
		if len(rows) == 0 {
			return fmt.Errorf("message %s of endpoint %s: %w", messageID, endpointID, domain.ErrNotFound)
		}
		logs, err := withMessageAttempts(ctx, tx, rows)
		if err != nil {
			return err
		}
		out = logs[0]
		return nil
	})
	return out, err
}

// OldestPending returns the creation time of the oldest pending message.
func (s *Store) OldestPending(ctx context.Context) (time.Time, error) {
	var at dbTime
	if err := s.reads.GetContext(ctx, &at, "SELECT MIN(created_at) FROM webhook_messages WHERE status = 'pending'"); err != nil {
		return time.Time{}, fmt.Errorf("oldest pending message: %w", err)
	}
	return at.Time, nil
}
