package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"contenthub/cmd/content-creator-sim/internal/taskstore"
)

// timeLayout is how the real CLI prints times in JSON: UTC with milliseconds.
const timeLayout = "2006-01-02T15:04:05.000Z"

// statusView is status --json's answer.
type statusView struct {
	TaskID    string               `json:"taskId"`
	Status    taskstore.Status     `json:"status"`
	Progress  taskstore.Progress   `json:"progress"`
	Error     *taskstore.TaskError `json:"error,omitempty"`
	UpdatedAt string               `json:"updatedAt"`
}

// resultView is result --json's answer: the task's id and status, then the article's fields.
type resultView struct {
	TaskID string           `json:"taskId"`
	Status taskstore.Status `json:"status"`
	taskstore.Result
}

// errFinished means a task ended before it could be cancelled.
var errFinished = errors.New("task already finished")

// queryFlags parses the flags every task query takes.
func queryFlags(name string, args []string, withJSON bool, stdout, stderr io.Writer) (id string, asJSON bool, code int, stop bool) {
	synopsis := "--task-id ID"
	if withJSON {
		synopsis += " [--json]"
	}
	fs := newFlags(name, synopsis, stderr)
	fs.StringVar(&id, "task-id", "", "task id (required)")
	fs.StringVar(&id, "t", "", "short for --task-id")
	if withJSON {
		fs.BoolVar(&asJSON, "json", false, "answer in JSON")
	}
	if code, stop := parse(fs, args, stdout); stop {
		return "", false, code, true
	}
	if id == "" {
		fmt.Fprintln(stderr, "❌ 错误: --task-id is required")
		fs.Usage()
		return "", false, exitUsage, true
	}
	return id, asJSON, exitOK, false
}

// load opens the store and reads task id, reporting a failure on stderr.
func load(env Env, id string, stdout, stderr io.Writer) (*taskstore.Store, taskstore.Task, bool) {
	dir, err := stateDir(env)
	if err == nil {
		var store *taskstore.Store
		if store, err = taskstore.Open(dir); err == nil {
			banner(stdout, dir)
			var t taskstore.Task
			if t, err = store.Load(id); err == nil {
				return store, t, true
			}
		}
	}
	fail(stderr, id, err)
	return nil, taskstore.Task{}, false
}

// fail reports err about task id in the real CLI's words where it has them.
func fail(stderr io.Writer, id string, err error) {
	switch {
	case errors.Is(err, taskstore.ErrNotFound):
		fmt.Fprintf(stderr, "❌ 错误: 未找到任务 %s\n", id)
	default:
		fmt.Fprintf(stderr, "❌ 错误: %v\n", err)
	}
}

func status(args []string, env Env, stdout, stderr io.Writer) int {
	id, asJSON, code, stop := queryFlags("status", args, true, stdout, stderr)
	if stop {
		return code
	}
	_, t, ok := load(env, id, stdout, stderr)
	if !ok {
		return exitError
	}
	if asJSON {
		return writeJSON(stdout, stderr, statusView{
			TaskID:    t.ID,
			Status:    t.Status,
			Progress:  t.Progress,
			Error:     t.Error,
			UpdatedAt: t.UpdatedAt.UTC().Format(timeLayout),
		})
	}
	fmt.Fprintf(stdout, "📊 任务状态\n任务ID: %s\n状态: %s\n进度: %d%% %s %s\n更新时间: %s\n",
		t.ID, t.Status, t.Progress.Percentage, t.Progress.Stage, t.Progress.Message,
		t.UpdatedAt.Local().Format(time.DateTime))
	if t.Error != nil {
		fmt.Fprintf(stdout, "错误信息:\n%s\n", t.Error.Message)
	}
	return exitOK
}

func result(args []string, env Env, stdout, stderr io.Writer) int {
	id, asJSON, code, stop := queryFlags("result", args, true, stdout, stderr)
	if stop {
		return code
	}
	_, t, ok := load(env, id, stdout, stderr)
	if !ok {
		return exitError
	}
	if t.Status != taskstore.StatusCompleted || t.Result == nil {
		fmt.Fprintf(stderr, "⚠️  任务尚未完成，当前状态: %s\n", t.Status)
		return exitError
	}
	if asJSON {
		return writeJSON(stdout, stderr, resultView{TaskID: t.ID, Status: t.Status, Result: *t.Result})
	}
	fmt.Fprintln(stdout, t.Result.Content)
	return exitOK
}

func cancel(args []string, env Env, stdout, stderr io.Writer) int {
	id, _, code, stop := queryFlags("cancel", args, false, stdout, stderr)
	if stop {
		return code
	}
	store, _, ok := load(env, id, stdout, stderr)
	if !ok {
		return exitError
	}
	t, err := store.Update(id, func(t *taskstore.Task) error {
		switch t.Status {
		case taskstore.StatusCancelled:
			return nil // cancelling twice is fine
		case taskstore.StatusCompleted, taskstore.StatusFailed:
			return fmt.Errorf("%w (%s)", errFinished, t.Status)
		}
		now := time.Now().UTC()
		t.Status, t.UpdatedAt, t.CompletedAt = taskstore.StatusCancelled, now, &now
		t.Progress.Message = "任务已取消"
		return nil
	})
	if err != nil {
		fail(stderr, id, err)
		return exitError
	}
	fmt.Fprintf(stdout, "✅ 任务已取消: %s (%s)\n", t.ID, t.Status)
	return exitOK
}

// writeJSON prints v as one line of JSON.
func writeJSON(stdout, stderr io.Writer, v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		fmt.Fprintf(stderr, "❌ 错误: %v\n", err)
		return exitError
	}
	fmt.Fprintf(stdout, "%s\n", b)
	return exitOK
}
