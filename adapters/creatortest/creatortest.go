// Package creatortest is the contract every ports.ContentCreator keeps, as one
// suite run against each adapter (the shape of River's riverdrivertest):
//
//	creatortest.Exercise(t, func(t *testing.T, s creatortest.Scenario) creatortest.Harness { … })
//
// For each scenario the adapter's test builds a fresh adapter and makes the
// content-creator behind it (the bundled simulator, a fake CLI, a fake HTTP
// server) behave as the scenario says. An adapter that genuinely cannot
// produce a scenario says why in Harness.Unsupported, and that case is
// skipped with the reason: never a silent pass.
//
// What it checks: the submission outcomes and their meaning
// (domain.SubmitOutcomeOf: accepted, refused, unknown, a plain failure),
// status through a run's life, the result of a completed run, and cancel.
package creatortest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"contenthub/domain"
	"contenthub/ports"
)

// Scenario is how content-creator behaves for the submission a case makes.
type Scenario int

const (
	// Completes: it takes the submission and the run completes with an
	// article.
	Completes Scenario = iota
	// Fails: it takes the submission and the run fails (its own execution
	// error; a retry may succeed).
	Fails
	// Refuses: it refuses the request itself (a usage or validation error).
	Refuses
	// Unknown: it cannot be told whether it took the submission (the
	// submission timed out, or its connection dropped after it left).
	Unknown
	// Unreachable: it cannot be reached at all (nothing to run, nothing
	// listening): it certainly did not take the submission.
	Unreachable
	// Hangs: it takes the submission and runs until cancelled.
	Hangs
)

func (s Scenario) String() string {
	return [...]string{"completes", "fails", "refuses", "unknown", "unreachable", "hangs"}[s]
}

// Harness is one adapter set up for one scenario.
type Harness struct {
	Creator ports.ContentCreator
	// Ended hears the runs the adapter supervises (a CLI child, an HTTP
	// request held open) through its ports.RunObserver; nil for an adapter
	// that supervises none (content-creator runs the task on its own).
	Ended <-chan ports.RunOutcome
	// CancelRecorded: after Cancel, content-creator's status says the run
	// was cancelled. False where cancelling is only letting go of the run
	// (killing the published CLI's sync child leaves its row as it was).
	CancelRecorded bool
	// Unsupported, when not empty, is why the adapter cannot produce the
	// scenario: the case is skipped with that reason.
	Unsupported string
}

// Outcomes is a ports.RunObserver for harnesses: it hands each outcome to
// the suite.
type Outcomes chan ports.RunOutcome

// NewOutcomes returns an observer with room for the outcomes of one case.
func NewOutcomes() Outcomes { return make(Outcomes, 16) }

// RunEnded implements ports.RunObserver.
func (o Outcomes) RunEnded(_ context.Context, out ports.RunOutcome) { o <- out }

// Wait bounds how long the suite waits for a run to end or a status to
// change; it is no assertion on speed, only a guard against a hung test.
const Wait = 60 * time.Second

// Request is the attempt a case submits: a real-sized brief, a callback URL
// with its token, ref as the external ref.
func Request(ref string) ports.SubmitRequest {
	task, _, _ := strings.Cut(ref, "-1")
	return ports.SubmitRequest{TaskID: task, Attempt: 1, ExternalRef: ref, Brief: domain.Brief{
		Topic:          "边缘计算入门",
		Requirements:   "写一篇面向开发者的科普文章，介绍边缘计算的概念、典型场景与落地挑战，配两张示意图",
		TargetAudience: "开发者", Tone: "专业", Keywords: []string{"edge", "iot"}, Priority: 5,
	}, CallbackURL: "http://127.0.0.1:9/api/v1/content/callback/" + task + "?token=tok_contract_secret"}
}

