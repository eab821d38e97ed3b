package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kafkakit/kafkakit/internal/env"
)

// EmbeddedBrokers is the KAFKA_BROKERS value that asks for the in-process
// development broker instead of a real cluster.
const EmbeddedBrokers = "embedded"

// Acks is how many replicas must acknowledge a produced record.
type Acks string

// The acknowledgement levels. Only AcksAll allows idempotent production.
const (
	AcksAll    Acks = "all"    // every in-sync replica
	AcksLeader Acks = "leader" // the partition leader only
	AcksNone   Acks = "none"   // no acknowledgement at all
)

// Compression codecs accepted by KAFKA_COMPRESSION.
var compressions = []string{"none", "gzip", "snappy", "lz4", "zstd"}

// Group protocols accepted by KAFKA_GROUP_PROTOCOL.
const (
	GroupProtocolClassic  = "classic"  // client-side assignment through JoinGroup/SyncGroup
	GroupProtocolConsumer = "consumer" // KIP-848, the broker assigns partitions
)

// Kafka is everything kafkakit needs to reach and use a Kafka cluster. The
// zero value is not useful: start from [Default] or [FromEnv]. Each field
// names the environment variable that sets it and its default. Times are
// read from the environment as milliseconds.
type Kafka struct {
	// Brokers are the seed brokers as host:port (KAFKA_BROKERS, default
	// localhost:9092). The single value "embedded" asks for the in-process
	// development broker; see [Kafka.Embedded].
	Brokers []string
	// ClientID names this client to the brokers (KAFKA_CLIENT_ID, default
	// kafkakit).
	ClientID string
	// GroupID is the consumer group (KAFKA_GROUP_ID, default ClientID +
	// "-group").
	GroupID string
	// GroupProtocol is "classic" or "consumer", the KIP-848 protocol
	// (KAFKA_GROUP_PROTOCOL, default classic).
	GroupProtocol string

	// SessionTimeout is how long the group waits for a silent member before
	// giving its partitions away (KAFKA_SESSION_TIMEOUT, default 30s).
	SessionTimeout time.Duration
	// HeartbeatInterval is how often a member tells the group it is alive;
	// it must be below SessionTimeout (KAFKA_HEARTBEAT_INTERVAL, default
	// 3s).
	HeartbeatInterval time.Duration

	// MaxBytesPerPartition caps one partition's share of a fetch
	// (KAFKA_MAX_BYTES_PER_PARTITION, default 1048576).
	MaxBytesPerPartition int32
	// MinBytes is how much data a fetch waits for (KAFKA_MIN_BYTES,
	// default 1).
	MinBytes int32
	// MaxWaitTime is how long a fetch waits for MinBytes
	// (KAFKA_MAX_WAIT_TIME, default 5s).
	MaxWaitTime time.Duration

	// MaxInFlightRequests is how many produce requests may be in flight to
	// one broker (KAFKA_MAX_IN_FLIGHT_REQUESTS, default 5). Idempotent
	// production (Acks all) allows at most 5.
	MaxInFlightRequests int
	// RequestTimeout bounds a produce request at the broker and the time
	// spent retrying any other request (KAFKA_REQUEST_TIMEOUT, default 30s).
	RequestTimeout time.Duration
	// ConnectionTimeout bounds dialing a broker, TLS handshake included
	// (KAFKA_CONNECTION_TIMEOUT, default 1s).
	ConnectionTimeout time.Duration
	// EnforceRequestTimeout makes a synchronous send fail once it has
	// taken longer than RequestTimeout (KAFKA_ENFORCE_REQUEST_TIMEOUT,
	// default false).
	EnforceRequestTimeout bool
	// DeliveryTimeout is a record's whole delivery budget, retries included
	// (KAFKA_DELIVERY_TIMEOUT, default 5m).
	DeliveryTimeout time.Duration
	// RetryBackoff is the first pause before a failed request is retried;
	// later pauses double, with jitter, up to 30s (KAFKA_RETRY_DELAYMS,
	// default 300ms).
	RetryBackoff time.Duration
	// Retries is how many times a failed request or produce is retried
	// (KAFKA_RETRY_RETRIES, default 5). Produce retries are further bounded
	// by DeliveryTimeout.
	Retries int

	// BatchSize caps a produce batch in bytes, 0 for franz-go's default of
	// 1000012 (KAFKA_BATCH_SIZE).
	BatchSize int32
	// Linger is how long a partition waits for more records before
	// sending a batch, 0 to send at once (KAFKA_LINGER_MS).
	Linger time.Duration
	// Compression is none, gzip, snappy, lz4 or zstd (KAFKA_COMPRESSION,
	// default none).
	Compression string
	// Acks is all, leader or none (KAFKA_ACKS, default all). Anything but
	// all turns idempotent production off.
	Acks Acks
	// MaxBufferedRecords and MaxBufferedBytes bound what the producer
	// holds while it waits for the brokers (KAFKA_MAX_BUFFERED_RECORDS,
	// default 50000; KAFKA_MAX_BUFFERED_BYTES, default 32 MiB, like the
	// Java client's buffer.memory). A send
	// beyond them waits for room, or fails at once with
	// producer.NonBlocking.
	MaxBufferedRecords int
	MaxBufferedBytes   int64

	// TLS configures encryption to the brokers.
	TLS TLS
	// SASL configures authentication to the brokers.
	SASL SASL

	// HandlerMaxRetries is how many times a failed handler is retried
	// after its first attempt (KAFKA_HANDLER_MAX_RETRIES, default 3).
	HandlerMaxRetries int
	// HandlerRetryBackoff is the pause before the first handler retry; it
	// doubles per attempt with jitter, up to HandlerRetryMaxBackoff
	// (KAFKA_HANDLER_RETRY_BACKOFF, default 200ms).
	HandlerRetryBackoff time.Duration
	// HandlerRetryMaxBackoff caps the pause between handler retries
	// (KAFKA_HANDLER_RETRY_MAX_BACKOFF, default 30s).
	HandlerRetryMaxBackoff time.Duration
	// DLQSuffix makes the dead-letter topic of topic T the topic T+DLQSuffix;
	// empty disables dead-lettering (KAFKA_DLQ_SUFFIX, default ".dlq").
	DLQSuffix string
	// ShutdownTimeout bounds how long closing waits for in-flight work
	// (KAFKA_SHUTDOWN_TIMEOUT, default 30s).
	ShutdownTimeout time.Duration

	// MetadataMinAge is the least time between two metadata refreshes,
	// which a client makes when a broker says it no longer leads a
	// partition. Zero keeps franz-go's default of 5s. It has no
	// environment variable; tests shorten it so that an injected leader
	// change costs milliseconds (kafkatest does).
	MetadataMinAge time.Duration
}

