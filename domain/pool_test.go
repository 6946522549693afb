package domain_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/domain"
)

var poolAt = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func claimedEntry(t *testing.T, secret string) domain.PoolEntry {
	t.Helper()
	e := domain.NewPoolEntry("pool-1", domain.Content{ID: "content-1", TaskID: "task-1", AccountID: 3}, 5, poolAt, poolAt)
	c, err := domain.NewClaim(secret, poolAt, time.Minute)
	require.NoError(t, err)
	require.NoError(t, e.Claim(c))
	return e
}

func TestPoolClaim(t *testing.T) {
	e := claimedEntry(t, "s3cret")
	require.Equal(t, domain.PoolClaimed, e.Status)
	require.Equal(t, poolAt.Add(time.Minute), e.LeaseExpiresAt)
	require.Equal(t, domain.HashToken("s3cret"), e.ClaimTokenHash, "only the hash is kept")

	c, err := domain.NewClaim("other", poolAt, time.Minute)
	require.NoError(t, err)
	require.ErrorIs(t, e.Claim(c), domain.ErrConflict, "a claimed entry cannot be claimed again")

	notDue := domain.NewPoolEntry("pool-2", domain.Content{ID: "c2"}, 5, poolAt.Add(time.Hour), poolAt)
	require.ErrorIs(t, notDue.Claim(c), domain.ErrConflict, "an entry scheduled later is not due")

	for _, lease := range []time.Duration{0, 9 * time.Second, time.Hour + time.Second} {
		_, err := domain.NewClaim("s", poolAt, lease)
		var ve *domain.ValidationError
		require.True(t, errors.As(err, &ve), "lease %s", lease)
		require.Equal(t, "lease", ve.Field)
	}
	for _, lease := range []time.Duration{10 * time.Second, time.Hour} {
		_, err := domain.NewClaim("s", poolAt, lease)
		require.NoError(t, err, "lease %s is within bounds", lease)
	}
	for _, n := range []int{0, 51, -1} {
		require.Error(t, domain.CheckClaimLimit(n))
	}
	require.NoError(t, domain.CheckClaimLimit(1))
	require.NoError(t, domain.CheckClaimLimit(50))
}

func TestPoolPublished(t *testing.T) {
	token := domain.ClaimToken("s3cret", "pool-1")
	t.Run("the holder publishes, and may repeat it", func(t *testing.T) {
		e := claimedEntry(t, "s3cret")
		at := poolAt.Add(30 * time.Second)
		out, err := e.MarkPublished(domain.Publication{ClaimToken: token, URL: "https://mp.example/a/1", PlatformID: "wx-1"}, at)
		require.NoError(t, err)
		require.True(t, out.Changed)
		require.Equal(t, domain.PoolPublished, e.Status)
		require.Equal(t, at, e.PublishedAt)
		require.Equal(t, "https://mp.example/a/1", e.PublishedURL)
		require.Equal(t, domain.EventPoolPublished, out.Announcement.Event)

		again, err := e.MarkPublished(domain.Publication{ClaimToken: token}, at.Add(time.Hour))
		require.NoError(t, err)
		require.False(t, again.Changed)
		require.Equal(t, at, e.PublishedAt)
	})
	refusals := map[string]struct {
		token string
		at    time.Time
		is    error
	}{
		"wrong secret":         {domain.ClaimToken("guess", "pool-1"), poolAt, domain.ErrClaimToken},
		"another entry's":      {domain.ClaimToken("s3cret", "pool-2"), poolAt, domain.ErrClaimToken},
		"not a token":          {"s3cret", poolAt, domain.ErrClaimToken},
		"lease ended":          {token, poolAt.Add(time.Minute), domain.ErrLeaseExpired},
		"lease long ago ended": {token, poolAt.Add(time.Hour), domain.ErrLeaseExpired},
	}
	for name, r := range refusals {
		t.Run(name, func(t *testing.T) {
			e := claimedEntry(t, "s3cret")
			before := e
			_, err := e.MarkPublished(domain.Publication{ClaimToken: r.token}, r.at)
			require.ErrorIs(t, err, r.is)
			require.ErrorIs(t, err, domain.ErrConflict)
			require.Equal(t, before, e, "a refused move changes nothing")
		})
	}
	t.Run("a pending entry cannot be published", func(t *testing.T) {
		e := domain.NewPoolEntry("pool-1", domain.Content{ID: "c"}, 5, poolAt, poolAt)
		_, err := e.MarkPublished(domain.Publication{ClaimToken: token}, poolAt)
		require.ErrorIs(t, err, domain.ErrConflict)
	})
	t.Run("bad input names the field", func(t *testing.T) {
		e := claimedEntry(t, "s3cret")
		for field, p := range map[string]domain.Publication{
			"claim_token": {},
			"url":         {ClaimToken: token, URL: "javascript:alert(1)"},
		} {
			_, err := e.MarkPublished(p, poolAt)
			var ve *domain.ValidationError
			require.True(t, errors.As(err, &ve))
			require.Equal(t, field, ve.Field)
		}
	})
}

