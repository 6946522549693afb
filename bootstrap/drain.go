package bootstrap

// Graceful drain at SIGTERM (or Ctrl-C). fx stops the modules in reverse
// start order, and each phase logs one line when it is done:
//
//  1. the signal is logged as it arrives;
//  2. HTTP: the listener closes (no new connections), event streams end, and
//     requests in flight — callbacks above all — finish, for at most
//     SHUTDOWN_TIMEOUT; connections still busy then are closed;
//  3. background loops: the dispatcher claims nothing more and the reconciler
//     polls nothing more; a submission already running finishes, for at most
//     SHUTDOWN_TIMEOUT;
//  4. the event hub and the database close.
//
// Running content-creator children are left running and are not waited for:
// their generation takes minutes and belongs to the task, not to this
// process. Their callbacks reach whichever replica serves the callback URL,
// and when none does, the next replica's reconciler reads their outcome with
// status and result (SERVICE.md §6's polling guarantee). A `create` cut short
// by the process exiting leaves an open attempt, which the reconciler fails
// and retries once the dispatch lease has expired.

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"
)

// signalGrace is how long the first stop hook waits for the signal that
// triggered the stop to reach its own channel (Go hands a signal to every
// channel registered for it, fx's first).
const signalGrace = 100 * time.Millisecond

// logSignals logs the signal that stops the service, before any drain phase:
// its stop hook runs first because it is registered last.
func logSignals(lc fx.Lifecycle, log *zap.Logger) {
	ch := make(chan os.Signal, 1)
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
			return nil
		},
		OnStop: func(context.Context) error {
			defer signal.Stop(ch)
			select {
			case sig := <-ch:
				log.Info("received "+signalName(sig)+": draining (stop accepting, finish requests in flight, stop loops; content-creator children keep running)",
					zap.String("signal", signalName(sig)))
			case <-time.After(signalGrace):
				log.Info("stopping: draining")
			}
			return nil
		},
	})
}

func signalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	}
	return sig.String()
}

// drainHTTP is phase 2: shut the server down within timeout. inFlight is the
// number of requests being served when the listener closed.
func drainHTTP(ctx context.Context, srv interface {
	Shutdown(context.Context) error
	Close() error
}, inFlight int64, timeout time.Duration, log *zap.Logger) error {
	started := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := srv.Shutdown(ctx)
	fields := []zap.Field{zap.Int64("in_flight", inFlight), zap.Duration("took", time.Since(started))}
	switch {
	case err == nil:
		log.Info("drain: HTTP server stopped accepting and finished its requests in flight", fields...)
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		log.Warn("drain: requests still in flight after SHUTDOWN_TIMEOUT; closing their connections", fields...)
		return srv.Close()
	default:
		return err
	}
}
