package domain

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Limits and defaults of scheduled generation (§12).
const (
	MaxScheduleNameRunes   = 200
	MinCountPerAccount     = 1
	MaxCountPerAccount     = 50
	MaxScheduleTopics      = 1000
	MaxScheduleAccounts    = 100
	DefaultScheduleZone    = "UTC"
	DefaultScheduleMisfire = MisfireRunOnce
)

// ErrRunExists is the answer of storage when a run for the same schedule and
// fire time was created first (by another replica, or before a restart): the
// exactly-once guard of §12. Whoever gets it lost a race and does nothing.
var ErrRunExists = errors.New("a run for this fire time exists")

// Cron is a parsed recurrence in its time zone. Next returns the first fire
// time strictly after after, or the zero time when there is none. It is the
// shape of River's PeriodicSchedule, so the domain does not depend on a cron
// library; adapters parse.
type Cron interface {
	Next(after time.Time) time.Time
}

// Misfire says what a schedule does about fire times that passed while no
// scheduler ran.
type Misfire string

const (
	MisfireRunOnce Misfire = "run_once" // one catch_up run for all of them
	MisfireSkip    Misfire = "skip"     // none
)

// Valid reports whether m is a known misfire policy.
func (m Misfire) Valid() bool { return m == MisfireRunOnce || m == MisfireSkip }

// RunTrigger says why a run was made.
type RunTrigger string

const (
	TriggerCron    RunTrigger = "cron"     // a fire time that came while a scheduler ran
	TriggerManual  RunTrigger = "manual"   // POST …/trigger
	TriggerCatchUp RunTrigger = "catch_up" // fire times missed during downtime, misfire run_once
)

// RunStatus is how a run ended: its tasks all created, or none.
type RunStatus string

const (
	RunCreated RunStatus = "created"
	RunFailed  RunStatus = "failed"
)

// ScheduleTopic is one entry of a schedule's topic list: what a task made
// from it asks for.
type ScheduleTopic struct {
	Topic        string
	Keywords     []string
	Requirements string
	Tone         string
	Category     string
}

// ScheduleRun is what one fire time produced. TaskIDs are in creation order:
// per account (in the schedule's account order), count_per_account each.
type ScheduleRun struct {
	ID             string
	ScheduleID     string
	FireTime       time.Time
	Trigger        RunTrigger
	Status         RunStatus
	Error          string // why a failed run created nothing
	TaskIDs        []string
	AccountStats   map[int64]int // tasks submitted per account
	TotalSubmitted int
	CreatedAt      time.Time
}

// Schedule is a recurring request for articles: on each fire time of its
// cron (in its zone) it creates count_per_account tasks per account, taking
// topics in rotation. Its fields change only through its methods.
type Schedule struct {
	id              string
	name            string
	cron            string
	timezone        string
	accountIDs      []int64
	countPerAccount int
	topics          []ScheduleTopic
	priority        int
	autoApprove     bool
	maxRetries      int
	enabled         bool
	misfire         Misfire

	topicCursor int       // index of the topic the next run starts with
	nextRunAt   time.Time // the next fire time not yet handled; zero while paused or when the cron is exhausted
	lastRunID   string

	createdAt time.Time
	updatedAt time.Time
	version   int64
}

// ScheduleParams is a client's definition of a schedule; zero values take
// the defaults of §12.
type ScheduleParams struct {
	ID              string
	Name            string
	Cron            string
	Timezone        string // "" → UTC
	AccountIDs      []int64
	CountPerAccount int
	Topics          []ScheduleTopic
	Priority        int   // 0 → DefaultPriority
	AutoApprove     *bool // nil → true
	MaxRetries      *int  // nil → DefaultMaxRetries
	Enabled         *bool // nil → true
	Misfire         Misfire
}

