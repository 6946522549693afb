package creatorexec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"

	"contenthub/domain"
	"contenthub/ports"
)

// The published content-creator (CREATOR_PROFILE=cli) generates an article
// only in its synchronous mode, inside the `create` process, for minutes, and
// never delivers its callback there: the process exits before the POST leaves
// (CONTENT-CREATOR.md). The Supervisor therefore starts that process and
// keeps it: the submission is accepted once the child runs, and the child's
// exit is the outcome — its stdout holds the article, or its exit status says
// it crashed — reported to the RunObserver as the source "process exit".
//
// Output goes to temporary files rather than pipes, so a child the service
// leaves behind at shutdown (the policy: running children are not waited
// for) can still write and finish; the next replica's reconciler then reads
// the outcome with `status -t REF` and `result -t REF`, in text form.

// Defaults of the Supervisor.
const (
	// DefaultRunTimeout bounds a supervised run when RunTimeout is unset.
	DefaultRunTimeout = time.Hour
	// supervisedOutputLimit is how much of a finished child's stdout is read:
	// its end, where the article is, after whatever the logs printed.
	supervisedOutputLimit = 16 << 20
)

// Supervisor is the cli profile's adapter of ports.ContentCreator. It is safe
// for concurrent use.
type Supervisor struct {
	runner     *Runner // the same CLI for status, result and cancel, read as text
	observer   ports.RunObserver
	runTimeout time.Duration

	mu       sync.Mutex
	children map[string]*child // by external ref
}

// child is one supervised create process.
type child struct {
	pid int
	// abandoned is set when the service killed the child on purpose (cancel,
	// deadline): its exit then tells nothing.
	abandoned atomic.Bool
	done      chan struct{}
}

var (
	_ ports.ContentCreator = (*Supervisor)(nil)
	_ ports.CreatorProber  = (*Supervisor)(nil)
	_ ports.LiveRuns       = (*Supervisor)(nil)
)

// NewSupervisor checks cfg like New does and returns a Supervisor that
// reports how runs end to observer. cfg.RunTimeout bounds each run (the
// task's deadline; the reconciler normally stops it first).
func NewSupervisor(cfg Config, observer ports.RunObserver, opts ...Option) (*Supervisor, error) {
	if observer == nil {
		return nil, errors.New("creatorexec: a supervisor needs a run observer")
	}
	r, err := New(cfg, opts...)
	if err != nil {
		return nil, err
	}
	// The published CLI answers status and result in text only.
	r.textOnly.Store(true)
	timeout := cfg.RunTimeout
	switch {
	case timeout < 0:
		return nil, fmt.Errorf("creatorexec: run timeout is negative: %s", timeout)
	case timeout == 0:
		timeout = DefaultRunTimeout
	}
	sweepStaleOutputs(os.TempDir(), timeout)
	return &Supervisor{runner: r, observer: observer, runTimeout: timeout, children: map[string]*child{}}, nil
}

// outputPattern names a run's output files (os.CreateTemp patterns).
const outputPattern = "contenthub-run-*"

// sweepStaleOutputs removes output files of runs a stopped service left
// behind (their children were left running): untouched for longer than a run
// may take, nobody will read them, and their banner names the callback URL.
func sweepStaleOutputs(dir string, runTimeout time.Duration) {
	files, _ := filepath.Glob(filepath.Join(dir, outputPattern))
	for _, f := range files {
		if info, err := os.Stat(f); err == nil && time.Since(info.ModTime()) > runTimeout {
			_ = os.Remove(f)
		}
	}
}

// syncCreateArgs is the published CLI's create in sync mode. Its id flag on
// create is --taskId (--task-id is silently ignored there).
func syncCreateArgs(req ports.SubmitRequest) []string {
	args := []string{"create", "--type", "content-creator", "--mode", "sync", "--taskId", req.ExternalRef,
		"--topic", req.Topic, "--requirements", req.Requirements}
	if req.TargetAudience != "" {
		args = append(args, "--target-audience", req.TargetAudience)
	}
	if kw := joinKeywords(req.Keywords); kw != "" {
		args = append(args, "--keywords", kw)
	}
	if req.Tone != "" {
		args = append(args, "--tone", req.Tone)
	}
	if req.CallbackURL != "" {
		args = append(args, "--callback-url", req.CallbackURL)
	}
	return args
}

