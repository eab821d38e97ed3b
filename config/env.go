package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kafkakit/kafkakit/internal/env"
)

// envNames maps each field to the environment variable that sets it.
// FromEnv is the one place that knows the variables' names.
var envNames = map[string]string{
	"Brokers":                "KAFKA_BROKERS",
	"ClientID":               "KAFKA_CLIENT_ID",
	"RequestTimeout":         "KAFKA_REQUEST_TIMEOUT",
	"ConnectionTimeout":      "KAFKA_CONNECTION_TIMEOUT",
	"RetryBackoff":           "KAFKA_RETRY_DELAYMS",
	"Retries":                "KAFKA_RETRY_RETRIES",
	"TLS.Enabled":            "KAFKA_SSL_ENABLED",
	"TLS.CAFile":             "KAFKA_SSL_CA_FILE",
	"TLS.CertFile":           "KAFKA_SSL_CERT_FILE",
	"TLS.KeyFile":            "KAFKA_SSL_KEY_FILE",
	"TLS.ServerName":         "KAFKA_SSL_SERVER_NAME",
	"TLS.InsecureSkipVerify": "KAFKA_SSL_INSECURE_SKIP_VERIFY",
	"SASL.Mechanism":         "KAFKA_SASL_MECHANISM",
	"SASL.Username":          "KAFKA_SASL_USERNAME",
	"SASL.Password":          "KAFKA_SASL_PASSWORD",

	"MaxInFlightRequests":   "KAFKA_MAX_IN_FLIGHT_REQUESTS",
	"EnforceRequestTimeout": "KAFKA_ENFORCE_REQUEST_TIMEOUT",
	"DeliveryTimeout":       "KAFKA_DELIVERY_TIMEOUT",
	"BatchSize":             "KAFKA_BATCH_SIZE",
	"Linger":                "KAFKA_LINGER_MS",
	"Compression":           "KAFKA_COMPRESSION",
	"Acks":                  "KAFKA_ACKS",
	"Idempotence":           "KAFKA_IDEMPOTENT",
	"MaxBufferedRecords":    "KAFKA_MAX_BUFFERED_RECORDS",
	"MaxBufferedBytes":      "KAFKA_MAX_BUFFERED_BYTES",

	"GroupID":              "KAFKA_GROUP_ID",
	"GroupProtocol":        "KAFKA_GROUP_PROTOCOL",
	"Assigners":            "KAFKA_PARTITION_ASSIGNERS",
	"SessionTimeout":       "KAFKA_SESSION_TIMEOUT",
	"HeartbeatInterval":    "KAFKA_HEARTBEAT_INTERVAL",
	"MaxBytesPerPartition": "KAFKA_MAX_BYTES_PER_PARTITION",
	"MinBytes":             "KAFKA_MIN_BYTES",
	"MaxWaitTime":          "KAFKA_MAX_WAIT_TIME",
	"IsolationLevel":       "KAFKA_ISOLATION_LEVEL",

	"HandlerMaxRetries":      "KAFKA_HANDLER_MAX_RETRIES",
	"HandlerRetryBackoff":    "KAFKA_HANDLER_RETRY_BACKOFF",
	"HandlerRetryMaxBackoff": "KAFKA_HANDLER_RETRY_MAX_BACKOFF",
	"DLQSuffix":              "KAFKA_DLQ_SUFFIX",

	"CreateTopics": "KAFKA_TOPICS_CREATE",
	"StrictTopics": "KAFKA_TOPICS_STRICT",

	"ShutdownTimeout": "KAFKA_SHUTDOWN_TIMEOUT",
}

// FromEnv reads the Kafka settings from the environment through lookup
// (os.LookupEnv in a program, a map lookup in tests) and validates them
// with [Kafka.Validate]. The error names every bad variable and its value
// as it was set; secrets are never repeated.
func FromEnv(lookup func(string) (string, bool)) (Kafka, error) {
	p := env.NewParser(lookup)
	k := Default()
	if brokers, ok := lookup("KAFKA_BROKERS"); ok && brokers != "" {
		k.Brokers = env.SplitList(brokers)
		if len(k.Brokers) == 0 {
			p.Fail("KAFKA_BROKERS", brokers, "names no broker")
		}
	}
	k.ClientID = p.String("KAFKA_CLIENT_ID", k.ClientID)
	k.GroupID = p.String("KAFKA_GROUP_ID", k.ClientID+"-group")
	readClient(p, &k.Client)
	readProducer(p, &k.Producer)
	readGroup(p, &k.Group)
	readHandling(p, &k.Handling)
	k.CreateTopics = p.Bool("KAFKA_TOPICS_CREATE", k.CreateTopics)
	k.StrictTopics = p.Bool("KAFKA_TOPICS_STRICT", k.StrictTopics)
	k.ShutdownTimeout = p.Duration("KAFKA_SHUTDOWN_TIMEOUT", k.ShutdownTimeout)
	return k, errors.Join(p.Err(), envErrors(k.Validate(), p.Failed))
}

