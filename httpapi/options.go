package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/idempotency"
)

// Option configures a Handler.
type Option interface{ apply(*options) }

type options struct {
	logger         *slog.Logger
	maxBodyBytes   int64
	maxBatch       int
	requestTimeout time.Duration
	guard          *apicontract.Guard
	protectAll     bool
	allowedTopics  *apicontract.TopicFilter
	ready          func(context.Context) error
	metrics        http.Handler
	observe        func(route, method string, status int, d time.Duration)
	maxInFlight    int
	maxInFlightMem int64
	streamWindow   int
	streamIdle     time.Duration
	maxStreams     int
	asyncFailed    func(topic string)
	transactions   AtomicSender
	idempotency    func() *idempotency.Store
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// The default limits, which the options below (and `kafkakit serve`'s
// HTTP_* variables) override.
const (
	DefaultMaxBodyBytes     = 1 << 20  // MaxBodyBytes
	DefaultMaxBatch         = 1000     // MaxBatch
	DefaultMaxInFlight      = 256      // MaxInFlight, requests
	DefaultMaxInFlightBytes = 16 << 20 // MaxInFlight, bytes
)

func defaultOptions() options {
	return options{
		logger:         slog.Default(),
		maxBodyBytes:   DefaultMaxBodyBytes,
		maxBatch:       DefaultMaxBatch,
		requestTimeout: 30 * time.Second,
		maxInFlight:    DefaultMaxInFlight,
		maxInFlightMem: DefaultMaxInFlightBytes,
		streamWindow:   DefaultStreamWindow,
		streamIdle:     DefaultStreamIdleTimeout,
		maxStreams:     DefaultMaxStreams,
		guard:          apicontract.NewGuard(nil),
	}
}

// Logger sets the logger for access and error lines, overriding the
// default slog.Default().
func Logger(l *slog.Logger) Option { return optionFunc(func(o *options) { o.logger = l }) }

// MaxBodyBytes caps a request body, overriding the default 1 MiB
// (HTTP_MAX_BODY_BYTES). A larger body is answered 413 without being read.
func MaxBodyBytes(n int64) Option { return optionFunc(func(o *options) { o.maxBodyBytes = n }) }

// MaxBatch caps the messages of one send-batch, overriding the default
// 1000 (HTTP_MAX_BATCH).
func MaxBatch(n int) Option { return optionFunc(func(o *options) { o.maxBatch = n }) }

// MaxInFlight bounds the send requests handled at once, overriding the
// default 256 (HTTP_MAX_IN_FLIGHT). One more is answered 503 with
// Retry-After before its body is read, so that memory stays bounded
// however many clients push at once.
func MaxInFlight(n int) Option { return optionFunc(func(o *options) { o.maxInFlight = n }) }

// MaxInFlightBytes bounds the request bodies being handled at once,
// overriding the default 16 MiB (HTTP_MAX_IN_FLIGHT_BYTES). A request
// whose body does not fit is answered 503 with Retry-After before its body
// is read (one that is alone in flight always fits), so memory stays
// bounded whatever the size and number of requests.
func MaxInFlightBytes(n int64) Option { return optionFunc(func(o *options) { o.maxInFlightMem = n }) }

// RequestTimeout bounds the wait for the broker's acknowledgement,
// overriding the default 30s (KAFKA_REQUEST_TIMEOUT); past it the answer
// is 504.
func RequestTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.requestTimeout = d })
}

// AuthToken requires `Authorization: Bearer <token>` on /kafka/* routes
// (HTTP_AUTH_TOKEN), a token with every scope: apicontract.SingleToken.
// The default, empty, requires nothing.
func AuthToken(token config.Secret) Option {
	return optionFunc(func(o *options) { o.guard = apicontract.SingleToken(token) })
}

// Guard checks every /kafka/* route's bearer token and scope with g
// (HTTP_AUTH_TOKEN and HTTP_TOKENS_FILE), instead of AuthToken's one
// token: sends need the send scope for their topics. Give admin.Guard
// the same g, so that one reload of its tokens serves both.
func Guard(g *apicontract.Guard) Option { return optionFunc(func(o *options) { o.guard = g }) }

// ProtectAll requires the token on /healthz, /readyz, /metrics and
// /openapi.json too (HTTP_AUTH_TOKEN_PROTECT_ALL). By default they stay
// open so that probes and scrapers need no secret.
func ProtectAll(on bool) Option { return optionFunc(func(o *options) { o.protectAll = on }) }

// AllowedTopics restricts sends to the given topics: exact names, or
// "prefix.*" for any topic starting with "prefix." (HTTP_ALLOWED_TOPICS).
// The default, none, allows every topic.
func AllowedTopics(patterns ...string) Option {
	return optionFunc(func(o *options) { o.allowedTopics = apicontract.NewTopicFilter(patterns) })
}

// Readiness sets the check behind /readyz: nil means ready, an error is
// the reason it is not. The default is always ready.
func Readiness(check func(context.Context) error) Option {
	return optionFunc(func(o *options) { o.ready = check })
}

// Metrics sets the handler behind /metrics. The default answers 404.
func Metrics(h http.Handler) Option { return optionFunc(func(o *options) { o.metrics = h }) }

// Observe is called after every request with its route ("" when none
// matched), method, status and duration, for metrics.
func Observe(fn func(route, method string, status int, d time.Duration)) Option {
	return optionFunc(func(o *options) { o.observe = fn })
}

// StreamWindow bounds the records one POST /kafka/stream has handed to
// the producer and not yet answered, overriding DefaultStreamWindow.
func StreamWindow(n int) Option {
	return optionFunc(func(o *options) { o.streamWindow = max(n, 1) })
}

// StreamIdleTimeout closes a stream whose client sends no line for d
// (blank lines count as nothing: they carry no record), overriding
// DefaultStreamIdleTimeout; a stream whose client reads no answer for d
// is closed too. Records already handed to the producer are still
// delivered, and answered while the client reads.
func StreamIdleTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.streamIdle = d })
}

// MaxStreams bounds the POST /kafka/stream exchanges open at once,
// overriding DefaultMaxStreams (HTTP_MAX_STREAMS). One more is answered
// 503 with Retry-After before its body is read. Streams have this budget
// of their own: they take no MaxInFlight slot and none of
// MaxInFlightBytes, so that open streams, idle or busy, never refuse a
// send request.
func MaxStreams(n int) Option { return optionFunc(func(o *options) { o.maxStreams = max(n, 1) }) }

// AsyncFailed is called with the topic of each message that was answered
// 202 (Prefer: respond-async) and then failed, for metrics. The failure is
// logged with the request id either way.
func AsyncFailed(fn func(topic string)) Option {
	return optionFunc(func(o *options) { o.asyncFailed = fn })
}
