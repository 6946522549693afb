package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// startupFailure runs `contenthub serve` from dir with env (nothing else
// from the test's environment but PATH) and returns its exit code, its
// stderr lines and how long it took.
func startupFailure(t *testing.T, binary, dir string, env ...string) (int, []string, time.Duration) {
	t.Helper()
	code, lines, _, took := startupFailureLog(t, binary, dir, env...)
	return code, lines, took
}

// startupFailureLog is startupFailure that also returns the log (standard
// output).
func startupFailureLog(t *testing.T, binary, dir string, env ...string) (int, []string, string, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "serve")
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	started := time.Now()
	err := cmd.Run()
	took := time.Since(started)
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the service must not start; stderr:\n%s", stderr.String())
	return exit.ExitCode(), strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n"), stdout.String(), took
}

// TestStartupFailuresAreOneLine: each start-up failure an operator meets
// first is one line on stderr naming the cause and the fix, and a non-zero
// exit; LOG_LEVEL=debug adds the full chain.
func TestStartupFailuresAreOneLine(t *testing.T) {
	binary := filepath.Join(binDir, "contenthub")

	t.Run("port in use", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		dir := t.TempDir()
		code, lines, log, _ := startupFailureLog(t, binary, dir, "HTTP_ADDR="+ln.Addr().String())
		require.NotZero(t, code)
		require.Len(t, lines, 1, "%q", lines)
		require.Contains(t, lines[0], "cannot listen on HTTP_ADDR "+ln.Addr().String())
		require.Contains(t, lines[0], "address already in use")
		require.Contains(t, lines[0], "set HTTP_ADDR to a free one")
		// The log tells of nothing that did not happen: the port is taken
		// before the database is migrated or a loop runs, so nothing is
		// migrated, drained or left running.
		for _, claim := range []string{"database migrated", "left running", "drain:", "contenthub started", "http server listening"} {
			require.NotContains(t, log, claim, "the failed start's log:\n%s", log)
		}
		status := exec.Command(binary, "migrate", "status")
		status.Dir, status.Env = dir, []string{"PATH=/usr/bin:/bin"}
		out, err := status.CombinedOutput()
		require.NoError(t, err, "%s", out)
		require.NotRegexp(t, `(?m)^applied`, string(out), "the failed start migrated the database")
		require.Contains(t, string(out), "pending", "migrate status lists the migrations")
	})

	t.Run("PostgreSQL unreachable", func(t *testing.T) {
		code, lines, _ := startupFailure(t, binary, t.TempDir(), "HTTP_ADDR="+freeAddr(t),
			"DATABASE_URL=postgres://hub:s3cret@127.0.0.1:1/hub?sslmode=disable")
		require.NotZero(t, code)
		require.Len(t, lines, 1, "%q", lines)
		require.Contains(t, lines[0], "cannot open DATABASE_URL postgres://hub:xxxxx@127.0.0.1:1/hub")
		require.Contains(t, lines[0], "connection refused")
		require.Contains(t, lines[0], "check that the database server is running")
		require.NotContains(t, lines[0], "s3cret", "the password is never printed")
	})

	t.Run("simulator missing", func(t *testing.T) {
		alone := filepath.Join(t.TempDir(), "contenthub")
		copyFile(t, binary, alone)
		code, lines, _ := startupFailure(t, alone, t.TempDir(), "HTTP_ADDR="+freeAddr(t))
		require.NotZero(t, code)
		require.Len(t, lines, 1, "%q", lines)
		require.Contains(t, lines[0], "CREATOR_CLI_PATH")
		require.Contains(t, lines[0], "run `make build`")
		require.NotContains(t, lines[0], "could not build arguments", "no dependency-injection chain")
	})

	t.Run("debug level adds the chain", func(t *testing.T) {
		code, lines, _ := startupFailure(t, binary, t.TempDir(), "HTTP_ADDR="+freeAddr(t),
			"CREATOR_CLI_PATH=/nonexistent/cc", "LOG_LEVEL=debug")
		require.NotZero(t, code)
		require.Len(t, lines, 2, "%q", lines)
		require.Contains(t, lines[1], "full error: ")
		require.Contains(t, lines[1], "could not build arguments")
	})
}

// TestMissingCreatorCommandStopsTheStart: CREATOR_CLI_PATH=/nonexistent/cc
// exits non-zero at once, naming the variable.
func TestMissingCreatorCommandStopsTheStart(t *testing.T) {
	code, lines, took := startupFailure(t, filepath.Join(binDir, "contenthub"), t.TempDir(),
		"HTTP_ADDR="+freeAddr(t), "CREATOR_CLI_PATH=/nonexistent/cc")
	require.Equal(t, 1, code)
	require.Equal(t, []string{"contenthub serve: invalid configuration: CREATOR_CLI_PATH: /nonexistent/cc does not exist; " +
		"set CREATOR_CLI_PATH to the content-creator program (an executable file, or a name on PATH)"}, lines)
	t.Logf("exited %d after %s", code, took.Round(time.Millisecond))
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, b, 0o755))
}

