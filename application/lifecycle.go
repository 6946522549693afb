package application

import (
	"go.uber.org/zap"

	"contenthub/domain"
)

// The task-lifecycle log: one info line per change of a task's status or
// attempt, written where every change passes (applied), so that a task's
// life reads as its lines in order, whatever told each change. Progress
// within a status is not a line: the event stream carries it.

// lifecycleSource names an event's source in the log, as an operator calls
// it: a callback, a poll of the reconciler, the end of a supervised run, the
// API, the dispatcher's submission, the circuit breaker.
func lifecycleSource(s domain.Source) string {
	switch s {
	case domain.SourceWebhook:
		return "callback"
	case domain.SourcePoll, domain.SourceRecovery:
		return "poll"
	case domain.SourceProcessExit, domain.SourceCreatorAnswer:
		return "exit"
	case domain.SourceSupervisor:
		return "run"
	case domain.SourceDispatcher:
		return "dispatcher"
	case domain.SourceAPI:
		return "api"
	case "":
		return "unknown"
	}
	return string(s)
}

// lifecycleMessage says in a few words what became of the task.
func lifecycleMessage(out domain.Outcome, created bool) string {
	switch {
	case created:
		return "task created"
	case out.Retrying && out.From.Terminal():
		return "task retried"
	case out.Retrying:
		return "task attempt failed, retry scheduled"
	}
	switch out.To {
	case domain.StatusSubmitted:
		return "task submitted"
	case domain.StatusProcessing:
		return "task processing"
	case domain.StatusCompleted:
		if out.Late {
			return "task completed late"
		}
		return "task completed"
	case domain.StatusFailed:
		return "task failed"
	case domain.StatusTimeout:
		return "task timed out"
	case domain.StatusCancelled:
		return "task cancelled"
	}
	return "task changed"
}

// lifecycleReason is why the change happened: the attempt's error when it
// failed, otherwise what the event was.
func lifecycleReason(ev domain.Event, t *domain.Task, out domain.Outcome) string {
	switch {
	case ev.Kind == domain.EventFailed, ev.Kind == domain.EventDeadline, ev.Kind == domain.EventLost, out.InvalidResult:
		if e, ok := t.LastError(); ok {
			return e.String()
		}
	case ev.Kind == domain.EventSubmitted && ev.Unconfirmed:
		return "submission outcome unknown; the attempt stays open"
	case ev.Kind == domain.EventSubmitted:
		return "accepted by content-creator"
	case ev.Kind == domain.EventProgress && ev.Progress.Stage != "":
		return "progress: " + ev.Progress.Stage
	case ev.Kind == domain.EventCancel:
		return "cancel requested"
	case ev.Kind == domain.EventRetry:
		return "retry requested"
	}
	return string(ev.Kind)
}

// logLifecycle writes the line of a committed change, if it changed the
// task's status or attempt.
func (d Deps) logLifecycle(ev domain.Event, t *domain.Task, out domain.Outcome) {
	created := out.From == ""
	if !created && out.From == out.To && !out.Retrying {
		return
	}
	attempt := t.Attempt()
	if out.Retrying {
		attempt-- // the line is about the attempt that ended
	}
	fields := []zap.Field{
		zap.String("task_id", t.ID()), zap.Int("attempt", attempt),
		zap.String("from", string(out.From)), zap.String("to", string(out.To)),
		zap.String("reason", lifecycleReason(ev, t, out)), zap.String("source", lifecycleSource(ev.Source)),
	}
	if created {
		fields[2] = zap.String("from", "")
		fields[4] = zap.String("reason", "created")
	}
	if out.Retrying {
		fields = append(fields, zap.Int("next_attempt", t.Attempt()), zap.Time("next_attempt_at", t.NextAttemptAt()))
	}
	if ref := t.ExternalRef(); ref != "" && !out.Retrying {
		fields = append(fields, zap.String("external_ref", ref))
	}
	d.lifecycleLog().Info(lifecycleMessage(out, created), fields...)
}

func (d Deps) lifecycleLog() *zap.Logger {
	if d.Lifecycle != nil {
		return d.Lifecycle
	}
	return d.Log
}
