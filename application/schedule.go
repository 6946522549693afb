package application

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"contenthub/domain"
	"contenthub/ports"
)

// Schedules are the use cases of scheduled generation (§12): the schedule
// API and the firing of runs, for the API and for the Scheduler.
type Schedules struct {
	deps     Deps
	store    ports.ScheduleStore
	cron     ports.CronParser
	dispatch *Wakeup // the dispatcher: a run created tasks
	changed  *Wakeup // the scheduler: a schedule changed, its next fire time may be earlier
}

// NewSchedules builds the schedule use cases; dispatch wakes the dispatcher
// when a run created tasks.
func NewSchedules(deps Deps, store ports.ScheduleStore, cron ports.CronParser, dispatch *Wakeup) *Schedules {
	return &Schedules{deps: deps, store: store, cron: cron, dispatch: dispatch, changed: NewWakeup()}
}

// Create validates and stores a schedule; the id is assigned here.
func (u *Schedules) Create(ctx context.Context, p domain.ScheduleParams) (ports.ScheduleItem, error) {
	c, err := u.cron.Parse(p.Cron, p.Timezone)
	if err != nil {
		return ports.ScheduleItem{}, err
	}
	p.ID = u.deps.IDs.NewID("sch")
	s, err := domain.NewSchedule(p, c, u.deps.now())
	if err != nil {
		return ports.ScheduleItem{}, err
	}
	if err := u.store.CreateSchedule(ctx, s); err != nil {
		return ports.ScheduleItem{}, unavailable("create schedule", err)
	}
	u.changed.Notify()
	return ports.ScheduleItem{Schedule: s}, nil
}

// List returns every schedule with its last run.
func (u *Schedules) List(ctx context.Context) ([]ports.ScheduleItem, error) {
	items, err := u.store.ListSchedules(ctx)
	if err != nil {
		return nil, unavailable("list schedules", err)
	}
	return items, nil
}

// Get returns a schedule with its last run.
func (u *Schedules) Get(ctx context.Context, id string) (ports.ScheduleItem, error) {
	if !domain.ValidTaskID(id) {
		return ports.ScheduleItem{}, fmt.Errorf("schedule %q: %w", id, domain.ErrNotFound)
	}
	item, err := u.store.GetSchedule(ctx, id)
	if err != nil && !errors.Is(err, domain.ErrNotFound) {
		return item, unavailable("get schedule", err)
	}
	return item, err
}

// Patch changes any subset of a schedule; enabled=false pauses it.
func (u *Schedules) Patch(ctx context.Context, id string, p domain.SchedulePatch) (ports.ScheduleItem, error) {
	if !domain.ValidTaskID(id) {
		return ports.ScheduleItem{}, fmt.Errorf("schedule %q: %w", id, domain.ErrNotFound)
	}
	now := u.deps.now()
	_, err := u.store.UpdateSchedule(ctx, id, func(s *domain.Schedule) error {
		expr, zone := s.Cron(), s.Timezone()
		if p.Cron != nil {
			expr = *p.Cron
		}
		if p.Timezone != nil {
			zone = *p.Timezone
		}
		c, err := u.cron.Parse(expr, zone)
		if err != nil {
			return err
		}
		return s.Change(p, c, now)
	})
	var ve *domain.ValidationError
	switch {
	case errors.As(err, &ve), errors.Is(err, domain.ErrNotFound):
		return ports.ScheduleItem{}, err
	case err != nil:
		return ports.ScheduleItem{}, unavailable("change schedule", err)
	}
	u.changed.Notify()
	return u.Get(ctx, id)
}

// Delete removes a schedule and its runs; the tasks they created stay.
func (u *Schedules) Delete(ctx context.Context, id string) error {
	if !domain.ValidTaskID(id) {
		return fmt.Errorf("schedule %q: %w", id, domain.ErrNotFound)
	}
	err := u.store.DeleteSchedule(ctx, id)
	if err != nil && !errors.Is(err, domain.ErrNotFound) {
		return unavailable("delete schedule", err)
	}
	return err
}

// Runs returns a schedule's runs, newest first.
func (u *Schedules) Runs(ctx context.Context, id string, limit int) ([]domain.ScheduleRun, error) {
	if _, err := u.Get(ctx, id); err != nil {
		return nil, err
	}
	runs, err := u.store.ListRuns(ctx, id, limit)
	if err != nil {
		return nil, unavailable("list runs", err)
	}
	return runs, nil
}

