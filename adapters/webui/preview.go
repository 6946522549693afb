package webui

import (
	"bytes"
	"context"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"

	"contenthub/application"
	"contenthub/domain"
)

// ContentReader loads stored content for the preview.
type ContentReader interface {
	Content(ctx context.Context, id string) (domain.Content, error)
}

var _ ContentReader = (*application.Tasks)(nil)

// previewRenderer turns untrusted Markdown into HTML that is safe to show.
// Both layers are kept on purpose: goldmark drops raw HTML and dangerous
// link schemes, and bluemonday removes whatever else a parser might let
// through.
type previewRenderer struct {
	markdown goldmark.Markdown
	policy   *bluemonday.Policy
}

func newPreviewRenderer() *previewRenderer {
	policy := bluemonday.UGCPolicy()
	// Articles link absolute URLs; a relative one would point into this
	// service. Only http, https and mailto remain, for links and images alike.
	policy.AllowRelativeURLs(false)
	// Links open outside the dashboard, without access to it.
	policy.AddTargetBlankToFullyQualifiedLinks(true)
	policy.RequireNoReferrerOnLinks(true)
	return &previewRenderer{
		// No html.WithUnsafe(): raw HTML in the Markdown is omitted, not passed on.
		markdown: goldmark.New(goldmark.WithExtensions(extension.GFM)),
		policy:   policy,
	}
}

func (p *previewRenderer) render(markdown string) (string, error) {
	var out bytes.Buffer
	if err := p.markdown.Convert([]byte(markdown), &out); err != nil {
		return "", fmt.Errorf("render markdown: %w", err)
	}
	return p.policy.SanitizeReader(&out).String(), nil
}

type previewHandler struct {
	contents ContentReader
	render   *previewRenderer
}

// serve answers {"html": "<sanitised HTML>"} for a content's Markdown body.
func (h *previewHandler) serve(c *gin.Context) {
	id := c.Param("content_id")
	if !domain.ValidTaskID(id) {
		abortWithError(c, domain.ErrNotFound)
		return
	}
	content, err := h.contents.Content(c.Request.Context(), id)
	if err != nil {
		abortWithError(c, err)
		return
	}
	html, err := h.render.render(content.Body)
	if err != nil {
		abortWithError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"html": html})
}
