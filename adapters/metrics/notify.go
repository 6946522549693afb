package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"contenthub/ports"
)

// Notify exports the outbound notifications' metrics (§13).
type Notify struct {
	messages      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	oldestPending prometheus.Gauge
}

var (
	_ ports.NotifyMetrics = (*Notify)(nil)
	_ ports.NotifyMetrics = Discard{}
)

// NewNotify registers the metrics with reg.
func NewNotify(reg prometheus.Registerer) *Notify {
	m := &Notify{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contenthub_webhook_message_attempts_total",
			Help: "Outbound webhook attempts by event and outcome (delivered, retrying, failed).",
		}, []string{"event", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "contenthub_webhook_attempt_duration_seconds",
			Help:    "Time an outbound webhook attempt took, answer included.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15},
		}, []string{"outcome"}),
		oldestPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "contenthub_webhook_oldest_pending_message_age_seconds",
			Help: "Age of the oldest outbound message not yet delivered or failed (0 when none).",
		}),
	}
	reg.MustRegister(m.messages, m.latency, m.oldestPending)
	return m
}

// MessageAttempted counts an attempt.
func (m *Notify) MessageAttempted(event, outcome string, took time.Duration) {
	m.messages.WithLabelValues(event, outcome).Inc()
	m.latency.WithLabelValues(outcome).Observe(took.Seconds())
}

// OldestPendingMessage sets the backlog's age.
func (m *Notify) OldestPendingMessage(age time.Duration) { m.oldestPending.Set(age.Seconds()) }

func (Discard) MessageAttempted(string, string, time.Duration) {}
func (Discard) OldestPendingMessage(time.Duration)             {}
