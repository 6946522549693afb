package httpapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"contenthub/application"
	"contenthub/domain"
	"contenthub/ports"
)

// retryAfterSeconds is what a 503 asks senders to wait.
const retryAfterSeconds = 5

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// Items names every refused item of a batch (§11).
	Items []batchItemErrorView `json:"items,omitempty"`
}

type batchItemErrorView struct {
	Index   int    `json:"index"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

type errorEnvelope struct {
	Success   bool      `json:"success"`
	Error     errorBody `json:"error"`
	RequestID string    `json:"request_id"`
}

// abort answers with the §3.7 error envelope.
func abort(c *gin.Context, status int, body errorBody) {
	if status == http.StatusServiceUnavailable {
		c.Header("Retry-After", strconv.Itoa(retryAfterSeconds))
	}
	c.AbortWithStatusJSON(status, errorEnvelope{Error: body, RequestID: requestID(c)})
}

// abortWithError maps an application error to its answer. Internal error
// text never reaches the client; it is logged by the request logger.
func abortWithError(c *gin.Context, err error) {
	_ = c.Error(err)
	var (
		ve *domain.ValidationError
		pe *application.PayloadError
		be *application.BatchError
	)
	switch {
	case errors.As(err, &be):
		items := make([]batchItemErrorView, len(be.Items))
		for i, it := range be.Items {
			items[i] = batchItemErrorView{Index: it.Index, Field: it.Field, Message: it.Message}
		}
		abort(c, http.StatusUnprocessableEntity, errorBody{Code: "validation_error", Message: be.Error(), Items: items})
	case errors.As(err, &ve):
		abort(c, http.StatusUnprocessableEntity, errorBody{Code: "validation_error", Message: ve.Error(), Field: ve.Field})
	case errors.As(err, &pe):
		abort(c, http.StatusBadRequest, errorBody{Code: pe.Code, Message: pe.Message})
	case errors.Is(err, domain.ErrNotFound):
		abort(c, http.StatusNotFound, errorBody{Code: "not_found", Message: "not found"})
	case errors.Is(err, domain.ErrIdempotencyConflict):
		abort(c, http.StatusConflict, errorBody{Code: "idempotency_conflict", Message: "Idempotency-Key was used with a different request"})
	case errors.Is(err, domain.ErrConflict):
		abort(c, http.StatusConflict, errorBody{Code: "conflict", Message: "not allowed in the task's current status"})
	case errors.Is(err, ports.ErrNoSecretConfigured):
		abort(c, http.StatusForbidden, errorBody{Code: "credential_missing", Message: "a signature was sent, but this " +
			"service has no WEBHOOK_SECRET_KEY to verify it with: start it with WEBHOOK_SECRET_KEY set to the signing " +
			"secret, or call back with the ?token= of the task's callback URL"})
	case errors.Is(err, ports.ErrCredentialMissing):
		abort(c, http.StatusForbidden, errorBody{Code: "credential_missing", Message: "callback token or signature required"})
	case errors.Is(err, ports.ErrCredentialInvalid):
		abort(c, http.StatusUnauthorized, errorBody{Code: "credential_invalid", Message: "callback token or signature invalid"})
	case errors.Is(err, application.ErrUnavailable):
		abort(c, http.StatusServiceUnavailable, errorBody{Code: "unavailable", Message: "temporarily unavailable, retry later"})
	default:
		abort(c, http.StatusInternalServerError, errorBody{Code: "internal_error", Message: "internal error"})
	}
}
