package domain_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"contenthub/domain"
)

func TestBackoffDelay(t *testing.T) {
	b := domain.Backoff{Base: 10 * time.Second, Max: 10 * time.Minute}
	cases := []struct {
		failedAttempt int
		jitter        float64
		want          time.Duration
	}{
		// Equal jitter: half of the exponential step is fixed, half random.
		{1, 0, 5 * time.Second},
		{1, 0.5, 7500 * time.Millisecond},
		{2, 0, 10 * time.Second},
		{3, 0, 20 * time.Second},
		{4, 0.5, 60 * time.Second},
		{7, 0, 5 * time.Minute}, // 640 s capped at 600 s
		{1000, 0, 5 * time.Minute},
		{math.MaxInt, 0, 5 * time.Minute},
		{0, 0, 5 * time.Second}, // nonsense attempt numbers act as the first
		{1, -1, 5 * time.Second},
		{1, math.NaN(), 5 * time.Second},
	}
	for _, c := range cases {
		require.Equal(t, c.want, b.Delay(c.failedAttempt, c.jitter), "attempt %d, jitter %v", c.failedAttempt, c.jitter)
	}
}

func TestBackoffJitterBounds(t *testing.T) {
	b := domain.DefaultBackoff
	for attempt := 1; attempt <= 12; attempt++ {
		step := min(b.Base<<(attempt-1), b.Max)
		prev := time.Duration(0)
		for _, jitter := range []float64{0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999999, math.Nextafter(1, 0)} {
			d := b.Delay(attempt, jitter)
			require.GreaterOrEqual(t, d, step/2, "attempt %d jitter %v", attempt, jitter)
			require.Less(t, d, step, "attempt %d jitter %v", attempt, jitter)
			require.GreaterOrEqual(t, d, prev, "more jitter never waits less")
			prev = d
		}
		// Out-of-range jitter is clamped into the same bounds.
		for _, jitter := range []float64{-0.5, 1, 7, math.Inf(1), math.NaN()} {
			d := b.Delay(attempt, jitter)
			require.GreaterOrEqual(t, d, step/2, "attempt %d jitter %v", attempt, jitter)
			require.Less(t, d, step, "attempt %d jitter %v", attempt, jitter)
		}
	}
}

func TestBackoffGrowsUntilCapped(t *testing.T) {
	b := domain.DefaultBackoff
	prev := time.Duration(0)
	for attempt := 1; attempt <= 20; attempt++ {
		d := b.Delay(attempt, 0)
		require.GreaterOrEqual(t, d, prev)
		prev = d
	}
	require.Equal(t, b.Max/2, prev)
}

func TestBackoffWithoutCapDoesNotOverflow(t *testing.T) {
	b := domain.Backoff{Base: time.Second}
	require.Equal(t, 32*time.Second, b.Delay(7, 0), "uncapped still grows exponentially")
	for _, attempt := range []int{62, 63, 64, 100, math.MaxInt} {
		require.Positive(t, b.Delay(attempt, 0.999), "attempt %d", attempt)
	}
}

func TestBackoffZeroBaseMeansRetryAtOnce(t *testing.T) {
	require.Zero(t, domain.Backoff{}.Delay(3, 0.5))
}
