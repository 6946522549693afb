package domain

import (
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits and defaults of §2.
const (
	MaxTopicRunes        = 500
	MaxToneRunes         = 50
	MaxCategoryRunes     = 100
	MaxRequirementsRunes = 5000
	MaxKeywords          = 50
	MaxKeywordRunes      = 100
	MinPriority          = 1
	MaxPriority          = 10
	DefaultPriority      = 5
	DefaultMaxRetries    = 3
	MaxRetriesLimit      = 10
)

var taskIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,100}$`)

// ValidTaskID reports whether s may name a task in a lookup. Anything else is
// answered as unknown without touching storage.
func ValidTaskID(s string) bool { return taskIDPattern.MatchString(s) }

// Progress is the last progress report of the current attempt.
type Progress struct {
	Percentage int
	Stage      string
	Message    string
	UpdatedAt  time.Time
}

// TaskError is what went wrong with an attempt. Code, Type and Message are all
// optional parts; content-creator sends no code.
type TaskError struct {
	Code    string
	Type    string
	Message string
}

// String renders the error as "[code] type: message", leaving out absent parts.
func (e TaskError) String() string {
	var b strings.Builder
	if e.Code != "" {
		b.WriteString("[" + e.Code + "]")
	}
	if e.Type != "" {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(e.Type)
	}
	if e.Message != "" {
		if b.Len() > 0 {
			if e.Type != "" {
				b.WriteString(": ")
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteString(e.Message)
	}
	return b.String()
}

// IsZero reports whether nothing is known about the error.
func (e TaskError) IsZero() bool { return e == TaskError{} }

// Task is the aggregate: one article request and every attempt to fulfil it.
// Its fields change only through Apply.
type Task struct {
	id           string
	accountID    int64
	topic        string
	keywords     []string
	category     string
	requirements string
	tone         string
	priority     int
	autoApprove  bool

	status        Status
	attempt       int
	attemptOpen   bool
	maxAttempts   int
	nextAttemptAt time.Time
	timeoutAt     time.Time
	lastHeardAt   time.Time
	progress      Progress
	lastError     *TaskError
	contentID     string
	late          bool
	attempts      []Attempt

	leaseOwner string
	leaseUntil time.Time

	scheduleID string // the schedule whose run created the task, if any (§12)
	runID      string

	createdAt   time.Time
	submittedAt time.Time
	startedAt   time.Time
	completedAt time.Time
	updatedAt   time.Time
	version     int64
}

// NewTaskParams is what a client asks for; zero values take the defaults of §2.
type NewTaskParams struct {
	ID           string
	AccountID    int64
	Topic        string
	Keywords     []string
	Category     string
	Requirements string
	Tone         string
	Priority     int   // 0 → DefaultPriority
	AutoApprove  *bool // nil → true
	MaxRetries   *int  // nil → DefaultMaxRetries
}

// NewTask validates a request and returns a pending task whose first attempt
// is due at once.
func NewTask(p NewTaskParams, now time.Time) (*Task, error) {
	if !ValidTaskID(p.ID) {
		return nil, invalid("id", "must match [A-Za-z0-9_-]{1,100}")
	}
	if p.AccountID <= 0 {
		return nil, invalid("account_id", "must be a positive integer")
	}
	topic := strings.TrimSpace(p.Topic)
	if topic == "" {
		return nil, invalid("topic", "is required")
	}
	if err := maxRunes("topic", topic, MaxTopicRunes); err != nil {
		return nil, err
	}
	tone := strings.TrimSpace(p.Tone)
	if err := maxRunes("tone", tone, MaxToneRunes); err != nil {
		return nil, err
	}
	category := strings.TrimSpace(p.Category)
	if err := maxRunes("category", category, MaxCategoryRunes); err != nil {
		return nil, err
	}
	requirements := strings.TrimSpace(p.Requirements)
	if err := maxRunes("requirements", requirements, MaxRequirementsRunes); err != nil {
		return nil, err
	}
	keywords, err := cleanKeywords(p.Keywords)
	if err != nil {
		return nil, err
	}
	priority := p.Priority
	if priority == 0 {
		priority = DefaultPriority
	}
	if priority < MinPriority || priority > MaxPriority {
		return nil, invalid("priority", "must be between %d and %d", MinPriority, MaxPriority)
	}
	autoApprove := true
	if p.AutoApprove != nil {
		autoApprove = *p.AutoApprove
	}
	retries := DefaultMaxRetries
	if p.MaxRetries != nil {
		retries = *p.MaxRetries
	}
	if retries < 0 || retries > MaxRetriesLimit {
		return nil, invalid("max_retries", "must be between 0 and %d", MaxRetriesLimit)
	}
	now = now.UTC()
	return &Task{
		id:            p.ID,
		accountID:     p.AccountID,
		topic:         topic,
		keywords:      keywords,
		category:      category,
		requirements:  requirements,
		tone:          tone,
		priority:      priority,
		autoApprove:   autoApprove,
		status:        StatusPending,
		attempt:       1,
		maxAttempts:   1 + retries,
		nextAttemptAt: now,
		createdAt:     now,
		updatedAt:     now,
		version:       1,
	}, nil
}

func maxRunes(field, s string, limit int) error {
	if strings.ContainsRune(s, 0) {
		return invalid(field, "must not contain NUL characters")
	}
	if utf8.RuneCountInString(s) > limit {
		return invalid(field, "must be at most %d characters", limit)
	}
	return nil
}

func cleanKeywords(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, k := range in {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		if err := maxRunes("keywords", k, MaxKeywordRunes); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	if len(out) > MaxKeywords {
		return nil, invalid("keywords", "at most %d keywords", MaxKeywords)
	}
	return out, nil
}

// SplitKeywords accepts the "a,b" string form of the keywords field.
func SplitKeywords(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// TaskSnapshot is the flat, persisted form of a task. Adapters read it with
// Snapshot and turn stored rows back into a Task with RehydrateTask; nothing
// else should build one.
type TaskSnapshot struct {
	ID            string
	AccountID     int64
	Topic         string
	Keywords      []string
	Category      string
	Requirements  string
	Tone          string
	Priority      int
	AutoApprove   bool
	Status        Status
	Attempt       int
	AttemptOpen   bool
	MaxAttempts   int
	NextAttemptAt time.Time
	TimeoutAt     time.Time
	LastHeardAt   time.Time
	Progress      Progress
	LastError     *TaskError
	ContentID     string
	Late          bool
	Attempts      []Attempt
	LeaseOwner    string
	LeaseUntil    time.Time
	ScheduleID    string
	RunID         string
	CreatedAt     time.Time
	SubmittedAt   time.Time
	StartedAt     time.Time
	CompletedAt   time.Time
	UpdatedAt     time.Time
	Version       int64
}

// RehydrateTask rebuilds a task from storage without validation: stored rows
// were valid when written.
func RehydrateTask(s TaskSnapshot) *Task {
	t := &Task{
		id: s.ID, accountID: s.AccountID, topic: s.Topic, keywords: append([]string(nil), s.Keywords...),
		category: s.Category, requirements: s.Requirements, tone: s.Tone, priority: s.Priority,
		autoApprove: s.AutoApprove, status: s.Status, attempt: s.Attempt, attemptOpen: s.AttemptOpen,
		maxAttempts: s.MaxAttempts, nextAttemptAt: s.NextAttemptAt, timeoutAt: s.TimeoutAt,
		lastHeardAt: s.LastHeardAt, progress: s.Progress, contentID: s.ContentID, late: s.Late,
		attempts: append([]Attempt(nil), s.Attempts...), leaseOwner: s.LeaseOwner, leaseUntil: s.LeaseUntil,
		scheduleID: s.ScheduleID, runID: s.RunID, createdAt: s.CreatedAt, submittedAt: s.SubmittedAt, startedAt: s.StartedAt,
		completedAt: s.CompletedAt, updatedAt: s.UpdatedAt, version: s.Version,
	}
	if s.LastError != nil {
		e := *s.LastError
		t.lastError = &e
	}
	return t
}

// Snapshot returns a copy of every field, for persistence and read models.
func (t *Task) Snapshot() TaskSnapshot {
	s := TaskSnapshot{
		ID: t.id, AccountID: t.accountID, Topic: t.topic, Keywords: append([]string(nil), t.keywords...),
		Category: t.category, Requirements: t.requirements, Tone: t.tone, Priority: t.priority,
		AutoApprove: t.autoApprove, Status: t.status, Attempt: t.attempt, AttemptOpen: t.attemptOpen,
		MaxAttempts: t.maxAttempts, NextAttemptAt: t.nextAttemptAt, TimeoutAt: t.timeoutAt,
		LastHeardAt: t.lastHeardAt, Progress: t.progress, ContentID: t.contentID, Late: t.late,
		Attempts: append([]Attempt(nil), t.attempts...), LeaseOwner: t.leaseOwner, LeaseUntil: t.leaseUntil,
		ScheduleID: t.scheduleID, RunID: t.runID, CreatedAt: t.createdAt, SubmittedAt: t.submittedAt, StartedAt: t.startedAt,
		CompletedAt: t.completedAt, UpdatedAt: t.updatedAt, Version: t.version,
	}
	if t.lastError != nil {
		e := *t.lastError
		s.LastError = &e
	}
	return s
}

func (t *Task) ID() string               { return t.id }
func (t *Task) AccountID() int64         { return t.accountID }
func (t *Task) Topic() string            { return t.topic }
func (t *Task) Keywords() []string       { return append([]string(nil), t.keywords...) }
func (t *Task) Category() string         { return t.category }
func (t *Task) Requirements() string     { return t.requirements }
func (t *Task) Tone() string             { return t.tone }
func (t *Task) Priority() int            { return t.priority }
func (t *Task) AutoApprove() bool        { return t.autoApprove }
func (t *Task) Status() Status           { return t.status }
func (t *Task) Attempt() int             { return t.attempt }
func (t *Task) AttemptOpen() bool        { return t.attemptOpen }
func (t *Task) MaxAttempts() int         { return t.maxAttempts }
func (t *Task) NextAttemptAt() time.Time { return t.nextAttemptAt }
func (t *Task) TimeoutAt() time.Time     { return t.timeoutAt }
func (t *Task) LastHeardAt() time.Time   { return t.lastHeardAt }
func (t *Task) Progress() Progress       { return t.progress }
func (t *Task) ContentID() string        { return t.contentID }
func (t *Task) Late() bool               { return t.late }
func (t *Task) LeaseOwner() string       { return t.leaseOwner }
func (t *Task) LeaseUntil() time.Time    { return t.leaseUntil }
func (t *Task) ScheduleID() string       { return t.scheduleID }
func (t *Task) RunID() string            { return t.runID }
func (t *Task) CreatedAt() time.Time     { return t.createdAt }
func (t *Task) SubmittedAt() time.Time   { return t.submittedAt }
func (t *Task) StartedAt() time.Time     { return t.startedAt }
func (t *Task) CompletedAt() time.Time   { return t.completedAt }
func (t *Task) UpdatedAt() time.Time     { return t.updatedAt }
func (t *Task) Version() int64           { return t.version }

// LastError returns the error of the latest failed attempt, if any.
func (t *Task) LastError() (TaskError, bool) {
	if t.lastError == nil {
		return TaskError{}, false
	}
	return *t.lastError, true
}

// Attempts returns the attempt history, oldest first.
func (t *Task) Attempts() []Attempt { return append([]Attempt(nil), t.attempts...) }

// CurrentAttempt returns the record of the open (or last) attempt.
func (t *Task) CurrentAttempt() (Attempt, bool) {
	for i := len(t.attempts) - 1; i >= 0; i-- {
		if t.attempts[i].Number == t.attempt {
			return t.attempts[i], true
		}
	}
	return Attempt{}, false
}

// AttemptByRef finds the attempt content-creator knows by ref.
func (t *Task) AttemptByRef(ref string) (Attempt, bool) {
	for _, a := range t.attempts {
		if a.ExternalRef == ref {
			return a, true
		}
	}
	return Attempt{}, false
}

// KnowsRef reports whether ref names this task: its own id or one of its
// attempts' external refs. A body naming anything else was not meant for it.
func (t *Task) KnowsRef(ref string) bool {
	if ref == t.id {
		return true
	}
	_, ok := t.AttemptByRef(ref)
	return ok
}

// AttemptsLeft reports whether a failure of the current attempt can be retried.
func (t *Task) AttemptsLeft() bool { return t.attempt < t.maxAttempts }

// HasOpenWork reports whether content-creator may be running an attempt.
func (t *Task) HasOpenWork() bool {
	return t.status.Active() || (t.status == StatusPending && t.attemptOpen)
}

// ExternalRef is the id content-creator knows the current attempt by.
func (t *Task) ExternalRef() string {
	if a, ok := t.CurrentAttempt(); ok {
		return a.ExternalRef
	}
	return ""
}

// Lease marks the task as claimed by owner until the given time; claims are
// made by storage (SKIP LOCKED) and mirrored here so a save keeps them.
func (t *Task) Lease(owner string, until time.Time) {
	t.leaseOwner, t.leaseUntil = owner, until.UTC()
}

// MarkSaved records that storage wrote this task at the given version.
func (t *Task) MarkSaved(version int64) { t.version = version }