// TLS configures TLS to the brokers.
type TLS struct {
	// Enabled turns TLS on (KAFKA_SSL_ENABLED, default false).
	Enabled bool
	// CAFile is a PEM bundle of the authorities to trust, instead of the
	// system's (KAFKA_SSL_CA_FILE).
	CAFile string
	// CertFile and KeyFile are the PEM client certificate and key for
	// mutual TLS (KAFKA_SSL_CERT_FILE, KAFKA_SSL_KEY_FILE).
	CertFile, KeyFile string
	// ServerName overrides the name expected in the brokers' certificates
	// and sent as SNI (KAFKA_SSL_SERVER_NAME, default the broker's host).
	ServerName string
	// InsecureSkipVerify accepts any broker certificate; for tests only
	// (KAFKA_SSL_INSECURE_SKIP_VERIFY, default false).
	InsecureSkipVerify bool
}

// SASL configures SASL authentication.
type SASL struct {
	// Mechanism is plain, scram-sha-256 or scram-sha-512, or "" for none
	// (KAFKA_SASL_MECHANISM).
	Mechanism string
	// Username and Password are the credentials (KAFKA_SASL_USERNAME,
	// KAFKA_SASL_PASSWORD).
	Username string
	Password Secret
}

// SASL mechanisms accepted by KAFKA_SASL_MECHANISM.
const (
	SASLPlain       = "plain"
	SASLScramSHA256 = "scram-sha-256"
	SASLScramSHA512 = "scram-sha-512"
)

