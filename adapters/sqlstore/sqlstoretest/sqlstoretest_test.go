package sqlstoretest_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSkipIsLoudWithoutV runs `go test` (no -v) on a PostgreSQL test with an
// unreachable server: the skip is one line on the go command's standard
// error, and the package still passes.
func TestSkipIsLoudWithoutV(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test")
	}
	cmd := exec.Command("go", "test", "-count=1", "./internal/skipdemo")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CI=") && !strings.HasPrefix(kv, "CONTENTHUB_REQUIRE_POSTGRES=") &&
			!strings.HasPrefix(kv, "CONTENTHUB_TEST_POSTGRES_URL=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "CONTENTHUB_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:1/test?sslmode=disable")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "stdout:\n%s\nstderr:\n%s", &stdout, &stderr)
	require.Contains(t, stdout.String(), "ok  \tcontenthub/adapters/sqlstore/sqlstoretest/internal/skipdemo")
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	require.Len(t, lines, 1, "stderr: %s", &stderr)
	require.True(t, strings.HasPrefix(lines[0], "POSTGRES TESTS SKIPPED: "), lines[0])
	require.Contains(t, lines[0], "CONTENTHUB_TEST_POSTGRES_URL")
}