func TestPoolFailedRetriesThenGivesUp(t *testing.T) {
	e := claimedEntry(t, "one")
	at := poolAt
	for round := 1; round <= domain.DefaultPoolMaxRetries; round++ {
		secret := "s" + string(rune('0'+round))
		if round > 1 {
			c, err := domain.NewClaim(secret, at, time.Minute)
			require.NoError(t, err)
			require.NoError(t, e.Claim(c))
		} else {
			secret = "one"
		}
		out, err := e.MarkFailed(domain.PublishFailure{
			ClaimToken: domain.ClaimToken(secret, e.ID), Error: "平台超时", Backoff: 2 * time.Minute,
		}, at.Add(time.Second))
		require.NoError(t, err)
		require.True(t, out.Changed)
		require.Equal(t, round, e.RetryCount)
		require.Equal(t, "平台超时", e.LastError)
		if round < domain.DefaultPoolMaxRetries {
			require.Equal(t, domain.PoolPending, e.Status)
			require.Equal(t, at.Add(time.Second+2*time.Minute), e.AvailableAt, "claimable again after the backoff")
			require.Nil(t, out.Announcement, "a failure that will be retried sends nothing")
			at = e.AvailableAt
			continue
		}
		require.Equal(t, domain.PoolFailed, e.Status)
		require.Equal(t, domain.EventPoolFailed, out.Announcement.Event)
		require.Equal(t, 3, out.Announcement.RetryCount)
		// The holder repeating it is a no-op; publishing it now is refused.
		again, err := e.MarkFailed(domain.PublishFailure{ClaimToken: domain.ClaimToken(secret, e.ID), Error: "x"}, at)
		require.NoError(t, err)
		require.False(t, again.Changed)
		_, err = e.MarkPublished(domain.Publication{ClaimToken: domain.ClaimToken(secret, e.ID)}, at)
		require.ErrorIs(t, err, domain.ErrConflict)
	}
	e2 := claimedEntry(t, "x")
	_, err := e2.MarkFailed(domain.PublishFailure{ClaimToken: domain.ClaimToken("x", e2.ID)}, poolAt)
	var ve *domain.ValidationError
	require.True(t, errors.As(err, &ve))
	require.Equal(t, "error", ve.Field)
}

func TestPoolLeaseExpiry(t *testing.T) {
	e := claimedEntry(t, "s")
	require.False(t, e.ReleaseExpired(poolAt.Add(59*time.Second)), "a live lease stays")
	require.Equal(t, domain.PoolClaimed, e.Status)
	end := poolAt.Add(time.Minute)
	require.True(t, e.ReleaseExpired(end))
	require.Equal(t, domain.PoolPending, e.Status)
	require.Equal(t, 0, e.RetryCount, "an expired lease is not a failure")
	require.Equal(t, end, e.AvailableAt)
	require.False(t, e.ReleaseExpired(end.Add(time.Hour)), "nothing to release on a pending entry")
	// The old holder's token no longer works: it is pending now.
	_, err := e.MarkPublished(domain.Publication{ClaimToken: domain.ClaimToken("s", e.ID)}, end)
	require.ErrorIs(t, err, domain.ErrConflict)
}

func TestPoolStatuses(t *testing.T) {
	for _, s := range domain.PoolStatuses {
		require.True(t, s.Valid())
	}
	require.False(t, domain.PoolStatus("queued").Valid())
}
