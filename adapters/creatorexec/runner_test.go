package creatorexec_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"

	"contenthub/adapters/creatorexec"
	"contenthub/domain"
	"contenthub/ports"
	"contenthub/ports/mocks"
)

// fakeCLI is a shell script standing in for content-creator. It records its
// argv and environment (NUL-separated) in its directory, then runs body.
type fakeCLI struct {
	dir  string
	path string
}

func newFakeCLI(t *testing.T, body string) fakeCLI {
	t.Helper()
	return newFakeCLIIn(t, t.TempDir(), "content-creator", body)
}

func newFakeCLIIn(t *testing.T, dir, name, body string) fakeCLI {
	t.Helper()
	f := fakeCLI{dir: dir, path: filepath.Join(dir, name)}
	script := "#!/bin/sh\n" +
		"REC=" + shellQuote(dir) + "\n" +
		"FIXTURES=" + shellQuote(mustAbs(t, "testdata")) + "\n" +
		`printf '%s\0' "$@" > "$REC/argv"` + "\n" +
		`cat /proc/$$/environ > "$REC/env"` + "\n" +
		body + "\n"
	require.NoError(t, os.WriteFile(f.path, []byte(script), 0o755))
	return f
}

func (f fakeCLI) argv(t *testing.T) []string { return f.record(t, "argv") }
func (f fakeCLI) env(t *testing.T) []string  { return f.record(t, "env") }

func (f fakeCLI) record(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dir, name))
	require.NoError(t, err)
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

// pid reads a pid the script wrote to a file of its directory.
func (f fakeCLI) pid(t *testing.T, name string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dir, name))
	require.NoError(t, err, "the fake should have written %s", name)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	return pid
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	require.NoError(t, err)
	return abs
}

func newRunner(t *testing.T, cfg creatorexec.Config, opts ...creatorexec.Option) *creatorexec.Runner {
	t.Helper()
	r, err := creatorexec.New(cfg, opts...)
	require.NoError(t, err)
	return r
}

// requireGone waits (bounded) until pid no longer runs; a zombie waiting for
// init to reap it counts as gone.
func requireGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X')
}

// liveGroupMembers lists the processes of group pgid that are not zombies.
func liveGroupMembers(t *testing.T, pgid int) []int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	require.NoError(t, err)
	var live []int
	for _, path := range stats {
		stat, err := os.ReadFile(path)
		if err != nil {
			continue // exited meanwhile
		}
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(stat[i+1:])) // state, ppid, pgrp, …
		if len(fields) > 2 && fields[2] == strconv.Itoa(pgid) && fields[0] != "Z" && fields[0] != "X" {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(path)))
			live = append(live, pid)
		}
	}
	return live
}

func TestNewValidatesConfig(t *testing.T) {
	for name, cfg := range map[string]creatorexec.Config{
		"empty command":      {},
		"blank command":      {Command: "  \t "},
		"unbalanced quote":   {Command: `"/opt/content creator`},
		"negative timeout":   {Command: "cc", StatusTimeout: -time.Second},
		"negative limit":     {Command: "cc", OutputLimit: -1},
		"malformed env pair": {Command: "cc", Env: []string{"OK=1", "hunter2"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := creatorexec.New(cfg)
			require.Error(t, err)
			require.NotContains(t, err.Error(), "hunter2")
		})
	}
}

