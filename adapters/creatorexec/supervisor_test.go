package creatorexec_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/creatorexec"
	"contenthub/domain"
	"contenthub/ports"
)

// outcomes records what the supervisor reports.
type outcomes chan ports.RunOutcome

func (o outcomes) RunEnded(_ context.Context, out ports.RunOutcome) { o <- out }

func (o outcomes) next(t *testing.T) ports.RunOutcome {
	t.Helper()
	select {
	case out := <-o:
		return out
	case <-time.After(20 * time.Second):
		t.Fatal("the run's outcome was not reported")
		return ports.RunOutcome{}
	}
}

func (o outcomes) none(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case out := <-o:
		t.Fatalf("an outcome was reported: %+v", out)
	case <-time.After(within):
	}
}

func newSupervisor(t *testing.T, cfg creatorexec.Config) (*creatorexec.Supervisor, outcomes) {
	t.Helper()
	seen := make(outcomes, 4)
	s, err := creatorexec.NewSupervisor(cfg, seen)
	require.NoError(t, err)
	return s, seen
}

// replay is a fake CLI body that prints a captured sample's stdout and stderr
// after a delay and exits with code, the sample's task id replaced by the
// --taskId it was given (as the real program prints the id it runs).
func replay(sample, sampleID, delay string, code int) string {
	return `ref=""; prev=""; for a in "$@"; do [ "$prev" = "--taskId" ] && ref="$a"; prev="$a"; done` + "\n" +
		"sleep " + delay + "\n" +
		`sed "s/` + sampleID + `/$ref/g" "$FIXTURES/` + sample + `.stdout"` + "\n" +
		`cat "$FIXTURES/` + sample + `.stderr" >&2` + "\n" +
		"exit " + string(rune('0'+code))
}

func request(ref string) ports.SubmitRequest {
	task, _, _ := strings.Cut(ref, "-1")
	return ports.SubmitRequest{TaskID: task, Attempt: 1, ExternalRef: ref, Brief: domain.Brief{
		Topic: "边缘计算入门", Requirements: "写一篇面向开发者的科普文章", TargetAudience: "普通读者",
		Keywords: []string{"edge", "iot"}, Tone: "专业",
	}, CallbackURL: "http://127.0.0.1:8080/api/v1/content/callback/" + task + "?token=tok_secret_123"}
}