// Submit starts the run and returns once the child runs; its end is reported
// to the observer, and SubmitResult.Running is closed after that. A child that
// cannot be started is a plain error (nothing ran).
func (s *Supervisor) Submit(_ context.Context, req ports.SubmitRequest) (res ports.SubmitResult, err error) {
	r := s.runner
	defer r.observe("create", req.ExternalRef, time.Now(), &err)
	if req.ExternalRef == "" {
		return ports.SubmitResult{}, errors.New("content-creator create: empty external ref")
	}
	stdout, err := os.CreateTemp("", outputPattern+".stdout")
	if err != nil {
		return ports.SubmitResult{}, fmt.Errorf("content-creator create: output file: %w", err)
	}
	stderr, err := os.CreateTemp("", outputPattern+".stderr")
	if err != nil {
		removeFiles(stdout)
		return ports.SubmitResult{}, fmt.Errorf("content-creator create: output file: %w", err)
	}
	// Not CommandContext: the run outlives the submission.
	cmd := exec.Command(r.program, append(append([]string(nil), r.baseArgs...), syncCreateArgs(req)...)...)
	cmd.Dir, cmd.Env = r.cfg.Dir, withTrace(r.env, req.Trace)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		removeFiles(stdout, stderr)
		return ports.SubmitResult{}, &RunError{Command: "create", Program: r.program, ExitCode: -1, Err: ErrNotStarted, Cause: err}
	}
	c := &child{pid: cmd.Process.Pid, done: make(chan struct{})}
	s.mu.Lock()
	s.children[req.ExternalRef] = c
	s.mu.Unlock()
	go s.supervise(req, cmd, c, stdout, stderr)
	return ports.SubmitResult{ExternalRef: req.ExternalRef, Running: c.done}, nil
}

// supervise waits for the child, reads its outcome and reports it.
func (s *Supervisor) supervise(req ports.SubmitRequest, cmd *exec.Cmd, c *child, stdout, stderr *os.File) {
	defer close(c.done)
	defer removeFiles(stdout, stderr)
	// Past the run timeout the task's deadline has passed: the reconciler
	// times the attempt out; this only makes sure the child goes too.
	overdue := time.AfterFunc(s.runTimeout, func() { s.kill(c) })
	started := time.Now()
	_ = cmd.Wait() // the exit status is read from ProcessState
	overdue.Stop()
	at := time.Now().UTC()
	s.mu.Lock()
	delete(s.children, req.ExternalRef)
	s.mu.Unlock()
	if c.abandoned.Load() {
		s.runner.log.Debug("abandoned content-creator run ended", zap.String("external_ref", req.ExternalRef))
		return
	}
	out := output{stdout: tailOf(stdout, supervisedOutputLimit), stderr: tailOf(stderr, int64(tailWindow))}
	o := s.outcome(req, cmd.ProcessState, out)
	o.At = at
	runErr := runOutcomeError(o)
	s.runner.observe("run", req.ExternalRef, started, &runErr)
	s.observer.RunEnded(context.Background(), o)
}

// runOutcomeError names a run's outcome in the runner's error terms, for its
// metrics: ok, task_failed, exit_error or bad_output.
func runOutcomeError(o ports.RunOutcome) error {
	switch {
	case o.Phase == ports.PhaseCompleted:
		return nil
	case o.Error.Code == domain.CodeCreatorBadOutput:
		return ErrBadOutput
	case o.Error.Code == "":
		return ErrTaskFailed
	}
	return ErrExit
}

