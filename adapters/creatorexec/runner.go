// Package creatorexec runs the content-creator CLI as a subprocess; it is the
// exec adapter of ports.ContentCreator (SERVICE.md §6).
//
// Each call runs one command of CREATOR_CLI_PATH in its own process group,
// with a timeout; a child that runs too long, or whose caller gives up, is
// killed with its whole group. Output is captured up to a limit and its answer
// extracted from among banners and log lines. Errors name the command and end
// with a bounded, redacted tail of the child's output; argv, which carries the
// callback URL and its token, is never printed.
//
// status and result are first run as SERVICE.md §6 says, with --json. The
// published CLI (commander.js) has no such option: it exits non-zero with
// "error: unknown option '--json'". When a run fails that way the same command
// is run again without --json and its human text is read instead: status's
// "状态: ✅ 已完成" lines, result's report of ARTICLE / FINALARTICLE / IMAGE
// sections. The Runner then remembers that its CLI lacks --json, so later
// status and result calls go straight to the text form.
package creatorexec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/shlex"
	"go.uber.org/zap"

	"contenthub/domain"
	"contenthub/ports"
)

// Defaults for the zero values of Config.
const (
	DefaultSubmitTimeout = 30 * time.Second
	// Status and result pay the published CLI's start-up (2–11 s on a loaded
	// machine) before they answer.
	DefaultStatusTimeout = 30 * time.Second
	DefaultResultTimeout = 60 * time.Second
	DefaultCancelTimeout = 10 * time.Second
	DefaultWaitDelay     = 2 * time.Second
	DefaultOutputLimit   = 1 << 20
)

// Config says how to run the CLI. Zero durations and limits take the defaults.
type Config struct {
	// Command is CREATOR_CLI_PATH: a command line split into words as a shell
	// would (quotes, backslashes), without running a shell. Required.
	Command       string
	SubmitTimeout time.Duration
	StatusTimeout time.Duration
	ResultTimeout time.Duration
	CancelTimeout time.Duration
	// Secret is the current signing secret. The child gets it as
	// CONTENT_CREATOR_WEBHOOK_SECRET and never in argv. An inherited
	// CONTENT_CREATOR_WEBHOOK_SECRET is always dropped, so with Secret empty the
	// child has none (unless Env sets one).
	Secret string
	// Env holds extra KEY=VALUE pairs for the child (a later duplicate wins).
	Env []string
	// EnvPolicy says what of the service's environment the child sees besides
	// BaseEnv; a zero policy passes DefaultPassEnv.
	EnvPolicy EnvPolicy
	// Dir is the child's working directory; "" inherits the service's. The
	// published CLI reads ./.env and ./data from it.
	Dir string
	// OutputLimit caps what is kept of each stream: the first bytes of stdout
	// (the answer), the last bytes of stderr (the error).
	OutputLimit int64
	// WaitDelay bounds how long a child that exited may leave its pipes open
	// (held by a grandchild) before they are closed.
	WaitDelay time.Duration
	// RunTimeout bounds a supervised run (Supervisor only): the attempt's
	// deadline, TASK_TIMEOUT, with a margin.
	RunTimeout time.Duration
}

// Option configures a Runner beyond Config.
type Option func(*Runner)

// WithMetrics records every command run: RunnerExecuted(command, outcome,
// took), outcome one of ok, exit_error, timeout, cancelled, not_started,
// unknown_task, task_failed, no_result, bad_output.
func WithMetrics(m ports.Metrics) Option { return func(r *Runner) { r.metrics = m } }

// WithLogger logs each call at debug level (command, outcome, duration, ref),
// and once at info level when the CLI turns out to lack --json.
func WithLogger(l *zap.Logger) Option {
	return func(r *Runner) {
		if l != nil {
			r.log = l
		}
	}
}

