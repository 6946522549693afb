package metrics_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"contenthub/adapters/metrics"
	"contenthub/ports"
)

type healthIs struct{ status ports.CreatorHealthStatus }

func (h *healthIs) Health() ports.CreatorHealth { return ports.CreatorHealth{Status: h.status} }

// creatorUp is the gauge's samples as the registry exports them.
func creatorUp(t *testing.T, reg *prometheus.Registry) []float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	var values []float64
	for _, f := range families {
		if f.GetName() == "contenthub_creator_up" {
			for _, m := range f.GetMetric() {
				values = append(values, m.GetGauge().GetValue())
			}
		}
	}
	return values
}

func TestCreatorUpFollowsTheHealthAndIsAbsentWhileUnknown(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := &healthIs{status: ports.CreatorHealthUnknown}
	require.NoError(t, metrics.RegisterCreatorUp(reg, h))
	require.Empty(t, creatorUp(t, reg), "no sample while unknown")
	h.status = ports.CreatorDown
	require.Equal(t, []float64{0}, creatorUp(t, reg))
	h.status = ports.CreatorUp
	require.Equal(t, []float64{1}, creatorUp(t, reg))
}
