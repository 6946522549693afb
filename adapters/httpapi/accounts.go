package httpapi

import (
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"contenthub/application"
	"contenthub/domain"
)

type accountHandlers struct {
	accounts *application.Accounts
}

type limitsView struct {
	MaxConcurrency  int `json:"max_concurrency"`
	MaxTasksPerHour int `json:"max_tasks_per_hour"`
	Weight          int `json:"weight"`
}

type accountCountsView struct {
	Pending      int `json:"pending"`
	Running      int `json:"running"`
	Completed24h int `json:"completed_24h"`
	Failed24h    int `json:"failed_24h"`
}

// accountView is an account as §11 shows it.
type accountView struct {
	AccountID int64             `json:"account_id"`
	Limits    limitsView        `json:"limits"` // in force
	Source    string            `json:"limits_source"`
	Counts    accountCountsView `json:"counts"`
	// Attempts opened in the sliding hour (what max_tasks_per_hour counts).
	OpenedLastHour int     `json:"opened_last_hour"`
	WaitingReason  *string `json:"waiting_reason"`
	NotBefore      *string `json:"not_before"`
}

func accountViewOf(a application.Account) accountView {
	v := accountView{
		AccountID: a.AccountID,
		Limits: limitsView{MaxConcurrency: a.Limits.MaxConcurrency(), MaxTasksPerHour: a.Limits.MaxTasksPerHour(),
			Weight: a.Limits.Weight()},
		Source: "defaults",
		Counts: accountCountsView{Pending: a.Counts.Pending, Running: a.Counts.Running,
			Completed24h: a.Counts.Completed24h, Failed24h: a.Counts.Failed24h},
		OpenedLastHour: a.Load.OpenedInWindow,
	}
	if a.Own {
		v.Source = "account"
	}
	v.WaitingReason, v.NotBefore = waitingFields(a.Waiting)
	return v
}

func (h *accountHandlers) list(c *gin.Context) {
	if !queryIsValid(c) {
		return
	}
	accounts, err := h.accounts.List(c.Request.Context())
	if err != nil {
		abortWithError(c, err)
		return
	}
	items := make([]accountView, len(accounts))
	for i, a := range accounts {
		items[i] = accountViewOf(a)
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

func (h *accountHandlers) get(c *gin.Context) {
	id, err := domain.ParseAccountID(c.Param("account_id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	a, err := h.accounts.Get(c.Request.Context(), id)
	if err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusOK, accountViewOf(a))
}

// putLimits is PUT /api/v1/accounts/{id}/limits. A field left out takes
// its neutral value: no own concurrency or rate limit, weight 1.
func (h *accountHandlers) putLimits(c *gin.Context) {
	id, err := domain.ParseAccountID(c.Param("account_id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, 64<<10))
	if err != nil {
		abortUnreadableBody(c, err)
		return
	}
	var req struct {
		MaxConcurrency  *int `json:"max_concurrency"`
		MaxTasksPerHour *int `json:"max_tasks_per_hour"`
		Weight          *int `json:"weight"`
	}
	if !decodeObject(c, body, &req, "must be an integer") {
		return
	}
	value := func(p *int, def int) int {
		if p == nil {
			return def
		}
		return *p
	}
	a, err := h.accounts.PutLimits(c.Request.Context(), id, value(req.MaxConcurrency, 0), value(req.MaxTasksPerHour, 0),
		value(req.Weight, domain.DefaultAccountWeight))
	if err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusOK, accountViewOf(a))
}
