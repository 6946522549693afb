package application

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"contenthub/domain"
	"contenthub/ports"
)

// Runs hears how supervised content-creator runs end (a CLI child's exit,
// the HTTP API's answer) and applies the outcome like a callback or a poll:
// through the one transition function, whichever source tells first.
type Runs struct {
	deps   Deps
	wakeup *Wakeup
}

// storageRetry spaces the tries while storage is unavailable, without
// jitter (Delay's fixed half): 1 s, 2 s, 4 s, 8 s, 16 s. After the last of
// storageRetries the reconciler's polling is left to find the outcome.
var storageRetry = domain.Backoff{Base: 2 * time.Second, Max: 32 * time.Second}

const storageRetries = 5

var _ ports.RunObserver = (*Runs)(nil)

// NewRuns builds the run-outcome use case; wakeup is told when a failed run
// leaves a retry due.
func NewRuns(deps Deps, wakeup *Wakeup) *Runs {
	return &Runs{deps: deps, wakeup: wakeup}
}

// RunEnded applies a run's outcome. It retries while storage is unavailable;
// it never fails the caller, which has nothing better to do with the outcome.
func (u *Runs) RunEnded(ctx context.Context, o ports.RunOutcome) {
	log := u.deps.Log.With(zap.String("task_id", o.TaskID), zap.Int("attempt", o.Attempt),
		zap.String("external_ref", o.ExternalRef), zap.String("source", string(o.Source)))
	// The id the run reports (the one the CLI printed, the API's answer
	// named) is the attempt's external ref from now on: content-creator may
	// run a job under an id of its own (issue #19).
	ev := domain.Event{Source: o.Source, Attempt: o.Attempt, At: o.At, ExternalRef: o.ExternalRef}
	switch o.Phase {
	case ports.PhaseCompleted:
		ev.Kind, ev.Result = domain.EventCompleted, o.Result
		ev.IDs = domain.CompletionIDs{ContentID: u.deps.IDs.NewID("content"), PoolEntryID: u.deps.IDs.NewID("pool")}
	case ports.PhaseFailed:
		ev.Kind, ev.Error, ev.Permanent = domain.EventFailed, o.Error, o.Permanent
	default:
		log.Warn("run ended without an outcome to apply", zap.String("phase", string(o.Phase)))
		return
	}
	if ev.At.IsZero() {
		ev.At = u.deps.now()
	}
	for try := 0; ; try++ {
		out, _, err := u.deps.applyEvent(ctx, o.TaskID, ev, nil)
		switch {
		case err == nil:
			fields := []zap.Field{zap.String("event", string(ev.Kind)), zap.String("to", string(out.To))}
			if !out.Changed {
				fields = append(fields, zap.String("ignored", out.Reason))
			}
			log.Info("content-creator run ended", fields...)
			if out.Retrying {
				u.wakeup.Notify()
			}
			return
		case errors.Is(err, domain.ErrNotFound), errors.Is(err, domain.ErrConflict):
			log.Warn("run outcome not applicable", zap.Error(err))
			return
		case try == storageRetries || ctx.Err() != nil:
			log.Warn("run outcome not recorded; polling will find it", zap.Error(err))
			return
		}
		select {
		case <-time.After(storageRetry.Delay(try+1, 0)):
		case <-ctx.Done():
		}
	}
}
