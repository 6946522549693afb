package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"contenthub/application"
	"contenthub/domain"
	"contenthub/ports"
)

// maxEndpointBody bounds an endpoint request.
const maxEndpointBody = 64 << 10

// RegisterWebhookRoutes adds the outbound-notification routes (§13) to the
// API group (behind its bearer tokens).
func RegisterWebhookRoutes(api gin.IRouter, w *application.Webhooks) {
	h := &webhookHandlers{webhooks: w}
	api.POST("/webhook-endpoints", h.create)
	api.GET("/webhook-endpoints", h.list)
	api.GET("/webhook-endpoints/:endpoint_id", h.get)
	api.PATCH("/webhook-endpoints/:endpoint_id", h.update)
	api.DELETE("/webhook-endpoints/:endpoint_id", h.remove)
	api.POST("/webhook-endpoints/:endpoint_id/rotate-secret", h.rotate)
	api.GET("/webhook-endpoints/:endpoint_id/messages", h.messages)
	api.POST("/webhook-endpoints/:endpoint_id/messages/:message_id/replay", h.replay)
}

type webhookHandlers struct {
	webhooks *application.Webhooks
}

// EndpointView is an endpoint as the API shows it; Secret only in the
// answers that create one (creation, rotation).
type EndpointView struct {
	ID             string   `json:"id"`
	URL            string   `json:"url"`
	Events         []string `json:"events"`
	AccountID      *int64   `json:"account_id"`
	Description    string   `json:"description"`
	Enabled        bool     `json:"enabled"`
	DisabledReason string   `json:"disabled_reason,omitempty"`
	FailingSince   *string  `json:"failing_since"`
	// PreviousSecretExpiresAt is when the rotated-out secret stops signing
	// (null when none is in its overlap).
	PreviousSecretExpiresAt *string `json:"previous_secret_expires_at"`
	CreatedAt               string  `json:"created_at"`
	UpdatedAt               string  `json:"updated_at"`
	Secret                  string  `json:"secret,omitempty"`
}

// EndpointViewOf renders an endpoint.
func EndpointViewOf(e *domain.WebhookEndpoint) EndpointView {
	v := EndpointView{ID: e.ID(), URL: e.URL(), Description: e.Description(), Enabled: e.Enabled(),
		DisabledReason: e.DisabledReason(), FailingSince: timeOrNil(e.FailingSince()),
		CreatedAt: *timeOrNil(e.CreatedAt()), UpdatedAt: *timeOrNil(e.UpdatedAt())}
	for _, ev := range e.Events() {
		v.Events = append(v.Events, string(ev))
	}
	if a := e.AccountID(); a != 0 {
		v.AccountID = &a
	}
	for _, s := range e.Secrets() {
		if !s.ExpiresAt.IsZero() && (v.PreviousSecretExpiresAt == nil || *timeOrNil(s.ExpiresAt) > *v.PreviousSecretExpiresAt) {
			v.PreviousSecretExpiresAt = timeOrNil(s.ExpiresAt)
		}
	}
	return v
}

// MessageView is a message with its attempts.
type MessageView struct {
	ID            string          `json:"id"`
	EndpointID    string          `json:"endpoint_id"`
	Event         string          `json:"event"`
	Subject       string          `json:"subject"`
	AccountID     int64           `json:"account_id"`
	Status        string          `json:"status"`
	AttemptCount  int             `json:"attempt_count"`
	NextAttemptAt *string         `json:"next_attempt_at"`
	CreatedAt     string          `json:"created_at"`
	DeliveredAt   *string         `json:"delivered_at"`
	LastError     string          `json:"last_error,omitempty"`
	Payload       json.RawMessage `json:"payload"`
	Attempts      []AttemptView   `json:"attempts"`
}

// AttemptView is one attempt of a message.
type AttemptView struct {
	Number     int     `json:"number"`
	At         string  `json:"at"`
	StatusCode int     `json:"status_code"`
	Error      string  `json:"error,omitempty"`
	LatencyMS  float64 `json:"latency_ms"`
}