func TestSubmitArgv(t *testing.T) {
	tests := []struct {
		name string
		req  ports.SubmitRequest
		want []string
	}{
		{
			name: "every flag",
			req: ports.SubmitRequest{
				ExternalRef: "task-abc-2", Brief: domain.Brief{Topic: `AI 写作 "quoted" $HOME`, Requirements: "line one\nline two",
					Tone: "专业", Keywords: []string{"go", " rust ", ""}},
				CallbackURL: "http://127.0.0.1:8080/api/v1/content/callback/task-abc?token=tok_123",
			},
			want: []string{"create", "--type", "content-creator", "--mode", "async",
				"--topic", `AI 写作 "quoted" $HOME`, "--task-id", "task-abc-2",
				"--requirements", "line one\nline two", "--tone", "专业", "--keywords", "go,rust",
				"--callback-url", "http://127.0.0.1:8080/api/v1/content/callback/task-abc?token=tok_123"},
		},
		{
			name: "only the required flags",
			req:  ports.SubmitRequest{ExternalRef: "task-abc-1", Brief: domain.Brief{Topic: "边缘计算", Keywords: []string{" "}}},
			want: []string{"create", "--type", "content-creator", "--mode", "async",
				"--topic", "边缘计算", "--task-id", "task-abc-1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cli := newFakeCLI(t, "exit 0")
			r := newRunner(t, creatorexec.Config{Command: cli.path})

			res, err := r.Submit(t.Context(), tt.req)
			require.NoError(t, err)
			require.Equal(t, tt.want, cli.argv(t))
			require.Equal(t, tt.req.ExternalRef, res.ExternalRef, "without an id in the output, the requested one")
		})
	}
}

func TestQueryArgv(t *testing.T) {
	cli := newFakeCLI(t, `case "$1" in
status) echo '{"taskId":"task-abc-1","status":"running"}' ;;
result) echo '{"content":"# Done"}' ;;
esac`)
	r := newRunner(t, creatorexec.Config{Command: cli.path})

	st, err := r.Status(t.Context(), "task-abc-1")
	require.NoError(t, err)
	require.Equal(t, []string{"status", "--task-id", "task-abc-1", "--json"}, cli.argv(t))
	require.Equal(t, ports.CreatorStatus{Phase: ports.PhaseRunning, Raw: "running"}, st)

	res, err := r.Result(t.Context(), "task-abc-1")
	require.NoError(t, err)
	require.Equal(t, []string{"result", "--task-id", "task-abc-1", "--json"}, cli.argv(t))
	require.Equal(t, domain.Result{Content: "# Done"}, res)

	require.NoError(t, r.Cancel(t.Context(), "task-abc-1"))
	require.Equal(t, []string{"cancel", "--task-id", "task-abc-1"}, cli.argv(t))
}

func TestCommandLineWithExtraWords(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "with space")
	require.NoError(t, os.Mkdir(dir, 0o755))
	cli := newFakeCLIIn(t, dir, "fake cli", `echo '{"status":"completed"}'`)
	r := newRunner(t, creatorexec.Config{Command: `"` + cli.path + `" --flag 'two words' back\ slash`})

	st, err := r.Status(t.Context(), "ref-1")
	require.NoError(t, err)
	require.Equal(t, ports.PhaseCompleted, st.Phase)
	require.Equal(t, []string{"--flag", "two words", "back slash", "status", "--task-id", "ref-1", "--json"}, cli.argv(t))
}

func TestSubmitUsesTheIDTheCLIReports(t *testing.T) {
	for name, tt := range map[string]struct{ body, want string }{
		"simulator JSON":          {`echo 'Configuration Loaded'; echo '{"taskId":"cc-777","status":"submitted"}'`, "cc-777"},
		"real CLI's text answer":  {`cat "$FIXTURES/cli-create-completed.stdout"; cat "$FIXTURES/cli-create-completed.stderr" >&2`, "test-cli-001"},
		"JSON under data":         {`echo '{"success":true,"data":{"id":"cc-777"}}'`, "cc-777"},
		"pretty JSON with banner": {`printf 'banner\n{\n  "task_id": "cc-777"\n}\nbye\n'`, "cc-777"},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRunner(t, creatorexec.Config{Command: newFakeCLI(t, tt.body).path})
			res, err := r.Submit(t.Context(), ports.SubmitRequest{ExternalRef: "task-x-1", Brief: domain.Brief{Topic: "t"}})
			require.NoError(t, err)
			require.Equal(t, tt.want, res.ExternalRef)
		})
	}
}

