package config

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
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

// Partition assigners accepted by KAFKA_PARTITION_ASSIGNERS. The first
// four are the Java client's names; kafkajs's default is
// AssignerKafkajsRoundRobin.
const (
	AssignerCooperativeSticky = "cooperative-sticky" // incremental: only moved partitions stop
	AssignerSticky            = "sticky"             // eager, keeps partitions where they were
	AssignerRange             = "range"              // eager, per topic; Java's and librdkafka's first
	AssignerRoundRobin        = "roundrobin"         // eager, over all partitions
	// AssignerKafkajsRoundRobin is kafkajs's RoundRobinAssigner (the group
	// protocol name), eager, which the NestJS microservices transport uses.
	AssignerKafkajsRoundRobin = "kafkajs-roundrobin"
)

// assigners lists the names KAFKA_PARTITION_ASSIGNERS accepts.
var assigners = []string{AssignerCooperativeSticky, AssignerSticky, AssignerRange, AssignerRoundRobin, AssignerKafkajsRoundRobin}

// Isolation levels accepted by KAFKA_ISOLATION_LEVEL.
const (
	ReadCommitted   = "read_committed"   // only records of committed transactions
	ReadUncommitted = "read_uncommitted" // every record, aborted ones too
)

// Kafka is every Kafka setting kafkakit reads from the environment, grouped
// by who uses it: [Client] settings reach the cluster, [Producer] settings
// shape sends, [Group] settings shape consuming in a group, and [Handling]
// settings say what the consumer does when a handler fails. The groups are
// embedded, so cfg.Brokers and cfg.Client.Brokers are the same field.
//
// The zero value is not useful: start from [Default] or [FromEnv]. Each
// field names the environment variable that sets it and its default. Times
// are read from the environment as milliseconds.
type Kafka struct {
	Client
	Producer
	Group
	Handling
	OwnTopics

	// ShutdownTimeout bounds how long closing waits for in-flight work
	// (KAFKA_SHUTDOWN_TIMEOUT, default 30s).
	ShutdownTimeout time.Duration
}

// Client is how to reach the cluster: what every producer, consumer and
// admin client needs.
type Client struct {
	// Brokers are the seed brokers as host:port (KAFKA_BROKERS, default
	// localhost:9092). The single value "embedded" asks for the in-process
	// development broker; see [Client.Embedded].
	Brokers []string
	// ClientID names this client to the brokers (KAFKA_CLIENT_ID, default
	// kafkakit).
	ClientID string
	// RequestTimeout bounds a produce request at the broker and the time
	// spent retrying any other request (KAFKA_REQUEST_TIMEOUT, default 30s).
	RequestTimeout time.Duration
	// ConnectionTimeout bounds dialing a broker, TLS handshake included
	// (KAFKA_CONNECTION_TIMEOUT, default 1s).
	ConnectionTimeout time.Duration
	// RetryBackoff is the first pause before a failed request is retried;
	// later pauses double, with jitter, up to 30s (KAFKA_RETRY_DELAYMS,
	// default 300ms).
	RetryBackoff time.Duration
	// Retries is how many times a failed request or produce is retried
	// (KAFKA_RETRY_RETRIES, default 5). Produce retries are further bounded
	// by DeliveryTimeout.
	Retries int
	// TLS configures encryption to the brokers.
	TLS TLS
	// SASL configures authentication to the brokers.
	SASL SASL
	// MetadataMinAge is the least time between two metadata refreshes,
	// which a client makes when a broker says it no longer leads a
	// partition. Zero keeps franz-go's default of 5s. It has no
	// environment variable; tests shorten it so that an injected leader
	// change costs milliseconds (kafkatest does).
	MetadataMinAge time.Duration
}