// Runner runs content-creator's CLI. It is safe for concurrent use.
type Runner struct {
	cfg      Config
	program  string
	baseArgs []string
	env      []string
	metrics  ports.Metrics
	log      *zap.Logger
	// textOnly is set once the CLI rejected --json: status and result then
	// ask for its human text straight away.
	textOnly atomic.Bool
}

var (
	_ ports.ContentCreator = (*Runner)(nil)
	_ ports.CreatorProber  = (*Runner)(nil)
)

// New checks cfg and returns a Runner. The program is looked up at each run,
// so a missing binary is reported by the call that needs it.
func New(cfg Config, opts ...Option) (*Runner, error) {
	words, err := shlex.Split(cfg.Command)
	if err != nil {
		return nil, fmt.Errorf("creatorexec: CREATOR_CLI_PATH: %w", err)
	}
	if len(words) == 0 {
		return nil, errors.New("creatorexec: CREATOR_CLI_PATH is empty")
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"submit timeout", &cfg.SubmitTimeout, DefaultSubmitTimeout},
		{"status timeout", &cfg.StatusTimeout, DefaultStatusTimeout},
		{"result timeout", &cfg.ResultTimeout, DefaultResultTimeout},
		{"cancel timeout", &cfg.CancelTimeout, DefaultCancelTimeout},
		{"wait delay", &cfg.WaitDelay, DefaultWaitDelay},
	} {
		switch {
		case *d.v < 0:
			return nil, fmt.Errorf("creatorexec: %s is negative: %s", d.name, *d.v)
		case *d.v == 0:
			*d.v = d.def
		}
	}
	switch {
	case cfg.OutputLimit < 0:
		return nil, fmt.Errorf("creatorexec: output limit is negative: %d", cfg.OutputLimit)
	case cfg.OutputLimit == 0:
		cfg.OutputLimit = DefaultOutputLimit
	}
	for _, p := range cfg.EnvPolicy.Pass {
		if err := CheckPattern(p); err != nil {
			return nil, fmt.Errorf("creatorexec: pass-through variable: %w", err)
		}
	}
	for i, kv := range cfg.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			// Not quoted: a malformed entry may be a bare secret.
			return nil, fmt.Errorf("creatorexec: environment entry %d is not KEY=VALUE", i+1)
		}
	}
	r := &Runner{
		cfg:      cfg,
		program:  words[0],
		baseArgs: words[1:],
		env:      childEnv(os.Environ(), cfg.EnvPolicy.withDefaults(), cfg.Env, cfg.Secret),
		log:      zap.NewNop(),
	}
	for _, o := range opts {
		o(r)
	}
	return r, nil
}

// Submit runs create and reports the id content-creator gives the task: the
// one its output names, else req.ExternalRef.
func (r *Runner) Submit(ctx context.Context, req ports.SubmitRequest) (res ports.SubmitResult, err error) {
	defer r.observe("create", req.ExternalRef, time.Now(), &err)
	if req.ExternalRef == "" {
		return ports.SubmitResult{}, errors.New("content-creator create: empty external ref")
	}
	red := newRedactor(r.cfg.Secret, req.CallbackURL)
	out, err := r.runWith(ctx, "create", r.cfg.SubmitTimeout, createArgs(req), red, withTrace(r.env, req.Trace))
	if err != nil {
		return ports.SubmitResult{}, submitError(err, out)
	}
	if queuedForWorker(out.stdout) {
		// Nothing will collect that job's article: take it off the queue.
		queued, _ := textField(textLines(out.stdout), "任务ID")
		if queued != "" && queued != req.ExternalRef {
			if err := r.Cancel(ctx, queued); err != nil {
				r.log.Warn("cancel the job content-creator queued", zap.String("queued_id", queued), zap.Error(err))
			}
		}
		return ports.SubmitResult{}, fmt.Errorf("content-creator create: %w: it queued the task for a separate "+
			"worker process (the published CLI's async mode), which drops the callback URL and the task id; "+
			"run it with CREATOR_PROFILE=cli", ports.ErrSubmitRefused)
	}
	ans := parseCreate(out.stdout)
	if ans.failed {
		if ans.reason == "" {
			return ports.SubmitResult{}, fmt.Errorf("content-creator create: %w", ErrTaskFailed)
		}
		return ports.SubmitResult{}, fmt.Errorf("content-creator create: %w: %s", ErrTaskFailed, head(red.clean(ans.reason)))
	}
	if ans.ref == "" {
		ans.ref = req.ExternalRef
	}
	return ports.SubmitResult{ExternalRef: ans.ref}, nil
}

