package application

import (
	"context"
	"errors"
	"time"

	"contenthub/domain"
	"contenthub/ports"
)

// AccountsConfig is what the account use cases apply.
type AccountsConfig struct {
	// Defaults are the limits of accounts without their own
	// (ACCOUNT_MAX_CONCURRENCY, ACCOUNT_MAX_TASKS_PER_HOUR, weight 1).
	Defaults domain.AccountLimits
	// Capacity is CREATOR_MAX_CONCURRENCY: running attempts in all.
	Capacity int
	// CreatorHealth, when set, makes every due task's reason
	// creator_unavailable while it reports content-creator down (§14): the
	// dispatcher then claims nothing, whatever the account's limits.
	CreatorHealth ports.CreatorHealthReporter
}

// Account is an account as the accounts routes show it, with why its due
// tasks wait (WaitingNone when they do not, or it has none).
type Account struct {
	ports.AccountState
	Waiting domain.Waiting
}

// Accounts are the accounts' use cases (§11): limits, counts, and the
// waiting reasons of tasks, computed at read from the database's counts so
// that the task view, the list and the event stream say the same thing.
type Accounts struct {
	store ports.AccountStore
	tasks ports.TaskStore
	clock ports.Clock
	cfg   AccountsConfig
}

// NewAccounts builds the account use cases.
func NewAccounts(store ports.AccountStore, tasks ports.TaskStore, clock ports.Clock, cfg AccountsConfig) *Accounts {
	return &Accounts{store: store, tasks: tasks, clock: clock, cfg: cfg}
}

func (u *Accounts) query() ports.AccountQuery {
	return ports.AccountQuery{Now: u.clock.Now().UTC(), Defaults: u.cfg.Defaults}
}

// Get returns one account; one without tasks or limits has the defaults.
func (u *Accounts) Get(ctx context.Context, accountID int64) (Account, error) {
	if accountID <= 0 {
		return Account{}, &domain.ValidationError{Field: "account_id", Message: "must be a positive integer"}
	}
	state, err := u.store.GetAccount(ctx, accountID, u.query())
	if err != nil {
		return Account{}, unavailable("get account", err)
	}
	running, err := u.running(ctx)
	if err != nil {
		return Account{}, err
	}
	return u.account(state, running), nil
}

// List returns every account that has tasks or limits.
func (u *Accounts) List(ctx context.Context) ([]Account, error) {
	states, err := u.store.ListAccounts(ctx, u.query())
	if err != nil {
		return nil, unavailable("list accounts", err)
	}
	running, err := u.running(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Account, len(states))
	for i, s := range states {
		out[i] = u.account(s, running)
	}
	return out, nil
}

// PutLimits validates and stores an account's own limits, and returns the
// account with them in force.
func (u *Accounts) PutLimits(ctx context.Context, accountID int64, maxConcurrency, maxTasksPerHour, weight int) (Account, error) {
	if accountID <= 0 {
		return Account{}, &domain.ValidationError{Field: "account_id", Message: "must be a positive integer"}
	}
	l, err := domain.NewAccountLimits(maxConcurrency, maxTasksPerHour, weight)
	if err != nil {
		return Account{}, err
	}
	if err := u.store.PutAccountLimits(ctx, accountID, l, u.clock.Now().UTC()); err != nil {
		return Account{}, unavailable("put account limits", err)
	}
	return u.Get(ctx, accountID)
}

// Waiting says why each of tasks waits (only due pending tasks without an
// open attempt can), reading every account of the lot at once.
func (u *Accounts) Waiting(ctx context.Context, tasks []*domain.Task) (map[string]domain.Waiting, error) {
	now := u.clock.Now().UTC()
	var ids []int64
	seen := map[int64]bool{}
	for _, t := range tasks {
		if waits(t, now) && !seen[t.AccountID()] {
			seen[t.AccountID()] = true
			ids = append(ids, t.AccountID())
		}
	}
	out := make(map[string]domain.Waiting, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	if u.creatorDown() {
		for _, t := range tasks {
			if waits(t, now) {
				out[t.ID()] = domain.Waiting{Reason: domain.WaitingCreatorUnavailable}
			}
		}
		return out, nil
	}
	loads, err := u.store.AccountLoads(ctx, ports.LoadQuery{AccountIDs: ids, Now: now, Defaults: u.cfg.Defaults})
	if err != nil {
		return nil, unavailable("read account loads", err)
	}
	for _, t := range tasks {
		if w := domain.WaitingFor(t, loads.Accounts[t.AccountID()], loads.Running, u.cfg.Capacity, now); w.Reason != domain.WaitingNone {
			out[t.ID()] = w
		}
	}
	return out, nil
}

// WaitingOf says why one task waits, read afresh (the event stream).
func (u *Accounts) WaitingOf(ctx context.Context, taskID string) (domain.Waiting, error) {
	t, err := u.tasks.GetTask(ctx, taskID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return domain.Waiting{}, err
	case err != nil:
		return domain.Waiting{}, unavailable("get task", err)
	}
	w, err := u.Waiting(ctx, []*domain.Task{t})
	if err != nil {
		return domain.Waiting{}, err
	}
	return w[taskID], nil
}

// waits reports whether t is a task that could be held back now: due,
// pending, its attempt not open.
func waits(t *domain.Task, now time.Time) bool {
	return t.Status() == domain.StatusPending && !t.AttemptOpen() && !t.NextAttemptAt().After(now)
}

func (u *Accounts) running(ctx context.Context) (int, error) {
	loads, err := u.store.AccountLoads(ctx, ports.LoadQuery{Now: u.clock.Now().UTC()})
	if err != nil {
		return 0, unavailable("read account loads", err)
	}
	return loads.Running, nil
}

// account is a state with the reason its waiting tasks wait: its own
// limits first, then the slots all taken.
func (u *Accounts) account(s ports.AccountState, running int) Account {
	a := Account{AccountState: s}
	if s.Counts.Pending == 0 {
		return a
	}
	if u.creatorDown() {
		a.Waiting = domain.Waiting{Reason: domain.WaitingCreatorUnavailable}
	} else if w := s.Load.Held(); w.Reason != domain.WaitingNone {
		a.Waiting = w
	} else if u.cfg.Capacity > 0 && running >= u.cfg.Capacity {
		a.Waiting = domain.Waiting{Reason: domain.WaitingCapacity}
	}
	return a
}

// creatorDown reports whether the circuit breaker holds every due task back.
func (u *Accounts) creatorDown() bool {
	return u.cfg.CreatorHealth != nil && u.cfg.CreatorHealth.Health().Status == ports.CreatorDown
}