// NewSchedule validates a definition. cron is its cron expression parsed in
// its zone (by an adapter); a cron that never fires after now is refused.
func NewSchedule(p ScheduleParams, cron Cron, now time.Time) (*Schedule, error) {
	if !ValidTaskID(p.ID) {
		return nil, invalid("id", "must match [A-Za-z0-9_-]{1,100}")
	}
	now = now.UTC()
	s := &Schedule{
		id: p.ID, name: strings.TrimSpace(p.Name), cron: strings.TrimSpace(p.Cron), timezone: p.Timezone,
		accountIDs: append([]int64(nil), p.AccountIDs...), countPerAccount: p.CountPerAccount,
		priority: p.Priority, autoApprove: true, maxRetries: DefaultMaxRetries, enabled: true,
		misfire: p.Misfire, createdAt: now, updatedAt: now, version: 1,
	}
	if s.timezone == "" {
		s.timezone = DefaultScheduleZone
	}
	if s.priority == 0 {
		s.priority = DefaultPriority
	}
	if s.misfire == "" {
		s.misfire = DefaultScheduleMisfire
	}
	if p.AutoApprove != nil {
		s.autoApprove = *p.AutoApprove
	}
	if p.MaxRetries != nil {
		s.maxRetries = *p.MaxRetries
	}
	if p.Enabled != nil {
		s.enabled = *p.Enabled
	}
	topics, err := cleanTopics(p.Topics)
	if err != nil {
		return nil, err
	}
	s.topics = topics
	if err := s.validate(); err != nil {
		return nil, err
	}
	if err := s.reschedule(cron, now); err != nil {
		return nil, err
	}
	return s, nil
}

// validate checks every field but the topics (cleanTopics does) and the cron
// (reschedule does).
func (s *Schedule) validate() error {
	if s.name == "" {
		return invalid("name", "is required")
	}
	if err := maxRunes("name", s.name, MaxScheduleNameRunes); err != nil {
		return err
	}
	if s.cron == "" {
		return invalid("cron", "is required")
	}
	if len(s.accountIDs) == 0 {
		return invalid("account_ids", "at least one account is required")
	}
	if len(s.accountIDs) > MaxScheduleAccounts {
		return invalid("account_ids", "at most %d accounts", MaxScheduleAccounts)
	}
	seen := make(map[int64]bool, len(s.accountIDs))
	for _, id := range s.accountIDs {
		if id <= 0 {
			return invalid("account_ids", "must be positive integers")
		}
		if seen[id] {
			return invalid("account_ids", "account %d is listed twice", id)
		}
		seen[id] = true
	}
	if s.countPerAccount < MinCountPerAccount || s.countPerAccount > MaxCountPerAccount {
		return invalid("count_per_account", "must be between %d and %d", MinCountPerAccount, MaxCountPerAccount)
	}
	if s.priority < MinPriority || s.priority > MaxPriority {
		return invalid("priority", "must be between %d and %d", MinPriority, MaxPriority)
	}
	if s.maxRetries < 0 || s.maxRetries > MaxRetriesLimit {
		return invalid("max_retries", "must be between 0 and %d", MaxRetriesLimit)
	}
	if !s.misfire.Valid() {
		return invalid("misfire", "must be %q or %q", MisfireRunOnce, MisfireSkip)
	}
	return nil
}

// cleanTopics validates the topic list by the task rules of §2, so that a
// run never fails on a topic the schedule accepted.
func cleanTopics(in []ScheduleTopic) ([]ScheduleTopic, error) {
	if len(in) == 0 {
		return nil, invalid("topics", "at least one topic is required")
	}
	if len(in) > MaxScheduleTopics {
		return nil, invalid("topics", "at most %d topics", MaxScheduleTopics)
	}
	out := make([]ScheduleTopic, len(in))
	for i, t := range in {
		field := func(name string) string { return fmt.Sprintf("topics[%d].%s", i, name) }
		c := ScheduleTopic{
			Topic: strings.TrimSpace(t.Topic), Requirements: strings.TrimSpace(t.Requirements),
			Tone: strings.TrimSpace(t.Tone), Category: strings.TrimSpace(t.Category),
		}
		if c.Topic == "" {
			return nil, invalid(field("topic"), "is required")
		}
		for _, check := range []struct {
			name, value string
			limit       int
		}{
			{"topic", c.Topic, MaxTopicRunes}, {"tone", c.Tone, MaxToneRunes},
			{"category", c.Category, MaxCategoryRunes}, {"requirements", c.Requirements, MaxRequirementsRunes},
		} {
			if err := maxRunes(field(check.name), check.value, check.limit); err != nil {
				return nil, err
			}
		}
		keywords, err := cleanKeywords(t.Keywords)
		if err != nil {
			var ve *ValidationError
			if errors.As(err, &ve) {
				ve.Field = field("keywords")
			}
			return nil, err
		}
		c.Keywords = keywords
		out[i] = c
	}
	return out, nil
}

