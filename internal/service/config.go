package service

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/internal/env"
	"github.com/kafkakit/kafkakit/tracing"
)

// Handler names accepted by KAFKA_HANDLER.
const (
	HandlerLog     = "log"
	HandlerWebhook = "webhook"
)

// Config is everything `kafkakit serve` reads from the environment.
type Config struct {
	Kafka config.Kafka
	Log   config.Logging

	// ConsumerTopics are consumed and handed to Handler
	// (KAFKA_CONSUMER_TOPICS); none means no consumer.
	ConsumerTopics []string
	// FromBeginning starts a new group at the oldest message
	// (KAFKA_CONSUMER_FROM_BEGINNING, default false).
	FromBeginning bool
	// Handler is "log" or "webhook" (KAFKA_HANDLER, default log).
	Handler string
	// WebhookURL receives each message when Handler is webhook
	// (KAFKA_WEBHOOK_URL).
	WebhookURL string

	// EmbeddedAddr is where the embedded broker listens
	// (KAFKA_EMBEDDED_ADDR, default 127.0.0.1:9092).
	EmbeddedAddr string
	// EmbeddedDataDir keeps the embedded broker's data across restarts
	// (KAFKA_EMBEDDED_DATA_DIR); empty keeps it in memory.
	EmbeddedDataDir string

	// HTTPAddr is the HTTP listen address (HTTP_ADDR, default :8080).
	HTTPAddr string
	// AuthToken, when set, is required as a bearer token on /kafka/*
	// (HTTP_AUTH_TOKEN).
	AuthToken config.Secret
	// ProtectAll requires the token on every route
	// (HTTP_AUTH_TOKEN_PROTECT_ALL, default false).
	ProtectAll bool
	// AllowedTopics limits what may be sent (HTTP_ALLOWED_TOPICS): exact
	// names or prefix.* patterns; none allows all.
	AllowedTopics []string
	// MaxBodyBytes and MaxBatch are request limits (HTTP_MAX_BODY_BYTES,
	// default 1048576; HTTP_MAX_BATCH, default 1000).
	MaxBodyBytes int64
	MaxBatch     int
	// MaxInFlight bounds send requests handled at once; more are answered
	// 503 (HTTP_MAX_IN_FLIGHT, default 256).
	MaxInFlight int
	// MaxInFlightBytes bounds their bodies' bytes (HTTP_MAX_IN_FLIGHT_BYTES,
	// default 16 MiB).
	MaxInFlightBytes int64
	// ReadHeaderTimeout disconnects clients slow to send their headers
	// (HTTP_READ_HEADER_TIMEOUT, default 10s).
	ReadHeaderTimeout time.Duration
	// TLSCertFile and TLSKeyFile, both set, serve HTTPS
	// (HTTP_TLS_CERT_FILE, HTTP_TLS_KEY_FILE).
	TLSCertFile, TLSKeyFile string

	// IdempotencyTTL is how long an Idempotency-Key is remembered
	// (HTTP_IDEMPOTENCY_TTL, default 24h); 0 disables the feature.
	IdempotencyTTL time.Duration
	// TransactionalIDPrefix starts the transactional ids of atomic
	// batches (KAFKA_TRANSACTIONAL_ID_PREFIX, default <client id>-tx).
	TransactionalIDPrefix string

	// Tracing is on when the standard OpenTelemetry variables ask for it
	// (OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_ENDPOINT, ...); see
	// tracing.Enabled.
	Tracing bool
}

