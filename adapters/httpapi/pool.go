package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"contenthub/application"
	"contenthub/domain"
	"contenthub/ports"
)

type poolHandlers struct {
	pool *application.Pool
}

func registerPoolRoutes(api gin.IRouter, pool *application.Pool) {
	h := &poolHandlers{pool: pool}
	api.GET("/publish-pool", h.list)
	api.POST("/publish-pool/claim", h.claim)
	api.GET("/publish-pool/:entry_id", h.get)
	api.POST("/publish-pool/:entry_id/published", h.published)
	api.POST("/publish-pool/:entry_id/failed", h.failed)
}

// abortPoolMove answers a refused publisher's move: the claim token and the
// lease say what went wrong, with 409 like a move from the wrong state.
func abortPoolMove(c *gin.Context, err error) {
	switch {
	case errors.Is(err, domain.ErrClaimToken):
		_ = c.Error(err)
		abort(c, http.StatusConflict, errorBody{Code: "claim_token_invalid", Field: "claim_token",
			Message: "the claim token does not hold this entry (wrong, or from an earlier or another claim)"})
	case errors.Is(err, domain.ErrLeaseExpired):
		_ = c.Error(err)
		abort(c, http.StatusConflict, errorBody{Code: "lease_expired", Field: "claim_token",
			Message: "the claim's lease has ended: the entry goes back to the pool; claim it again"})
	case errors.Is(err, domain.ErrConflict):
		_ = c.Error(err)
		abort(c, http.StatusConflict, errorBody{Code: "pool_conflict",
			Message: "not allowed in the entry's current status"})
	default:
		abortWithError(c, err)
	}
}

func (h *poolHandlers) list(c *gin.Context) {
	if !queryIsValid(c) {
		return
	}
	q := ports.PoolEntryQuery{Status: domain.PoolStatus(c.Query("status"))}
	if q.Status != "" && !q.Status.Valid() {
		abortWithError(c, validation("status", "must be pending, claimed, published or failed"))
		return
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
		if err != nil || n < 1 || n > 200 {
			abortWithError(c, validation("limit", "must be between 1 and 200"))
			return
		}
		q.Limit = n
	}
	entries, counts, err := h.pool.List(c.Request.Context(), q)
	if err != nil {
		abortWithError(c, err)
		return
	}
	items := make([]poolEntryView, 0, len(entries))
	for _, e := range entries {
		items = append(items, poolEntryViewOf(e))
	}
	view := make(map[string]int, len(counts))
	total := 0
	for st, n := range counts {
		view[string(st)] = n
		total += n
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "counts": view, "total": total})
}

func (h *poolHandlers) get(c *gin.Context) {
	item, err := h.pool.Get(c.Request.Context(), c.Param("entry_id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusOK, poolEntryViewOf(item))
}

type claimRequest struct {
	Limit     *int            `json:"limit"`
	Lease     json.RawMessage `json:"lease"`
	AccountID *int64          `json:"account_id"`
}

// defaultClaimLimit is how many entries a claim without a limit takes.
const defaultClaimLimit = 10

// leaseOf reads a lease: a Go duration ("5m", "90s") or a number of seconds.
func leaseOf(raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	bad := validation("lease", `must be a duration like "5m" or a number of seconds, between 10s and 1h`)
	var text string
	if json.Unmarshal(raw, &text) == nil {
		d, err := time.ParseDuration(text)
		if err != nil {
			if n, nerr := strconv.Atoi(text); nerr == nil {
				return time.Duration(n) * time.Second, nil
			}
			return 0, bad
		}
		if d == 0 {
			return 0, bad
		}
		return d, nil
	}
	var seconds float64
	if json.Unmarshal(raw, &seconds) != nil || seconds <= 0 || seconds > 1e6 {
		return 0, bad
	}
	return time.Duration(seconds * float64(time.Second)), nil
}

func (h *poolHandlers) claim(c *gin.Context) {
	var req claimRequest
	if !decodeMove(c, &req) {
		return
	}
	r := application.ClaimRequest{Limit: defaultClaimLimit}
	if req.Limit != nil {
		r.Limit = *req.Limit
	}
	if req.AccountID != nil {
		if *req.AccountID <= 0 {
			abortWithError(c, validation("account_id", "must be a positive integer"))
			return
		}
		r.AccountID = *req.AccountID
	}
	lease, err := leaseOf(req.Lease)
	if err != nil {
		abortWithError(c, err)
		return
	}
	r.Lease = lease
	claimed, err := h.pool.Claim(c.Request.Context(), r)
	if err != nil {
		abortWithError(c, err)
		return
	}
	items := make([]claimedEntryView, 0, len(claimed))
	for _, e := range claimed {
		items = append(items, claimedEntryView{poolEntryView: poolEntryViewOf(ports.PoolItem{Entry: e.Entry}), ClaimToken: e.Token})
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

type publishedRequest struct {
	ClaimToken string `json:"claim_token"`
	URL        string `json:"url"`
	PlatformID string `json:"platform_id"`
}

func (h *poolHandlers) published(c *gin.Context) {
	var req publishedRequest
	if !decodeMove(c, &req) {
		return
	}
	e, err := h.pool.Published(c.Request.Context(), c.Param("entry_id"), domain.Publication{
		ClaimToken: req.ClaimToken, URL: req.URL, PlatformID: req.PlatformID,
	})
	if err != nil {
		abortPoolMove(c, err)
		return
	}
	c.JSON(http.StatusOK, poolEntryViewOf(ports.PoolItem{Entry: e}))
}

type failedRequest struct {
	ClaimToken string `json:"claim_token"`
	Error      string `json:"error"`
}

func (h *poolHandlers) failed(c *gin.Context) {
	var req failedRequest
	if !decodeMove(c, &req) {
		return
	}
	e, err := h.pool.Failed(c.Request.Context(), c.Param("entry_id"), domain.PublishFailure{
		ClaimToken: req.ClaimToken, Error: req.Error,
	})
	if err != nil {
		abortPoolMove(c, err)
		return
	}
	c.JSON(http.StatusOK, poolEntryViewOf(ports.PoolItem{Entry: e}))
}
