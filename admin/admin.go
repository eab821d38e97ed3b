package admin

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/httpapi"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Prefixes are the paths the handler serves, for mounting it in a
// ServeMux next to httpapi's handler: each is registered as itself and
// with a trailing slash.
var Prefixes = []string{"/kafka/topics", "/kafka/groups", "/kafka/dlq", "/kafka/live"}

// Handler serves the admin API. Build it with New; it is safe for
// concurrent use.
type Handler struct {
	cfg  config.Kafka
	cl   *kgo.Client
	adm  *kadm.Client
	opts options
	mux  *http.ServeMux
	// routes is the patterns mux serves, in the order registered.
	routes []string
	// running holds the dead-letter topics being replayed: one replay per
	// topic at a time, as dlq.Replay requires.
	running sync.Map
	// live is the recent /kafka/live events.
	live live
	// inFlight bounds the requests handled at once, but /kafka/live
	// streams, which last and hold little: liveStreams bounds those.
	inFlight, liveStreams slots
	// readBudget bounds the bytes that requests reading records hold.
	readBudget budget
}

// liveRoute is the pattern of /kafka/live, whose streams have slots of
// their own.
const liveRoute = "GET /kafka/live"

// New returns the admin API over cl, which it uses for metadata, offsets
// and groups and does not close. Browsing messages opens a short-lived
// consumer client from cfg for each page, so that no consumer state is
// shared between requests.
func New(cfg config.Kafka, cl *kgo.Client, opts ...Option) *Handler {
	o := options{timeout: 10 * time.Second, logger: slog.Default(), maxInFlight: DefaultMaxInFlight, maxReadBytes: DefaultMaxReadBytes}
	for _, opt := range opts {
		opt.apply(&o)
	}
	h := &Handler{cfg: cfg, cl: cl, adm: kadm.NewClient(cl), opts: o, mux: http.NewServeMux(),
		inFlight: make(slots, max(o.maxInFlight, 1)), liveStreams: make(slots, max(o.maxInFlight, 1)),
		readBudget: budget{max: max(o.maxReadBytes, readReserve)}}
	h.handle("GET /kafka/topics", h.topics)
	h.handle("GET /kafka/topics/{topic}", h.topicRoute(h.topic))
	h.handle("GET /kafka/topics/{topic}/messages", h.reads(h.topicRoute(h.messages)))
	h.handle("GET /kafka/groups", h.groups)
	h.handle("GET /kafka/groups/{group}", h.group)
	h.handle("GET /kafka/dlq/{topic}", h.reads(h.topicRoute(h.dlqTopic)))
	h.handle("POST /kafka/dlq/{topic}/replay", h.reads(h.replay))
	h.handle(liveRoute, h.liveStream)
	return h
}

func (h *Handler) handle(pattern string, fn http.HandlerFunc) {
	h.routes = append(h.routes, pattern)
	h.mux.HandleFunc(pattern, fn)
}

// Routes returns the ServeMux patterns the handler serves ("GET /path";
// GET also answers HEAD), so that a test can hold them against the
// OpenAPI document (httpapi.OpenAPI), which describes each.
func (h *Handler) Routes() []string { return slices.Clone(h.routes) }

// ServeHTTP checks the bearer token, then routes; unknown routes are
// answered in JSON. Over MaxInFlight requests at once are answered 503
// with Retry-After.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kafkakit"`)
		writeError(w, &httpapi.Error{Status: http.StatusUnauthorized, Code: httpapi.CodeUnauthorized, Message: "missing or wrong bearer token"})
		return
	}
	// Handler only finds the route; ServeHTTP also sets the path's
	// values ({topic}) on r.
	next, pattern := h.mux.Handler(r)
	if pattern == "" {
		httpapi.Unmatched(w, r, next)
		return
	}
	pool, what := h.inFlight, "admin requests"
	if pattern == liveRoute {
		pool, what = h.liveStreams, "live streams"
	}
	if !pool.take() {
		writeError(w, overloaded(what))
		return
	}
	defer pool.give()
	h.mux.ServeHTTP(w, r)
}

// authorized checks the bearer token as the send routes do.
func (h *Handler) authorized(r *http.Request) bool { return httpapi.BearerMatches(r, h.opts.token) }

// allowed reports whether the allowlist lets clients see topic.
func (h *Handler) allowed(topic string) bool { return h.opts.allowed.Allows(topic) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"encoding the answer failed"}}`)
	}
	// The newline is written on its own, so that a large answer is not
	// copied to append it.
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if _, err := w.Write(b); err == nil {
		_, _ = w.Write([]byte{'\n'})
	}
}

func writeError(w http.ResponseWriter, e *httpapi.Error) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	writeJSON(w, e.Status, struct {
		Error *httpapi.Error `json:"error"`
	}{e})
}

func badRequest(field, msg string) *httpapi.Error {
	return &httpapi.Error{Status: http.StatusBadRequest, Code: httpapi.CodeInvalidRequest, Field: field, Message: msg}
}

func unknownTopic(topic string) *httpapi.Error {
	return &httpapi.Error{Status: http.StatusNotFound, Code: httpapi.CodeUnknownTopic, Field: "topic", Message: "the cluster has no topic " + strconv.Quote(topic)}
}

func forbidden(topic string) *httpapi.Error {
	return &httpapi.Error{Status: http.StatusForbidden, Code: httpapi.CodeForbidden, Field: "topic", Message: "topic " + strconv.Quote(topic) + " is not in HTTP_ALLOWED_TOPICS"}
}

// brokerError is the answer when the cluster could not be asked.
func brokerError(err error) *httpapi.Error {
	return &httpapi.Error{Status: http.StatusBadGateway, Code: httpapi.CodeBrokerError, Message: err.Error()}
}
