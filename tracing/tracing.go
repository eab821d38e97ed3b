// Package tracing follows a message with OpenTelemetry from the HTTP request
// that sent it, through produce and the broker, to the handler that
// consumed it and the webhook it called, as one trace.
//
// A W3C traceparent on the request continues into the produce span and is
// written into the record's headers (franz-go's plugin/kotel); the consumer
// starts each handler call's span from those headers and hands it to the
// handler in its ctx; the webhook handler forwards it. Nothing here runs
// unless installed, so tracing off costs nothing.
package tracing

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/internal/httpstatus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kotel"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// instrumentation names kafkakit's own spans.
const instrumentation = "github.com/kafkakit/kafkakit"

// Tracing starts kafkakit's spans with one tracer provider and propagator.
type Tracing struct {
	prop   propagation.TextMapPropagator
	tracer trace.Tracer
	kotel  *kotel.Tracer
}

// New traces with tp and propagates with prop; nil means the OpenTelemetry
// globals.
func New(tp trace.TracerProvider, prop propagation.TextMapPropagator) *Tracing {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if prop == nil {
		prop = otel.GetTextMapPropagator()
	}
	return &Tracing{
		prop:   prop,
		tracer: tp.Tracer(instrumentation),
		kotel:  kotel.NewTracer(kotel.TracerProvider(tp), kotel.TracerPropagator(prop)),
	}
}

// ClientOpts returns the franz-go hooks that start publish and receive
// spans and carry trace context in record headers. Give them to producers
// and consumers (producer.ClientOpts, consumer.ClientOpts).
func (t *Tracing) ClientOpts() kgo.Opt {
	return kgo.WithHooks(kotel.NewKotel(kotel.WithTracer(t.kotel)).Hooks()...)
}

// Middleware starts a span for each handler call, a child of the
// message's receive span (or of the trace in its headers), and puts it in
// the handler's ctx. Install it with consumer.Use.
func (t *Tracing) Middleware() consumer.Middleware {
	return func(next consumer.Handler) consumer.Handler {
		return consumer.HandlerFunc(func(ctx context.Context, msg *consumer.Message) error {
			parent := context.Background()
			switch r := msg.Record(); {
			case r != nil && r.Context != nil && trace.SpanContextFromContext(r.Context).IsValid():
				parent = r.Context // the receive span franz-go's hooks started
			default:
				parent = t.prop.Extract(parent, kotel.NewRecordCarrier(&kgo.Record{Headers: msg.Headers}))
			}
			_, span := t.tracer.Start(parent, msg.Topic+" process",
				trace.WithSpanKind(trace.SpanKindConsumer),
				trace.WithAttributes(
					attribute.String("messaging.system", "kafka"),
					attribute.String("messaging.operation", "process"),
					attribute.String("messaging.destination.name", msg.Topic),
					attribute.Int("messaging.destination.partition.id", int(msg.Partition)),
					attribute.Int64("messaging.kafka.message.offset", msg.Offset),
					attribute.Int("kafkakit.attempt", msg.Attempt),
				))
			defer span.End()
			// The handler keeps ctx's cancellation and gains the span.
			err := next.Handle(trace.ContextWithSpan(ctx, span), msg)
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
			}
			return err
		})
	}
}

// Handler wraps an HTTP handler: it continues the trace of an incoming
// traceparent (or starts one) in a server span named after the route.
// route returns a request's route, "" when none matches, which keeps span
// names few whatever paths clients try.
func (t *Tracing) Handler(next http.Handler, route func(*http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		name, rt := r.Method, route(r)
		attrs := []attribute.KeyValue{attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path)}
		if rt != "" {
			name += " " + rt
			attrs = append(attrs, attribute.String("http.route", rt))
		}
		ctx, span := t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
		defer span.End()
		rec := &httpstatus.Recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(ctx))
		status := rec.Code()
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	})
}

// Inject writes ctx's trace context into h, for outgoing requests such as
// the webhook's.
func (t *Tracing) Inject(ctx context.Context, h http.Header) {
	t.prop.Inject(ctx, propagation.HeaderCarrier(h))
}

// LogHandler adds trace_id and span_id to every record logged with a
// context that holds a span.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{h.Handler.WithAttrs(attrs)}
}

func (h logHandler) WithGroup(name string) slog.Handler { return logHandler{h.Handler.WithGroup(name)} }
