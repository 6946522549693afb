package cronspec_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/cronspec"
	"contenthub/domain"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := cronspec.Location(name)
	require.NoError(t, err)
	return loc
}

// fires lists the next n fire times after from, on the zone's clock.
func fires(t *testing.T, expr, zone string, from time.Time, n int) []string {
	t.Helper()
	c, err := cronspec.NewParser().Parse(expr, zone)
	require.NoError(t, err)
	loc := mustLoc(t, zone)
	var out []string
	at := from
	for range n {
		next := c.Next(at)
		require.False(t, next.IsZero())
		require.True(t, next.After(at), "strictly after")
		require.Equal(t, time.UTC, next.Location())
		out = append(out, next.In(loc).Format("2006-01-02 15:04 MST"))
		at = next
	}
	return out
}

func TestDailyAtEightAcrossNewYorkDST(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	// 8 March 2026: clocks jump from 02:00 EST to 03:00 EDT.
	require.Equal(t, []string{
		"2026-03-07 08:00 EST", "2026-03-08 08:00 EDT", "2026-03-09 08:00 EDT",
	}, fires(t, "0 8 * * *", "America/New_York", time.Date(2026, 3, 7, 0, 0, 0, 0, ny), 3))
	// 1 November 2026: clocks fall back from 02:00 EDT to 01:00 EST.
	require.Equal(t, []string{
		"2026-10-31 08:00 EDT", "2026-11-01 08:00 EST", "2026-11-02 08:00 EST",
	}, fires(t, "0 8 * * *", "America/New_York", time.Date(2026, 10, 31, 0, 0, 0, 0, ny), 3))

	// The same wall-clock time is a different instant once the offset moved.
	c, err := cronspec.NewParser().Parse("0 8 * * *", "America/New_York")
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, 3, 7, 13, 0, 0, 0, time.UTC), c.Next(time.Date(2026, 3, 7, 0, 0, 0, 0, ny)))
	require.Equal(t, time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC), c.Next(time.Date(2026, 3, 7, 13, 0, 0, 0, time.UTC)))
}

func TestSkippedTimeFiresAtTheJumpOnce(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	// 02:30 does not exist on 8 March: it fires when the clock jumps (03:00 EDT), once.
	require.Equal(t, []string{
		"2026-03-07 02:30 EST", "2026-03-08 03:00 EDT", "2026-03-09 02:30 EDT", "2026-03-10 02:30 EDT",
	}, fires(t, "30 2 * * *", "America/New_York", time.Date(2026, 3, 7, 0, 0, 0, 0, ny), 4))
	// Several skipped times still fire once.
	require.Equal(t, []string{
		"2026-03-08 03:00 EDT", "2026-03-09 02:00 EDT",
	}, fires(t, "*/15 2 * * *", "America/New_York", time.Date(2026, 3, 8, 0, 0, 0, 0, ny), 2))
}

func TestRepeatedTimeFiresOnce(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	// 01:30 happens twice on 1 November (EDT, then EST): it fires the first time only.
	require.Equal(t, []string{
		"2026-10-31 01:30 EDT", "2026-11-01 01:30 EDT", "2026-11-02 01:30 EST",
	}, fires(t, "30 1 * * *", "America/New_York", time.Date(2026, 10, 31, 0, 0, 0, 0, ny), 3))
}

func TestWildcardHoursRunByTheClock(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	// Hourly: the repeated hour runs again, the skipped one does not exist.
	require.Equal(t, []string{
		"2026-11-01 01:00 EDT", "2026-11-01 01:00 EST", "2026-11-01 02:00 EST",
	}, fires(t, "@hourly", "America/New_York", time.Date(2026, 11, 1, 0, 30, 0, 0, ny), 3))
	require.Equal(t, []string{
		"2026-03-08 01:00 EST", "2026-03-08 03:00 EDT",
	}, fires(t, "0 * * * *", "America/New_York", time.Date(2026, 3, 8, 0, 30, 0, 0, ny), 2))
}

func TestShanghaiMorningAndDescriptors(t *testing.T) {
	sh := mustLoc(t, "Asia/Shanghai")
	from := time.Date(2026, 12, 6, 9, 0, 0, 0, sh)
	require.Equal(t, []string{"2026-12-07 08:00 CST", "2026-12-08 08:00 CST"},
		fires(t, "0 8 * * *", "Asia/Shanghai", from, 2))
	require.Equal(t, []string{"2026-12-07 00:00 CST"}, fires(t, "@daily", "Asia/Shanghai", from, 1))
	require.Equal(t, []string{"2026-12-06 10:00 CST"}, fires(t, "@hourly", "Asia/Shanghai", from, 1))
	require.Equal(t, []string{"2026-12-13 00:00 CST"}, fires(t, "@weekly", "Asia/Shanghai", from, 1), "6 Dec 2026 is a Sunday: the next Sunday midnight")
	c, err := cronspec.NewParser().Parse("0 8 * * *", "")
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC), c.Next(time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)), "no zone is UTC")
}

func TestBadInputNamesTheField(t *testing.T) {
	p := cronspec.NewParser()
	for _, tc := range []struct{ expr, zone, field string }{
		{"", "UTC", "cron"},
		{"61 * * * *", "UTC", "cron"},
		{"0 8 * *", "UTC", "cron"},
		{"* * * * * *", "UTC", "cron"}, // seconds are for tests only
		{"@every 5m", "UTC", "cron"},
		{"@fortnightly", "UTC", "cron"},
		{"CRON_TZ=Asia/Shanghai 0 8 * * *", "UTC", "cron"},
		{"0 8 * * *", "Mars/Olympus_Mons", "timezone"},
		{"0 8 * * *", "Local", "timezone"},
		{"0 8 * * *", "+08:00", "timezone"},
	} {
		_, err := p.Parse(tc.expr, tc.zone)
		var ve *domain.ValidationError
		require.True(t, errors.As(err, &ve), "%q in %q: %v", tc.expr, tc.zone, err)
		require.Equal(t, tc.field, ve.Field, "%q in %q", tc.expr, tc.zone)
	}
	// Parses, but never fires: the domain refuses it (Next is zero).
	c, err := p.Parse("0 0 30 2 *", "UTC")
	require.NoError(t, err)
	require.True(t, c.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero())
}

func TestWithSecondsForTests(t *testing.T) {
	c, err := cronspec.NewParser(cronspec.WithSeconds()).Parse("* * * * * *", "UTC")
	require.NoError(t, err)
	at := time.Date(2026, 1, 1, 0, 0, 0, 500, time.UTC)
	require.Equal(t, time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC), c.Next(at))
}
