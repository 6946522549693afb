package sqlstore

import (
	"database/sql"
	"strings"

	"contenthub/domain"
)

// taskRow is a row of tasks. Its db tags are the column names.
type taskRow struct {
	ID                 string         `db:"id"`
	AccountID          int64          `db:"account_id"`
	Topic              string         `db:"topic"`
	Keywords           jsonList       `db:"keywords"`
	Category           string         `db:"category"`
	Requirements       string         `db:"requirements"`
	Tone               string         `db:"tone"`
	Priority           int            `db:"priority"`
	AutoApprove        bool           `db:"auto_approve"`
	Status             string         `db:"status"`
	Attempt            int            `db:"attempt"`
	AttemptOpen        bool           `db:"attempt_open"`
	MaxAttempts        int            `db:"max_attempts"`
	NextAttemptAt      dbTime         `db:"next_attempt_at"`
	TimeoutAt          dbTime         `db:"timeout_at"`
	LastHeardAt        dbTime         `db:"last_heard_at"`
	ProgressPercentage int            `db:"progress_percentage"`
	ProgressStage      string         `db:"progress_stage"`
	ProgressMessage    string         `db:"progress_message"`
	ProgressUpdatedAt  dbTime         `db:"progress_updated_at"`
	LastErrorCode      sql.NullString `db:"last_error_code"`
	LastErrorType      sql.NullString `db:"last_error_type"`
	LastErrorMessage   sql.NullString `db:"last_error_message"`
	ContentID          string         `db:"content_id"`
	Late               bool           `db:"late"`
	LeaseOwner         string         `db:"lease_owner"`
	LeaseUntil         dbTime         `db:"lease_until"`
	CreatedAt          dbTime         `db:"created_at"`
	SubmittedAt        dbTime         `db:"submitted_at"`
	StartedAt          dbTime         `db:"started_at"`
	CompletedAt        dbTime         `db:"completed_at"`
	UpdatedAt          dbTime         `db:"updated_at"`
	Version            int64          `db:"version"`
	ScheduleID         string         `db:"schedule_id"`
	RunID              string         `db:"run_id"`
}

// taskColumns lists the columns of taskRow in table order.
var taskColumns = []string{
	"id", "account_id", "topic", "keywords", "category", "requirements", "tone", "priority",
	"auto_approve", "status", "attempt", "attempt_open", "max_attempts", "next_attempt_at",
	"timeout_at", "last_heard_at", "progress_percentage", "progress_stage", "progress_message",
	"progress_updated_at", "last_error_code", "last_error_type", "last_error_message", "content_id",
	"late", "lease_owner", "lease_until", "created_at", "submitted_at", "started_at",
	"completed_at", "updated_at", "version", "schedule_id", "run_id",
}

// taskSelect is the column list of a task read, for SELECT and RETURNING.
var taskSelect = strings.Join(taskColumns, ", ")

func taskRowOf(s domain.TaskSnapshot) taskRow {
	code, typ, msg := errorColumns(s.LastError)
	return taskRow{
		ID: s.ID, AccountID: s.AccountID, Topic: s.Topic, Keywords: s.Keywords,
		Category: s.Category, Requirements: s.Requirements, Tone: s.Tone, Priority: s.Priority,
		AutoApprove: s.AutoApprove, Status: string(s.Status), Attempt: s.Attempt,
		AttemptOpen: s.AttemptOpen, MaxAttempts: s.MaxAttempts,
		NextAttemptAt: timeCol(s.NextAttemptAt), TimeoutAt: timeCol(s.TimeoutAt),
		LastHeardAt:        timeCol(s.LastHeardAt),
		ProgressPercentage: s.Progress.Percentage, ProgressStage: s.Progress.Stage,
		ProgressMessage: s.Progress.Message, ProgressUpdatedAt: timeCol(s.Progress.UpdatedAt),
		LastErrorCode: code, LastErrorType: typ, LastErrorMessage: msg,
		ContentID: s.ContentID, Late: s.Late, LeaseOwner: s.LeaseOwner,
		LeaseUntil: timeCol(s.LeaseUntil), CreatedAt: timeCol(s.CreatedAt),
		SubmittedAt: timeCol(s.SubmittedAt), StartedAt: timeCol(s.StartedAt),
		CompletedAt: timeCol(s.CompletedAt), UpdatedAt: timeCol(s.UpdatedAt), Version: s.Version,
		ScheduleID: s.ScheduleID, RunID: s.RunID,
	}
}

