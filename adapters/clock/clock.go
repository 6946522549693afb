// Package clock is the real-time ports.Clock.
package clock

import (
	"time"

	"contenthub/ports"
)

// System reads the machine's clock, in UTC.
type System struct{}

var _ ports.Clock = System{}

// Now returns the current time in UTC.
func (System) Now() time.Time { return time.Now().UTC() }
