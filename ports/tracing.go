package ports

//go:generate go tool mockgen -typed -source=tracing.go -destination=mocks/tracing.go -package=mocks

import "context"

// Tracer starts spans for the application's own steps (a callback's
// authentication and decoding, a dispatch, a reconciler pass) without the
// application knowing the tracing library. A nil Tracer means tracing is
// compiled out: the application checks for nil and does nothing else.
type Tracer interface {
	// Start opens a span named name, a child of the span in ctx if any, and
	// returns the context that carries it.
	Start(ctx context.Context, name string, attrs ...Attr) (context.Context, Span)
}

// Span is an open span.
type Span interface {
	// End closes the span, marking it failed when err is not nil and adding
	// the attributes learnt meanwhile.
	End(err error, attrs ...Attr)
}

// Attr is a span attribute: ids, numbers and outcomes only, never a token,
// a secret or an article.
type Attr struct {
	Key   string
	Str   string
	Int   int64
	IsInt bool
}

// StringAttr is a string attribute.
func StringAttr(key, value string) Attr { return Attr{Key: key, Str: value} }

// IntAttr is an integer attribute.
func IntAttr(key string, value int) Attr { return Attr{Key: key, Int: int64(value), IsInt: true} }

// Span attribute keys the application and the decorators share.
const (
	AttrTaskID  = "contenthub.task_id"
	AttrAttempt = "contenthub.attempt"
	AttrEvent   = "contenthub.event"
	AttrOutcome = "contenthub.outcome"
	AttrCount   = "contenthub.count"
)

// TraceContext is a W3C trace context to hand to content-creator with a
// submission (TRACEPARENT in a child's environment, the traceparent header
// of an API request), so that its work joins the submission's trace. Empty
// when tracing is off.
type TraceContext struct {
	TraceParent string
	TraceState  string
}