func TestSubmitReportedFailureIsAnError(t *testing.T) {
	t.Run("real CLI exits 0 after a failed run", func(t *testing.T) {
		cli := newFakeCLI(t, `cat "$FIXTURES/cli-create-failed.stdout"; cat "$FIXTURES/cli-create-failed.stderr" >&2; exit 0`)
		r := newRunner(t, creatorexec.Config{Command: cli.path})

		_, err := r.Submit(t.Context(), ports.SubmitRequest{ExternalRef: "test-fail-001", Brief: domain.Brief{Topic: "t"}})
		require.ErrorIs(t, err, creatorexec.ErrTaskFailed)
		require.EqualError(t, err, "content-creator create: content-creator reported the task failed: Text quality check failed after 3 attempts")
	})

	t.Run("JSON status failed", func(t *testing.T) {
		cli := newFakeCLI(t, `echo '{"taskId":"x","status":"failed","error":{"message":"see http://cb?token=tok_123","type":"execution_error"}}'`)
		r := newRunner(t, creatorexec.Config{Command: cli.path})

		_, err := r.Submit(t.Context(), ports.SubmitRequest{ExternalRef: "x", Brief: domain.Brief{Topic: "t"}, CallbackURL: "http://cb?token=tok_123"})
		require.ErrorIs(t, err, creatorexec.ErrTaskFailed)
		require.EqualError(t, err, "content-creator create: content-creator reported the task failed: execution_error: see http://cb?token=REDACTED")
	})
}

func TestSecretGoesToTheEnvironmentOnly(t *testing.T) {
	const secret = "whsec_c2VjcmV0LXZhbHVlLWZvci10ZXN0cw=="
	t.Setenv(creatorexec.SecretEnv, "inherited-stale-secret")

	t.Run("secret set", func(t *testing.T) {
		cli := newFakeCLI(t, "exit 0")
		r := newRunner(t, creatorexec.Config{Command: cli.path, Secret: secret, Env: []string{"EXTRA_SETTING=1", "LLM_API_KEY=k"}})
		_, err := r.Submit(t.Context(), ports.SubmitRequest{ExternalRef: "r-1", Brief: domain.Brief{Topic: "t"}, CallbackURL: "http://cb/x?token=tok"})
		require.NoError(t, err)

		env := cli.env(t)
		require.Contains(t, env, creatorexec.SecretEnv+"="+secret)
		require.NotContains(t, env, creatorexec.SecretEnv+"=inherited-stale-secret")
		require.Contains(t, env, "EXTRA_SETTING=1")
		require.Contains(t, env, "LLM_API_KEY=k")
		require.Contains(t, env, "PATH="+os.Getenv("PATH"), "the allowlist is passed on")
		for _, arg := range cli.argv(t) {
			require.NotContains(t, arg, secret)
		}
	})

	t.Run("no secret: none inherited either", func(t *testing.T) {
		cli := newFakeCLI(t, "exit 0")
		r := newRunner(t, creatorexec.Config{Command: cli.path})
		_, err := r.Submit(t.Context(), ports.SubmitRequest{ExternalRef: "r-1", Brief: domain.Brief{Topic: "t"}})
		require.NoError(t, err)
		for _, kv := range cli.env(t) {
			require.False(t, strings.HasPrefix(kv, creatorexec.SecretEnv+"="), kv)
		}
	})
}

