package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/internal/httpstatus"
	"github.com/kafkakit/kafkakit/internal/logattr"
	"github.com/kafkakit/kafkakit/producer"
	"golang.org/x/sync/semaphore"
)

// Sender is what the API sends through; *producer.Producer implements it.
type Sender interface {
	// Send sends one message and waits for the broker's acknowledgement.
	Send(ctx context.Context, msg producer.Message) (producer.Result, error)
	// SendBatch sends messages and waits for all of them, reporting each.
	SendBatch(ctx context.Context, msgs []producer.Message) ([]producer.Result, error)
	// Partitions returns a topic's partition count, refreshing a cached
	// count not above atLeast.
	Partitions(ctx context.Context, topic string, atLeast int32) (int32, error)
}

var _ Sender = (*producer.Producer)(nil)

// Handler serves the HTTP API. Build it with New; it is safe for
// concurrent use.
type Handler struct {
	sender Sender
	opts   options
	mux    *http.ServeMux
	// routes maps each pattern of mux to its path, the bounded route
	// name of metrics and spans.
	routes map[string]string
	// inFlight holds a token per send request being handled, streams one
	// per stream open: counting semaphores of weight one, for which a
	// buffered channel does what semaphore.Weighted would.
	inFlight, streams chan struct{}
	// memory counts the bytes of request bodies being handled, up to
	// MaxInFlightBytes; see weigh.
	memory *semaphore.Weighted
	// sends are the Send calls started for a Sender that is not an
	// AsyncSender; Close waits for them.
	sends sync.WaitGroup
	// streamPeak is the most records one stream has held at once.
	streamPeak atomic.Int64
}

// New returns the API handler sending through sender.
func New(sender Sender, opts ...Option) *Handler {
	o := defaultOptions()
	for _, opt := range opts {
		opt.apply(&o)
	}
	h := &Handler{sender: sender, opts: o, mux: http.NewServeMux(), routes: map[string]string{},
		inFlight: make(chan struct{}, max(o.maxInFlight, 1)), memory: semaphore.NewWeighted(max(o.maxInFlightMem, 1)),
		streams: make(chan struct{}, max(o.maxStreams, 1))}
	h.handle("POST /kafka/send", h.limited(h.idempotent(h.send)), false)
	h.handle("POST /kafka/send-batch", h.limited(h.idempotent(h.sendBatch)), false)
	h.handle("POST "+streamRoute, h.limitedStream(h.stream), false)
	// Open routes answer without the token unless ProtectAll.
	h.handle("GET /healthz", h.healthz, true)
	h.handle("GET /readyz", h.readyz, true)
	h.handle("GET /metrics", h.metrics, true)
	h.handle("GET /openapi.json", serveOpenAPI, true)
	return h
}

// Close waits for the sends the handler started that still run: with a
// Sender that is not an AsyncSender, each message answered 202 or read
// from a stream is sent in a goroutine of its own. Call it once the server
// has stopped handing the handler requests (http.Server.Shutdown
// returned); it sends nothing itself and leaves the Sender open.
func (h *Handler) Close() { h.sends.Wait() }

// handle registers pattern ("METHOD /path"; GET also serves HEAD),
// behind the guard (a bearer token with the route's scope) unless the
// route is open.
func (h *Handler) handle(pattern string, fn http.HandlerFunc, open bool) {
	_, h.routes[pattern], _ = strings.Cut(pattern, " ")
	if !open || h.opts.protectAll {
		h.mux.Handle(pattern, h.opts.guard.Route(pattern, fn))
		return
	}
	h.mux.Handle(pattern, fn)
}

// Routes returns the ServeMux patterns the handler serves ("GET /path";
// GET also answers HEAD), sorted, so that a test can hold them against
// the OpenAPI document and the scopes' rule (apicontract.RouteScope).
func (h *Handler) Routes() []string { return slices.Sorted(maps.Keys(h.routes)) }

// RouteOf returns the route r would take, "" for none: a bounded name for
// metrics and span names.
func (h *Handler) RouteOf(r *http.Request) string {
	_, route := h.match(r)
	return route
}

// match returns the handler ServeMux picks for r and r's route, "" when
// no route takes r. ServeMux also names a pattern when its handler is a
// redirect to the cleaned path ("/kafka//send"), which is no match here:
// every route is an exact path.
func (h *Handler) match(r *http.Request) (http.Handler, string) {
	next, pattern := h.mux.Handler(r)
	if route := h.routes[pattern]; route == r.URL.Path {
		return next, route
	}
	return next, ""
}

// ServeHTTP routes the request, answering unknown paths with 404 and
// wrong methods with 405, in JSON like every other error.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &exchange{Recorder: httpstatus.Recorder{ResponseWriter: w}}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.opts.logger.LogAttrs(r.Context(), slog.LevelError, "http handler panicked",
				slog.String("panic", slog.AnyValue(v).String()), slog.String("stack", string(debug.Stack())))
			if rw.Status == 0 {
				apicontract.WriteError(rw, &apicontract.Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"})
			}
		}
		h.logAccess(r, rw, time.Since(start))
	}()
	next, route := h.match(r)
	if route == "" {
		apicontract.Unmatched(rw, r, next)
		return
	}
	rw.route = route
	if route == streamRoute {
		// A refused stream's body may never end: without this the
		// server would wait to drain it after answering.
		rw.Header().Set("Connection", "close")
	}
	next.ServeHTTP(rw, r)
}