// Exercise runs the contract against the adapter newHarness builds.
func Exercise(t *testing.T, newHarness func(t *testing.T, s Scenario) Harness) {
	t.Helper()
	setUp := func(t *testing.T, s Scenario) Harness {
		t.Helper()
		h := newHarness(t, s)
		if h.Unsupported != "" {
			t.Skipf("%s cannot be produced by this adapter: %s", s, h.Unsupported)
		}
		if h.Creator == nil {
			t.Fatalf("the harness for %s has no creator", s)
		}
		return h
	}

	t.Run("accepted: the run completes and its article is the result", func(t *testing.T) {
		h := setUp(t, Completes)
		req := Request("task-ok-1")
		res, err := h.Creator.Submit(t.Context(), req)
		requireOutcome(t, domain.SubmissionAccepted, err)
		if res.ExternalRef != req.ExternalRef {
			t.Fatalf("content-creator knows the attempt as %q, want the ref it was given, %q", res.ExternalRef, req.ExternalRef)
		}
		var reported *ports.RunOutcome
		if h.Ended != nil {
			out := next(t, h.Ended)
			requireSameAttempt(t, req, out)
			if out.Phase != ports.PhaseCompleted || out.Result.Content == "" {
				t.Fatalf("the supervised run ended %s with %d bytes of article (error %q), want completed with one",
					out.Phase, len(out.Result.Content), out.Error.String())
			}
			reported = &out
		}
		waitRunning(t, res)
		st := settle(t, h.Creator, req.ExternalRef)
		if st.Phase != ports.PhaseCompleted {
			t.Fatalf("status %s (%q), want completed", st.Phase, st.Raw)
		}
		got, err := h.Creator.Result(t.Context(), req.ExternalRef)
		if err != nil {
			t.Fatalf("result of a completed run: %v", err)
		}
		if !strings.Contains(got.Content, "边缘计算") {
			t.Fatalf("result %q… is not an article on the topic", clip(got.Content))
		}
		if reported != nil && strings.TrimSpace(got.Content) != strings.TrimSpace(reported.Result.Content) {
			t.Fatalf("result and the run's own answer differ:\nresult %q…\nanswer %q…", clip(got.Content), clip(reported.Result.Content))
		}
	})

	t.Run("accepted: a failed run is failed, with its reason, and retryable", func(t *testing.T) {
		h := setUp(t, Fails)
		req := Request("task-fail-1")
		res, err := h.Creator.Submit(t.Context(), req)
		requireOutcome(t, domain.SubmissionAccepted, err)
		if h.Ended != nil {
			out := next(t, h.Ended)
			requireSameAttempt(t, req, out)
			switch {
			case out.Phase != ports.PhaseFailed:
				t.Fatalf("the supervised run ended %s, want failed", out.Phase)
			case out.Permanent:
				t.Fatalf("a failed generation is not permanent: %q", out.Error.String())
			case out.Error.Message == "":
				t.Fatalf("the failure says nothing: %+v", out.Error)
			case out.Error.Code == domain.CodeSubmitRefused:
				t.Fatalf("a failed run is no refusal: %+v", out.Error)
			}
		}
		waitRunning(t, res)
		st := settle(t, h.Creator, req.ExternalRef)
		if st.Phase != ports.PhaseFailed || st.Error.Message == "" {
			t.Fatalf("status %s (%q) error %q, want failed with a reason", st.Phase, st.Raw, st.Error.String())
		}
	})

	t.Run("refused: never retried", func(t *testing.T) {
		h := setUp(t, Refuses)
		req := Request("task-refused-1")
		res, err := h.Creator.Submit(t.Context(), req)
		switch got := domain.SubmitOutcomeOf(err); got {
		case domain.SubmissionRefused:
			// Refused at once; a run that never started reports nothing.
			if h.Ended != nil {
				requireNothingReported(t, h.Ended)
			}
		case domain.SubmissionAccepted:
			// Refused by the run it started (the published CLI exits with
			// a usage error): its end says so, for good.
			if h.Ended == nil {
				t.Fatal("accepted a submission content-creator refuses, and supervises no run that could say so")
			}
			out := next(t, h.Ended)
			requireSameAttempt(t, req, out)
			if out.Phase != ports.PhaseFailed || !out.Permanent || out.Error.Code != domain.CodeSubmitRefused {
				t.Fatalf("the refused run ended %s permanent=%v error %q, want a permanent %s",
					out.Phase, out.Permanent, out.Error.String(), domain.CodeSubmitRefused)
			}
			waitRunning(t, res)
		default:
			t.Fatalf("a refusal reads as %s: %v", got, err)
		}
	})

	t.Run("unknown: the attempt may be running", func(t *testing.T) {
		h := setUp(t, Unknown)
		_, err := h.Creator.Submit(t.Context(), Request("task-unknown-1"))
		requireOutcome(t, domain.SubmissionUnknown, err)
		if !errors.Is(err, ports.ErrSubmitOutcomeUnknown) {
			t.Fatalf("want ports.ErrSubmitOutcomeUnknown in %v", err)
		}
	})

	t.Run("unreachable: a plain failure, certainly not taken", func(t *testing.T) {
		h := setUp(t, Unreachable)
		_, err := h.Creator.Submit(t.Context(), Request("task-down-1"))
		requireOutcome(t, domain.SubmissionFailed, err)
		if h.Ended != nil {
			requireNothingReported(t, h.Ended)
		}
	})

	t.Run("status of an id it never took: unknown task", func(t *testing.T) {
		h := setUp(t, Completes)
		_, err := h.Creator.Status(t.Context(), "task-never-1")
		if !errors.Is(err, ports.ErrCreatorUnknownTask) {
			t.Fatalf("status of an id never submitted: %v, want ports.ErrCreatorUnknownTask", err)
		}
	})

	t.Run("cancel: a running attempt is stopped and reports nothing", func(t *testing.T) {
		h := setUp(t, Hangs)
		req := Request("task-cancel-1")
		res, err := h.Creator.Submit(t.Context(), req)
		requireOutcome(t, domain.SubmissionAccepted, err)
		st, err := h.Creator.Status(t.Context(), req.ExternalRef)
		if err != nil || st.Phase != ports.PhaseRunning {
			t.Fatalf("status of a running attempt: %s (%q), %v; want running", st.Phase, st.Raw, err)
		}
		if err := h.Creator.Cancel(t.Context(), req.ExternalRef); err != nil {
			t.Fatalf("cancel: %v", err)
		}
		waitRunning(t, res)
		if h.Ended != nil {
			// Running closes only after the outcome, if any, was reported.
			requireNothingReported(t, h.Ended)
		}
		if h.CancelRecorded {
			if st := settle(t, h.Creator, req.ExternalRef); st.Phase != ports.PhaseCancelled {
				t.Fatalf("status after cancel: %s (%q), want cancelled", st.Phase, st.Raw)
			}
		}
	})
}

