// Package service is `kafkakit serve`: the HTTP API, consumers configured
// from the environment, health, readiness and metrics, wired together and
// shut down in order.
package service

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/httpapi"
	"github.com/kafkakit/kafkakit/idempotency"
	"github.com/kafkakit/kafkakit/internal/embedded"
	"github.com/kafkakit/kafkakit/internal/logattr"
	"github.com/kafkakit/kafkakit/internal/otelenv"
	"github.com/kafkakit/kafkakit/internal/owntopics"
	"github.com/kafkakit/kafkakit/metrics"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/kafkakit/kafkakit/queue"
	"github.com/kafkakit/kafkakit/tracing"
	"github.com/kafkakit/kafkakit/webhook"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Option changes how Run wires the service, for tests and for programs
// that embed it.
type Option func(*runOptions)

type runOptions struct {
	tracing *tracing.Tracing
}

// WithTracing traces with t instead of what the OTEL_* variables say.
func WithTracing(t *tracing.Tracing) Option {
	return func(o *runOptions) { o.tracing = t }
}

// Run serves until ctx ends, then shuts down in reverse order of start:
// the HTTP server stops taking requests and lets in-flight ones finish,
// consumers finish their handlers and commit, the producer flushes, and
// the embedded broker, if any, stops. Each step is bounded by the
// shutdown timeout (KAFKA_SHUTDOWN_TIMEOUT). Every goroutine Run starts
// has ended when it returns.
func Run(ctx context.Context, cfg Config, logger *slog.Logger, opts ...Option) error {
	var o runOptions
	for _, opt := range opts {
		opt(&o)
	}
	logger.LogAttrs(ctx, slog.LevelInfo, "kafkakit starting", slog.String("config", cfg.String()))
	warnIdempotenceOff(ctx, cfg, logger)
	err := run(ctx, cfg, logger, o)
	logger.LogAttrs(context.Background(), slog.LevelInfo, "kafkakit stopped")
	return err
}

// warnIdempotenceOff says once, at start-up, when automatic idempotence
// gave way to a conflicting setting, as the Java client does (KIP-679):
// what turned it off, and what that costs.
func warnIdempotenceOff(ctx context.Context, cfg Config, logger *slog.Logger) {
	c := cfg.Kafka.IdempotenceConflict()
	if c == nil || cfg.Kafka.Idempotence != config.IdempotenceAuto {
		return
	}
	logger.LogAttrs(ctx, slog.LevelWarn, "idempotent production is off: "+config.EnvName(c.Field)+"="+fmt.Sprint(c.Value)+" "+c.Reason+
		"; the client's retries may now duplicate or reorder records. Set KAFKA_IDEMPOTENT=true to refuse such a setting, or false to silence this",
		slog.String("variable", config.EnvName(c.Field)), slog.Bool("idempotent", false))
}

// server is a running service: each start step sets its part.
type server struct {
	cfg     Config
	logger  *slog.Logger
	tracing *tracing.Tracing
	reg     *prometheus.Registry
	metrics *metrics.Metrics
	prod    *producer.Producer
	cons    *consumer.Consumer
	share   *consumer.ShareConsumer           // in share mode, instead of cons
	tx      *producer.Transactions            // nil: atomic batches refused
	guard   *apicontract.Guard                // who may do what, on every HTTP route
	idem    atomic.Pointer[idempotency.Store] // nil until open

	// queues serves /kafka/queues/ (share groups).
	queues *queue.Handler

	// topicsUnchecked: the cluster could not be asked about the topics
	// kafkakit writes; later start steps do not ask again.
	topicsUnchecked bool

	// consumerDone and serveDone carry what Consumer.Run and Server.Serve
	// returned; nil when there is no such goroutine or its result has
	// been taken.
	consumerDone chan error
	serveDone    chan error
}

// stopFunc undoes a start step. Its error is returned by Run.
type stopFunc func() error

func nop() error { return nil }

// startSteps is the order in which the service starts; it stops in the
// reverse order, so each part is stopped while what it uses still runs.
var startSteps = []func(*server, context.Context) (stopFunc, error){
	(*server).startGuard,
	(*server).startBroker,
	(*server).startTracing,
	(*server).startMetrics,
	(*server).startProducer,
	(*server).startBrokerCheck,
	(*server).startConsumer,
	(*server).startExactlyOnce,
	(*server).startQueues,
	(*server).startHTTP,
}

