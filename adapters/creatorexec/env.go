package creatorexec

import (
	"fmt"
	"strings"

	"contenthub/ports"
)

// SecretEnv is the variable through which the child gets the signing secret.
const SecretEnv = "CONTENT_CREATOR_WEBHOOK_SECRET"

// BaseEnv is what every child may see of the service's environment: what a
// program needs to find its tools, its home and its locale (SERVICE.md §4:
// "an allowlist plus what the operator passes on purpose"). Entries ending in
// "*" match a prefix.
var BaseEnv = []string{"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "LC_*", "TZ", "TMPDIR"}

// DefaultPassEnv is passed when the operator names nothing: the bundled
// simulator's own knobs, which hold no secrets.
var DefaultPassEnv = []string{"SIM_*", "CONTENT_CREATOR_SIM_*"}

// EnvPolicy decides what of the service's environment a child gets.
type EnvPolicy struct {
	// Pass names further variables to hand on (CREATOR_ENV_PASS), e.g. the
	// real program's LLM_API_KEY; "X_*" matches a prefix.
	Pass []string
	// Deny are variables never handed on, whatever Pass says: the service's
	// own configuration.
	Deny []string
}

// CheckPattern reports a pass pattern that could not mean what the operator
// wants: empty, a bare "*" (everything), or "*" anywhere but at the end.
func CheckPattern(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("empty variable name")
	case p == "*":
		return fmt.Errorf(`"*" would pass the whole environment; name the variables`)
	case strings.Contains(strings.TrimSuffix(p, "*"), "*"):
		return fmt.Errorf("%q: \"*\" is allowed only at the end", p)
	case strings.ContainsAny(p, "= \t"):
		return fmt.Errorf("%q is not a variable name", p)
	}
	return nil
}

func matchesAny(name string, patterns []string) bool {
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(name, prefix) {
				return true
			}
		} else if name == p {
			return true
		}
	}
	return false
}

// childEnv filters base (the service's environment) through the allowlist and
// the policy, then adds extra and the secret. An inherited
// CONTENT_CREATOR_WEBHOOK_SECRET is never passed on, so the child signs with
// exactly what the service was configured with, or not at all; extra may still
// set it when secret is empty. exec keeps the last of duplicate keys.
func childEnv(base []string, policy EnvPolicy, extra []string, secret string) []string {
	env := make([]string, 0, len(BaseEnv)+len(extra)+1)
	for _, kv := range base {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || name == SecretEnv || matchesAny(name, policy.Deny) {
			continue
		}
		if matchesAny(name, BaseEnv) || matchesAny(name, policy.Pass) {
			env = append(env, kv)
		}
	}
	env = append(env, extra...)
	if secret != "" {
		env = append(env, SecretEnv+"="+secret)
	}
	return env
}

// TraceParentEnv and TraceStateEnv hand a submission's W3C trace context
// to its child, the names OpenTelemetry's environment-variable carriers read.
const (
	TraceParentEnv = "TRACEPARENT"
	TraceStateEnv  = "TRACESTATE"
)

// withTrace is env with the submission's trace context, when it has one. An
// inherited TRACEPARENT never reaches a child (BaseEnv does not pass it).
func withTrace(env []string, tc ports.TraceContext) []string {
	if tc.TraceParent == "" {
		return env
	}
	out := append(make([]string, 0, len(env)+2), env...)
	out = append(out, TraceParentEnv+"="+tc.TraceParent)
	if tc.TraceState != "" {
		out = append(out, TraceStateEnv+"="+tc.TraceState)
	}
	return out
}

func (p EnvPolicy) withDefaults() EnvPolicy {
	if p.Pass == nil {
		p.Pass = DefaultPassEnv
	}
	return p
}
