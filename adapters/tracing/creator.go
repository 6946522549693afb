package tracing

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"contenthub/domain"
	"contenthub/ports"
)

// Creator decorates a ports.ContentCreator with a span per call, hands the
// submission's trace context to content-creator (ports.SubmitRequest.Trace:
// TRACEPARENT for a child, the traceparent header for the API) and spans a
// supervised run until it ends.
type Creator struct {
	next   ports.ContentCreator
	tracer trace.Tracer
}

var _ ports.ContentCreator = (*Creator)(nil)

// NewCreator wraps next.
func NewCreator(next ports.ContentCreator, tp trace.TracerProvider) *Creator {
	return &Creator{next: next, tracer: tp.Tracer(ScopeName)}
}

func (c *Creator) start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return c.tracer.Start(ctx, "content_creator."+name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

// Submit implements ports.ContentCreator.
func (c *Creator) Submit(ctx context.Context, req ports.SubmitRequest) (ports.SubmitResult, error) {
	ctx, span := c.start(ctx, "submit", attribute.String(ports.AttrTaskID, req.TaskID),
		attribute.Int(ports.AttrAttempt, req.Attempt), attribute.String("contenthub.external_ref", req.ExternalRef))
	req.Trace = TraceContextOf(ctx)
	res, err := c.next.Submit(ctx, req)
	endSpan(span, err)
	if err == nil && res.Running != nil {
		// The run outlives the submission (a supervised child, an API
		// request held open): its own span, from the submission to its end.
		_, run := c.tracer.Start(ctx, "content_creator.run", trace.WithAttributes(
			attribute.String(ports.AttrTaskID, req.TaskID), attribute.Int(ports.AttrAttempt, req.Attempt)))
		go func() {
			<-res.Running
			run.End()
		}()
	}
	return res, err
}

// TraceContextOf is the W3C trace context of the span in ctx, empty
// without one.
func TraceContextOf(ctx context.Context) ports.TraceContext {
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	return ports.TraceContext{TraceParent: carrier["traceparent"], TraceState: carrier["tracestate"]}
}

// Status implements ports.ContentCreator.
func (c *Creator) Status(ctx context.Context, ref string) (ports.CreatorStatus, error) {
	ctx, span := c.start(ctx, "status", attribute.String("contenthub.external_ref", ref))
	st, err := c.next.Status(ctx, ref)
	span.SetAttributes(attribute.String("contenthub.phase", string(st.Phase)))
	endSpan(span, err)
	return st, err
}

// Result implements ports.ContentCreator.
func (c *Creator) Result(ctx context.Context, ref string) (domain.Result, error) {
	ctx, span := c.start(ctx, "result", attribute.String("contenthub.external_ref", ref))
	res, err := c.next.Result(ctx, ref)
	endSpan(span, err)
	return res, err
}

// Cancel implements ports.ContentCreator.
func (c *Creator) Cancel(ctx context.Context, ref string) error {
	ctx, span := c.start(ctx, "cancel", attribute.String("contenthub.external_ref", ref))
	err := c.next.Cancel(ctx, ref)
	endSpan(span, err)
	return err
}
