package bootstrap

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
)

// probeLoop is a loop added to the group the way a feature module adds its
// own: it records that it ran and that it returned.
type probeLoop struct {
	running, returned chan struct{}
}

func newProbeLoop() *probeLoop {
	return &probeLoop{running: make(chan struct{}), returned: make(chan struct{})}
}

func (p *probeLoop) Run(ctx context.Context) {
	close(p.running)
	<-ctx.Done()
	close(p.returned)
}

// TestLoopProvidedIntoTheGroupRunsUntilStop: providing a loop into
// BackgroundGroup is all it takes for a worker replica to run it; stop
// waits for it to return.
func TestLoopProvidedIntoTheGroupRunsUntilStop(t *testing.T) {
	for _, role := range []Role{RoleAll, RoleWorker} {
		t.Run(string(role), func(t *testing.T) {
			var probe *probeLoop
			app := fxtest.New(t, App(testConfig(t), role,
				fx.Provide(newProbeLoop, AsBackgroundLoop[*probeLoop]("probe")),
				fx.Populate(&probe)))
			app.RequireStart()
			select {
			case <-probe.running:
			case <-time.After(10 * time.Second):
				t.Fatal("the loop provided into the group was not started")
			}
			select {
			case <-probe.returned:
				t.Fatal("the loop returned before stop")
			default:
			}
			app.RequireStop()
			select {
			case <-probe.returned:
			default:
				t.Fatal("stop returned before the loop did")
			}
		})
	}
}

// TestAPIReplicaRunsNoBackgroundLoop: the group belongs to worker replicas;
// an api replica does not even build its members.
func TestAPIReplicaRunsNoBackgroundLoop(t *testing.T) {
	built := false
	app := fxtest.New(t, App(testConfig(t), RoleAPI,
		fx.Provide(func() *probeLoop { built = true; return newProbeLoop() }, AsBackgroundLoop[*probeLoop]("probe"))))
	app.RequireStart()
	app.RequireStop()
	require.False(t, built, "an api replica built a background loop")
}
