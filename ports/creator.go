package ports

//go:generate go tool mockgen -typed -source=creator.go -destination=mocks/creator.go -package=mocks

import (
	"context"
	"errors"

	"contenthub/domain"
)

// ErrCreatorUnknownTask means content-creator does not know the id asked about.
var ErrCreatorUnknownTask = errors.New("content-creator does not know this task")

// SubmitRequest is one attempt handed to content-creator.
type SubmitRequest struct {
	ExternalRef  string // the id content-creator will know the attempt by
	Topic        string
	Requirements string
	Tone         string
	Keywords     []string
	CallbackURL  string // with the attempt's token; never logged
}

// SubmitResult is content-creator's answer to a submission.
type SubmitResult struct {
	ExternalRef string // the id it reports, when it reports one
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
}

// ContentCreator runs the external generator.
type ContentCreator interface {
	Submit(ctx context.Context, req SubmitRequest) (SubmitResult, error)
	Status(ctx context.Context, externalRef string) (CreatorStatus, error)
	Result(ctx context.Context, externalRef string) (domain.Result, error)
	Cancel(ctx context.Context, externalRef string) error
}
