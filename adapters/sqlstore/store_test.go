package sqlstore_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/sqlstore"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/domain"
	"contenthub/ports"
)

func TestMigrations(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, url string) {
		ctx := t.Context()
		s, err := sqlstore.Open(ctx, url)
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })

		err = s.Ready(ctx)
		require.Error(t, err, "not ready before migration")
		require.Contains(t, err.Error(), "migrate up")

		require.NoError(t, s.Migrate(ctx, sqlstore.Up))
		require.NoError(t, s.Ready(ctx))
		require.NoError(t, s.MigrateUp(ctx), "migrating a migrated database changes nothing")

		var status strings.Builder
		require.NoError(t, s.MigrationStatus(ctx, &status))
		require.Regexp(t, `applied\s+\S+ \S+\s+00001_init\.sql`, status.String())

		// One step down is enough to be not ready.
		require.NoError(t, s.Migrate(ctx, sqlstore.Down))
		require.ErrorContains(t, s.Ready(ctx), "migrate up")
		// All the way down.
		for range 100 {
			if err = s.MigrateDown(ctx); err != nil {
				break
			}
		}
		require.ErrorContains(t, err, "no migration is applied")
		require.ErrorContains(t, s.Ready(ctx), "version 0")
		_, _, err = s.CreateTask(ctx, newTask(t, "task-1", base), nil)
		require.Error(t, err, "the tables are gone")

		require.NoError(t, s.MigrateUp(ctx))
		require.NoError(t, s.Ready(ctx))
		_, _, err = s.CreateTask(ctx, newTask(t, "task-1", base), nil)
		require.NoError(t, err)

		require.Error(t, s.Migrate(ctx, "sideways"))
	}
	t.Run("sqlite", func(t *testing.T) { run(t, "sqlite://"+filepath.Join(t.TempDir(), "db", "contenthub.db")) })
	t.Run("postgres", func(t *testing.T) { run(t, sqlstoretest.EmptyPostgresURL(t)) })
}

// Not parallel: it changes the working directory.
func TestOpenDefaultsToSQLiteFile(t *testing.T) {
	t.Chdir(t.TempDir())
	s, err := sqlstore.Open(t.Context(), "")
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.Equal(t, sqlstore.SQLite, s.Dialect())
	_, err = os.Stat(filepath.Join("data", "contenthub.db"))
	require.NoError(t, err)
}

func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	t.Run("SQLite is in WAL mode and survives reopening", func(t *testing.T) {
		url := sqlstoretest.SQLiteURL(t)
		s, err := sqlstore.Open(ctx, url)
		require.NoError(t, err)
		_, _, err = s.CreateTask(ctx, newTask(t, "task-1", base), nil)
		require.NoError(t, err)
		_, err = os.Stat(strings.TrimPrefix(url, "sqlite://") + "-wal")
		require.NoError(t, err, "journal in WAL mode")
		require.NoError(t, s.Close())

		s, err = sqlstore.Open(ctx, url)
		require.NoError(t, err)
		defer s.Close()
		require.NoError(t, s.Ready(ctx))
		_, err = s.GetTask(ctx, "task-1")
		require.NoError(t, err)
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		s := sqlstoretest.NewPostgres(t)
		require.Equal(t, sqlstore.Postgres, s.Dialect())
	})
	t.Run("unsupported scheme hides the rest", func(t *testing.T) {
		_, err := sqlstore.Open(ctx, "mysql://root:secret@localhost/db")
		require.ErrorContains(t, err, `"mysql"`)
		require.NotContains(t, err.Error(), "secret")
	})
	t.Run("in-memory SQLite is refused", func(t *testing.T) {
		_, err := sqlstore.Open(ctx, "sqlite://:memory:")
		require.Error(t, err)
	})
	t.Run("unreachable PostgreSQL is unavailable", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		// Port 1 on loopback: nothing listens there.
		_, err := sqlstore.Open(ctx, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2")
		require.Error(t, err)
		require.True(t, sqlstore.IsUnavailable(err), "%v", err)
	})
}

func TestIsUnavailable(t *testing.T) {
	t.Parallel()
	require.False(t, sqlstore.IsUnavailable(nil))
	require.False(t, sqlstore.IsUnavailable(domain.ErrNotFound))
	require.True(t, sqlstore.IsUnavailable(context.DeadlineExceeded))
}

// A cancelled or expired context aborts cleanly: an error that reads as
// "unavailable", and nothing half written.
func TestContextEndAbortsCleanly(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		_, _, err := s.CreateTask(ctx, submitted(t, "task-1", base), nil)
		require.NoError(t, err)
		before, err := s.GetTask(ctx, "task-1")
		require.NoError(t, err)

		cctx, cancel := context.WithCancel(ctx)
		err = s.UpdateTask(cctx, "task-1", func(tk *domain.Task) (ports.TaskChanges, error) {
			changes := completion(t, tk, 1, "wh:d-1")
			cancel() // the request ends while the update is being decided
			return changes, nil
		})
		require.Error(t, err)
		require.True(t, sqlstore.IsUnavailable(err), "%v", err)
		assertStored(t, s, before, 0)
		_, err = s.GetContent(ctx, "content-1")
		require.ErrorIs(t, err, domain.ErrNotFound)

		expired, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
		defer cancel()
		_, err = s.GetTask(expired, "task-1")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.True(t, sqlstore.IsUnavailable(err))
		_, err = s.ClaimDue(expired, ports.ClaimQuery{Owner: "replica", Now: base.Add(time.Hour), Lease: time.Minute, Limit: 10}, nil)
		require.True(t, sqlstore.IsUnavailable(err), "%v", err)

		// The store still works afterwards (no connection was left in a transaction).
		require.NoError(t, s.UpdateTask(ctx, "task-1", func(tk *domain.Task) (ports.TaskChanges, error) {
			return completion(t, tk, 1, "wh:d-1"), nil
		}))
	})
}

func TestUpdateTaskPanicReleasesTheTransaction(t *testing.T) {
	t.Parallel()
	sqlstoretest.Contract(t, func(t *testing.T, s sqlstoretest.Ports) {
		ctx := t.Context()
		_, _, err := s.CreateTask(ctx, newTask(t, "task-1", base), nil)
		require.NoError(t, err)
		require.Panics(t, func() {
			_ = s.UpdateTask(ctx, "task-1", func(*domain.Task) (ports.TaskChanges, error) { panic("boom") })
		})
		// On SQLite the single writer connection would still be held otherwise.
		tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		require.NoError(t, s.UpdateTask(tctx, "task-1", func(*domain.Task) (ports.TaskChanges, error) {
			return ports.TaskChanges{SaveTask: true}, nil
		}))
	})
}
