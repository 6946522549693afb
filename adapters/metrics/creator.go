package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"contenthub/ports"
)

// creatorUpDesc is contenthub_creator_up (§14).
var creatorUpDesc = prometheus.NewDesc("contenthub_creator_up",
	"1 while content-creator is reachable (a submission or a probe reached it), 0 while the circuit breaker is open; absent until either is known.",
	nil, nil)

// creatorUp reads the health at each scrape, so the gauge is never stale.
type creatorUp struct{ health ports.CreatorHealthReporter }

// RegisterCreatorUp registers contenthub_creator_up, read from health at
// each scrape. Unknown (nothing reached it yet, nothing failed enough to open
// the breaker) exports no sample rather than a made-up value: an alert on
// contenthub_creator_up == 0 fires only on a real outage.
func RegisterCreatorUp(reg prometheus.Registerer, health ports.CreatorHealthReporter) error {
	return reg.Register(creatorUp{health: health})
}

func (c creatorUp) Describe(ch chan<- *prometheus.Desc) { ch <- creatorUpDesc }

func (c creatorUp) Collect(ch chan<- prometheus.Metric) {
	switch c.health.Health().Status {
	case ports.CreatorUp:
		ch <- prometheus.MustNewConstMetric(creatorUpDesc, prometheus.GaugeValue, 1)
	case ports.CreatorDown:
		ch <- prometheus.MustNewConstMetric(creatorUpDesc, prometheus.GaugeValue, 0)
	}
}
