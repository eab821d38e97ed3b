// Package metrics exposes what kafkakit does as Prometheus metrics, on a
// registry of the caller's choosing: produce counts and latency, handler
// outcomes and durations, retries, dead letters, in-flight handlers,
// consumer lag, HTTP requests, the Idempotency-Key store's size, and
// franz-go's own client metrics (kprom).
//
//	reg := prometheus.NewRegistry()
//	m, err := metrics.New(reg)
//	p, err := producer.New(cfg, producer.Observe(m), producer.ClientOpts(m.ClientOpts("producer")))
//	c, err := consumer.New(cfg, consumer.Observe(m), consumer.ClientOpts(m.ClientOpts("consumer")))
//	m.WatchConsumer(c) // lag per partition
//
// Labels stay bounded whatever clients send: no keys or offsets, at most
// MaxTopics distinct topics (the rest count under "other"), HTTP routes
// rather than paths.
package metrics

import (
	"strconv"
	"sync"
	"time"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
)

// Namespace prefixes every metric name.
const Namespace = "kafkakit"

// The names of the metrics that are also read back by name, by the admin
// API's live figures, which the console draws: written here once, so that
// a rename is one edit and the reader follows it.
const (
	NameMessagesProduced = Namespace + "_messages_produced_total" // labels topic, outcome
	NameMessagesHandled  = Namespace + "_messages_handled_total"  // labels topic, outcome
	NameHTTPRequests     = Namespace + "_http_requests_total"     // labels route, method, status
	NameConsumerLag      = Namespace + "_consumer_lag"            // labels group, topic, partition
)

// MaxTopics bounds the topic label's values; topics beyond it are counted
// as "other", so that a client sending to endless topic names cannot grow
// the series without bound.
const MaxTopics = 500

// Metrics records kafkakit's metrics. It implements producer.Observer and
// consumer.Observer. It is safe for concurrent use.
type Metrics struct {
	reg    prometheus.Registerer
	topics topicLabels

	watchedMu sync.Mutex
	watched   []*consumer.Consumer
	// Per topic, the series of each side, created on the side's first
	// event: a topic only produced to has no handler series.
	produceSeries sync.Map // topic -> *produceSeries
	handleSeries  sync.Map // topic -> *handleSeries

	rolesMu sync.Mutex
	roles   map[string]*roleHooks

	producedVec      *prometheus.CounterVec
	produceLatency   *prometheus.HistogramVec
	handled          *prometheus.CounterVec
	handlerDuration  *prometheus.HistogramVec
	deadLetterErrors *prometheus.CounterVec
	inFlight         *prometheus.GaugeVec
	httpRequests     *prometheus.CounterVec
	httpDuration     *prometheus.HistogramVec
	asyncFailures    *prometheus.CounterVec
	notReplayed      *prometheus.CounterVec
	adminActions     *prometheus.CounterVec
}

var (
	_ producer.Observer = (*Metrics)(nil)
	_ consumer.Observer = (*Metrics)(nil)
)

// latencyBuckets span 0.5ms to about 16s.
var latencyBuckets = prometheus.ExponentialBuckets(0.0005, 2, 16)

