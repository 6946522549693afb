package domain_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/cronspec"
	"contenthub/domain"
)

// counter makes ids prefix-1, prefix-2, …
func counter() func(string) string {
	n := 0
	return func(prefix string) string { n++; return fmt.Sprintf("%s-%d", prefix, n) }
}

func cronOf(t *testing.T, expr, zone string) domain.Cron {
	t.Helper()
	c, err := cronspec.NewParser().Parse(expr, zone)
	require.NoError(t, err)
	return c
}

func topics(names ...string) []domain.ScheduleTopic {
	out := make([]domain.ScheduleTopic, len(names))
	for i, n := range names {
		out[i] = domain.ScheduleTopic{Topic: n, Keywords: []string{"kw-" + n}, Tone: "calm"}
	}
	return out
}

func newSchedule(t *testing.T, cron domain.Cron, now time.Time, edit ...func(*domain.ScheduleParams)) *domain.Schedule {
	t.Helper()
	p := domain.ScheduleParams{
		ID: "sch-1", Name: "morning", Cron: "0 8 * * *", Timezone: "America/New_York",
		AccountIDs: []int64{1, 2}, CountPerAccount: 2, Topics: topics("a", "b", "c", "d", "e"),
	}
	for _, e := range edit {
		e(&p)
	}
	s, err := domain.NewSchedule(p, cron, now)
	require.NoError(t, err)
	return s
}

