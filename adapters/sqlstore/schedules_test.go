package sqlstore_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/cronspec"
	"contenthub/adapters/sqlstore"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/domain"
	"contenthub/ports"
)

func hourly(t testing.TB) domain.Cron {
	c, err := cronspec.NewParser().Parse("0 * * * *", "Asia/Shanghai")
	require.NoError(t, err)
	return c
}

func newScheduleAt(t testing.TB, id string, at time.Time, accounts []int64, count int, topicNames ...string) *domain.Schedule {
	t.Helper()
	topics := make([]domain.ScheduleTopic, len(topicNames))
	for i, n := range topicNames {
		topics[i] = domain.ScheduleTopic{Topic: n, Keywords: []string{"关键词", n}, Requirements: "800 字", Tone: "lively", Category: "tech"}
	}
	s, err := domain.NewSchedule(domain.ScheduleParams{
		ID: id, Name: "早间文章 " + id, Cron: "0 * * * *", Timezone: "Asia/Shanghai",
		AccountIDs: accounts, CountPerAccount: count, Topics: topics, Priority: 7,
	}, hourly(t), at)
	require.NoError(t, err)
	return s
}

// seq makes ids prefix-tag-1, prefix-tag-2, …
func seq(tag string) func(string) string {
	n := 0
	return func(prefix string) string { n++; return fmt.Sprintf("%s-%s-%d", prefix, tag, n) }
}

// fireDue plans the schedule's due fire time at now, for a scheduler running since started.
func fireDue(t testing.TB, now, started time.Time, ids func(string) string) ports.FireFunc {
	return func(s *domain.Schedule) (domain.FirePlan, bool, error) {
		d, ok := s.Due(hourly(t), now, started)
		if !ok {
			return domain.FirePlan{}, false, nil
		}
		return s.Fire(d, now, ids), true, nil
	}
}

func scheduleTasks(t testing.TB, s *sqlstore.Store, scheduleID string) []*domain.Task {
	t.Helper()
	page, err := s.ListTasks(t.Context(), ports.TaskQuery{ScheduleID: scheduleID, Limit: 200})
	require.NoError(t, err)
	return page.Items
}

func TestScheduleRoundTrip(t *testing.T) {
	t.Parallel()
	sqlstoretest.Each(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		sch := newScheduleAt(t, "sch-a", base, []int64{3, 1}, 2, "一", "二", "三")
		require.NoError(t, s.CreateSchedule(ctx, sch))
		require.ErrorIs(t, s.CreateSchedule(ctx, sch), domain.ErrConflict)

		got, err := s.GetSchedule(ctx, "sch-a")
		require.NoError(t, err)
		want := sch.Snapshot()
		want.CreatedAt, want.UpdatedAt = want.CreatedAt.Truncate(time.Microsecond), want.UpdatedAt.Truncate(time.Microsecond)
		require.Equal(t, want, got.Schedule.Snapshot())
		require.Nil(t, got.LastRun)

		_, err = s.GetSchedule(ctx, "sch-nobody")
		require.ErrorIs(t, err, domain.ErrNotFound)

		require.NoError(t, s.CreateSchedule(ctx, newScheduleAt(t, "sch-b", base.Add(time.Second), []int64{1}, 1, "x")))
		items, err := s.ListSchedules(ctx)
		require.NoError(t, err)
		require.Len(t, items, 2)
		require.Equal(t, "sch-a", items[0].Schedule.ID(), "oldest first")

		name := "renamed"
		updated, err := s.UpdateSchedule(ctx, "sch-a", func(sc *domain.Schedule) error {
			return sc.Change(domain.SchedulePatch{Name: &name}, hourly(t), base.Add(time.Minute))
		})
		require.NoError(t, err)
		require.Equal(t, int64(2), updated.Version())
		got, err = s.GetSchedule(ctx, "sch-a")
		require.NoError(t, err)
		require.Equal(t, "renamed", got.Schedule.Name())
		require.Equal(t, int64(2), got.Schedule.Version())

		// A refused change writes nothing.
		zero := 0
		_, err = s.UpdateSchedule(ctx, "sch-a", func(sc *domain.Schedule) error {
			return sc.Change(domain.SchedulePatch{CountPerAccount: &zero}, hourly(t), base)
		})
		require.Error(t, err)
		got, err = s.GetSchedule(ctx, "sch-a")
		require.NoError(t, err)
		require.Equal(t, int64(2), got.Schedule.Version())
	})
}

