package cli

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"contenthub/cmd/content-creator-sim/internal/taskstore"
	"contenthub/cmd/content-creator-sim/internal/worker"
)

const defaultTargetAudience = "普通读者"

func create(args []string, env Env, stdout, stderr io.Writer) int {
	fs := newFlags("create", "--type content-creator --mode async --topic T --task-id ID [flags]", stderr)
	var t taskstore.Task
	var keywords string
	fs.StringVar(&t.Type, "type", worker.WorkflowType, "workflow type; only content-creator")
	fs.StringVar(&t.Mode, "mode", "async", "execution mode; only async")
	fs.StringVar(&t.Topic, "topic", "", "article topic (required)")
	fs.StringVar(&t.ID, "task-id", "", "task id (required), letters, digits, - and _")
	fs.StringVar(&t.ID, "taskId", "", "alias of --task-id (the real CLI's spelling on create)")
	fs.StringVar(&t.ID, "t", "", "short for --task-id")
	fs.StringVar(&t.Requirements, "requirements", "", "writing requirements")
	fs.StringVar(&t.Tone, "tone", "", "tone of voice")
	fs.StringVar(&keywords, "keywords", "", "comma-separated keywords")
	fs.StringVar(&t.TargetAudience, "target-audience", defaultTargetAudience, "target audience")
	fs.StringVar(&t.CallbackURL, "callback-url", "", "where to POST callbacks (http or https)")
	if code, stop := parse(fs, args, stdout); stop {
		return code
	}

	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "❌ 错误: "+format+"\n", a...)
		fs.Usage()
		return exitUsage
	}
	switch {
	case strings.TrimSpace(t.Topic) == "":
		return usage("--topic is required")
	case t.ID == "":
		return usage("--task-id is required")
	case !taskstore.ValidID(t.ID):
		return usage("--task-id %q: use 1–100 letters, digits, - or _", t.ID)
	case t.Type != worker.WorkflowType:
		return usage("--type %q: only %s is simulated", t.Type, worker.WorkflowType)
	case t.Mode != "async":
		return usage("--mode %q: only async is simulated", t.Mode)
	}
	if t.CallbackURL != "" {
		if u, err := url.Parse(t.CallbackURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usage("--callback-url: need an absolute http(s) URL") // the URL itself holds a token: not echoed
		}
	}
	for k := range strings.SplitSeq(keywords, ",") {
		if k = strings.TrimSpace(k); k != "" {
			t.Keywords = append(t.Keywords, k)
		}
	}

	set, err := settings(env, t.ID, t.Topic)
	if err != nil {
		return usage("%v", err)
	}
	if on, err := boolean(env, envCreateFail); err != nil {
		return usage("%v", err)
	} else if on {
		fmt.Fprintf(stderr, "❌ 错误: 创建任务失败: simulated failure (%s=1)\n", envCreateFail)
		return exitError
	}

	dir, err := stateDir(env)
	if err != nil {
		return usage("%v", err)
	}
	store, err := taskstore.Open(dir)
	if err != nil {
		fmt.Fprintf(stderr, "❌ 错误: %v\n", err)
		return exitError
	}
	now := time.Now().UTC()
	t.Status, t.Settings, t.CreatedAt, t.UpdatedAt = taskstore.StatusPending, set, now, now
	t.Progress = taskstore.Progress{Stage: "pending", Message: "任务已创建，等待执行"}
	if err := store.Create(t); err != nil {
		fmt.Fprintf(stderr, "❌ 错误: 创建任务失败: %v\n", err)
		return exitError
	}

	if err := startWorker(store, t); err != nil {
		_, _ = store.Update(t.ID, func(t *taskstore.Task) error {
			t.Status, t.UpdatedAt = taskstore.StatusFailed, time.Now().UTC()
			t.Error = &taskstore.TaskError{Message: err.Error(), Type: worker.ErrorType, Code: "WORKER_START_FAILED"}
			return nil
		})
		fmt.Fprintf(stderr, "❌ 错误: %v\n", err)
		return exitError
	}

	banner(stdout, dir)
	return writeJSON(stdout, stderr, struct {
		TaskID string           `json:"taskId"`
		Status taskstore.Status `json:"status"`
	}{t.ID, taskstore.StatusPending})
}

// startWorker re-executes this binary as the task's worker in a session of its own, not waited for: the
// service's runner may kill create's process group on a timeout, and waits for create's stdout to close, so
// the worker shares neither (its output goes to its log file).
func startWorker(store *taskstore.Store, t taskstore.Task) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	logPath := t.Settings.LogPath
	if logPath == "" {
		logPath = store.LogPath(t.ID)
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start worker: open log: %w", err)
	}
	defer logFile.Close()
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	defer devNull.Close()

	cmd := exec.Command(exe, workerCommand, "--task-id", t.ID, "--log", logPath)
	cmd.Env = append(os.Environ(), envStateDir+"="+store.Dir())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devNull, logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	_ = cmd.Process.Release() // the worker runs on whatever this says; nothing here waits for it
	return nil
}