func run(ctx context.Context, cfg Config, logger *slog.Logger, o runOptions) (err error) {
	s := &server{cfg: cfg, logger: logger, tracing: o.tracing}
	var stops []stopFunc
	defer func() {
		for i := len(stops) - 1; i >= 0; i-- {
			err = errors.Join(err, stops[i]())
		}
	}()
	for _, start := range startSteps {
		stop, err := start(s, ctx)
		if err != nil {
			return err
		}
		stops = append(stops, stop)
	}
	return s.wait(ctx)
}

// wait returns when ctx ends or the HTTP server or the consumer stops on
// its own, which is an error.
func (s *server) wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		s.logger.LogAttrs(ctx, slog.LevelInfo, "shutting down", slog.String("cause", context.Cause(ctx).Error()))
		return nil
	case err := <-s.serveDone:
		s.serveDone = nil
		return fmt.Errorf("http: %w", err)
	case err := <-s.consumerDone:
		s.consumerDone = nil
		return fmt.Errorf("consumer stopped: %w", err)
	}
}

// shutdownCtx bounds one stop step.
func (s *server) shutdownCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.cfg.Kafka.ShutdownTimeout)
}

// startBroker starts the embedded broker when KAFKA_BROKERS says so.
func (s *server) startBroker(ctx context.Context) (stopFunc, error) {
	if !s.cfg.Kafka.Embedded() {
		return nop, nil
	}
	addr := s.cfg.EmbeddedAddr
	broker, err := embedded.Start(embedded.Options{Addr: addr, DataDir: s.cfg.EmbeddedDataDir, Logger: s.logger})
	if opErr := (*net.OpError)(nil); errors.As(err, &opErr) {
		return nil, bindHint(err, "KAFKA_EMBEDDED_ADDR", addr, "another kafkakit serve --embedded")
	} else if err != nil {
		return nil, err // the data directory's trouble, which names it
	}
	s.cfg.Kafka.Brokers = []string{broker.Addr()}
	s.logger.LogAttrs(ctx, slog.LevelWarn, "embedded Kafka broker started: for development only, not for production",
		slog.String("addr", broker.Addr()), slog.String("data_dir", s.cfg.EmbeddedDataDir))
	return func() error { broker.Close(); return nil }, nil
}

// bindHint names the variable that chose addr, and when the address is
// taken says what to change.
func bindHint(err error, variable, addr, likely string) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%s=%q is in use (by %s?): set %s to a free host:port: %w", variable, addr, likely, variable, err)
	}
	return fmt.Errorf("%s=%q: %w", variable, addr, err)
}

// startTracing starts OpenTelemetry tracing when the OTEL_* variables ask
// for it, unless WithTracing gave a tracer, and puts trace ids in the log.
func (s *server) startTracing(ctx context.Context) (stopFunc, error) {
	stop := stopFunc(nop)
	if s.tracing == nil && s.cfg.Tracing {
		tr, shutdown, err := otelenv.FromEnv(ctx)
		if err != nil {
			return nil, err
		}
		s.tracing = tr
		stop = func() error {
			ctx, cancel := s.shutdownCtx()
			defer cancel()
			_ = shutdown(ctx)
			return nil
		}
		s.logger.LogAttrs(ctx, slog.LevelInfo, "tracing on")
	}
	if s.tracing != nil {
		s.logger = slog.New(tracing.LogHandler(s.logger.Handler()))
	}
	return stop, nil
}

// startMetrics makes the registry /metrics serves.
func (s *server) startMetrics(context.Context) (stopFunc, error) {
	s.reg = prometheus.NewRegistry()
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := metrics.New(s.reg)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	return nop, nil
}

// clientOpts are the franz-go options every client of the service gets.
func (s *server) clientOpts(role string) []kgo.Opt {
	opts := []kgo.Opt{s.metrics.ClientOpts(role)}
	if s.tracing != nil {
		opts = append(opts, s.tracing.ClientOpts())
	}
	return opts
}

// startProducer starts the producer; stopping flushes it.
func (s *server) startProducer(context.Context) (stopFunc, error) {
	// A server answers "overloaded" when the producer is full rather than
	// queueing requests behind it.
	prod, err := producer.New(s.cfg.Kafka, producer.Logger(s.logger), producer.Observe(s.metrics), producer.NonBlocking(),
		producer.ClientOpts(s.clientOpts("producer")...))
	if err != nil {
		return nil, err
	}
	s.prod = prod
	return func() error {
		ctx, cancel := s.shutdownCtx()
		defer cancel()
		if err := prod.CloseContext(ctx); err != nil {
			s.logger.LogAttrs(ctx, slog.LevelError, "producer close", logattr.Err(err))
		}
		return nil
	}, nil
}