// Producer shapes sends: acknowledgements, batching, buffering and the
// delivery budget.
type Producer struct {
	// MaxInFlightRequests is how many produce requests may be in flight to
	// one broker (KAFKA_MAX_IN_FLIGHT_REQUESTS, default 5). Idempotent
	// production (Acks all) allows at most 5.
	MaxInFlightRequests int
	// EnforceRequestTimeout makes a synchronous send fail once it has
	// taken longer than RequestTimeout (KAFKA_ENFORCE_REQUEST_TIMEOUT,
	// default false).
	EnforceRequestTimeout bool
	// DeliveryTimeout is a record's whole delivery budget, retries included
	// (KAFKA_DELIVERY_TIMEOUT, default 5m).
	DeliveryTimeout time.Duration
	// BatchSize caps a produce batch in bytes (KAFKA_BATCH_SIZE, default
	// [DefaultBatchSize]); at least 512, or 0 for franz-go's default, the
	// same.
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
	// Idempotence asks for idempotent production (KAFKA_IDEMPOTENT): on
	// unless a setting conflicts (the default, [IdempotenceAuto]), always
	// ([IdempotenceOn], a conflict is an error) or never
	// ([IdempotenceOff]). See [Producer.Idempotent].
	Idempotence Idempotence
	// MaxBufferedRecords and MaxBufferedBytes bound what the producer
	// holds while it waits for the brokers (KAFKA_MAX_BUFFERED_RECORDS,
	// default 50000; KAFKA_MAX_BUFFERED_BYTES, default 32 MiB, like the
	// Java client's buffer.memory). A send beyond them waits for room, or
	// fails at once with producer.NonBlocking.
	MaxBufferedRecords int
	MaxBufferedBytes   int64
}

// Group shapes consuming in a consumer group: membership and fetching.
type Group struct {
	// GroupID is the consumer group (KAFKA_GROUP_ID, default ClientID +
	// "-group").
	GroupID string
	// GroupProtocol is "classic" or "consumer", the KIP-848 protocol
	// (KAFKA_GROUP_PROTOCOL, default classic).
	GroupProtocol string
	// Assigners are the partition assigners this member offers, in order
	// of preference (KAFKA_PARTITION_ASSIGNERS, default
	// cooperative-sticky); see the Assigner constants. The group uses the
	// first that every member offers, so a member joining a group of
	// kafkajs, Java or librdkafka members must offer what they use:
	// without a common one the broker refuses it with
	// INCONSISTENT_GROUP_PROTOCOL. Offering a cooperative and an eager
	// assigner together is the rolling upgrade of KIP-429: the group runs
	// eagerly until every member offers the cooperative one. With the
	// consumer group protocol the broker assigns, and the first must be
	// cooperative-sticky, sticky or range.
	Assigners []string
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
	// IsolationLevel is read_committed, which never hands a consumer the
	// records of an aborted transaction, or read_uncommitted
	// (KAFKA_ISOLATION_LEVEL, default read_committed, as kafkajs).
	IsolationLevel string
}

// Handling says what a consumer does when a handler fails: how often and
// how patiently it retries, and where the message goes after the last try.
type Handling struct {
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
}

// OwnTopics says how kafkakit treats the topics it writes itself:
// dead-letter and retry topics, the Idempotency-Key topic and a replay's
// parked topic. docs/topics.md lists them with their settings.
type OwnTopics struct {
	// CreateTopics lets kafkakit create such a topic when it is missing,
	// with the partitions and settings it needs, and raise the retention
	// of the Idempotency-Key topic when it falls short
	// (KAFKA_TOPICS_CREATE, default true). When false, kafkakit neither
	// creates nor changes a topic, and a missing one is an error naming
	// it and what it should be.
	CreateTopics bool
	// StrictTopics makes an existing topic whose settings break a promise
	// (too few partitions, not compacted, too short a retention) an error
	// at start; otherwise each problem is one WARN line
	// (KAFKA_TOPICS_STRICT, default false).
	StrictTopics bool
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
		Client: Client{
			Brokers:           []string{"localhost:9092"},
			ClientID:          "kafkakit",
			RequestTimeout:    30 * time.Second,
			ConnectionTimeout: time.Second,
			RetryBackoff:      300 * time.Millisecond,
			Retries:           5,
		},
		Producer: Producer{
			MaxInFlightRequests: 5,
			DeliveryTimeout:     5 * time.Minute,
			BatchSize:           DefaultBatchSize,
			Compression:         "none",
			Acks:                AcksAll,
			MaxBufferedRecords:  50_000,
			MaxBufferedBytes:    32 << 20,
		},
		Group: Group{
			GroupID:              "kafkakit-group",
			GroupProtocol:        GroupProtocolClassic,
			Assigners:            []string{AssignerCooperativeSticky},
			SessionTimeout:       30 * time.Second,
			HeartbeatInterval:    3 * time.Second,
			MaxBytesPerPartition: 1 << 20,
			MinBytes:             1,
			MaxWaitTime:          5 * time.Second,
			IsolationLevel:       ReadCommitted,
		},
		Handling: Handling{
			HandlerMaxRetries:      3,
			HandlerRetryBackoff:    200 * time.Millisecond,
			HandlerRetryMaxBackoff: 30 * time.Second,
			DLQSuffix:              ".dlq",
		},
		OwnTopics:       OwnTopics{CreateTopics: true},
		ShutdownTimeout: 30 * time.Second,
	}
}

