// Package tracing is the OpenTelemetry adapter: the SDK's setup from the
// standard OTEL_* variables, the HTTP middleware that accepts a W3C
// traceparent, ports.Tracer for the application's own spans, and
// decorators that give each store role and content-creator call a span.
// Attributes are ids, numbers and outcomes only, never a token, a secret or
// an article.
package tracing

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"contenthub/ports"
)

// ScopeName names the instrumentation scope of every span the service makes.
const ScopeName = "contenthub"

// Tracer implements ports.Tracer on an OpenTelemetry tracer.
type Tracer struct{ tracer trace.Tracer }

var _ ports.Tracer = (*Tracer)(nil)

// NewTracer takes its tracer from tp.
func NewTracer(tp trace.TracerProvider) *Tracer { return &Tracer{tracer: tp.Tracer(ScopeName)} }

// Start implements ports.Tracer.
func (t *Tracer) Start(ctx context.Context, name string, attrs ...ports.Attr) (context.Context, ports.Span) {
	ctx, s := t.tracer.Start(ctx, name, trace.WithAttributes(convert(attrs)...))
	return ctx, span{s}
}

type span struct{ s trace.Span }

func (s span) End(err error, attrs ...ports.Attr) {
	if len(attrs) > 0 {
		s.s.SetAttributes(convert(attrs)...)
	}
	endSpan(s.s, err)
}

// endSpan closes a span, failed when err is not nil. The error's message is
// the status description; errors in this service name no secret (argv and
// callback URLs are redacted where they are made).
func endSpan(s trace.Span, err error) {
	if err != nil {
		s.SetStatus(codes.Error, err.Error())
	}
	s.End()
}

func convert(attrs []ports.Attr) []attribute.KeyValue {
	if len(attrs) == 0 {
		return nil
	}
	out := make([]attribute.KeyValue, len(attrs))
	for i, a := range attrs {
		if a.IsInt {
			out[i] = attribute.Int64(a.Key, a.Int)
		} else {
			out[i] = attribute.String(a.Key, a.Str)
		}
	}
	return out
}
