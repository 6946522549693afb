package creatorexec

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// output is what a run printed, as far as it was kept.
type output struct {
	stdout    []byte // the first OutputLimit bytes
	truncated bool   // stdout went past OutputLimit
	stderr    []byte // the last OutputLimit bytes
}

// errTimeoutCause marks the run's own deadline, to tell it from the caller's.
var errTimeoutCause = errors.New("creatorexec: run timeout")

// run executes one CLI command in its own process group. When the timeout
// passes or ctx ends, the whole group is killed, so grandchildren (node under
// a wrapper script, `go run`'s binary) die too. A child that exited leaves its
// grandchildren alone: a detached worker may outlive create on purpose.
func (r *Runner) run(ctx context.Context, command string, timeout time.Duration, args []string, red redactor) (output, error) {
	return r.runWith(ctx, command, timeout, args, red, r.env)
}

// runWith is run with the child's environment given.
func (r *Runner) runWith(ctx context.Context, command string, timeout time.Duration, args []string, red redactor, env []string) (output, error) {
	runCtx, cancel := context.WithTimeoutCause(ctx, timeout, errTimeoutCause)
	defer cancel()

	limit := int(r.cfg.OutputLimit)
	stdout := &headBuffer{limit: limit}
	stderr := &tailBuffer{limit: limit}

	cmd := exec.CommandContext(runCtx, r.program, append(append([]string(nil), r.baseArgs...), args...)...)
	cmd.Dir = r.cfg.Dir
	cmd.Env = env
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	// A grandchild that keeps our pipes open must not hang Wait once the
	// child itself is gone.
	cmd.WaitDelay = r.cfg.WaitDelay

	runErr := &RunError{Command: command, Program: r.program, ExitCode: -1}

	if err := cmd.Start(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			runErr.Err = ctxErr
			return output{}, runErr
		}
		runErr.Err, runErr.Cause = ErrNotStarted, err
		return output{}, runErr
	}
	waitErr := cmd.Wait()
	state := cmd.ProcessState
	if state != nil && state.Success() {
		// Exit 0 counts even when the deadline raced with it or a lingering
		// grandchild made Wait give up on the pipes (exec.ErrWaitDelay).
		return output{stdout: stdout.Bytes(), truncated: stdout.Truncated(), stderr: stderr.Bytes()}, nil
	}

	if state != nil {
		runErr.ExitCode, runErr.State = state.ExitCode(), state.String()
	} else {
		runErr.State = waitErr.Error()
	}
	runErr.Tail = red.tail(stderr.Bytes())
	if strings.TrimSpace(runErr.Tail) == "" {
		runErr.Tail = red.tail(stdout.Bytes())
	}
	switch {
	case errors.Is(context.Cause(runCtx), errTimeoutCause):
		runErr.Err, runErr.Timeout = ErrTimeout, timeout
	case ctx.Err() != nil:
		runErr.Err = ctx.Err()
	default:
		runErr.Err, runErr.Cause = ErrExit, waitErr
	}
	return output{stdout: stdout.Bytes(), stderr: stderr.Bytes()}, runErr
}

// killGroup sends SIGKILL to every process in the group led by pid.
func killGroup(pid int) error {
	err := syscall.Kill(-pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}
