package metrics

import (
	"time"

	"contenthub/ports"
)

// Discard records nothing: for tests and tools that run use cases without
// exporting metrics.
type Discard struct{}

var _ ports.Metrics = Discard{}

func (Discard) CallbackHandled(string, string, time.Duration) {}
func (Discard) NotificationDelay(time.Duration)               {}
func (Discard) TaskTransition(string, string)                 {}
func (Discard) RunnerExecuted(string, string, time.Duration)  {}
func (Discard) ReconcilerRun(int, int, int)                   {}
