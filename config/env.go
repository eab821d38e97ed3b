package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kafkakit/kafkakit/internal/env"
)

// The environment variables FromEnv and LoggingFromEnv read: each name is
// written here once, and the readers, the error messages, and the list of
// `kafkakit serve`'s variables (help, `kafkakit env`, the configuration
// reference) use these constants.
const (
	EnvBrokers               = "KAFKA_BROKERS"
	EnvClientID              = "KAFKA_CLIENT_ID"
	EnvRequestTimeout        = "KAFKA_REQUEST_TIMEOUT"
	EnvConnectionTimeout     = "KAFKA_CONNECTION_TIMEOUT"
	EnvRetryBackoff          = "KAFKA_RETRY_DELAYMS"
	EnvRetries               = "KAFKA_RETRY_RETRIES"
	EnvTLSEnabled            = "KAFKA_SSL_ENABLED"
	EnvTLSCAFile             = "KAFKA_SSL_CA_FILE"
	EnvTLSCertFile           = "KAFKA_SSL_CERT_FILE"
	EnvTLSKeyFile            = "KAFKA_SSL_KEY_FILE"
	EnvTLSServerName         = "KAFKA_SSL_SERVER_NAME"
	EnvTLSInsecureSkipVerify = "KAFKA_SSL_INSECURE_SKIP_VERIFY"
	EnvSASLMechanism         = "KAFKA_SASL_MECHANISM"
	EnvSASLUsername          = "KAFKA_SASL_USERNAME"
	EnvSASLPassword          = "KAFKA_SASL_PASSWORD"

	EnvMaxInFlightRequests   = "KAFKA_MAX_IN_FLIGHT_REQUESTS"
	EnvEnforceRequestTimeout = "KAFKA_ENFORCE_REQUEST_TIMEOUT"
	EnvDeliveryTimeout       = "KAFKA_DELIVERY_TIMEOUT"
	EnvBatchSize             = "KAFKA_BATCH_SIZE"
	EnvLinger                = "KAFKA_LINGER_MS"
	EnvCompression           = "KAFKA_COMPRESSION"
	EnvAcks                  = "KAFKA_ACKS"
	EnvIdempotence           = "KAFKA_IDEMPOTENT"
	EnvMaxBufferedRecords    = "KAFKA_MAX_BUFFERED_RECORDS"
	EnvMaxBufferedBytes      = "KAFKA_MAX_BUFFERED_BYTES"

	EnvGroupID              = "KAFKA_GROUP_ID"
	EnvGroupProtocol        = "KAFKA_GROUP_PROTOCOL"
	EnvAssigners            = "KAFKA_PARTITION_ASSIGNERS"
	EnvSessionTimeout       = "KAFKA_SESSION_TIMEOUT"
	EnvHeartbeatInterval    = "KAFKA_HEARTBEAT_INTERVAL"
	EnvMaxBytesPerPartition = "KAFKA_MAX_BYTES_PER_PARTITION"
	EnvMinBytes             = "KAFKA_MIN_BYTES"
	EnvMaxWaitTime          = "KAFKA_MAX_WAIT_TIME"
	EnvIsolationLevel       = "KAFKA_ISOLATION_LEVEL"

	EnvHandlerMaxRetries      = "KAFKA_HANDLER_MAX_RETRIES"
	EnvHandlerRetryBackoff    = "KAFKA_HANDLER_RETRY_BACKOFF"
	EnvHandlerRetryMaxBackoff = "KAFKA_HANDLER_RETRY_MAX_BACKOFF"
	EnvDLQSuffix              = "KAFKA_DLQ_SUFFIX"

	EnvCreateTopics = "KAFKA_TOPICS_CREATE"
	EnvStrictTopics = "KAFKA_TOPICS_STRICT"

	EnvShutdownTimeout = "KAFKA_SHUTDOWN_TIMEOUT"

	EnvLogLevel  = "LOG_LEVEL"
	EnvLogFormat = "LOG_FORMAT"
)

