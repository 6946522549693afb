// Package metrics exports the service's Prometheus metrics (§8).
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"contenthub/ports"
)

// Prometheus implements ports.Metrics on a registry.
type Prometheus struct {
	callbacks         *prometheus.CounterVec
	callbackLatency   *prometheus.HistogramVec
	notificationDelay prometheus.Histogram
	transitions       *prometheus.CounterVec
	runner            *prometheus.CounterVec
	runnerLatency     *prometheus.HistogramVec
	reconcilerRuns    prometheus.Counter
	reconcilerChecked prometheus.Counter
	reconcilerRepairs prometheus.Counter
	reconcilerUnknown prometheus.Counter
}

var _ ports.Metrics = (*Prometheus)(nil)

// New registers the metrics on reg.
func New(reg prometheus.Registerer) *Prometheus {
	latencyBuckets := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	m := &Prometheus{
		callbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contenthub_callbacks_total", Help: "Callbacks received, by event and outcome.",
		}, []string{"event", "outcome"}),
		callbackLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "contenthub_callback_duration_seconds", Help: "Time to handle a callback.", Buckets: latencyBuckets,
		}, []string{"event"}),
		notificationDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "contenthub_notification_delay_seconds",
			Help:    "Callback receipt minus the sender's timestamp.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2, 5, 10, 30, 60, 300},
		}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contenthub_task_transitions_total", Help: "Task status changes, by from and to status.",
		}, []string{"from", "to"}),
		runner: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contenthub_runner_executions_total", Help: "content-creator CLI runs, by command and outcome.",
		}, []string{"command", "outcome"}),
		runnerLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "contenthub_runner_duration_seconds", Help: "content-creator CLI run time.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"command"}),
		reconcilerRuns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "contenthub_reconciler_runs_total", Help: "Reconciler passes.",
		}),
		reconcilerChecked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "contenthub_reconciler_checked_total", Help: "Tasks the reconciler looked at.",
		}),
		reconcilerRepairs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "contenthub_reconciler_repairs_total", Help: "Tasks the reconciler changed (lost callbacks, timeouts).",
		}),
		reconcilerUnknown: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "contenthub_reconciler_unknown_total", Help: "Status answers the reconciler could not use (failed queries, unknown states).",
		}),
	}
	reg.MustRegister(m.callbacks, m.callbackLatency, m.notificationDelay, m.transitions, m.runner,
		m.runnerLatency, m.reconcilerRuns, m.reconcilerChecked, m.reconcilerRepairs, m.reconcilerUnknown)
	return m
}

func (m *Prometheus) CallbackHandled(event, outcome string, took time.Duration) {
	m.callbacks.WithLabelValues(event, outcome).Inc()
	m.callbackLatency.WithLabelValues(event).Observe(took.Seconds())
}

func (m *Prometheus) NotificationDelay(d time.Duration) { m.notificationDelay.Observe(d.Seconds()) }

func (m *Prometheus) TaskTransition(from, to string) {
	if from == "" {
		from = "new"
	}
	m.transitions.WithLabelValues(from, to).Inc()
}

func (m *Prometheus) RunnerExecuted(command, outcome string, took time.Duration) {
	m.runner.WithLabelValues(command, outcome).Inc()
	m.runnerLatency.WithLabelValues(command).Observe(took.Seconds())
}

func (m *Prometheus) ReconcilerRun(checked, repaired, unknown int) {
	m.reconcilerRuns.Inc()
	m.reconcilerChecked.Add(float64(checked))
	m.reconcilerRepairs.Add(float64(repaired))
	m.reconcilerUnknown.Add(float64(unknown))
}