// submitError tells the dispatcher what a failed create means: a create that
// was killed may already have started the job (the outcome is unknown, so
// the attempt stays open); a usage error will recur on every retry; anything
// else is a plain failure a retry may cure.
func submitError(err error, out output) error {
	switch {
	case errors.Is(err, ErrTimeout), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w; %w", err, ports.ErrSubmitOutcomeUnknown)
	case errors.Is(err, ErrExit) && refusesUsage(out):
		return fmt.Errorf("%w; %w", err, ports.ErrSubmitRefused)
	}
	return err
}

// createArgs is create's argv after CREATOR_CLI_PATH; optional flags only when
// they have a value.
func createArgs(req ports.SubmitRequest) []string {
	args := []string{"create", "--type", "content-creator", "--mode", "async",
		"--topic", req.Topic, "--task-id", req.ExternalRef}
	if req.Requirements != "" {
		args = append(args, "--requirements", req.Requirements)
	}
	if req.Tone != "" {
		args = append(args, "--tone", req.Tone)
	}
	if kw := joinKeywords(req.Keywords); kw != "" {
		args = append(args, "--keywords", kw)
	}
	if req.CallbackURL != "" {
		args = append(args, "--callback-url", req.CallbackURL)
	}
	return args
}

// joinKeywords joins the non-blank keywords with ",", the CLI's list syntax.
func joinKeywords(keywords []string) string {
	kept := make([]string, 0, len(keywords))
	for _, k := range keywords {
		if k = strings.TrimSpace(k); k != "" {
			kept = append(kept, k)
		}
	}
	return strings.Join(kept, ",")
}

// Status runs status and maps the state it reports. A state it cannot map
// is PhaseUnknown with Raw set, not an error.
func (r *Runner) Status(ctx context.Context, externalRef string) (st ports.CreatorStatus, err error) {
	defer r.observe("status", externalRef, time.Now(), &err)
	out, text, err := r.queryAnswer(ctx, "status", r.cfg.StatusTimeout, externalRef)
	if err != nil {
		return ports.CreatorStatus{}, err
	}
	var ok bool
	if text {
		st, ok = parseStatusText(out.stdout)
	} else {
		st, ok = parseStatus(out.stdout)
	}
	if !ok {
		return ports.CreatorStatus{}, badOutput("status", "no status in the output", out)
	}
	st.Error.Message = head(newRedactor(r.cfg.Secret, "").clean(st.Error.Message))
	return st, nil
}

// Result runs result and reads the article. An answer without content (the
// task is not finished, or the CLI printed only its task row) is ErrNoResult.
func (r *Runner) Result(ctx context.Context, externalRef string) (res domain.Result, err error) {
	defer r.observe("result", externalRef, time.Now(), &err)
	out, text, err := r.queryAnswer(ctx, "result", r.cfg.ResultTimeout, externalRef)
	if err != nil {
		return domain.Result{}, err
	}
	var reason string
	if text {
		// A report cut short has lost at least its last section, the
		// images; the JSON path, by contrast, knows when an answer is whole.
		if out.truncated {
			return domain.Result{}, badOutput("result", "the text report is incomplete", out)
		}
		res, reason = parseResultReport(out.stdout)
	} else {
		res, reason = parseResult(out.stdout)
	}
	if res.Content == "" {
		if out.truncated {
			return domain.Result{}, badOutput("result", reason, out)
		}
		return domain.Result{}, fmt.Errorf("content-creator result: %w: %s", ErrNoResult, head(reason))
	}
	return res, nil
}

