package service

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/httpapi"
	"github.com/kafkakit/kafkakit/idempotency"
	"github.com/kafkakit/kafkakit/internal/env"
	"github.com/kafkakit/kafkakit/internal/otelenv"
	"github.com/kafkakit/kafkakit/queue"
	"github.com/kafkakit/kafkakit/webhook"
)

// Handler names accepted by KAFKA_HANDLER.
const (
	HandlerLog     = "log"
	HandlerWebhook = "webhook"
)

// maxHandlerConcurrency caps KAFKA_HANDLER_CONCURRENCY: each partition
// starts that many goroutines and may hold 64 times as many records
// dispatched and not yet committable, so a typo of a few zeros must not
// start millions.
const maxHandlerConcurrency = 1024

// HTTP_ADDR's defaults: every interface, or only this machine's loopback
// with the embedded broker (KAFKA_BROKERS=embedded, serve --embedded).
const (
	DefaultHTTPAddr  = ":8080"
	EmbeddedHTTPAddr = "127.0.0.1:8080"
)

// maxStreams caps HTTP_MAX_STREAMS: each stream may hold its window,
// 256 KiB, so a typo of a few zeros must not promise gigabytes.
const maxStreams = 4096

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
	// WebhookTimeout bounds one webhook call (KAFKA_WEBHOOK_TIMEOUT,
	// default 10s).
	WebhookTimeout time.Duration
	// WebhookHeaders are added to every webhook call
	// (KAFKA_WEBHOOK_HEADERS); a secret.
	WebhookHeaders webhook.Headers
	// WebhookFormat is kafkakit or cloudevents (KAFKA_WEBHOOK_FORMAT,
	// default kafkakit).
	WebhookFormat webhook.Format
	// WebhookSecret, when set, signs every call as Standard Webhooks says
	// (KAFKA_WEBHOOK_SECRET); a secret.
	WebhookSecret webhook.Secret
	// HandlerConcurrency is how many records of one partition are handled
	// at once, never two of one key (KAFKA_HANDLER_CONCURRENCY, default 1:
	// one at a time, in offset order). In share mode, it is how many
	// records the instance handles at once, across all partitions.
	HandlerConcurrency int
	// ConsumerMode is ModeGroup, a consumer group (ordered per partition
	// or key), or ModeShare, a share group (unordered, not capped by
	// partitions) (KAFKA_CONSUMER_MODE, default group).
	ConsumerMode string
	// RetryMode is how a failed message is retried
	// (KAFKA_HANDLER_RETRY_MODE, default blocking): RetryBlocking retries
	// it in place, holding its partition (its key, with
	// HandlerConcurrency); RetryTopics sends it through retry topics.
	RetryMode string
	// RetryDelays are the retry topics' delays in topics mode
	// (KAFKA_HANDLER_RETRY_DELAYS, milliseconds, default
	// 1000,10000,60000): one retry topic per distinct delay.
	RetryDelays []time.Duration

	// EmbeddedAddr is where the embedded broker listens
	// (KAFKA_EMBEDDED_ADDR, default 127.0.0.1:9092).
	EmbeddedAddr string
	// EmbeddedDataDir keeps the embedded broker's data across restarts
	// (KAFKA_EMBEDDED_DATA_DIR); empty keeps it in memory.
	EmbeddedDataDir string

	// HTTPAddr is the HTTP listen address (HTTP_ADDR, default :8080, or
	// 127.0.0.1:8080 with the embedded broker: a development broker's
	// door, without a token by default, stays on this machine).
	HTTPAddr string
	// loopbackDefault is set when HTTP_ADDR was not and the embedded
	// broker made the default 127.0.0.1:8080, for the start-up log.
	loopbackDefault bool
	// AuthToken, when set, is a bearer token with every scope, named
	// "default" (HTTP_AUTH_TOKEN).
	AuthToken config.Secret
	// TokensFile, when set, names the file of named bearer tokens with
	// scopes (HTTP_TOKENS_FILE; see apicontract.ReadTokens), read at
	// start-up and again on SIGHUP. With it or AuthToken set, /kafka/*
	// requires a known token.
	TokensFile string
	// OIDCIssuer, when set, makes JWT bearer tokens its keys signed
	// valid too (HTTP_OIDC_ISSUER), for OIDCAudience (HTTP_OIDC_AUDIENCE,
	// required with it), their scopes read from the claim OIDCScopesClaim
	// (HTTP_OIDC_SCOPES_CLAIM, default scope). See package oidcauth.
	OIDCIssuer, OIDCAudience, OIDCScopesClaim string
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
	// MaxStreams bounds the POST /kafka/stream exchanges open at once, a
	// budget apart from MaxInFlight's (HTTP_MAX_STREAMS, default 64).
	MaxStreams int
	// ReadHeaderTimeout disconnects clients slow to send their headers
	// (HTTP_READ_HEADER_TIMEOUT, default 10s).
	ReadHeaderTimeout time.Duration
	// TLSCertFile and TLSKeyFile, both set, serve HTTPS
	// (HTTP_TLS_CERT_FILE, HTTP_TLS_KEY_FILE).
	TLSCertFile, TLSKeyFile string
	// Console serves the web console at /console (HTTP_CONSOLE, default
	// true).
	Console bool

	// IdempotencyTTL is how long an Idempotency-Key is remembered
	// (HTTP_IDEMPOTENCY_TTL, default 24h); 0 disables the feature.
	IdempotencyTTL time.Duration
	// IdempotencyMaxKeys and IdempotencyMaxBytes bound the
	// Idempotency-Keys held in memory, in number and in bytes; the oldest
	// are evicted beyond either (HTTP_IDEMPOTENCY_MAX_KEYS, default 100000;
	// HTTP_IDEMPOTENCY_MAX_BYTES, default 128 MiB).
	IdempotencyMaxKeys  int
	IdempotencyMaxBytes int64
	// TransactionalIDPrefix starts the transactional ids of atomic
	// batches (KAFKA_TRANSACTIONAL_ID_PREFIX, default <client id>-tx).
	TransactionalIDPrefix string

	// QueueSecret signs the receipts of the queue routes
	// (HTTP_QUEUE_SECRET, at least 16 bytes); a secret. Replicas given
	// the same one accept each other's receipts. Unset, each process
	// signs with a random key: one replica only.
	QueueSecret config.Secret
	// AdvertisedURL is the base URL other replicas reach this one at
	// (HTTP_ADVERTISED_URL), for acknowledgements forwarded to the
	// replica holding their lease. Needed with QueueSecret.
	AdvertisedURL string
	// QueueMaxMembers bounds the share-group members kept open for the
	// queue routes (HTTP_QUEUE_MAX_MEMBERS, default 64).
	QueueMaxMembers int
	// QueueIdleTimeout closes a member that has held no lease and served
	// no receive for this long (HTTP_QUEUE_IDLE_TIMEOUT, default 60s).
	QueueIdleTimeout time.Duration

	// Tracing is on when the standard OpenTelemetry variables ask for it
	// (OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_ENDPOINT, ...); see
	// otelenv.Enabled.
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
		Kafka:              k,
		Log:                l,
		ConsumerTopics:     p.List("KAFKA_CONSUMER_TOPICS"),
		FromBeginning:      p.Bool("KAFKA_CONSUMER_FROM_BEGINNING", false),
		Handler:            p.Enum("KAFKA_HANDLER", HandlerLog, HandlerLog, HandlerWebhook),
		WebhookURL:         p.Raw("KAFKA_WEBHOOK_URL"),
		HandlerConcurrency: p.Int("KAFKA_HANDLER_CONCURRENCY", 1, 1, maxHandlerConcurrency),
		WebhookTimeout:     p.Millis("KAFKA_WEBHOOK_TIMEOUT", webhook.DefaultTimeout, time.Millisecond),
		EmbeddedAddr:       p.String("KAFKA_EMBEDDED_ADDR", "127.0.0.1:9092"),
		EmbeddedDataDir:    p.Raw("KAFKA_EMBEDDED_DATA_DIR"),
		HTTPAddr:           p.String("HTTP_ADDR", DefaultHTTPAddr),
		AuthToken:          config.Secret(p.Secret("HTTP_AUTH_TOKEN")),
		TokensFile:         p.Raw("HTTP_TOKENS_FILE"),
		OIDCIssuer:         p.Raw("HTTP_OIDC_ISSUER"),
		OIDCAudience:       p.Raw("HTTP_OIDC_AUDIENCE"),
		OIDCScopesClaim:    p.String("HTTP_OIDC_SCOPES_CLAIM", "scope"),
		ProtectAll:         p.Bool("HTTP_AUTH_TOKEN_PROTECT_ALL", false),
		AllowedTopics:      p.List("HTTP_ALLOWED_TOPICS"),
		MaxBodyBytes:       int64(p.Int("HTTP_MAX_BODY_BYTES", httpapi.DefaultMaxBodyBytes, 1, math.MaxInt32)),
		MaxBatch:           p.Int("HTTP_MAX_BATCH", httpapi.DefaultMaxBatch, 1, math.MaxInt32),
		MaxInFlight:        p.Int("HTTP_MAX_IN_FLIGHT", httpapi.DefaultMaxInFlight, 1, math.MaxInt32),
		MaxInFlightBytes:   int64(p.Int("HTTP_MAX_IN_FLIGHT_BYTES", httpapi.DefaultMaxInFlightBytes, 1, math.MaxInt)),
		MaxStreams:         p.Int("HTTP_MAX_STREAMS", httpapi.DefaultMaxStreams, 1, maxStreams),
		ReadHeaderTimeout:  p.Millis("HTTP_READ_HEADER_TIMEOUT", 10*time.Second, time.Millisecond),
		TLSCertFile:        p.Raw("HTTP_TLS_CERT_FILE"),
		TLSKeyFile:         p.Raw("HTTP_TLS_KEY_FILE"),
		Console:            p.Bool("HTTP_CONSOLE", true),
		Tracing:            otelenv.Enabled(lookup),
	}
	if p.Raw("HTTP_ADDR") == "" && k.Embedded() {
		c.HTTPAddr, c.loopbackDefault = EmbeddedHTTPAddr, true
	}
	c.IdempotencyTTL = p.Millis("HTTP_IDEMPOTENCY_TTL", 24*time.Hour, 0)
	c.IdempotencyMaxKeys = p.Int("HTTP_IDEMPOTENCY_MAX_KEYS", idempotency.DefaultMaxKeys, 1, math.MaxInt32)
	c.IdempotencyMaxBytes = int64(p.Int("HTTP_IDEMPOTENCY_MAX_BYTES", idempotency.DefaultMaxBytes, 1, math.MaxInt))
	c.TransactionalIDPrefix = p.String("KAFKA_TRANSACTIONAL_ID_PREFIX", k.ClientID+"-tx")
	for _, t := range c.ConsumerTopics {
		if err := config.ValidateTopic(t); err != nil {
			p.Fail("KAFKA_CONSUMER_TOPICS", t, err.Error())
		}
	}
	readWebhook(p, &c)
	readRetry(p, &c)
	readQueues(p, &c)
	readConsumerMode(p, &c)
	checkAddresses(p, &c)
	readOIDC(p, &c)
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		p.Fail("HTTP_TLS_CERT_FILE", c.TLSCertFile, "and HTTP_TLS_KEY_FILE must be set together")
	}
	errs = append(errs, p.Err())
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	return c, nil
}

