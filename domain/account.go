package domain

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// Ranges of an account's limits (§11). Zero concurrency or rate means "no
// limit of the account's own" (only the fair share applies).
const (
	MinAccountWeight       = 1
	MaxAccountWeight       = 100
	DefaultAccountWeight   = 1
	MaxAccountConcurrency  = 10_000
	MaxAccountTasksPerHour = 1_000_000
	// RateWindow is the sliding window max_tasks_per_hour counts attempts in.
	RateWindow = time.Hour
)

// AccountLimits are what an account may hold: running attempts, attempts
// opened per sliding hour, and its weight in the fair share.
type AccountLimits struct {
	maxConcurrency  int
	maxTasksPerHour int
	weight          int
}

// NewAccountLimits validates limits; a bad one is a *ValidationError naming
// its field.
func NewAccountLimits(maxConcurrency, maxTasksPerHour, weight int) (AccountLimits, error) {
	if maxConcurrency < 0 || maxConcurrency > MaxAccountConcurrency {
		return AccountLimits{}, invalid("max_concurrency", "must be between 0 and %d", MaxAccountConcurrency)
	}
	if maxTasksPerHour < 0 || maxTasksPerHour > MaxAccountTasksPerHour {
		return AccountLimits{}, invalid("max_tasks_per_hour", "must be between 0 and %d", MaxAccountTasksPerHour)
	}
	if weight < MinAccountWeight || weight > MaxAccountWeight {
		return AccountLimits{}, invalid("weight", "must be between %d and %d", MinAccountWeight, MaxAccountWeight)
	}
	return AccountLimits{maxConcurrency: maxConcurrency, maxTasksPerHour: maxTasksPerHour, weight: weight}, nil
}

// RehydrateAccountLimits rebuilds stored limits without validation; a weight
// below 1 reads as the default so that the fair share never divides by zero.
func RehydrateAccountLimits(maxConcurrency, maxTasksPerHour, weight int) AccountLimits {
	if weight < MinAccountWeight {
		weight = DefaultAccountWeight
	}
	return AccountLimits{maxConcurrency: maxConcurrency, maxTasksPerHour: maxTasksPerHour, weight: weight}
}

// MaxConcurrency is the most running attempts the account may have (0: no own limit).
func (l AccountLimits) MaxConcurrency() int { return l.maxConcurrency }

// MaxTasksPerHour is the most attempts it may open in any sliding hour (0: no limit).
func (l AccountLimits) MaxTasksPerHour() int { return l.maxTasksPerHour }

// Weight is its share of the slots relative to other accounts (1 when unset).
func (l AccountLimits) Weight() int {
	if l.weight < MinAccountWeight {
		return DefaultAccountWeight
	}
	return l.weight
}

// ParseAccountID reads an account id from a path or query: a positive
// integer, else a *ValidationError naming account_id.
func ParseAccountID(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || id <= 0 {
		return 0, invalid("account_id", "must be a positive integer")
	}
	return id, nil
}

// WaitingReason says why a due task is not running yet (§11).
type WaitingReason string

const (
	WaitingNone               WaitingReason = ""
	WaitingAccountConcurrency WaitingReason = "account_concurrency"  // its account runs max_concurrency attempts
	WaitingAccountRateLimited WaitingReason = "account_rate_limited" // its account opened max_tasks_per_hour in the last hour
	WaitingCreatorUnavailable WaitingReason = "creator_unavailable"  // content-creator is considered down (§14)
	WaitingCapacity           WaitingReason = "capacity"             // every CREATOR_MAX_CONCURRENCY slot is busy
)

// Waiting is a due task's reason to wait, with when the rate window lets the
// next attempt open (rate limit only).
type Waiting struct {
	Reason    WaitingReason
	NotBefore time.Time
}

