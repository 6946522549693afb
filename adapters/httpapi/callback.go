package httpapi

import (
	"context"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"contenthub/application"
	"contenthub/ports"
)

type callbackHandler struct {
	callbacks *application.Callbacks
	clock     ports.Clock
	maxBody   int64
	timeout   ctxTimeout
}

type ctxTimeout = func(context.Context) (context.Context, context.CancelFunc)

// handle translates POST /api/v1/content/callback/{task_id}. Success is
// always 200: content-creator re-sends on any other 2xx.
func (h *callbackHandler) handle(c *gin.Context) {
	taskID := c.Param("task_id")
	addLogFields(c, zap.String("task_id", taskID))
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, h.maxBody))
	if err != nil {
		abortUnreadableBody(c, err)
		return
	}
	ctx, cancel := h.timeout(c.Request.Context())
	defer cancel()
	res, err := h.callbacks.Handle(ctx, application.CallbackInput{
		TaskID: taskID, Token: c.Query("token"), Header: c.Request.Header, Body: body,
		ReceivedAt: h.clock.Now().UTC(), RequestID: requestID(c),
	})
	addLogFields(c, zap.Int("attempt", res.Attempt), zap.String("event", res.Event), zap.String("scheme", res.Scheme))
	if err == nil && ctx.Err() != nil {
		// The deadline passed while we worked; whatever was committed is
		// safe, and a retry is answered as a duplicate.
		err = application.ErrUnavailable
	}
	if err != nil {
		addLogFields(c, zap.String("outcome", "error"))
		abortWithError(c, err)
		return
	}
	addLogFields(c, zap.String("outcome", string(res.Disposition)))
	answer := gin.H{
		"success": true, "message": "Callback processed", "task_id": res.TaskID, "status": res.Status,
		"request_id": requestID(c),
	}
	switch res.Disposition {
	case application.CallbackDuplicate:
		answer["duplicate"] = true
		answer["message"] = "Duplicate delivery ignored"
	case application.CallbackIgnored:
		answer["ignored"] = true
		answer["reason"] = res.Reason
	case application.CallbackInvalidResult:
		abort(c, http.StatusUnprocessableEntity, errorBody{
			Code: "invalid_result", Message: "completed callback without result.content; the attempt was failed",
		})
		return
	}
	c.JSON(http.StatusOK, answer)
}
