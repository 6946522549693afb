package webui_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"contenthub/adapters/webui"
	"contenthub/application"
	"contenthub/domain"
)

func init() { gin.SetMode(gin.TestMode) }

// fakeContents is a ContentReader over a map that records the ids asked for.
type fakeContents struct {
	items map[string]domain.Content
	err   error
	asked []string
}

func (f *fakeContents) Content(_ context.Context, id string) (domain.Content, error) {
	f.asked = append(f.asked, id)
	if f.err != nil {
		return domain.Content{}, f.err
	}
	c, ok := f.items[id]
	if !ok {
		return domain.Content{}, domain.ErrNotFound
	}
	return c, nil
}

// newRouter mounts the package the way httpapi does: a request id set by
// middleware, the UI on the engine and the preview on the /api/v1 group.
func newRouter(contents webui.ContentReader) *gin.Engine {
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Header("X-Request-ID", "req-test-1")
		c.Next()
	})
	webui.Register(r, r.Group("/api/v1"), contents)
	return r
}

func get(t *testing.T, h http.Handler, target string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func staticFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("static/" + name)
	require.NoError(t, err)
	return string(b)
}

func requireSecurityHeaders(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	csp := rec.Header().Get("Content-Security-Policy")
	for _, directive := range []string{
		"default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' https: data:",
		"connect-src 'self'", "object-src 'none'", "frame-ancestors 'none'",
	} {
		require.Contains(t, csp, directive)
	}
	require.NotContains(t, csp, "unsafe-inline")
	require.NotContains(t, csp, "unsafe-eval")
	require.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
	require.Equal(t, "no-referrer", rec.Header().Get("Referrer-Policy"))
}

func TestUIFilesAreServedWithTheirTypeAndSecurityHeaders(t *testing.T) {
	r := newRouter(&fakeContents{})
	for _, tc := range []struct{ path, file, contentType string }{
		{"/ui/", "index.html", "text/html; charset=utf-8"},
		{"/ui/index.html", "index.html", "text/html; charset=utf-8"},
		{"/ui/app.js", "app.js", "text/javascript; charset=utf-8"},
		{"/ui/app.css", "app.css", "text/css; charset=utf-8"},
		{"/ui/preview.css", "preview.css", "text/css; charset=utf-8"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			rec := get(t, r, tc.path)
			require.Equal(t, http.StatusOK, rec.Code)
			require.Equal(t, tc.contentType, rec.Header().Get("Content-Type"))
			require.Equal(t, staticFile(t, tc.file), rec.Body.String())
			require.Equal(t, "no-cache", rec.Header().Get("Cache-Control"))
			requireSecurityHeaders(t, rec)

			etag := rec.Header().Get("ETag")
			require.NotEmpty(t, etag)
			again := get(t, r, tc.path, "If-None-Match", etag)
			require.Equal(t, http.StatusNotModified, again.Code)
		})
	}
}

func TestUIRootRedirectsToTheIndex(t *testing.T) {
	rec := get(t, newRouter(&fakeContents{}), "/ui")
	require.Equal(t, http.StatusMovedPermanently, rec.Code)
	require.Equal(t, "/ui/", rec.Header().Get("Location"))
}

func TestUIUnknownFileIsNotFound(t *testing.T) {
	r := newRouter(&fakeContents{})
	for _, path := range []string{"/ui/nope.js", "/ui/static/app.js", "/ui/..%2fwebui.go", "/ui/sub/"} {
		rec := get(t, r, path)
		require.Equal(t, http.StatusNotFound, rec.Code, path)
		requireSecurityHeaders(t, rec)
		requireEnvelope(t, rec, "not_found")
	}
}

func TestUIHeadAnswersWithoutBody(t *testing.T) {
	req := httptest.NewRequest(http.MethodHead, "/ui/app.js", nil)
	rec := httptest.NewRecorder()
	newRouter(&fakeContents{}).ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "text/javascript; charset=utf-8", rec.Header().Get("Content-Type"))
	require.Empty(t, rec.Body.String())
}

// The UI loads nothing from another origin: no absolute or
// protocol-relative URL anywhere in its files, and every asset the page
// names is one that is served.
func TestUIReferencesOnlySameOriginAssets(t *testing.T) {
	files, err := fs.Glob(os.DirFS("static"), "*")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"index.html", "app.js", "app.css", "preview.css"}, files)

	protocolRelative := regexp.MustCompile("[\"'`(=]\\s*//")
	for _, name := range files {
		text := staticFile(t, name)
		require.NotRegexp(t, `(?i)\b(https?|wss?|ftp):`, text, name)
		require.NotRegexp(t, protocolRelative, text, name)
		require.NotContains(t, text, "@import", name)
	}

	index := staticFile(t, "index.html")
	r := newRouter(&fakeContents{})
	refs := regexp.MustCompile(`\b(?:src|href)="([^"]*)"`).FindAllStringSubmatch(index, -1)
	require.NotEmpty(t, refs)
	for _, ref := range refs {
		url := ref[1]
		if strings.HasPrefix(url, "#") || url == "data:," {
			continue
		}
		require.Regexp(t, `^[a-z]+\.(js|css)$`, url, "the page names a relative asset")
		require.Equal(t, http.StatusOK, get(t, r, "/ui/"+url).Code, url)
	}
}

