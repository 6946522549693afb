package events

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/lib/pq"
	"go.uber.org/zap"

	"contenthub/domain"
	"contenthub/ports"
)

// DefaultChannel is the NOTIFY channel task events travel on. Channels are
// database-wide, not per schema: deployments sharing a database in separate
// schemas need separate channels (WithChannel).
const DefaultChannel = "contenthub_task_events"

const (
	// publishSQL numbers each event of a batch from task_event_seq
	// (migration 00002), in order, and sends them in one statement and one
	// transaction, so every replica agrees on sequences. Events are best
	// effort and published after their change committed, so that transaction
	// commits without waiting for the disk (synchronous_commit off for it
	// only): NOTIFY gives a transaction an id, and a synchronous commit would
	// cost every change a second disk flush. After a database crash a few
	// sequence numbers may be handed out again; clients re-read tasks when in
	// doubt. (nextval runs after the sort: PostgreSQL evaluates volatile
	// output columns last.)
	publishSQL = `SELECT pg_notify($1, jsonb_set(e::jsonb, '{seq}', to_jsonb(nextval('task_event_seq')))::text),
		set_config('synchronous_commit', 'off', true)
		FROM unnest($2::text[]) WITH ORDINALITY AS batch(e, n) ORDER BY n`

	// outboxSize is how many events may wait for the sender; Publish waits
	// beyond it.
	outboxSize = 4096
	// maxBatch bounds the events of one statement (each under maxPayload).
	maxBatch = 256
	// sendTimeout bounds one batch's statement.
	sendTimeout = 5 * time.Second

	// maxPayload is PostgreSQL's NOTIFY payload limit less some margin.
	maxPayload = 7900
	// maxTextBytes bounds the free-text progress fields in a payload: they
	// come from content-creator and may be long, and even when JSON escapes
	// every byte (six times longer) the payload stays under maxPayload.
	maxTextBytes = 400

	defaultConnectTimeout = 10 * time.Second
	minReconnect          = time.Second
	maxReconnect          = 30 * time.Second
	// pingInterval makes a silently dead listener connection show up, as
	// lib/pq advises when no notifications arrive for a while.
	pingInterval = 60 * time.Second
)

// Postgres publishes task events with pg_notify and receives every
// replica's events (its own included) on a dedicated LISTEN connection,
// then fans them out to this process's subscribers. Sequences come from a
// PostgreSQL sequence, so they are comparable across replicas.
//
// NewPostgres returns once the listener is listening: Subscribe needs no
// separate start. A lost listener connection is re-established by lib/pq;
// events published while it was down do not reach this process's
// subscribers (this is logged).
type Postgres struct {
	db *sql.DB
	// publish is publishSQL, prepared at the first batch.
	publishMu sync.Mutex
	publish   *sql.Stmt

	// outbox holds events, in publish order, for the sender goroutine:
	// a callback's answer does not wait for its notification, and events
	// published together share one statement. outboxMu guards outboxClosed
	// against sends on the closed channel.
	outbox       chan string
	outboxMu     sync.RWMutex
	outboxClosed bool
	sent         chan struct{} // closed when the sender has sent everything

	channel  string
	listener *pq.Listener
	hub      *Local
	log      *zap.Logger

	stop      chan struct{}
	stopped   chan struct{}
	closeOnce sync.Once
	closeErr  error
}

var (
	_ ports.EventPublisher  = (*Postgres)(nil)
	_ ports.EventSubscriber = (*Postgres)(nil)
)

// PostgresOption tunes NewPostgres.
type PostgresOption func(*postgresOptions)

type postgresOptions struct {
	channel        string
	connectTimeout time.Duration
}

// WithChannel sets the NOTIFY channel (default DefaultChannel). Every
// replica of one deployment must use the same channel.
func WithChannel(name string) PostgresOption {
	return func(o *postgresOptions) { o.channel = name }
}

// WithConnectTimeout bounds how long NewPostgres waits for the listener's
// first connection (default 10 s).
func WithConnectTimeout(d time.Duration) PostgresOption {
	return func(o *postgresOptions) { o.connectTimeout = d }
}

