// Package events publishes task changes to subscribers: in process, and
// (on PostgreSQL) across replicas.
package events

import (
	"context"
	"sync"
	"sync/atomic"

	"contenthub/ports"
)

// subscriberBuffer is how many events a slow subscriber may lag behind
// before it misses some; subscribers re-read the task on reconnect.
const subscriberBuffer = 64

// Local fans events out to subscribers of this process.
type Local struct {
	mu   sync.Mutex
	subs map[*subscription]struct{}
	seq  atomic.Int64
}

type subscription struct {
	filter ports.EventFilter
	ch     chan ports.TaskEvent
}

var (
	_ ports.EventPublisher  = (*Local)(nil)
	_ ports.EventSubscriber = (*Local)(nil)
)

// NewLocal returns an empty in-process hub.
func NewLocal() *Local { return &Local{subs: map[*subscription]struct{}{}} }

// Publish delivers e to every matching subscriber without blocking; a
// subscriber whose buffer is full misses the event.
func (l *Local) Publish(_ context.Context, e ports.TaskEvent) error {
	if e.Sequence == 0 {
		e.Sequence = l.seq.Add(1)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for s := range l.subs {
		if !matches(s.filter, e) {
			continue
		}
		select {
		case s.ch <- e:
		default:
		}
	}
	return nil
}

// Subscribe returns events matching f until ctx ends; then the channel closes.
func (l *Local) Subscribe(ctx context.Context, f ports.EventFilter) (<-chan ports.TaskEvent, error) {
	s := &subscription{filter: f, ch: make(chan ports.TaskEvent, subscriberBuffer)}
	l.mu.Lock()
	l.subs[s] = struct{}{}
	l.mu.Unlock()
	go func() {
		<-ctx.Done()
		l.mu.Lock()
		delete(l.subs, s)
		close(s.ch)
		l.mu.Unlock()
	}()
	return s.ch, nil
}

func matches(f ports.EventFilter, e ports.TaskEvent) bool {
	if f.TaskID != "" && f.TaskID != e.TaskID {
		return false
	}
	if f.AccountID != 0 && f.AccountID != e.AccountID {
		return false
	}
	return true
}