func (r taskRow) task(attempts []domain.Attempt) *domain.Task {
	return domain.RehydrateTask(domain.TaskSnapshot{
		ID: r.ID, AccountID: r.AccountID, Topic: r.Topic, Keywords: r.Keywords,
		Category: r.Category, Requirements: r.Requirements, Tone: r.Tone, Priority: r.Priority,
		AutoApprove: r.AutoApprove, Status: domain.Status(r.Status), Attempt: r.Attempt,
		AttemptOpen: r.AttemptOpen, MaxAttempts: r.MaxAttempts,
		NextAttemptAt: r.NextAttemptAt.Time, TimeoutAt: r.TimeoutAt.Time, LastHeardAt: r.LastHeardAt.Time,
		Progress: domain.Progress{
			Percentage: r.ProgressPercentage, Stage: r.ProgressStage,
			Message: r.ProgressMessage, UpdatedAt: r.ProgressUpdatedAt.Time,
		},
		LastError: taskError(r.LastErrorCode, r.LastErrorType, r.LastErrorMessage),
		ContentID: r.ContentID, Late: r.Late, Attempts: attempts,
		LeaseOwner: r.LeaseOwner, LeaseUntil: r.LeaseUntil.Time,
		CreatedAt: r.CreatedAt.Time, SubmittedAt: r.SubmittedAt.Time, StartedAt: r.StartedAt.Time,
		CompletedAt: r.CompletedAt.Time, UpdatedAt: r.UpdatedAt.Time, Version: r.Version,
		ScheduleID: r.ScheduleID, RunID: r.RunID,
	})
}

// attemptRow is a row of task_attempts.
type attemptRow struct {
	TaskID       string         `db:"task_id"`
	Number       int            `db:"number"`
	ExternalRef  string         `db:"external_ref"`
	TokenHash    string         `db:"token_hash"`
	CallbackURL  string         `db:"callback_url"`
	State        string         `db:"state"`
	ErrorCode    sql.NullString `db:"error_code"`
	ErrorType    sql.NullString `db:"error_type"`
	ErrorMessage sql.NullString `db:"error_message"`
	OpenedAt     dbTime         `db:"opened_at"`
	SubmittedAt  dbTime         `db:"submitted_at"`
	FinishedAt   dbTime         `db:"finished_at"`
}

var attemptColumns = []string{
	"task_id", "number", "external_ref", "token_hash", "callback_url", "state",
	"error_code", "error_type", "error_message", "opened_at", "submitted_at", "finished_at",
}

var attemptSelect = strings.Join(attemptColumns, ", ")

func attemptRowOf(taskID string, a domain.Attempt) attemptRow {
	code, typ, msg := errorColumns(a.Error)
	return attemptRow{
		TaskID: taskID, Number: a.Number, ExternalRef: a.ExternalRef, TokenHash: a.TokenHash,
		CallbackURL: a.CallbackURL, State: string(a.State),
		ErrorCode: code, ErrorType: typ, ErrorMessage: msg,
		OpenedAt: timeCol(a.OpenedAt), SubmittedAt: timeCol(a.SubmittedAt), FinishedAt: timeCol(a.FinishedAt),
	}
}

func (r attemptRow) attempt() domain.Attempt {
	return domain.Attempt{
		Number: r.Number, ExternalRef: r.ExternalRef, TokenHash: r.TokenHash,
		CallbackURL: r.CallbackURL, State: domain.AttemptState(r.State),
		Error:    taskError(r.ErrorCode, r.ErrorType, r.ErrorMessage),
		OpenedAt: r.OpenedAt.Time, SubmittedAt: r.SubmittedAt.Time, FinishedAt: r.FinishedAt.Time,
	}
}

