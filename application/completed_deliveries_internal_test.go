package application

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/domain"
)

func completedTaskNamed(t *testing.T, id string) *domain.Task {
	t.Helper()
	return domain.RehydrateTask(domain.TaskSnapshot{ID: id, Status: domain.StatusCompleted, Attempt: 1, Version: 3})
}

func TestCompletedDeliveriesRemembersOnlyCompletedTasks(t *testing.T) {
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	c := newCompletedDeliveries(4, time.Minute)
	c.remember(domain.RehydrateTask(domain.TaskSnapshot{ID: "p", Status: domain.StatusProcessing}), "d1", now)
	c.remember(domain.RehydrateTask(domain.TaskSnapshot{ID: "t", Status: domain.StatusTimeout}), "d1", now)
	_, ok := c.lookup("p", "d1", now)
	require.False(t, ok)
	_, ok = c.lookup("t", "d1", now)
	require.False(t, ok, "a timed-out task can still complete late")

	task := completedTaskNamed(t, "c")
	c.remember(task, "d1", now)
	got, ok := c.lookup("c", "d1", now)
	require.True(t, ok)
	require.Equal(t, task.Snapshot(), got.Snapshot())
	require.NotSame(t, task, got, "a copy is kept")
	_, ok = c.lookup("c", "d2", now)
	require.False(t, ok, "only the ids the database holds")
}

func TestCompletedDeliveriesExpire(t *testing.T) {
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	c := newCompletedDeliveries(4, time.Minute)
	c.remember(completedTaskNamed(t, "c"), "d1", now)
	_, ok := c.lookup("c", "d1", now.Add(59*time.Second))
	require.True(t, ok)
	_, ok = c.lookup("c", "d1", now.Add(time.Minute))
	require.False(t, ok)
}

func TestCompletedDeliveriesAreBounded(t *testing.T) {
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	c := newCompletedDeliveries(4, time.Hour)
	for i := range 100 {
		c.remember(completedTaskNamed(t, fmt.Sprint("task-", i)), "d", now)
		require.LessOrEqual(t, len(c.cur)+len(c.old), 8)
	}
	_, ok := c.lookup("task-99", "d", now)
	require.True(t, ok, "the newest is kept")
	_, ok = c.lookup("task-0", "d", now)
	require.False(t, ok, "the oldest is dropped")

	// A task found in the older generation survives the next rotation.
	c = newCompletedDeliveries(2, time.Hour)
	for _, id := range []string{"a", "b", "c"} { // c retires {a, b}
		c.remember(completedTaskNamed(t, id), "d", now)
	}
	_, ok = c.lookup("a", "d", now) // moves a next to c
	require.True(t, ok)
	c.remember(completedTaskNamed(t, "e"), "d", now) // retires {c, a}, drops b
	_, ok = c.lookup("a", "d", now)
	require.True(t, ok)
	_, ok = c.lookup("b", "d", now)
	require.False(t, ok)

	c = newCompletedDeliveries(4, time.Hour)
	for i := range maxDeliveriesPerTask + 5 {
		c.remember(completedTaskNamed(t, "x"), fmt.Sprint("d", i), now)
	}
	require.Len(t, c.cur["x"].deliveries, maxDeliveriesPerTask)
}
