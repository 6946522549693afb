package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/httpapi"
	"contenthub/adapters/sqlstore"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/domain"
)

// TestRefusedCallbackFloodIsBounded: 1,000 refused callbacks to one known
// task — wrong token, no credential, and two kinds of invalid body behind a
// valid token — are all answered and counted in the metrics, but add at most
// one audit row per refusal reason (sqlstore.RefusedAuditWindow): 4 rows.
func TestRefusedCallbackFloodIsBounded(t *testing.T) {
	sqlstoretest.Each(t, func(t *testing.T, store *sqlstore.Store) {
		srv := newTimedServer(t, store, httpapi.Config{})
		s := srv.submit(defaultTask)
		wrongToken := strings.Replace(s.callback, s.token, "not-"+s.token[4:], 1)
		noToken := s.callback[:strings.Index(s.callback, "?")]
		kinds := []struct {
			path, body string
			status     int
			outcome    string
		}{
			{wrongToken, string(progressBody(s.ref, 10)), http.StatusUnauthorized, "unauthorized"},
			{noToken, string(progressBody(s.ref, 10)), http.StatusForbidden, "forbidden"},
			{s.callback, string(progressBody("task-someone-else-1", 10)), http.StatusBadRequest, "bad_request"},
			{s.callback, `{"taskId":"` + s.ref + `"}`, http.StatusBadRequest, "bad_request"},
		}
		const n = 1000
		client := &http.Client{}
		for i := range n {
			k := kinds[i%len(kinds)]
			resp, err := client.Post(srv.url+k.path, "application/json", strings.NewReader(k.body))
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			require.Equal(t, k.status, resp.StatusCode, "request %d", i)
		}

		refused := 0
		for _, d := range srv.deliveries(s.id) {
			require.Equal(t, domain.DeliveryRejected, d.Outcome)
			refused++
		}
		t.Logf("%d refused callbacks stored %d audit rows", n, refused)
		require.Equal(t, len(kinds), refused, "one row per refusal reason in the window")
		counted := callbackCount(t, srv.registry, "unauthorized") + callbackCount(t, srv.registry, "forbidden") +
			callbackCount(t, srv.registry, "bad_request")
		require.Equal(t, float64(n), counted, "every refusal is counted")
		require.Equal(t, domain.StatusSubmitted, srv.task(s.id).Status())
	})
}