// The CSP forbids inline code; the page must not need any.
func TestUIHasNoInlineScriptOrStyle(t *testing.T) {
	index := staticFile(t, "index.html")
	scripts := regexp.MustCompile(`<script\b[^>]*>`).FindAllString(index, -1)
	require.Equal(t, []string{`<script src="app.js" defer>`}, scripts)
	require.NotRegexp(t, `(?i)\son[a-z]+\s*=`, index, "no inline event handlers")
	require.NotRegexp(t, `(?i)\sstyle\s*=`, index, "no inline styles")
	require.NotContains(t, index, "<style")
}

// Data from the API (topics, errors, stages) is untrusted: the script puts
// it on the page as text. The only HTML it ever parses is the server's
// sanitised preview, and only into the sandboxed frame.
func TestUIScriptRendersAPIDataAsTextOnly(t *testing.T) {
	js := staticFile(t, "app.js")
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "DOMParser",
		"createContextualFragment", "eval(", "new Function", "javascript:"} {
		require.NotContains(t, js, sink)
	}
	// The only HTML sinks are the article frames (the task page's preview,
	// the article page, the review queue's previews), and each takes the
	// server-sanitised preview (in a document marked with its language) or
	// nothing.
	sinks := regexp.MustCompile(`\.srcdoc = ([^;]*);`).FindAllStringSubmatch(js, -1)
	require.Len(t, sinks, 4, "the preview frame, the article page's frame (cleared, then filled), the queue's frames")
	for _, sink := range sinks {
		require.Contains(t, []string{"''", "articleDocument(preview.html, lang)"}, sink[1],
			"a frame takes the server-sanitised preview and nothing else")
	}
	require.Len(t, regexp.MustCompile(`\.srcdoc\b`).FindAllStringIndex(js, -1), 4, "no other srcdoc use")
	require.Equal(t, 3, strings.Count(js, "preview.html"), "every use is a frame's sink")
	// The queue's frames, made by the script, are sandboxed the same way.
	require.Contains(t, js, "sandbox: 'allow-same-origin allow-popups allow-popups-to-escape-sandbox'")
	require.NotRegexp(t, `sandbox: '[^']*allow-scripts`, js)

	// The frames run no script: sandboxed, without allow-scripts.
	index := staticFile(t, "index.html")
	frames := regexp.MustCompile(`<iframe\b[^>]*>`).FindAllString(index, -1)
	require.Len(t, frames, 2)
	for _, frame := range frames {
		require.Contains(t, frame, `sandbox="`)
		require.NotContains(t, frame, "allow-scripts")
	}
	require.Contains(t, frames[0], `id="preview"`)
	require.Contains(t, frames[1], `id="article"`)
}

func TestUIControlsAreLabelled(t *testing.T) {
	index := staticFile(t, "index.html")
	// Every input, select and textarea sits inside a <label> (or is named by one with for=).
	controls := regexp.MustCompile(`<(input|select|textarea)\b`).FindAllStringIndex(index, -1)
	require.NotEmpty(t, controls)
	for _, at := range controls {
		before := index[:at[0]]
		open, closed := strings.LastIndex(before, "<label"), strings.LastIndex(before, "</label>")
		require.Greater(t, open, closed, "control at byte %d has no enclosing label", at[0])
	}
	for _, button := range regexp.MustCompile(`<button\b[^>]*>([^<]*)</button>`).FindAllStringSubmatch(index, -1) {
		require.NotEmpty(t, strings.TrimSpace(button[1]), "a button needs visible text")
	}
}