// checkAddresses reports the webhook URL, the listen addresses and the
// allowlist's patterns that cannot be used.
func checkAddresses(p *env.Parser, c *Config) {
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
}

// maxQueueMembers caps HTTP_QUEUE_MAX_MEMBERS: each member is a Kafka
// client with its connections and up to 1000 records in hand.
const maxQueueMembers = 4096

// readQueues reads the queue routes' variables. A secret without an
// advertised URL is an error: another replica could check this one's
// receipts but not reach it.
func readQueues(p *env.Parser, c *Config) {
	c.QueueSecret = config.Secret(p.Secret("HTTP_QUEUE_SECRET"))
	c.AdvertisedURL = p.Raw("HTTP_ADVERTISED_URL")
	c.QueueMaxMembers = p.Int("HTTP_QUEUE_MAX_MEMBERS", queue.DefaultMaxMembers, 1, maxQueueMembers)
	c.QueueIdleTimeout = p.Millis("HTTP_QUEUE_IDLE_TIMEOUT", queue.DefaultIdleTimeout, time.Millisecond)
	if n := len(c.QueueSecret.Reveal()); n > 0 && n < queue.MinSecretLen {
		p.Fail("HTTP_QUEUE_SECRET", "", fmt.Sprintf("is %d bytes long; it must have at least %d", n, queue.MinSecretLen))
	}
	if c.AdvertisedURL != "" {
		u, err := url.Parse(c.AdvertisedURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			p.Fail("HTTP_ADVERTISED_URL", c.AdvertisedURL, "is not a base URL such as http://10.0.0.5:8080")
		}
	}
	if c.QueueSecret.Reveal() != "" && c.AdvertisedURL == "" {
		p.Fail("HTTP_ADVERTISED_URL", "", "must be set with HTTP_QUEUE_SECRET: the other replicas forward acknowledgements of this one's receipts there")
	}
}