// TestChildEnvironmentIsAnAllowlist: the child sees the allowlist, what
// the policy passes on purpose and the secret — nothing of the service's own
// configuration, even when a pass pattern would match it.
func TestChildEnvironmentIsAnAllowlist(t *testing.T) {
	service := map[string]string{
		"DATABASE_URL":       "postgres://u:pw@db/contenthub",
		"API_TOKENS":         "api-token-1,api-token-2",
		"WEBHOOK_SECRET_KEY": "current-secret,rotated-out-secret",
		"AWS_SECRET":         "not-named-so-not-passed",
	}
	for k, v := range service {
		t.Setenv(k, v)
	}
	t.Setenv("LLM_API_KEY", "llm-key")
	t.Setenv("TAVILY_API_KEY", "tavily-key")
	t.Setenv("LC_ALL", "C.UTF-8")

	cli := newFakeCLI(t, "exit 0")
	r := newRunner(t, creatorexec.Config{Command: cli.path, Secret: "current-secret", EnvPolicy: creatorexec.EnvPolicy{
		Pass: []string{"LLM_API_KEY", "TAVILY_*", "WEBHOOK_*", "API_*"},
		Deny: []string{"DATABASE_URL", "API_TOKENS", "WEBHOOK_SECRET_KEY"},
	}})
	_, err := r.Submit(t.Context(), ports.SubmitRequest{ExternalRef: "r-1", Brief: domain.Brief{Topic: "t"}})
	require.NoError(t, err)

	allowed := map[string]bool{"LLM_API_KEY": true, "TAVILY_API_KEY": true, creatorexec.SecretEnv: true}
	got := map[string]string{}
	for _, kv := range cli.env(t) {
		name, value, _ := strings.Cut(kv, "=")
		got[name] = value
		if allowed[name] || name == "PWD" || name == "SHLVL" || name == "_" { // the last three: set by sh itself
			continue
		}
		require.True(t, slices.ContainsFunc(creatorexec.BaseEnv, func(p string) bool {
			prefix, wildcard := strings.CutSuffix(p, "*")
			return name == p || wildcard && strings.HasPrefix(name, prefix)
		}), "the child got %s, which is neither allowlisted nor passed on purpose", name)
	}
	require.Equal(t, "llm-key", got["LLM_API_KEY"])
	require.Equal(t, "tavily-key", got["TAVILY_API_KEY"])
	require.Equal(t, "current-secret", got[creatorexec.SecretEnv])
	require.Equal(t, "C.UTF-8", got["LC_ALL"])
	for name, value := range service {
		require.NotContains(t, got, name)
		for _, kv := range cli.env(t) {
			require.NotContains(t, kv, value, "a service value leaked")
			require.NotContains(t, kv, "rotated-out-secret")
		}
	}
}

func TestPassPatternsAreChecked(t *testing.T) {
	for _, bad := range []string{"*", "", "A*B", "X=1"} {
		_, err := creatorexec.New(creatorexec.Config{Command: "cc", EnvPolicy: creatorexec.EnvPolicy{Pass: []string{bad}}})
		require.Error(t, err, "%q", bad)
	}
}

func TestTimeoutKillsTheProcessGroup(t *testing.T) {
	cli := newFakeCLI(t, `echo "still generating" >&2
echo $$ > "$REC/leader"
sleep 300 &
echo $! > "$REC/grandchild.tmp" && mv "$REC/grandchild.tmp" "$REC/grandchild"
sleep 300`)
	// On a loaded machine the script may not reach the grandchild in time:
	// then try again with more time.
	var err error
	timeout := 250 * time.Millisecond
	for ; ; timeout *= 2 {
		r := newRunner(t, creatorexec.Config{Command: cli.path, StatusTimeout: timeout})
		_, err = r.Status(t.Context(), "ref-1")
		if _, statErr := os.Stat(filepath.Join(cli.dir, "grandchild")); statErr == nil || timeout > 4*time.Second {
			break
		}
	}
	require.ErrorIs(t, err, creatorexec.ErrTimeout)
	require.NotErrorIs(t, err, ports.ErrCreatorUnknownTask)
	var runErr *creatorexec.RunError
	require.ErrorAs(t, err, &runErr)
	require.Equal(t, timeout, runErr.Timeout)
	require.EqualError(t, err, "content-creator status: timed out after "+timeout.String()+", process group killed; output: still generating")

	requireGone(t, cli.pid(t, "grandchild"))
	leader := cli.pid(t, "leader")
	require.Empty(t, liveGroupMembers(t, leader), "no process of the group is left")
}

func TestCancelledContextKillsTheProcessGroup(t *testing.T) {
	cli := newFakeCLI(t, `sleep 300 &
echo $! > "$REC/grandchild.tmp" && mv "$REC/grandchild.tmp" "$REC/grandchild"
sleep 300`)
	r := newRunner(t, creatorexec.Config{Command: cli.path})

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := r.Submit(ctx, ports.SubmitRequest{ExternalRef: "r-1", Brief: domain.Brief{Topic: "t"}})
		errc <- err
	}()
	grandchild := filepath.Join(cli.dir, "grandchild")
	require.Eventually(t, func() bool { _, err := os.Stat(grandchild); return err == nil }, 10*time.Second, 5*time.Millisecond)
	cancel()

	err := <-errc
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, creatorexec.ErrTimeout)
	require.ErrorContains(t, err, "content-creator create: stopped, process group killed: context canceled")
	requireGone(t, cli.pid(t, "grandchild"))
}

