package application

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"contenthub/domain"
	"contenthub/ports"
)

// NotifierConfig tunes the sender of outbound notifications.
type NotifierConfig struct {
	// Owner names this replica's claims.
	Owner string
	// Timeout is the sender's bound on one attempt; the lease covers three,
	// so that a message waiting behind its endpoint's busy senders is never
	// claimed by another replica meanwhile.
	Timeout time.Duration
	// Interval is how often due messages are looked for when nothing wakes
	// the loop (default 1 s).
	Interval time.Duration
	// Concurrency caps attempts in flight in all (default 64), PerEndpoint
	// those of one endpoint (default 4): one slow or dead endpoint holds at
	// most PerEndpoint senders, never the others'.
	Concurrency int
	PerEndpoint int
	Policy      domain.NotifyRetryPolicy
}

// Notifier sends the outbox's messages (§13): it claims due messages with a
// lease (exactly one replica sends an attempt), signs and sends each through
// a bounded pool per endpoint, and records every attempt with what follows
// it (delivered; retried on the schedule or after Retry-After; failed; the
// endpoint disabled on 410 or after 3 days of failures).
type Notifier struct {
	outbox  ports.Outbox
	sender  ports.WebhookSender
	events  ports.EventSubscriber // nil: poll only
	clock   ports.Clock
	ids     ports.IDGenerator
	metrics ports.NotifyMetrics
	log     *zap.Logger
	cfg     NotifierConfig

	wake  chan struct{}
	freed chan struct{}

	mu       sync.Mutex
	inFlight map[string]int           // endpoint → messages held (sending or waiting for a slot)
	slots    map[string]chan struct{} // endpoint → its senders
	total    int
	wg       sync.WaitGroup

	lastGauge time.Time
}

// NewNotifier builds the sender loop.
func NewNotifier(outbox ports.Outbox, sender ports.WebhookSender, events ports.EventSubscriber, clock ports.Clock,
	ids ports.IDGenerator, m ports.NotifyMetrics, log *zap.Logger, cfg NotifierConfig) *Notifier {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 64
	}
	if cfg.PerEndpoint <= 0 {
		cfg.PerEndpoint = 4
	}
	if cfg.Policy.Schedule == nil {
		cfg.Policy.Schedule = domain.DefaultNotifyRetrySchedule
	}
	return &Notifier{
		outbox: outbox, sender: sender, events: events, clock: clock, ids: ids, metrics: m, log: log, cfg: cfg,
		wake: make(chan struct{}, 1), freed: make(chan struct{}, 1),
		inFlight: map[string]int{}, slots: map[string]chan struct{}{},
	}
}

func (n *Notifier) lease() time.Duration { return 3*n.cfg.Timeout + 5*time.Second }

// Wake makes the loop look for due messages now.
func (n *Notifier) Wake() { signal(n.wake) }

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Run sends until ctx ends, then waits for the attempts in flight (their
// requests end with ctx; an attempt cut short is not recorded, and its
// message is sent again once its lease runs out).
func (n *Notifier) Run(ctx context.Context) {
	defer n.wg.Wait()
	if n.events != nil {
		// A terminal change anywhere (LISTEN/NOTIFY on PostgreSQL) has just
		// written messages: send them now rather than at the next tick.
		if ch, err := n.events.Subscribe(ctx, ports.EventFilter{}); err == nil {
			n.wg.Add(1)
			go func() {
				defer n.wg.Done()
				for ev := range ch {
					if ev.Status.Terminal() {
						n.Wake()
					}
				}
			}()
		} else {
			n.log.Warn("notifier: no task events, polling only", zap.Error(err))
		}
	}
	tick := time.NewTicker(n.cfg.Interval)
	defer tick.Stop()
	for {
		n.Fill(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-n.wake:
		case <-n.freed:
		}
	}
}

// Fill claims as many due messages as there are free senders and starts
// sending them; it returns how many it claimed.
func (n *Notifier) Fill(ctx context.Context) int {
	now := n.clock.Now().UTC()
	n.gauge(ctx, now)
	n.mu.Lock()
	free := n.cfg.Concurrency - n.total
	var busy []string
	for ep, c := range n.inFlight {
		if c >= n.cfg.PerEndpoint {
			busy = append(busy, ep)
		}
	}
	n.mu.Unlock()
	if free <= 0 || ctx.Err() != nil {
		return 0
	}
	claimed, err := n.outbox.ClaimMessages(ctx, ports.MessageClaim{
		Owner: n.cfg.Owner, Now: now, Lease: n.lease(), Limit: free, PerEndpoint: n.cfg.PerEndpoint, Busy: busy,
	})
	if err != nil {
		if ctx.Err() == nil {
			n.log.Warn("notifier: claim messages", zap.Error(err))
		}
		return 0
	}
	for _, c := range claimed {
		n.start(ctx, c)
	}
	return len(claimed)
}

func (n *Notifier) start(ctx context.Context, c ports.ClaimedMessage) {
	ep := c.Message.EndpointID
	n.mu.Lock()
	n.inFlight[ep]++
	n.total++
	slots, ok := n.slots[ep]
	if !ok {
		slots = make(chan struct{}, n.cfg.PerEndpoint)
		n.slots[ep] = slots
	}
	n.mu.Unlock()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer n.release(ep)
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-slots }()
		n.attempt(ctx, c)
	}()
}

