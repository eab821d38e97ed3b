package queue

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/internal/httpstatus"
	"github.com/kafkakit/kafkakit/internal/logattr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Prefix is the path under which the queue routes live.
const Prefix = "/kafka/queues/"

// Route patterns, as net/http's ServeMux and the OpenAPI document write
// them.
const (
	receiveRoute = "POST /kafka/queues/{group}/receive"
	ackRoute     = "POST /kafka/queues/{group}/ack"
)

// Routes returns the patterns the Handler serves, for the test that holds
// them against the OpenAPI document.
func Routes() []string { return []string{receiveRoute, ackRoute} }

// forwardedHeader marks an acknowledgement one replica forwards to the
// one holding its lease; the receiver answers it and never forwards it on.
const forwardedHeader = "Kafkakit-Queue-Forwarded"

// maxGroupLen bounds a group name in a path (Kafka sets no limit; its
// topic names stop at 249).
const maxGroupLen = 249

// Handler serves the queue routes: receive records of a share group with
// leases, and acknowledge them by receipt. Build it with New and Close it
// after the HTTP server has shut down. It is safe for concurrent use.
type Handler struct {
	opts     options
	cfg      config.Kafka
	client   *kgo.Client
	topics   *apicontract.TopicFilter
	signer   signer
	instance uint64
	// forwarding is whether receipts of other replicas are honoured:
	// only with a shared secret.
	forwarding bool
	pool       *pool
	support    support
	forwarder  *http.Client
	metrics    *metrics
	mux        *http.ServeMux
	logger     *slog.Logger
}

// New returns the handler of the queue routes for the cluster of cfg.
// client, any client of that cluster, is asked what the cluster supports;
// each share-group member is a client of its own, made from cfg. New
// fails on a secret shorter than MinSecretLen or an advertised URL that
// is not an http(s) base URL.
func New(cfg config.Kafka, client *kgo.Client, opts ...Option) (*Handler, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt.apply(&o)
	}
	if err := validate(o); err != nil {
		return nil, err
	}
	if _, err := cfg.Opts(); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	h := &Handler{opts: o, cfg: cfg, client: client, topics: apicontract.NewTopicFilter(o.allowed),
		instance: randomUint64(), forwarding: o.secret.Reveal() != "", logger: o.logger.With(logattr.Component("queue")),
		forwarder: &http.Client{Timeout: o.forwardTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	h.signer = signer{key: []byte(o.secret.Reveal())}
	if !h.forwarding {
		h.signer.key = make([]byte, 32)
		_, _ = rand.Read(h.signer.key)
	}
	var err error
	if h.metrics, err = newMetrics(o.reg); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	h.pool = newPool(o.maxMembers, o.idleTimeout, h.openMember)
	h.mux = http.NewServeMux()
	h.mux.Handle(receiveRoute, o.guard.Route(receiveRoute, http.HandlerFunc(h.receive)))
	h.mux.Handle(ackRoute, o.guard.Route(ackRoute, http.HandlerFunc(h.ack)))
	return h, nil
}

func validate(o options) error {
	if s := o.secret.Reveal(); s != "" && len(s) < MinSecretLen {
		return fmt.Errorf("queue: HTTP_QUEUE_SECRET is %d bytes long; it must have at least %d", len(s), MinSecretLen)
	}
	if o.advertised != "" {
		u, err := url.Parse(o.advertised)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return fmt.Errorf("queue: HTTP_ADVERTISED_URL %q is not a base URL such as http://10.0.0.5:8080", o.advertised)
		}
	}
	if o.maxMembers < 1 {
		return fmt.Errorf("queue: MaxMembers is %d; it must be at least 1", o.maxMembers)
	}
	return nil
}

func randomUint64() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:])
}

// holder is the advertised URL without a trailing slash.
func (h *Handler) holder() string { return strings.TrimSuffix(h.opts.advertised, "/") }

// Close closes every member, which releases the records they hold
// unsettled to the group at once, and waits for the handler's goroutines.
// Call it once the HTTP server has shut down.
func (h *Handler) Close() {
	h.pool.close()
	h.forwarder.CloseIdleConnections()
}