func TestAlreadyCancelledContextStartsNothing(t *testing.T) {
	cli := newFakeCLI(t, "exit 0")
	r := newRunner(t, creatorexec.Config{Command: cli.path})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	err := r.Cancel(ctx, "r-1")
	require.ErrorIs(t, err, context.Canceled)
	require.NoFileExists(t, filepath.Join(cli.dir, "argv"))
}

func TestGrandchildHoldingThePipesDoesNotHangAFinishedRun(t *testing.T) {
	// Like a simulator whose detached worker forgot to close stdout: create
	// exits 0 at once, the worker lives on with our pipe.
	cli := newFakeCLI(t, `sleep 300 &
echo $! > "$REC/worker"
echo '{"taskId":"r-1","status":"submitted"}'`)
	r := newRunner(t, creatorexec.Config{Command: cli.path, WaitDelay: 500 * time.Millisecond})

	res, err := r.Submit(t.Context(), ports.SubmitRequest{ExternalRef: "r-1", Brief: domain.Brief{Topic: "t"}})
	worker := cli.pid(t, "worker")
	t.Cleanup(func() { _ = syscall.Kill(worker, syscall.SIGKILL) })
	require.NoError(t, err)
	require.Equal(t, "r-1", res.ExternalRef)
	require.False(t, processGone(worker), "a child that exited 0 leaves its workers alone")
}

func TestMissingBinary(t *testing.T) {
	t.Run("path", func(t *testing.T) {
		program := filepath.Join(t.TempDir(), "no-such-dir", "content-creator")
		r := newRunner(t, creatorexec.Config{Command: program + " --verbose"})

		_, err := r.Status(t.Context(), "ref-1")
		require.ErrorIs(t, err, creatorexec.ErrNotStarted)
		require.ErrorIs(t, err, fs.ErrNotExist)
		require.ErrorContains(t, err, fmt.Sprintf("content-creator status: the CLI could not be started (CREATOR_CLI_PATH program %q)", program))
	})

	t.Run("name looked up in PATH", func(t *testing.T) {
		r := newRunner(t, creatorexec.Config{Command: "no-such-content-creator-cli create"})

		_, err := r.Submit(t.Context(), ports.SubmitRequest{ExternalRef: "r-1", Brief: domain.Brief{Topic: "t"}, CallbackURL: "http://cb?token=tok_123"})
		require.ErrorIs(t, err, creatorexec.ErrNotStarted)
		require.ErrorIs(t, err, exec.ErrNotFound)
		require.ErrorContains(t, err, `CREATOR_CLI_PATH program "no-such-content-creator-cli"`)
		require.NotContains(t, err.Error(), "tok_123")
	})
}

func TestNonZeroExit(t *testing.T) {
	const token = "tok_SECRET_123"
	const secret = "signing-secret-xyz"
	// 20 KB of multi-byte noise on stderr, then what matters, then the argv
	// and the environment echoed as a careless CLI might.
	cli := newFakeCLI(t, `i=0
while [ $i -lt 1000 ]; do printf '错误日志行%04d\n' $i >&2; i=$((i+1)); done
echo "FATAL: database is locked" >&2
echo "args: $*" >&2
echo "secret: $CONTENT_CREATOR_WEBHOOK_SECRET" >&2
exit 3`)
	r := newRunner(t, creatorexec.Config{Command: cli.path, Secret: secret})

	_, err := r.Submit(t.Context(), ports.SubmitRequest{
		ExternalRef: "r-1", Brief: domain.Brief{Topic: "t"}, CallbackURL: "http://127.0.0.1:8080/api/v1/content/callback/task-1?token=" + token,
	})
	require.ErrorIs(t, err, creatorexec.ErrExit)
	var runErr *creatorexec.RunError
	require.ErrorAs(t, err, &runErr)
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr)
	require.Equal(t, 3, runErr.ExitCode)
	require.Equal(t, "create", runErr.Command)

	msg := err.Error()
	require.True(t, strings.HasPrefix(msg, "content-creator create: exit status 3; output: …"), msg[:80])
	require.Contains(t, msg, "错误日志行0999\nFATAL: database is locked\nargs: create --type content-creator")
	require.Contains(t, msg, "--callback-url http://127.0.0.1:8080/api/v1/content/callback/task-1?token=REDACTED\nsecret: REDACTED")
	require.NotContains(t, msg, token)
	require.NotContains(t, msg, secret)
	require.LessOrEqual(t, len(runErr.Tail), 2048+len("…"))
	require.True(t, utf8.ValidString(runErr.Tail))
}

