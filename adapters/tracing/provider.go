package tracing

import (
	"context"
	"errors"
	"fmt"
	"os"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// DefaultServiceName is the resource's service.name without OTEL_SERVICE_NAME.
const DefaultServiceName = "contenthub"

// Options are what the service decides; the rest is the SDK's own OTEL_*.
type Options struct {
	// Discard records spans through a batch span processor into an exporter
	// that drops them: the SDK's whole cost with no collector, for
	// benchmarks (TRACING_DISCARD).
	Discard bool
	// Exporter, when not nil, receives the spans instead (tests).
	Exporter sdktrace.SpanExporter
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
}

// Provider is the process's tracer provider.
type Provider struct {
	trace.TracerProvider
	sdk *sdktrace.TracerProvider // nil when nothing is exported
}

// Propagator is the W3C trace context the service accepts and hands on.
var Propagator propagation.TextMapPropagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// Setup builds the tracer provider. With OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) set, spans go by OTLP/HTTP, configured
// by the exporter's own OTEL_EXPORTER_OTLP_* variables, with the resource
// of OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES and the sampler of
// OTEL_TRACES_SAMPLER. Without, or with OTEL_TRACES_EXPORTER=none or
// OTEL_SDK_DISABLED=true, nothing is recorded: spans are OpenTelemetry's
// no-op ones, which still carry an incoming traceparent on to
// content-creator.
func Setup(ctx context.Context, o Options) (*Provider, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	otel.SetTextMapPropagator(Propagator)
	exporter := o.Exporter
	switch {
	case exporter != nil:
	case o.Discard:
		exporter = discard{}
	case getenv("OTEL_SDK_DISABLED") == "true" || getenv("OTEL_TRACES_EXPORTER") == "none":
	case getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "":
		e, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("OTLP trace exporter: %w", err)
		}
		exporter = e
	}
	if exporter == nil {
		return &Provider{TracerProvider: noop.NewTracerProvider()}, nil
	}
	res, err := newResource(ctx, getenv)
	if err != nil {
		return nil, err
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if o.Exporter != nil {
		opts = append(opts, sdktrace.WithSyncer(exporter)) // tests read spans as they end
	} else {
		opts = append(opts, sdktrace.WithBatcher(exporter))
	}
	sdk := sdktrace.NewTracerProvider(opts...)
	return &Provider{TracerProvider: sdk, sdk: sdk}, nil
}

func newResource(ctx context.Context, getenv func(string) string) (*resource.Resource, error) {
	opts := []resource.Option{resource.WithFromEnv(), resource.WithTelemetrySDK()}
	if getenv("OTEL_SERVICE_NAME") == "" {
		opts = append(opts, resource.WithAttributes(serviceName(DefaultServiceName)))
	}
	res, err := resource.New(ctx, opts...)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	return res, nil
}

// Recording reports whether spans are recorded and exported.
func (p *Provider) Recording() bool { return p.sdk != nil }

// Shutdown flushes the spans still buffered and stops the exporter.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p.sdk == nil {
		return nil
	}
	return p.sdk.Shutdown(ctx)
}

// discard is an exporter that drops what it is given.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }
