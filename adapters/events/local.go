// Package events publishes task changes to subscribers: in process (Local,
// for the embedded SQLite setup) and across replicas through PostgreSQL
// LISTEN/NOTIFY (Postgres).
//
// Both keep the most recent events in a ring buffer, so that a client that
// reconnects with the last sequence it saw (SSE Last-Event-ID) gets what it
// missed through SubscribeFrom, as long as the events are still buffered.
// Delivery is best effort: a subscriber that falls behind misses events, and
// clients re-read a task when they need its state for certain.
package events

import (
	"context"
	"errors"
	"sync"

	"contenthub/ports"
)

const (
	// subscriberBuffer is how many live events a slow subscriber may lag
	// behind before it misses some; publishers never wait for subscribers.
	subscriberBuffer = 64
	// recentEvents is how many past events a hub keeps for SubscribeFrom.
	recentEvents = 1024
)

// ErrClosed is returned by Subscribe after Close.
var ErrClosed = errors.New("event hub closed")

// Local fans events out to the subscribers of this process. Sequences it
// assigns start at 1 with every process; see SubscribeFrom for what that
// means to reconnecting clients.
type Local struct {
	// resetUnknown: a resume point ahead of every sequence seen comes from an
	// earlier process (Local's counter restarts), so everything buffered is
	// new to that client. Off when sequences come from PostgreSQL, where such
	// a point only means this process has not seen those events.
	resetUnknown bool

	mu     sync.Mutex
	subs   map[*subscription]struct{}
	seq    int64 // last sequence assigned here
	newest int64 // highest sequence published, assigned here or not
	recent ring
	closed bool
	done   chan struct{} // closed by Close: ends every subscription
}

type subscription struct {
	filter ports.EventFilter
	ch     chan ports.TaskEvent
}

var (
	_ ports.EventPublisher  = (*Local)(nil)
	_ ports.EventSubscriber = (*Local)(nil)
)

// NewLocal returns an empty in-process hub. It needs no start and no
// database; Close ends its subscriptions.
func NewLocal() *Local {
	l := newHub()
	l.resetUnknown = true
	return l
}

func newHub() *Local {
	return &Local{
		subs:   map[*subscription]struct{}{},
		recent: ring{events: make([]ports.TaskEvent, recentEvents)},
		done:   make(chan struct{}),
	}
}

// Publish delivers e to every matching subscriber without blocking; a
// subscriber whose buffer is full misses the event. An event without a
// sequence gets the next one of this hub.
func (l *Local) Publish(_ context.Context, e ports.TaskEvent) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.Sequence == 0 {
		l.seq++
		e.Sequence = l.seq
	}
	l.newest = max(l.newest, e.Sequence)
	l.recent.add(e)
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

// Subscribe returns events matching f until ctx ends or the hub is closed;
// then the channel closes.
func (l *Local) Subscribe(ctx context.Context, f ports.EventFilter) (<-chan ports.TaskEvent, error) {
	return l.subscribe(ctx, f, nil)
}

// SubscribeFrom is Subscribe for a client resuming after the event with
// sequence after: the channel first carries the buffered events matching f
// that came later, in the order they were published, then live events. No
// event falls between the two. Events that left the buffer are not
// replayed.
//
// A resume point ahead of every sequence this hub has seen is taken, for
// Local, as one issued before the process restarted: every buffered event
// is replayed.
func (l *Local) SubscribeFrom(ctx context.Context, f ports.EventFilter, after int64) (<-chan ports.TaskEvent, error) {
	return l.subscribe(ctx, f, &after)
}

func (l *Local) subscribe(ctx context.Context, f ports.EventFilter, after *int64) (<-chan ports.TaskEvent, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	var replay []ports.TaskEvent
	if after != nil {
		from := *after
		if l.resetUnknown && from > l.newest {
			from = 0
		}
		replay = l.recent.since(from, f)
	}
	s := &subscription{filter: f, ch: make(chan ports.TaskEvent, len(replay)+subscriberBuffer)}
	for _, e := range replay {
		s.ch <- e
	}
	l.subs[s] = struct{}{}
	go func() {
		select {
		case <-ctx.Done():
		case <-l.done:
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if _, ok := l.subs[s]; ok {
			delete(l.subs, s)
			close(s.ch)
		}
	}()
	return s.ch, nil
}

// Close ends every subscription (their channels close) and refuses new
// ones; Publish keeps working without subscribers. Call it when the HTTP
// server shuts down, so that open event streams end instead of holding the
// shutdown up. It is safe to call more than once and never fails.
func (l *Local) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	close(l.done)
	for s := range l.subs {
		delete(l.subs, s)
		close(s.ch)
	}
	return nil
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

// ring keeps the last len(events) events in publication order.
type ring struct {
	events []ports.TaskEvent
	next   int  // where the next event goes
	full   bool // every slot holds an event
}

func (r *ring) add(e ports.TaskEvent) {
	r.events[r.next] = e
	r.next = (r.next + 1) % len(r.events)
	if r.next == 0 {
		r.full = true
	}
}

// since returns the buffered events matching f with a sequence above after,
// oldest first. Sequences from PostgreSQL may arrive slightly out of order,
// so every event is looked at.
func (r *ring) since(after int64, f ports.EventFilter) []ports.TaskEvent {
	var out []ports.TaskEvent
	visit := func(events []ports.TaskEvent) {
		for _, e := range events {
			if e.Sequence > after && matches(f, e) {
				out = append(out, e)
			}
		}
	}
	if r.full {
		visit(r.events[r.next:])
	}
	visit(r.events[:r.next])
	return out
}