func TestSupervisedRunCompletesWithTheArticleBetweenTheSeparators(t *testing.T) {
	cli := newFakeCLI(t, replay("cli-create-completed", "test-cli-001", "0.2", 0))
	s, seen := newSupervisor(t, creatorexec.Config{Command: cli.path, Secret: "sig-secret"})

	res, err := s.Submit(t.Context(), request("task-a-1"))
	require.NoError(t, err)
	require.NotNil(t, res.Running, "the run outlives the submission")
	st, err := s.Status(t.Context(), "task-a-1")
	require.NoError(t, err)
	require.Equal(t, ports.PhaseRunning, st.Phase, "a child of ours is running: no need to ask")

	out := seen.next(t)
	<-res.Running
	require.Equal(t, []string{"create", "--type", "content-creator", "--mode", "sync", "--taskId", "task-a-1",
		"--topic", "边缘计算入门", "--requirements", "写一篇面向开发者的科普文章", "--target-audience", "普通读者",
		"--keywords", "edge,iot", "--tone", "专业",
		"--callback-url", "http://127.0.0.1:8080/api/v1/content/callback/task-a?token=tok_secret_123"}, cli.argv(t))

	var cb struct {
		Result struct{ Content string } `json:"result"`
	}
	body, err := os.ReadFile("testdata/callback-completed.body.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(body, &cb))

	require.Equal(t, ports.PhaseCompleted, out.Phase)
	require.Equal(t, domain.SourceProcessExit, out.Source)
	require.Equal(t, "task-a", out.TaskID)
	require.Equal(t, 1, out.Attempt)
	require.Equal(t, "task-a-1", out.ExternalRef)
	require.False(t, out.At.IsZero())
	require.Equal(t, cb.Result.Content, out.Result.Content, "exactly the article between the separators")
	require.Len(t, out.Result.Images, 2)
	require.Equal(t, 8.0, *out.Result.QualityScore)
}

func TestSupervisedRunFailures(t *testing.T) {
	t.Run("the failed sample", func(t *testing.T) {
		cli := newFakeCLI(t, replay("cli-create-failed", "test-fail-001", "0.1", 0))
		s, seen := newSupervisor(t, creatorexec.Config{Command: cli.path})
		_, err := s.Submit(t.Context(), request("task-f-1"))
		require.NoError(t, err)
		out := seen.next(t)
		require.Equal(t, ports.PhaseFailed, out.Phase)
		require.False(t, out.Permanent, "a failed generation may succeed on a retry")
		require.Equal(t, domain.TaskError{Type: "execution_error", Message: "Text quality check failed after 3 attempts"}, out.Error)
	})

	t.Run("a usage error is permanent", func(t *testing.T) {
		cli := newFakeCLI(t, `printf '❌ 参数错误:\n  • 缺少必需参数: requirements\n' >&2; exit 1`)
		s, seen := newSupervisor(t, creatorexec.Config{Command: cli.path})
		_, err := s.Submit(t.Context(), request("task-u-1"))
		require.NoError(t, err)
		out := seen.next(t)
		require.Equal(t, ports.PhaseFailed, out.Phase)
		require.True(t, out.Permanent)
		require.Equal(t, "SUBMIT_REFUSED", out.Error.Code)
		require.Contains(t, out.Error.Message, "缺少必需参数: requirements")
	})

	t.Run("a crash", func(t *testing.T) {
		cli := newFakeCLI(t, `echo "Error: connect ECONNREFUSED http://127.0.0.1:8080/cb?token=tok_secret_123" >&2; exit 3`)
		s, seen := newSupervisor(t, creatorexec.Config{Command: cli.path})
		_, err := s.Submit(t.Context(), request("task-c-1"))
		require.NoError(t, err)
		out := seen.next(t)
		require.Equal(t, ports.PhaseFailed, out.Phase)
		require.False(t, out.Permanent)
		require.Equal(t, "CREATOR_CRASHED", out.Error.Code)
		require.Contains(t, out.Error.Message, "exit status 3")
		require.Contains(t, out.Error.Message, "ECONNREFUSED")
		require.NotContains(t, out.Error.Message, "tok_secret_123", "tokens never reach an error")
	})

	t.Run("killed mid-run by someone else", func(t *testing.T) {
		cli := newFakeCLI(t, `echo "生成中..." >&2; echo $$ > "$REC/pid.tmp"; mv "$REC/pid.tmp" "$REC/pid"; sleep 300`)
		s, seen := newSupervisor(t, creatorexec.Config{Command: cli.path})
		_, err := s.Submit(t.Context(), request("task-k-1"))
		require.NoError(t, err)
		require.Eventually(t, func() bool { _, err := os.Stat(filepath.Join(cli.dir, "pid")); return err == nil },
			10*time.Second, 5*time.Millisecond)
		require.NoError(t, syscall.Kill(cli.pid(t, "pid"), syscall.SIGKILL))
		out := seen.next(t)
		require.Equal(t, "CREATOR_CRASHED", out.Error.Code)
		require.Contains(t, out.Error.Message, "signal: killed")
		require.Contains(t, out.Error.Message, "生成中...")
	})

	t.Run("the async banner is never success", func(t *testing.T) {
		cli := newFakeCLI(t, `cat "$FIXTURES/cli-create-async.stdout"`)
		s, seen := newSupervisor(t, creatorexec.Config{Command: cli.path})
		_, err := s.Submit(t.Context(), request("task-q-1"))
		require.NoError(t, err)
		out := seen.next(t)
		require.Equal(t, ports.PhaseFailed, out.Phase)
		require.Equal(t, "CREATOR_BAD_OUTPUT", out.Error.Code)
		require.Contains(t, out.Error.Message, "69d00855-9d02-45ef-bdb2-0b8a99055c97")
	})

	t.Run("a missing program fails the submission itself", func(t *testing.T) {
		s, seen := newSupervisor(t, creatorexec.Config{Command: filepath.Join(t.TempDir(), "missing")})
		_, err := s.Submit(t.Context(), request("task-m-1"))
		require.ErrorIs(t, err, creatorexec.ErrNotStarted)
		seen.none(t, 100*time.Millisecond)
	})
}

// TestCancelKillsTheRunAndItsGrandchildren: cancel (and the deadline, which
// cancels the same way) kills the child's whole process group; a run killed
// on purpose reports nothing.
func TestCancelKillsTheRunAndItsGrandchildren(t *testing.T) {
	cli := newFakeCLI(t, `echo $$ > "$REC/leader"
sleep 300 &
echo $! > "$REC/grandchild.tmp" && mv "$REC/grandchild.tmp" "$REC/grandchild"
sleep 300`)
	s, seen := newSupervisor(t, creatorexec.Config{Command: cli.path})
	res, err := s.Submit(t.Context(), request("task-x-1"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { _, err := os.Stat(filepath.Join(cli.dir, "grandchild")); return err == nil },
		10*time.Second, 5*time.Millisecond)
	leader, grandchild := cli.pid(t, "leader"), cli.pid(t, "grandchild")
	require.True(t, s.Live("task-x-1"), "a child of ours is a live run (§14: never found lost)")
	require.False(t, s.Live("task-y-1"))

	require.NoError(t, s.Cancel(t.Context(), "task-x-1"))
	requireGone(t, leader)
	requireGone(t, grandchild)
	require.Empty(t, liveGroupMembers(t, leader))
	<-res.Running
	require.Eventually(t, func() bool { return !s.Live("task-x-1") }, 10*time.Second, 5*time.Millisecond,
		"a child that ended is no live run")
	seen.none(t, 200*time.Millisecond)
}

func TestRunTimeoutKillsTheRun(t *testing.T) {
	cli := newFakeCLI(t, `sleep 300 &
echo $! > "$REC/grandchild.tmp" && mv "$REC/grandchild.tmp" "$REC/grandchild"
sleep 300`)
	s, seen := newSupervisor(t, creatorexec.Config{Command: cli.path, RunTimeout: 300 * time.Millisecond})
	res, err := s.Submit(t.Context(), request("task-t-1"))
	require.NoError(t, err)
	select {
	case <-res.Running:
	case <-time.After(20 * time.Second):
		t.Fatal("the overdue run was not stopped")
	}
	if _, err := os.Stat(filepath.Join(cli.dir, "grandchild")); err == nil {
		requireGone(t, cli.pid(t, "grandchild"))
	}
	seen.none(t, 100*time.Millisecond) // the reconciler times the attempt out
}

// TestAfterARestartStatusAndResultAskTheCLI: a run this process does not
// supervise (the service restarted) is asked about in text form.
func TestAfterARestartStatusAndResultAskTheCLI(t *testing.T) {
	cli := newFakeCLI(t, `case "$1" in
status) cat "$FIXTURES/cli-status.stdout" ;;
result) cat "$FIXTURES/cli-result.stdout" ;;
cancel) echo cancelled ;;
esac`)
	s, _ := newSupervisor(t, creatorexec.Config{Command: cli.path})
	st, err := s.Status(t.Context(), "test-cli-001")
	require.NoError(t, err)
	require.Equal(t, ports.PhaseCompleted, st.Phase)
	require.Equal(t, []string{"status", "--task-id", "test-cli-001"}, cli.argv(t), "straight to the text form")

	res, err := s.Result(t.Context(), "test-cli-001")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(res.Content, "# 边缘计算入门"))
	require.Len(t, res.Images, 2)

	require.NoError(t, s.Cancel(t.Context(), "test-cli-001"))
	require.Equal(t, []string{"cancel", "--task-id", "test-cli-001"}, cli.argv(t))
}

// TestARunUnderAnIDOfItsOwn (issue #19): a run the CLI printed under an id
// other than the --taskId it was given is still the run's outcome, with
// that id as its external ref; whatever is asked about the run afterwards
// (the failure's reason, status, result, cancel) names that id.
func TestARunUnderAnIDOfItsOwn(t *testing.T) {
	calls := func(t *testing.T, cli fakeCLI) []string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(cli.dir, "calls"))
		require.NoError(t, err)
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	t.Run("completed", func(t *testing.T) {
		cli := newFakeCLI(t, `echo "$*" >> "$REC/calls"
case "$1" in
create) sed "s/test-cli-001/cc-own-7/g" "$FIXTURES/cli-create-completed.stdout" ;;
status) sed "s/test-cli-001/cc-own-7/g" "$FIXTURES/cli-status.stdout" ;;
result) sed "s/test-cli-001/cc-own-7/g" "$FIXTURES/cli-result.stdout" ;;
esac`)
		s, seen := newSupervisor(t, creatorexec.Config{Command: cli.path})
		res, err := s.Submit(t.Context(), request("task-a-1"))
		require.NoError(t, err)
		out := seen.next(t)
		<-res.Running
		require.Equal(t, ports.PhaseCompleted, out.Phase, "not CREATOR_BAD_OUTPUT: %+v", out.Error)
		require.Equal(t, "cc-own-7", out.ExternalRef)
		require.True(t, strings.HasPrefix(out.Result.Content, "# 边缘计算入门\n\n## 引言"))
		require.Equal(t, []string{"data/images/cc-own-7_0_1795861895422.png", "data/images/cc-own-7_1_1795861895422.png"}, out.Result.Images)

		st, err := s.Status(t.Context(), "cc-own-7")
		require.NoError(t, err)
		require.Equal(t, ports.PhaseCompleted, st.Phase)
		_, err = s.Result(t.Context(), "cc-own-7")
		require.NoError(t, err)
		require.NoError(t, s.Cancel(t.Context(), "cc-own-7"))
		got := calls(t, cli)
		require.Len(t, got, 4)
		require.True(t, strings.HasPrefix(got[0], "create --type content-creator --mode sync --taskId task-a-1 "), got[0])
		require.Equal(t, []string{"status --task-id cc-own-7", "result --task-id cc-own-7", "cancel --task-id cc-own-7"}, got[1:])
	})
	t.Run("failed without a reason in its output", func(t *testing.T) {
		cli := newFakeCLI(t, `echo "$*" >> "$REC/calls"
case "$1" in
create) printf '✅ 执行成功\n────────────────────────────────────────\n任务ID: cc-own-8\n状态: 失败\n────────────────────────────────────────\n' ;;
status) sed "s/test-fail-001/cc-own-8/g" "$FIXTURES/cli-status-fail.stdout" ;;
esac`)
		s, seen := newSupervisor(t, creatorexec.Config{Command: cli.path})
		_, err := s.Submit(t.Context(), request("task-f-1"))
		require.NoError(t, err)
		out := seen.next(t)
		require.Equal(t, ports.PhaseFailed, out.Phase)
		require.Equal(t, "cc-own-8", out.ExternalRef)
		require.Equal(t, "Text quality check failed after 3 attempts", out.Error.Message, "the reason status -t gave for the id it ran")
		require.Equal(t, "status --task-id cc-own-8", calls(t, cli)[1])
	})
}
