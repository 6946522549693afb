package bootstrap

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"contenthub/adapters/sqlstore"
)

// observedLog replaces the application logger with one that records every
// entry, debug included.
func observedLog() (fx.Option, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.DebugLevel)
	return fx.Decorate(func(*zap.Logger) *zap.Logger { return zap.New(core) }), logs
}

// announced is the text of the entries at info or above: what an operator
// reads at the default LOG_LEVEL.
func announced(logs *observer.ObservedLogs) string {
	var b strings.Builder
	for _, e := range logs.All() {
		if e.Level >= zapcore.InfoLevel {
			b.WriteString(e.Message + "\n")
		}
	}
	return b.String()
}

func startApp(t *testing.T, app *fx.App) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return app.Start(ctx)
}

// TestStartOnUsedPortDoesNothingElse: a taken HTTP_ADDR fails the start
// before the database is migrated or a loop runs, so the log announces
// neither, and the database is left as it was.
func TestStartOnUsedPortDoesNothingElse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	cfg := testConfig(t, "HTTP_ADDR="+ln.Addr().String())
	withLog, logs := observedLog()
	app := fx.New(App(cfg, RoleAll), withLog, fx.NopLogger)
	require.NoError(t, app.Err())

	err = startApp(t, app)
	var se *StartupError
	require.ErrorAs(t, err, &se)
	require.Contains(t, Explain(err), "cannot listen on HTTP_ADDR "+ln.Addr().String())
	for _, claim := range []string{"database migrated", "left running", "drain:", "contenthub started", "http server listening"} {
		require.NotContains(t, announced(logs), claim)
	}
	require.Equal(t, 1, logs.FilterMessage("database closed after a failed start").Len(),
		"the database opened for the start is closed")

	store, err := sqlstore.Open(context.Background(), cfg.DatabaseURL)
	require.NoError(t, err)
	defer store.Close()
	require.ErrorContains(t, store.Ready(context.Background()), "not migrated")
}

// TestFailedStartAfterTheLoopsAnnouncesNoDrain: when a hook after the
// background loops fails, they are stopped again, without a drain line
// claiming content-creator children were left running.
func TestFailedStartAfterTheLoopsAnnouncesNoDrain(t *testing.T) {
	withLog, logs := observedLog()
	failLate := fx.Invoke(func(lc fx.Lifecycle) {
		lc.Append(fx.Hook{OnStart: func(context.Context) error { return errors.New("late hook fails") }})
	})
	app := fx.New(App(testConfig(t), RoleWorker, withLog, failLate), fx.NopLogger)
	require.NoError(t, app.Err())

	require.ErrorContains(t, startApp(t, app), "late hook fails")
	require.Equal(t, 1, logs.FilterMessage("database migrated").Len(), "the database was migrated before the failure")
	require.Equal(t, 1, logs.FilterMessage("background loops stopped after a failed start").Len(), "the loops were stopped")
	for _, claim := range []string{"left running", "drain:", "contenthub started"} {
		require.NotContains(t, announced(logs), claim)
	}
}