// MessageViewOf renders a message log entry.
func MessageViewOf(l ports.MessageLog) MessageView {
	m := l.Message
	v := MessageView{ID: m.ID, EndpointID: m.EndpointID, Event: string(m.Event), Subject: m.Subject,
		AccountID: m.AccountID, Status: string(m.Status), AttemptCount: m.Attempts,
		CreatedAt: *timeOrNil(m.CreatedAt), DeliveredAt: timeOrNil(m.DeliveredAt), LastError: m.LastError,
		Payload: json.RawMessage(m.Payload), Attempts: []AttemptView{}}
	if m.Status == domain.MessagePending {
		v.NextAttemptAt = timeOrNil(m.NextAttemptAt)
	}
	if !json.Valid(m.Payload) {
		v.Payload, _ = json.Marshal(string(m.Payload))
	}
	for _, a := range l.Attempts {
		v.Attempts = append(v.Attempts, AttemptView{Number: a.Number, At: *timeOrNil(a.At), StatusCode: a.StatusCode,
			Error: a.Error, LatencyMS: float64(a.Latency.Microseconds()) / 1000})
	}
	return v
}

type createEndpointRequest struct {
	URL         *string  `json:"url"`
	Events      []string `json:"events"`
	AccountID   *int64   `json:"account_id"`
	Description string   `json:"description"`
}

func (h *webhookHandlers) create(c *gin.Context) {
	var req createEndpointRequest
	if !readObject(c, maxEndpointBody, &req) {
		return
	}
	if req.URL == nil {
		abortWithError(c, validation("url", "is required"))
		return
	}
	in := application.EndpointRequest{URL: *req.URL, Events: req.Events, Description: req.Description}
	if req.AccountID != nil {
		if *req.AccountID <= 0 {
			abortWithError(c, validation("account_id", "must be a positive integer"))
			return
		}
		in.AccountID = *req.AccountID
	}
	e, secret, err := h.webhooks.CreateEndpoint(c.Request.Context(), in)
	if err != nil {
		abortWithError(c, err)
		return
	}
	v := EndpointViewOf(e)
	v.Secret = secret
	c.Header("Location", "/api/v1/webhook-endpoints/"+e.ID())
	c.JSON(http.StatusCreated, v)
}

func (h *webhookHandlers) list(c *gin.Context) {
	eps, err := h.webhooks.Endpoints(c.Request.Context())
	if err != nil {
		abortWithError(c, err)
		return
	}
	items := make([]EndpointView, 0, len(eps))
	for _, e := range eps {
		items = append(items, EndpointViewOf(e))
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

func (h *webhookHandlers) get(c *gin.Context) {
	e, err := h.webhooks.Endpoint(c.Request.Context(), c.Param("endpoint_id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusOK, EndpointViewOf(e))
}

type patchEndpointRequest struct {
	URL         *string  `json:"url"`
	Events      []string `json:"events"`
	Description *string  `json:"description"`
	Enabled     *bool    `json:"enabled"`
}

func (h *webhookHandlers) update(c *gin.Context) {
	var req patchEndpointRequest
	if !readObject(c, maxEndpointBody, &req) {
		return
	}
	p := application.EndpointPatch{URL: req.URL, Description: req.Description, Enabled: req.Enabled}
	if req.Events != nil {
		p.Events = req.Events
	}
	e, err := h.webhooks.UpdateEndpoint(c.Request.Context(), c.Param("endpoint_id"), p)
	if err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusOK, EndpointViewOf(e))
}

// remove answers with the endpoint as it was.
func (h *webhookHandlers) remove(c *gin.Context) {
	e, err := h.webhooks.DeleteEndpoint(c.Request.Context(), c.Param("endpoint_id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusOK, EndpointViewOf(e))
}

func (h *webhookHandlers) rotate(c *gin.Context) {
	e, secret, err := h.webhooks.RotateSecret(c.Request.Context(), c.Param("endpoint_id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	v := EndpointViewOf(e)
	v.Secret = secret
	c.JSON(http.StatusOK, v)
}

func (h *webhookHandlers) messages(c *gin.Context) {
	if !queryIsValid(c) {
		return
	}
	q := ports.MessageQuery{EndpointID: c.Param("endpoint_id"), Status: domain.MessageStatus(c.Query("status"))}
	if q.Status != "" && !q.Status.Valid() {
		abortWithError(c, validation("status", "must be pending, delivered or failed"))
		return
	}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 200 {
			abortWithError(c, validation("limit", "must be between 1 and 200"))
			return
		}
		q.Limit = n
	}
	logs, err := h.webhooks.Messages(c.Request.Context(), q)
	if err != nil {
		abortWithError(c, err)
		return
	}
	items := make([]MessageView, 0, len(logs))
	for _, l := range logs {
		items = append(items, MessageViewOf(l))
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

func (h *webhookHandlers) replay(c *gin.Context) {
	l, err := h.webhooks.Replay(c.Request.Context(), c.Param("endpoint_id"), c.Param("message_id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusAccepted, MessageViewOf(l))
}
