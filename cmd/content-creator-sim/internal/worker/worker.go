// Package worker runs one simulated generation: it walks the task through its progress stages, writes an
// article, and reports each stage by callback. The state file is updated before each callback is sent, so a
// poller sees the truth even when a callback is lost. Faults come from the task's settings.
package worker

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"go.uber.org/zap"

	"contenthub/cmd/content-creator-sim/internal/article"
	"contenthub/cmd/content-creator-sim/internal/taskstore"
	"contenthub/cmd/content-creator-sim/internal/webhook"
)

// ErrCrashed is returned when the task's settings asked the worker to die mid-way; the caller exits at once,
// leaving the task running and sending nothing more.
var ErrCrashed = errors.New("worker crashed on purpose")

// errStopped means the task was cancelled (or otherwise finished) behind the worker's back.
var errStopped = errors.New("task no longer running")

// pollInterval is how often a waiting worker looks for a cancellation.
const pollInterval = 100 * time.Millisecond

// ErrorType is the error type the real sender reports for every failure.
const ErrorType = "execution_error"

// ErrorCode is the code status answers give a simulated failure.
const ErrorCode = "GENERATION_FAILED"

// stage is one step of the real content-creator's workflow.
type stage struct{ name, message string }

var stages = []stage{
	{"search", "正在搜索资料"},
	{"organize", "正在整理大纲"},
	{"write", "正在撰写文章"},
	{"check_text", "正在质检文本"},
	{"generate_image", "正在生成配图"},
	{"check_image", "正在检查配图"},
}

// plan returns the progress reports of a run with n steps: n stages from 10 % on, then 100 %; none for n ≤ 0.
func plan(n int) []taskstore.Progress {
	if n <= 0 {
		return nil
	}
	out := make([]taskstore.Progress, 0, n+1)
	for i := range n {
		s := stages[i*len(stages)/n]
		out = append(out, taskstore.Progress{Percentage: 10 + 90*i/n, Stage: s.name, Message: s.message})
	}
	return append(out, taskstore.Progress{Percentage: 100, Stage: "finalize", Message: "生成完成，正在整理结果"})
}

// Worker runs tasks of one store.
type Worker struct {
	Store  *taskstore.Store
	Signer webhook.Signer
	Log    *zap.Logger
	Now    func() time.Time
}

// New returns a worker for store that signs callbacks with signer.
func New(store *taskstore.Store, signer webhook.Signer, log *zap.Logger) *Worker {
	return &Worker{Store: store, Signer: signer, Log: log, Now: time.Now}
}

// Run carries out task id. It returns nil when the task ends (completed, failed or cancelled), ErrCrashed when
// told to crash, or an error when the state cannot be read or written.
func (w *Worker) Run(ctx context.Context, id string) error {
	started := w.Now()
	t, err := w.Store.Update(id, func(t *taskstore.Task) error {
		if t.Status.Terminal() {
			return errStopped
		}
		t.WorkerPID = os.Getpid()
		return nil
	})
	if errors.Is(err, errStopped) {
		w.Log.Info("task already ended", zap.String("status", string(t.Status)))
		return nil
	}
	if err != nil {
		return err
	}
	set := t.Settings
	w.Log.Info("worker started", zap.Any("settings", set))

	sender := webhook.NewSender(w.Signer, set.CallbackAttempts, set.CallbackBackoff, w.Log)
	sender.Slow = set.Slow
	sender.Now = w.Now
	out := &outbox{sender: sender, task: t, log: w.Log}
	if set.NoCallback || t.CallbackURL == "" {
		out.sender = nil
		w.Log.Info("no callbacks will be sent", zap.Bool("no_callback", set.NoCallback))
	} else if u, perr := url.Parse(t.CallbackURL); perr == nil {
		w.Log.Info("callbacks go to", zap.String("host", u.Host)) // never the query: it holds the token
	}
	out.duplicate, out.outOfOrder = set.Duplicate, set.OutOfOrder

	err = w.execute(ctx, t, out, started)
	if errors.Is(err, errStopped) {
		w.Log.Info("task stopped before the worker finished; no completion sent")
		return nil
	}
	return err
}