// DefaultBatchSize is the default cap of a produce batch: franz-go's own
// default, like Kafka's default max.message.bytes, so that the default
// sizes a batch as a record is checked at the broker.
const DefaultBatchSize = 1000012

// minBatchSize is the smallest produce batch franz-go accepts.
const minBatchSize = 512

// Embedded reports whether Brokers asks for the in-process development
// broker.
func (c Client) Embedded() bool {
	return len(c.Brokers) == 1 && c.Brokers[0] == EmbeddedBrokers
}

// Idempotence is whether the producer writes idempotently: the client's
// own retries then neither duplicate nor reorder records.
type Idempotence string

// The idempotence choices, as KAFKA_IDEMPOTENT spells them.
const (
	// IdempotenceAuto is idempotent unless a setting conflicts: more than
	// 5 requests in flight, or acks other than all. Then idempotence is
	// off, as the Java client does since KIP-679.
	IdempotenceAuto Idempotence = ""
	// IdempotenceOn is always idempotent; a conflicting setting is an
	// error.
	IdempotenceOn Idempotence = "true"
	// IdempotenceOff is never idempotent.
	IdempotenceOff Idempotence = "false"
)

// maxIdempotentInFlight is the most produce requests Kafka keeps in order
// per partition for an idempotent producer.
const maxIdempotentInFlight = 5

// Idempotent reports whether producing is idempotent: on when asked for,
// and in automatic mode when nothing conflicts.
func (p Producer) Idempotent() bool {
	switch p.Idempotence {
	case IdempotenceOn:
		return true
	case IdempotenceOff:
		return false
	}
	return p.IdempotenceConflict() == nil
}

// IdempotenceConflict returns the setting that rules idempotence out, or
// nil: acks other than all, or more than 5 requests in flight. In
// automatic mode it is why idempotence is off; a program should say so,
// since retries may then duplicate or reorder records.
func (p Producer) IdempotenceConflict() *FieldError {
	switch {
	case p.Acks != AcksAll && p.Acks != "":
		return &FieldError{Field: "Acks", Value: p.Acks, Reason: "is not all, which idempotent production needs"}
	case p.MaxInFlightRequests > maxIdempotentInFlight:
		return &FieldError{Field: "MaxInFlightRequests", Value: p.MaxInFlightRequests,
			Reason: fmt.Sprintf("is over %d, the most idempotent production keeps in order", maxIdempotentInFlight)}
	}
	return nil
}

// Validate checks every setting and their combinations, and reports every
// problem at once as [*FieldError]s naming the fields at fault (FromEnv
// names the environment variables instead). Validate reads the TLS files,
// so that an unreadable or malformed one stops start-up rather than the
// first connection.
func (k Kafka) Validate() error {
	return errors.Join(k.Client.Validate(), k.Producer.Validate(), k.Group.Validate(), k.Handling.Validate(),
		positive("ShutdownTimeout", k.ShutdownTimeout))
}

// Validate checks the client settings; see [Kafka.Validate].
func (c Client) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, &FieldError{Field: "Brokers", Reason: "names no broker"})
	}
	if !c.Embedded() {
		for _, b := range c.Brokers {
			if err := checkHostPort(b); err != nil {
				errs = append(errs, &FieldError{Field: "Brokers", Value: b, Reason: err.Error()})
			}
		}
	}
	if c.ClientID == "" {
		errs = append(errs, &FieldError{Field: "ClientID", Reason: "must not be empty"})
	}
	errs = append(errs,
		positive("RequestTimeout", c.RequestTimeout),
		positive("ConnectionTimeout", c.ConnectionTimeout),
		positive("RetryBackoff", c.RetryBackoff),
		atLeast("Retries", c.Retries, 0),
		c.SASL.validate(), c.TLS.validate())
	return errors.Join(errs...)
}

// Validate checks the producer settings; see [Kafka.Validate].
func (p Producer) Validate() error {
	errs := []error{
		positive("DeliveryTimeout", p.DeliveryTimeout),
		atLeast("MaxBufferedRecords", p.MaxBufferedRecords, 1),
		atLeast("MaxBufferedBytes", p.MaxBufferedBytes, 1),
		oneOf("Compression", p.Compression, compressions...),
		oneOf("Acks", p.Acks, AcksAll, AcksLeader, AcksNone),
	}
	errs = append(errs, atLeast("MaxInFlightRequests", p.MaxInFlightRequests, 1),
		oneOf("Idempotence", p.Idempotence, IdempotenceOn, IdempotenceOff))
	if c := p.IdempotenceConflict(); c != nil && p.Idempotence == IdempotenceOn {
		c.Reason = "conflicts with %s: " + c.Reason
		c.Other, c.OtherValue = "Idempotence", p.Idempotence
		errs = append(errs, c)
	}
	if p.BatchSize != 0 {
		errs = append(errs, atLeast("BatchSize", p.BatchSize, minBatchSize))
	}
	if p.Linger < 0 {
		errs = append(errs, &FieldError{Field: "Linger", Value: p.Linger, Reason: "must not be negative"})
	}
	return errors.Join(errs...)
}

