// Package otelenv sets up OpenTelemetry tracing from the standard OTEL_*
// variables for `kafkakit serve`. It lives apart from package tracing
// because its exporters (OTLP over gRPC and HTTP, through autoexport) pull
// in hundreds of packages that a library user who imports tracing, and
// brings a tracer provider of their own, should not have to build.
package otelenv

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/kafkakit/kafkakit/tracing"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
)

// Enabled reports whether the standard OpenTelemetry variables ask for
// traces: OTEL_TRACES_EXPORTER names an exporter other than "none", or an
// OTLP endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT,
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), and OTEL_SDK_DISABLED is not true.
func Enabled(lookup func(string) (string, bool)) bool {
	get := func(name string) string { v, _ := lookup(name); return strings.TrimSpace(v) }
	if disabled, _ := strconv.ParseBool(get("OTEL_SDK_DISABLED")); disabled {
		return false
	}
	if exp := get("OTEL_TRACES_EXPORTER"); exp != "" {
		return exp != "none"
	}
	return get("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// FromEnv builds a tracer provider from the standard OTEL_* variables
// (exporter, endpoint, protocol, headers, sampler, OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES) and W3C trace context propagation. The
// returned function flushes and stops the exporter.
func FromEnv(ctx context.Context) (*tracing.Tracing, func(context.Context) error, error) {
	exp, err := autoexport.NewSpanExporter(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("otelenv: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName("kafkakit")))
	if err != nil {
		return nil, nil, fmt.Errorf("otelenv: %w", err)
	}
	// The environment (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) wins
	// over the default name.
	if envRes, err := resource.New(ctx, resource.WithFromEnv()); err == nil {
		if merged, err := resource.Merge(res, envRes); err == nil {
			res = merged
		}
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	return tracing.New(tp, prop), tp.Shutdown, nil
}