// Default returns the configuration FromEnv yields on an empty environment.
func Default() Kafka {
	return Kafka{
		Brokers:                []string{"localhost:9092"},
		ClientID:               "kafkakit",
		GroupID:                "kafkakit-group",
		GroupProtocol:          GroupProtocolClassic,
		SessionTimeout:         30 * time.Second,
		HeartbeatInterval:      3 * time.Second,
		MaxBytesPerPartition:   1 << 20,
		MinBytes:               1,
		MaxWaitTime:            5 * time.Second,
		MaxInFlightRequests:    5,
		RequestTimeout:         30 * time.Second,
		ConnectionTimeout:      time.Second,
		DeliveryTimeout:        5 * time.Minute,
		RetryBackoff:           300 * time.Millisecond,
		Retries:                5,
		Compression:            "none",
		Acks:                   AcksAll,
		MaxBufferedRecords:     50_000,
		MaxBufferedBytes:       32 << 20,
		HandlerMaxRetries:      3,
		HandlerRetryBackoff:    200 * time.Millisecond,
		HandlerRetryMaxBackoff: 30 * time.Second,
		DLQSuffix:              ".dlq",
		ShutdownTimeout:        30 * time.Second,
	}
}

// FromEnv reads the Kafka settings from the environment through lookup
// (os.LookupEnv in a program, [env.Map] style lookups in tests) and
// validates them. The error names every bad variable and its value; secrets
// are never repeated.
func FromEnv(lookup func(string) (string, bool)) (Kafka, error) {
	p := env.NewParser(lookup)
	k := Default()
	if brokers := p.Raw("KAFKA_BROKERS"); brokers != "" {
		k.Brokers = env.SplitList(brokers)
		if len(k.Brokers) == 0 {
			p.Fail("KAFKA_BROKERS", brokers, "names no broker")
		}
	}
	k.ClientID = p.String("KAFKA_CLIENT_ID", k.ClientID)
	k.GroupID = p.String("KAFKA_GROUP_ID", k.ClientID+"-group")
	k.GroupProtocol = p.Enum("KAFKA_GROUP_PROTOCOL", k.GroupProtocol, GroupProtocolClassic, GroupProtocolConsumer)

	k.SessionTimeout = p.Millis("KAFKA_SESSION_TIMEOUT", k.SessionTimeout, time.Millisecond)
	k.HeartbeatInterval = p.Millis("KAFKA_HEARTBEAT_INTERVAL", k.HeartbeatInterval, time.Millisecond)
	k.MaxBytesPerPartition = int32(p.Int("KAFKA_MAX_BYTES_PER_PARTITION", int(k.MaxBytesPerPartition), 1, math.MaxInt32))
	k.MinBytes = int32(p.Int("KAFKA_MIN_BYTES", int(k.MinBytes), 1, math.MaxInt32))
	k.MaxWaitTime = p.Millis("KAFKA_MAX_WAIT_TIME", k.MaxWaitTime, time.Millisecond)

	k.MaxInFlightRequests = p.Int("KAFKA_MAX_IN_FLIGHT_REQUESTS", k.MaxInFlightRequests, 1, math.MaxInt32)
	k.RequestTimeout = p.Millis("KAFKA_REQUEST_TIMEOUT", k.RequestTimeout, time.Millisecond)
	k.ConnectionTimeout = p.Millis("KAFKA_CONNECTION_TIMEOUT", k.ConnectionTimeout, time.Millisecond)
	k.EnforceRequestTimeout = p.Bool("KAFKA_ENFORCE_REQUEST_TIMEOUT", k.EnforceRequestTimeout)
	k.DeliveryTimeout = p.Millis("KAFKA_DELIVERY_TIMEOUT", k.DeliveryTimeout, time.Millisecond)
	k.RetryBackoff = p.Millis("KAFKA_RETRY_DELAYMS", k.RetryBackoff, time.Millisecond)
	k.Retries = p.Int("KAFKA_RETRY_RETRIES", k.Retries, 0, math.MaxInt32)

	k.BatchSize = int32(p.Int("KAFKA_BATCH_SIZE", int(k.BatchSize), minBatchSize, math.MaxInt32))
	k.Linger = p.Millis("KAFKA_LINGER_MS", k.Linger, 0)
	k.Compression = p.Enum("KAFKA_COMPRESSION", k.Compression, compressions...)
	k.Acks = Acks(p.Enum("KAFKA_ACKS", string(k.Acks), string(AcksAll), string(AcksLeader), string(AcksNone)))
	k.MaxBufferedRecords = p.Int("KAFKA_MAX_BUFFERED_RECORDS", k.MaxBufferedRecords, 1, math.MaxInt32)
	k.MaxBufferedBytes = int64(p.Int("KAFKA_MAX_BUFFERED_BYTES", int(k.MaxBufferedBytes), 1, math.MaxInt))

	k.TLS = TLS{
		Enabled:            p.Bool("KAFKA_SSL_ENABLED", false),
		CAFile:             p.Raw("KAFKA_SSL_CA_FILE"),
		CertFile:           p.Raw("KAFKA_SSL_CERT_FILE"),
		KeyFile:            p.Raw("KAFKA_SSL_KEY_FILE"),
		ServerName:         p.Raw("KAFKA_SSL_SERVER_NAME"),
		InsecureSkipVerify: p.Bool("KAFKA_SSL_INSECURE_SKIP_VERIFY", false),
	}
	k.SASL = SASL{
		Mechanism: p.Enum("KAFKA_SASL_MECHANISM", "", SASLPlain, SASLScramSHA256, SASLScramSHA512),
		Username:  p.Raw("KAFKA_SASL_USERNAME"),
		Password:  Secret(p.Secret("KAFKA_SASL_PASSWORD")),
	}

	k.HandlerMaxRetries = p.Int("KAFKA_HANDLER_MAX_RETRIES", k.HandlerMaxRetries, 0, math.MaxInt32)
	k.HandlerRetryBackoff = p.Millis("KAFKA_HANDLER_RETRY_BACKOFF", k.HandlerRetryBackoff, time.Millisecond)
	k.HandlerRetryMaxBackoff = p.Millis("KAFKA_HANDLER_RETRY_MAX_BACKOFF", k.HandlerRetryMaxBackoff, time.Millisecond)
	if p.IsSet("KAFKA_DLQ_SUFFIX") {
		k.DLQSuffix = p.Raw("KAFKA_DLQ_SUFFIX") // set but empty disables dead letters
	}
	k.ShutdownTimeout = p.Millis("KAFKA_SHUTDOWN_TIMEOUT", k.ShutdownTimeout, time.Millisecond)

	if err := p.Err(); err != nil {
		// Cross-field checks on values that failed to parse would only
		// repeat the same mistake in other words.
		return k, err
	}
	return k, k.Validate()
}

