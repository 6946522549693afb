package tracing

import (
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

func serviceName(name string) attribute.KeyValue { return semconv.ServiceName(name) }