func TestNonZeroExitWithOnlyStdout(t *testing.T) {
	cli := newFakeCLI(t, `echo '{"error":"queue is full"}'; exit 2`)
	r := newRunner(t, creatorexec.Config{Command: cli.path})

	err := r.Cancel(t.Context(), "r-1")
	require.ErrorIs(t, err, creatorexec.ErrExit)
	require.NotErrorIs(t, err, ports.ErrCreatorUnknownTask)
	require.EqualError(t, err, `content-creator cancel: exit status 2; output: {"error":"queue is full"}`)
}

func TestHugeOutputIsCapped(t *testing.T) {
	const fiveMiB = 5 << 20
	noise := fmt.Sprintf("head -c %d /dev/zero | tr '\\0' x", fiveMiB)

	t.Run("answer first, then 5 MiB on each stream", func(t *testing.T) {
		cli := newFakeCLI(t, `echo '{"status":"waiting"}'
`+noise+`
`+noise+` >&2`)
		r := newRunner(t, creatorexec.Config{Command: cli.path})
		st, err := r.Status(t.Context(), "r-1")
		require.NoError(t, err)
		require.Equal(t, ports.CreatorStatus{Phase: ports.PhaseRunning, Raw: "waiting"}, st)
	})

	t.Run("answer past the limit", func(t *testing.T) {
		cli := newFakeCLI(t, noise+`
echo '{"content":"# late"}'`)
		r := newRunner(t, creatorexec.Config{Command: cli.path, OutputLimit: 64 << 10})
		_, err := r.Result(t.Context(), "r-1")
		require.ErrorIs(t, err, creatorexec.ErrBadOutput)
		require.ErrorContains(t, err, "stdout was cut at 65536 bytes")
	})

	t.Run("5 MiB of stderr lines before failing", func(t *testing.T) {
		cli := newFakeCLI(t, fmt.Sprintf("yes 'log line' | head -c %d", fiveMiB)+` >&2
echo >&2
echo "the end" >&2
exit 1`)
		r := newRunner(t, creatorexec.Config{Command: cli.path})
		_, err := r.Status(t.Context(), "r-1")
		var runErr *creatorexec.RunError
		require.ErrorAs(t, err, &runErr)
		require.True(t, strings.HasSuffix(runErr.Tail, "\nthe end"), runErr.Tail[len(runErr.Tail)-20:])
		require.Contains(t, runErr.Tail, "log line\nlog line\n")
		require.LessOrEqual(t, len(runErr.Tail), 2048+len("…"))
	})
}

