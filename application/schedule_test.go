package application_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/cronspec"
	"contenthub/adapters/events"
	"contenthub/adapters/ids"
	"contenthub/adapters/sqlstore"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/application"
	"contenthub/domain"
	"contenthub/ports"
)

func scheduleTopics(n int) []domain.ScheduleTopic {
	out := make([]domain.ScheduleTopic, n)
	for i := range out {
		out[i] = domain.ScheduleTopic{Topic: fmt.Sprintf("选题 %d", i+1), Keywords: []string{"AI"}}
	}
	return out
}

func morningParams(accounts []int64, count int, misfire domain.Misfire) domain.ScheduleParams {
	return domain.ScheduleParams{
		Name: "每日早报", Cron: "0 8 * * *", Timezone: "Asia/Shanghai",
		AccountIDs: accounts, CountPerAccount: count, Topics: scheduleTopics(5), Misfire: misfire,
	}
}

func tasksOf(t *testing.T, store ports.TaskStore, scheduleID string) []*domain.Task {
	t.Helper()
	page, err := store.ListTasks(t.Context(), ports.TaskQuery{ScheduleID: scheduleID, Limit: 200})
	require.NoError(t, err)
	return page.Items
}

func TestTriggeredRunsCreateTasksPerAccount(t *testing.T) {
	t.Parallel()
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		ctx := t.Context()
		clock := newSettableClock(time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC))
		deps := testDeps(store, clock)
		hub := events.NewLocal()
		t.Cleanup(func() { _ = hub.Close() })
		deps.Publisher = hub
		seen, err := hub.Subscribe(ctx, ports.EventFilter{})
		require.NoError(t, err)
		dispatch := application.NewWakeup()
		u := application.NewSchedules(deps, store, cronspec.NewParser(), dispatch)

		item, err := u.Create(ctx, morningParams([]int64{1, 2}, 3, ""))
		require.NoError(t, err)
		sch := item.Schedule
		// 08:00 Shanghai is 00:00 UTC: the next one is tomorrow's.
		require.Equal(t, time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC), sch.NextRunAt())

		run, err := u.Trigger(ctx, sch.ID())
		require.NoError(t, err)
		require.Equal(t, domain.TriggerManual, run.Trigger)
		require.Equal(t, domain.RunCreated, run.Status)
		require.Equal(t, clock.Now(), run.FireTime)
		require.Equal(t, map[int64]int{1: 3, 2: 3}, run.AccountStats)
		require.Equal(t, 6, run.TotalSubmitted)
		require.Len(t, run.TaskIDs, 6)

		tasks := tasksOf(t, store, sch.ID())
		require.Len(t, tasks, 6, "count_per_account × accounts")
		perAccount := map[int64]int{}
		for _, tk := range tasks {
			require.Equal(t, run.ID, tk.RunID())
			require.Equal(t, domain.StatusPending, tk.Status())
			perAccount[tk.AccountID()]++
		}
		require.Equal(t, map[int64]int{1: 3, 2: 3}, perAccount)

		select {
		case <-dispatch.C():
		default:
			t.Fatal("the dispatcher was not woken")
		}
		for range 6 {
			ev := <-seen
			require.Equal(t, sch.ID(), ev.ScheduleID, "the SSE event names the schedule")
			require.Equal(t, run.ID, ev.RunID)
			require.Equal(t, domain.StatusPending, ev.Status)
		}

		// A manual run leaves the cron's next fire time alone and shows as last run.
		got, err := u.Get(ctx, sch.ID())
		require.NoError(t, err)
		require.Equal(t, sch.NextRunAt(), got.Schedule.NextRunAt())
		require.Equal(t, run.ID, got.LastRun.ID)

		// The second run takes the next topics (5 topics, 3 per account: 4, 5, 1).
		clock.Set(clock.Now().Add(time.Minute))
		second, err := u.Trigger(ctx, sch.ID())
		require.NoError(t, err)
		tk, err := store.GetTask(ctx, second.TaskIDs[0])
		require.NoError(t, err)
		require.Equal(t, "选题 4", tk.Topic())
		runs, err := u.Runs(ctx, sch.ID(), 0)
		require.NoError(t, err)
		require.Equal(t, []string{second.ID, run.ID}, []string{runs[0].ID, runs[1].ID}, "newest first")

		_, err = u.Trigger(ctx, "sch-nobody")
		require.ErrorIs(t, err, domain.ErrNotFound)
	})
}

