package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"contenthub/application"
	"contenthub/domain"
	"contenthub/ports"
)

// maxScheduleBody bounds a schedule request: up to 1,000 topics with their
// requirements.
const maxScheduleBody = 8 << 20

// ScheduleRoutes serves §12's schedule API under api (/api/v1): register it
// with Deps.Extra.
func ScheduleRoutes(schedules *application.Schedules) func(r gin.IRouter, api gin.IRouter) {
	h := &scheduleHandlers{schedules: schedules}
	return func(_ gin.IRouter, api gin.IRouter) {
		api.POST("/schedules", h.create)
		api.GET("/schedules", h.list)
		api.GET("/schedules/:schedule_id", h.get)
		api.PATCH("/schedules/:schedule_id", h.patch)
		api.DELETE("/schedules/:schedule_id", h.delete)
		api.POST("/schedules/:schedule_id/trigger", h.trigger)
		api.GET("/schedules/:schedule_id/runs", h.runs)
	}
}

type scheduleHandlers struct {
	schedules *application.Schedules
}

type topicRequest struct {
	Topic        string          `json:"topic"`
	Keywords     json.RawMessage `json:"keywords"`
	Requirements string          `json:"requirements"`
	Tone         string          `json:"tone"`
	Category     string          `json:"category"`
}

// scheduleRequest is a create body, and a patch body (absent = unchanged).
type scheduleRequest struct {
	Name            *string         `json:"name"`
	Cron            *string         `json:"cron"`
	Timezone        *string         `json:"timezone"`
	AccountIDs      *[]int64        `json:"account_ids"`
	CountPerAccount *int            `json:"count_per_account"`
	Topics          *[]topicRequest `json:"topics"`
	Priority        *int            `json:"priority"`
	AutoApprove     *bool           `json:"auto_approve"`
	MaxRetries      *int            `json:"max_retries"`
	Enabled         *bool           `json:"enabled"`
	Misfire         *string         `json:"misfire"`
}

func (r scheduleRequest) topics() (*[]domain.ScheduleTopic, error) {
	if r.Topics == nil {
		return nil, nil
	}
	out := make([]domain.ScheduleTopic, len(*r.Topics))
	for i, t := range *r.Topics {
		out[i] = domain.ScheduleTopic{Topic: t.Topic, Requirements: t.Requirements, Tone: t.Tone, Category: t.Category}
		if len(t.Keywords) == 0 || string(t.Keywords) == "null" {
			continue
		}
		var (
			list   []string
			joined string
		)
		switch {
		case json.Unmarshal(t.Keywords, &list) == nil:
			out[i].Keywords = list
		case json.Unmarshal(t.Keywords, &joined) == nil:
			out[i].Keywords = domain.SplitKeywords(joined)
		default:
			return nil, validation(fmt.Sprintf("topics[%d].keywords", i), `must be a string "a,b" or a list of strings`)
		}
	}
	return &out, nil
}

func (r scheduleRequest) patch() (domain.SchedulePatch, error) {
	topics, err := r.topics()
	if err != nil {
		return domain.SchedulePatch{}, err
	}
	p := domain.SchedulePatch{
		Name: r.Name, Cron: r.Cron, Timezone: r.Timezone, AccountIDs: r.AccountIDs,
		CountPerAccount: r.CountPerAccount, Topics: topics, Priority: r.Priority,
		AutoApprove: r.AutoApprove, MaxRetries: r.MaxRetries, Enabled: r.Enabled,
	}
	if r.Misfire != nil {
		m := domain.Misfire(*r.Misfire)
		p.Misfire = &m
	}
	return p, nil
}

func (r scheduleRequest) params() (domain.ScheduleParams, error) {
	topics, err := r.topics()
	if err != nil {
		return domain.ScheduleParams{}, err
	}
	p := domain.ScheduleParams{AutoApprove: r.AutoApprove, MaxRetries: r.MaxRetries, Enabled: r.Enabled}
	deref(&p.Name, r.Name)
	deref(&p.Cron, r.Cron)
	deref(&p.Timezone, r.Timezone)
	deref(&p.AccountIDs, r.AccountIDs)
	deref(&p.CountPerAccount, r.CountPerAccount)
	deref(&p.Topics, topics)
	if r.Priority != nil {
		if *r.Priority == 0 {
			return p, validation("priority", "must be between 1 and 10")
		}
		p.Priority = *r.Priority
	}
	if r.Misfire != nil {
		if *r.Misfire == "" {
			return p, validation("misfire", `must be "run_once" or "skip"`)
		}
		p.Misfire = domain.Misfire(*r.Misfire)
	}
	return p, nil
}