// Validate checks the group settings; see [Kafka.Validate].
func (g Group) Validate() error {
	errs := []error{
		oneOf("GroupProtocol", g.GroupProtocol, GroupProtocolClassic, GroupProtocolConsumer),
		oneOf("IsolationLevel", g.IsolationLevel, ReadCommitted, ReadUncommitted),
		positive("SessionTimeout", g.SessionTimeout),
		positive("HeartbeatInterval", g.HeartbeatInterval),
		positive("MaxWaitTime", g.MaxWaitTime),
		atLeast("MaxBytesPerPartition", g.MaxBytesPerPartition, 1),
		atLeast("MinBytes", g.MinBytes, 1),
	}
	if g.GroupID == "" {
		errs = append(errs, &FieldError{Field: "GroupID", Reason: "must not be empty"})
	}
	errs = append(errs, g.validateAssigners())
	if g.HeartbeatInterval > 0 && g.SessionTimeout > 0 && g.HeartbeatInterval >= g.SessionTimeout {
		errs = append(errs, &FieldError{Field: "HeartbeatInterval", Value: g.HeartbeatInterval,
			Reason: "must be less than %s", Other: "SessionTimeout", OtherValue: g.SessionTimeout})
	}
	return errors.Join(errs...)
}

// validateAssigners checks that Assigners names known assigners, each once,
// and one that the broker can run when it assigns (KIP-848).
func (g Group) validateAssigners() error {
	if len(g.Assigners) == 0 {
		return &FieldError{Field: "Assigners", Reason: "names no assigner; use one or more of " + strings.Join(assigners, ", ")}
	}
	list := strings.Join(g.Assigners, ",")
	for i, a := range g.Assigners {
		if !slices.Contains(assigners, a) {
			return &FieldError{Field: "Assigners", Value: list,
				Reason: fmt.Sprintf("names %q; each must be one of %s", a, strings.Join(assigners, ", "))}
		}
		if slices.Contains(g.Assigners[:i], a) {
			return &FieldError{Field: "Assigners", Value: list, Reason: fmt.Sprintf("names %q twice", a)}
		}
	}
	if g.GroupProtocol == GroupProtocolConsumer &&
		!slices.Contains([]string{AssignerCooperativeSticky, AssignerSticky, AssignerRange}, g.Assigners[0]) {
		return &FieldError{Field: "Assigners", Value: list,
			Reason: "must start with cooperative-sticky, sticky or range, the assignors the broker runs, with %s",
			Other:  "GroupProtocol", OtherValue: g.GroupProtocol}
	}
	return nil
}

// Validate checks the handling settings; see [Kafka.Validate].
func (h Handling) Validate() error {
	errs := []error{
		atLeast("HandlerMaxRetries", h.HandlerMaxRetries, 0),
		positive("HandlerRetryBackoff", h.HandlerRetryBackoff),
		positive("HandlerRetryMaxBackoff", h.HandlerRetryMaxBackoff),
	}
	if i, _ := invalidTopicChar(h.DLQSuffix); i >= 0 {
		errs = append(errs, &FieldError{Field: "DLQSuffix", Value: h.DLQSuffix,
			Reason: "may only hold the letters, digits, '.', '_' and '-' allowed in topic names"})
	}
	return errors.Join(errs...)
}

func positive(field string, d time.Duration) error {
	if d > 0 {
		return nil
	}
	return &FieldError{Field: field, Value: d, Reason: "must be positive"}
}

func atLeast[N int | int32 | int64](field string, n, min N) error {
	if n >= min {
		return nil
	}
	return &FieldError{Field: field, Value: n, Reason: fmt.Sprintf("must be at least %d", min)}
}

func oneOf[S ~string](field string, v S, allowed ...S) error {
	if v == "" || slices.Contains(allowed, v) {
		return nil // "" is the default
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	return &FieldError{Field: field, Value: v, Reason: "must be one of " + strings.Join(names, ", ")}
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