// consoleTimestamp starts every console log line.
var consoleTimestamp = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t(DEBUG|INFO|WARN|ERROR)\t`)

// TestMakeRunConsoleFromStartToFirstCompletedTask runs the service the way
// `make run` does (console logs, default configuration, the bundled
// simulator beside the binary), pastes the curl command of its ready
// banner, and checks the whole console output up to the completed task:
// the banner with the URLs, and nothing but one-line log entries — no
// stack trace.
func TestMakeRunConsoleFromStartToFirstCompletedTask(t *testing.T) {
	requireCurl(t)
	makefile, err := os.ReadFile("../../Makefile")
	require.NoError(t, err)
	require.Contains(t, string(makefile), "LOG_FORMAT=$${LOG_FORMAT:-console} ./$(BIN)/contenthub serve",
		"make run is what this test reproduces")

	addr := freeAddr(t)
	cmd := exec.Command(filepath.Join(binDir, "contenthub"), "serve")
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "LOG_FORMAT=console", "HTTP_ADDR=" + addr}
	console := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = console, console
	require.NoError(t, cmd.Start())
	svc := &service{t: t, cmd: cmd, addr: addr, logs: console, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(svc.done) }()
	t.Cleanup(func() {
		svc.stop()
		if t.Failed() {
			t.Logf("console:\n%s", console.String())
		}
	})

	var try string
	deadline := time.Now().Add(30 * time.Second)
	for try == "" && time.Now().Before(deadline) {
		if m := regexp.MustCompile(`(?m)^  Try        (curl .*)$`).FindStringSubmatch(console.String()); m != nil {
			try = m[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NotEmpty(t, try, "the ready banner appears")
	out, err := exec.Command("bash", "-c", try).CombinedOutput()
	require.NoError(t, err, "%s", out)
	taskID := regexp.MustCompile(`"task_id":"([^"]+)"`).FindStringSubmatch(string(out))
	require.NotNil(t, taskID, "%s", out)
	svc.waitStatus(taskID[1], "completed", 30*time.Second)
	// Client mistakes are warnings, not program faults: no stack trace either.
	require.Equal(t, http.StatusNotFound, svc.call(http.MethodGet, "/api/v1/content/tasks/task-nope", nil, nil))
	require.Equal(t, http.StatusForbidden, svc.call(http.MethodPost, "/api/v1/content/callback/"+taskID[1], map[string]any{"event": "progress"}, nil))
	require.Equal(t, http.StatusUnprocessableEntity, svc.call(http.MethodGet, "/api/v1/content/tasks?cursor=%%%garbage", nil, nil))
	waitFor(t, func() bool { return strings.Count(console.String(), "\tWARN\t") >= 4 })

	text := console.String()
	base := "http://" + addr
	for _, want := range []string{
		"ContentHub is ready.",
		"  API        " + base + "/api/v1/content/tasks",
		"  Dashboard  " + base + "/ui/",
		"  Metrics    " + base + "/metrics",
	} {
		require.Contains(t, text, want+"\n")
	}
	banner := true
	sc := bufio.NewScanner(strings.NewReader(text))
	var logLines int
	for sc.Scan() {
		line := sc.Text()
		switch {
		case consoleTimestamp.MatchString(line):
			logLines++
			banner = false
		case line == "" || strings.HasPrefix(line, "ContentHub is ready.") || strings.HasPrefix(line, "  "):
			require.True(t, banner || line == "" || strings.HasPrefix(line, "ContentHub"), "banner line outside the banner: %q", line)
			banner = true
		default:
			t.Fatalf("not a log line nor the banner (a stack trace?): %q", line)
		}
	}
	require.NotContains(t, text, "\tERROR\t")
	require.Contains(t, text, "API_TOKENS is unset", "the warning is there, as one line")
	t.Logf("%d log lines and the banner, no stack trace, task %s completed", logLines, taskID[1])
}

// TestEveryRequestIsLogged sends 1,000 requests in a burst, eight at a time
// like `xargs -P8`, and finds 1,000 access-log lines, one per request id.
func TestEveryRequestIsLogged(t *testing.T) {
	svc := startService(t, t.TempDir(), []string{"LOG_LEVEL=info"})
	const n = 1000
	ids := make(chan string)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			client := &http.Client{Timeout: 10 * time.Second}
			for id := range ids {
				req, err := http.NewRequest(http.MethodGet, svc.url("/healthz"), nil)
				if err != nil {
					t.Error(err)
					return
				}
				req.Header.Set("X-Request-ID", id)
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			}
		})
	}
	for i := range n {
		ids <- fmt.Sprintf("burst-%04d", i)
	}
	close(ids)
	wg.Wait()

	// The last line is written after its answer: wait for it, boundedly.
	count := func() map[string]int {
		seen := map[string]int{}
		for _, m := range regexp.MustCompile(`"request_id":"(burst-\d{4})"`).FindAllStringSubmatch(svc.logs.String(), -1) {
			seen[m[1]]++
		}
		return seen
	}
	deadline := time.Now().Add(10 * time.Second)
	seen := count()
	for len(seen) < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		seen = count()
	}
	require.Len(t, seen, n, "every request id has its access-log line")
	for id, lines := range seen {
		require.Equal(t, 1, lines, "exactly one line for %s", id)
	}
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
