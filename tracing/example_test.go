package tracing_test

import (
	"context"
	"fmt"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/tracing"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

func ExampleTracing_Middleware() {
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	tr := tracing.New(tp, propagation.TraceContext{})

	h := consumer.Chain(consumer.HandlerFunc(func(ctx context.Context, msg *consumer.Message) error {
		// The handler's ctx carries its span, a child of the producer's trace.
		fmt.Println(trace.SpanContextFromContext(ctx).TraceID())
		return nil
	}), tr.Middleware())

	// A message whose producer traced it: the traceparent header.
	msg := &consumer.Message{Topic: "orders", Headers: []consumer.Header{
		{Key: "traceparent", Value: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")},
	}}
	_ = h.Handle(context.Background(), msg)
	// Output: 4bf92f3577b34da6a3ce929d0e0e4736
}