// startBrokerCheck tries the brokers once, in the background, so that a
// wrong address, certificate or password is reported at once in the log
// rather than at the first request. Stopping cancels the check and waits
// for it, so that it never reports on a producer already closed.
func (s *server) startBrokerCheck(ctx context.Context) (stopFunc, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Kafka.ConnectionTimeout+s.cfg.Kafka.RequestTimeout)
	done := make(chan struct{})
	go func() {
		defer close(done)
		checkBrokers(ctx, s.cfg, s.prod, s.logger)
	}()
	return func() error { cancel(); <-done; return nil }, nil
}

func checkBrokers(ctx context.Context, cfg Config, p *producer.Producer, logger *slog.Logger) {
	err := p.Client().Ping(ctx)
	switch {
	case ctx.Err() != nil:
	case err != nil:
		logger.LogAttrs(ctx, slog.LevelError, "cannot use the brokers; /readyz answers 503 until they answer",
			logattr.Err(cfg.Kafka.Diagnose(err)))
	default:
		logger.LogAttrs(ctx, slog.LevelInfo, "brokers answer", slog.Any("brokers", cfg.Kafka.Brokers))
	}
}

// startConsumer runs the consumer of KAFKA_CONSUMER_TOPICS, if any.
// Stopping lets its handlers finish, commits and leaves the group.
func (s *server) startConsumer(ctx context.Context) (stopFunc, error) {
	// The webhook's connections are the service's to close, after the
	// consumer's last handler has returned.
	transport := webhookTransport()
	if len(s.cfg.ConsumerTopics) > 0 && s.cfg.ConsumerMode == ModeShare {
		opts, h := consumerParts(s.cfg, s.logger, s.metrics, s.tracing, s.clientOpts("consumer"), transport)
		share, err := newShareConsumer(s.cfg, opts, h)
		if err != nil {
			return nil, err
		}
		return s.startShareConsumer(ctx, share, transport)
	}
	cons, err := newConsumer(s.cfg, s.logger, s.metrics, s.tracing, s.clientOpts("consumer"), transport)
	if err != nil || cons == nil {
		return nop, err
	}
	if _, err := s.ensureTopics(ctx, "dead-letter and retry topics", cons.EnsureTopics); err != nil {
		cons.Close()
		return nil, err
	}
	s.cons = cons
	s.metrics.WatchConsumer(cons)
	return s.runConsumer(cons.Run, cons.Close, transport), nil
}

// runConsumer runs run in its own goroutine and returns the stop that
// ends it: it cancels run's context, waits for run to return, then closes
// the consumer and the webhook's idle connections. Run's context is not
// the service's: the consumer stops when the HTTP server has, not when
// the signal arrives.
func (s *server) runConsumer(run func(context.Context) error, closeConsumer func() error, transport *http.Transport) stopFunc {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	s.consumerDone = done
	go func() { done <- run(ctx) }()
	return func() error {
		cancel()
		var err error
		if s.consumerDone != nil { // else Run has ended and said so already
			err = <-s.consumerDone
		}
		closeConsumer() // its error adds nothing to run's: both ended the consumer
		transport.CloseIdleConnections()
		return err
	}
}

// ensureTopics runs check, which makes sure of topics kafkakit writes
// (see internal/owntopics), and reports whether it passed. A cluster that
// refuses, or a topic that must not be created or breaks a promise under
// KAFKA_TOPICS_STRICT, stops start-up with check's error. A cluster that
// cannot be asked does not, as brokers that are down do not: it is
// logged, the component checks again when it connects, and no later
// check is tried now, since each would wait as long.
func (s *server) ensureTopics(ctx context.Context, what string, check func(context.Context) error) (bool, error) {
	if s.topicsUnchecked {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Kafka.ConnectionTimeout+s.cfg.Kafka.RequestTimeout)
	defer cancel()
	err := check(ctx)
	switch {
	case err == nil:
		return true, nil
	case owntopics.IsTopicError(err):
		return false, err
	}
	s.topicsUnchecked = true
	s.logger.LogAttrs(ctx, slog.LevelWarn, "cannot check the "+what+" yet; checked again on connecting",
		logattr.Err(s.cfg.Kafka.Diagnose(err)))
	return false, nil
}