func TestFireScheduleCreatesRunAndTasks(t *testing.T) {
	t.Parallel()
	sqlstoretest.Each(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		sch := newScheduleAt(t, "sch-fire", base, []int64{1, 2}, 3, "a", "b", "c", "d")
		require.NoError(t, s.CreateSchedule(ctx, sch))
		first := sch.NextRunAt()

		// Not due yet: nothing is written.
		_, err := s.FireSchedule(ctx, "sch-fire", fireDue(t, first.Add(-time.Second), base, seq("early")))
		require.NoError(t, err)
		runs, err := s.ListRuns(ctx, "sch-fire", 0)
		require.NoError(t, err)
		require.Empty(t, runs)

		stored, err := s.FireSchedule(ctx, "sch-fire", fireDue(t, first, base, seq("one")))
		require.NoError(t, err)
		require.Equal(t, first.Add(time.Hour), stored.NextRunAt())
		require.Equal(t, 3, stored.TopicCursor())

		runs, err = s.ListRuns(ctx, "sch-fire", 0)
		require.NoError(t, err)
		require.Len(t, runs, 1)
		run := runs[0]
		require.Equal(t, domain.TriggerCron, run.Trigger)
		require.Equal(t, domain.RunCreated, run.Status)
		require.Equal(t, first, run.FireTime)
		require.Equal(t, map[int64]int{1: 3, 2: 3}, run.AccountStats)
		require.Equal(t, 6, run.TotalSubmitted)
		require.Len(t, run.TaskIDs, 6)

		tasks := scheduleTasks(t, s, "sch-fire")
		require.Len(t, tasks, 6, "count_per_account × accounts")
		var gotIDs []string
		perAccount := map[int64][]string{}
		for _, tk := range tasks {
			require.Equal(t, "sch-fire", tk.ScheduleID())
			require.Equal(t, run.ID, tk.RunID())
			require.Equal(t, domain.StatusPending, tk.Status())
			require.Equal(t, 7, tk.Priority())
			require.Equal(t, "800 字", tk.Requirements())
			gotIDs = append(gotIDs, tk.ID())
			perAccount[tk.AccountID()] = append(perAccount[tk.AccountID()], tk.Topic())
		}
		want := append([]string(nil), run.TaskIDs...)
		sort.Strings(want)
		sort.Strings(gotIDs)
		require.Equal(t, want, gotIDs)
		for _, topics := range perAccount {
			sort.Strings(topics)
			require.Equal(t, []string{"a", "b", "c"}, topics)
		}
		got, err := s.GetTask(ctx, run.TaskIDs[0])
		require.NoError(t, err)
		require.Equal(t, run.ID, got.RunID(), "GetTask reads the origin too")

		// The last run comes with the schedule.
		item, err := s.GetSchedule(ctx, "sch-fire")
		require.NoError(t, err)
		require.NotNil(t, item.LastRun)
		require.Equal(t, run.ID, item.LastRun.ID)

		// The next run continues the topics, wrapping: d, a, b.
		_, err = s.FireSchedule(ctx, "sch-fire", fireDue(t, first.Add(time.Hour), base, seq("two")))
		require.NoError(t, err)
		runs, err = s.ListRuns(ctx, "sch-fire", 0)
		require.NoError(t, err)
		require.Len(t, runs, 2)
		require.Equal(t, first.Add(time.Hour), runs[0].FireTime, "newest first")
		secondTask, err := s.GetTask(ctx, runs[0].TaskIDs[0])
		require.NoError(t, err)
		require.Equal(t, "d", secondTask.Topic())

		// Other tasks are not in the schedule's list.
		_, _, err = s.CreateTask(ctx, newTask(t, "task-unscheduled", base, account(1)), nil)
		require.NoError(t, err)
		require.Len(t, scheduleTasks(t, s, "sch-fire"), 12)

		// Deleting the schedule removes its runs and keeps its tasks.
		require.NoError(t, s.DeleteSchedule(ctx, "sch-fire"))
		require.ErrorIs(t, s.DeleteSchedule(ctx, "sch-fire"), domain.ErrNotFound)
		runs, err = s.ListRuns(ctx, "sch-fire", 0)
		require.NoError(t, err)
		require.Empty(t, runs)
		require.Len(t, scheduleTasks(t, s, "sch-fire"), 12)
	})
}