// limited answers 503 at once, without reading the body, when MaxInFlight
// send requests, or MaxInFlightBytes of their bodies, are already being
// handled. A body of unknown length is counted at the largest allowed.
func (h *Handler) limited(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		size := r.ContentLength
		if size < 0 || size > h.opts.maxBodyBytes {
			size = h.opts.maxBodyBytes
		}
		h.reserved(w, r, size, next)
	}
}

// limitedStream answers 503 at once, without reading the body, when
// MaxStreams streams are open. Streams have this budget of their own
// rather than a MaxInFlight slot and their window's bytes of
// MaxInFlightBytes: a stream lasts, idle or not, and open streams must
// never refuse the send requests.
func (h *Handler) limitedStream(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case h.streams <- struct{}{}:
			defer func() { <-h.streams }()
		default:
			apicontract.WriteError(w, &apicontract.Error{Status: http.StatusServiceUnavailable, Code: apicontract.CodeOverloaded,
				Message: "too many streams open; retry later", RetryAfter: 1})
			return
		}
		next(w, r)
	}
}

// reserved runs next holding a MaxInFlight slot and size bytes of
// MaxInFlightBytes, or answers 503 at once if either is taken.
func (h *Handler) reserved(w http.ResponseWriter, r *http.Request, size int64, next http.HandlerFunc) {
	select {
	case h.inFlight <- struct{}{}:
		defer func() { <-h.inFlight }()
	default:
		apicontract.WriteError(w, &apicontract.Error{Status: http.StatusServiceUnavailable, Code: apicontract.CodeOverloaded,
			Message: "too many requests in flight; retry later", RetryAfter: 1})
		return
	}
	n := h.weigh(size)
	if !h.memory.TryAcquire(n) {
		apicontract.WriteError(w, overloadedBytes)
		return
	}
	defer h.memory.Release(n)
	next(w, r)
}

// overloadedBytes refuses what does not fit in MaxInFlightBytes.
var overloadedBytes = &apicontract.Error{Status: http.StatusServiceUnavailable, Code: apicontract.CodeOverloaded,
	Message: "too many bytes in flight; retry later", RetryAfter: 1}

// weigh is what size bytes take of MaxInFlightBytes: at most all of it,
// so that a body larger than the budget is still handled when it is alone,
// and never refused for ever.
func (h *Handler) weigh(size int64) int64 { return min(size, max(h.opts.maxInFlightMem, 1)) }

// mediaType is r's Content-Type without parameters, "" if unparsable.
func mediaType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if ct == "application/json" {
		return ct
	}
	mt, _, _ := mime.ParseMediaType(ct)
	return mt
}

// readJSON reads a JSON body within the size limit.
func (h *Handler) readJSON(w http.ResponseWriter, r *http.Request) ([]byte, *apicontract.Error) {
	if mediaType(r) != "application/json" {
		return nil, &apicontract.Error{Status: http.StatusUnsupportedMediaType, Code: apicontract.CodeUnsupportedMedia,
			Message: "Content-Type must be application/json"}
	}
	return h.readBody(w, r)
}

// readBody reads a body within the size limit.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *apicontract.Error) {
	tooLarge := func() *apicontract.Error {
		return &apicontract.Error{Status: http.StatusRequestEntityTooLarge, Code: apicontract.CodeTooLarge,
			Message: "the request body is larger than " + strconv.FormatInt(h.opts.maxBodyBytes, 10) + " bytes"}
	}
	if r.ContentLength > h.opts.maxBodyBytes {
		return nil, tooLarge() // without reading any of it
	}
	if r.ContentLength >= 0 {
		// The length is known and allowed: read exactly that, once.
		body := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, invalid("", "reading the request body failed: %v", err)
		}
		return body, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.maxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			// The rest of the body is unread: the connection cannot
			// carry another request.
			w.Header().Set("Connection", "close")
			return nil, tooLarge()
		}
		return nil, invalid("", "reading the request body failed: %v", err)
	}
	return body, nil
}

// exchange is the ResponseWriter the handlers get: it records the status
// written and what a handler learned of the request, for the access log.
// It travels with the writer rather than in the request's context, which
// would cost a copy of the request each time.
type exchange struct {
	httpstatus.Recorder
	route    string
	topic    string
	messages int
}

// note records, for the access log, what a send request carried.
func note(w http.ResponseWriter, topic string, messages int) {
	if c, ok := w.(*capture); ok {
		w = c.exchange
	}
	if x, ok := w.(*exchange); ok {
		x.topic, x.messages = topic, messages
	}
}

func (h *Handler) logAccess(r *http.Request, x *exchange, d time.Duration) {
	status := x.Code()
	if h.opts.observe != nil {
		h.opts.observe(x.route, r.Method, status, d)
	}
	level := slog.LevelInfo
	if x.route == "/healthz" || x.route == "/readyz" || x.route == "/metrics" {
		level = slog.LevelDebug // probes would drown everything else
	}
	if !h.opts.logger.Enabled(r.Context(), level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
	}
	if x.topic != "" {
		attrs = append(attrs, logattr.Topic(x.topic))
	}
	if x.messages > 0 {
		attrs = append(attrs, slog.Int("messages", x.messages))
	}
	h.opts.logger.LogAttrs(r.Context(), level, "http request", attrs...)
}
