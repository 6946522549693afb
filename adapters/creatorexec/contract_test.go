package creatorexec_test

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/creatorexec"
	"contenthub/adapters/creatortest"
)

// buildSimulator builds the bundled cmd/content-creator-sim into a
// temporary directory of t's.
func buildSimulator(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "content-creator-sim")
	out, err := exec.Command("go", "build", "-o", path, "contenthub/cmd/content-creator-sim").CombinedOutput()
	require.NoError(t, err, "go build the simulator: %s", out)
	return path
}

// TestRunnerKeepsTheContract: the contract runner (SERVICE.md §6) with the
// bundled simulator.
func TestRunnerKeepsTheContract(t *testing.T) {
	sim := buildSimulator(t)
	creatortest.Exercise(t, func(t *testing.T, s creatortest.Scenario) creatortest.Harness {
		cfg := creatorexec.Config{Command: sim, Secret: "whsec_Y29udHJhY3Qtc3VpdGUtc2VjcmV0", Env: []string{
			"CONTENT_CREATOR_SIM_STATE_DIR=" + t.TempDir(),
			"SIM_DELAY=200ms", "SIM_PROGRESS_STEPS=0", "SIM_NO_CALLBACK=1",
		}}
		switch s {
		case creatortest.Fails:
			cfg.Env = append(cfg.Env, "SIM_FAIL=1")
		case creatortest.Hangs:
			cfg.Env = append(cfg.Env, "SIM_DELAY=10m") // the worker watches for the cancel
		case creatortest.Refuses:
			// The simulator refuses a mode it does not run (a usage error).
			cfg.Command = `/bin/sh -c 'exec "$0" "$@" --mode sync' ` + sim
		case creatortest.Unknown:
			// A create that hangs past the submit timeout: killed, it may
			// have recorded the task first.
			cfg.Command = `/bin/sh -c 'sleep 30; exec "$0" "$@"' ` + sim
			cfg.SubmitTimeout = 300 * time.Millisecond
		case creatortest.Unreachable:
			cfg.Command = filepath.Join(t.TempDir(), "missing-content-creator")
		}
		r, err := creatorexec.New(cfg)
		require.NoError(t, err)
		return creatortest.Harness{Creator: r, CancelRecorded: true}
	})
}

// TestSupervisorKeepsTheContract: the cli profile's supervisor with a fake
// of the published CLI replaying the captured samples.
func TestSupervisorKeepsTheContract(t *testing.T) {
	fake := mustAbs(t, "testdata/fake-published-cli.sh")
	creatortest.Exercise(t, func(t *testing.T, s creatortest.Scenario) creatortest.Harness {
		if s == creatortest.Unknown {
			return creatortest.Harness{Unsupported: "its submission is starting a child process: the child " +
				"either started (accepted, its exit is the outcome) or did not (a plain failure); nothing in between"}
		}
		behaviour := map[creatortest.Scenario]string{creatortest.Completes: "completes", creatortest.Fails: "fails",
			creatortest.Refuses: "refuses", creatortest.Hangs: "hangs"}[s]
		cfg := creatorexec.Config{Command: fake, Env: []string{"FAKE_BEHAVIOUR=" + behaviour, "FAKE_STATE=" + t.TempDir()}}
		if s == creatortest.Unreachable {
			cfg.Command = filepath.Join(t.TempDir(), "missing-content-creator")
		}
		ended := creatortest.NewOutcomes()
		sup, err := creatorexec.NewSupervisor(cfg, ended)
		require.NoError(t, err)
		// Killing the sync child is the cancel; the published CLI keeps no
		// record of it.
		return creatortest.Harness{Creator: sup, Ended: ended, CancelRecorded: false}
	})
}
