package ports

//go:generate go tool mockgen -typed -source=events.go -destination=mocks/events.go -package=mocks

import (
	"context"
	"time"

	"contenthub/domain"
)

// TaskEvent is a change pushed to subscribers (SSE).
type TaskEvent struct {
	Sequence   int64 // set by the publisher: increasing per process, or across replicas where the adapter shares a sequence (PostgreSQL)
	TaskID     string
	AccountID  int64
	Status     domain.Status
	Attempt    int
	Progress   domain.Progress
	ContentID  string
	ScheduleID string // set when a schedule's run created the task (§12)
	RunID      string
	At         time.Time
}

// EventPublisher announces task changes, across replicas where the adapter can.
type EventPublisher interface {
	Publish(ctx context.Context, e TaskEvent) error
}

// EventFilter selects the events a subscriber wants; zero values match all.
type EventFilter struct {
	TaskID    string
	AccountID int64
}

// EventSubscriber delivers published events until ctx ends.
type EventSubscriber interface {
	Subscribe(ctx context.Context, f EventFilter) (<-chan TaskEvent, error)
}