func (n *Notifier) release(ep string) {
	n.mu.Lock()
	n.total--
	if n.inFlight[ep]--; n.inFlight[ep] <= 0 {
		delete(n.inFlight, ep)
		if len(n.slots[ep]) == 0 {
			delete(n.slots, ep)
		}
	}
	n.mu.Unlock()
	signal(n.freed)
}

// attempt sends one message once and records how it went.
func (n *Notifier) attempt(ctx context.Context, c ports.ClaimedMessage) {
	m := c.Message
	at := n.clock.Now().UTC()
	res := n.sender.Send(ctx, ports.OutboundMessage{ID: m.ID, URL: c.URL, Payload: m.Payload, Timestamp: at, Secrets: c.Secrets})
	if ctx.Err() != nil {
		return // stopping: not the receiver's failure
	}
	now := n.clock.Now().UTC()
	d := n.cfg.Policy.Decide(m, res, c.FailingSince, now, n.ids.Jitter())
	rec := ports.AttemptRecord{Owner: n.cfg.Owner, Decision: d, Attempt: domain.MessageAttempt{
		MessageID: m.ID, EndpointID: m.EndpointID, At: at, StatusCode: res.StatusCode, Error: res.Err, Latency: res.Latency,
	}}
	ok, err := n.outbox.RecordAttempt(context.WithoutCancel(ctx), rec)
	switch {
	case err != nil:
		n.log.Warn("notifier: record attempt", zap.String("message_id", m.ID), zap.Error(err))
		return
	case !ok:
		n.log.Warn("notifier: lease lost before the attempt was recorded", zap.String("message_id", m.ID))
		return
	}
	outcome := "delivered"
	switch d.Status {
	case domain.MessagePending:
		outcome = "retrying"
	case domain.MessageFailed:
		outcome = "failed"
	}
	n.metrics.MessageAttempted(string(m.Event), outcome, res.Latency)
	if d.DisableEndpoint != "" {
		n.log.Warn("notifier: endpoint disabled", zap.String("endpoint_id", m.EndpointID), zap.String("reason", d.DisableEndpoint))
	}
}

// gauge refreshes the oldest pending message's age, at most every 5 s.
func (n *Notifier) gauge(ctx context.Context, now time.Time) {
	if now.Sub(n.lastGauge) < 5*time.Second {
		return
	}
	n.lastGauge = now
	oldest, err := n.outbox.OldestPending(ctx)
	if err != nil {
		return
	}
	age := time.Duration(0)
	if !oldest.IsZero() {
		age = max(now.Sub(oldest), 0)
	}
	n.metrics.OldestPendingMessage(age)
}

// Wait blocks until every attempt started so far has been recorded (tests).
func (n *Notifier) Wait() { n.wg.Wait() }