// outcome reads how the run ended: exit 0 with the CLI's report of a
// finished run, a usage error, or a crash.
func (s *Supervisor) outcome(req ports.SubmitRequest, state *os.ProcessState, out output) ports.RunOutcome {
	red := newRedactor(s.runner.cfg.Secret, req.CallbackURL)
	o := ports.RunOutcome{TaskID: req.TaskID, Attempt: req.Attempt, ExternalRef: req.ExternalRef,
		Source: domain.SourceProcessExit, Phase: ports.PhaseFailed}
	tail := func() string {
		if t := red.tail(out.stderr); t != "" {
			return t
		}
		return red.tail(out.stdout)
	}
	if !state.Success() {
		if state.Exited() && refusesUsage(out) {
			o.Permanent = true
			o.Error = domain.SubmitRefused(fmt.Sprintf("content-creator create: %s; output: %s", state, tail()))
			return o
		}
		o.Error = domain.CreatorCrashed(fmt.Sprintf("content-creator create: %s; output: %s", state, tail()))
		return o
	}
	run := parseSyncRun(out.stdout)
	if run.ref != "" {
		// The id it printed is the one it ran the job under — its own when it
		// ignored ours — and the attempt's from now on (issue #19): status,
		// result and cancel ask about that one.
		o.ExternalRef = run.ref
	}
	switch {
	case run.state == ports.PhaseCompleted:
		// An empty article is the transition function's to judge (INVALID_RESULT).
		o.Phase, o.Result = ports.PhaseCompleted, run.result()
	case run.state == ports.PhaseFailed:
		reason := run.reason
		if reason == "" {
			reason = s.failureReason(o.ExternalRef)
		}
		o.Error = domain.CreatorExecutionFailed(head(red.clean(reason)))
	default:
		o.Error = domain.CreatorBadOutput(fmt.Sprintf(
			"content-creator create exited 0 without a finished run of %q in its output (state %q): %s",
			o.ExternalRef, run.raw, red.tail(out.stdout)))
	}
	return o
}

// failureReason asks `status -t REF` for the 错误信息 of a failed run whose
// output did not say why.
func (s *Supervisor) failureReason(ref string) string {
	ctx, cancel := context.WithTimeout(context.Background(), s.runner.cfg.StatusTimeout)
	defer cancel()
	if st, err := s.runner.Status(ctx, ref); err == nil && st.Error.Message != "" {
		return st.Error.Message
	}
	return "content-creator reports the run failed"
}

// Status answers for a run supervised here without asking (the child is
// alive); otherwise it asks `status -t REF`.
func (s *Supervisor) Status(ctx context.Context, ref string) (ports.CreatorStatus, error) {
	if s.running(ref) != nil {
		return ports.CreatorStatus{Phase: ports.PhaseRunning, Raw: "running"}, nil
	}
	return s.runner.Status(ctx, ref)
}

// Result asks `result -t REF`.
func (s *Supervisor) Result(ctx context.Context, ref string) (domain.Result, error) {
	return s.runner.Result(ctx, ref)
}

// Cancel kills a run supervised here with its whole process group; for any
// other run it asks `cancel -t REF`.
func (s *Supervisor) Cancel(ctx context.Context, ref string) error {
	if c := s.running(ref); c != nil {
		s.kill(c)
		return nil
	}
	return s.runner.Cancel(ctx, ref)
}

// Live reports whether this process supervises a child for ref (§14: such
// a run is never found lost; after a restart nothing is live here).
func (s *Supervisor) Live(ref string) bool { return s.running(ref) != nil }

func (s *Supervisor) running(ref string) *child {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.children[ref]
}

func (s *Supervisor) kill(c *child) {
	c.abandoned.Store(true)
	if err := killGroup(c.pid); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.runner.log.Warn("kill content-creator run", zap.Int("pid", c.pid), zap.Error(err))
	}
}

// tailOf returns the last limit bytes of f.
func tailOf(f *os.File, limit int64) []byte {
	info, err := f.Stat()
	if err != nil {
		return nil
	}
	start := max(0, info.Size()-limit)
	b := make([]byte, info.Size()-start)
	n, _ := f.ReadAt(b, start) // a short read keeps what it got
	return b[:n]
}

func removeFiles(files ...*os.File) {
	for _, f := range files {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}
}

// Probe runs the CLI's help, like the Runner.
func (s *Supervisor) Probe(ctx context.Context) error { return s.runner.Probe(ctx) }
