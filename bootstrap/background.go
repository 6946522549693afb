package bootstrap

import (
	"context"
	"sync"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"
)

// BackgroundGroup is the fx value group of the background loops a worker
// replica runs (roles all and worker; an api replica runs none of them).
//
// A loop registers by being provided into the group, and nothing else: no
// signature or list here names it. A type with Run(ctx) (the application
// loops) registers with AsBackgroundLoop:
//
//	fx.Provide(
//		NewScheduler, // builds *application.Scheduler
//		AsBackgroundLoop[*application.Scheduler]("scheduler"),
//	)
//
// anything else by providing a BackgroundLoop value into the group:
//
//	fx.Provide(fx.Annotate(func(p *Probe) BackgroundLoop {
//		return BackgroundLoop{Name: "creator probe", Run: p.Watch}
//	}, fx.ResultTags(`group:"background"`)))
//
// The loops start together once the modules before the worker have
// started, without blocking the start, each on its own goroutine. At stop,
// after the HTTP server has drained, every loop's context is cancelled at
// once and the stop waits for all of them together, for at most
// SHUTDOWN_TIMEOUT: a loop must return soon after its context ends (finishing
// the one unit of work in hand is fine), and what it leaves is the next
// replica's reconciler's to settle. A loop that needs its own resources
// opens them in Run and releases them before returning.
const BackgroundGroup = "background"

// BackgroundLoop is one member of BackgroundGroup: a name for the logs and a
// function that runs until its context ends.
type BackgroundLoop struct {
	Name string
	Run  func(ctx context.Context)
}

// Loop is what AsBackgroundLoop registers: a background loop that runs until
// its context ends.
type Loop interface{ Run(ctx context.Context) }

// AsBackgroundLoop is an fx constructor that takes the T the graph provides
// and adds its Run to BackgroundGroup under name. Pass it to fx.Provide
// beside T's own constructor.
func AsBackgroundLoop[T Loop](name string) any {
	return fx.Annotate(func(l T) BackgroundLoop {
		return BackgroundLoop{Name: name, Run: l.Run}
	}, fx.ResultTags(`group:"`+BackgroundGroup+`"`))
}

// BackgroundLoops collects the group.
type BackgroundLoops struct {
	fx.In
	Loops []BackgroundLoop `group:"background"`
}

// runBackground starts the group's loops at start (without blocking) and
// stops and waits for them, for at most SHUTDOWN_TIMEOUT, at stop.
func runBackground(lc fx.Lifecycle, cfg Config, log *zap.Logger, started *startState, in BackgroundLoops) {
	runLoops(lc, cfg.ShutdownTimeout, log, started, in.Loops...)
}

// runLoops starts the loops at start (without blocking) and, at stop, ends
// them and waits for them — for at most timeout: what is still running then
// (a submission whose CLI is slow) is left to the reconciler.
func runLoops(lc fx.Lifecycle, timeout time.Duration, log *zap.Logger, started *startState, loops ...BackgroundLoop) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	names := make([]string, len(loops))
	for i, l := range loops {
		names[i] = l.Name
	}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			for _, l := range loops {
				wg.Add(1)
				go func() { defer wg.Done(); l.Run(ctx) }()
			}
			return nil
		},
		OnStop: func(stopCtx context.Context) error {
			began := time.Now()
			cancel()
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			bound := time.NewTimer(timeout)
			defer bound.Stop()
			fields := func() []zap.Field {
				return []zap.Field{zap.Strings("loops", names), zap.Duration("took", time.Since(began))}
			}
			select {
			case <-done:
				if !started.Started() {
					// A start that failed after the loops started: they ran
					// for an instant, and left nothing running.
					log.Debug("background loops stopped after a failed start", fields()...)
					return nil
				}
				log.Info("drain: dispatcher and reconciler stopped; running content-creator children were left running for the next replica's reconciler",
					fields()...)
			case <-bound.C:
				log.Warn("drain: background work still running after SHUTDOWN_TIMEOUT was left to the next replica's reconciler",
					fields()...)
			case <-stopCtx.Done():
				log.Warn("drain: stop deadline reached before the background loops stopped", fields()...)
			}
			return nil
		},
	})
}