func requireOutcome(t *testing.T, want domain.SubmitOutcome, err error) {
	t.Helper()
	if got := domain.SubmitOutcomeOf(err); got != want {
		t.Fatalf("submission %s (%v), want %s", got, err, want)
	}
}

func requireSameAttempt(t *testing.T, req ports.SubmitRequest, out ports.RunOutcome) {
	t.Helper()
	if out.TaskID != req.TaskID || out.Attempt != req.Attempt || out.ExternalRef != req.ExternalRef {
		t.Fatalf("outcome for %s/%d/%s, want %s/%d/%s", out.TaskID, out.Attempt, out.ExternalRef,
			req.TaskID, req.Attempt, req.ExternalRef)
	}
	if out.At.IsZero() {
		t.Fatal("the outcome has no time")
	}
}

func requireNothingReported(t *testing.T, ended <-chan ports.RunOutcome) {
	t.Helper()
	select {
	case out := <-ended:
		t.Fatalf("an outcome was reported: %+v", out)
	default:
	}
}

func next(t *testing.T, ended <-chan ports.RunOutcome) ports.RunOutcome {
	t.Helper()
	select {
	case out := <-ended:
		return out
	case <-time.After(Wait):
		t.Fatal("the supervised run's end was not reported")
		return ports.RunOutcome{}
	}
}

// waitRunning waits for a supervised run to let go of its slot.
func waitRunning(t *testing.T, res ports.SubmitResult) {
	t.Helper()
	if res.Running == nil {
		return
	}
	select {
	case <-res.Running:
	case <-time.After(Wait):
		t.Fatal("the run still holds its slot")
	}
}

// settle asks for the status until it is no longer running.
func settle(t *testing.T, c ports.ContentCreator, ref string) ports.CreatorStatus {
	t.Helper()
	deadline := time.Now().Add(Wait)
	for {
		st, err := c.Status(t.Context(), ref)
		if err != nil {
			t.Fatalf("status: %v", err)
		}
		if st.Phase != ports.PhaseRunning {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("still running after %s", Wait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func clip(s string) string {
	r := []rune(s)
	return string(r[:min(len(r), 60)])
}