// NewPostgres publishes through db (a pool of the service's database,
// migrated, whose search_path holds task_event_seq) and listens on a
// connection of its own opened from dsn, the same database URL. It fails
// when the listener cannot connect within the connect timeout. Close it at
// shutdown; db stays the caller's.
func NewPostgres(db *sql.DB, dsn string, log *zap.Logger, opts ...PostgresOption) (*Postgres, error) {
	o := postgresOptions{channel: DefaultChannel, connectTimeout: defaultConnectTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case db == nil:
		return nil, errors.New("postgres events: no database")
	case o.channel == "" || len(o.channel) > 63:
		return nil, fmt.Errorf("postgres events: channel name %q must be 1 to 63 bytes", o.channel)
	}
	if log == nil {
		log = zap.NewNop()
	}
	p := &Postgres{
		db: db, channel: o.channel, hub: newHub(), log: log.Named("events"),
		stop: make(chan struct{}), stopped: make(chan struct{}),
		outbox: make(chan string, outboxSize), sent: make(chan struct{}),
	}

	var (
		mu      sync.Mutex
		lastErr error // the latest failed connection attempt, for the error below
	)
	p.listener = pq.NewListener(dsn, minReconnect, maxReconnect, func(ev pq.ListenerEventType, err error) {
		mu.Lock()
		if err != nil {
			lastErr = err
		}
		mu.Unlock()
		p.listenerEvent(ev, err)
	})
	listened := make(chan error, 1)
	go func() { listened <- p.listener.Listen(o.channel) }()
	var err error
	select {
	case err = <-listened:
	case <-time.After(o.connectTimeout):
		_ = p.listener.Close() // ends the pending Listen
		<-listened
		mu.Lock()
		err = fmt.Errorf("no connection within %s: %w", o.connectTimeout, errors.Join(lastErr, context.DeadlineExceeded))
		mu.Unlock()
	}
	if err != nil {
		_ = p.listener.Close()
		return nil, fmt.Errorf("postgres events: listen on %q: %w", o.channel, err)
	}
	go p.run()
	go p.send()
	return p, nil
}

// listenerEvent logs the listener's connection changes; lib/pq reconnects
// on its own.
func (p *Postgres) listenerEvent(ev pq.ListenerEventType, err error) {
	switch ev {
	case pq.ListenerEventDisconnected:
		p.log.Warn("event listener lost its connection; reconnecting", zap.Error(err))
	case pq.ListenerEventConnectionAttemptFailed:
		p.log.Warn("event listener could not connect", zap.Error(err))
	case pq.ListenerEventReconnected:
		p.log.Warn("event listener reconnected; task events published while it was down were not received")
	case pq.ListenerEventConnected:
		p.log.Debug("event listener connected", zap.String("channel", p.channel))
	}
}

// run hands received notifications to the local hub until Close.
func (p *Postgres) run() {
	defer close(p.stopped)
	ping := time.NewTicker(pingInterval)
	defer ping.Stop()
	for {
		select {
		case <-p.stop:
			return
		case n, ok := <-p.listener.Notify:
			if !ok {
				return
			}
			if n == nil { // sent after a reconnect; logged by listenerEvent
				continue
			}
			p.deliver(n.Extra)
		case <-ping.C:
			if err := p.listener.Ping(); err != nil {
				p.log.Debug("event listener ping failed", zap.Error(err))
			}
		}
	}
}

func (p *Postgres) deliver(payload string) {
	var w wireEvent
	if err := json.Unmarshal([]byte(payload), &w); err != nil || w.Seq == 0 {
		p.log.Warn("ignoring a malformed task event notification", zap.String("channel", p.channel), zap.Error(err))
		return
	}
	_ = p.hub.Publish(context.Background(), w.event())
}

// Publish queues e to be numbered from the database sequence and notified
// to every replica, this one included; subscribers receive it through the
// listener. It returns once e is queued (waiting while the queue is full, up
// to ctx), in order with this process's other events. After Close it sends e
// itself. e.Sequence is ignored.
func (p *Postgres) Publish(ctx context.Context, e ports.TaskEvent) error {
	payload, err := json.Marshal(wireOf(e))
	if err != nil {
		return fmt.Errorf("encode task event: %w", err)
	}
	if len(payload) > maxPayload {
		return fmt.Errorf("task event of %d bytes exceeds the NOTIFY limit", len(payload))
	}
	p.outboxMu.RLock()
	defer p.outboxMu.RUnlock()
	if p.outboxClosed {
		return p.notify(ctx, []string{string(payload)})
	}
	select {
	case p.outbox <- string(payload):
		return nil
	case <-ctx.Done():
		return fmt.Errorf("queue task event: %w", context.Cause(ctx))
	}
}

