package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"contenthub/adapters/signature"
	"contenthub/adapters/sqlstore"
	"contenthub/adapters/sqlstore/sqlstoretest"
	"contenthub/application"
	"contenthub/domain"
)

// BenchmarkCallback measures the callback path through the router on each
// store with what the real sender sends: a `completed` callback carrying a
// ~20 KB Chinese article with images (twice: content, and htmlContent, which
// that sender fills with the Markdown too), signed by scheme a, to the
// attempt's tokened URL. first: a first delivery (task, content, pool entry
// and delivery record in one transaction); duplicate: the same body again.
// Results are reported in docs/benchmarks.md; `make bench-load` measures the
// real binary under load.
func BenchmarkCallback(b *testing.B) {
	stores := map[string]func(testing.TB) *sqlstore.Store{"sqlite": sqlstoretest.NewSQLite, "postgres": sqlstoretest.NewPostgres}
	article := benchArticle(b)
	signed := func(o *harnessOptions) { o.verifier.Secrets = []string{benchSecret} }
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name+"/first", func(b *testing.B) {
			// Every task submitted before the first callback: a slot each.
			h := newHarness(b, stores[name](b), signed, func(o *harnessOptions) { o.concurrency = b.N })
			subs := submitMany(b, h, b.N)
			bodies := make([][]byte, len(subs))
			for i, s := range subs {
				bodies[i] = realSenderBody(s.ref, article)
			}
			b.SetBytes(int64(len(bodies[0])))
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				rec := h.do(http.MethodPost, subs[i].callback, bodies[i], signedHeader(bodies[i]))
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
		b.Run(name+"/duplicate", func(b *testing.B) {
			h := newHarness(b, stores[name](b), signed)
			s := submitMany(b, h, 1)[0]
			body := realSenderBody(s.ref, article)
			header := signedHeader(body)
			require.Equal(b, http.StatusOK, h.do(http.MethodPost, s.callback, body, header).Code)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				rec := h.do(http.MethodPost, s.callback, body, header)
				if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"duplicate":true`) {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

const benchSecret = "bench-secret"

// benchArticle is ~20 KB of Chinese Markdown with headings, emphasis, links,
// lists, a code block, a table and nine images.
func benchArticle(b *testing.B) string {
	raw, err := os.ReadFile("testdata/article-zh-20k.md")
	require.NoError(b, err)
	return string(raw)
}

// realSenderBody is a completed callback shaped as the real sender's
// (CONTENT-CREATOR.md).
func realSenderBody(ref, article string) []byte {
	type image struct {
		URL       string `json:"url"`
		LocalPath string `json:"localPath"`
		Prompt    string `json:"prompt"`
	}
	images := []image{}
	for i := 1; i <= 9; i++ {
		images = append(images, image{URL: "https://example.com/images/edge-" + strconv.Itoa(i) + ".png", LocalPath: "data/images/" + strconv.Itoa(i) + ".png", Prompt: "边缘计算配图"})
	}
	body, err := json.Marshal(map[string]any{
		"event": "completed", "taskId": ref, "workflowType": "content-creator", "status": "completed",
		"timestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		"metadata":  map[string]any{"topic": "边缘计算入门", "requirements": "写一篇面向开发者的科普文章", "targetAudience": "开发者"},
		"result": map[string]any{
			"content": article, "htmlContent": article, "images": images, "qualityScore": 8.2,
			"wordCount": utf8.RuneCountInString(article),
			"metrics":   map[string]any{"tokensUsed": 5321, "cost": 0.012, "duration": 95000, "stepsCompleted": []string{}},
		},
	})
	if err != nil {
		panic(err)
	}
	return body
}

func signedHeader(body []byte) http.Header {
	ts := time.Now().Unix()
	return http.Header{
		"X-Webhook-Signature": {"sha256=" + signature.SignRaw(benchSecret, body, ts)},
		"X-Webhook-Timestamp": {strconv.FormatInt(ts, 10)},
	}
}

// submitMany creates n tasks and dispatches them all, returning each one's
// callback path and external ref.
func submitMany(b *testing.B, h *harness, n int) []submitted {
	b.Helper()
	ctx := context.Background()
	for range n {
		_, _, err := h.tasks.Create(ctx, application.CreateTaskInput{NewTaskParams: domain.NewTaskParams{AccountID: 1, Topic: "边缘计算入门"}})
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