func TestUnknownTask(t *testing.T) {
	realNotFound := `cat "$FIXTURES/cli-status-notfound.stdout"; cat "$FIXTURES/cli-status-notfound.stderr" >&2; exit 1`
	englishNotFound := `echo "Error: task $3 not found" >&2; exit 1`
	calls := map[string]func(r *creatorexec.Runner) error{
		"status": func(r *creatorexec.Runner) error { _, err := r.Status(t.Context(), "test-nonexistent"); return err },
		"result": func(r *creatorexec.Runner) error { _, err := r.Result(t.Context(), "test-nonexistent"); return err },
		"cancel": func(r *creatorexec.Runner) error { return r.Cancel(t.Context(), "test-nonexistent") },
	}
	for command, call := range calls {
		for name, body := range map[string]string{"real CLI": realNotFound, "English": englishNotFound} {
			t.Run(command+"/"+name, func(t *testing.T) {
				r := newRunner(t, creatorexec.Config{Command: newFakeCLI(t, body).path})
				err := call(r)
				require.ErrorIs(t, err, ports.ErrCreatorUnknownTask)
				require.ErrorIs(t, err, creatorexec.ErrExit)
				require.ErrorContains(t, err, `"test-nonexistent"`)
				require.ErrorContains(t, err, "content-creator "+command+": exit status 1")
			})
		}
	}

	t.Run("a shell that cannot find the interpreter is not an unknown task", func(t *testing.T) {
		r := newRunner(t, creatorexec.Config{Command: newFakeCLI(t, `echo "sh: 1: node: not found" >&2; exit 127`).path})
		_, err := r.Status(t.Context(), "task-1")
		require.ErrorIs(t, err, creatorexec.ErrExit)
		require.NotErrorIs(t, err, ports.ErrCreatorUnknownTask)
	})
}

func TestStatusOfTheRealCLI(t *testing.T) {
	for file, want := range map[string]ports.CreatorStatus{
		"cli-status":      {Phase: ports.PhaseCompleted, Raw: "completed"},
		"cli-status-fail": {Phase: ports.PhaseFailed, Raw: "failed", Error: domain.TaskError{Message: "Text quality check failed after 3 attempts"}},
	} {
		t.Run(file, func(t *testing.T) {
			cli := newFakeCLI(t, `cat "$FIXTURES/`+file+`.stdout"; cat "$FIXTURES/`+file+`.stderr" >&2`)
			r := newRunner(t, creatorexec.Config{Command: cli.path})
			st, err := r.Status(t.Context(), "test-cli-001")
			require.NoError(t, err)
			require.Equal(t, want, st)
		})
	}

	t.Run("nothing to read", func(t *testing.T) {
		r := newRunner(t, creatorexec.Config{Command: newFakeCLI(t, `echo "all good"`).path})
		_, err := r.Status(t.Context(), "r-1")
		require.ErrorIs(t, err, creatorexec.ErrBadOutput)
		require.EqualError(t, err, "content-creator status: unreadable output: no status in the output")
	})
}

func TestResultWithoutArticle(t *testing.T) {
	for file, want := range map[string]string{
		"cli-result-json":      `content-creator result: no article in the result: the answer has no content (status "completed")`,
		"cli-result-fail-json": "content-creator result: no article in the result: 任务尚未完成，当前状态: ❌ 失败",
	} {
		t.Run(file, func(t *testing.T) {
			cli := newFakeCLI(t, `cat "$FIXTURES/`+file+`.stdout"; cat "$FIXTURES/`+file+`.stderr" >&2`)
			r := newRunner(t, creatorexec.Config{Command: cli.path})
			_, err := r.Result(t.Context(), "test-cli-001")
			require.ErrorIs(t, err, creatorexec.ErrNoResult)
			require.EqualError(t, err, want)
		})
	}
}

func TestResultOfASimulatorLine(t *testing.T) {
	cli := newFakeCLI(t, `cat "$FIXTURES/cli-status.stdout"; tr -d '\n' < "$FIXTURES/callback-completed.body.json"; echo`)
	r := newRunner(t, creatorexec.Config{Command: cli.path})

	res, err := r.Result(t.Context(), "test-api-001")
	require.NoError(t, err)
	require.Equal(t, "边缘计算入门", domain.FirstHeading(res.Content))
	require.Len(t, res.Images, 2)
	require.NotNil(t, res.WordCount)
	require.Equal(t, 1146, *res.WordCount)
}