// envNames maps each field to the environment variable that sets it.
var envNames = map[string]string{
	"Brokers":                EnvBrokers,
	"ClientID":               EnvClientID,
	"RequestTimeout":         EnvRequestTimeout,
	"ConnectionTimeout":      EnvConnectionTimeout,
	"RetryBackoff":           EnvRetryBackoff,
	"Retries":                EnvRetries,
	"TLS.Enabled":            EnvTLSEnabled,
	"TLS.CAFile":             EnvTLSCAFile,
	"TLS.CertFile":           EnvTLSCertFile,
	"TLS.KeyFile":            EnvTLSKeyFile,
	"TLS.ServerName":         EnvTLSServerName,
	"TLS.InsecureSkipVerify": EnvTLSInsecureSkipVerify,
	"SASL.Mechanism":         EnvSASLMechanism,
	"SASL.Username":          EnvSASLUsername,
	"SASL.Password":          EnvSASLPassword,

	"MaxInFlightRequests":   EnvMaxInFlightRequests,
	"EnforceRequestTimeout": EnvEnforceRequestTimeout,
	"DeliveryTimeout":       EnvDeliveryTimeout,
	"BatchSize":             EnvBatchSize,
	"Linger":                EnvLinger,
	"Compression":           EnvCompression,
	"Acks":                  EnvAcks,
	"Idempotence":           EnvIdempotence,
	"MaxBufferedRecords":    EnvMaxBufferedRecords,
	"MaxBufferedBytes":      EnvMaxBufferedBytes,

	"GroupID":              EnvGroupID,
	"GroupProtocol":        EnvGroupProtocol,
	"Assigners":            EnvAssigners,
	"SessionTimeout":       EnvSessionTimeout,
	"HeartbeatInterval":    EnvHeartbeatInterval,
	"MaxBytesPerPartition": EnvMaxBytesPerPartition,
	"MinBytes":             EnvMinBytes,
	"MaxWaitTime":          EnvMaxWaitTime,
	"IsolationLevel":       EnvIsolationLevel,

	"HandlerMaxRetries":      EnvHandlerMaxRetries,
	"HandlerRetryBackoff":    EnvHandlerRetryBackoff,
	"HandlerRetryMaxBackoff": EnvHandlerRetryMaxBackoff,
	"DLQSuffix":              EnvDLQSuffix,

	"CreateTopics": EnvCreateTopics,
	"StrictTopics": EnvStrictTopics,

	"ShutdownTimeout": EnvShutdownTimeout,
}

// FromEnv reads the Kafka settings from the environment through lookup
// (os.LookupEnv in a program, a map lookup in tests) and validates them
// with [Kafka.Validate]. The error names every bad variable and its value
// as it was set; secrets are never repeated.
func FromEnv(lookup func(string) (string, bool)) (Kafka, error) {
	p := env.NewParser(lookup)
	k := Default()
	if brokers, ok := lookup(EnvBrokers); ok && brokers != "" {
		k.Brokers = env.SplitList(brokers)
		if len(k.Brokers) == 0 {
			p.Fail(EnvBrokers, brokers, "names no broker")
		}
	}
	k.ClientID = p.String(EnvClientID, k.ClientID)
	k.GroupID = p.String(EnvGroupID, k.ClientID+"-group")
	readClient(p, &k.Client)
	readProducer(p, &k.Producer)
	readGroup(p, &k.Group)
	readHandling(p, &k.Handling)
	k.CreateTopics = p.Bool(EnvCreateTopics, k.CreateTopics)
	k.StrictTopics = p.Bool(EnvStrictTopics, k.StrictTopics)
	k.ShutdownTimeout = p.Duration(EnvShutdownTimeout, k.ShutdownTimeout)
	return k, errors.Join(p.Err(), envErrors(k.Validate(), p.Failed))
}

func readClient(p *env.Parser, c *Client) {
	c.RequestTimeout = p.Duration(EnvRequestTimeout, c.RequestTimeout)
	c.ConnectionTimeout = p.Duration(EnvConnectionTimeout, c.ConnectionTimeout)
	c.RetryBackoff = p.Duration(EnvRetryBackoff, c.RetryBackoff)
	c.Retries = int(p.Whole(EnvRetries, int64(c.Retries), 32))
	c.TLS = TLS{
		Enabled:            p.Bool(EnvTLSEnabled, false),
		CAFile:             p.Raw(EnvTLSCAFile),
		CertFile:           p.Raw(EnvTLSCertFile),
		KeyFile:            p.Raw(EnvTLSKeyFile),
		ServerName:         p.Raw(EnvTLSServerName),
		InsecureSkipVerify: p.Bool(EnvTLSInsecureSkipVerify, false),
	}
	c.SASL = SASL{
		Mechanism: p.Lower(EnvSASLMechanism, ""),
		Username:  p.Raw(EnvSASLUsername),
		Password:  Secret(p.Secret(EnvSASLPassword)),
	}
}