// Trigger fires a run now, whatever the cron (and paused or not). A run
// whose tasks could not be created is returned too, failed, with the reason.
func (u *Schedules) Trigger(ctx context.Context, id string) (domain.ScheduleRun, error) {
	if !domain.ValidTaskID(id) {
		return domain.ScheduleRun{}, fmt.Errorf("schedule %q: %w", id, domain.ErrNotFound)
	}
	now := u.deps.now()
	run, _, err := u.fire(ctx, id, now, func(s *domain.Schedule, _ domain.Cron) (domain.Due, bool) {
		return s.ManualDue(now), true
	})
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return domain.ScheduleRun{}, err
	case errors.Is(err, domain.ErrRunExists):
		return domain.ScheduleRun{}, fmt.Errorf("schedule %s was triggered at this very instant: %w", id, domain.ErrConflict)
	case err != nil:
		return domain.ScheduleRun{}, unavailable("trigger schedule", err)
	}
	return *run, nil
}

// dueFunc picks what to fire for a schedule as stored, with its cron.
type dueFunc func(s *domain.Schedule, c domain.Cron) (domain.Due, bool)

// fire handles one due fire time of a schedule in one transaction: the run,
// its tasks, the schedule moved on. fired is the fire time handled (or
// tried: with domain.ErrRunExists), nil when nothing was due.
// When the tasks cannot all be created, none is, and the run is recorded as
// failed with the reason (the schedule moves on all the same).
func (u *Schedules) fire(ctx context.Context, id string, now time.Time, due dueFunc) (run *domain.ScheduleRun, fired *domain.Due, err error) {
	var plan domain.FirePlan
	_, err = u.store.FireSchedule(ctx, id, func(s *domain.Schedule) (domain.FirePlan, bool, error) {
		c, err := u.cron.Parse(s.Cron(), s.Timezone())
		if err != nil {
			return domain.FirePlan{}, false, fmt.Errorf("schedule %s: stored cron: %w", id, err)
		}
		d, ok := due(s, c)
		if !ok {
			return domain.FirePlan{}, false, nil
		}
		fired = &d
		plan = s.Fire(d, now, u.deps.IDs.NewID)
		return plan, true, nil
	})
	switch {
	case err == nil:
		u.created(ctx, plan)
		return plan.Run, fired, nil
	case errors.Is(err, domain.ErrRunExists), errors.Is(err, domain.ErrNotFound), fired == nil:
		return nil, fired, err
	}
	reason := err.Error()
	_, ferr := u.store.FireSchedule(ctx, id, func(s *domain.Schedule) (domain.FirePlan, bool, error) {
		c, err := u.cron.Parse(s.Cron(), s.Timezone())
		if err != nil {
			return domain.FirePlan{}, false, err
		}
		d, ok := due(s, c)
		if !ok || !d.FireTime.Equal(fired.FireTime) {
			return domain.FirePlan{}, false, nil // handled meanwhile
		}
		plan = s.FireFailed(d, now, u.deps.IDs.NewID, reason)
		return plan, true, nil
	})
	if ferr != nil {
		return nil, fired, fmt.Errorf("record failed run (%s): %w", reason, ferr)
	}
	u.deps.Log.Warn("schedule run failed: no task created", zap.String("schedule_id", id), zap.String("reason", reason))
	return plan.Run, fired, nil
}

// created announces a committed run's tasks and wakes the dispatcher.
func (u *Schedules) created(ctx context.Context, plan domain.FirePlan) {
	if plan.Run == nil {
		return
	}
	for _, t := range plan.Tasks {
		u.deps.applied(ctx, domain.Event{Source: "schedule", At: t.CreatedAt()}, t, domain.Outcome{To: domain.StatusPending, Changed: true})
	}
	if len(plan.Tasks) > 0 {
		u.dispatch.Notify()
	}
	u.deps.Log.Info("schedule run created", zap.String("schedule_id", plan.Run.ScheduleID),
		zap.String("run_id", plan.Run.ID), zap.String("trigger", string(plan.Run.Trigger)),
		zap.Time("fire_time", plan.Run.FireTime), zap.Int("total_submitted", plan.Run.TotalSubmitted))
}

// SchedulerConfig tunes the scheduler loop.
type SchedulerConfig struct {
	// Resync bounds the wait between looks at the schedules, for changes
	// made on other replicas (changes made here wake the loop at once).
	Resync time.Duration
}