// minBatchSize is the smallest produce batch franz-go accepts.
const minBatchSize = 512

// Embedded reports whether Brokers asks for the in-process development
// broker.
func (k Kafka) Embedded() bool {
	return len(k.Brokers) == 1 && k.Brokers[0] == EmbeddedBrokers
}

// Idempotent reports whether producing is idempotent, which Kafka allows
// only with acks from all in-sync replicas.
func (k Kafka) Idempotent() bool { return k.Acks == AcksAll || k.Acks == "" }

// Validate checks values and their combinations. Every problem is reported,
// each naming its environment variable. Validate reads the TLS files, so
// that an unreadable or malformed one stops start-up rather than the first
// connection.
func (k Kafka) Validate() error {
	var errs []error
	fail := func(name string, value any, reason string) {
		errs = append(errs, &env.Error{Name: name, Value: fmt.Sprint(value), Reason: reason})
	}
	millis := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

	if len(k.Brokers) == 0 {
		fail("KAFKA_BROKERS", "", "names no broker")
	}
	if !k.Embedded() {
		for _, b := range k.Brokers {
			if err := checkHostPort(b); err != nil {
				fail("KAFKA_BROKERS", b, err.Error())
			}
		}
	}
	if k.ClientID == "" {
		fail("KAFKA_CLIENT_ID", "", "must not be empty")
	}
	if k.GroupID == "" {
		fail("KAFKA_GROUP_ID", "", "must not be empty")
	}
	if k.GroupProtocol != "" && k.GroupProtocol != GroupProtocolClassic && k.GroupProtocol != GroupProtocolConsumer {
		fail("KAFKA_GROUP_PROTOCOL", k.GroupProtocol, "must be one of classic, consumer")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"KAFKA_SESSION_TIMEOUT", k.SessionTimeout},
		{"KAFKA_HEARTBEAT_INTERVAL", k.HeartbeatInterval},
		{"KAFKA_MAX_WAIT_TIME", k.MaxWaitTime},
		{"KAFKA_REQUEST_TIMEOUT", k.RequestTimeout},
		{"KAFKA_CONNECTION_TIMEOUT", k.ConnectionTimeout},
		{"KAFKA_DELIVERY_TIMEOUT", k.DeliveryTimeout},
		{"KAFKA_RETRY_DELAYMS", k.RetryBackoff},
		{"KAFKA_HANDLER_RETRY_BACKOFF", k.HandlerRetryBackoff},
		{"KAFKA_HANDLER_RETRY_MAX_BACKOFF", k.HandlerRetryMaxBackoff},
		{"KAFKA_SHUTDOWN_TIMEOUT", k.ShutdownTimeout},
	} {
		if d.v <= 0 {
			fail(d.name, millis(d.v), "must be a positive number of milliseconds")
		}
	}
	if k.HeartbeatInterval > 0 && k.SessionTimeout > 0 && k.HeartbeatInterval >= k.SessionTimeout {
		fail("KAFKA_HEARTBEAT_INTERVAL", millis(k.HeartbeatInterval),
			fmt.Sprintf("must be less than KAFKA_SESSION_TIMEOUT (%s)", millis(k.SessionTimeout)))
	}
	if k.MaxBytesPerPartition <= 0 {
		fail("KAFKA_MAX_BYTES_PER_PARTITION", k.MaxBytesPerPartition, "must be at least 1")
	}
	if k.MinBytes <= 0 {
		fail("KAFKA_MIN_BYTES", k.MinBytes, "must be at least 1")
	}
	switch {
	case k.MaxInFlightRequests < 1:
		fail("KAFKA_MAX_IN_FLIGHT_REQUESTS", k.MaxInFlightRequests, "must be at least 1")
	case k.MaxInFlightRequests > 5 && k.Idempotent():
		fail("KAFKA_MAX_IN_FLIGHT_REQUESTS", k.MaxInFlightRequests,
			"must be at most 5 with idempotent production (KAFKA_ACKS=all)")
	}
	if k.Retries < 0 {
		fail("KAFKA_RETRY_RETRIES", k.Retries, "must be at least 0")
	}
	if k.BatchSize != 0 && k.BatchSize < minBatchSize {
		fail("KAFKA_BATCH_SIZE", k.BatchSize, fmt.Sprintf("must be at least %d", minBatchSize))
	}
	if k.Linger < 0 {
		fail("KAFKA_LINGER_MS", millis(k.Linger), "must not be negative")
	}
	if k.Compression != "" && !slices.Contains(compressions, k.Compression) {
		fail("KAFKA_COMPRESSION", k.Compression, "must be one of "+strings.Join(compressions, ", "))
	}
	switch k.Acks {
	case "", AcksAll, AcksLeader, AcksNone:
	default:
		fail("KAFKA_ACKS", k.Acks, "must be one of all, leader, none")
	}
	if k.MaxBufferedRecords < 1 {
		fail("KAFKA_MAX_BUFFERED_RECORDS", k.MaxBufferedRecords, "must be at least 1")
	}
	if k.MaxBufferedBytes < 1 {
		fail("KAFKA_MAX_BUFFERED_BYTES", k.MaxBufferedBytes, "must be at least 1")
	}
	if k.HandlerMaxRetries < 0 {
		fail("KAFKA_HANDLER_MAX_RETRIES", k.HandlerMaxRetries, "must be at least 0")
	}
	if i, _ := invalidTopicChar(k.DLQSuffix); i >= 0 {
		fail("KAFKA_DLQ_SUFFIX", k.DLQSuffix, "may only hold the letters, digits, '.', '_' and '-' allowed in topic names")
	}
	errs = append(errs, k.SASL.validate(), k.TLS.validate())
	return errors.Join(errs...)
}

