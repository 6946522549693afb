package ports

//go:generate go tool mockgen -typed -source=schedules.go -destination=mocks/schedules.go -package=mocks

import (
	"context"
	"time"

	"contenthub/domain"
)

// CronParser turns a schedule's cron expression and zone into its fire times.
type CronParser interface {
	// Parse fails with a *domain.ValidationError naming "cron" or "timezone".
	Parse(expr, zone string) (domain.Cron, error)
}

// ScheduleItem is a schedule as people read it: with its latest run.
type ScheduleItem struct {
	Schedule *domain.Schedule
	LastRun  *domain.ScheduleRun // nil before the first run
}

// FireFunc plans a fire time from the schedule as stored (locked for the
// transaction). A zero plan with ok=false writes nothing.
type FireFunc func(s *domain.Schedule) (plan domain.FirePlan, ok bool, err error)

// ScheduleStore keeps schedules (§12) and their runs.
type ScheduleStore interface {
	// CreateSchedule stores a new schedule.
	CreateSchedule(ctx context.Context, s *domain.Schedule) error
	// GetSchedule returns a schedule with its last run, or domain.ErrNotFound.
	GetSchedule(ctx context.Context, id string) (ScheduleItem, error)
	// ListSchedules returns every schedule with its last run, oldest first.
	ListSchedules(ctx context.Context) ([]ScheduleItem, error)
	// UpdateSchedule loads a schedule (locked), lets fn change it and writes
	// it back (compare-and-set on its version); fn's error rolls back and is
	// returned as is.
	UpdateSchedule(ctx context.Context, id string, fn func(s *domain.Schedule) error) (*domain.Schedule, error)
	// DeleteSchedule removes a schedule and its runs (its tasks stay), or
	// fails with domain.ErrNotFound.
	DeleteSchedule(ctx context.Context, id string) error
	// FireSchedule loads a schedule (locked), lets fn plan, and writes the
	// plan in one transaction: the run, its tasks, and the schedule moved on.
	// A run whose (schedule, fire time) exists fails with
	// domain.ErrRunExists and writes nothing; so does a task that cannot be
	// inserted (with its error). The schedule as written is returned.
	FireSchedule(ctx context.Context, id string, fn FireFunc) (*domain.Schedule, error)
	// ListRuns returns a schedule's runs, newest first, at most limit.
	ListRuns(ctx context.Context, scheduleID string, limit int) ([]domain.ScheduleRun, error)
	// DueSchedules returns the ids of enabled schedules whose next fire time
	// is at or before now, earliest first.
	DueSchedules(ctx context.Context, now time.Time) ([]string, error)
	// NextFireTime returns the earliest next fire time of enabled schedules,
	// zero when there is none.
	NextFireTime(ctx context.Context) (time.Time, error)
}