// DefaultSchedulerResync is SchedulerConfig.Resync's default.
const DefaultSchedulerResync = 30 * time.Second

// maxFiresPerLook bounds what one look does for one schedule, so a
// schedule that keeps being due cannot hold the loop.
const maxFiresPerLook = 1000

// Scheduler fires schedules' runs at their fire times (§12), on every worker
// replica: each replica tries, and the store lets each fire time create its
// run once. A fire time is fired as cron only by a scheduler that existed
// when it came; earlier ones were missed and go by the schedule's misfire.
type Scheduler struct {
	u       *Schedules
	cfg     SchedulerConfig
	started time.Time
}

// NewScheduler builds the scheduler of this process; it counts as running
// from now.
func NewScheduler(u *Schedules, cfg SchedulerConfig) *Scheduler {
	if cfg.Resync <= 0 {
		cfg.Resync = DefaultSchedulerResync
	}
	return &Scheduler{u: u, cfg: cfg, started: u.deps.now()}
}

// Run fires due schedules until ctx ends, woken by a timer for the earliest
// next fire time, by schedule changes made here, and at least every Resync.
func (s *Scheduler) Run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		if _, err := s.FireDue(ctx); err != nil && ctx.Err() == nil {
			s.u.deps.Log.Warn("fire due schedules", zap.Error(err))
		}
		timer.Reset(s.wait(ctx))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-s.u.changed.C():
		}
	}
}

// wait is how long to sleep until the next fire time, at most Resync.
func (s *Scheduler) wait(ctx context.Context) time.Duration {
	next, err := s.u.store.NextFireTime(ctx)
	if err != nil || next.IsZero() {
		return s.cfg.Resync
	}
	return min(max(next.Sub(s.u.deps.now()), 0), s.cfg.Resync)
}

// FireDue handles every fire time due now, schedule by schedule, oldest
// first, and returns the runs it created (failed ones included; a replica
// that lost the race to another counts none).
func (s *Scheduler) FireDue(ctx context.Context) (int, error) {
	now := s.u.deps.now()
	ids, err := s.u.store.DueSchedules(ctx, now)
	if err != nil {
		return 0, err
	}
	created := 0
	var errs []error
	for _, id := range ids {
		n, err := s.fireSchedule(ctx, id, now)
		created += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return created, errors.Join(errs...)
}

func (s *Scheduler) fireSchedule(ctx context.Context, id string, now time.Time) (created int, err error) {
	ctx, span := s.u.deps.span(ctx, "schedule.run", ports.StringAttr("contenthub.schedule_id", id))
	defer func() { span.End(err, ports.IntAttr(ports.AttrCount, created)) }()
	return s.fireScheduleTraced(ctx, id, now)
}

func (s *Scheduler) fireScheduleTraced(ctx context.Context, id string, now time.Time) (int, error) {
	due := func(sch *domain.Schedule, c domain.Cron) (domain.Due, bool) { return sch.Due(c, now, s.started) }
	created := 0
	for range maxFiresPerLook {
		run, fired, err := s.u.fire(ctx, id, now, due)
		switch {
		case errors.Is(err, domain.ErrNotFound):
			return created, nil // deleted meanwhile
		case errors.Is(err, domain.ErrRunExists):
			// A run with this fire time exists though the schedule has
			// it due (a manual run made at that very instant): pass it.
			if err := s.moveOn(ctx, id, now, fired.FireTime, due); err != nil {
				return created, err
			}
			continue
		case err != nil:
			return created, fmt.Errorf("schedule %s: %w", id, err)
		case fired == nil:
			return created, nil
		}
		if run != nil {
			created++
		}
	}
	return created, nil
}

// moveOn passes the fire time ft whose run exists, if the schedule still
// has it due.
func (s *Scheduler) moveOn(ctx context.Context, id string, now, ft time.Time, due dueFunc) error {
	_, err := s.u.store.FireSchedule(ctx, id, func(sch *domain.Schedule) (domain.FirePlan, bool, error) {
		c, err := s.u.cron.Parse(sch.Cron(), sch.Timezone())
		if err != nil {
			return domain.FirePlan{}, false, err
		}
		d, ok := due(sch, c)
		if !ok || !d.FireTime.Equal(ft) {
			return domain.FirePlan{}, false, nil
		}
		d.Skip = true
		return sch.Fire(d, now, s.u.deps.IDs.NewID), true, nil
	})
	return err
}
