package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"contenthub/cmd/content-creator-sim/internal/taskstore"
	"contenthub/cmd/content-creator-sim/internal/webhook"
	"contenthub/cmd/content-creator-sim/internal/worker"
)

// Worker outcomes, logged as the worker's last line ("worker exiting") and told by its exit code.
const (
	outcomeDone    = "done"
	outcomeCrashed = "crashed"
	outcomeError   = "error"
	exitCrashed    = 3
)

// work is the detached worker: it runs one task and logs to its log file.
func work(ctx context.Context, args []string, env Env, stderr io.Writer) int {
	fs := newFlags(workerCommand, "--task-id ID --log PATH", stderr)
	var id, logPath string
	fs.StringVar(&id, "task-id", "", "task to run")
	fs.StringVar(&logPath, "log", "", "log file")
	if code, stop := parse(fs, args, stderr); stop {
		return code
	}
	log, closeLog, err := openLog(logPath, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "worker: %v\n", err)
		return exitError
	}
	defer closeLog()
	log = log.With(zap.String("task_id", id), zap.Int("pid", os.Getpid()))

	outcome, code := outcomeDone, exitOK
	err = func() error {
		dir, err := stateDir(env)
		if err != nil {
			return err
		}
		store, err := taskstore.Open(dir)
		if err != nil {
			return err
		}
		return worker.New(store, webhook.NewSigner(env.get(envSecret)), log).Run(ctx, id)
	}()
	switch {
	case errors.Is(err, worker.ErrCrashed):
		outcome, code = outcomeCrashed, exitCrashed
	case err != nil:
		outcome, code = outcomeError, exitError
	}
	log.Info("worker exiting", zap.String("outcome", outcome), zap.Error(err))
	return code
}

// openLog returns a JSON logger appending to path (to fallback when path is empty).
func openLog(path string, fallback io.Writer) (*zap.Logger, func(), error) {
	w, closeFn := zapcore.AddSync(fallback), func() {}
	if path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("open log: %w", err)
		}
		w, closeFn = f, func() { f.Close() }
	}
	cfg := zap.NewProductionEncoderConfig()
	cfg.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(cfg), w, zap.DebugLevel)
	return zap.New(core), closeFn, nil
}