// AccountLoad is what the fair share and the waiting reasons decide from:
// an account's limits in force and the database's counts.
type AccountLoad struct {
	AccountID int64
	Limits    AccountLimits
	Running   int // attempts opened and not ended
	// OpenedInWindow counts attempts opened in the last RateWindow.
	OpenedInWindow int
	// WindowReopensAt is when enough of those leave the window for one more
	// to open (zero when unknown or not limited).
	WindowReopensAt time.Time
	Due             int       // due tasks without an open attempt (as far as counted)
	OldestDue       time.Time // creation time of its oldest due task
}

// Held reports which of the account's own limits keeps its due tasks
// waiting, or WaitingNone.
func (a AccountLoad) Held() Waiting {
	if m := a.Limits.MaxConcurrency(); m > 0 && a.Running >= m {
		return Waiting{Reason: WaitingAccountConcurrency}
	}
	if m := a.Limits.MaxTasksPerHour(); m > 0 && a.OpenedInWindow >= m {
		return Waiting{Reason: WaitingAccountRateLimited, NotBefore: a.WindowReopensAt}
	}
	return Waiting{}
}

// WindowReopensAt is when an account that opened attempts at opened (oldest
// first, all inside the window ending now) may open one more under a limit
// of perHour: when the oldest of those that must leave the window has left
// it. Zero when it may open one now or there is no limit.
func WindowReopensAt(opened []time.Time, perHour int) time.Time {
	if perHour <= 0 || len(opened) < perHour {
		return time.Time{}
	}
	return opened[len(opened)-perHour].Add(RateWindow)
}

// FairShare hands out free slots one at a time (§11): each goes to the
// account with due tasks, not held by its own limits, that has the fewest
// running attempts per unit of weight; ties go to the account whose oldest
// due task is oldest, then to the lower account id. Each slot given counts
// as a running attempt (and an opening) of its account for the next. It
// returns one account id per slot given, in order; fewer than free when the
// accounts run out of due tasks or reach their limits.
func FairShare(loads []AccountLoad, free int) []int64 {
	if free <= 0 || len(loads) == 0 {
		return nil
	}
	work := make([]AccountLoad, len(loads))
	copy(work, loads)
	// A stable order, so that equal accounts are served the same way every time.
	sort.Slice(work, func(i, j int) bool { return work[i].AccountID < work[j].AccountID })
	due := 0
	for _, a := range work {
		due += max(a.Due, 0)
	}
	// Sized by what can be picked: free may be a ceiling of 100,000 slots.
	picks := make([]int64, 0, min(free, due))
	for len(picks) < free {
		best := -1
		for i := range work {
			a := &work[i]
			if a.Due <= 0 || a.Held().Reason != WaitingNone {
				continue
			}
			if best < 0 || fairer(*a, work[best]) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		work[best].Running++
		work[best].OpenedInWindow++
		work[best].Due--
		picks = append(picks, work[best].AccountID)
	}
	return picks
}

// fairer reports whether a should get the next slot before b: fewer running
// attempts per unit of weight (compared without division), then the older
// oldest due task.
func fairer(a, b AccountLoad) bool {
	left, right := a.Running*b.Limits.Weight(), b.Running*a.Limits.Weight()
	if left != right {
		return left < right
	}
	if !a.OldestDue.Equal(b.OldestDue) {
		return a.OldestDue.Before(b.OldestDue)
	}
	return a.AccountID < b.AccountID
}

// WaitingFor says why task t waits, given its account's load, how many
// attempts run in total and the total slots (capacity; 0 = no cap).
// Only a due pending task with no open attempt waits; for any other the
// reason is WaitingNone. A due task whose account is not held while slots
// are free waits for nothing: the dispatcher takes it next.
func WaitingFor(t *Task, load AccountLoad, running, capacity int, now time.Time) Waiting {
	if t.Status() != StatusPending || t.AttemptOpen() || t.NextAttemptAt().After(now) {
		return Waiting{}
	}
	if w := load.Held(); w.Reason != WaitingNone {
		return w
	}
	if capacity > 0 && running >= capacity {
		return Waiting{Reason: WaitingCapacity}
	}
	return Waiting{}
}
