package domain_test

import (
	"errors"
	"fmt"
	"testing"

	"contenthub/domain"
)

// The codes and types are stored and served: these are their wire values.
func TestCreatorErrorsKeepTheirWireValues(t *testing.T) {
	for _, tc := range []struct {
		got       domain.TaskError
		code, typ string
	}{
		{domain.SubmitRefused("m"), "SUBMIT_REFUSED", "submit_refused"},
		{domain.SubmitFailed("m"), "SUBMIT_FAILED", "submit_error"},
		{domain.CreatorError("m"), "CREATOR_ERROR", "creator_error"},
		{domain.CreatorBadOutput("m"), "CREATOR_BAD_OUTPUT", "bad_output"},
		{domain.CreatorCrashed("m"), "CREATOR_CRASHED", "crashed"},
		{domain.UnknownToCreator("m"), "UNKNOWN_TO_CREATOR", "lost_submission"},
		{domain.CreatorLost("m"), "CREATOR_LOST", "lost_run"},
		{domain.CreatorExecutionFailed("m"), "", "execution_error"},
	} {
		want := domain.TaskError{Code: tc.code, Type: tc.typ, Message: "m"}
		if tc.got != want {
			t.Errorf("got %+v, want %+v", tc.got, want)
		}
	}
}

func TestSubmitOutcomeOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want domain.SubmitOutcome
	}{
		{nil, domain.SubmissionAccepted},
		{fmt.Errorf("create: %w", domain.ErrSubmitRefused), domain.SubmissionRefused},
		{fmt.Errorf("create: %w", domain.ErrSubmitOutcomeUnknown), domain.SubmissionUnknown},
		{fmt.Errorf("create: %w: %w", domain.ErrSubmitRefused, domain.ErrSubmitOutcomeUnknown), domain.SubmissionUnknown},
		{fmt.Errorf("create: %w", domain.ErrCreatorUnavailable), domain.SubmissionNotSent},
		{errors.New("connection refused"), domain.SubmissionFailed},
	} {
		if got := domain.SubmitOutcomeOf(tc.err); got != tc.want {
			t.Errorf("SubmitOutcomeOf(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}
