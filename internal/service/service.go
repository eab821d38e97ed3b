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
	"time"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/httpapi"
	"github.com/kafkakit/kafkakit/internal/embedded"
	"github.com/kafkakit/kafkakit/metrics"
	"github.com/kafkakit/kafkakit/producer"
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
// shutdown timeout (KAFKA_SHUTDOWN_TIMEOUT).
func Run(ctx context.Context, cfg Config, logger *slog.Logger, opts ...Option) error {
	var o runOptions
	for _, opt := range opts {
		opt(&o)
	}
	logger.LogAttrs(ctx, slog.LevelInfo, "kafkakit starting", slog.String("config", cfg.String()))
	err := run(ctx, cfg, logger, o)
	logger.LogAttrs(context.Background(), slog.LevelInfo, "kafkakit stopped")
	return err
}

func run(ctx context.Context, cfg Config, logger *slog.Logger, o runOptions) error {
	if cfg.Kafka.Embedded() {
		broker, err := embedded.Start(embedded.Options{Addr: cfg.EmbeddedAddr, DataDir: cfg.EmbeddedDataDir, Logger: logger})
		if err != nil {
			return err
		}
		defer broker.Close()
		cfg.Kafka.Brokers = []string{broker.Addr()}
		logger.LogAttrs(ctx, slog.LevelWarn, "embedded Kafka broker started: for development only, not for production",
			slog.String("addr", broker.Addr()), slog.String("data_dir", cfg.EmbeddedDataDir))
	}

	tr := o.tracing
	if tr == nil && cfg.Tracing {
		var shutdown func(context.Context) error
		var err error
		if tr, shutdown, err = tracing.FromEnv(ctx); err != nil {
			return err
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), cfg.Kafka.ShutdownTimeout)
			defer cancel()
			_ = shutdown(ctx)
		}()
		logger.LogAttrs(ctx, slog.LevelInfo, "tracing on")
	}
	if tr != nil {
		logger = slog.New(tracing.LogHandler(logger.Handler()))
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := metrics.New(reg)
	if err != nil {
		return err
	}
	clientOpts := func(role string) []kgo.Opt {
		opts := []kgo.Opt{m.ClientOpts(role)}
		if tr != nil {
			opts = append(opts, tr.ClientOpts())
		}
		return opts
	}

	// A server answers "overloaded" when the producer is full rather than
	// queueing requests behind it.
	prod, err := producer.New(cfg.Kafka, producer.Logger(logger), producer.Observe(m), producer.NonBlocking(),
		producer.ClientOpts(clientOpts("producer")...))
	if err != nil {
		return err
	}
	shutdownCtx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), cfg.Kafka.ShutdownTimeout)
	}
	defer func() {
		ctx, cancel := shutdownCtx()
		defer cancel()
		if err := prod.CloseContext(ctx); err != nil {
			logger.LogAttrs(ctx, slog.LevelError, "producer close", slog.String("error", err.Error()))
		}
	}()

	cons, err := newConsumer(cfg, logger, m, tr, clientOpts("consumer"))
	if err != nil {
		return err
	}
	consumerDone := make(chan error, 1)
	consumerCtx, stopConsumer := context.WithCancel(context.Background())
	defer stopConsumer()
	var statuses func() []consumer.Status
	if cons != nil {
		m.WatchConsumer(cons)
		statuses = func() []consumer.Status { return []consumer.Status{cons.Status()} }
		go func() { consumerDone <- cons.Run(consumerCtx) }()
		defer cons.Close()
	}

	api := httpapi.New(prod,
		httpapi.Logger(logger),
		httpapi.MaxBodyBytes(cfg.MaxBodyBytes),
		httpapi.MaxBatch(cfg.MaxBatch),
		httpapi.MaxInFlight(cfg.MaxInFlight),
		httpapi.MaxInFlightBytes(cfg.MaxInFlightBytes),
		httpapi.RequestTimeout(cfg.Kafka.RequestTimeout),
		httpapi.AuthToken(cfg.AuthToken),
		httpapi.ProtectAll(cfg.ProtectAll),
		httpapi.AllowedTopics(cfg.AllowedTopics...),
		httpapi.Readiness(readiness(cfg, prod, cons)),
		httpapi.Metrics(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})),
		httpapi.Observe(m.ObserveHTTP),
		httpapi.Consumers(statuses),
	)
	var handler http.Handler = api
	if tr != nil {
		handler = tr.Handler(api, api.RouteOf)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		// A body must arrive within the time its answer may take, and the
		// answer waits at most a request timeout for the broker.
		ReadTimeout:    cfg.ReadHeaderTimeout + cfg.Kafka.RequestTimeout,
		WriteTimeout:   cfg.ReadHeaderTimeout + 2*cfg.Kafka.RequestTimeout,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	scheme := "http"
	if cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			ln.Close()
			return fmt.Errorf("HTTP_TLS_CERT_FILE/HTTP_TLS_KEY_FILE: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
		scheme = "https"
	}
	go checkBrokers(ctx, cfg, prod, logger)
	serveDone := make(chan error, 1)
	go func() { serveDone <- srv.Serve(ln) }()
	logger.LogAttrs(ctx, slog.LevelInfo, "http server listening",
		slog.String("addr", ln.Addr().String()), slog.String("url", scheme+"://"+ln.Addr().String()))

	var runErr error
	consumerRunning := cons != nil
	select {
	case <-ctx.Done():
		logger.LogAttrs(ctx, slog.LevelInfo, "shutting down", slog.String("cause", context.Cause(ctx).Error()))
	case err := <-serveDone:
		runErr = fmt.Errorf("http: %w", err)
	case err := <-consumerDone:
		runErr = fmt.Errorf("consumer stopped: %w", err)
		consumerRunning = false
	}

	sctx, cancel := shutdownCtx()
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.LogAttrs(sctx, slog.LevelWarn, "http shutdown: in-flight requests cut off", slog.String("error", err.Error()))
	}
	if consumerRunning {
		stopConsumer()
		if err := <-consumerDone; err != nil {
			runErr = errors.Join(runErr, err)
		}
	}
	return runErr
}

