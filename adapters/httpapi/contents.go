package httpapi

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"contenthub/application"
	"contenthub/domain"
	"contenthub/ports"
)

// maxMoveBody bounds the body of a review or publisher move: a reason of
// 1,000 characters and a few fields.
const maxMoveBody = 64 << 10

type contentHandlers struct {
	reviews *application.Reviews
}

func registerContentRoutes(api gin.IRouter, reviews *application.Reviews) {
	h := &contentHandlers{reviews: reviews}
	api.GET("/contents", h.list)
	api.POST("/contents/:content_id/approve", h.approve)
	api.POST("/contents/:content_id/reject", h.reject)
}

// decodeMove reads a move's JSON object into req: an empty body is {}.
// A field of the wrong type is a 422 naming it. It reports whether to go on.
func decodeMove(c *gin.Context, req any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxMoveBody))
	if err != nil {
		abortUnreadableBody(c, err)
		return false
	}
	if len(body) == 0 {
		return true
	}
	return decodeObject(c, body, req, "has the wrong type")
}

// abortReview answers a refused review: a move from the wrong state is a
// 409 that says so.
func abortReview(c *gin.Context, err error) {
	if errors.Is(err, domain.ErrConflict) {
		_ = c.Error(err)
		abort(c, http.StatusConflict, errorBody{Code: "review_conflict",
			Message: "only content pending review can be approved or rejected; it was already reviewed the other way"})
		return
	}
	abortWithError(c, err)
}

func (h *contentHandlers) list(c *gin.Context) {
	if !queryIsValid(c) {
		return
	}
	q := ports.ContentQuery{
		ReviewStatus: domain.ReviewStatus(c.Query("review_status")), TaskID: c.Query("task_id"), Cursor: c.Query("cursor"),
	}
	if s := c.Query("account_id"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			abortWithError(c, validation("account_id", "must be a positive integer"))
			return
		}
		q.AccountID = n
	}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			abortWithError(c, validation("limit", "must be between 1 and 200"))
			return
		}
		q.Limit = n
	}
	page, err := h.reviews.List(c.Request.Context(), q)
	if err != nil {
		abortWithError(c, err)
		return
	}
	items := make([]contentView, 0, len(page.Items))
	for _, content := range page.Items {
		items = append(items, contentViewOf(content))
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "next_cursor": stringOrNil(page.NextCursor)})
}

type approveRequest struct {
	Note        string  `json:"note"`
	Reviewer    string  `json:"reviewer"`
	ScheduledAt *string `json:"scheduled_at"`
	Priority    *int    `json:"priority"`
}

func (h *contentHandlers) approve(c *gin.Context) {
	var req approveRequest
	if !decodeMove(c, &req) {
		return
	}
	a := domain.Approval{Note: req.Note, Reviewer: req.Reviewer}
	if req.ScheduledAt != nil {
		at, err := time.Parse(time.RFC3339Nano, *req.ScheduledAt)
		if err != nil {
			abortWithError(c, validation("scheduled_at", "must be an RFC 3339 time, e.g. 2026-05-06T08:00:00Z"))
			return
		}
		a.ScheduledAt = at
	}
	if req.Priority != nil {
		if *req.Priority == 0 {
			abortWithError(c, validation("priority", "must be between 1 and 10"))
			return
		}
		a.Priority = *req.Priority
	}
	content, err := h.reviews.Approve(c.Request.Context(), c.Param("content_id"), a)
	if err != nil {
		abortReview(c, err)
		return
	}
	c.JSON(http.StatusOK, contentViewOf(content))
}

type rejectRequest struct {
	Reason   *string `json:"reason"`
	Reviewer string  `json:"reviewer"`
}

func (h *contentHandlers) reject(c *gin.Context) {
	var req rejectRequest
	if !decodeMove(c, &req) {
		return
	}
	r := domain.Rejection{Reviewer: req.Reviewer}
	if req.Reason != nil {
		r.Reason = *req.Reason
	}
	content, err := h.reviews.Reject(c.Request.Context(), c.Param("content_id"), r)
	if err != nil {
		abortReview(c, err)
		return
	}
	c.JSON(http.StatusOK, contentViewOf(content))
}
