package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"contenthub/cmd/content-creator-sim/internal/taskstore"
	"contenthub/cmd/content-creator-sim/internal/webhook"
)

// Environment variables the simulator reads.
const (
	envStateDir = "CONTENT_CREATOR_SIM_STATE_DIR"
	envSecret   = "CONTENT_CREATOR_WEBHOOK_SECRET"

	envDelay            = "SIM_DELAY"
	envProgressSteps    = "SIM_PROGRESS_STEPS"
	envFail             = "SIM_FAIL"
	envFailMessage      = "SIM_FAIL_MESSAGE"
	envFailAttempts     = "SIM_FAIL_ATTEMPTS"
	envNoCallback       = "SIM_NO_CALLBACK"
	envDuplicate        = "SIM_DUPLICATE"
	envOutOfOrder       = "SIM_OUT_OF_ORDER"
	envSlow             = "SIM_SLOW"
	envCrash            = "SIM_CRASH"
	envCrashAttempts    = "SIM_CRASH_ATTEMPTS"
	envCreateFail       = "SIM_CREATE_FAIL"
	envLog              = "SIM_LOG"
	envCallbackAttempts = "SIM_CALLBACK_ATTEMPTS"
	envCallbackBackoff  = "SIM_CALLBACK_BACKOFF"
)

// Defaults.
const (
	defaultStateDir      = "./data/content-creator-sim"
	defaultDelay         = 2 * time.Second
	defaultProgressSteps = 3
	defaultSlow          = 2 * time.Second // for the [slow] topic marker when SIM_SLOW is unset
	defaultFailMessage   = "Text quality check failed after 3 attempts"
)

// Topic markers: a topic containing one acts, for that task alone, like the matching variable.
const (
	markerFail       = "[fail]"
	markerNoCallback = "[no-callback]"
	markerCrash      = "[crash]"
	markerSlow       = "[slow]"
)

// errBadEnv marks an unusable environment variable (a usage error).
var errBadEnv = errors.New("invalid environment variable")

// Env looks up environment variables (os.LookupEnv in production).
type Env func(key string) (string, bool)

func (e Env) get(key string) string {
	v, _ := e(key)
	return strings.TrimSpace(v)
}

// settings resolves the worker's script for task id with topic from the environment create runs in.
func settings(env Env, id, topic string) (taskstore.Settings, error) {
	var (
		s   taskstore.Settings
		err error
		bad []error
	)
	check := func(e error) {
		if e != nil {
			bad = append(bad, e)
		}
	}
	s.Delay, err = duration(env, envDelay, defaultDelay)
	check(err)
	s.ProgressSteps, err = integer(env, envProgressSteps, defaultProgressSteps, 0)
	check(err)
	s.Fail, err = boolean(env, envFail)
	check(err)
	failAttempts, err := integer(env, envFailAttempts, 0, 0)
	check(err)
	s.NoCallback, err = boolean(env, envNoCallback)
	check(err)
	s.Duplicate, err = boolean(env, envDuplicate)
	check(err)
	s.OutOfOrder, err = boolean(env, envOutOfOrder)
	check(err)
	s.Crash, err = boolean(env, envCrash)
	check(err)
	crashAttempts, err := integer(env, envCrashAttempts, 0, 0)
	check(err)
	s.Slow, err = duration(env, envSlow, 0)
	check(err)
	s.CallbackAttempts, err = integer(env, envCallbackAttempts, webhook.DefaultAttempts, 1)
	check(err)
	s.CallbackBackoff, err = duration(env, envCallbackBackoff, webhook.DefaultBackoff)
	check(err)
	if len(bad) > 0 {
		return s, errors.Join(bad...)
	}

	s.FailMessage = env.get(envFailMessage)
	if s.FailMessage == "" {
		s.FailMessage = defaultFailMessage
	}
	if p := env.get(envLog); p != "" {
		if s.LogPath, err = filepath.Abs(p); err != nil {
			return s, fmt.Errorf("%s: %w", envLog, err)
		}
	}

	if k, ok := attemptNumber(id); ok && k <= failAttempts {
		s.Fail = true
	}
	if k, ok := attemptNumber(id); ok && k <= crashAttempts {
		s.Crash = true
	}
	s.Fail = s.Fail || strings.Contains(topic, markerFail)
	s.NoCallback = s.NoCallback || strings.Contains(topic, markerNoCallback)
	s.Crash = s.Crash || strings.Contains(topic, markerCrash)
	if strings.Contains(topic, markerSlow) && s.Slow == 0 {
		s.Slow = defaultSlow
	}
	return s, nil
}

// attemptNumber reads k from an id ending in "-k" (the service names attempts "<task>-<attempt>").
func attemptNumber(id string) (int, bool) {
	i := strings.LastIndexByte(id, '-')
	if i < 0 {
		return 0, false
	}
	k, err := strconv.Atoi(id[i+1:])
	return k, err == nil && k >= 1
}

// duration reads a Go duration ("1.5s") or a number of seconds ("2", "0.2").
func duration(env Env, key string, def time.Duration) (time.Duration, error) {
	v := env.get(key)
	if v == "" {
		return def, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return d, nil
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
		return time.Duration(secs * float64(time.Second)), nil
	}
	return 0, fmt.Errorf("%w: %s=%q is not a duration", errBadEnv, key, v)
}

func integer(env Env, key string, def, least int) (int, error) {
	v := env.get(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < least {
		return 0, fmt.Errorf("%w: %s=%q is not an integer ≥ %d", errBadEnv, key, v, least)
	}
	return n, nil
}

// boolean reads a switch: "1", "true", … on; unset, "", "0", "false", … off.
func boolean(env Env, key string) (bool, error) {
	v := env.get(key)
	if v == "" {
		return false, nil
	}
	on, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%w: %s=%q is not a boolean", errBadEnv, key, v)
	}
	return on, nil
}