// clashingIDs names every task "task-clash", so a run's second task
// collides with its first.
type clashingIDs struct{ ids.Random }

func (c clashingIDs) NewID(prefix string) string {
	if prefix == "task" {
		return "task-clash"
	}
	return c.Random.NewID(prefix)
}

func TestRunWhoseTasksCannotAllBeCreatedFailsWithItsReason(t *testing.T) {
	t.Parallel()
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		ctx := t.Context()
		clock := newSettableClock(time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC))
		deps := testDeps(store, clock)
		deps.IDs = clashingIDs{}
		u := application.NewSchedules(deps, store, cronspec.NewParser(), application.NewWakeup())
		item, err := u.Create(ctx, morningParams([]int64{1, 2}, 2, ""))
		require.NoError(t, err)

		run, err := u.Trigger(ctx, item.Schedule.ID())
		require.NoError(t, err)
		require.Equal(t, domain.RunFailed, run.Status)
		require.Contains(t, run.Error, "task-clash")
		require.Contains(t, run.Error, "id exists")
		require.Empty(t, run.TaskIDs)
		require.Zero(t, run.TotalSubmitted)
		require.Empty(t, tasksOf(t, store, item.Schedule.ID()), "none of its tasks was created")
		_, err = store.GetTask(ctx, "task-clash")
		require.ErrorIs(t, err, domain.ErrNotFound)

		runs, err := u.Runs(ctx, item.Schedule.ID(), 0)
		require.NoError(t, err)
		require.Len(t, runs, 1, "visible in runs")
		require.Equal(t, domain.RunFailed, runs[0].Status)
		require.Equal(t, run.Error, runs[0].Error)
		got, err := u.Get(ctx, item.Schedule.ID())
		require.NoError(t, err)
		require.Equal(t, 0, got.Schedule.TopicCursor(), "its topics go to the next run")
	})
}

func TestRestartAcrossThreeFireTimes(t *testing.T) {
	t.Parallel()
	minute := func(m int) time.Time { return time.Date(2026, 12, 6, 10, m, 0, 0, time.UTC) }
	for _, misfire := range []domain.Misfire{domain.MisfireRunOnce, domain.MisfireSkip} {
		t.Run(string(misfire), func(t *testing.T) {
			t.Parallel()
			sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
				ctx := t.Context()
				clock := newSettableClock(minute(0).Add(30 * time.Second))
				u := application.NewSchedules(testDeps(store, clock), store, cronspec.NewParser(), application.NewWakeup())
				p := morningParams([]int64{1}, 1, misfire)
				p.Cron, p.Timezone = "* * * * *", "UTC"
				item, err := u.Create(ctx, p)
				require.NoError(t, err)
				id := item.Schedule.ID()

				// The first process fires 10:01 …
				first := application.NewScheduler(u, application.SchedulerConfig{})
				clock.Set(minute(1))
				n, err := first.FireDue(ctx)
				require.NoError(t, err)
				require.Equal(t, 1, n)

				// … and is down across 10:02, 10:03 and 10:04. The next one
				// starts at 10:04:30.
				clock.Set(minute(4).Add(30 * time.Second))
				second := application.NewScheduler(u, application.SchedulerConfig{})
				n, err = second.FireDue(ctx)
				require.NoError(t, err)
				again, err := second.FireDue(ctx)
				require.NoError(t, err)
				require.Zero(t, again, "the missed times are handled once")

				got, err := u.Get(ctx, id)
				require.NoError(t, err)
				require.Equal(t, minute(5), got.Schedule.NextRunAt(), "then the schedule goes on from now")

				clock.Set(minute(5))
				_, err = second.FireDue(ctx)
				require.NoError(t, err)

				runs, err := u.Runs(ctx, id, 0)
				require.NoError(t, err)
				var fired []string
				for _, r := range runs {
					fired = append(fired, r.FireTime.Format("15:04")+" "+string(r.Trigger))
				}
				sort.Strings(fired)
				if misfire == domain.MisfireRunOnce {
					require.Equal(t, 1, n, "exactly one catch_up run")
					require.Equal(t, []string{"10:01 cron", "10:02 catch_up", "10:05 cron"}, fired)
					require.Len(t, tasksOf(t, store, id), 3)
				} else {
					require.Zero(t, n, "no run with skip")
					require.Equal(t, []string{"10:01 cron", "10:05 cron"}, fired)
					require.Len(t, tasksOf(t, store, id), 2)
				}
			})
		})
	}
}

