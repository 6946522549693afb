package domain

import "errors"

// How a submission to content-creator can end. The meaning is three-way plus
// the ordinary failure, and every adapter and use case must agree on it:
//
//   - accepted (no error): content-creator runs the attempt;
//   - refused (ErrSubmitRefused): it refused the request itself (a usage
//     error, an HTTP 4xx); the same request would be refused again;
//   - unknown (ErrSubmitOutcomeUnknown): the submission timed out or its
//     connection dropped after the request left; it may be running it;
//   - failed (any other error): it certainly did not take the attempt and a
//     retry may work.
var (
	ErrSubmitRefused        = errors.New("content-creator refused the submission")
	ErrSubmitOutcomeUnknown = errors.New("the outcome of the submission is unknown")
	// ErrCreatorUnavailable: the service has stopped calling content-creator
	// for a while (the circuit breaker of SERVICE.md §14 is open); nothing
	// was sent, so the attempt is not spent.
	ErrCreatorUnavailable = errors.New("content-creator is unavailable")
)

// SubmitOutcome is a submission's error reduced to its meaning.
type SubmitOutcome int

const (
	SubmissionAccepted SubmitOutcome = iota
	SubmissionRefused
	SubmissionUnknown
	SubmissionFailed
	// SubmissionNotSent: the service did not send it (ErrCreatorUnavailable).
	SubmissionNotSent
)

func (o SubmitOutcome) String() string {
	switch o {
	case SubmissionAccepted:
		return "accepted"
	case SubmissionRefused:
		return "refused"
	case SubmissionUnknown:
		return "unknown"
	case SubmissionFailed:
		return "failed"
	case SubmissionNotSent:
		return "not sent"
	}
	return "invalid"
}

// SubmitOutcomeOf classifies what Submit returned. Unknown wins over
// refused when an error says both: assuming it may run is the safe reading.
func SubmitOutcomeOf(err error) SubmitOutcome {
	switch {
	case err == nil:
		return SubmissionAccepted
	case errors.Is(err, ErrSubmitOutcomeUnknown):
		return SubmissionUnknown
	case errors.Is(err, ErrSubmitRefused):
		return SubmissionRefused
	case errors.Is(err, ErrCreatorUnavailable):
		return SubmissionNotSent
	}
	return SubmissionFailed
}

// The codes of the errors an attempt can end with on content-creator's side.
// They are stored (tasks.last_error) and served (the API's error.code), so
// their values never change.
const (
	CodeSubmitRefused    = "SUBMIT_REFUSED"
	CodeSubmitFailed     = "SUBMIT_FAILED"
	CodeCreatorError     = "CREATOR_ERROR"
	CodeCreatorBadOutput = "CREATOR_BAD_OUTPUT"
	CodeCreatorCrashed   = "CREATOR_CRASHED"
	CodeUnknownToCreator = "UNKNOWN_TO_CREATOR"
	CodeCreatorLost      = "CREATOR_LOST"
)

// The types that go with them; ErrorTypeExecution is content-creator's own
// (it sends no code).
const (
	ErrorTypeSubmitRefused  = "submit_refused"
	ErrorTypeSubmitFailed   = "submit_error"
	ErrorTypeCreatorError   = "creator_error"
	ErrorTypeBadOutput      = "bad_output"
	ErrorTypeCrashed        = "crashed"
	ErrorTypeLostSubmission = "lost_submission"
	ErrorTypeExecution      = "execution_error"
	ErrorTypeLostRun        = "lost_run"
)

// SubmitRefused: content-creator refused the request (its validation, a
// usage error); a retry would be refused again.
func SubmitRefused(message string) TaskError {
	return TaskError{Code: CodeSubmitRefused, Type: ErrorTypeSubmitRefused, Message: message}
}

// SubmitFailed: the submission failed before content-creator took it.
func SubmitFailed(message string) TaskError {
	return TaskError{Code: CodeSubmitFailed, Type: ErrorTypeSubmitFailed, Message: message}
}

// CreatorError: content-creator answered with a server error.
func CreatorError(message string) TaskError {
	return TaskError{Code: CodeCreatorError, Type: ErrorTypeCreatorError, Message: message}
}

// CreatorBadOutput: content-creator answered, but not with anything the
// service can read.
func CreatorBadOutput(message string) TaskError {
	return TaskError{Code: CodeCreatorBadOutput, Type: ErrorTypeBadOutput, Message: message}
}

// CreatorCrashed: the supervised content-creator process died.
func CreatorCrashed(message string) TaskError {
	return TaskError{Code: CodeCreatorCrashed, Type: ErrorTypeCrashed, Message: message}
}

// UnknownToCreator: content-creator does not know an attempt the service
// submitted; it was lost.
func UnknownToCreator(message string) TaskError {
	return TaskError{Code: CodeUnknownToCreator, Type: ErrorTypeLostSubmission, Message: message}
}

// CreatorLost: content-creator reports the attempt running, but it has not
// advanced for the stall timeout and nothing of this service runs it any
// more (SERVICE.md §14): the run is lost.
func CreatorLost(message string) TaskError {
	return TaskError{Code: CodeCreatorLost, Type: ErrorTypeLostRun, Message: message}
}

// CreatorExecutionFailed: content-creator ran the attempt and reports it
// failed, in its own words (it sends no code).
func CreatorExecutionFailed(message string) TaskError {
	return TaskError{Type: ErrorTypeExecution, Message: message}
}