// send notifies queued events, as many as are waiting in each statement,
// until the outbox is closed and empty.
func (p *Postgres) send() {
	defer close(p.sent)
	batch := make([]string, 0, maxBatch)
	for first := range p.outbox {
		batch = append(batch[:0], first)
	more:
		for len(batch) < maxBatch {
			select {
			case e, ok := <-p.outbox:
				if !ok {
					break more
				}
				batch = append(batch, e)
			default:
				break more
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
		if err := p.notify(ctx, batch); err != nil {
			p.log.Warn("task events not notified; subscribers re-read tasks when in doubt", zap.Int("events", len(batch)), zap.Error(err))
		}
		cancel()
	}
}

// notify sends payloads in one statement.
func (p *Postgres) notify(ctx context.Context, payloads []string) error {
	st, err := p.publishStmt(ctx)
	if err != nil {
		return fmt.Errorf("notify task events: %w", err)
	}
	if _, err := st.ExecContext(ctx, p.channel, pq.Array(payloads)); err != nil {
		return fmt.Errorf("notify task events: %w", err)
	}
	return nil
}

// publishStmt is publishSQL prepared once (database/sql prepares it again on
// each connection that first runs it): one round trip per batch, not two.
func (p *Postgres) publishStmt(ctx context.Context) (*sql.Stmt, error) {
	p.publishMu.Lock()
	defer p.publishMu.Unlock()
	if p.publish != nil {
		return p.publish, nil
	}
	st, err := p.db.PrepareContext(ctx, publishSQL)
	if err != nil {
		return nil, err
	}
	p.publish = st
	return st, nil
}

// Subscribe returns events of every replica matching f until ctx ends or
// Close; then the channel closes.
func (p *Postgres) Subscribe(ctx context.Context, f ports.EventFilter) (<-chan ports.TaskEvent, error) {
	return p.hub.Subscribe(ctx, f)
}

// SubscribeFrom is Subscribe for a client resuming after sequence after:
// buffered events of any replica that this process received and that came
// later are replayed first (see Local.SubscribeFrom). Sequences are global,
// so a client may resume on another replica; events published before this
// process started listening are not replayed.
func (p *Postgres) SubscribeFrom(ctx context.Context, f ports.EventFilter, after int64) (<-chan ports.TaskEvent, error) {
	return p.hub.SubscribeFrom(ctx, f, after)
}

// Close sends the events still queued, then stops listening and ends every
// subscription. Publish keeps working, sending each event itself (the
// database is the caller's). It is safe to call more than once.
func (p *Postgres) Close() error {
	p.closeOnce.Do(func() {
		p.outboxMu.Lock()
		p.outboxClosed = true
		close(p.outbox)
		p.outboxMu.Unlock()
		<-p.sent
		_ = p.hub.Close()
		close(p.stop)
		<-p.stopped
		p.closeErr = p.listener.Close()
		// lib/pq closes Notify once its loop has noticed; drain so that it
		// never blocks on a full channel meanwhile.
		go func() {
			for range p.listener.Notify {
			}
		}()
	})
	return p.closeErr
}

// wireEvent is a task event as a NOTIFY payload: compact, and free of
// anything large (no article text).
type wireEvent struct {
	Seq        int64         `json:"seq"`
	TaskID     string        `json:"task_id"`
	AccountID  int64         `json:"account_id"`
	Status     domain.Status `json:"status"`
	Attempt    int           `json:"attempt"`
	Percentage int           `json:"pct"`
	Stage      string        `json:"stage,omitempty"`
	Message    string        `json:"msg,omitempty"`
	ProgressAt time.Time     `json:"progress_at"`
	ContentID  string        `json:"content_id,omitempty"`
	ScheduleID string        `json:"schedule_id,omitempty"`
	RunID      string        `json:"run_id,omitempty"`
	At         time.Time     `json:"at"`
}

func wireOf(e ports.TaskEvent) wireEvent {
	return wireEvent{
		TaskID: e.TaskID, AccountID: e.AccountID, Status: e.Status, Attempt: e.Attempt,
		Percentage: e.Progress.Percentage, Stage: truncate(e.Progress.Stage, maxTextBytes),
		Message: truncate(e.Progress.Message, maxTextBytes), ProgressAt: e.Progress.UpdatedAt,
		ContentID: e.ContentID, ScheduleID: e.ScheduleID, RunID: e.RunID, At: e.At,
	}
}

func (w wireEvent) event() ports.TaskEvent {
	return ports.TaskEvent{
		Sequence: w.Seq, TaskID: w.TaskID, AccountID: w.AccountID, Status: w.Status, Attempt: w.Attempt,
		Progress: domain.Progress{
			Percentage: w.Percentage, Stage: w.Stage, Message: w.Message, UpdatedAt: w.ProgressAt.UTC(),
		},
		ContentID: w.ContentID, ScheduleID: w.ScheduleID, RunID: w.RunID, At: w.At.UTC(),
	}
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