func readClient(p *env.Parser, c *Client) {
	c.RequestTimeout = p.Duration("KAFKA_REQUEST_TIMEOUT", c.RequestTimeout)
	c.ConnectionTimeout = p.Duration("KAFKA_CONNECTION_TIMEOUT", c.ConnectionTimeout)
	c.RetryBackoff = p.Duration("KAFKA_RETRY_DELAYMS", c.RetryBackoff)
	c.Retries = int(p.Whole("KAFKA_RETRY_RETRIES", int64(c.Retries), 32))
	c.TLS = TLS{
		Enabled:            p.Bool("KAFKA_SSL_ENABLED", false),
		CAFile:             p.Raw("KAFKA_SSL_CA_FILE"),
		CertFile:           p.Raw("KAFKA_SSL_CERT_FILE"),
		KeyFile:            p.Raw("KAFKA_SSL_KEY_FILE"),
		ServerName:         p.Raw("KAFKA_SSL_SERVER_NAME"),
		InsecureSkipVerify: p.Bool("KAFKA_SSL_INSECURE_SKIP_VERIFY", false),
	}
	c.SASL = SASL{
		Mechanism: p.Lower("KAFKA_SASL_MECHANISM", ""),
		Username:  p.Raw("KAFKA_SASL_USERNAME"),
		Password:  Secret(p.Secret("KAFKA_SASL_PASSWORD")),
	}
}

func readProducer(p *env.Parser, pr *Producer) {
	pr.MaxInFlightRequests = int(p.Whole("KAFKA_MAX_IN_FLIGHT_REQUESTS", int64(pr.MaxInFlightRequests), 32))
	pr.EnforceRequestTimeout = p.Bool("KAFKA_ENFORCE_REQUEST_TIMEOUT", pr.EnforceRequestTimeout)
	pr.DeliveryTimeout = p.Duration("KAFKA_DELIVERY_TIMEOUT", pr.DeliveryTimeout)
	pr.BatchSize = int32(p.Whole("KAFKA_BATCH_SIZE", int64(pr.BatchSize), 32))
	pr.Linger = p.Duration("KAFKA_LINGER_MS", pr.Linger)
	pr.Compression = p.Lower("KAFKA_COMPRESSION", pr.Compression)
	pr.Acks = Acks(p.Lower("KAFKA_ACKS", string(pr.Acks)))
	if v := p.Raw("KAFKA_IDEMPOTENT"); v != "" {
		if p.Bool("KAFKA_IDEMPOTENT", false) {
			pr.Idempotence = IdempotenceOn
		} else if !p.Failed("KAFKA_IDEMPOTENT") {
			pr.Idempotence = IdempotenceOff
		}
	}
	pr.MaxBufferedRecords = int(p.Whole("KAFKA_MAX_BUFFERED_RECORDS", int64(pr.MaxBufferedRecords), 32))
	pr.MaxBufferedBytes = p.Whole("KAFKA_MAX_BUFFERED_BYTES", pr.MaxBufferedBytes, 64)
}

func readGroup(p *env.Parser, g *Group) {
	g.GroupProtocol = p.Lower("KAFKA_GROUP_PROTOCOL", g.GroupProtocol)
	if v := p.Raw("KAFKA_PARTITION_ASSIGNERS"); v != "" {
		// Only commas name no assigner, which Validate reports.
		g.Assigners = env.SplitList(strings.ToLower(v))
	}
	g.SessionTimeout = p.Duration("KAFKA_SESSION_TIMEOUT", g.SessionTimeout)
	g.HeartbeatInterval = p.Duration("KAFKA_HEARTBEAT_INTERVAL", g.HeartbeatInterval)
	g.MaxBytesPerPartition = int32(p.Whole("KAFKA_MAX_BYTES_PER_PARTITION", int64(g.MaxBytesPerPartition), 32))
	g.MinBytes = int32(p.Whole("KAFKA_MIN_BYTES", int64(g.MinBytes), 32))
	g.MaxWaitTime = p.Duration("KAFKA_MAX_WAIT_TIME", g.MaxWaitTime)
	g.IsolationLevel = p.Lower("KAFKA_ISOLATION_LEVEL", g.IsolationLevel)
}

func readHandling(p *env.Parser, h *Handling) {
	h.HandlerMaxRetries = int(p.Whole("KAFKA_HANDLER_MAX_RETRIES", int64(h.HandlerMaxRetries), 32))
	h.HandlerRetryBackoff = p.Duration("KAFKA_HANDLER_RETRY_BACKOFF", h.HandlerRetryBackoff)
	h.HandlerRetryMaxBackoff = p.Duration("KAFKA_HANDLER_RETRY_MAX_BACKOFF", h.HandlerRetryMaxBackoff)
	if p.IsSet("KAFKA_DLQ_SUFFIX") {
		h.DLQSuffix = p.Raw("KAFKA_DLQ_SUFFIX") // set but empty disables dead letters
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
