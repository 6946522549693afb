package ports

//go:generate go tool mockgen -typed -source=creator.go -destination=mocks/creator.go -package=mocks

import (
	"context"
	"errors"
	"time"

	"contenthub/domain"
)

// ErrCreatorUnknownTask means content-creator does not know the id asked about.
var ErrCreatorUnknownTask = errors.New("content-creator does not know this task")

// How a submission can fail besides a plain error (a plain error means
// content-creator certainly did not take the attempt and a retry may work).
// The meaning is the domain's; see domain.SubmitOutcomeOf.
var (
	// ErrSubmitRefused: content-creator refused the request itself (a usage
	// error, an HTTP 4xx); the same request would be refused again.
	ErrSubmitRefused = domain.ErrSubmitRefused
	// ErrSubmitOutcomeUnknown: the submission timed out or its connection
	// dropped after the request left; content-creator may be running it.
	ErrSubmitOutcomeUnknown = domain.ErrSubmitOutcomeUnknown
)

// SubmitRequest is one attempt handed to content-creator.
type SubmitRequest struct {
	TaskID      string
	Attempt     int
	ExternalRef string // the id content-creator will know the attempt by
	domain.Brief
	CallbackURL string // with the attempt's token; never logged
	// Trace is the submission's trace context, set by the tracing decorator.
	Trace TraceContext
}

// SubmitResult is content-creator's answer to a submission.
type SubmitResult struct {
	ExternalRef string // the id it reports, when it reports one
	// Running, when not nil, is closed once the run this process supervises
	// for the submission (a CLI child, an HTTP request held open) has ended;
	// until then the run takes one of CREATOR_MAX_CONCURRENCY's slots. Its
	// outcome goes to the RunObserver.
	Running <-chan struct{}
}

// CreatorPhase is content-creator's state reduced to what the service needs.
type CreatorPhase string

const (
	PhaseRunning   CreatorPhase = "running" // pending, queued, submitted, running, waiting, processing
	PhaseCompleted CreatorPhase = "completed"
	PhaseFailed    CreatorPhase = "failed"
	PhaseCancelled CreatorPhase = "cancelled"
	PhaseUnknown   CreatorPhase = "unknown" // an answer the service could not map
)

// CreatorStatus is a status query's answer.
type CreatorStatus struct {
	Phase    CreatorPhase
	Raw      string // the state as content-creator named it
	Progress *domain.ProgressReport
	Error    domain.TaskError
	// UpdatedAt is when content-creator last changed the run, as it reports
	// it (its updatedAt); zero when the answer carries none. A run whose
	// progress and update time stay the same is not advancing (§14).
	UpdatedAt time.Time
}

// LiveRuns says whether this process holds a live run for an attempt: a CLI
// child it supervises, an HTTP request it holds open. Such a run is watched
// by its own supervision (its end is reported to the RunObserver), so the
// reconciler never declares it lost (SERVICE.md §14); a run of an earlier
// process, or whose request was dropped, has nothing live here.
type LiveRuns interface {
	Live(externalRef string) bool
}

// ContentCreator runs the external generator.
type ContentCreator interface {
	Submit(ctx context.Context, req SubmitRequest) (SubmitResult, error)
	Status(ctx context.Context, externalRef string) (CreatorStatus, error)
	Result(ctx context.Context, externalRef string) (domain.Result, error)
	Cancel(ctx context.Context, externalRef string) error
}

// RunOutcome is how a supervised run ended: the CLI child exited, or
// content-creator's HTTP API answered the submission it ran.
type RunOutcome struct {
	TaskID      string
	Attempt     int
	ExternalRef string
	Source      domain.Source // domain.SourceProcessExit or domain.SourceCreatorAnswer
	Phase       CreatorPhase  // PhaseCompleted or PhaseFailed
	Result      domain.Result // PhaseCompleted
	Error       domain.TaskError
	Permanent   bool      // the failure would recur on every retry (a usage error)
	At          time.Time // when the outcome arrived
}

// RunObserver hears how supervised runs end; the application implements it
// and feeds the outcome through the one transition function.
type RunObserver interface {
	RunEnded(ctx context.Context, o RunOutcome)
}

// CreatorProber checks that content-creator can be reached without
// submitting anything (the API's health answer, the CLI's help run): the
// circuit breaker's probe (SERVICE.md §14).
type CreatorProber interface {
	Probe(ctx context.Context) error
}

// CreatorHealthStatus is whether content-creator is reachable.
type CreatorHealthStatus string

const (
	CreatorUp            CreatorHealthStatus = "up"      // a submission or a probe reached it
	CreatorDown          CreatorHealthStatus = "down"    // the breaker is open
	CreatorHealthUnknown CreatorHealthStatus = "unknown" // neither yet
)

// CreatorHealthReporter says whether content-creator can be reached: the
// dispatcher opens no attempt while it reports CreatorDown, the health route
// and the metrics show it.
type CreatorHealthReporter interface {
	Health() CreatorHealth
}

// CreatorHealth is the snapshot GET /api/v1/content/health shows as creator.
type CreatorHealth struct {
	Status    CreatorHealthStatus
	Since     time.Time // when it entered Status; zero while unknown
	LastError string    // the last failure to reach it, "" if none
}
