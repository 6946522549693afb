package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/sqlstore"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/domain"
	"contenthub/ports"
)

// TestCleanupCommand drives `contenthub cleanup` on both stores: a dry run
// counts, the real run deletes the old finished task and keeps the recent
// one and the active one.
func TestCleanupCommand(t *testing.T) {
	backends := map[string]func(testing.TB) string{"sqlite": sqlstoretest.SQLiteURL, "postgres": sqlstoretest.PostgresURL}
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			dbURL := backends[name](t)
			now := time.Now().UTC()
			seed(t, dbURL, map[string]time.Time{"task-old-cancelled": now.Add(-40 * 24 * time.Hour), "task-new-cancelled": now.Add(-time.Hour)})
			ctx := context.Background()
			store, err := sqlstore.Open(ctx, dbURL)
			require.NoError(t, err)
			defer store.Close()
			active, err := domain.NewTask(domain.NewTaskParams{ID: "task-old-pending", AccountID: 1, Topic: "仍在等待 still pending"}, now.Add(-40*24*time.Hour))
			require.NoError(t, err)
			_, _, err = store.CreateTask(ctx, active, nil)
			require.NoError(t, err)

			cleanup := func(args ...string) (string, error) {
				cmd := exec.Command(filepath.Join(binDir, "contenthub"), append([]string{"cleanup"}, args...)...)
				cmd.Env = []string{"DATABASE_URL=" + dbURL}
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
			out, err := cleanup("--older-than", "30d", "--dry-run")
			require.NoError(t, err, out)
			require.Contains(t, out, "would delete 1 tasks")
			for _, id := range []string{"task-old-cancelled", "task-new-cancelled", "task-old-pending"} {
				_, err := store.GetTask(ctx, id)
				require.NoError(t, err, "a dry run deletes nothing: %s", id)
			}

			out, err = cleanup("--older-than", "30d")
			require.NoError(t, err, out)
			require.Contains(t, out, "deleted 1 tasks")
			_, err = store.GetTask(ctx, "task-old-cancelled")
			require.ErrorIs(t, err, domain.ErrNotFound)
			for _, id := range []string{"task-new-cancelled", "task-old-pending"} {
				_, err := store.GetTask(ctx, id)
				require.NoError(t, err, id)
			}

			for _, bad := range [][]string{{}, {"--older-than", "30"}, {"--older-than", "-1d"}, {"--older-than", "soon"}} {
				out, err := cleanup(bad...)
				require.Error(t, err, "%v: %s", bad, out)
				require.Contains(t, out, "--older-than", "%v", bad)
			}
		})
	}
}

// seed stores cancelled tasks, each last changed at its time.
func seed(t *testing.T, dbURL string, tasks map[string]time.Time) {
	t.Helper()
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, dbURL)
	require.NoError(t, err)
	defer store.Close()
	for id, at := range tasks {
		tk, err := domain.NewTask(domain.NewTaskParams{ID: id, AccountID: 1, Topic: "清理 cleanup " + id}, at)
		require.NoError(t, err)
		_, err = tk.Apply(domain.Event{Kind: domain.EventCancel, Source: domain.SourceAPI, At: at}, domain.Rules{TaskTimeout: time.Hour})
		require.NoError(t, err)
		_, _, err = store.CreateTask(ctx, tk, &ports.IdempotencyKey{Key: "k-" + id, RequestHash: "h"})
		require.NoError(t, err)
	}
}