// New registers kafkakit's metrics with reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		reg: reg,
		producedVec: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameMessagesProduced,
			Help: "Messages sent, by topic and outcome (ok: acknowledged by the broker; error: failed)."}, []string{"topic", "outcome"}),
		produceLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "produce_latency_seconds",
			Help: "Time from send to the broker's acknowledgement or failure, by topic.", Buckets: latencyBuckets}, []string{"topic"}),
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameMessagesHandled,
			Help: "Handler attempts by topic and outcome (ok; retried: failed, will be delivered again; dead_lettered: failed for the last time, now in the dead-letter topic; skipped: failed permanently with dead letters off, logged)."}, []string{"topic", "outcome"}),
		handlerDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "handler_duration_seconds",
			Help: "Time a handler call took, by topic.", Buckets: latencyBuckets}, []string{"topic"}),
		deadLetterErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "dead_letter_errors_total",
			Help: "Failed dead-letter writes (retried; the partition waits), by original topic."}, []string{"topic"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "handlers_in_flight",
			Help: "Handler calls running now, by topic."}, []string{"topic"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameHTTPRequests,
			Help: "HTTP requests by route, method and status."}, []string{"route", "method", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "http_request_duration_seconds",
			Help: "HTTP request latency by route.", Buckets: latencyBuckets}, []string{"route"}),
		asyncFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "async_delivery_failures_total",
			Help: "Messages answered 202 (Prefer: respond-async) that then failed, by topic; each is logged with its request id."}, []string{"topic"}),
		notReplayed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "dead_letters_not_replayed_total",
			Help: "Dead letters an admin API replay left in their topic because their destination was refused, by reason (no_original_topic, internal_topic, invalid_topic, not_allowed); each is logged."}, []string{"reason"}),
		adminActions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "admin_actions_total",
			Help: "Admin API calls that change the cluster (create_topic, update_topic, delete_topic, reset_offsets, delete_group, replay), by action and outcome (ok, dry_run, refused, failed); each is logged at INFO with its caller."}, []string{"action", "outcome"}),
	}
	for _, c := range []prometheus.Collector{m.producedVec, m.produceLatency, m.handled, m.handlerDuration,
		m.deadLetterErrors, m.inFlight, m.httpRequests, m.httpDuration, m.asyncFailures, m.notReplayed, m.adminActions, lagCollector{m}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// ClientOpts returns the franz-go hooks for a client's own metrics
// (connections, bytes, batches and records per broker: plugin/kprom),
// labelled role. Clients of one role share one set of series, which count
// them all, so that any number of clients can share one registry; the
// buffered_* gauges follow the role's first client. They carry no
// topic label, whose values clients choose; kafkakit's own metrics count
// per topic, bounded.
func (m *Metrics) ClientOpts(role string) kgo.Opt {
	m.rolesMu.Lock()
	defer m.rolesMu.Unlock()
	if m.roles == nil {
		m.roles = make(map[string]*roleHooks)
	}
	h := m.roles[role]
	if h == nil {
		h = &roleHooks{Metrics: kprom.NewMetrics(Namespace, kprom.Registerer(m.reg),
			kprom.WithStaticLabel(prometheus.Labels{"role": role}),
			kprom.FetchAndProduceDetail(kprom.ByNode, kprom.Batches, kprom.Records, kprom.UncompressedBytes, kprom.CompressedBytes))}
		m.roles[role] = h
	}
	return kgo.WithHooks(h)
}

// roleHooks shares one kprom collector set among the clients of a role.
// kprom registers its collectors when a client starts, assigning the
// fields its other hooks read, and unregisters them when it closes: a
// second client would register the same series again (a panic), and
// registering anew after the last had closed would assign those fields
// while a closing client's last hooks still read them (a data race). So
// the collectors are registered once, for the role's first client, and
// stay registered. Every other hook is kprom's, promoted.
type roleHooks struct {
	*kprom.Metrics

	once sync.Once
}

// OnNewClient implements kgo.HookNewClient.
func (h *roleHooks) OnNewClient(cl *kgo.Client) {
	h.once.Do(func() { h.Metrics.OnNewClient(cl) })
}

// OnClientClosed implements kgo.HookClientClosed: the role's series
// outlive its clients (see roleHooks).
func (h *roleHooks) OnClientClosed(*kgo.Client) {}

// Sent implements producer.Observer.
func (m *Metrics) Sent(topic string, err error, d time.Duration) {
	s := m.produced(topic)
	if err != nil {
		s.err.Inc()
	} else {
		s.ok.Inc()
	}
	s.latency.Observe(d.Seconds())
}

// produceSeries and handleSeries are one topic's series, resolved once:
// looking a series up by its labels hashes them, too slow for every
// message.
type produceSeries struct {
	ok, err prometheus.Counter
	latency prometheus.Observer
}

type handleSeries struct {
	inFlight           prometheus.Gauge
	duration           prometheus.Observer
	handledOK, retried prometheus.Counter
	// label is the topic's label value, for the series of outcomes that
	// depend on the dead-letter setting (dead_lettered or skipped, dead
	// letter errors): made when they first happen, rarely, so that a
	// subscription never shows a series it cannot have.
	label string
}

// perTopic returns topic's entry in cache, making it with build from the
// topic's label on first use. Topics counted as "other" are not
// remembered one by one, so the cache stays bounded too.
func perTopic[T any](m *Metrics, cache *sync.Map, topic string, build func(label string) *T) *T {
	if s, ok := cache.Load(topic); ok {
		return s.(*T)
	}
	label := m.topics.label(topic)
	s := build(label)
	if label == topic {
		cache.Store(topic, s)
	}
	return s
}

func (m *Metrics) produced(topic string) *produceSeries {
	return perTopic(m, &m.produceSeries, topic, func(label string) *produceSeries {
		return &produceSeries{
			ok:      m.producedVec.WithLabelValues(label, "ok"),
			err:     m.producedVec.WithLabelValues(label, "error"),
			latency: m.produceLatency.WithLabelValues(label),
		}
	})
}

func (m *Metrics) handling(topic string) *handleSeries {
	return perTopic(m, &m.handleSeries, topic, func(label string) *handleSeries {
		return &handleSeries{
			inFlight:  m.inFlight.WithLabelValues(label),
			duration:  m.handlerDuration.WithLabelValues(label),
			handledOK: m.handled.WithLabelValues(label, string(consumer.OutcomeOK)),
			retried:   m.handled.WithLabelValues(label, string(consumer.OutcomeRetried)),
			label:     label,
		}
	})
}

// HandlerStarted implements consumer.Observer.
func (m *Metrics) HandlerStarted(topic string) { m.handling(topic).inFlight.Inc() }

// HandlerFinished implements consumer.Observer.
func (m *Metrics) HandlerFinished(topic string, d time.Duration) {
	s := m.handling(topic)
	s.inFlight.Dec()
	s.duration.Observe(d.Seconds())
}

// Attempted implements consumer.Observer.
func (m *Metrics) Attempted(topic string, o consumer.Outcome) {
	s := m.handling(topic)
	switch o {
	case consumer.OutcomeOK:
		s.handledOK.Inc()
	case consumer.OutcomeRetried:
		s.retried.Inc()
	default:
		m.handled.WithLabelValues(s.label, string(o)).Inc()
	}
}

// DeadLetterFailed implements consumer.Observer.
func (m *Metrics) DeadLetterFailed(topic string) {
	m.deadLetterErrors.WithLabelValues(m.handling(topic).label).Inc()
}

// ObserveHTTP records one HTTP request; route is "" when no route matched.
// It fits httpapi.Observe.
func (m *Metrics) ObserveHTTP(route, method string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	switch method {
	case "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS":
	default:
		method = "other"
	}
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(route).Observe(d.Seconds())
}

// AsyncDeliveryFailed counts a message answered 202 that then failed. It
// fits httpapi.AsyncFailed.
func (m *Metrics) AsyncDeliveryFailed(topic string) {
	m.asyncFailures.WithLabelValues(m.topics.label(topic)).Inc()
}

// NotReplayed counts a dead letter a replay left because its destination
// was refused, by reason, one of dlq's Reason constants. It implements
// admin.Observer.
func (m *Metrics) NotReplayed(reason string) {
	m.notReplayed.WithLabelValues(reason).Inc()
}

// AdminAction counts an admin API call that changes the cluster, or in a
// dry run would, by action and outcome: both come from fixed sets in
// package admin. It implements admin.Observer.
func (m *Metrics) AdminAction(action, outcome string) {
	m.adminActions.WithLabelValues(action, outcome).Inc()
}

// topicLabels hands out topic label values, at most MaxTopics distinct.
type topicLabels struct {
	mu   sync.RWMutex
	seen map[string]struct{}
}

func (t *topicLabels) label(topic string) string {
	t.mu.RLock()
	_, ok := t.seen[topic]
	t.mu.RUnlock()
	if ok {
		return topic
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.seen[topic]; ok {
		return topic
	}
	if len(t.seen) >= MaxTopics {
		return "other"
	}
	if t.seen == nil {
		t.seen = make(map[string]struct{})
	}
	t.seen[topic] = struct{}{}
	return topic
}
