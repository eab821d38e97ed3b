package admin

import (
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/config"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/semaphore"
)

// Prefixes are the paths the handler serves, for mounting it in a
// ServeMux next to httpapi's handler: each is registered as itself and
// with a trailing slash.
var Prefixes = []string{"/kafka/topics", "/kafka/groups", "/kafka/share-groups", "/kafka/consumers", "/kafka/dlq", "/kafka/live", "/kafka/whoami"}

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
	// readBudget bounds the bytes that requests reading records hold,
	// readMax of them; readHeld and readPeak count them, for tests.
	readBudget         *semaphore.Weighted
	readMax            int64
	readHeld, readPeak atomic.Int64
}

// liveRoute is the pattern of /kafka/live, whose streams have slots of
// their own.
const liveRoute = "GET /kafka/live"

// New returns the admin API over cl, which it uses for metadata, offsets
// and groups and does not close. Browsing messages opens a short-lived
// consumer client from cfg for each page, so that no consumer state is
// shared between requests.
func New(cfg config.Kafka, cl *kgo.Client, opts ...Option) *Handler {
	o := options{timeout: 10 * time.Second, logger: slog.Default(), maxInFlight: DefaultMaxInFlight, maxReadBytes: DefaultMaxReadBytes,
		guard: apicontract.NewGuard(nil)}
	for _, opt := range opts {
		opt.apply(&o)
	}
	h := &Handler{cfg: cfg, cl: cl, adm: kadm.NewClient(cl), opts: o, mux: http.NewServeMux(),
		inFlight: make(slots, max(o.maxInFlight, 1)), liveStreams: make(slots, max(o.maxInFlight, 1)),
		readMax: max(o.maxReadBytes, readReserve)}
	h.readBudget = semaphore.NewWeighted(h.readMax)
	h.handle("GET /kafka/topics", h.topics)
	h.handle("GET /kafka/topics/{topic}", h.topicRoute(h.topic))
	h.handle("GET /kafka/topics/{topic}/messages", h.reads(h.topicRoute(h.messages)))
	h.handle("GET /kafka/groups", h.groups)
	h.handle("GET /kafka/groups/{group}", h.group)
	h.handle("GET /kafka/share-groups", h.shareGroups)
	h.handle("GET /kafka/share-groups/{group}", h.shareGroup)
	h.handle("GET /kafka/consumers", h.consumers)
	h.handle("GET /kafka/dlq/{topic}", h.reads(h.topicRoute(h.dlqTopic)))
	h.handle("POST /kafka/dlq/{topic}/replay", h.audited(ActionReplay, h.reads(h.replay)))
	h.handle(liveRoute, h.liveStream)
	h.handleChanges()
	// The console asks who its token is, to offer only what it may do.
	h.handle(apicontract.WhoAmIRoute, apicontract.WhoAmI)
	return h
}

// handle registers pattern behind the guard, which checks the route's
// scope (apicontract.RouteScope).
func (h *Handler) handle(pattern string, fn http.HandlerFunc) {
	h.routes = append(h.routes, pattern)
	h.mux.Handle(pattern, h.opts.guard.Route(pattern, fn))
}

// Routes returns the ServeMux patterns the handler serves ("GET /path";
// GET also answers HEAD), so that a test can hold them against the
// OpenAPI document (httpapi.OpenAPI), which describes each.
func (h *Handler) Routes() []string { return slices.Clone(h.routes) }

// ServeHTTP checks the bearer token, then routes, each route checking
// its scope; unknown routes are answered in JSON. Over MaxInFlight
// requests at once are answered 503 with Retry-After.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Every answer is about the cluster as it is now.
	w.Header().Set("Cache-Control", "no-store")
	r, ok := h.opts.guard.Authenticate(w, r)
	if !ok {
		return
	}
	// Handler only finds the route; ServeHTTP also sets the path's
	// values ({topic}) on r.
	next, pattern := h.mux.Handler(r)
	if pattern == "" {
		apicontract.Unmatched(w, r, next)
		return
	}
	pool, what := h.inFlight, "admin requests"
	if pattern == liveRoute {
		pool, what = h.liveStreams, "live streams"
	}
	if !pool.take() {
		apicontract.WriteError(w, overloaded(what))
		return
	}
	defer pool.give()
	h.mux.ServeHTTP(w, r)
}

// allowed reports whether the allowlist lets clients see topic.
func (h *Handler) allowed(topic string) bool { return h.opts.allowed.Allows(topic) }

func badRequest(field, msg string) *apicontract.Error {
	return &apicontract.Error{Status: http.StatusBadRequest, Code: apicontract.CodeInvalidRequest, Field: field, Message: msg}
}

func unknownTopic(topic string) *apicontract.Error {
	return &apicontract.Error{Status: http.StatusNotFound, Code: apicontract.CodeUnknownTopic, Field: "topic", Message: "the cluster has no topic " + strconv.Quote(topic)}
}

func forbidden(topic string) *apicontract.Error {
	return &apicontract.Error{Status: http.StatusForbidden, Code: apicontract.CodeForbidden, Field: "topic", Message: "topic " + strconv.Quote(topic) + " is not in HTTP_ALLOWED_TOPICS"}
}

// brokerError is the answer when the cluster could not be asked.
func brokerError(err error) *apicontract.Error {
	return &apicontract.Error{Status: http.StatusBadGateway, Code: apicontract.CodeBrokerError, Message: err.Error()}
}
