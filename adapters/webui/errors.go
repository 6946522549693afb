package webui

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"contenthub/application"
	"contenthub/domain"
)

// retryAfterSeconds matches what the rest of the API asks callers to wait on 503.
const retryAfterSeconds = 5

// errorEnvelope is the service's error shape (§3.7).
type errorEnvelope struct {
	Success   bool      `json:"success"`
	Error     errorBody `json:"error"`
	RequestID string    `json:"request_id"`
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func abortWithError(c *gin.Context, err error) {
	_ = c.Error(err) // for the access log; the client gets no internal text
	switch {
	case errors.Is(err, domain.ErrNotFound):
		abort(c, http.StatusNotFound, "not_found", "not found")
	case errors.Is(err, application.ErrUnavailable):
		c.Header("Retry-After", strconv.Itoa(retryAfterSeconds))
		abort(c, http.StatusServiceUnavailable, "unavailable", "temporarily unavailable, retry later")
	default:
		abort(c, http.StatusInternalServerError, "internal_error", "internal error")
	}
}

func abort(c *gin.Context, status int, code, message string) {
	c.AbortWithStatusJSON(status, errorEnvelope{
		Error:     errorBody{Code: code, Message: message},
		RequestID: c.Writer.Header().Get("X-Request-ID"),
	})
}
