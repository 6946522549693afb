package httpapi_test

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"contenthub/adapters/httpapi"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/adapters/webui"
)

// gzipClient asks for gzip and sees the answer as sent: Go's transport
// would otherwise ask, decompress and hide Content-Encoding itself.
var gzipClient = &http.Client{Transport: &http.Transport{DisableCompression: true}}

func getGzip(t *testing.T, ctx context.Context, url string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := gzipClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

func gunzip(t *testing.T, r io.Reader) []byte {
	t.Helper()
	zr, err := gzip.NewReader(r)
	require.NoError(t, err)
	b, err := io.ReadAll(zr)
	require.NoError(t, err)
	return b
}

// TestCompression: JSON and the dashboard's files are gzip-compressed for
// clients that ask; the SSE routes are not, and are not buffered either —
// each frame reaches the client while the stream stays open.
func TestCompression(t *testing.T) {
	h := newHarness(t, sqlstoretest.NewSQLite(t))
	for i := range 30 {
		h.createTask(`{"account_id":7,"topic":"压缩测试 ` + strings.Repeat("长", i) + `","requirements":"写一篇面向开发者的科普文章"}`)
	}
	router := httpapi.NewRouter(httpapi.Config{}, httpapi.Deps{
		Tasks: h.tasks, Health: h.store, Clock: h.clock, Log: zap.NewNop(), Events: h.events,
		Reviews: h.reviews, Pool: h.pool, TaskCounts: h.counts,
		Extra: []func(r gin.IRouter, api gin.IRouter){func(r gin.IRouter, api gin.IRouter) { webui.Register(r, api, h.tasks) }},
	})
	srv := httptest.NewServer(router) // loopback
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a guard, not a measure
	t.Cleanup(cancel)

	t.Run("JSON", func(t *testing.T) {
		resp := getGzip(t, ctx, srv.URL+"/api/v1/content/tasks?limit=50")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
		require.Contains(t, resp.Header.Values("Vary"), "Accept-Encoding")
		var page struct {
			Items []json.RawMessage `json:"items"`
			Total int               `json:"total"`
		}
		require.NoError(t, json.Unmarshal(gunzip(t, resp.Body), &page))
		require.Len(t, page.Items, 30)
		require.Equal(t, 30, page.Total)
	})
	t.Run("static files", func(t *testing.T) {
		for _, name := range []string{"", "app.js", "app.css"} {
			resp := getGzip(t, ctx, srv.URL+"/ui/"+name)
			require.Equal(t, http.StatusOK, resp.StatusCode, name)
			require.Equal(t, "gzip", resp.Header.Get("Content-Encoding"), name)
			require.NotEmpty(t, gunzip(t, resp.Body), name)
		}
	})
	t.Run("not asked, not compressed", func(t *testing.T) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/content/tasks?limit=50", nil)
		require.NoError(t, err)
		req.Header.Set("Accept-Encoding", "identity")
		resp, err := gzipClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Empty(t, resp.Header.Get("Content-Encoding"))
		require.True(t, json.Valid(must(io.ReadAll(resp.Body))))
	})
	t.Run("event streams: neither compressed nor buffered", func(t *testing.T) {
		for _, target := range []string{"/api/v1/content/events", "/api/v1/content/tasks/" + h.createTask(defaultTask) + "/events"} {
			resp := getGzip(t, ctx, srv.URL+target)
			require.Equal(t, http.StatusOK, resp.StatusCode, target)
			require.Empty(t, resp.Header.Get("Content-Encoding"), target)
			require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream"), target)
			r := bufio.NewReader(resp.Body)
			// The first frame is a comment of a few bytes: a buffering
			// writer would hold it back (gzhttp waits for 1 KiB) and this
			// read would hang until the guard's deadline.
			line, err := r.ReadString('\n')
			require.NoError(t, err, target)
			require.Equal(t, ": connected\n", line, target)
		}
		// And a change arrives as its own frame on the open stream.
		resp := getGzip(t, ctx, srv.URL+"/api/v1/content/events")
		r := bufio.NewReader(resp.Body)
		line, err := r.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, ": connected\n", line)
		id := h.createTask(defaultTask)
		for {
			line, err := r.ReadString('\n')
			require.NoError(t, err, "the event never came")
			if strings.HasPrefix(line, "data: ") {
				require.Contains(t, line, id)
				break
			}
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
