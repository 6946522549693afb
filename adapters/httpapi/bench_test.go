package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/sqlstore"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/application"
	"contenthub/domain"
)

// BenchmarkCallback measures the callback path through the router on each
// store: a first delivery (a completion: task, content, pool entry and
// delivery record in one transaction) and a duplicate delivery.
// Results are reported in docs/benchmarks.md.
func BenchmarkCallback(b *testing.B) {
	stores := map[string]func(testing.TB) *sqlstore.Store{"sqlite": sqlstoretest.NewSQLite, "postgres": sqlstoretest.NewPostgres}
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name+"/first", func(b *testing.B) {
			h := newHarness(b, stores[name](b))
			subs := submitMany(b, h, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				s := subs[i]
				rec := h.do(http.MethodPost, s.callback, completedBody(s.ref, "# 标题\n\n正文"), nil)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
		b.Run(name+"/duplicate", func(b *testing.B) {
			h := newHarness(b, stores[name](b))
			s := submitMany(b, h, 1)[0]
			body := completedBody(s.ref, "# 标题\n\n正文")
			require.Equal(b, http.StatusOK, h.do(http.MethodPost, s.callback, body, nil).Code)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				rec := h.do(http.MethodPost, s.callback, body, nil)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// submitMany creates n tasks and dispatches them all, returning each one's
// callback path and external ref.
func submitMany(b *testing.B, h *harness, n int) []submitted {
	b.Helper()
	ctx := context.Background()
	for range n {
		_, _, err := h.tasks.Create(ctx, application.CreateTaskInput{NewTaskParams: domain.NewTaskParams{AccountID: 1, Topic: "bench"}})
		require.NoError(b, err)
	}
	for {
		claimed, err := h.dispatcher.DispatchDue(ctx)
		require.NoError(b, err)
		h.dispatcher.Wait()
		if claimed == 0 {
			break
		}
	}
	h.creator.mu.Lock()
	defer h.creator.mu.Unlock()
	out := make([]submitted, 0, len(h.creator.submits))
	for _, req := range h.creator.submits {
		u, err := url.Parse(req.CallbackURL)
		require.NoError(b, err)
		out = append(out, submitted{callback: u.RequestURI(), ref: req.ExternalRef})
	}
	require.Len(b, out, n)
	return out
}
