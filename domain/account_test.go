package domain_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/domain"
)

func limits(t *testing.T, conc, perHour, weight int) domain.AccountLimits {
	t.Helper()
	l, err := domain.NewAccountLimits(conc, perHour, weight)
	require.NoError(t, err)
	return l
}

func TestNewAccountLimitsNamesTheBadField(t *testing.T) {
	for _, tc := range []struct {
		conc, perHour, weight int
		field                 string
	}{
		{-1, 0, 1, "max_concurrency"},
		{domain.MaxAccountConcurrency + 1, 0, 1, "max_concurrency"},
		{0, -1, 1, "max_tasks_per_hour"},
		{0, domain.MaxAccountTasksPerHour + 1, 1, "max_tasks_per_hour"},
		{0, 0, 0, "weight"},
		{0, 0, 101, "weight"},
	} {
		_, err := domain.NewAccountLimits(tc.conc, tc.perHour, tc.weight)
		var ve *domain.ValidationError
		require.True(t, errors.As(err, &ve), "%+v", tc)
		require.Equal(t, tc.field, ve.Field)
	}
	l := limits(t, 3, 120, 100)
	require.Equal(t, 3, l.MaxConcurrency())
	require.Equal(t, 120, l.MaxTasksPerHour())
	require.Equal(t, 100, l.Weight())
}

func TestParseAccountID(t *testing.T) {
	id, err := domain.ParseAccountID("42")
	require.NoError(t, err)
	require.EqualValues(t, 42, id)
	for _, bad := range []string{"", "0", "-3", "1.5", "abc", "99999999999999999999"} {
		_, err := domain.ParseAccountID(bad)
		var ve *domain.ValidationError
		require.True(t, errors.As(err, &ve), bad)
		require.Equal(t, "account_id", ve.Field)
	}
}

var acct0 = time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)

// A bulk account holding both slots loses the next one to a newcomer with a
// single task, whatever its backlog.
func TestFairShareGivesTheNextSlotToTheAccountRunningLeast(t *testing.T) {
	def := limits(t, 0, 0, 1)
	loads := []domain.AccountLoad{
		{AccountID: 1, Limits: def, Running: 2, Due: 1000, OldestDue: acct0},
		{AccountID: 2, Limits: def, Running: 0, Due: 1, OldestDue: acct0.Add(time.Hour)},
	}
	require.Equal(t, []int64{2, 1, 1}, domain.FairShare(loads, 3))
	// Ties in running per weight go to the older backlog.
	loads = []domain.AccountLoad{
		{AccountID: 5, Limits: def, Due: 3, OldestDue: acct0.Add(time.Minute)},
		{AccountID: 9, Limits: def, Due: 3, OldestDue: acct0},
	}
	require.Equal(t, []int64{9, 5, 9, 5}, domain.FairShare(loads, 4))
	require.Empty(t, domain.FairShare(loads, 0))
}

func TestFairShareFollowsWeights(t *testing.T) {
	loads := []domain.AccountLoad{
		{AccountID: 1, Limits: limits(t, 0, 0, 1), Due: 100, OldestDue: acct0},
		{AccountID: 2, Limits: limits(t, 0, 0, 2), Due: 100, OldestDue: acct0},
	}
	picks := domain.FairShare(loads, 30)
	n := map[int64]int{}
	for _, p := range picks {
		n[p]++
	}
	require.Equal(t, map[int64]int{1: 10, 2: 20}, n)
}

func TestFairShareRespectsAccountLimitsAndBacklog(t *testing.T) {
	loads := []domain.AccountLoad{
		{AccountID: 1, Limits: limits(t, 2, 0, 1), Running: 1, Due: 10, OldestDue: acct0},
		{AccountID: 2, Limits: limits(t, 0, 3, 1), OpenedInWindow: 2, Due: 10, OldestDue: acct0},
		{AccountID: 3, Limits: limits(t, 0, 0, 1), Due: 1, OldestDue: acct0},
	}
	// 1 may start one more, 2 may open one more this hour, 3 has one task.
	require.ElementsMatch(t, []int64{1, 2, 3}, domain.FairShare(loads, 10))
}

func TestWindowReopensAt(t *testing.T) {
	opened := []time.Time{acct0, acct0.Add(10 * time.Minute), acct0.Add(20 * time.Minute)}
	require.True(t, domain.WindowReopensAt(opened, 4).IsZero(), "room left")
	require.True(t, domain.WindowReopensAt(opened, 0).IsZero(), "no limit")
	require.Equal(t, acct0.Add(time.Hour), domain.WindowReopensAt(opened, 3))
	// Limit lowered below what was opened: two must leave the window.
	require.Equal(t, acct0.Add(70*time.Minute), domain.WindowReopensAt(opened, 2))
}

func TestWaitingFor(t *testing.T) {
	task, err := domain.NewTask(domain.NewTaskParams{ID: "task-w", AccountID: 1, Topic: "t"}, acct0)
	require.NoError(t, err)
	now := acct0.Add(time.Second)
	free := domain.AccountLoad{AccountID: 1, Limits: limits(t, 1, 5, 1)}
	require.Equal(t, domain.Waiting{}, domain.WaitingFor(task, free, 1, 2, now), "a slot is free: it goes next")
	require.Equal(t, domain.WaitingCapacity, domain.WaitingFor(task, free, 2, 2, now).Reason)

	busy := free
	busy.Running = 1
	require.Equal(t, domain.WaitingAccountConcurrency, domain.WaitingFor(task, busy, 1, 2, now).Reason)

	limited := free
	limited.OpenedInWindow, limited.WindowReopensAt = 5, acct0.Add(40*time.Minute)
	require.Equal(t, domain.Waiting{Reason: domain.WaitingAccountRateLimited, NotBefore: acct0.Add(40 * time.Minute)},
		domain.WaitingFor(task, limited, 0, 2, now))

	require.Equal(t, domain.Waiting{}, domain.WaitingFor(task, busy, 2, 2, acct0.Add(-time.Second)), "not due yet")
	_, err = task.Apply(domain.Event{Kind: domain.EventCancel, Source: domain.SourceAPI, At: now}, domain.Rules{})
	require.NoError(t, err)
	require.Equal(t, domain.Waiting{}, domain.WaitingFor(task, busy, 2, 2, now), "a cancelled task waits for nothing")
}
