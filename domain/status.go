package domain

// Status is where a task stands.
type Status string

const (
	StatusPending    Status = "pending"
	StatusSubmitted  Status = "submitted"
	StatusProcessing Status = "processing"
	StatusCompleted  Status = "completed"
	StatusFailed     Status = "failed"
	StatusTimeout    Status = "timeout"
	StatusCancelled  Status = "cancelled"
)

// Statuses lists every status, in lifecycle order.
var Statuses = []Status{
	StatusPending, StatusSubmitted, StatusProcessing,
	StatusCompleted, StatusFailed, StatusTimeout, StatusCancelled,
}

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool {
	for _, known := range Statuses {
		if s == known {
			return true
		}
	}
	return false
}

// Terminal reports whether no further work happens without an explicit retry.
func (s Status) Terminal() bool {
	switch s {
	case StatusCompleted, StatusFailed, StatusTimeout, StatusCancelled:
		return true
	}
	return false
}

// Active reports whether content-creator is (or may be) working on the task.
func (s Status) Active() bool { return s == StatusSubmitted || s == StatusProcessing }
