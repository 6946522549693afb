package creatorexec_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"contenthub/adapters/creatorexec"
	"contenthub/domain"
	"contenthub/ports"
	"contenthub/ports/mocks"
)

// commanderCLI behaves like the published CLI: commander.js rejects --json
// after the configuration banner; without it, status and result print the
// captured text for the task id given.
const commanderCLI = `printf '%s\n' "$*" >> "$REC/calls"
for a in "$@"; do
	if [ "$a" = --json ]; then
		cat "$FIXTURES/cli-status-notfound.stdout"
		echo "error: unknown option '--json'" >&2
		exit 1
	fi
done
case "$1 $3" in
"status test-cli-001") cat "$FIXTURES/cli-status.stdout"; cat "$FIXTURES/cli-status.stderr" >&2 ;;
"status test-fail-001") cat "$FIXTURES/cli-status-fail.stdout"; cat "$FIXTURES/cli-status-fail.stderr" >&2 ;;
"result test-cli-001") cat "$FIXTURES/cli-result.stdout"; cat "$FIXTURES/cli-result.stderr" >&2 ;;
"result test-fail-001") cat "$FIXTURES/cli-result-fail-json.stdout"; cat "$FIXTURES/cli-result-fail-json.stderr" >&2 ;;
*) cat "$FIXTURES/cli-status-notfound.stdout"; cat "$FIXTURES/cli-status-notfound.stderr" >&2; exit 1 ;;
esac`

// calls lists the argv of every run of the fake, in order.
func (f fakeCLI) calls(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dir, "calls"))
	require.NoError(t, err)
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// capturedArticle is the article content-creator sent in its callback: the
// same canned article its text report holds.
func capturedArticle(t *testing.T) (content string, words int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "callback-completed.body.json"))
	require.NoError(t, err)
	var body struct {
		Result struct {
			Content   string `json:"content"`
			WordCount int    `json:"wordCount"`
		} `json:"result"`
	}
	require.NoError(t, json.Unmarshal(b, &body))
	require.NotEmpty(t, body.Result.Content)
	return body.Result.Content, body.Result.WordCount
}

func TestPublishedCLIWithoutJSONOption(t *testing.T) {
	cli := newFakeCLI(t, commanderCLI)
	core, logs := observer.New(zap.InfoLevel)
	ctrl := gomock.NewController(t)
	metrics := mocks.NewMockMetrics(ctrl)
	gomock.InOrder(
		metrics.EXPECT().RunnerExecuted("status", "ok", gomock.Any()),
		metrics.EXPECT().RunnerExecuted("status", "ok", gomock.Any()),
		metrics.EXPECT().RunnerExecuted("result", "ok", gomock.Any()),
		metrics.EXPECT().RunnerExecuted("result", "no_result", gomock.Any()),
		metrics.EXPECT().RunnerExecuted("status", "unknown_task", gomock.Any()),
	)
	r := newRunner(t, creatorexec.Config{Command: cli.path}, creatorexec.WithLogger(zap.New(core)), creatorexec.WithMetrics(metrics))

	st, err := r.Status(t.Context(), "test-cli-001")
	require.NoError(t, err)
	require.Equal(t, ports.CreatorStatus{Phase: ports.PhaseCompleted, Raw: "completed"}, st)
	require.Equal(t, []string{
		"status --task-id test-cli-001 --json",
		"status --task-id test-cli-001",
	}, cli.calls(t), "the spec's argv first, then the same without --json")

	st, err = r.Status(t.Context(), "test-fail-001")
	require.NoError(t, err)
	require.Equal(t, ports.CreatorStatus{Phase: ports.PhaseFailed, Raw: "failed",
		Error: domain.TaskError{Message: "Text quality check failed after 3 attempts"}}, st)

	res, err := r.Result(t.Context(), "test-cli-001")
	require.NoError(t, err)
	article, words := capturedArticle(t)
	require.Equal(t, article, res.Content)
	require.NotNil(t, res.WordCount)
	require.Equal(t, 1146, words)
	require.Equal(t, words, *res.WordCount)
	require.Equal(t, []string{
		"data/images/test-cli-001_0_1795861895422.png",
		"data/images/test-cli-001_1_1795861895422.png",
	}, res.Images)

	_, err = r.Result(t.Context(), "test-fail-001")
	require.ErrorIs(t, err, creatorexec.ErrNoResult)
	require.EqualError(t, err, "content-creator result: no article in the result: 任务尚未完成，当前状态: ❌ 失败")

	_, err = r.Status(t.Context(), "test-nonexistent")
	require.ErrorIs(t, err, ports.ErrCreatorUnknownTask)
	require.ErrorIs(t, err, creatorexec.ErrExit)
	require.ErrorContains(t, err, "未找到任务 test-nonexistent")

	require.Equal(t, []string{
		"status --task-id test-cli-001 --json",
		"status --task-id test-cli-001",
		"status --task-id test-fail-001",
		"result --task-id test-cli-001",
		"result --task-id test-fail-001",
		"status --task-id test-nonexistent",
	}, cli.calls(t), "once rejected, --json is not tried again, by status or result")

	require.Equal(t, 1, logs.Len(), "the text fallback is logged once")
	entry := logs.All()[0]
	require.Equal(t, zap.InfoLevel, entry.Level)
	require.Contains(t, entry.Message, "--json")
	require.Equal(t, "status", entry.ContextMap()["command"])
}