func requireEnvelope(t *testing.T, rec *httptest.ResponseRecorder, code string) {
	t.Helper()
	var env struct {
		Success *bool `json:"success"`
		Error   struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		RequestID string `json:"request_id"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &env), rec.Body.String())
	require.NotNil(t, env.Success)
	require.False(t, *env.Success)
	require.Equal(t, code, env.Error.Code)
	require.NotEmpty(t, env.Error.Message)
	require.Equal(t, rec.Header().Get("X-Request-ID"), env.RequestID)
	require.NotEmpty(t, env.RequestID)
}

func preview(t *testing.T, markdown string) string {
	t.Helper()
	contents := &fakeContents{items: map[string]domain.Content{"content-1": {ID: "content-1", Body: markdown}}}
	rec := get(t, newRouter(contents), "/api/v1/contents/content-1/preview")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
	var body map[string]string
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	html, ok := body["html"]
	require.True(t, ok, rec.Body.String())
	return html
}

func TestPreviewRendersMarkdown(t *testing.T) {
	html := preview(t, "# Edge computing\n\nSome *emphasis* and **weight**.\n\n- one\n- two\n\n"+
		"See [the docs](https://example.com/docs?a=1&b=2).\n\n![chart](https://img.example.com/c.png)\n\n"+
		"| a | b |\n|---|---|\n| 1 | 2 |\n")

	require.Contains(t, html, "<h1>Edge computing</h1>")
	require.Contains(t, html, "<em>emphasis</em>")
	require.Contains(t, html, "<strong>weight</strong>")
	require.Contains(t, html, "<ul>\n<li>one</li>\n<li>two</li>\n</ul>")
	require.Contains(t, html,
		`<a href="https://example.com/docs?a=1&amp;b=2" rel="nofollow noreferrer noopener" target="_blank">the docs</a>`)
	require.Contains(t, html, `<img src="https://img.example.com/c.png" alt="chart">`)
	require.Contains(t, html, "<td>2</td>")
}

func TestPreviewStripsDangerousInput(t *testing.T) {
	for _, tc := range []struct {
		name, markdown string
		keep           string   // harmless text that survives
		absent         []string // what must not reach the page
	}{
		{"script block", "before\n\n<script>alert(1)</script>\n\nafter", "after", []string{"<script", "alert(1)"}},
		{"inline script", "text <script>alert(1)</script> more", "more", []string{"<script"}},
		{"javascript link", "[x](javascript:alert(1))", "x", []string{"javascript:", "href", "alert"}},
		{"mixed-case javascript link", "[x](JaVaScRiPt:alert(1))", "x", []string{"javascript:", "href"}},
		{"vbscript link", "[x](vbscript:msgbox(1))", "x", []string{"vbscript:", "href"}},
		{"raw img with handler", "<img src=x onerror=alert(1)>", "", []string{"<img", "onerror"}},
		{"raw iframe block", `<iframe src="https://evil.example/"></iframe>`, "", []string{"<iframe", "evil.example"}},
		{"raw inline iframe", `ok <iframe src="https://evil.example/"></iframe>`, "ok", []string{"<iframe", "evil.example"}},
		{"raw anchor", `<a href="javascript:alert(1)">a</a> ok`, "ok", []string{"javascript:", "<a"}},
		{"handler attribute", `<b onclick="alert(1)">b</b> ok`, "ok", []string{"onclick", "<b"}},
		{"data image", "![d](data:image/png;base64,iVBORw0KGgo=)", "", []string{"data:", "src="}},
		{"relative image", "![r](/api/v1/content/tasks)", "", []string{"src="}},
		{"html in code stays text", "```\n<script>alert(1)</script>\n```", "&lt;script&gt;", []string{"<script"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			html := preview(t, tc.markdown)
			require.Contains(t, html, tc.keep)
			for _, bad := range tc.absent {
				require.NotContains(t, strings.ToLower(html), bad)
			}
		})
	}
}

func TestPreviewOfUnknownContentIsNotFound(t *testing.T) {
	contents := &fakeContents{}
	r := newRouter(contents)

	rec := get(t, r, "/api/v1/contents/content-missing/preview")
	require.Equal(t, http.StatusNotFound, rec.Code)
	requireEnvelope(t, rec, "not_found")
	require.Equal(t, []string{"content-missing"}, contents.asked)

	// A malformed id is answered without a lookup.
	rec = get(t, r, "/api/v1/contents/bad%20id%21/preview")
	require.Equal(t, http.StatusNotFound, rec.Code)
	requireEnvelope(t, rec, "not_found")
	require.Equal(t, []string{"content-missing"}, contents.asked)
}

func TestPreviewStorageErrors(t *testing.T) {
	t.Run("unavailable", func(t *testing.T) {
		err := fmt.Errorf("get content: %w: %w", application.ErrUnavailable, errors.New("db down: secret detail"))
		rec := get(t, newRouter(&fakeContents{err: err}), "/api/v1/contents/content-1/preview")
		require.Equal(t, http.StatusServiceUnavailable, rec.Code)
		require.Equal(t, "5", rec.Header().Get("Retry-After"))
		requireEnvelope(t, rec, "unavailable")
		require.NotContains(t, rec.Body.String(), "secret detail")
	})
	t.Run("internal", func(t *testing.T) {
		rec := get(t, newRouter(&fakeContents{err: errors.New("boom: secret detail")}), "/api/v1/contents/content-1/preview")
		require.Equal(t, http.StatusInternalServerError, rec.Code)
		requireEnvelope(t, rec, "internal_error")
		require.NotContains(t, rec.Body.String(), "secret detail")
	})
}