func TestMetricsRecordEachRun(t *testing.T) {
	ctrl := gomock.NewController(t)
	metrics := mocks.NewMockMetrics(ctrl)
	gomock.InOrder(
		metrics.EXPECT().RunnerExecuted("create", "ok", gomock.Any()),
		metrics.EXPECT().RunnerExecuted("status", "unknown_task", gomock.Any()),
		metrics.EXPECT().RunnerExecuted("result", "timeout", gomock.Any()),
		metrics.EXPECT().RunnerExecuted("cancel", "exit_error", gomock.Any()),
	)
	cli := newFakeCLI(t, `case "$1" in
create) exit 0 ;;
status) echo "task not found" >&2; exit 1 ;;
result) sleep 300 ;;
cancel) exit 4 ;;
esac`)
	r := newRunner(t, creatorexec.Config{Command: cli.path, ResultTimeout: 200 * time.Millisecond}, creatorexec.WithMetrics(metrics))

	_, err := r.Submit(t.Context(), ports.SubmitRequest{ExternalRef: "r-1", Brief: domain.Brief{Topic: "t"}})
	require.NoError(t, err)
	_, err = r.Status(t.Context(), "r-1")
	require.Error(t, err)
	_, err = r.Result(t.Context(), "r-1")
	require.Error(t, err)
	require.Error(t, r.Cancel(t.Context(), "r-1"))
}

// TestSubmitErrorsSayWhatTheyMean: a create that was killed may have started
// the job (unknown), a usage error recurs (refused), the published CLI's
// async queue is refused with the way out, anything else may be retried.
func TestSubmitErrorsSayWhatTheyMean(t *testing.T) {
	submit := func(t *testing.T, body string, cfg creatorexec.Config) error {
		cli := newFakeCLI(t, body)
		cfg.Command = cli.path
		_, err := newRunner(t, cfg).Submit(t.Context(), ports.SubmitRequest{ExternalRef: "task-s-1", Brief: domain.Brief{Topic: "t"}})
		return err
	}
	t.Run("timed out after starting the job", func(t *testing.T) {
		err := submit(t, `echo '{"taskId":"task-s-1","status":"pending"}'; sleep 300`, creatorexec.Config{SubmitTimeout: 300 * time.Millisecond})
		require.ErrorIs(t, err, ports.ErrSubmitOutcomeUnknown)
		require.ErrorIs(t, err, creatorexec.ErrTimeout)
		require.NotErrorIs(t, err, ports.ErrSubmitRefused)
	})
	t.Run("usage error of the published CLI", func(t *testing.T) {
		err := submit(t, `printf '❌ 参数错误:\n  • 缺少必需参数: requirements\n' >&2; exit 1`, creatorexec.Config{})
		require.ErrorIs(t, err, ports.ErrSubmitRefused)
		require.Contains(t, err.Error(), "缺少必需参数: requirements")
	})
	t.Run("usage error of commander", func(t *testing.T) {
		err := submit(t, `echo "error: unknown option '--frobnicate'" >&2; exit 1`, creatorexec.Config{})
		require.ErrorIs(t, err, ports.ErrSubmitRefused)
	})
	t.Run("the published CLI's async queue", func(t *testing.T) {
		cli := newFakeCLI(t, `case "$1" in
create) cat "$FIXTURES/cli-create-async.stdout" ;;
cancel) printf '%s\n' "$@" > "$REC/cancelled" ;;
esac`)
		_, err := newRunner(t, creatorexec.Config{Command: cli.path}).Submit(t.Context(),
			ports.SubmitRequest{ExternalRef: "task-s-1", Brief: domain.Brief{Topic: "t"}})
		require.ErrorIs(t, err, ports.ErrSubmitRefused)
		require.Contains(t, err.Error(), "CREATOR_PROFILE=cli")
		cancelled, err := os.ReadFile(filepath.Join(cli.dir, "cancelled"))
		require.NoError(t, err, "the job it queued is taken off its queue")
		require.Equal(t, "cancel\n--task-id\n69d00855-9d02-45ef-bdb2-0b8a99055c97\n", string(cancelled))
	})
	t.Run("a failure that may pass", func(t *testing.T) {
		err := submit(t, `echo "❌ 错误: 创建任务失败: database is locked" >&2; exit 1`, creatorexec.Config{})
		require.ErrorIs(t, err, creatorexec.ErrExit)
		require.NotErrorIs(t, err, ports.ErrSubmitRefused)
		require.NotErrorIs(t, err, ports.ErrSubmitOutcomeUnknown)
	})
}
