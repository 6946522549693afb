package tracing

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Handler gives every request a server span, the child of the request's
// W3C traceparent when it has one. Its attributes are otelhttp's: method,
// path (never the query, which may hold a callback token), status.
func Handler(h http.Handler, tp trace.TracerProvider) http.Handler {
	return otelhttp.NewHandler(h, "http", otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(Propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }))
}

// Route names the server span after the route that matched ("POST
// /api/v1/content/callback/:task_id"): otelhttp runs before gin routes.
func Route() gin.HandlerFunc {
	return func(c *gin.Context) {
		if route := c.FullPath(); route != "" {
			s := trace.SpanFromContext(c.Request.Context())
			s.SetName(c.Request.Method + " " + route)
			s.SetAttributes(attribute.String("http.route", route))
		}
		c.Next()
	}
}
