package application

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"contenthub/ports"
)

// RetentionConfig tunes retention.
type RetentionConfig struct {
	// OlderThan is RETENTION: the periodic purge deletes terminal tasks
	// unchanged for this long; 0 turns it off (Run returns at once).
	OlderThan time.Duration
	// Interval spaces periodic purges; default DefaultRetentionInterval.
	Interval time.Duration
	// Batch is the number of tasks deleted per transaction; default 500.
	Batch int
}

// DefaultRetentionInterval is how often the periodic purge runs.
const DefaultRetentionInterval = time.Hour

// ErrRetentionAge refuses a purge of everything: an age must be positive.
var ErrRetentionAge = errors.New("retention age must be positive")

// Retention deletes finished tasks (`contenthub cleanup`, RETENTION), batch
// by batch so that no transaction holds the database for long. It never
// changes a task: deletion is not a transition, and only tasks no transition
// can reach any more without an operator are eligible (ports.TaskRetention).
type Retention struct {
	store ports.TaskRetention
	clock ports.Clock
	log   *zap.Logger
	cfg   RetentionConfig
}

// NewRetention builds the retention use case.
func NewRetention(store ports.TaskRetention, clock ports.Clock, log *zap.Logger, cfg RetentionConfig) *Retention {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultRetentionInterval
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 500
	}
	return &Retention{store: store, clock: clock, log: log, cfg: cfg}
}

// Purge deletes every eligible task last changed more than olderThan ago,
// in batches, and returns what it deleted (also when it stops on an error
// or ctx). With dryRun it deletes nothing and returns what it would delete.
func (r *Retention) Purge(ctx context.Context, olderThan time.Duration, dryRun bool) (ports.RetentionCount, error) {
	if olderThan <= 0 {
		return ports.RetentionCount{}, ErrRetentionAge
	}
	before := r.clock.Now().UTC().Add(-olderThan)
	if dryRun {
		return r.store.CountTerminal(ctx, before)
	}
	var total ports.RetentionCount
	for {
		n, err := r.store.PurgeTerminal(ctx, ports.RetentionQuery{Before: before, Limit: r.cfg.Batch})
		total = total.Add(n)
		if err != nil {
			return total, err
		}
		if n.Tasks < int64(r.cfg.Batch) {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// Run purges at start and then every Interval until ctx ends, when
// OlderThan is set.
func (r *Retention) Run(ctx context.Context) {
	if r.cfg.OlderThan <= 0 {
		return
	}
	ticker := time.NewTicker(r.cfg.Interval)
	defer ticker.Stop()
	for {
		n, err := r.Purge(ctx, r.cfg.OlderThan, false)
		switch {
		case err != nil && ctx.Err() == nil:
			r.log.Warn("retention", zap.Error(err), zap.Int64("tasks_deleted", n.Tasks))
		case n.Tasks > 0:
			r.log.Info("retention deleted finished tasks", zap.Duration("older_than", r.cfg.OlderThan),
				zap.Int64("tasks", n.Tasks), zap.Int64("attempts", n.Attempts), zap.Int64("deliveries", n.Deliveries),
				zap.Int64("contents", n.Contents), zap.Int64("idempotency_keys", n.IdempotencyKeys))
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