// startQueues makes the queue routes' handler. Stopping, once the HTTP
// server has, closes its share-group members, which releases the records
// they hold unsettled to their groups at once.
func (s *server) startQueues(context.Context) (stopFunc, error) {
	cfg := s.cfg
	q, err := queue.New(cfg.Kafka, s.prod.Client(),
		queue.Logger(s.logger),
		queue.Guard(s.guard),
		queue.AllowedTopics(cfg.AllowedTopics...),
		queue.Secret(cfg.QueueSecret),
		queue.AdvertisedURL(cfg.AdvertisedURL),
		queue.MaxMembers(cfg.QueueMaxMembers),
		queue.IdleTimeout(cfg.QueueIdleTimeout),
		queue.RequestTimeout(cfg.Kafka.RequestTimeout),
		queue.MaxBodyBytes(cfg.MaxBodyBytes),
		queue.ClientOpts(s.clientOpts("queue")...),
		queue.Metrics(s.reg),
		queue.Observe(s.metrics.ObserveHTTP),
		queue.DeadLetters(s.prod, cfg.Kafka.DLQSuffix),
	)
	if err != nil {
		return nil, err
	}
	s.queues = q
	return func() error { q.Close(); return nil }, nil
}

// startHTTP serves the API. Stopping stops taking requests and lets
// in-flight ones finish within the shutdown timeout.
func (s *server) startHTTP(ctx context.Context) (stopFunc, error) {
	if s.cfg.loopbackDefault {
		s.logger.LogAttrs(ctx, slog.LevelInfo, "embedded mode: HTTP listens on "+s.cfg.HTTPAddr+", this machine only; set HTTP_ADDR (e.g. :8080) to listen on other interfaces",
			slog.String("addr", s.cfg.HTTPAddr))
	}
	srv, api := s.newHTTPServer()
	ln, scheme, err := s.listen(srv)
	if err != nil {
		return nil, err
	}
	s.serveDone = make(chan error, 1)
	go func() { s.serveDone <- srv.Serve(ln) }()
	url := openableURL(scheme, ln.Addr())
	attrs := []slog.Attr{slog.String("addr", ln.Addr().String()), slog.String("url", url)}
	if s.cfg.Console {
		attrs = append(attrs, slog.String("console", url+"/console"))
	}
	s.logger.LogAttrs(ctx, slog.LevelInfo, "http server listening", attrs...)
	return func() error {
		ctx, cancel := s.shutdownCtx()
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			s.logger.LogAttrs(ctx, slog.LevelWarn, "http shutdown: in-flight requests cut off", logattr.Err(err))
		}
		if s.serveDone != nil {
			<-s.serveDone // Serve returns at once when Shutdown begins
		}
		api.Close()
		return nil
	}, nil
}

// newHTTPServer returns the server and the send routes' handler, to be
// closed once the server has shut down.
func (s *server) newHTTPServer() (*http.Server, *httpapi.Handler) {
	cfg := s.cfg
	// A body must arrive within the time its answer may take, and the
	// answer waits at most a request timeout for the broker. A stream
	// must send a line within the same time.
	readTimeout := cfg.ReadHeaderTimeout + cfg.Kafka.RequestTimeout
	api := httpapi.New(s.prod,
		httpapi.Logger(s.logger),
		httpapi.MaxBodyBytes(cfg.MaxBodyBytes),
		httpapi.MaxBatch(cfg.MaxBatch),
		httpapi.MaxInFlight(cfg.MaxInFlight),
		httpapi.MaxInFlightBytes(cfg.MaxInFlightBytes),
		httpapi.MaxStreams(cfg.MaxStreams),
		httpapi.StreamIdleTimeout(readTimeout),
		httpapi.RequestTimeout(cfg.Kafka.RequestTimeout),
		httpapi.Guard(s.guard),
		httpapi.ProtectAll(cfg.ProtectAll),
		httpapi.AllowedTopics(cfg.AllowedTopics...),
		httpapi.Readiness(readiness(cfg, s.prod, s.member())),
		httpapi.Metrics(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})),
		httpapi.Observe(s.metrics.ObserveHTTP),
		httpapi.AsyncFailed(s.metrics.AsyncDeliveryFailed),
		httpapi.IdempotencyFrom(s.idempotencyStore()),
		httpapi.Transactions(atomicSender(s.tx)),
	)
	handler := s.withAdmin(api)
	if s.tracing != nil {
		handler = s.tracing.Handler(handler, api.RouteOf)
	}
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      cfg.ReadHeaderTimeout + 2*cfg.Kafka.RequestTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}, api
}