// The retry modes KAFKA_HANDLER_RETRY_MODE accepts.
const (
	RetryBlocking = "blocking"
	RetryTopics   = "topics"
)

// defaultRetryDelays is KAFKA_HANDLER_RETRY_DELAYS's default.
var defaultRetryDelays = []time.Duration{time.Second, 10 * time.Second, time.Minute}

// readRetry reads the retry mode and delays. Topics mode needs the range
// assigner (see consumer.RetryTopics): it is the default then, and
// another first choice is an error.
func readRetry(p *env.Parser, c *Config) {
	c.RetryMode = p.Enum("KAFKA_HANDLER_RETRY_MODE", RetryBlocking, RetryBlocking, RetryTopics)
	c.RetryDelays = slices.Clone(defaultRetryDelays)
	if raw := p.Raw("KAFKA_HANDLER_RETRY_DELAYS"); raw != "" {
		c.RetryDelays = nil
		for item := range strings.SplitSeq(raw, ",") {
			ms, err := strconv.ParseInt(strings.TrimSpace(item), 10, 64)
			if err != nil || ms <= 0 || ms > math.MaxInt64/int64(time.Millisecond) {
				p.Fail("KAFKA_HANDLER_RETRY_DELAYS", raw, fmt.Sprintf("item %q is not a positive whole number of milliseconds", strings.TrimSpace(item)))
				return
			}
			c.RetryDelays = append(c.RetryDelays, time.Duration(ms)*time.Millisecond)
		}
	}
	if c.RetryMode != RetryTopics {
		return
	}
	if p.Raw(config.EnvAssigners) == "" {
		c.Kafka.Assigners = []string{config.AssignerRange}
	} else if len(c.Kafka.Assigners) > 0 && c.Kafka.Assigners[0] != config.AssignerRange {
		p.Fail(config.EnvAssigners, p.Raw(config.EnvAssigners),
			"must name range first with KAFKA_HANDLER_RETRY_MODE=topics: key order through the retry topics needs a partition's retry partitions on the same member")
	}
}