func TestPublishedCLIFallbackOnTheFirstCall(t *testing.T) {
	t.Run("result", func(t *testing.T) {
		cli := newFakeCLI(t, commanderCLI)
		r := newRunner(t, creatorexec.Config{Command: cli.path})

		res, err := r.Result(t.Context(), "test-cli-001")
		require.NoError(t, err)
		article, _ := capturedArticle(t)
		require.Equal(t, article, res.Content)
		require.Equal(t, []string{"result --task-id test-cli-001 --json", "result --task-id test-cli-001"}, cli.calls(t))
	})

	for _, command := range []string{"status", "result"} {
		t.Run(command+" of an unknown task", func(t *testing.T) {
			cli := newFakeCLI(t, commanderCLI)
			r := newRunner(t, creatorexec.Config{Command: cli.path})

			var err error
			if command == "status" {
				_, err = r.Status(t.Context(), "test-nonexistent")
			} else {
				_, err = r.Result(t.Context(), "test-nonexistent")
			}
			require.ErrorIs(t, err, ports.ErrCreatorUnknownTask)
			require.ErrorContains(t, err, "content-creator "+command+": exit status 1; output: ❌ 错误: 未找到任务 test-nonexistent")
			require.NotContains(t, err.Error(), "unknown option", "the error is the fallback run's")
			require.Equal(t, []string{command + " --task-id test-nonexistent --json", command + " --task-id test-nonexistent"}, cli.calls(t))
		})
	}

	t.Run("cut text report", func(t *testing.T) {
		cli := newFakeCLI(t, commanderCLI)
		r := newRunner(t, creatorexec.Config{Command: cli.path, OutputLimit: 4 << 10})

		_, err := r.Result(t.Context(), "test-cli-001")
		require.ErrorIs(t, err, creatorexec.ErrBadOutput)
		require.EqualError(t, err, "content-creator result: unreadable output: the text report is incomplete (stdout was cut at 4096 bytes)")
	})
}

func TestConcurrentCallsLearnTheTextFormOnce(t *testing.T) {
	cli := newFakeCLI(t, commanderCLI)
	core, logs := observer.New(zap.InfoLevel)
	r := newRunner(t, creatorexec.Config{Command: cli.path}, creatorexec.WithLogger(zap.New(core)))

	var wg sync.WaitGroup
	phases := make([]ports.CreatorPhase, 4)
	errs := make([]error, len(phases))
	for i := range phases {
		wg.Go(func() {
			st, err := r.Status(t.Context(), "test-cli-001")
			phases[i], errs[i] = st.Phase, err
		})
	}
	wg.Wait()
	for i := range phases {
		require.NoError(t, errs[i])
		require.Equal(t, ports.PhaseCompleted, phases[i])
	}
	require.Equal(t, 1, logs.Len(), "however many calls found out at once")

	before := len(cli.calls(t))
	_, err := r.Status(t.Context(), "test-cli-001")
	require.NoError(t, err)
	require.Equal(t, []string{"status --task-id test-cli-001"}, cli.calls(t)[before:])
}

func TestSpecConformingCLIIsAskedOnce(t *testing.T) {
	cli := newFakeCLI(t, `printf '%s\n' "$*" >> "$REC/calls"
case "$1" in
status) echo '{"taskId":"task-abc-1","status":"running"}' ;;
result) echo '{"content":"# Done","wordCount":2}' ;;
esac`)
	r := newRunner(t, creatorexec.Config{Command: cli.path})

	for range 2 {
		st, err := r.Status(t.Context(), "task-abc-1")
		require.NoError(t, err)
		require.Equal(t, ports.PhaseRunning, st.Phase)
		res, err := r.Result(t.Context(), "task-abc-1")
		require.NoError(t, err)
		require.Equal(t, "# Done", res.Content)
	}
	require.Equal(t, []string{
		"status --task-id task-abc-1 --json",
		"result --task-id task-abc-1 --json",
		"status --task-id task-abc-1 --json",
		"result --task-id task-abc-1 --json",
	}, cli.calls(t))
}

func TestOtherFailuresAreNotRetriedWithoutJSON(t *testing.T) {
	for name, stderr := range map[string]string{
		"another unknown option": "error: unknown option '--task-id'",
		"database locked":        "Error: SQLITE_BUSY: database is locked",
	} {
		t.Run(name, func(t *testing.T) {
			cli := newFakeCLI(t, `printf '%s\n' "$*" >> "$REC/calls"
echo "`+stderr+`" >&2
exit 1`)
			r := newRunner(t, creatorexec.Config{Command: cli.path})

			_, err := r.Status(t.Context(), "task-abc-1")
			require.ErrorIs(t, err, creatorexec.ErrExit)
			require.ErrorContains(t, err, stderr)
			_, err = r.Result(t.Context(), "task-abc-1")
			require.ErrorIs(t, err, creatorexec.ErrExit)
			require.Equal(t, []string{"status --task-id task-abc-1 --json", "result --task-id task-abc-1 --json"}, cli.calls(t))
		})
	}
}
