package tracing_test

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"contenthub/adapters/creatorexec"
	"contenthub/adapters/creatortest"
	"contenthub/adapters/tracing"
)

// TestTheCreatorDecoratorKeepsTheContract: wrapped around the contract
// runner with the bundled simulator, recording spans, the decorator changes
// none of the adapter's answers.
func TestTheCreatorDecoratorKeepsTheContract(t *testing.T) {
	sim := filepath.Join(t.TempDir(), "content-creator-sim")
	out, err := exec.Command("go", "build", "-o", sim, "contenthub/cmd/content-creator-sim").CombinedOutput()
	require.NoError(t, err, "go build the simulator: %s", out)
	p, err := tracing.Setup(t.Context(), tracing.Options{Exporter: tracetest.NewInMemoryExporter()})
	require.NoError(t, err)
	creatortest.Exercise(t, func(t *testing.T, s creatortest.Scenario) creatortest.Harness {
		cfg := creatorexec.Config{Command: sim, Env: []string{
			"CONTENT_CREATOR_SIM_STATE_DIR=" + t.TempDir(), "SIM_DELAY=200ms", "SIM_PROGRESS_STEPS=0", "SIM_NO_CALLBACK=1",
		}}
		switch s {
		case creatortest.Fails:
			cfg.Env = append(cfg.Env, "SIM_FAIL=1")
		case creatortest.Hangs:
			cfg.Env = append(cfg.Env, "SIM_DELAY=10m")
		case creatortest.Refuses:
			cfg.Command = `/bin/sh -c 'exec "$0" "$@" --mode sync' ` + sim
		case creatortest.Unknown:
			cfg.Command = `/bin/sh -c 'sleep 30; exec "$0" "$@"' ` + sim
			cfg.SubmitTimeout = 300 * time.Millisecond
		case creatortest.Unreachable:
			cfg.Command = filepath.Join(t.TempDir(), "missing-content-creator")
		}
		r, err := creatorexec.New(cfg)
		require.NoError(t, err)
		return creatortest.Harness{Creator: tracing.NewCreator(r, p), CancelRecorded: true}
	})
}