// readOIDC checks the OIDC issuer's settings: an http(s) URL, with an
// audience.
func readOIDC(p *env.Parser, c *Config) {
	if c.OIDCIssuer == "" {
		if c.OIDCAudience != "" {
			p.Fail("HTTP_OIDC_AUDIENCE", c.OIDCAudience, "is set but HTTP_OIDC_ISSUER is not")
		}
		return
	}
	if u, err := url.Parse(c.OIDCIssuer); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.Fail("HTTP_OIDC_ISSUER", c.OIDCIssuer, "is not an http:// or https:// URL")
	}
	if c.OIDCAudience == "" {
		p.Fail("HTTP_OIDC_AUDIENCE", "", "must be set with HTTP_OIDC_ISSUER: the aud a token must name")
	}
}

// readWebhook reads the webhook's headers, format and secret. Errors never
// show the headers' values or the secret.
func readWebhook(p *env.Parser, c *Config) {
	var err error
	if v := p.Secret("KAFKA_WEBHOOK_HEADERS"); strings.TrimSpace(v) != "" {
		if c.WebhookHeaders, err = webhook.ParseHeaders(v); err != nil {
			p.Fail("KAFKA_WEBHOOK_HEADERS", "", strings.TrimPrefix(err.Error(), "webhook: "))
		}
	}
	if c.WebhookFormat, err = webhook.ParseFormat(p.String("KAFKA_WEBHOOK_FORMAT", string(webhook.FormatKafkakit))); err != nil {
		p.Fail("KAFKA_WEBHOOK_FORMAT", p.Raw("KAFKA_WEBHOOK_FORMAT"), "must be one of kafkakit, cloudevents")
	}
	if v := p.Secret("KAFKA_WEBHOOK_SECRET"); v != "" {
		if c.WebhookSecret, err = webhook.ParseSecret(v); err != nil {
			p.Fail("KAFKA_WEBHOOK_SECRET", "", strings.TrimPrefix(err.Error(), "webhook: "))
		}
	}
}

// String describes the configuration for the start-up log line, without
// secrets.
func (c Config) String() string {
	return fmt.Sprintf("brokers=%v client_id=%s group=%s topics=%v consumer_mode=%s handler=%s handler_concurrency=%d http=%s idempotent=%t",
		c.Kafka.Brokers, c.Kafka.ClientID, c.Kafka.GroupID, c.ConsumerTopics, c.ConsumerMode, c.Handler, c.HandlerConcurrency, c.HTTPAddr, c.Kafka.Idempotent())
}