// TestTwoReplicasFireEachSecondOnce runs two schedulers, as two worker
// replicas would, each with its own connection pool, on one PostgreSQL
// database, with a schedule that fires every second, for ten fire times.
func TestTwoReplicasFireEachSecondOnce(t *testing.T) {
	t.Parallel()
	url := sqlstoretest.PostgresURL(t)
	seconds := cronspec.NewParser(cronspec.WithSeconds())
	type replica struct {
		store     *sqlstore.Store
		schedules *application.Schedules
		scheduler *application.Scheduler
	}
	var replicas []replica
	for range 2 {
		store, err := sqlstore.Open(t.Context(), url)
		require.NoError(t, err)
		t.Cleanup(func() { _ = store.Close() })
		deps := testDeps(store, realClock{})
		u := application.NewSchedules(deps, store, seconds, application.NewWakeup())
		// Resync short, so the replica that did not create the schedule
		// sees it soon; after that both sleep until the next fire time.
		replicas = append(replicas, replica{store, u, application.NewScheduler(u, application.SchedulerConfig{Resync: 300 * time.Millisecond})})
	}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, r := range replicas {
		wg.Add(1)
		go func() { defer wg.Done(); r.scheduler.Run(ctx) }()
	}
	t.Cleanup(func() { stop(); wg.Wait() })

	p := morningParams([]int64{1, 2}, 2, "")
	p.Cron, p.Timezone = "* * * * * *", "UTC"
	item, err := replicas[0].schedules.Create(t.Context(), p)
	require.NoError(t, err)
	id := item.Schedule.ID()
	first := item.Schedule.NextRunAt()

	const fireTimes = 10
	deadline := time.Now().Add(60 * time.Second)
	for {
		runs, err := replicas[1].schedules.Runs(t.Context(), id, 200)
		require.NoError(t, err)
		if len(runs) >= fireTimes {
			break
		}
		require.True(t, time.Now().Before(deadline), "only %d runs after a minute", len(runs))
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	wg.Wait()

	runs, err := replicas[0].schedules.Runs(t.Context(), id, 200)
	require.NoError(t, err)
	sort.Slice(runs, func(i, j int) bool { return runs[i].FireTime.Before(runs[j].FireTime) })
	require.GreaterOrEqual(t, len(runs), fireTimes)
	taskIDs := map[string]bool{}
	for i, r := range runs {
		require.Equal(t, first.Add(time.Duration(i)*time.Second), r.FireTime,
			"run %d: one run per second from the first fire time, none missed, none twice", i)
		require.Equal(t, domain.TriggerCron, r.Trigger, "both replicas ran when every fire time came")
		require.Equal(t, domain.RunCreated, r.Status)
		require.Equal(t, map[int64]int{1: 2, 2: 2}, r.AccountStats)
		for _, tid := range r.TaskIDs {
			taskIDs[tid] = true
		}
	}
	tasks := tasksOf(t, replicas[0].store, id)
	require.Len(t, tasks, 4*len(runs), "4 tasks per run and not one more")
	for _, tk := range tasks {
		require.True(t, taskIDs[tk.ID()], "task %s belongs to a recorded run", tk.ID())
	}
	got, err := replicas[1].schedules.Get(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, runs[len(runs)-1].FireTime.Add(time.Second), got.Schedule.NextRunAt())
	require.Equal(t, (len(runs)*2)%5, got.Schedule.TopicCursor(), "the cursor moved once per run")
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now().UTC() }
