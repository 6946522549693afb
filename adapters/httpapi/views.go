package httpapi

import (
	"encoding/json"
	"time"

	"contenthub/domain"
	"contenthub/ports"
)

// timeOrNil renders a zero time as null.
func timeOrNil(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339Nano)
	return &s
}

type errorView struct {
	Code    string `json:"code,omitempty"`
	Type    string `json:"type,omitempty"`
	Message string `json:"message,omitempty"`
	Text    string `json:"text"`
}

func errorViewOf(e *domain.TaskError) *errorView {
	if e == nil {
		return nil
	}
	return &errorView{Code: e.Code, Type: e.Type, Message: e.Message, Text: e.String()}
}

type progressView struct {
	Percentage int     `json:"percentage"`
	Stage      string  `json:"stage"`
	Message    string  `json:"message"`
	UpdatedAt  *string `json:"updated_at"`
}

// progressViewOf renders a task's progress. Only a task at work has a live
// stage: an ended one shows how far it got and, once completed, "completed",
// never the stage it was at when it failed, timed out or was cancelled (§14).
func progressViewOf(status domain.Status, p domain.Progress) progressView {
	v := progressView{Percentage: p.Percentage, Stage: p.Stage, Message: p.Message, UpdatedAt: timeOrNil(p.UpdatedAt)}
	if status.Terminal() && status != domain.StatusCompleted {
		v.Stage, v.Message = "", ""
	}
	return v
}

type attemptView struct {
	Number      int        `json:"number"`
	ExternalRef string     `json:"external_ref"`
	State       string     `json:"state"`
	CallbackURL string     `json:"callback_url,omitempty"`
	Error       *errorView `json:"error"`
	OpenedAt    *string    `json:"opened_at"`
	SubmittedAt *string    `json:"submitted_at"`
	FinishedAt  *string    `json:"finished_at"`
}

// taskView is the API's task representation. It never shows a callback token.
type taskView struct {
	TaskID        string        `json:"task_id"`
	AccountID     int64         `json:"account_id"`
	Topic         string        `json:"topic"`
	Keywords      []string      `json:"keywords"`
	Category      string        `json:"category"`
	Requirements  string        `json:"requirements"`
	Tone          string        `json:"tone"`
	Priority      int           `json:"priority"`
	AutoApprove   bool          `json:"auto_approve"`
	Status        string        `json:"status"`
	Attempt       int           `json:"attempt"`
	MaxAttempts   int           `json:"max_attempts"`
	NextAttemptAt *string       `json:"next_attempt_at"`
	TimeoutAt     *string       `json:"timeout_at"`
	Late          bool          `json:"late"`
	Progress      progressView  `json:"progress"`
	LastError     *errorView    `json:"last_error"`
	ContentID     *string       `json:"content_id"`
	ScheduleID    *string       `json:"schedule_id"`
	RunID         *string       `json:"run_id"`
	ExternalRef   *string       `json:"external_ref"`
	CallbackURL   *string       `json:"callback_url"`
	Attempts      []attemptView `json:"attempts"`
	CreatedAt     *string       `json:"created_at"`
	SubmittedAt   *string       `json:"submitted_at"`
	StartedAt     *string       `json:"started_at"`
	CompletedAt   *string       `json:"completed_at"`
	UpdatedAt     *string       `json:"updated_at"`
	Version       int64         `json:"version"`
	// WaitingReason says why a due task is held back (§11); null once it
	// runs, or when nothing holds it. NotBefore: when the account's rate
	// window lets it open (account_rate_limited only).
	WaitingReason *string `json:"waiting_reason"`
	NotBefore     *string `json:"not_before"`
}

// waitingFields renders a waiting reason as the views carry it.
func waitingFields(w domain.Waiting) (reason, notBefore *string) {
	return stringOrNil(string(w.Reason)), timeOrNil(w.NotBefore)
}

func stringOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func taskViewOf(t *domain.Task) taskView {
	s := t.Snapshot()
	v := taskView{
		TaskID: s.ID, AccountID: s.AccountID, Topic: s.Topic, Keywords: s.Keywords, Category: s.Category,
		Requirements: s.Requirements, Tone: s.Tone, Priority: s.Priority, AutoApprove: s.AutoApprove,
		Status: string(s.Status), Attempt: s.Attempt, MaxAttempts: s.MaxAttempts,
		Late: s.Late, Progress: progressViewOf(s.Status, s.Progress),
		LastError: errorViewOf(s.LastError), ContentID: stringOrNil(s.ContentID),
		ScheduleID: stringOrNil(s.ScheduleID), RunID: stringOrNil(s.RunID),
		Attempts:  make([]attemptView, 0, len(s.Attempts)),
		CreatedAt: timeOrNil(s.CreatedAt), SubmittedAt: timeOrNil(s.SubmittedAt), StartedAt: timeOrNil(s.StartedAt),
		CompletedAt: timeOrNil(s.CompletedAt), UpdatedAt: timeOrNil(s.UpdatedAt), Version: s.Version,
	}
	if v.Keywords == nil {
		v.Keywords = []string{}
	}
	if s.Status == domain.StatusPending {
		v.NextAttemptAt = timeOrNil(s.NextAttemptAt)
	}
	if !s.Status.Terminal() {
		// An ended task has no deadline left; its attempts keep their times.
		v.TimeoutAt = timeOrNil(s.TimeoutAt)
	}
	for _, a := range s.Attempts {
		v.Attempts = append(v.Attempts, attemptView{
			Number: a.Number, ExternalRef: a.ExternalRef, State: string(a.State), CallbackURL: a.CallbackURL,
			Error: errorViewOf(a.Error), OpenedAt: timeOrNil(a.OpenedAt), SubmittedAt: timeOrNil(a.SubmittedAt),
			FinishedAt: timeOrNil(a.FinishedAt),
		})
		if a.Number == s.Attempt {
			v.ExternalRef, v.CallbackURL = stringOrNil(a.ExternalRef), stringOrNil(a.CallbackURL)
		}
	}
	return v
}

type contentView struct {
	ContentID    string          `json:"content_id"`
	TaskID       string          `json:"task_id"`
	AccountID    int64           `json:"account_id"`
	Attempt      int             `json:"attempt"`
	Title        string          `json:"title"`
	Summary      string          `json:"summary"`
	Content      string          `json:"content"`
	HTMLContent  string          `json:"html_content"`
	Images       []string        `json:"images"`
	CoverImage   *string         `json:"cover_image"`
	QualityScore *float64        `json:"quality_score"`
	WordCount    int             `json:"word_count"`
	Metrics      json.RawMessage `json:"metrics,omitempty"`
	ReviewStatus string          `json:"review_status"`
	ReviewedAt   *string         `json:"reviewed_at"`
	Reviewer     *string         `json:"reviewer"`
	ReviewNote   *string         `json:"review_note"`
	PoolEntryID  *string         `json:"pool_entry_id"`
	Late         bool            `json:"late"`
	CreatedAt    *string         `json:"created_at"`
}

func contentViewOf(c domain.Content) contentView {
	v := contentView{
		ContentID: c.ID, TaskID: c.TaskID, AccountID: c.AccountID, Attempt: c.Attempt, Title: c.Title,
		Summary: c.Summary, Content: c.Body, HTMLContent: c.HTMLContent, Images: c.Images,
		CoverImage: stringOrNil(c.CoverImage), QualityScore: c.QualityScore, WordCount: c.WordCount,
		ReviewStatus: string(c.ReviewStatus), ReviewedAt: timeOrNil(c.ReviewedAt), Reviewer: stringOrNil(c.Reviewer),
		ReviewNote: stringOrNil(c.ReviewNote), PoolEntryID: stringOrNil(c.PoolEntryID),
		Late: c.Late, CreatedAt: timeOrNil(c.CreatedAt),
	}
	if v.Images == nil {
		v.Images = []string{}
	}
	if json.Valid(c.Metrics) {
		v.Metrics = c.Metrics
	}
	return v
}

