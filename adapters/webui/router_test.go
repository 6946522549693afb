package webui_test

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"contenthub/adapters/clock"
	"contenthub/adapters/httpapi"
	"contenthub/adapters/ids"
	"contenthub/adapters/metrics"
	"contenthub/adapters/sqlstore"
	"contenthub/adapters/webui"
	"contenthub/application"
	"contenthub/domain"
	"contenthub/ports"
)

type nopPublisher struct{}

func (nopPublisher) Publish(context.Context, ports.TaskEvent) error { return nil }

// TestRegisteredOnTheServiceRouter mounts the dashboard on the real router
// over the real use cases and a SQLite store: the UI is open, the preview
// sits behind the bearer token next to GET /api/v1/contents/{id}, and the
// content is read from storage.
func TestRegisteredOnTheServiceRouter(t *testing.T) {
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "hub.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	require.NoError(t, store.MigrateUp(ctx))

	deps := application.Deps{
		Store: store, Claimer: store, Stale: store, Deliveries: store, Reader: store,
		Clock: clock.System{}, IDs: ids.Random{}, Publisher: nopPublisher{}, Metrics: metrics.Discard{},
		Log: zap.NewNop(), Rules: application.Rules{TaskTimeout: time.Minute, Backoff: domain.Backoff{Base: time.Second, Max: time.Minute}},
	}
	tasks := application.NewTasks(deps, nil, application.NewWakeup())
	router := httpapi.NewRouter(httpapi.Config{APITokens: []string{"s3cret"}}, httpapi.Deps{
		Tasks: tasks, Health: store, Clock: clock.System{}, Log: zap.NewNop(),
		Extra: []func(r gin.IRouter, api gin.IRouter){
			func(r gin.IRouter, api gin.IRouter) { webui.Register(r, api, tasks) },
		},
	})

	task, _, err := tasks.Create(ctx, application.CreateTaskInput{NewTaskParams: domain.NewTaskParams{AccountID: 7, Topic: "Edge computing"}})
	require.NoError(t, err)
	require.NoError(t, store.UpdateTask(ctx, task.ID(), func(*domain.Task) (ports.TaskChanges, error) {
		return ports.TaskChanges{Content: &domain.Content{
			ID: "content-e2e", TaskID: task.ID(), AccountID: 7, Attempt: 1, Title: "Edge computing",
			Body: "# Edge computing\n\n<script>alert(1)</script>\n\n*fast*", ReviewStatus: domain.ReviewApproved,
			CreatedAt: time.Now(),
		}}, nil
	}))

	page := get(t, router, "/ui/")
	require.Equal(t, http.StatusOK, page.Code, "the page itself needs no token; it asks for one")
	requireSecurityHeaders(t, page)

	denied := get(t, router, "/api/v1/contents/content-e2e/preview")
	require.Equal(t, http.StatusUnauthorized, denied.Code)

	bearer := []string{"Authorization", "Bearer s3cret"}
	rec := get(t, router, "/api/v1/contents/content-e2e/preview", bearer...)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.JSONEq(t, `{"html":"<h1>Edge computing</h1>\n\n<p><em>fast</em></p>\n"}`, rec.Body.String())

	content := get(t, router, "/api/v1/contents/content-e2e", bearer...)
	require.Equal(t, http.StatusOK, content.Code, "the content route still answers beside the preview")
	require.Contains(t, content.Body.String(), `"content_id":"content-e2e"`)

	missing := get(t, router, "/api/v1/contents/content-nope/preview", bearer...)
	require.Equal(t, http.StatusNotFound, missing.Code)
	requireEnvelope(t, missing, "not_found")
}
