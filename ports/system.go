package ports

//go:generate go tool mockgen -typed -source=system.go -destination=mocks/system.go -package=mocks

import "time"

// Clock tells the time; tests control it.
type Clock interface {
	Now() time.Time
}

// IDGenerator makes identifiers and secrets.
type IDGenerator interface {
	// NewID returns prefix + "-" + at least 96 random bits, URL-safe.
	NewID(prefix string) string
	// NewToken returns 32 random bytes, base64url without padding.
	NewToken() string
	// Jitter returns a random number in [0, 1) for backoff.
	Jitter() float64
}

// Metrics records what the application does; adapters export it.
type Metrics interface {
	CallbackHandled(event, outcome string, took time.Duration)
	NotificationDelay(d time.Duration)
	TaskTransition(from, to string)
	RunnerExecuted(command, outcome string, took time.Duration)
	ReconcilerRun(checked, repaired, unknown int)
}
