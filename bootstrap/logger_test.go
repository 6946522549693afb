package bootstrap

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// captureStdout points os.Stdout, where the loggers write, at a file while
// fn runs and returns what was written.
func captureStdout(t *testing.T, fn func()) string {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "stdout"))
	require.NoError(t, err)
	saved := os.Stdout
	os.Stdout = f
	defer func() { os.Stdout = saved }()
	fn()
	require.NoError(t, f.Close())
	b, err := os.ReadFile(f.Name())
	require.NoError(t, err)
	return string(b)
}

func droppedLines(t *testing.T, reg *prometheus.Registry, level string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != "contenthub_log_lines_dropped_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			if m.GetLabel()[0].GetValue() == level {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no contenthub_log_lines_dropped_total{level=%q}", level)
	return 0
}

// TestAccessLogIsNotSampled: a burst of 1,000 request lines is written in
// full, while 1,000 repeats of one application warning are sampled and the
// dropped ones counted.
func TestAccessLogIsNotSampled(t *testing.T) {
	for _, format := range []string{"json", "console"} {
		t.Run(format, func(t *testing.T) {
			cfg := testConfig(t, "LOG_LEVEL=info", "LOG_FORMAT="+format)
			reg := prometheus.NewRegistry()
			out := captureStdout(t, func() {
				logs, err := NewLogger(cfg)
				require.NoError(t, err)
				require.NoError(t, registerLogMetrics(reg, logs.Sampling))
				for i := range 1000 {
					logs.Access.Info("request", fieldRequestID(i))
					logs.Log.Warn("the same warning again")
				}
				_ = logs.Access.Sync()
				_ = logs.Log.Sync()
			})
			var requests, warnings int
			seen := map[string]bool{}
			sc := bufio.NewScanner(strings.NewReader(out))
			for sc.Scan() {
				line := sc.Text()
				switch {
				case strings.Contains(line, "request"):
					requests++
					for i := range 1000 {
						if id := fmt.Sprintf("burst-%04d", i); strings.Contains(line, id) {
							seen[id] = true
						}
					}
				case strings.Contains(line, "the same warning again"):
					warnings++
				}
			}
			require.Equal(t, 1000, requests)
			require.Len(t, seen, 1000, "every request id has its line")
			require.Equal(t, sampleFirst+(1000-sampleFirst)/sampleThereafter, warnings)
			require.Equal(t, float64(1000-warnings), droppedLines(t, reg, "warn"))
			require.Equal(t, strings.Count(out, "\n"), requests+warnings,
				"one line per entry: no stack trace below error level")
		})
	}
}

func fieldRequestID(i int) zap.Field { return zap.String("request_id", fmt.Sprintf("burst-%04d", i)) }