// contentRow is a row of contents.
type contentRow struct {
	ID           string          `db:"id"`
	TaskID       string          `db:"task_id"`
	AccountID    int64           `db:"account_id"`
	Attempt      int             `db:"attempt"`
	Title        string          `db:"title"`
	Summary      string          `db:"summary"`
	Body         string          `db:"body"`
	HTMLContent  string          `db:"html_content"`
	Images       jsonList        `db:"images"`
	CoverImage   string          `db:"cover_image"`
	QualityScore sql.NullFloat64 `db:"quality_score"`
	WordCount    int             `db:"word_count"`
	Metrics      rawText         `db:"metrics"`
	ReviewStatus string          `db:"review_status"`
	Late         bool            `db:"late"`
	CreatedAt    dbTime          `db:"created_at"`
	ReviewedAt   dbTime          `db:"reviewed_at"`
	Reviewer     string          `db:"reviewer"`
	ReviewNote   string          `db:"review_note"`
}

var contentColumns = []string{
	"id", "task_id", "account_id", "attempt", "title", "summary", "body", "html_content", "images",
	"cover_image", "quality_score", "word_count", "metrics", "review_status", "late", "created_at",
	"reviewed_at", "reviewer", "review_note",
}

func contentRowOf(c domain.Content) contentRow {
	r := contentRow{
		ID: c.ID, TaskID: c.TaskID, AccountID: c.AccountID, Attempt: c.Attempt, Title: c.Title,
		Summary: c.Summary, Body: c.Body, HTMLContent: c.HTMLContent, Images: c.Images,
		CoverImage: c.CoverImage, WordCount: c.WordCount, Metrics: c.Metrics,
		ReviewStatus: string(c.ReviewStatus), Late: c.Late, CreatedAt: timeCol(c.CreatedAt),
		ReviewedAt: timeCol(c.ReviewedAt), Reviewer: c.Reviewer, ReviewNote: c.ReviewNote,
	}
	if c.QualityScore != nil {
		r.QualityScore = sql.NullFloat64{Float64: *c.QualityScore, Valid: true}
	}
	return r
}

func (r contentRow) content() domain.Content {
	c := domain.Content{
		ID: r.ID, TaskID: r.TaskID, AccountID: r.AccountID, Attempt: r.Attempt, Title: r.Title,
		Summary: r.Summary, Body: r.Body, HTMLContent: r.HTMLContent, Images: r.Images,
		CoverImage: r.CoverImage, WordCount: r.WordCount, Metrics: r.Metrics,
		ReviewStatus: domain.ReviewStatus(r.ReviewStatus), Late: r.Late, CreatedAt: r.CreatedAt.Time,
		ReviewedAt: r.ReviewedAt.Time, Reviewer: r.Reviewer, ReviewNote: r.ReviewNote,
	}
	if r.QualityScore.Valid {
		q := r.QualityScore.Float64
		c.QualityScore = &q
	}
	return c
}

// poolRow is a row of publish_pool.
type poolRow struct {
	ID             string `db:"id"`
	ContentID      string `db:"content_id"`
	TaskID         string `db:"task_id"`
	AccountID      int64  `db:"account_id"`
	Priority       int    `db:"priority"`
	Status         string `db:"status"`
	ScheduledAt    dbTime `db:"scheduled_at"`
	CreatedAt      dbTime `db:"created_at"`
	AvailableAt    dbTime `db:"available_at"`
	RetryCount     int    `db:"retry_count"`
	MaxRetries     int    `db:"max_retries"`
	ClaimTokenHash string `db:"claim_token_hash"`
	ClaimedAt      dbTime `db:"claimed_at"`
	LeaseExpiresAt dbTime `db:"lease_expires_at"`
	PublishedAt    dbTime `db:"published_at"`
	PublishedURL   string `db:"published_url"`
	PlatformID     string `db:"platform_id"`
	LastError      string `db:"last_error"`
	UpdatedAt      dbTime `db:"updated_at"`
}

var poolColumns = []string{
	"id", "content_id", "task_id", "account_id", "priority", "status", "scheduled_at", "created_at",
	"available_at", "retry_count", "max_retries", "claim_token_hash", "claimed_at", "lease_expires_at",
	"published_at", "published_url", "platform_id", "last_error", "updated_at",
}