// ServeHTTP answers the queue routes behind the guard, and logs
// and counts each request as the send routes do.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &httpstatus.Recorder{ResponseWriter: w}
	route := ""
	defer func() { h.logAccess(r, route, rec.Code(), time.Since(start)) }()
	next, pattern := h.mux.Handler(r)
	if pattern == "" {
		apicontract.Unmatched(rec, r, next)
		return
	}
	_, route, _ = strings.Cut(pattern, " ")
	h.mux.ServeHTTP(rec, r)
}

// logAccess logs one line per request and counts it with the Observe
// function: route is the pattern's path ("" for none), a bounded label.
func (h *Handler) logAccess(r *http.Request, route string, status int, d time.Duration) {
	if h.opts.observe != nil {
		h.opts.observe(route, r.Method, status, d)
	}
	if !h.logger.Enabled(r.Context(), slog.LevelInfo) {
		return
	}
	h.logger.LogAttrs(r.Context(), slog.LevelInfo, "http request", slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.Int("status", status), slog.Float64("duration_ms", float64(d.Microseconds())/1000))
}

// readBody decodes r's JSON body into v: application/json, at most
// MaxBodyBytes, no unknown field, one value.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request, v any) *apicontract.Error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return &apicontract.Error{Status: http.StatusUnsupportedMediaType, Code: apicontract.CodeUnsupportedMedia,
			Message: "Content-Type must be application/json"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, h.opts.maxBodyBytes))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	if err == nil {
		if _, err2 := dec.Token(); err2 != io.EOF {
			err = errors.New("trailing data after the JSON value")
		}
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return &apicontract.Error{Status: http.StatusRequestEntityTooLarge, Code: apicontract.CodeTooLarge,
			Message: fmt.Sprintf("body over %d bytes (HTTP_MAX_BODY_BYTES)", h.opts.maxBodyBytes)}
	case err != nil:
		return &apicontract.Error{Status: http.StatusBadRequest, Code: apicontract.CodeInvalidRequest, Message: "body: " + err.Error()}
	}
	return nil
}

// group is the {group} of the path, checked.
func group(r *http.Request) (string, *apicontract.Error) {
	g := r.PathValue("group")
	switch {
	case g == "":
		return "", &apicontract.Error{Status: http.StatusBadRequest, Code: apicontract.CodeInvalidRequest, Field: "group", Message: "must not be empty"}
	case len(g) > maxGroupLen:
		return "", &apicontract.Error{Status: http.StatusBadRequest, Code: apicontract.CodeInvalidRequest, Field: "group",
			Message: fmt.Sprintf("is %d bytes long; the limit is %d", len(g), maxGroupLen)}
	case strings.ContainsFunc(g, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "", &apicontract.Error{Status: http.StatusBadRequest, Code: apicontract.CodeInvalidRequest, Field: "group", Message: "must not hold control characters"}
	}
	return g, nil
}

// leaseMargin is how much earlier than the broker's acquisition deadline
// a lease is said to end: the broker starts the lock before its answer
// leaves, and an acknowledgement takes time to reach it.
func leaseMargin(lock time.Duration) time.Duration { return min(2*time.Second, lock/4) }

// mayUse returns the 403 of a topic the caller may not receive from or
// acknowledge to: outside HTTP_ALLOWED_TOPICS, or outside the patterns of
// its token's consume scope; nil when it may.
func (h *Handler) mayUse(ctx context.Context, field, topic string) *apicontract.Error {
	if !h.topics.Allows(topic) {
		return &apicontract.Error{Status: http.StatusForbidden, Code: apicontract.CodeForbidden, Field: field,
			Message: "topic " + topic + " is not allowed here (HTTP_ALLOWED_TOPICS)"}
	}
	if e := apicontract.CheckTopic(ctx, apicontract.ScopeConsume, topic); e != nil {
		e.Field = field
		return e
	}
	return nil
}