func TestFireScheduleOncePerFireTime(t *testing.T) {
	t.Parallel()
	sqlstoretest.Each(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		sch := newScheduleAt(t, "sch-once", base, []int64{1}, 2, "a", "b")
		require.NoError(t, s.CreateSchedule(ctx, sch))
		ft := sch.NextRunAt()
		require.NoError(t, s.CreateSchedule(ctx, newScheduleAt(t, "sch-other", base, []int64{1}, 1, "z")))

		// A run for this fire time exists (a replica that read the schedule
		// before this one moved it on plans the same fire time).
		plan := func(tag string) ports.FireFunc {
			return func(sc *domain.Schedule) (domain.FirePlan, bool, error) {
				d := domain.Due{FireTime: ft, Trigger: domain.TriggerCron, Next: ft.Add(time.Hour)}
				return sc.Fire(d, ft, seq(tag)), true, nil
			}
		}
		_, err := s.FireSchedule(ctx, "sch-once", plan("winner"))
		require.NoError(t, err)
		before, err := s.GetSchedule(ctx, "sch-once")
		require.NoError(t, err)

		_, err = s.FireSchedule(ctx, "sch-once", plan("loser"))
		require.ErrorIs(t, err, domain.ErrRunExists)
		after, err := s.GetSchedule(ctx, "sch-once")
		require.NoError(t, err)
		require.Equal(t, before.Schedule.Snapshot(), after.Schedule.Snapshot(), "the loser changed nothing")
		require.Len(t, scheduleTasks(t, s, "sch-once"), 2, "and created no task")

		// The key is per schedule: another schedule fires the same time.
		_, err = s.FireSchedule(ctx, "sch-other", fireDue(t, ft, base, seq("other")))
		require.NoError(t, err)
		require.Len(t, scheduleTasks(t, s, "sch-other"), 1)
	})
}

func TestFireScheduleAllOrNothing(t *testing.T) {
	t.Parallel()
	sqlstoretest.Each(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		sch := newScheduleAt(t, "sch-all", base, []int64{1, 2}, 2, "a", "b")
		require.NoError(t, s.CreateSchedule(ctx, sch))
		// The third task's id is taken: its insert fails.
		_, _, err := s.CreateTask(ctx, newTask(t, "task-clash-3", base), nil)
		require.NoError(t, err)

		_, err = s.FireSchedule(ctx, "sch-all", fireDue(t, sch.NextRunAt(), base, seq("clash")))
		require.ErrorIs(t, err, domain.ErrConflict)

		runs, err := s.ListRuns(ctx, "sch-all", 0)
		require.NoError(t, err)
		require.Empty(t, runs, "no run")
		require.Empty(t, scheduleTasks(t, s, "sch-all"), "no task")
		for _, id := range []string{"task-clash-2", "task-clash-4", "task-clash-5"} {
			_, err := s.GetTask(ctx, id)
			require.ErrorIs(t, err, domain.ErrNotFound, id)
		}
		got, err := s.GetSchedule(ctx, "sch-all")
		require.NoError(t, err)
		require.Equal(t, int64(1), got.Schedule.Version(), "the schedule did not move on")
		require.Equal(t, 0, got.Schedule.TopicCursor())
	})
}

func TestDueSchedulesAndNextFireTime(t *testing.T) {
	t.Parallel()
	sqlstoretest.Each(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		next, err := s.NextFireTime(ctx)
		require.NoError(t, err)
		require.True(t, next.IsZero(), "no schedule: no wake-up")

		early := newScheduleAt(t, "sch-early", base, []int64{1}, 1, "a")
		late := newScheduleAt(t, "sch-late", base.Add(time.Hour), []int64{1}, 1, "a")
		paused := newScheduleAt(t, "sch-paused", base.Add(-2*time.Hour), []int64{1}, 1, "a")
		off := false
		require.NoError(t, paused.Change(domain.SchedulePatch{Enabled: &off}, hourly(t), base))
		for _, sc := range []*domain.Schedule{early, late, paused} {
			require.NoError(t, s.CreateSchedule(ctx, sc))
		}
		next, err = s.NextFireTime(ctx)
		require.NoError(t, err)
		require.Equal(t, early.NextRunAt(), next)

		due, err := s.DueSchedules(ctx, early.NextRunAt().Add(-time.Microsecond))
		require.NoError(t, err)
		require.Empty(t, due)
		due, err = s.DueSchedules(ctx, late.NextRunAt())
		require.NoError(t, err)
		require.Equal(t, []string{"sch-early", "sch-late"}, due, "earliest first, paused never")
	})
}