// checkBrokers tries the brokers once at start-up, so that a wrong address,
// certificate or password is reported at once in the log rather than at
// the first request.
func checkBrokers(ctx context.Context, cfg Config, p *producer.Producer, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Kafka.ConnectionTimeout+cfg.Kafka.RequestTimeout)
	defer cancel()
	if err := p.Client().Ping(ctx); err != nil && ctx.Err() == nil {
		logger.LogAttrs(ctx, slog.LevelError, "cannot use the brokers; /readyz answers 503 until they answer",
			slog.String("error", cfg.Kafka.Diagnose(err).Error()))
		return
	}
	if ctx.Err() == nil {
		logger.LogAttrs(ctx, slog.LevelInfo, "brokers answer", slog.Any("brokers", cfg.Kafka.Brokers))
	}
}

func newConsumer(cfg Config, logger *slog.Logger, m *metrics.Metrics, tr *tracing.Tracing, clientOpts []kgo.Opt) (*consumer.Consumer, error) {
	if len(cfg.ConsumerTopics) == 0 {
		return nil, nil
	}
	opts := []consumer.Option{consumer.Logger(logger), consumer.Observe(m), consumer.ClientOpts(clientOpts...)}
	var webhookOpts []webhook.Option
	if tr != nil {
		opts = append(opts, consumer.Use(tr.Middleware()))
		webhookOpts = append(webhookOpts, webhook.Prepare(func(r *http.Request) { tr.Inject(r.Context(), r.Header) }))
	}
	var h consumer.Handler = logHandler{logger.With("component", "log-handler")}
	if cfg.Handler == HandlerWebhook {
		h = webhook.New(cfg.WebhookURL, webhookOpts...)
	}
	c, err := consumer.New(cfg.Kafka, opts...)
	if err != nil {
		return nil, err
	}
	for _, topic := range cfg.ConsumerTopics {
		if err := c.Subscribe(topic, cfg.FromBeginning, h); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// readiness is ready when a broker answers and the consumer, if any, has
// joined its group. Failures say why in terms of the configuration.
func readiness(cfg Config, p *producer.Producer, c *consumer.Consumer) func(context.Context) error {
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