// checkHostPort says what is wrong with a broker address, if anything.
func checkHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("is not host:port")
	}
	if host == "" {
		return errors.New("has no host")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return errors.New("has no port between 1 and 65535")
	}
	return nil
}

// maxTopicLen is Kafka's limit on topic names.
const maxTopicLen = 249

// ValidateTopic checks a topic name against Kafka's rules: 1 to 249 of the
// characters a-z, A-Z, 0-9, '.', '_' and '-', and neither "." nor "..".
func ValidateTopic(topic string) error {
	switch {
	case topic == "":
		return errors.New("must not be empty")
	case len(topic) > maxTopicLen:
		return fmt.Errorf("is %d characters long; the limit is %d", len(topic), maxTopicLen)
	case topic == "." || topic == "..":
		return fmt.Errorf("must not be %q", topic)
	}
	if i, r := invalidTopicChar(topic); i >= 0 {
		return fmt.Errorf("has %q at position %d; only letters, digits, '.', '_' and '-' are allowed", r, i)
	}
	return nil
}

// invalidTopicChar returns the position of the first character of s that
// topic names may not hold, and the character; -1 when there is none.
func invalidTopicChar(s string) (int, rune) {
	for i, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '_' || r == '-') {
			return i, r
		}
	}
	return -1, 0
}
