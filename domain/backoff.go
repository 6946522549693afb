package domain

import (
	"math"
	"time"
)

// Backoff is the retry schedule: exponential from Base, capped at Max, with
// "equal jitter" (half fixed, half random) so retries of many tasks spread out.
type Backoff struct {
	Base time.Duration
	Max  time.Duration
}

// DefaultBackoff is §14's default (RETRY_BACKOFF_BASE 10 s, RETRY_BACKOFF_MAX
// 5 min): after attempt n it waits between half and all of 10 s × 2^(n-1),
// so 5–10 s, 10–20 s, 20–40 s … and at most 5 minutes.
var DefaultBackoff = Backoff{Base: 10 * time.Second, Max: 5 * time.Minute}

// Delay is the wait after the given failed attempt (1-based); jitter is a
// random number in [0, 1).
func (b Backoff) Delay(failedAttempt int, jitter float64) time.Duration {
	if b.Base <= 0 {
		return 0
	}
	d := b.Base
	for i := 1; i < failedAttempt; i++ {
		// Max <= 0 means uncapped; stop doubling before the duration overflows.
		if (b.Max > 0 && d >= b.Max) || d > math.MaxInt64/2 {
			break
		}
		d *= 2
	}
	if b.Max > 0 && d > b.Max {
		d = b.Max
	}
	if jitter < 0 || math.IsNaN(jitter) {
		jitter = 0
	}
	if jitter >= 1 {
		jitter = 0.999999
	}
	half := d / 2
	return half + time.Duration(float64(d-half)*jitter)
}
