// Package cli is the simulator's command line: the content-creator commands the service's exec runner calls
// (create, status, result, cancel) and the hidden command the detached worker runs.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command failed: unknown task, duplicate id, task not finished, …
	exitUsage = 2 // bad flags or environment
)

// workerCommand is the hidden command create re-executes the binary with.
const workerCommand = "_worker"

// helpText is the simulator's help text.
const helpText = `content-creator-sim — a reference simulator of the content-creator CLI.

It speaks the command-line contract the ContentHub service's exec runner uses. "create" records a task and
returns at once; a detached worker then writes a deterministic Markdown article from the topic, updates the
task's state file at each stage and POSTs progress and completed (or failed) callbacks to --callback-url.

Commands:
  create --type content-creator --mode async --topic T --task-id ID [--requirements R] [--tone X]
         [--keywords "a,b"] [--target-audience A] [--callback-url URL]
      Record the task and start its worker. Prints {"taskId":"ID","status":"pending"}.
      A reused id fails (exit 1, "UNIQUE constraint failed: tasks.id"); --taskId is an alias of --task-id.
  status --task-id ID [--json]
      {"taskId","status":"pending|running|completed|failed|cancelled","progress":{…},"error":{…},"updatedAt"}
  result --task-id ID [--json]
      The article of a completed task: {"taskId","status","content","htmlContent","images","qualityScore",
      "wordCount","metrics"}; exit 1 while the task is not completed.
  cancel --task-id ID
      Cancel a pending or running task; its worker stops and sends no completion.
  help
      This text. Every command also takes --help.

Unknown ids: exit 1 with "❌ 错误: 未找到任务 ID" on stderr. Bad flags: exit 2. -t is short for --task-id.

Environment (create reads it and stores it with the task; the worker follows what create saw):
  CONTENT_CREATOR_SIM_STATE_DIR  state directory, one JSON file per task (default ./data/content-creator-sim)
  CONTENT_CREATOR_WEBHOOK_SECRET sign callbacks: X-Webhook-Timestamp + X-Webhook-Signature: sha256=<hex HMAC
                                 of "<ts>.<body>">; a whsec_<base64> secret adds Standard Webhooks headers
                                 (webhook-id, webhook-timestamp, webhook-signature: v1,<base64>)
  SIM_DELAY=2s            total generation time (Go duration or seconds)
  SIM_PROGRESS_STEPS=3    progress stages before 100 %; N gives N+1 progress callbacks (10 % … 100 %),
                          0 none (like the real sender)
  SIM_FAIL=1              fail half-way instead of completing; SIM_FAIL_MESSAGE sets the error message
  SIM_FAIL_ATTEMPTS=N     fail tasks whose id ends in -k with k ≤ N (fail attempt 1, let the retry succeed)
  SIM_NO_CALLBACK=1       never call back (status and result still work)
  SIM_DUPLICATE=1         send every callback twice (same body, same webhook-id)
  SIM_OUT_OF_ORDER=1      send progress callbacks swapped in pairs (40 before 10, 100 before 70)
  SIM_SLOW=<duration>     extra delay before each callback is sent
  SIM_CRASH=1             the worker exits half-way: no further callback, the task stays "running"
  SIM_CRASH_ATTEMPTS=N    crash tasks whose id ends in -k with k ≤ N (a lost first attempt, a retry that succeeds)
  SIM_CREATE_FAIL=1       create itself fails (exit 1, message on stderr)
  SIM_LOG=<path>          the worker's log (default <state dir>/<task id>.log)
  SIM_CALLBACK_ATTEMPTS=4 tries per callback; only 200 and 202 count as delivered
  SIM_CALLBACK_BACKOFF=500ms  wait after the first failed try, doubled after each further one
Topic markers act like the matching variable for one task: [fail], [no-callback], [crash], [slow] (SIM_SLOW,
or 2s when unset).
`

// Run runs the command in args (without the program name) and returns the exit code.
func Run(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, helpText)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, helpText)
		return exitOK
	case "create":
		return create(rest, env, stdout, stderr)
	case "status":
		return status(rest, env, stdout, stderr)
	case "result":
		return result(rest, env, stdout, stderr)
	case "cancel":
		return cancel(rest, env, stdout, stderr)
	case workerCommand:
		return work(ctx, rest, env, stderr)
	default:
		fmt.Fprintf(stderr, "❌ 错误: unknown command %q\n\n%s", cmd, helpText)
		return exitUsage
	}
}

// newFlags returns a flag set for a command that reports errors to stderr.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: content-creator-sim %s %s\n", name, synopsis)
		fs.PrintDefaults()
		fmt.Fprintln(fs.Output(), "\nRun content-creator-sim help for the environment variables.")
	}
	return fs
}

// parse parses args into fs and returns an exit code when the command should stop (help or bad flags).
func parse(fs *flag.FlagSet, args []string, stdout io.Writer) (int, bool) {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		return exitOK, true
	case err != nil: // already reported with the usage by the flag package
		return exitUsage, true
	case fs.NArg() > 0:
		fmt.Fprintf(fs.Output(), "unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		fs.Usage()
		return exitUsage, true
	}
	return exitOK, false
}

// stateDir is the absolute state directory.
func stateDir(env Env) (string, error) {
	dir := env.get(envStateDir)
	if dir == "" {
		dir = defaultStateDir
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("%s: %w", envStateDir, err)
	}
	return abs, nil
}

// banner imitates the real CLI's start-up lines, so the service's parser must find the JSON among them.
func banner(w io.Writer, dir string) {
	fmt.Fprintf(w, "========================================\n"+
		"content-creator-sim 1.0 (reference simulator)\n"+
		"State directory: %s\n"+
		"========================================\n", dir)
}
