package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"contenthub/application"
	"contenthub/domain"
	"contenthub/ports"
)

// maxCreateBody bounds a task request; topics and requirements are small.
const maxCreateBody = 1 << 20

type taskHandlers struct {
	tasks    *application.Tasks
	counts   *application.TaskCounts // nil: the list has no totals
	accounts *application.Accounts   // waiting reasons; nil: none shown
}

// views renders tasks with their waiting reasons, read at once for all.
func (h *taskHandlers) views(c *gin.Context, tasks ...*domain.Task) ([]taskView, bool) {
	return taskViews(c, h.accounts, tasks...)
}

func taskViews(c *gin.Context, accounts *application.Accounts, tasks ...*domain.Task) ([]taskView, bool) {
	views := make([]taskView, len(tasks))
	var waiting map[string]domain.Waiting
	if accounts != nil {
		var err error
		if waiting, err = accounts.Waiting(c.Request.Context(), tasks); err != nil {
			abortWithError(c, err)
			return nil, false
		}
	}
	for i, t := range tasks {
		views[i] = taskViewOf(t)
		views[i].WaitingReason, views[i].NotBefore = waitingFields(waiting[t.ID()])
	}
	return views, true
}

// view is views for one task.
func (h *taskHandlers) view(c *gin.Context, t *domain.Task) (taskView, bool) {
	v, ok := h.views(c, t)
	if !ok {
		return taskView{}, false
	}
	return v[0], true
}

type createTaskRequest struct {
	AccountID    *int64          `json:"account_id"`
	Topic        *string         `json:"topic"`
	Keywords     json.RawMessage `json:"keywords"`
	Category     string          `json:"category"`
	Requirements string          `json:"requirements"`
	Tone         string          `json:"tone"`
	Priority     *int            `json:"priority"`
	AutoApprove  *bool           `json:"auto_approve"`
	MaxRetries   *int            `json:"max_retries"`
}

func validation(field, msg string) error {
	return &domain.ValidationError{Field: field, Message: msg}
}

func (r createTaskRequest) input(idempotencyKey string) (application.CreateTaskInput, error) {
	in := application.CreateTaskInput{IdempotencyKey: idempotencyKey, NewTaskParams: domain.NewTaskParams{
		Category: r.Category, Requirements: r.Requirements, Tone: r.Tone,
		AutoApprove: r.AutoApprove, MaxRetries: r.MaxRetries,
	}}
	if r.AccountID == nil {
		return in, validation("account_id", "is required")
	}
	in.AccountID = *r.AccountID
	if r.Topic == nil {
		return in, validation("topic", "is required")
	}
	in.Topic = *r.Topic
	if r.Priority != nil {
		if *r.Priority == 0 {
			return in, validation("priority", "must be between 1 and 10")
		}
		in.Priority = *r.Priority
	}
	if len(r.Keywords) > 0 && string(r.Keywords) != "null" {
		var list []string
		var joined string
		switch {
		case json.Unmarshal(r.Keywords, &list) == nil:
			in.Keywords = list
		case json.Unmarshal(r.Keywords, &joined) == nil:
			in.Keywords = domain.SplitKeywords(joined)
		default:
			return in, validation("keywords", `must be a string "a,b" or a list of strings`)
		}
	}
	return in, nil
}

func (h *taskHandlers) create(c *gin.Context) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxCreateBody))
	if err != nil {
		abortUnreadableBody(c, err)
		return
	}
	if err := checkJSONObject(body); err != nil {
		abortWithError(c, err)
		return
	}
	var req createTaskRequest
	if err := json.Unmarshal(body, &req); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			abortWithError(c, validation(typeErr.Field, "has the wrong type"))
			return
		}
		abort(c, http.StatusBadRequest, errorBody{Code: "invalid_json", Message: "body must be a JSON object"})
		return
	}
	key := strings.TrimSpace(c.GetHeader("Idempotency-Key"))
	if len(key) > 255 {
		abortWithError(c, validation("Idempotency-Key", "must be at most 255 characters"))
		return
	}
	in, err := req.input(key)
	if err != nil {
		abortWithError(c, err)
		return
	}
	task, replayed, err := h.tasks.Create(c.Request.Context(), in)
	if err != nil {
		abortWithError(c, err)
		return
	}
	status := http.StatusAccepted
	if replayed {
		status = http.StatusOK
		c.Header("Idempotent-Replayed", "true")
	}
	v, ok := h.view(c, task)
	if !ok {
		return
	}
	c.Header("Location", "/api/v1/content/tasks/"+task.ID())
	c.JSON(status, v)
}

func (h *taskHandlers) get(c *gin.Context) {
	task, err := h.tasks.Get(c.Request.Context(), c.Param("task_id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	v, ok := h.view(c, task)
	if !ok {
		return
	}
	c.JSON(http.StatusOK, v)
}

func (h *taskHandlers) list(c *gin.Context) {
	if !queryIsValid(c) {
		return
	}
	q := ports.TaskQuery{Status: domain.Status(c.Query("status")), Cursor: c.Query("cursor")}
	if s := c.Query("account_id"); s != "" {
		n, err := domain.ParseAccountID(s)
		if err != nil {
			abortWithError(c, err)
			return
		}
		q.AccountID = n
	}
	if s := c.Query("schedule_id"); s != "" {
		if !domain.ValidTaskID(s) {
			abortWithError(c, validation("schedule_id", "must match [A-Za-z0-9_-]{1,100}"))
			return
		}
		q.ScheduleID = s
	}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			abortWithError(c, validation("limit", "must be between 1 and 200"))
			return
		}
		q.Limit = n
	}
	page, err := h.tasks.List(c.Request.Context(), q)
	if err != nil {
		abortWithError(c, err)
		return
	}
	items, ok := h.views(c, page.Items...)
	if !ok {
		return
	}
	answer := gin.H{"items": items, "next_cursor": stringOrNil(page.NextCursor)}
	// The first page carries the totals: how many tasks match, and how many
	// of the account's (or all) tasks are in each status.
	if h.counts != nil && q.Cursor == "" {
		counts, err := h.counts.Count(c.Request.Context(), q.AccountID)
		if err != nil {
			abortWithError(c, err)
			return
		}
		view := make(map[string]int, len(counts))
		total := 0
		for st, n := range counts {
			view[string(st)] = n
			if q.Status == "" || q.Status == st {
				total += n
			}
		}
		answer["total"], answer["counts"] = total, view
	}
	c.JSON(http.StatusOK, answer)
}

func (h *taskHandlers) cancel(c *gin.Context) {
	task, err := h.tasks.Cancel(c.Request.Context(), c.Param("task_id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusOK, taskViewOf(task))
}

func (h *taskHandlers) retry(c *gin.Context) {
	task, err := h.tasks.Retry(c.Request.Context(), c.Param("task_id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusOK, taskViewOf(task))
}

func (h *taskHandlers) deliveries(c *gin.Context) {
	task, err := h.tasks.Get(c.Request.Context(), c.Param("task_id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	ds, err := h.tasks.Deliveries(c.Request.Context(), task.ID())
	if err != nil {
		abortWithError(c, err)
		return
	}
	items := make([]deliveryView, 0, len(ds))
	for _, d := range ds {
		items = append(items, deliveryViewOf(d))
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

func (h *taskHandlers) content(c *gin.Context) {
	id := c.Param("content_id")
	if !domain.ValidTaskID(id) {
		abortWithError(c, domain.ErrNotFound)
		return
	}
	content, err := h.tasks.Content(c.Request.Context(), id)
	if err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusOK, contentViewOf(content))
}
