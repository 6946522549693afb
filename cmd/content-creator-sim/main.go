// Command content-creator-sim is the reference simulator of the content-creator CLI (SERVICE.md §9). It speaks
// the command-line contract the service's exec runner uses, so the whole flow runs and is tested without the
// real generator.
//
// Commands:
//
//	create --type content-creator --mode async --topic T --task-id ID [--requirements R] [--tone X]
//	       [--keywords "a,b"] [--target-audience A] [--callback-url URL]
//	status --task-id ID [--json]
//	result --task-id ID [--json]
//	cancel --task-id ID
//	help
//
// create records the task in the state directory, starts a detached worker (this binary again, in a new
// session, its output in a log file) and exits at once, printing a banner and then
// {"taskId":"ID","status":"pending"}. A reused id fails with exit 1 and "UNIQUE constraint failed: tasks.id",
// like the real CLI; missing flags exit 2. status, result and cancel answer unknown ids with exit 1 and
// "❌ 错误: 未找到任务 ID" on stderr.
//
// The worker writes a deterministic Markdown article from the topic (same topic, same text), updates the task's
// state file at each stage, and only then POSTs the stage's callback — progress reports, then completed or
// failed — in the real sender's body shape and headers (User-Agent content-creator-sim/1.0). Only 200 and 202
// count as delivered; anything else is retried with exponential backoff, the body unchanged.
//
// Environment (create reads it and stores the outcome with the task; the worker follows what create saw):
//
//	CONTENT_CREATOR_SIM_STATE_DIR   state directory, one JSON file per task (default ./data/content-creator-sim)
//	CONTENT_CREATOR_WEBHOOK_SECRET  signs callbacks: X-Webhook-Timestamp and X-Webhook-Signature
//	                                (sha256=<hex HMAC-SHA256 of "<ts>.<body>">, key the secret's bytes); a secret
//	                                whsec_<base64> also gets Standard Webhooks headers webhook-id,
//	                                webhook-timestamp, webhook-signature (v1,<base64 HMAC of "<id>.<ts>.<body>">,
//	                                key the decoded base64)
//	SIM_DELAY                       total generation time, Go duration or seconds (default 2s)
//	SIM_PROGRESS_STEPS              stages before 100 % (default 3: progress 10, 40, 70, 100); 0 sends no progress
//	SIM_FAIL=1                      fail half-way instead of completing; SIM_FAIL_MESSAGE sets the message
//	SIM_FAIL_ATTEMPTS=N             fail tasks whose id ends in -k with k ≤ N (the service's attempt refs), so
//	                                a first attempt fails and its retry succeeds
//	SIM_NO_CALLBACK=1               never call back; status and result still work
//	SIM_DUPLICATE=1                 send each callback twice (same body, same webhook-id)
//	SIM_OUT_OF_ORDER=1              send progress swapped in pairs (40 before 10, 100 before 70)
//	SIM_SLOW=<duration>             extra delay before each callback is sent
//	SIM_CRASH=1                     the worker exits half-way: no further callback, the task stays running
//	SIM_CRASH_ATTEMPTS=N            crash tasks whose id ends in -k with k ≤ N, so a first attempt is a lost run
//	                                (running forever, SERVICE.md §14) and its retry succeeds
//	SIM_CREATE_FAIL=1               create itself exits 1 with a message on stderr
//	SIM_LOG=<path>                  the worker's log (default <state dir>/<task id>.log)
//	SIM_CALLBACK_ATTEMPTS           tries per callback (default 4)
//	SIM_CALLBACK_BACKOFF            wait after the first failed try, doubled after each further one (default 500ms)
//
// A topic containing [fail], [no-callback], [crash] or [slow] acts like the matching variable for that task
// alone ([slow] waits SIM_SLOW, or 2s when it is unset).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"contenthub/cmd/content-creator-sim/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
