package cli

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func envOf(kv map[string]string) Env {
	return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
}

func TestSettingsDefaults(t *testing.T) {
	s, err := settings(envOf(nil), "task-a-1", "Topic")
	require.NoError(t, err)
	require.Equal(t, 2*time.Second, s.Delay)
	require.Equal(t, 3, s.ProgressSteps)
	require.Equal(t, 4, s.CallbackAttempts)
	require.Equal(t, 500*time.Millisecond, s.CallbackBackoff)
	require.Equal(t, defaultFailMessage, s.FailMessage)
	require.False(t, s.Fail || s.NoCallback || s.Duplicate || s.OutOfOrder || s.Crash)
	require.Zero(t, s.Slow)
}

func TestSettingsFromEnvironment(t *testing.T) {
	s, err := settings(envOf(map[string]string{
		envDelay: "1.5", envProgressSteps: "0", envFail: "true", envFailMessage: "boom", envNoCallback: "1",
		envDuplicate: "1", envOutOfOrder: "1", envCrash: "1", envSlow: "250ms", envCallbackAttempts: "2",
		envCallbackBackoff: "10ms", envLog: "sim.log",
	}), "task-a-1", "Topic")
	require.NoError(t, err)
	require.Equal(t, 1500*time.Millisecond, s.Delay, "a bare number is seconds")
	require.Equal(t, 0, s.ProgressSteps)
	require.True(t, s.Fail && s.NoCallback && s.Duplicate && s.OutOfOrder && s.Crash)
	require.Equal(t, "boom", s.FailMessage)
	require.Equal(t, 250*time.Millisecond, s.Slow)
	require.Equal(t, 2, s.CallbackAttempts)
	require.Equal(t, 10*time.Millisecond, s.CallbackBackoff)
	require.True(t, len(s.LogPath) > len("sim.log") && s.LogPath[0] == '/', "the log path is made absolute")
}

func TestSettingsRejectsBadValues(t *testing.T) {
	for key, v := range map[string]string{
		envDelay: "soon", envProgressSteps: "-1", envFail: "maybe", envCallbackAttempts: "0", envSlow: "-1s",
	} {
		_, err := settings(envOf(map[string]string{key: v}), "task-a-1", "Topic")
		require.ErrorIs(t, err, errBadEnv, key)
		require.ErrorContains(t, err, key)
	}
}

func TestSettingsFailAttempts(t *testing.T) {
	env := envOf(map[string]string{envFailAttempts: "2"})
	for id, fail := range map[string]bool{
		"task-x-1": true, "task-x-2": true, "task-x-3": false, "task-x": false, "plain": false, "task-x-0": false,
	} {
		s, err := settings(env, id, "Topic")
		require.NoError(t, err)
		require.Equal(t, fail, s.Fail, id)
	}
}

func TestSettingsTopicMarkers(t *testing.T) {
	s, err := settings(envOf(nil), "task-a-1", "A [fail] [no-callback] [crash] [slow] topic")
	require.NoError(t, err)
	require.True(t, s.Fail && s.NoCallback && s.Crash)
	require.Equal(t, defaultSlow, s.Slow)

	s, err = settings(envOf(map[string]string{envSlow: "50ms"}), "task-a-1", "A [slow] topic")
	require.NoError(t, err)
	require.Equal(t, 50*time.Millisecond, s.Slow, "[slow] waits SIM_SLOW when it is set")
	require.False(t, s.Fail || s.NoCallback || s.Crash)
}