var poolSelect = strings.Join(poolColumns, ", ")

func poolRowOf(e domain.PoolEntry) poolRow {
	return poolRow{
		ID: e.ID, ContentID: e.ContentID, TaskID: e.TaskID, AccountID: e.AccountID,
		Priority: e.Priority, Status: string(e.Status),
		ScheduledAt: timeCol(e.ScheduledAt), CreatedAt: timeCol(e.CreatedAt),
		AvailableAt: timeCol(e.AvailableAt), RetryCount: e.RetryCount, MaxRetries: e.MaxRetries,
		ClaimTokenHash: e.ClaimTokenHash, ClaimedAt: timeCol(e.ClaimedAt), LeaseExpiresAt: timeCol(e.LeaseExpiresAt),
		PublishedAt: timeCol(e.PublishedAt), PublishedURL: e.PublishedURL, PlatformID: e.PlatformID,
		LastError: e.LastError, UpdatedAt: timeCol(e.UpdatedAt),
	}
}

func (r poolRow) entry() domain.PoolEntry {
	return domain.PoolEntry{
		ID: r.ID, ContentID: r.ContentID, TaskID: r.TaskID, AccountID: r.AccountID,
		Priority: r.Priority, Status: domain.PoolStatus(r.Status),
		ScheduledAt: r.ScheduledAt.Time, CreatedAt: r.CreatedAt.Time,
		AvailableAt: r.AvailableAt.Time, RetryCount: r.RetryCount, MaxRetries: r.MaxRetries,
		ClaimTokenHash: r.ClaimTokenHash, ClaimedAt: r.ClaimedAt.Time, LeaseExpiresAt: r.LeaseExpiresAt.Time,
		PublishedAt: r.PublishedAt.Time, PublishedURL: r.PublishedURL, PlatformID: r.PlatformID,
		LastError: r.LastError, UpdatedAt: r.UpdatedAt.Time,
	}
}

// deliveryRow is a row of webhook_deliveries, without its serial id.
type deliveryRow struct {
	TaskID     string         `db:"task_id"`
	Attempt    int            `db:"attempt"`
	Event      string         `db:"event"`
	DeliveryID sql.NullString `db:"delivery_id"`
	Scheme     string         `db:"scheme"`
	Outcome    string         `db:"outcome"`
	Reason     string         `db:"reason"`
	HTTPStatus int            `db:"http_status"`
	RequestID  string         `db:"request_id"`
	ReceivedAt dbTime         `db:"received_at"`
	SentAt     dbTime         `db:"sent_at"`
}

var deliveryColumns = []string{
	"task_id", "attempt", "event", "delivery_id", "scheme", "outcome", "reason", "http_status",
	"request_id", "received_at", "sent_at",
}

var deliverySelect = strings.Join(deliveryColumns, ", ")

func deliveryRowOf(d domain.Delivery) deliveryRow {
	return deliveryRow{
		TaskID: d.TaskID, Attempt: d.Attempt, Event: d.Event,
		// An empty id is NULL: unauthenticated deliveries never collide.
		DeliveryID: sql.NullString{String: d.DeliveryID, Valid: d.DeliveryID != ""},
		Scheme:     d.Scheme, Outcome: string(d.Outcome), Reason: d.Reason, HTTPStatus: d.HTTPStatus,
		RequestID: d.RequestID, ReceivedAt: timeCol(d.ReceivedAt), SentAt: timeCol(d.SentAt),
	}
}

func (r deliveryRow) delivery() domain.Delivery {
	return domain.Delivery{
		TaskID: r.TaskID, Attempt: r.Attempt, Event: r.Event, DeliveryID: r.DeliveryID.String,
		Scheme: r.Scheme, Outcome: domain.DeliveryOutcome(r.Outcome), Reason: r.Reason,
		HTTPStatus: r.HTTPStatus, RequestID: r.RequestID,
		ReceivedAt: r.ReceivedAt.Time, SentAt: r.SentAt.Time,
	}
}