// reschedule points the schedule at its first fire time after now (none
// while paused). A cron that never fires is refused.
func (s *Schedule) reschedule(cron Cron, now time.Time) error {
	next := cron.Next(now)
	if next.IsZero() {
		return invalid("cron", "never fires")
	}
	s.nextRunAt = time.Time{}
	if s.enabled {
		s.nextRunAt = next.UTC()
	}
	return nil
}

// SchedulePatch changes any subset of a schedule's definition; nil fields
// stay as they are.
type SchedulePatch struct {
	Name            *string
	Cron            *string
	Timezone        *string
	AccountIDs      *[]int64
	CountPerAccount *int
	Topics          *[]ScheduleTopic
	Priority        *int
	AutoApprove     *bool
	MaxRetries      *int
	Enabled         *bool
	Misfire         *Misfire
}

// Change applies a patch. cron is the schedule's cron as it will be (parsed
// from the patch's cron and zone, or the current ones). A change of cron,
// zone or a resume starts the schedule afresh from now: fire times during a
// pause are not caught up. A new topic list starts from its first topic.
func (s *Schedule) Change(p SchedulePatch, cron Cron, now time.Time) error {
	next := *s
	next.accountIDs = append([]int64(nil), s.accountIDs...)
	restart := false
	if p.Name != nil {
		next.name = strings.TrimSpace(*p.Name)
	}
	if p.Cron != nil {
		next.cron = strings.TrimSpace(*p.Cron)
		restart = true
	}
	if p.Timezone != nil {
		next.timezone = *p.Timezone
		if next.timezone == "" {
			next.timezone = DefaultScheduleZone
		}
		restart = true
	}
	if p.AccountIDs != nil {
		next.accountIDs = append([]int64(nil), (*p.AccountIDs)...)
	}
	if p.CountPerAccount != nil {
		next.countPerAccount = *p.CountPerAccount
	}
	if p.Topics != nil {
		topics, err := cleanTopics(*p.Topics)
		if err != nil {
			return err
		}
		next.topics, next.topicCursor = topics, 0
	}
	if p.Priority != nil {
		next.priority = *p.Priority
	}
	if p.AutoApprove != nil {
		next.autoApprove = *p.AutoApprove
	}
	if p.MaxRetries != nil {
		next.maxRetries = *p.MaxRetries
	}
	if p.Enabled != nil {
		restart = restart || *p.Enabled != s.enabled
		next.enabled = *p.Enabled
	}
	if p.Misfire != nil {
		next.misfire = *p.Misfire
	}
	if err := next.validate(); err != nil {
		return err
	}
	if restart {
		if err := next.reschedule(cron, now.UTC()); err != nil {
			return err
		}
	}
	next.updatedAt = now.UTC()
	*s = next
	return nil
}

// Due is what a scheduler is to do with a schedule now.
type Due struct {
	FireTime time.Time  // the run's fire time (for catch_up: the first missed one)
	Trigger  RunTrigger // cron, catch_up or manual
	Skip     bool       // missed fire times under misfire skip: no run, only move on
	Next     time.Time  // the schedule's next fire time once this is handled
}

