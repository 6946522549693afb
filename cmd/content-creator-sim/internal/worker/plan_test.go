package worker

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPlan(t *testing.T) {
	require.Empty(t, plan(0), "no steps: no progress reports, like the real sender")

	pct := func(n int) []int {
		var out []int
		for _, p := range plan(n) {
			require.NotEmpty(t, p.Stage)
			require.NotEmpty(t, p.Message)
			out = append(out, p.Percentage)
		}
		return out
	}
	require.Equal(t, []int{10, 100}, pct(1))
	require.Equal(t, []int{10, 40, 70, 100}, pct(3))
	require.Len(t, plan(12), 13, "more steps than workflow stages still works")
}