// listen opens HTTP_ADDR, with TLS when a certificate is configured.
func (s *server) listen(srv *http.Server) (net.Listener, string, error) {
	ln, err := net.Listen("tcp", s.cfg.HTTPAddr)
	if err != nil {
		return nil, "", fmt.Errorf("http: %w", bindHint(err, "HTTP_ADDR", s.cfg.HTTPAddr, "another kafkakit serve"))
	}
	if s.cfg.TLSCertFile == "" {
		return ln, "http", nil
	}
	cert, err := tls.LoadX509KeyPair(s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
	if err != nil {
		ln.Close()
		return nil, "", fmt.Errorf("HTTP_TLS_CERT_FILE/HTTP_TLS_KEY_FILE: %w", err)
	}
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	return tls.NewListener(ln, srv.TLSConfig), "https", nil
}

// openableURL is a URL for addr a person can open: a wildcard host
// (":8080", "[::]:8080", "0.0.0.0:8080") becomes localhost.
func openableURL(scheme string, addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return scheme + "://" + addr.String()
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

func newConsumer(cfg Config, logger *slog.Logger, m *metrics.Metrics, tr *tracing.Tracing, clientOpts []kgo.Opt, transport http.RoundTripper) (*consumer.Consumer, error) {
	if len(cfg.ConsumerTopics) == 0 {
		return nil, nil
	}
	opts, h := consumerParts(cfg, logger, m, tr, clientOpts, transport)
	c, err := consumer.New(cfg.Kafka, opts...)
	if err != nil {
		return nil, err
	}
	subOpts := []consumer.SubscribeOption{consumer.KeyConcurrency(cfg.HandlerConcurrency)}
	if cfg.RetryMode == RetryTopics {
		stages := []consumer.FailureStage{consumer.RetryTopics(cfg.RetryDelays...)}
		if cfg.Kafka.DLQSuffix != "" {
			stages = append(stages, consumer.DeadLetterSuffix(cfg.Kafka.DLQSuffix))
		}
		subOpts = append(subOpts, consumer.Failures(consumer.Policy(stages...)))
	}
	for _, topic := range cfg.ConsumerTopics {
		if err := c.Subscribe(topic, cfg.FromBeginning, h, subOpts...); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// consumerParts are the consumer options and the handler of either mode:
// logging, metrics, tracing, and the log or webhook handler.
func consumerParts(cfg Config, logger *slog.Logger, m *metrics.Metrics, tr *tracing.Tracing, clientOpts []kgo.Opt, transport http.RoundTripper) ([]consumer.Option, consumer.Handler) {
	opts := []consumer.Option{consumer.Logger(logger), consumer.Observe(m), consumer.ClientOpts(clientOpts...)}
	webhookOpts := []webhook.Option{webhook.Client(&http.Client{Transport: transport})}
	if tr != nil {
		opts = append(opts, consumer.Use(tr.Middleware()))
		webhookOpts = append(webhookOpts, webhook.Prepare(func(r *http.Request) { tr.Inject(r.Context(), r.Header) }))
	}
	var h consumer.Handler = logHandler{logger.With(logattr.Component("log-handler"))}
	if cfg.Handler == HandlerWebhook {
		webhookOpts = append(webhookOpts, webhook.Timeout(cfg.WebhookTimeout), webhook.AddHeaders(cfg.WebhookHeaders),
			webhook.As(cfg.WebhookFormat), webhook.Sign(cfg.WebhookSecret), webhook.Group(cfg.Kafka.GroupID))
		h = webhook.New(cfg.WebhookURL, webhookOpts...)
	}
	return opts, h
}

// maxIdleWebhookConns is how many idle connections to the webhook are
// kept. Go's default keeps 2 per host, so concurrent handlers (partitions
// times KAFKA_HANDLER_CONCURRENCY) would close a connection after nearly
// every call, leaving a socket in TIME_WAIT each time: at a few thousand
// calls a second that runs the machine out of ports.
const maxIdleWebhookConns = 256

// webhookTransport is http.DefaultTransport's settings with more idle
// connections kept.
func webhookTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = maxIdleWebhookConns
	t.MaxIdleConnsPerHost = maxIdleWebhookConns
	return t
}

// groupMember is a consumer of either mode, as readiness sees it.
type groupMember interface {
	Ready() bool
	Err() error
	Group() string
}

// member is the service's consumer, or nil.
func (s *server) member() groupMember {
	switch {
	case s.cons != nil:
		return s.cons
	case s.share != nil:
		return s.share
	}
	return nil
}

// readiness is ready when a broker answers and the consumer, if any, has
// joined its group. Failures say why in terms of the configuration.
func readiness(cfg Config, p *producer.Producer, c groupMember) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := p.Client().Ping(ctx); err != nil {
			return fmt.Errorf("no broker answers: %w", cfg.Kafka.Diagnose(err))
		}
		if c == nil {
			return nil
		}
		if !c.Ready() {
			if err := c.Err(); err != nil {
				return fmt.Errorf("consumer group %q not joined: %w", c.Group(), cfg.Kafka.Diagnose(err))
			}
			return fmt.Errorf("consumer group %q not joined yet", c.Group())
		}
		return nil
	}
}
