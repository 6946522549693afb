package httpapi

import (
	"bytes"
	"context"
	"net/http"
	"sync"

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
	buf, err := readBody(c, h.maxBody)
	defer releaseBody(buf)
	body := buf.Bytes()
	if err != nil {
		abortUnreadableBody(c, err)
		return
	}
	ctx, cancel := h.timeout(c.Request.Context())
	defer cancel()
	res, err := h.callbacks.Handle(ctx, application.CallbackInput{
		TaskID: taskID, Token: c.Query("token"), Header: c.Request.Header, Body: body,
		ReceivedAt: h.clock.Now().UTC(), RequestID: requestID(c), Wire: CallbackWire{},
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

// bodyBuffers recycles callback bodies. A body is read only while its
// callback is handled (application.CallbackInput.Body), and its buffer is
// most of what a duplicate delivery would leave to the garbage collector.
var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// pooledBodyMax: buffers grown larger than this (for a rare large body) are
// not kept.
const pooledBodyMax = 1 << 20

// readBody reads the request body, at most max bytes (else an
// *http.MaxBytesError), into a pooled buffer grown once to the size
// announced. Give the buffer back with releaseBody.
func readBody(c *gin.Context, max int64) (*bytes.Buffer, error) {
	b := bodyBuffers.Get().(*bytes.Buffer)
	b.Reset()
	if n := c.Request.ContentLength; n > 0 && n <= max {
		b.Grow(int(n) + bytes.MinRead) // ReadFrom wants MinRead spare to read on
	}
	_, err := b.ReadFrom(http.MaxBytesReader(c.Writer, c.Request.Body, max))
	return b, err
}

func releaseBody(b *bytes.Buffer) {
	if b.Cap() <= pooledBodyMax {
		bodyBuffers.Put(b)
	}
}
