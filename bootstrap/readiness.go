package bootstrap

import (
	"context"

	"go.uber.org/fx"

	"contenthub/adapters/sqlstore"
	"contenthub/ports"
)

// ReadinessCheck is one condition /readyz verifies. Modules add theirs to
// the fx value group "readiness"; a check should be cheap (it runs on every
// probe) and bounded by ctx.
type ReadinessCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// ReadinessChecks collects the group.
type ReadinessChecks struct {
	fx.In
	Checks []ReadinessCheck `group:"readiness"`
}

// Readiness runs every registered check in turn; it is the service's
// ports.Health.
type Readiness struct {
	checks []ReadinessCheck
}

var _ ports.Health = (*Readiness)(nil)

// NewReadiness gathers the checks.
func NewReadiness(in ReadinessChecks) *Readiness {
	return &Readiness{checks: in.Checks}
}

// Ready fails with a *ports.NotReadyError naming the first failing check.
func (r *Readiness) Ready(ctx context.Context) error {
	for _, c := range r.checks {
		if err := c.Check(ctx); err != nil {
			return &ports.NotReadyError{Check: c.Name, Err: err}
		}
	}
	return nil
}

// storeCheck reports an unreachable database or missing migrations.
func storeCheck(s *sqlstore.Store) ReadinessCheck {
	return ReadinessCheck{Name: "database", Check: s.Ready}
}