// FromEnv reads the service configuration through lookup. The error names
// every bad variable.
func FromEnv(lookup func(string) (string, bool)) (Config, error) {
	var errs []error
	k, err := config.FromEnv(lookup)
	errs = append(errs, err)
	l, err := config.LoggingFromEnv(lookup)
	errs = append(errs, err)

	p := env.NewParser(lookup)
	c := Config{
		Kafka:             k,
		Log:               l,
		ConsumerTopics:    p.List("KAFKA_CONSUMER_TOPICS"),
		FromBeginning:     p.Bool("KAFKA_CONSUMER_FROM_BEGINNING", false),
		Handler:           p.Enum("KAFKA_HANDLER", HandlerLog, HandlerLog, HandlerWebhook),
		WebhookURL:        p.Raw("KAFKA_WEBHOOK_URL"),
		EmbeddedAddr:      p.String("KAFKA_EMBEDDED_ADDR", "127.0.0.1:9092"),
		EmbeddedDataDir:   p.Raw("KAFKA_EMBEDDED_DATA_DIR"),
		HTTPAddr:          p.String("HTTP_ADDR", ":8080"),
		AuthToken:         config.Secret(p.Secret("HTTP_AUTH_TOKEN")),
		ProtectAll:        p.Bool("HTTP_AUTH_TOKEN_PROTECT_ALL", false),
		AllowedTopics:     p.List("HTTP_ALLOWED_TOPICS"),
		MaxBodyBytes:      int64(p.Int("HTTP_MAX_BODY_BYTES", 1<<20, 1, math.MaxInt32)),
		MaxBatch:          p.Int("HTTP_MAX_BATCH", 1000, 1, math.MaxInt32),
		MaxInFlight:       p.Int("HTTP_MAX_IN_FLIGHT", 256, 1, math.MaxInt32),
		MaxInFlightBytes:  int64(p.Int("HTTP_MAX_IN_FLIGHT_BYTES", 16<<20, 1, math.MaxInt)),
		ReadHeaderTimeout: p.Millis("HTTP_READ_HEADER_TIMEOUT", 10*time.Second, time.Millisecond),
		TLSCertFile:       p.Raw("HTTP_TLS_CERT_FILE"),
		TLSKeyFile:        p.Raw("HTTP_TLS_KEY_FILE"),
		Tracing:           tracing.Enabled(lookup),
	}
	c.IdempotencyTTL = p.Millis("HTTP_IDEMPOTENCY_TTL", 24*time.Hour, 0)
	c.TransactionalIDPrefix = p.String("KAFKA_TRANSACTIONAL_ID_PREFIX", k.ClientID+"-tx")
	for _, t := range c.ConsumerTopics {
		if err := config.ValidateTopic(t); err != nil {
			p.Fail("KAFKA_CONSUMER_TOPICS", t, err.Error())
		}
	}
	if c.Handler == HandlerWebhook {
		if c.WebhookURL == "" {
			p.Fail("KAFKA_WEBHOOK_URL", "", "must be set with KAFKA_HANDLER=webhook")
		} else if u, err := url.Parse(c.WebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.Fail("KAFKA_WEBHOOK_URL", c.WebhookURL, "is not an http:// or https:// URL")
		}
	}
	if _, _, err := net.SplitHostPort(c.EmbeddedAddr); err != nil {
		p.Fail("KAFKA_EMBEDDED_ADDR", c.EmbeddedAddr, "is not host:port")
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		p.Fail("HTTP_ADDR", c.HTTPAddr, "is not host:port or :port")
	}
	for _, pattern := range c.AllowedTopics {
		name := strings.TrimSuffix(pattern, "*")
		if err := config.ValidateTopic(name); err != nil && name != "" {
			p.Fail("HTTP_ALLOWED_TOPICS", pattern, "is neither a topic name nor prefix.*: "+err.Error())
		}
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		p.Fail("HTTP_TLS_CERT_FILE", c.TLSCertFile, "and HTTP_TLS_KEY_FILE must be set together")
	}
	errs = append(errs, p.Err())
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	return c, nil
}

// String describes the configuration for the start-up log line, without
// secrets.
func (c Config) String() string {
	return fmt.Sprintf("brokers=%v client_id=%s group=%s topics=%v handler=%s http=%s",
		c.Kafka.Brokers, c.Kafka.ClientID, c.Kafka.GroupID, c.ConsumerTopics, c.Handler, c.HTTPAddr)
}