func TestScheduleNextFireAcrossDST(t *testing.T) {
	ny, err := cronspec.Location("America/New_York")
	require.NoError(t, err)
	cron := cronOf(t, "0 8 * * *", "America/New_York")

	for _, tc := range []struct {
		name  string
		start time.Time
		want  []time.Time // UTC
	}{
		{"spring forward", time.Date(2026, 3, 6, 9, 0, 0, 0, ny), []time.Time{
			time.Date(2026, 3, 7, 13, 0, 0, 0, time.UTC), // 08:00 EST
			time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC), // 08:00 EDT
			time.Date(2026, 3, 9, 12, 0, 0, 0, time.UTC),
		}},
		{"fall back", time.Date(2026, 10, 30, 9, 0, 0, 0, ny), []time.Time{
			time.Date(2026, 10, 31, 12, 0, 0, 0, time.UTC), // 08:00 EDT
			time.Date(2026, 11, 1, 13, 0, 0, 0, time.UTC),  // 08:00 EST
			time.Date(2026, 11, 2, 13, 0, 0, 0, time.UTC),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSchedule(t, cron, tc.start)
			started := tc.start
			var got []time.Time
			for _, at := range tc.want {
				require.Equal(t, at, s.NextRunAt(), "next_run_at before the fire")
				_, due := s.Due(cron, at.Add(-time.Second), started)
				require.False(t, due, "not due a second early")
				d, due := s.Due(cron, at, started)
				require.True(t, due)
				require.Equal(t, domain.TriggerCron, d.Trigger)
				plan := s.Fire(d, at, counter())
				require.NotNil(t, plan.Run)
				got = append(got, plan.Run.FireTime)
				require.Equal(t, 8, plan.Run.FireTime.In(ny).Hour(), "08:00 on New York's clock")
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func TestTopicRotationWrapsAround(t *testing.T) {
	cron := cronOf(t, "0 8 * * *", "UTC")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newSchedule(t, cron, now) // 5 topics, 2 per account, accounts 1 and 2
	ids := counter()

	var perRun [][]string
	for range 4 {
		d := s.ManualDue(now)
		plan := s.Fire(d, now, ids)
		require.Equal(t, domain.RunCreated, plan.Run.Status)
		require.Len(t, plan.Tasks, 4)
		require.Equal(t, map[int64]int{1: 2, 2: 2}, plan.Run.AccountStats)
		require.Equal(t, 4, plan.Run.TotalSubmitted)
		var account1, account2 []string
		for i, tk := range plan.Tasks {
			require.Equal(t, "sch-1", tk.ScheduleID())
			require.Equal(t, plan.Run.ID, tk.RunID())
			require.Equal(t, plan.Run.TaskIDs[i], tk.ID())
			require.Equal(t, []string{"kw-" + tk.Topic()}, tk.Keywords())
			require.Equal(t, "calm", tk.Tone())
			if tk.AccountID() == 1 {
				account1 = append(account1, tk.Topic())
			} else {
				account2 = append(account2, tk.Topic())
			}
		}
		require.Equal(t, account1, account2, "every account takes the run's topics")
		perRun = append(perRun, account1)
	}
	require.Equal(t, [][]string{{"a", "b"}, {"c", "d"}, {"e", "a"}, {"b", "c"}}, perRun)
	require.Equal(t, 3, s.TopicCursor())

	// More per account than topics: the list wraps within one run.
	small := newSchedule(t, cron, now, func(p *domain.ScheduleParams) {
		p.Topics, p.CountPerAccount, p.AccountIDs = topics("x", "y"), 3, []int64{9}
	})
	plan := small.Fire(small.ManualDue(now), now, ids)
	var got []string
	for _, tk := range plan.Tasks {
		got = append(got, tk.Topic())
	}
	require.Equal(t, []string{"x", "y", "x"}, got)
	require.Equal(t, 1, small.TopicCursor())

	// A new list starts at its beginning.
	require.NoError(t, s.Change(domain.SchedulePatch{Topics: &[]domain.ScheduleTopic{{Topic: "new"}}}, cron, now))
	require.Equal(t, 0, s.TopicCursor())
}

func TestDueCronCatchUpAndSkip(t *testing.T) {
	cron := cronOf(t, "0 * * * *", "UTC") // hourly
	created := time.Date(2026, 1, 1, 0, 30, 0, 0, time.UTC)
	h := func(n int) time.Time { return time.Date(2026, 1, 1, n, 0, 0, 0, time.UTC) }

	// Running since before the fire time: cron, however late it is handled.
	s := newSchedule(t, cron, created)
	d, ok := s.Due(cron, h(1).Add(3*time.Minute), created)
	require.True(t, ok)
	require.Equal(t, domain.Due{FireTime: h(1), Trigger: domain.TriggerCron, Next: h(2)}, d)

	// Down from 00:40 to 03:30: 01:00, 02:00, 03:00 missed → one catch_up,
	// then on from the restart (next 04:00).
	for _, m := range []domain.Misfire{domain.MisfireRunOnce, domain.MisfireSkip} {
		s := newSchedule(t, cron, created, func(p *domain.ScheduleParams) { p.Misfire = m })
		restart := h(3).Add(30 * time.Minute)
		d, ok := s.Due(cron, restart, restart)
		require.True(t, ok)
		require.Equal(t, h(1), d.FireTime, "the first missed fire time")
		require.Equal(t, domain.TriggerCatchUp, d.Trigger)
		require.Equal(t, m == domain.MisfireSkip, d.Skip)
		require.Equal(t, h(4), d.Next)
		plan := s.Fire(d, restart, counter())
		require.Equal(t, h(4), s.NextRunAt())
		_, ok = s.Due(cron, restart, restart)
		require.False(t, ok, "the missed times are handled at once")
		if m == domain.MisfireSkip {
			require.Nil(t, plan.Run)
			require.Empty(t, plan.Tasks)
			require.Equal(t, 0, s.TopicCursor(), "a skip takes no topics")
		} else {
			require.Equal(t, domain.TriggerCatchUp, plan.Run.Trigger)
			require.Len(t, plan.Tasks, 4)
		}
	}

	// Paused: never due; resuming starts from now (the pause is not caught up).
	s = newSchedule(t, cron, created)
	off, on := false, true
	require.NoError(t, s.Change(domain.SchedulePatch{Enabled: &off}, cron, created))
	require.True(t, s.NextRunAt().IsZero())
	_, ok = s.Due(cron, h(5), created)
	require.False(t, ok)
	require.NoError(t, s.Change(domain.SchedulePatch{Enabled: &on}, cron, h(5).Add(time.Minute)))
	require.Equal(t, h(6), s.NextRunAt())

	// Manual: fires now and leaves the cron's next fire time alone.
	d = s.ManualDue(h(5).Add(2 * time.Minute))
	plan := s.Fire(d, h(5).Add(2*time.Minute), counter())
	require.Equal(t, domain.TriggerManual, plan.Run.Trigger)
	require.Equal(t, h(6), s.NextRunAt())
	require.Equal(t, plan.Run.ID, s.LastRunID())
}

func TestFireFailedCreatesNothingAndKeepsTopics(t *testing.T) {
	cron := cronOf(t, "0 8 * * *", "UTC")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newSchedule(t, cron, now)
	d, ok := s.Due(cron, s.NextRunAt(), now)
	require.True(t, ok)
	plan := s.FireFailed(d, s.NextRunAt(), counter(), "insert task: disk full")
	require.Equal(t, domain.RunFailed, plan.Run.Status)
	require.Equal(t, "insert task: disk full", plan.Run.Error)
	require.Empty(t, plan.Tasks)
	require.Empty(t, plan.Run.TaskIDs)
	require.Zero(t, plan.Run.TotalSubmitted)
	require.Equal(t, 0, s.TopicCursor())
	require.Equal(t, d.Next, s.NextRunAt(), "the schedule moves on")
}

func TestScheduleValidationNamesTheField(t *testing.T) {
	cron := cronOf(t, "0 8 * * *", "UTC")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	many := make([]domain.ScheduleTopic, domain.MaxScheduleTopics+1)
	for i := range many {
		many[i].Topic = fmt.Sprintf("t%d", i)
	}
	unknown := domain.Misfire("later")
	for _, tc := range []struct {
		field string
		edit  func(*domain.ScheduleParams)
	}{
		{"name", func(p *domain.ScheduleParams) { p.Name = " " }},
		{"account_ids", func(p *domain.ScheduleParams) { p.AccountIDs = nil }},
		{"account_ids", func(p *domain.ScheduleParams) { p.AccountIDs = []int64{1, 0} }},
		{"account_ids", func(p *domain.ScheduleParams) { p.AccountIDs = []int64{3, 3} }},
		{"count_per_account", func(p *domain.ScheduleParams) { p.CountPerAccount = 0 }},
		{"count_per_account", func(p *domain.ScheduleParams) { p.CountPerAccount = 51 }},
		{"topics", func(p *domain.ScheduleParams) { p.Topics = nil }},
		{"topics", func(p *domain.ScheduleParams) { p.Topics = many }},
		{"topics[1].topic", func(p *domain.ScheduleParams) { p.Topics = topics("ok", " ") }},
		{"topics[0].topic", func(p *domain.ScheduleParams) { p.Topics = topics(strings.Repeat("长", 501)) }},
		{"topics[0].keywords", func(p *domain.ScheduleParams) {
			p.Topics = []domain.ScheduleTopic{{Topic: "x", Keywords: []string{strings.Repeat("k", 101)}}}
		}},
		{"priority", func(p *domain.ScheduleParams) { p.Priority = 11 }},
		{"misfire", func(p *domain.ScheduleParams) { p.Misfire = unknown }},
	} {
		p := domain.ScheduleParams{
			ID: "sch-1", Name: "n", Cron: "0 8 * * *", AccountIDs: []int64{1}, CountPerAccount: 1, Topics: topics("a"),
		}
		tc.edit(&p)
		_, err := domain.NewSchedule(p, cron, now)
		var ve *domain.ValidationError
		require.True(t, errors.As(err, &ve), "%s: %v", tc.field, err)
		require.Equal(t, tc.field, ve.Field)
	}

	// A cron that parses but never fires (30 February).
	_, err := domain.NewSchedule(domain.ScheduleParams{
		ID: "sch-1", Name: "n", Cron: "0 0 30 2 *", AccountIDs: []int64{1}, CountPerAccount: 1, Topics: topics("a"),
	}, cronOf(t, "0 0 30 2 *", "UTC"), now)
	var ve *domain.ValidationError
	require.True(t, errors.As(err, &ve))
	require.Equal(t, "cron", ve.Field)
	require.Contains(t, ve.Message, "never fires")

	// Defaults.
	s := newSchedule(t, cron, now, func(p *domain.ScheduleParams) { p.Timezone = "" })
	require.Equal(t, "UTC", s.Timezone())
	require.Equal(t, domain.MisfireRunOnce, s.Misfire())
	require.Equal(t, domain.DefaultPriority, s.Priority())
	require.True(t, s.Enabled())
	require.True(t, s.AutoApprove())
	require.Equal(t, domain.DefaultMaxRetries, s.MaxRetries())

	// A bad patch changes nothing.
	before := s.Snapshot()
	zero := 0
	require.Error(t, s.Change(domain.SchedulePatch{CountPerAccount: &zero}, cron, now.Add(time.Hour)))
	require.Equal(t, before, s.Snapshot())
}