// execute walks t through its stages, then crashes, fails or completes it as its settings say.
func (w *Worker) execute(ctx context.Context, t taskstore.Task, out *outbox, started time.Time) error {
	set := t.Settings
	steps := plan(set.ProgressSteps)
	stopAt := len(steps) // where a failure or crash strikes: half-way
	if set.Fail || set.Crash {
		stopAt = (len(steps) + 1) / 2
	}
	interval := set.Delay / time.Duration(len(steps)+1)
	var done []string

	for _, p := range steps[:stopAt] {
		if err := w.pause(ctx, t.ID, interval); err != nil {
			return err
		}
		if _, err := w.Store.Update(t.ID, func(t *taskstore.Task) error {
			if t.Status.Terminal() {
				return errStopped
			}
			t.Status, t.Progress, t.UpdatedAt = taskstore.StatusRunning, p, w.Now().UTC()
			return nil
		}); err != nil {
			return err
		}
		b := newBody(t, EventProgress, taskstore.StatusRunning, w.Now())
		b.Progress = &p
		out.send(ctx, b)
		done = append(done, p.Stage)
	}
	if err := w.pause(ctx, t.ID, interval); err != nil {
		return err
	}
	switch {
	case set.Crash:
		return w.crash(ctx, t.ID, out)
	case set.Fail:
		return w.fail(ctx, t.ID, out, started, done)
	default:
		return w.complete(ctx, t.ID, out, started, done)
	}
}

// crash leaves the task running (marking it so if no stage has yet) and sends nothing more.
func (w *Worker) crash(ctx context.Context, id string, out *outbox) error {
	out.flush(ctx)
	_, err := w.Store.Update(id, func(t *taskstore.Task) error {
		if t.Status.Terminal() {
			return errStopped
		}
		if t.Status == taskstore.StatusPending {
			t.Status, t.UpdatedAt = taskstore.StatusRunning, w.Now().UTC()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return ErrCrashed
}

func (w *Worker) fail(ctx context.Context, id string, out *outbox, started time.Time, done []string) error {
	now := w.Now()
	t, err := w.Store.Update(id, func(t *taskstore.Task) error {
		if t.Status.Terminal() {
			return errStopped
		}
		finished := now.UTC()
		t.Status, t.UpdatedAt, t.CompletedAt = taskstore.StatusFailed, finished, &finished
		t.Error = &taskstore.TaskError{Message: t.Settings.FailMessage, Type: ErrorType, Code: ErrorCode}
		return nil
	})
	if err != nil {
		return err
	}
	b := newBody(t, EventFailed, taskstore.StatusFailed, now)
	b.Error = &failure{
		Message: t.Error.Message,
		Type:    ErrorType,
		Details: failureDetails{Duration: now.Sub(started).Milliseconds(), StepsCompleted: nonNil(done)},
	}
	out.send(ctx, b)
	out.flush(ctx)
	return nil
}

func (w *Worker) complete(ctx context.Context, id string, out *outbox, started time.Time, done []string) error {
	now := w.Now()
	t, err := w.Store.Update(id, func(t *taskstore.Task) error {
		if t.Status.Terminal() {
			return errStopped
		}
		r := result(t, now.Sub(started), done)
		finished := now.UTC()
		t.Status, t.Result, t.UpdatedAt, t.CompletedAt = taskstore.StatusCompleted, &r, finished, &finished
		t.Progress = taskstore.Progress{Percentage: 100, Stage: "completed", Message: "任务已完成"}
		return nil
	})
	if err != nil {
		return err
	}
	b := newBody(t, EventCompleted, taskstore.StatusCompleted, now)
	b.Result = t.Result
	out.send(ctx, b)
	out.flush(ctx)
	return nil
}

// result is the finished article of t in the real sender's shape (htmlContent, like its, is the Markdown).
func result(t *taskstore.Task, took time.Duration, done []string) taskstore.Result {
	a := article.Write(t.Topic)
	images := make([]taskstore.Image, len(a.Images))
	for i, img := range a.Images {
		images[i] = taskstore.Image{
			URL:       img.URL,
			LocalPath: fmt.Sprintf("data/images/%s_%d.png", t.ID, i),
			Prompt:    img.Prompt,
			Width:     1920,
			Height:    1920,
			Format:    "png",
		}
	}
	tokens := 2 * a.WordCount()
	return taskstore.Result{
		Content:      a.Markdown,
		HTMLContent:  a.Markdown,
		Images:       images,
		QualityScore: a.QualityScore,
		WordCount:    a.WordCount(),
		Metrics: taskstore.Metrics{
			TokensUsed:     tokens,
			Cost:           float64(tokens*2) / 1e6, // ¥2 per million tokens
			Duration:       took.Milliseconds(),
			StepsCompleted: nonNil(done),
		},
	}
}

// pause waits d, watching the state file so that a cancellation is noticed while waiting.
func (w *Worker) pause(ctx context.Context, id string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		t, err := w.Store.Load(id)
		if err != nil {
			return err
		}
		if t.Status.Terminal() {
			return errStopped
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil
		}
		timer := time.NewTimer(min(left, pollInterval))
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
}

// nonNil keeps an empty list a JSON [] rather than null, as the real sender sends it.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