type poolEntryView struct {
	ID             string  `json:"id"`
	Title          string  `json:"title,omitempty"`
	ContentID      string  `json:"content_id"`
	TaskID         string  `json:"task_id"`
	AccountID      int64   `json:"account_id"`
	Priority       int     `json:"priority"`
	Status         string  `json:"status"`
	ScheduledAt    *string `json:"scheduled_at"`
	AvailableAt    *string `json:"available_at"`
	RetryCount     int     `json:"retry_count"`
	MaxRetries     int     `json:"max_retries"`
	ClaimedAt      *string `json:"claimed_at"`
	LeaseExpiresAt *string `json:"lease_expires_at"`
	PublishedAt    *string `json:"published_at"`
	URL            *string `json:"url"`
	PlatformID     *string `json:"platform_id"`
	LastError      *string `json:"last_error"`
	CreatedAt      *string `json:"created_at"`
	UpdatedAt      *string `json:"updated_at"`
}

func poolEntryViewOf(item ports.PoolItem) poolEntryView {
	p := item.Entry
	return poolEntryView{
		ID: p.ID, Title: item.Title, ContentID: p.ContentID, TaskID: p.TaskID, AccountID: p.AccountID, Priority: p.Priority,
		Status: string(p.Status), ScheduledAt: timeOrNil(p.ScheduledAt), AvailableAt: timeOrNil(p.AvailableAt),
		RetryCount: p.RetryCount, MaxRetries: p.MaxRetries, ClaimedAt: timeOrNil(p.ClaimedAt),
		LeaseExpiresAt: timeOrNil(p.LeaseExpiresAt), PublishedAt: timeOrNil(p.PublishedAt),
		URL: stringOrNil(p.PublishedURL), PlatformID: stringOrNil(p.PlatformID), LastError: stringOrNil(p.LastError),
		CreatedAt: timeOrNil(p.CreatedAt), UpdatedAt: timeOrNil(p.UpdatedAt),
	}
}

// claimedEntryView is an entry as its claimer gets it: with the token that
// proves the claim, shown this once.
type claimedEntryView struct {
	poolEntryView
	ClaimToken string `json:"claim_token"`
}

type deliveryView struct {
	Attempt    int     `json:"attempt"`
	Event      string  `json:"event"`
	DeliveryID string  `json:"delivery_id,omitempty"`
	Scheme     string  `json:"scheme"`
	Outcome    string  `json:"outcome"`
	Reason     string  `json:"reason,omitempty"`
	HTTPStatus int     `json:"http_status"`
	RequestID  string  `json:"request_id"`
	ReceivedAt *string `json:"received_at"`
	SentAt     *string `json:"sent_at"`
}

func deliveryViewOf(d domain.Delivery) deliveryView {
	return deliveryView{
		Attempt: d.Attempt, Event: d.Event, DeliveryID: d.DeliveryID, Scheme: d.Scheme, Outcome: string(d.Outcome),
		Reason: d.Reason, HTTPStatus: d.HTTPStatus, RequestID: d.RequestID,
		ReceivedAt: timeOrNil(d.ReceivedAt), SentAt: timeOrNil(d.SentAt),
	}
}

// creatorHealthBody is the content health route's creator field (§14).
type creatorHealthBody struct {
	Status    string  `json:"status"`
	Since     *string `json:"since"`
	LastError *string `json:"last_error"`
}

func creatorHealthView(h ports.CreatorHealthReporter) creatorHealthBody {
	if h == nil {
		return creatorHealthBody{Status: string(ports.CreatorHealthUnknown)}
	}
	snap := h.Health()
	body := creatorHealthBody{Status: string(snap.Status), Since: timeOrNil(snap.Since)}
	if snap.LastError != "" {
		body.LastError = &snap.LastError
	}
	return body
}