// Cancel runs cancel; exit status 0 is success.
func (r *Runner) Cancel(ctx context.Context, externalRef string) (err error) {
	defer r.observe("cancel", externalRef, time.Now(), &err)
	_, err = r.query(ctx, "cancel", r.cfg.CancelTimeout, externalRef)
	return err
}

// queryAnswer runs a command whose answer SERVICE.md §6 asks for with
// --json. A CLI that rejects the option (the published one) is asked again
// without it, then never again with it; text reports that out is that human
// text. Each run has its own timeout: the fallback pays the CLI's start-up
// anew.
func (r *Runner) queryAnswer(ctx context.Context, command string, timeout time.Duration, ref string) (out output, text bool, err error) {
	if !r.textOnly.Load() {
		out, err = r.query(ctx, command, timeout, ref, "--json")
		if !errors.Is(err, ErrExit) || !rejectsJSONOption(out) {
			return out, false, err
		}
		if r.textOnly.CompareAndSwap(false, true) {
			r.log.Info("content-creator CLI has no --json option; reading its text output from now on",
				zap.String("program", r.program), zap.String("command", command))
		}
	}
	out, err = r.query(ctx, command, timeout, ref)
	return out, true, err
}

// query runs a command about one task and turns a non-zero exit whose output
// says the task is unknown into ports.ErrCreatorUnknownTask.
func (r *Runner) query(ctx context.Context, command string, timeout time.Duration, ref string, extra ...string) (output, error) {
	if ref == "" {
		return output{}, fmt.Errorf("content-creator %s: empty external ref", command)
	}
	args := append([]string{command, "--task-id", ref}, extra...)
	out, err := r.run(ctx, command, timeout, args, newRedactor(r.cfg.Secret, ""))
	var runErr *RunError
	if errors.As(err, &runErr) && errors.Is(err, ErrExit) &&
		runErr.ExitCode != 126 && runErr.ExitCode != 127 && saysUnknownTask(out) {
		return out, fmt.Errorf("%w %q: %w", ports.ErrCreatorUnknownTask, ref, err)
	}
	return out, err
}

func badOutput(command, reason string, out output) error {
	if out.truncated {
		reason += fmt.Sprintf(" (stdout was cut at %d bytes)", len(out.stdout))
	}
	return fmt.Errorf("content-creator %s: %w: %s", command, ErrBadOutput, reason)
}

// observe records one call's outcome.
func (r *Runner) observe(command, ref string, start time.Time, err *error) {
	took := time.Since(start)
	outcome := outcomeOf(*err)
	if r.metrics != nil {
		r.metrics.RunnerExecuted(command, outcome, took)
	}
	r.log.Debug("content-creator command ran",
		zap.String("command", command), zap.String("external_ref", ref),
		zap.String("outcome", outcome), zap.Duration("took", took))
}

func outcomeOf(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ports.ErrCreatorUnknownTask):
		return "unknown_task"
	case errors.Is(err, ErrTimeout):
		return "timeout"
	case errors.Is(err, ErrNotStarted):
		return "not_started"
	case errors.Is(err, ErrExit):
		return "exit_error"
	case errors.Is(err, ErrTaskFailed):
		return "task_failed"
	case errors.Is(err, ErrNoResult):
		return "no_result"
	case errors.Is(err, ErrBadOutput):
		return "bad_output"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "cancelled"
	}
	return "error"
}

// Probe runs the CLI's help: content-creator can be started and answers
// (SERVICE.md §14), without submitting anything.
func (r *Runner) Probe(ctx context.Context) (err error) {
	defer r.observe("probe", "", time.Now(), &err)
	_, err = r.run(ctx, "probe", r.cfg.StatusTimeout, []string{"help"}, newRedactor(r.cfg.Secret, ""))
	return err
}
