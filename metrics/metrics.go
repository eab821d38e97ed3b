// Package metrics exposes what kafkakit does as Prometheus metrics, on a
// registry of the caller's choosing: produce counts and latency, handler
// outcomes and durations, retries, dead letters, in-flight handlers,
// consumer lag, HTTP requests, and franz-go's own client metrics (kprom).
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
	perTopic  sync.Map // topic -> *topicSeries

	produced         *prometheus.CounterVec
	produceLatency   *prometheus.HistogramVec
	handled          *prometheus.CounterVec
	handlerDuration  *prometheus.HistogramVec
	retries          *prometheus.CounterVec
	deadLetters      *prometheus.CounterVec
	deadLetterErrors *prometheus.CounterVec
	inFlight         *prometheus.GaugeVec
	httpRequests     *prometheus.CounterVec
	httpDuration     *prometheus.HistogramVec
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
		produced: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "messages_produced_total",
			Help: "Messages sent, by topic and outcome (ok: acknowledged by the broker; error: failed)."}, []string{"topic", "outcome"}),
		produceLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "produce_latency_seconds",
			Help: "Time from send to the broker's acknowledgement or failure, by topic.", Buckets: latencyBuckets}, []string{"topic"}),
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "messages_handled_total",
			Help: "Handler attempts by topic and outcome (ok; retried: failed, will be delivered again; dead_lettered: failed for the last time)."}, []string{"topic", "outcome"}),
		handlerDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "handler_duration_seconds",
			Help: "Time a handler call took, by topic.", Buckets: latencyBuckets}, []string{"topic"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "handler_retries_total",
			Help: "Failed handler attempts after which the message is delivered again, by topic."}, []string{"topic"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "dead_letters_total",
			Help: "Messages written to their dead-letter topic, by original topic."}, []string{"topic"}),
		deadLetterErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "dead_letter_errors_total",
			Help: "Failed dead-letter writes (retried; the partition waits), by original topic."}, []string{"topic"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "handlers_in_flight",
			Help: "Handler calls running now, by topic."}, []string{"topic"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "http_requests_total",
			Help: "HTTP requests by route, method and status."}, []string{"route", "method", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "http_request_duration_seconds",
			Help: "HTTP request latency by route.", Buckets: latencyBuckets}, []string{"route"}),
	}
	for _, c := range []prometheus.Collector{m.produced, m.produceLatency, m.handled, m.handlerDuration, m.retries,
		m.deadLetters, m.deadLetterErrors, m.inFlight, m.httpRequests, m.httpDuration, lagCollector{m}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// ClientOpts returns the franz-go hooks for a client's own metrics
// (connections, bytes, batches and records per broker: plugin/kprom),
// labelled role so that several clients share one registry. They carry no
// topic label, whose values clients choose; kafkakit's own metrics count
// per topic, bounded.
func (m *Metrics) ClientOpts(role string) kgo.Opt {
	return kgo.WithHooks(kprom.NewMetrics(Namespace, kprom.Registerer(m.reg),
		kprom.WithStaticLabel(prometheus.Labels{"role": role}),
		kprom.FetchAndProduceDetail(kprom.ByNode, kprom.Batches, kprom.Records, kprom.UncompressedBytes, kprom.CompressedBytes)))
}

// Sent implements producer.Observer.
func (m *Metrics) Sent(topic string, err error, d time.Duration) {
	s := m.series(topic)
	if err != nil {
		s.produceErr.Inc()
	} else {
		s.produceOK.Inc()
	}
	s.produceLatency.Observe(d.Seconds())
}

// topicSeries are one topic's series, resolved once: looking a
// series up by its labels hashes them, too slow for every message.
type topicSeries struct {
	produceOK, produceErr prometheus.Counter
	produceLatency        prometheus.Observer

	inFlight                         prometheus.Gauge
	handlerDuration                  prometheus.Observer
	handledOK, retried, deadLettered prometheus.Counter
	retries, deadLetters             prometheus.Counter
	deadLetterErrors                 prometheus.Counter
}

func (m *Metrics) series(topic string) *topicSeries {
	if s, ok := m.perTopic.Load(topic); ok {
		return s.(*topicSeries)
	}
	label := m.topics.label(topic)
	s := &topicSeries{
		produceOK:        m.produced.WithLabelValues(label, "ok"),
		produceErr:       m.produced.WithLabelValues(label, "error"),
		produceLatency:   m.produceLatency.WithLabelValues(label),
		inFlight:         m.inFlight.WithLabelValues(label),
		handlerDuration:  m.handlerDuration.WithLabelValues(label),
		handledOK:        m.handled.WithLabelValues(label, string(consumer.OutcomeOK)),
		retried:          m.handled.WithLabelValues(label, string(consumer.OutcomeRetried)),
		deadLettered:     m.handled.WithLabelValues(label, string(consumer.OutcomeDeadLettered)),
		retries:          m.retries.WithLabelValues(label),
		deadLetters:      m.deadLetters.WithLabelValues(label),
		deadLetterErrors: m.deadLetterErrors.WithLabelValues(label),
	}
	if label == topic { // "other" topics are not remembered one by one
		m.perTopic.Store(topic, s)
	}
	return s
}

// HandlerStarted implements consumer.Observer.
func (m *Metrics) HandlerStarted(topic string) { m.series(topic).inFlight.Inc() }

// HandlerFinished implements consumer.Observer.
func (m *Metrics) HandlerFinished(topic string, d time.Duration) {
	s := m.series(topic)
	s.inFlight.Dec()
	s.handlerDuration.Observe(d.Seconds())
}

// Attempted implements consumer.Observer.
func (m *Metrics) Attempted(topic string, o consumer.Outcome) {
	s := m.series(topic)
	switch o {
	case consumer.OutcomeOK:
		s.handledOK.Inc()
	case consumer.OutcomeRetried:
		s.retried.Inc()
		s.retries.Inc()
	case consumer.OutcomeDeadLettered:
		s.deadLettered.Inc()
		s.deadLetters.Inc()
	}
}

// DeadLetterFailed implements consumer.Observer.
func (m *Metrics) DeadLetterFailed(topic string) { m.series(topic).deadLetterErrors.Inc() }

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