// Due reports the oldest fire time a scheduler running since startedAt has
// to handle at now, if any. A fire time at or after startedAt came while the
// scheduler ran and is fired as cron, however late; one before it was missed
// (no grace period), and all missed ones are handled at once, by the misfire
// policy, after which the schedule goes on from startedAt.
func (s *Schedule) Due(cron Cron, now, startedAt time.Time) (Due, bool) {
	if !s.enabled || s.nextRunAt.IsZero() || s.nextRunAt.After(now) {
		return Due{}, false
	}
	ft := s.nextRunAt
	if !ft.Before(startedAt) {
		return Due{FireTime: ft, Trigger: TriggerCron, Next: cron.Next(ft).UTC()}, true
	}
	next := cron.Next(startedAt.Add(-time.Nanosecond)).UTC() // the first fire time at or after startedAt
	return Due{FireTime: ft, Trigger: TriggerCatchUp, Skip: s.misfire == MisfireSkip, Next: next}, true
}

// ManualDue is a run fired now, whatever the cron: the schedule's own fire
// times stay as they are.
func (s *Schedule) ManualDue(now time.Time) Due {
	return Due{FireTime: now.UTC(), Trigger: TriggerManual, Next: s.nextRunAt}
}

// FirePlan is what handling a fire time writes, in one transaction: the run
// (nil when skipped), its tasks, and the schedule itself (moved on).
type FirePlan struct {
	Run   *ScheduleRun
	Tasks []*Task
}

// Fire handles due: it makes the run and its tasks, count_per_account per
// account, taking the next count_per_account topics of the list (every
// account the same ones) from where the previous run stopped, wrapping
// around, and moves the schedule on. newID makes ids from a prefix. A task
// the domain refuses makes the whole run failed, with no task (FireFailed).
func (s *Schedule) Fire(due Due, now time.Time, newID func(prefix string) string) FirePlan {
	now = now.UTC()
	if due.Skip {
		s.moveOn(due, "", now)
		return FirePlan{}
	}
	run := s.newRun(due, now, newID)
	window := s.topicWindow()
	tasks := make([]*Task, 0, len(s.accountIDs)*len(window))
	for _, account := range s.accountIDs {
		for _, topic := range window {
			t, err := NewTask(NewTaskParams{
				ID: newID("task"), AccountID: account, Topic: topic.Topic, Keywords: topic.Keywords,
				Category: topic.Category, Requirements: topic.Requirements, Tone: topic.Tone,
				Priority: s.priority, AutoApprove: &s.autoApprove, MaxRetries: &s.maxRetries,
			}, now)
			if err != nil {
				return s.FireFailed(due, now, newID, fmt.Sprintf("task for account %d: %v", account, err))
			}
			t.scheduleID, t.runID = s.id, run.ID
			tasks = append(tasks, t)
			run.TaskIDs = append(run.TaskIDs, t.id)
			run.AccountStats[account]++
		}
	}
	run.TotalSubmitted = len(tasks)
	s.topicCursor = (s.topicCursor + s.countPerAccount) % len(s.topics)
	s.moveOn(due, run.ID, now)
	return FirePlan{Run: run, Tasks: tasks}
}

// FireFailed handles due with a run that created nothing, for reason; the
// topics it would have taken are taken by the next run.
func (s *Schedule) FireFailed(due Due, now time.Time, newID func(prefix string) string, reason string) FirePlan {
	now = now.UTC()
	run := s.newRun(due, now, newID)
	run.Status, run.Error = RunFailed, reason
	s.moveOn(due, run.ID, now)
	return FirePlan{Run: run}
}

func (s *Schedule) newRun(due Due, now time.Time, newID func(string) string) *ScheduleRun {
	return &ScheduleRun{
		ID: newID("run"), ScheduleID: s.id, FireTime: due.FireTime.UTC(), Trigger: due.Trigger,
		Status: RunCreated, AccountStats: map[int64]int{}, CreatedAt: now,
	}
}

func (s *Schedule) moveOn(due Due, runID string, now time.Time) {
	if due.Trigger != TriggerManual {
		s.nextRunAt = due.Next
	}
	if runID != "" {
		s.lastRunID = runID
	}
	s.updatedAt = now
}

