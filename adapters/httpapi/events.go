package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"contenthub/application"
	"contenthub/domain"
	"contenthub/ports"
)

// DefaultHeartbeatInterval spaces heartbeat comments on event streams (§5).
const DefaultHeartbeatInterval = 15 * time.Second

// resumableSubscriber is a subscriber that can replay recent events to a
// client reconnecting with Last-Event-ID (events.Local, events.Postgres).
type resumableSubscriber interface {
	SubscribeFrom(ctx context.Context, f ports.EventFilter, after int64) (<-chan ports.TaskEvent, error)
}

// eventStreams serves task changes as Server-Sent Events.
type eventStreams struct {
	tasks        *application.Tasks
	accounts     *application.Accounts // waiting reasons of pending tasks; nil: none
	events       ports.EventSubscriber
	heartbeat    time.Duration
	writeTimeout time.Duration // per frame
}

// The SSE routes; withCompression leaves them alone.
const (
	taskEventsRoute = "/api/v1/content/tasks/:task_id/events"
	allEventsRoute  = "/api/v1/content/events"
)

var eventStreamRoutes = map[string]bool{taskEventsRoute: true, allEventsRoute: true}

func registerEventRoutes(r gin.IRouter, cfg Config, d Deps) {
	h := &eventStreams{tasks: d.Tasks, accounts: d.Accounts, events: d.Events, heartbeat: cfg.HeartbeatInterval, writeTimeout: cfg.WriteTimeout}
	guard := withBearerOrQueryToken(cfg.APITokens)
	r.GET(taskEventsRoute, guard, h.task)
	r.GET(allEventsRoute, guard, h.all)
}

// task streams one task's changes; an unknown or malformed id is a 404.
func (h *eventStreams) task(c *gin.Context) {
	id := c.Param("task_id")
	addLogFields(c, zap.String("task_id", id))
	after, ok := lastEventID(c)
	if !ok {
		return
	}
	ctx, cancel := context.WithCancel(c.Request.Context())
	defer cancel()
	events, err := h.subscribe(ctx, ports.EventFilter{TaskID: id}, after)
	if err != nil {
		abortWithError(c, err)
		return
	}
	// Looked up after subscribing, so that no change falls between the
	// check and the stream.
	if _, err := h.tasks.Get(ctx, id); err != nil {
		abortWithError(c, err)
		return
	}
	h.stream(c, events)
}

// all streams the changes of every task, or of one account's tasks.
func (h *eventStreams) all(c *gin.Context) {
	if !queryIsValid(c) {
		return
	}
	var f ports.EventFilter
	if s, given := c.GetQuery("account_id"); given {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			abortWithError(c, validation("account_id", "must be a positive integer"))
			return
		}
		f.AccountID = n
	}
	after, ok := lastEventID(c)
	if !ok {
		return
	}
	ctx, cancel := context.WithCancel(c.Request.Context())
	defer cancel()
	events, err := h.subscribe(ctx, f, after)
	if err != nil {
		abortWithError(c, err)
		return
	}
	h.stream(c, events)
}

// lastEventID reads the resume point from the Last-Event-ID header or the
// last_event_id query parameter (for clients that cannot set headers); -1
// when there is none. It answers 422 itself for a malformed value.
func lastEventID(c *gin.Context) (int64, bool) {
	field, s := "Last-Event-ID", strings.TrimSpace(c.GetHeader("Last-Event-ID"))
	if s == "" {
		field, s = "last_event_id", c.Query("last_event_id")
	}
	if s == "" {
		return -1, true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		abortWithError(c, validation(field, "must be an event id received from this stream"))
		return 0, false
	}
	return n, true
}

