package creatorexec

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"contenthub/ports"
)

func TestParseSyncRunOfTheRealCLI(t *testing.T) {
	t.Run("completed", func(t *testing.T) {
		run := parseSyncRun(fixture(t, "cli-create-completed.stdout"))
		require.Equal(t, "test-cli-001", run.ref)
		require.Equal(t, ports.PhaseCompleted, run.state)

		// The same generator's callback carries the same article: the text
		// between the separators, byte for byte.
		var cb struct {
			Result struct{ Content string } `json:"result"`
		}
		body, err := os.ReadFile("testdata/callback-completed.body.json")
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(body, &cb))
		require.Equal(t, cb.Result.Content, run.article)
		require.Len(t, []rune(run.article), 1146)

		require.Equal(t, []string{
			"data/images/test-cli-001_0_1795861895422.png",
			"data/images/test-cli-001_1_1795861895422.png",
		}, run.images)
		require.NotNil(t, run.quality)
		require.Equal(t, 8.0, *run.quality)
	})
	t.Run("failed", func(t *testing.T) {
		run := parseSyncRun(fixture(t, "cli-create-failed.stdout"))
		require.Equal(t, "test-fail-001", run.ref)
		require.Equal(t, ports.PhaseFailed, run.state)
		require.Equal(t, "Text quality check failed after 3 attempts", run.reason)
		require.Empty(t, run.article)
	})
	t.Run("the async banner is no finished run", func(t *testing.T) {
		run := parseSyncRun(fixture(t, "cli-create-async.stdout"))
		require.Equal(t, "69d00855-9d02-45ef-bdb2-0b8a99055c97", run.ref)
		require.Equal(t, ports.PhaseUnknown, run.state)
		require.Equal(t, "等待 Worker 处理", run.raw)
		require.Empty(t, run.article)
	})
	t.Run("cut short", func(t *testing.T) {
		out := fixture(t, "cli-create-completed.stdout")
		run := parseSyncRun(out[:len(out)*2/3])
		require.Equal(t, ports.PhaseCompleted, run.state)
		require.Empty(t, run.article, "an article whose closing separator is missing is not taken")
	})
}