// topicWindow is the next count_per_account topics from the cursor, wrapping.
func (s *Schedule) topicWindow() []ScheduleTopic {
	out := make([]ScheduleTopic, s.countPerAccount)
	for i := range out {
		out[i] = s.topics[(s.topicCursor+i)%len(s.topics)]
	}
	return out
}

// ScheduleSnapshot is the flat, persisted form of a schedule (see TaskSnapshot).
type ScheduleSnapshot struct {
	ID              string
	Name            string
	Cron            string
	Timezone        string
	AccountIDs      []int64
	CountPerAccount int
	Topics          []ScheduleTopic
	Priority        int
	AutoApprove     bool
	MaxRetries      int
	Enabled         bool
	Misfire         Misfire
	TopicCursor     int
	NextRunAt       time.Time
	LastRunID       string
	CreatedAt       time.Time
	UpdatedAt       time.Time
	Version         int64
}

// RehydrateSchedule rebuilds a schedule from storage without validation.
func RehydrateSchedule(s ScheduleSnapshot) *Schedule {
	return &Schedule{
		id: s.ID, name: s.Name, cron: s.Cron, timezone: s.Timezone,
		accountIDs: append([]int64(nil), s.AccountIDs...), countPerAccount: s.CountPerAccount,
		topics: copyTopics(s.Topics), priority: s.Priority, autoApprove: s.AutoApprove,
		maxRetries: s.MaxRetries, enabled: s.Enabled, misfire: s.Misfire, topicCursor: s.TopicCursor,
		nextRunAt: s.NextRunAt, lastRunID: s.LastRunID, createdAt: s.CreatedAt, updatedAt: s.UpdatedAt,
		version: s.Version,
	}
}

// Snapshot returns a copy of every field.
func (s *Schedule) Snapshot() ScheduleSnapshot {
	return ScheduleSnapshot{
		ID: s.id, Name: s.name, Cron: s.cron, Timezone: s.timezone,
		AccountIDs: append([]int64(nil), s.accountIDs...), CountPerAccount: s.countPerAccount,
		Topics: copyTopics(s.topics), Priority: s.priority, AutoApprove: s.autoApprove,
		MaxRetries: s.maxRetries, Enabled: s.enabled, Misfire: s.misfire, TopicCursor: s.topicCursor,
		NextRunAt: s.nextRunAt, LastRunID: s.lastRunID, CreatedAt: s.createdAt, UpdatedAt: s.updatedAt,
		Version: s.version,
	}
}

func copyTopics(in []ScheduleTopic) []ScheduleTopic {
	out := make([]ScheduleTopic, len(in))
	for i, t := range in {
		t.Keywords = append([]string(nil), t.Keywords...)
		out[i] = t
	}
	return out
}

func (s *Schedule) ID() string              { return s.id }
func (s *Schedule) Name() string            { return s.name }
func (s *Schedule) Cron() string            { return s.cron }
func (s *Schedule) Timezone() string        { return s.timezone }
func (s *Schedule) AccountIDs() []int64     { return append([]int64(nil), s.accountIDs...) }
func (s *Schedule) CountPerAccount() int    { return s.countPerAccount }
func (s *Schedule) Topics() []ScheduleTopic { return copyTopics(s.topics) }
func (s *Schedule) Priority() int           { return s.priority }
func (s *Schedule) AutoApprove() bool       { return s.autoApprove }
func (s *Schedule) MaxRetries() int         { return s.maxRetries }
func (s *Schedule) Enabled() bool           { return s.enabled }
func (s *Schedule) Misfire() Misfire        { return s.misfire }
func (s *Schedule) TopicCursor() int        { return s.topicCursor }
func (s *Schedule) NextRunAt() time.Time    { return s.nextRunAt }
func (s *Schedule) LastRunID() string       { return s.lastRunID }
func (s *Schedule) CreatedAt() time.Time    { return s.createdAt }
func (s *Schedule) UpdatedAt() time.Time    { return s.updatedAt }
func (s *Schedule) Version() int64          { return s.version }
func (s *Schedule) MarkSaved(version int64) { s.version = version }
func (s *Schedule) TasksPerRun() int        { return s.countPerAccount * len(s.accountIDs) }