// subscribe resumes after the given sequence when asked to and the
// subscriber can; replay is best effort, clients re-read tasks for certainty.
func (h *eventStreams) subscribe(ctx context.Context, f ports.EventFilter, after int64) (<-chan ports.TaskEvent, error) {
	var (
		events <-chan ports.TaskEvent
		err    error
	)
	if r, ok := h.events.(resumableSubscriber); ok && after >= 0 {
		events, err = r.SubscribeFrom(ctx, f, after)
	} else {
		events, err = h.events.Subscribe(ctx, f)
	}
	if err != nil {
		return nil, fmt.Errorf("subscribe to task events: %w: %w", application.ErrUnavailable, err)
	}
	return events, nil
}

// stream writes the event stream until the client leaves or the
// subscription ends (shutdown).
func (h *eventStreams) stream(c *gin.Context, events <-chan ports.TaskEvent) {
	w := c.Writer
	header := w.Header()
	header.Set("Content-Type", "text/event-stream")
	header.Set("Cache-Control", "no-cache")
	header.Set("Connection", "keep-alive")
	header.Set("X-Accel-Buffering", "no") // nginx: pass each event on at once
	// A stream lasts longer than any write timeout meant for single answers:
	// each frame gets its own, so a client that stops reading is let go.
	rc := http.NewResponseController(w)
	w.WriteHeader(http.StatusOK)

	send := func(frame []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(h.writeTimeout))
		if _, err := w.Write(frame); err != nil {
			return false
		}
		w.Flush()
		return true
	}
	if !send([]byte(": connected\n\n")) {
		return
	}
	heartbeat := time.NewTicker(h.heartbeat)
	defer heartbeat.Stop()
	done := c.Request.Context().Done()
	for {
		select {
		case <-done:
			return
		case e, open := <-events:
			if !open || !send(eventFrame(e, h.waiting(c.Request.Context(), e))) {
				return
			}
		case <-heartbeat.C:
			if !send([]byte(": heartbeat\n\n")) {
				return
			}
		}
	}
}

// waiting reads why the task of a pending event waits, as the task view
// does (§11); a failed read leaves it out rather than end the stream.
func (h *eventStreams) waiting(ctx context.Context, e ports.TaskEvent) domain.Waiting {
	if h.accounts == nil || e.Status != domain.StatusPending {
		return domain.Waiting{}
	}
	w, err := h.accounts.WaitingOf(ctx, e.TaskID)
	if err != nil {
		return domain.Waiting{}
	}
	return w
}

// taskEventView is the data of an `event: task` frame.
type taskEventView struct {
	TaskID     string       `json:"task_id"`
	AccountID  int64        `json:"account_id"`
	Status     string       `json:"status"`
	Attempt    int          `json:"attempt"`
	Progress   progressView `json:"progress"`
	ContentID  *string      `json:"content_id"`
	ScheduleID *string      `json:"schedule_id"`
	RunID      *string      `json:"run_id"`
	At         *string      `json:"at"`
	// As in the task view: why a pending task waits, null when it does not.
	WaitingReason *string `json:"waiting_reason"`
	NotBefore     *string `json:"not_before"`
}

// eventFrame renders one event; JSON has no raw newlines, so the data fits
// on one line.
func eventFrame(e ports.TaskEvent, w domain.Waiting) []byte {
	reason, notBefore := waitingFields(w)
	data, _ := json.Marshal(taskEventView{ // plain strings and numbers: cannot fail
		WaitingReason: reason, NotBefore: notBefore,
		TaskID: e.TaskID, AccountID: e.AccountID, Status: string(e.Status), Attempt: e.Attempt,
		Progress:  progressViewOf(e.Status, e.Progress),
		ContentID: stringOrNil(e.ContentID), ScheduleID: stringOrNil(e.ScheduleID), RunID: stringOrNil(e.RunID),
		At: timeOrNil(e.At),
	})
	var b strings.Builder
	if e.Sequence > 0 {
		fmt.Fprintf(&b, "id: %d\n", e.Sequence)
	}
	b.WriteString("event: task\ndata: ")
	b.Write(data)
	b.WriteString("\n\n")
	return []byte(b.String())
}
