package httpapi

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/klauspost/compress/gzhttp"
)

// compressible are the types answered gzip-compressed to clients that ask:
// the API's JSON and the dashboard's files. Everything else (an event
// stream above all) is sent as it is.
var compressible = []string{
	"application/json", "application/problem+json", "text/html", "text/css", "text/javascript",
	"application/javascript", "application/yaml", "text/plain", "image/svg+xml",
}

// compressMinSize is the smallest answer worth compressing; gzhttp buffers
// up to it before deciding.
const compressMinSize = 1024

// withCompression compresses answers with klauspost/compress's gzhttp.
// Routes in streams (the SSE routes, by their route pattern) are left alone
// entirely: not compressed and not buffered, each event reaching the client
// when it is flushed.
func withCompression(streams map[string]bool) gin.HandlerFunc {
	wrap, err := gzhttp.NewWrapper(gzhttp.ContentTypes(compressible), gzhttp.MinSize(compressMinSize))
	if err != nil {
		panic(fmt.Sprintf("httpapi: gzip wrapper: %v", err)) // fixed options: a broken build
	}
	return func(c *gin.Context) {
		if streams[c.FullPath()] {
			c.Next()
			return
		}
		plain := c.Writer
		wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c.Writer = &compressedWriter{ResponseWriter: plain, gz: w}
			c.Request = r
			c.Next()
		})).ServeHTTP(plain, c.Request)
		c.Writer = plain
	}
}

// compressedWriter is gin's writer with the body going through gzhttp's:
// gzhttp decides the encoding when it has seen enough of the body, so the
// status is kept here until then for the middlewares that read it.
type compressedWriter struct {
	gin.ResponseWriter
	gz     http.ResponseWriter
	status int
}

func (w *compressedWriter) Header() http.Header { return w.gz.Header() }

func (w *compressedWriter) WriteHeader(code int) {
	if w.status != 0 || code <= 0 { // gin passes -1 for "keep the status" (Redirect)
		return
	}
	w.status = code
	w.gz.WriteHeader(code)
}

func (w *compressedWriter) WriteHeaderNow() {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
}

func (w *compressedWriter) Write(b []byte) (int, error) {
	w.WriteHeaderNow()
	return w.gz.Write(b)
}

func (w *compressedWriter) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

func (w *compressedWriter) Status() int {
	if w.status != 0 {
		return w.status
	}
	return w.ResponseWriter.Status()
}

func (w *compressedWriter) Written() bool { return w.status != 0 || w.ResponseWriter.Written() }

func (w *compressedWriter) Flush() {
	if f, ok := w.gz.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *compressedWriter) Unwrap() http.ResponseWriter { return w.gz }
