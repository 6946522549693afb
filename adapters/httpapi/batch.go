package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"contenthub/application"
	"contenthub/domain"
)

// maxBatchBody bounds a batch: 500 create bodies of generous size.
const maxBatchBody = 16 << 20

type batchHandlers struct {
	batches  *application.Batches
	accounts *application.Accounts
}

type batchItemView struct {
	Index  int    `json:"index"`
	TaskID string `json:"task_id"`
	Status string `json:"status"`
}

// create is POST /api/v1/content/tasks/batch (§11): every item valid → 202
// with the created tasks; any invalid → 422 naming each (index, field), and
// nothing created.
func (h *batchHandlers) create(c *gin.Context) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBatchBody))
	if err != nil {
		abortUnreadableBody(c, err)
		return
	}
	if err := checkJSONObject(body); err != nil {
		abortWithError(c, err)
		return
	}
	var req struct {
		Tasks json.RawMessage `json:"tasks"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		abort(c, http.StatusBadRequest, errorBody{Code: "invalid_json", Message: "body must be a JSON object"})
		return
	}
	var items []json.RawMessage
	if len(req.Tasks) == 0 || string(req.Tasks) == "null" || json.Unmarshal(req.Tasks, &items) != nil {
		abortWithError(c, validation("tasks", "must be a list of task requests"))
		return
	}
	if len(items) > application.MaxBatchTasks {
		// Refused before any item is decoded.
		abortWithError(c, validation("tasks", "must hold at most 500 tasks"))
		return
	}
	key := strings.TrimSpace(c.GetHeader("Idempotency-Key"))
	if len(key) > 255 {
		abortWithError(c, validation("Idempotency-Key", "must be at most 255 characters"))
		return
	}
	params := make([]domain.NewTaskParams, len(items))
	var refused []application.BatchItemError
	for i, raw := range items {
		p, err := decodeBatchItem(raw)
		var ve *domain.ValidationError
		if errors.As(err, &ve) {
			refused = append(refused, application.BatchItemError{Index: i, Field: ve.Field, Message: ve.Message})
			continue
		}
		params[i] = p
	}
	tasks, replayed, err := h.batches.Create(c.Request.Context(), params, refused, key)
	if err != nil {
		abortWithError(c, err)
		return
	}
	out := make([]batchItemView, len(tasks))
	for i, t := range tasks {
		out[i] = batchItemView{Index: i, TaskID: t.ID(), Status: string(t.Status())}
	}
	status := http.StatusAccepted
	if replayed {
		status = http.StatusOK
		c.Header("Idempotent-Replayed", "true")
	}
	c.JSON(status, gin.H{"items": out})
}

// decodeBatchItem reads one create body of §5; what is wrong with it is a
// *domain.ValidationError naming the field.
func decodeBatchItem(raw json.RawMessage) (domain.NewTaskParams, error) {
	if t := bytes.TrimLeft(raw, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return domain.NewTaskParams{}, validation("task", "must be a JSON object")
	}
	var r createTaskRequest
	if err := json.Unmarshal(raw, &r); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return domain.NewTaskParams{}, validation(typeErr.Field, "has the wrong type")
		}
		return domain.NewTaskParams{}, validation("task", "is not a valid task request")
	}
	in, err := r.input("")
	return in.NewTaskParams, err
}