func readProducer(p *env.Parser, pr *Producer) {
	pr.MaxInFlightRequests = int(p.Whole(EnvMaxInFlightRequests, int64(pr.MaxInFlightRequests), 32))
	pr.EnforceRequestTimeout = p.Bool(EnvEnforceRequestTimeout, pr.EnforceRequestTimeout)
	pr.DeliveryTimeout = p.Duration(EnvDeliveryTimeout, pr.DeliveryTimeout)
	pr.BatchSize = int32(p.Whole(EnvBatchSize, int64(pr.BatchSize), 32))
	pr.Linger = p.Duration(EnvLinger, pr.Linger)
	pr.Compression = p.Lower(EnvCompression, pr.Compression)
	pr.Acks = Acks(p.Lower(EnvAcks, string(pr.Acks)))
	if v := p.Raw(EnvIdempotence); v != "" {
		if p.Bool(EnvIdempotence, false) {
			pr.Idempotence = IdempotenceOn
		} else if !p.Failed(EnvIdempotence) {
			pr.Idempotence = IdempotenceOff
		}
	}
	pr.MaxBufferedRecords = int(p.Whole(EnvMaxBufferedRecords, int64(pr.MaxBufferedRecords), 32))
	pr.MaxBufferedBytes = p.Whole(EnvMaxBufferedBytes, pr.MaxBufferedBytes, 64)
}

func readGroup(p *env.Parser, g *Group) {
	g.GroupProtocol = p.Lower(EnvGroupProtocol, g.GroupProtocol)
	if v := p.Raw(EnvAssigners); v != "" {
		// Only commas name no assigner, which Validate reports.
		g.Assigners = env.SplitList(strings.ToLower(v))
	}
	g.SessionTimeout = p.Duration(EnvSessionTimeout, g.SessionTimeout)
	g.HeartbeatInterval = p.Duration(EnvHeartbeatInterval, g.HeartbeatInterval)
	g.MaxBytesPerPartition = int32(p.Whole(EnvMaxBytesPerPartition, int64(g.MaxBytesPerPartition), 32))
	g.MinBytes = int32(p.Whole(EnvMinBytes, int64(g.MinBytes), 32))
	g.MaxWaitTime = p.Duration(EnvMaxWaitTime, g.MaxWaitTime)
	g.IsolationLevel = p.Lower(EnvIsolationLevel, g.IsolationLevel)
}

func readHandling(p *env.Parser, h *Handling) {
	h.HandlerMaxRetries = int(p.Whole(EnvHandlerMaxRetries, int64(h.HandlerMaxRetries), 32))
	h.HandlerRetryBackoff = p.Duration(EnvHandlerRetryBackoff, h.HandlerRetryBackoff)
	h.HandlerRetryMaxBackoff = p.Duration(EnvHandlerRetryMaxBackoff, h.HandlerRetryMaxBackoff)
	if p.IsSet(EnvDLQSuffix) {
		h.DLQSuffix = p.Raw(EnvDLQSuffix) // set but empty disables dead letters
	}
}

// envErrors renames the fields in err's [*FieldError]s to the variables
// that set them. It drops the errors of variables that failed to parse:
// checking their defaults would only repeat the same mistake in other words.
func envErrors(err error, failed func(name string) bool) error {
	if err == nil {
		return nil
	}
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	out := make([]error, 0, len(list))
	for _, e := range list {
		var fe *FieldError
		switch {
		case !errors.As(e, &fe):
			out = append(out, e)
		case !failed(envName(fe.Field)):
			out = append(out, &envError{fe})
		}
	}
	return errors.Join(out...)
}

// envError is a FieldError told in the environment's terms. It unwraps to
// the FieldError, so callers can still inspect the field.
type envError struct{ *FieldError }

func (e *envError) Unwrap() error { return e.FieldError }

func (e *envError) Error() string { return e.text(envName, envValue) }

// EnvName returns the environment variable that sets field (a
// [FieldError.Field]), or field itself when no variable does.
func EnvName(field string) string { return envName(field) }

func envName(field string) string {
	if name, ok := envNames[field]; ok {
		return name
	}
	return field
}

// envValue formats a value the way the environment spells it: durations
// in milliseconds.
func envValue(v any) string {
	if d, ok := v.(time.Duration); ok {
		return strconv.FormatInt(d.Milliseconds(), 10)
	}
	return fmt.Sprint(v)
}
