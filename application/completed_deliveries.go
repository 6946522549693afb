package application

import (
	"sync"
	"time"

	"contenthub/domain"
)

// completedDeliveries remembers, for tasks that are completed, the task as
// stored and the delivery ids recorded for it, so that the re-sends the real
// sender makes of a completed callback (CONTENT-CREATOR.md: "expect
// identical duplicates") are answered without a database read.
//
// It is exact, on every replica: completed is the one status no event leaves
// (§2: everything after it is ignored or refused), so a completed task
// remembered is the task as stored, attempts and credentials included; and
// an id is remembered only after the database has answered that it holds
// it, or committed it. The request is still authenticated, against the
// remembered attempts, as it would be against the stored ones.
//
// The one thing it can miss is a task deleted since (retention, on any
// replica or by `contenthub cleanup`): for at most completedDeliveriesTTL a
// re-send to it is answered "duplicate" where the database would say 404. The
// delivery was stored when it was accepted, and the sender is told to stop
// either way.
//
// Memory is bounded: two generations of at most completedDeliveriesPerGen
// tasks each; a task found in the older generation moves to the newer one,
// and when the newer one is full the older one is dropped.
type completedDeliveries struct {
	mu       sync.Mutex
	cur, old map[string]*completedTask
	perGen   int
	ttl      time.Duration
}

type completedTask struct {
	task       *domain.Task // a copy, only read
	deliveries map[string]struct{}
	expires    time.Time
}

const (
	completedDeliveriesPerGen = 4096
	completedDeliveriesTTL    = 5 * time.Minute
	// maxDeliveriesPerTask bounds what one task can hold: the real sender
	// sends one completed per run; more distinct ids are other bodies.
	maxDeliveriesPerTask = 8
)

func newCompletedDeliveries(perGen int, ttl time.Duration) *completedDeliveries {
	return &completedDeliveries{cur: make(map[string]*completedTask), old: make(map[string]*completedTask), perGen: perGen, ttl: ttl}
}

// lookup returns the remembered completed task when deliveryID is one of
// its recorded deliveries and the entry has not expired at now.
func (c *completedDeliveries) lookup(taskID, deliveryID string, now time.Time) (*domain.Task, bool) {
	if deliveryID == "" { // none guessed: nothing to look up
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(taskID, now)
	if e == nil {
		return nil, false
	}
	if _, ok := e.deliveries[deliveryID]; !ok {
		return nil, false
	}
	return e.task, true
}

// remember records that task, completed, holds deliveryID (a copy of task is
// kept). Tasks in any other status are not remembered.
func (c *completedDeliveries) remember(task *domain.Task, deliveryID string, now time.Time) {
	if task.Status() != domain.StatusCompleted || deliveryID == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(task.ID(), now)
	if e == nil {
		e = &completedTask{deliveries: make(map[string]struct{}, 1)}
		c.put(task.ID(), e)
	}
	if len(e.deliveries) >= maxDeliveriesPerTask {
		return
	}
	if e.task == nil || e.task.Version() != task.Version() {
		e.task = domain.RehydrateTask(task.Snapshot())
	}
	e.deliveries[deliveryID] = struct{}{}
	e.expires = now.Add(c.ttl)
}

// entry finds taskID's live entry, moving it to the newer generation.
// The caller holds mu.
func (c *completedDeliveries) entry(taskID string, now time.Time) *completedTask {
	e, ok := c.cur[taskID]
	if !ok {
		if e, ok = c.old[taskID]; !ok {
			return nil
		}
		delete(c.old, taskID)
		c.put(taskID, e)
	}
	if !now.Before(e.expires) {
		delete(c.cur, taskID)
		return nil
	}
	return e
}

// put adds e to the newer generation, retiring the older one when full.
// The caller holds mu.
func (c *completedDeliveries) put(taskID string, e *completedTask) {
	if len(c.cur) >= c.perGen {
		c.old, c.cur = c.cur, make(map[string]*completedTask, c.perGen)
	}
	c.cur[taskID] = e
}
