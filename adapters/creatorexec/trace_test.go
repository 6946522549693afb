package creatorexec_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/creatorexec"
	"contenthub/domain"
	"contenthub/ports"
)

// TestChildReceivesTheSubmissionsTraceparent: the child of a submission gets
// its W3C trace context as TRACEPARENT/TRACESTATE, and nothing inherited.
func TestChildReceivesTheSubmissionsTraceparent(t *testing.T) {
	t.Setenv("TRACEPARENT", "00-11111111111111111111111111111111-2222222222222222-01")
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

	t.Run("with a trace context", func(t *testing.T) {
		cli := newFakeCLI(t, "exit 0")
		r := newRunner(t, creatorexec.Config{Command: cli.path, EnvPolicy: creatorexec.EnvPolicy{Pass: []string{"TRACE*"}}})
		_, err := r.Submit(t.Context(), ports.SubmitRequest{ExternalRef: "r-1", Brief: domain.Brief{Topic: "t"},
			Trace: ports.TraceContext{TraceParent: parent, TraceState: "vendor=1"}})
		require.NoError(t, err)
		env := cli.env(t)
		// exec keeps the last of duplicate keys: the submission's wins over
		// one an operator passed on.
		require.Equal(t, "TRACEPARENT="+parent, lastOf(env, "TRACEPARENT"))
		require.Equal(t, "TRACESTATE=vendor=1", lastOf(env, "TRACESTATE"))
	})

	t.Run("without one: none inherited", func(t *testing.T) {
		cli := newFakeCLI(t, "exit 0")
		r := newRunner(t, creatorexec.Config{Command: cli.path})
		_, err := r.Submit(t.Context(), ports.SubmitRequest{ExternalRef: "r-1", Brief: domain.Brief{Topic: "t"}})
		require.NoError(t, err)
		require.Empty(t, lastOf(cli.env(t), "TRACEPARENT"))
	})
}

func lastOf(env []string, name string) string {
	found := ""
	for _, kv := range env {
		if strings.HasPrefix(kv, name+"=") {
			found = kv
		}
	}
	return found
}
