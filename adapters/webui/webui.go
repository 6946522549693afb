// Package webui serves the operator dashboard of §10 from files embedded in
// the binary, and renders article previews on the server: Markdown comes from
// content-creator, so it is untrusted and never turned into HTML in the
// browser.
package webui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

//go:embed static
var embedded embed.FS

// contentSecurityPolicy allows same-origin scripts, styles and API calls
// only: no inline script, no eval, no third-party fetches. Images may come
// from https because articles link theirs from the generator's storage; the
// preview's sandboxed frame inherits this policy.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' https: data:; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// contentTypes is set explicitly rather than from the mime package, whose
// answer depends on the host's mime.types.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

type asset struct {
	body        []byte
	contentType string
	etag        string
}

// Register adds the dashboard to r (GET /ui redirects to /ui/, which serves
// the embedded files) and the article preview to api, the bearer-protected
// /api/v1 group: GET /api/v1/contents/{content_id}/preview.
func Register(r gin.IRouter, api gin.IRouter, contents ContentReader) {
	assets := mustLoadAssets()
	r.GET("/ui", func(c *gin.Context) { c.Redirect(http.StatusMovedPermanently, "/ui/") })
	r.Match([]string{http.MethodGet, http.MethodHead}, "/ui/*filepath", serveAssets(assets))
	api.GET("/contents/:content_id/preview", (&previewHandler{contents: contents, render: newPreviewRenderer()}).serve)
}

// mustLoadAssets reads the embedded files once. A failure is a broken build,
// not a runtime condition.
func mustLoadAssets() map[string]asset {
	root, err := fs.Sub(embedded, "static")
	if err != nil {
		panic(fmt.Sprintf("webui: embedded files: %v", err))
	}
	assets := make(map[string]asset)
	err = fs.WalkDir(root, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ctype, ok := contentTypes[path.Ext(name)]
		if !ok {
			return nil
		}
		body, err := fs.ReadFile(root, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		assets[name] = asset{body: body, contentType: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("webui: embedded files: %v", err))
	}
	return assets
}

func serveAssets(assets map[string]asset) gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		name := strings.TrimPrefix(c.Param("filepath"), "/")
		if name == "" {
			name = "index.html"
		}
		a, ok := assets[name]
		if !ok {
			abort(c, http.StatusNotFound, "not_found", "no such file")
			return
		}
		h.Set("Content-Type", a.contentType)
		h.Set("ETag", a.etag)
		// Revalidate on every load so an upgraded binary's files are used at once.
		h.Set("Cache-Control", "no-cache")
		http.ServeContent(c.Writer, c.Request, name, time.Time{}, bytes.NewReader(a.body))
	}
}