func deref[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// readSchedule decodes a schedule body; false when it answered already.
func readSchedule(c *gin.Context) (scheduleRequest, bool) {
	var req scheduleRequest
	ok := readObject(c, maxScheduleBody, &req)
	return req, ok
}

func (h *scheduleHandlers) create(c *gin.Context) {
	req, ok := readSchedule(c)
	if !ok {
		return
	}
	p, err := req.params()
	if err != nil {
		abortWithError(c, err)
		return
	}
	item, err := h.schedules.Create(c.Request.Context(), p)
	if err != nil {
		abortWithError(c, err)
		return
	}
	c.Header("Location", "/api/v1/schedules/"+item.Schedule.ID())
	c.JSON(http.StatusCreated, scheduleViewOf(item))
}

func (h *scheduleHandlers) list(c *gin.Context) {
	items, err := h.schedules.List(c.Request.Context())
	if err != nil {
		abortWithError(c, err)
		return
	}
	views := make([]scheduleView, len(items))
	for i, item := range items {
		views[i] = scheduleViewOf(item)
	}
	c.JSON(http.StatusOK, gin.H{"items": views})
}

func (h *scheduleHandlers) get(c *gin.Context) {
	item, err := h.schedules.Get(c.Request.Context(), c.Param("schedule_id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusOK, scheduleViewOf(item))
}

func (h *scheduleHandlers) patch(c *gin.Context) {
	if _, err := h.schedules.Get(c.Request.Context(), c.Param("schedule_id")); err != nil {
		abortWithError(c, err) // an unknown id is 404 whatever the body
		return
	}
	req, ok := readSchedule(c)
	if !ok {
		return
	}
	p, err := req.patch()
	if err != nil {
		abortWithError(c, err)
		return
	}
	item, err := h.schedules.Patch(c.Request.Context(), c.Param("schedule_id"), p)
	if err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusOK, scheduleViewOf(item))
}

func (h *scheduleHandlers) delete(c *gin.Context) {
	if err := h.schedules.Delete(c.Request.Context(), c.Param("schedule_id")); err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"schedule_id": c.Param("schedule_id"), "deleted": true})
}

func (h *scheduleHandlers) trigger(c *gin.Context) {
	run, err := h.schedules.Trigger(c.Request.Context(), c.Param("schedule_id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusCreated, runViewOf(run))
}

func (h *scheduleHandlers) runs(c *gin.Context) {
	limit := 0
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 200 {
			abortWithError(c, validation("limit", "must be between 1 and 200"))
			return
		}
		limit = n
	}
	runs, err := h.schedules.Runs(c.Request.Context(), c.Param("schedule_id"), limit)
	if err != nil {
		abortWithError(c, err)
		return
	}
	views := make([]runView, len(runs))
	for i, r := range runs {
		views[i] = runViewOf(r)
	}
	c.JSON(http.StatusOK, gin.H{"items": views})
}

type topicView struct {
	Topic        string   `json:"topic"`
	Keywords     []string `json:"keywords"`
	Requirements string   `json:"requirements"`
	Tone         string   `json:"tone"`
	Category     string   `json:"category"`
}

type scheduleView struct {
	ScheduleID      string      `json:"schedule_id"`
	Name            string      `json:"name"`
	Cron            string      `json:"cron"`
	Timezone        string      `json:"timezone"`
	AccountIDs      []int64     `json:"account_ids"`
	CountPerAccount int         `json:"count_per_account"`
	Topics          []topicView `json:"topics"`
	Priority        int         `json:"priority"`
	AutoApprove     bool        `json:"auto_approve"`
	MaxRetries      int         `json:"max_retries"`
	Enabled         bool        `json:"enabled"`
	Misfire         string      `json:"misfire"`
	TopicCursor     int         `json:"topic_cursor"`
	NextRunAt       *string     `json:"next_run_at"`
	LastRun         *runView    `json:"last_run"`
	CreatedAt       *string     `json:"created_at"`
	UpdatedAt       *string     `json:"updated_at"`
	Version         int64       `json:"version"`
}

type accountStatView struct {
	Submitted int `json:"submitted"`
}

type runView struct {
	RunID          string                     `json:"run_id"`
	ScheduleID     string                     `json:"schedule_id"`
	FireTime       *string                    `json:"fire_time"`
	Trigger        string                     `json:"trigger"`
	Status         string                     `json:"status"`
	Error          *string                    `json:"error"`
	CreatedAt      *string                    `json:"created_at"`
	TaskIDs        []string                   `json:"task_ids"`
	AccountStats   map[string]accountStatView `json:"account_stats"`
	TotalSubmitted int                        `json:"total_submitted"`
}

func scheduleViewOf(item ports.ScheduleItem) scheduleView {
	s := item.Schedule.Snapshot()
	v := scheduleView{
		ScheduleID: s.ID, Name: s.Name, Cron: s.Cron, Timezone: s.Timezone, AccountIDs: s.AccountIDs,
		CountPerAccount: s.CountPerAccount, Topics: make([]topicView, len(s.Topics)), Priority: s.Priority,
		AutoApprove: s.AutoApprove, MaxRetries: s.MaxRetries, Enabled: s.Enabled, Misfire: string(s.Misfire),
		TopicCursor: s.TopicCursor, NextRunAt: timeOrNil(s.NextRunAt),
		CreatedAt: timeOrNil(s.CreatedAt), UpdatedAt: timeOrNil(s.UpdatedAt), Version: s.Version,
	}
	for i, t := range s.Topics {
		v.Topics[i] = topicView{Topic: t.Topic, Keywords: t.Keywords, Requirements: t.Requirements, Tone: t.Tone, Category: t.Category}
		if v.Topics[i].Keywords == nil {
			v.Topics[i].Keywords = []string{}
		}
	}
	if item.LastRun != nil {
		r := runViewOf(*item.LastRun)
		v.LastRun = &r
	}
	return v
}

func runViewOf(r domain.ScheduleRun) runView {
	v := runView{
		RunID: r.ID, ScheduleID: r.ScheduleID, FireTime: timeOrNil(r.FireTime), Trigger: string(r.Trigger),
		Status: string(r.Status), Error: stringOrNil(r.Error), CreatedAt: timeOrNil(r.CreatedAt),
		TaskIDs: r.TaskIDs, AccountStats: make(map[string]accountStatView, len(r.AccountStats)),
		TotalSubmitted: r.TotalSubmitted,
	}
	if v.TaskIDs == nil {
		v.TaskIDs = []string{}
	}
	for account, n := range r.AccountStats {
		v.AccountStats[strconv.FormatInt(account, 10)] = accountStatView{Submitted: n}
	}
	return v
}
