package service

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/internal/env"
)

// Var is one environment variable of `kafkakit serve`: the one list that
// `kafkakit serve -h` (with the defaults) and `kafkakit env` (with the
// values in effect) print. Tests check that it names every variable
// FromEnv reads, and that the README's table gives the same defaults.
type Var struct {
	Group, Name, Meaning string
	// Value shows the variable's setting in c as the environment spells
	// it; a secret that is set shows "[REDACTED]" (in place of a header's
	// value, for KAFKA_WEBHOOK_HEADERS), which WriteEnv leaves out.
	Value func(c Config) string
}

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
func list(s []string) string    { return strings.Join(s, ",") }

func millisList(ds []time.Duration) string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = ms(d)
	}
	return list(out)
}

// Vars lists the variables, grouped as the README's table is.
var Vars = []Var{
	{"Kafka connection", config.EnvBrokers, "comma-separated host:port; embedded starts the in-process broker", func(c Config) string { return list(c.Kafka.Brokers) }},
	{"Kafka connection", config.EnvClientID, "client id", func(c Config) string { return c.Kafka.ClientID }},
	{"Kafka connection", config.EnvRequestTimeout, "ms: produce timeout at the broker, bound on retries, HTTP wait for an ack", func(c Config) string { return ms(c.Kafka.RequestTimeout) }},
	{"Kafka connection", config.EnvConnectionTimeout, "ms: dial timeout, TLS handshake included", func(c Config) string { return ms(c.Kafka.ConnectionTimeout) }},
	{"Kafka connection", config.EnvRetryBackoff, "ms: first pause before a client retry; doubles up to 30s", func(c Config) string { return ms(c.Kafka.RetryBackoff) }},
	{"Kafka connection", config.EnvRetries, "client retries of a failed request or produce", func(c Config) string { return strconv.Itoa(c.Kafka.Retries) }},
	{"Kafka connection", config.EnvShutdownTimeout, "ms: how long shutdown waits for in-flight work", func(c Config) string { return ms(c.Kafka.ShutdownTimeout) }},
	{"TLS and SASL", config.EnvTLSEnabled, "TLS to the brokers", func(c Config) string { return strconv.FormatBool(c.Kafka.TLS.Enabled) }},
	{"TLS and SASL", config.EnvTLSCAFile, "PEM bundle of CAs to trust instead of the system's", func(c Config) string { return c.Kafka.TLS.CAFile }},
	{"TLS and SASL", config.EnvTLSCertFile, "client certificate, for mutual TLS", func(c Config) string { return c.Kafka.TLS.CertFile }},
	{"TLS and SASL", config.EnvTLSKeyFile, "client key, for mutual TLS", func(c Config) string { return c.Kafka.TLS.KeyFile }},
	{"TLS and SASL", config.EnvTLSServerName, "name expected in the broker certificate (SNI)", func(c Config) string { return c.Kafka.TLS.ServerName }},
	{"TLS and SASL", config.EnvTLSInsecureSkipVerify, "accept any broker certificate: tests only", func(c Config) string { return strconv.FormatBool(c.Kafka.TLS.InsecureSkipVerify) }},
	{"TLS and SASL", config.EnvSASLMechanism, "plain, scram-sha-256 or scram-sha-512", func(c Config) string { return c.Kafka.SASL.Mechanism }},
	{"TLS and SASL", config.EnvSASLUsername, "SASL user", func(c Config) string { return c.Kafka.SASL.Username }},
	{"TLS and SASL", config.EnvSASLPassword, "SASL password (secret)", func(c Config) string { return c.Kafka.SASL.Password.String() }},
	{"Producer", config.EnvAcks, "all, leader or none; only all can be idempotent", func(c Config) string { return string(c.Kafka.Acks) }},
	{"Producer", config.EnvIdempotence, "unset: idempotent unless a setting conflicts; true: always; false: never", func(c Config) string { return string(c.Kafka.Idempotence) }},
	{"Producer", config.EnvBatchSize, "producer batch size in bytes, at least 512 (0: franz-go's default, the same)", func(c Config) string { return strconv.Itoa(int(c.Kafka.BatchSize)) }},
	{"Producer", config.EnvLinger, "ms a batch waits for more messages", func(c Config) string { return ms(c.Kafka.Linger) }},
	{"Producer", config.EnvCompression, "none, gzip, snappy, lz4 or zstd", func(c Config) string { return c.Kafka.Compression }},
	{"Producer", config.EnvMaxInFlightRequests, "produce requests in flight per broker", func(c Config) string { return strconv.Itoa(c.Kafka.MaxInFlightRequests) }},
	{"Producer", config.EnvEnforceRequestTimeout, "a library Send that outlives the request timeout fails", func(c Config) string { return strconv.FormatBool(c.Kafka.EnforceRequestTimeout) }},
	{"Producer", config.EnvDeliveryTimeout, "ms: a message's whole delivery budget, retries included", func(c Config) string { return ms(c.Kafka.DeliveryTimeout) }},
	{"Producer", config.EnvMaxBufferedRecords, "messages held while waiting for the brokers; beyond, HTTP answers 503", func(c Config) string { return strconv.Itoa(c.Kafka.MaxBufferedRecords) }},
	{"Producer", config.EnvMaxBufferedBytes, "the same bound in bytes", func(c Config) string { return strconv.FormatInt(c.Kafka.MaxBufferedBytes, 10) }},
	{"Producer", "KAFKA_TRANSACTIONAL_ID_PREFIX", "transactional ids of atomic batches: prefix-host-port-n", func(c Config) string { return c.TransactionalIDPrefix }},
	{"Consumer", "KAFKA_CONSUMER_TOPICS", "topics to consume, comma-separated; none: no consumer", func(c Config) string { return list(c.ConsumerTopics) }},
	{"Consumer", "KAFKA_CONSUMER_FROM_BEGINNING", "a new group starts at the oldest message", func(c Config) string { return strconv.FormatBool(c.FromBeginning) }},
	{"Consumer", "KAFKA_HANDLER", "log or webhook", func(c Config) string { return c.Handler }},
	{"Consumer", "KAFKA_WEBHOOK_URL", "where webhook POSTs each message", func(c Config) string { return c.WebhookURL }},
	{"Consumer", "KAFKA_WEBHOOK_TIMEOUT", "ms: one webhook call's budget, the answer's whole body included; a timeout is retried", func(c Config) string { return ms(c.WebhookTimeout) }},
	{"Consumer", "KAFKA_WEBHOOK_HEADERS", "extra headers, Name: value separated by newlines or ; (secret)", func(c Config) string { return c.WebhookHeaders.String() }},
	{"Consumer", "KAFKA_WEBHOOK_FORMAT", "kafkakit (JSON body) or cloudevents (binary mode)", func(c Config) string { return string(c.WebhookFormat) }},
	{"Consumer", "KAFKA_WEBHOOK_SECRET", "whsec_ key: sign calls as Standard Webhooks 1.0 (secret)", func(c Config) string { return c.WebhookSecret.String() }},
	{"Consumer", "KAFKA_CONSUMER_MODE", "group (consumer group: ordered per partition or key, one member per partition) or share (share group, KIP-932: unordered, any number of members per partition; needs Apache Kafka 4.2+)", func(c Config) string { return c.ConsumerMode }},
	{"Consumer", "KAFKA_HANDLER_CONCURRENCY", "records of one partition handled at once; one key's never at once, in order. In share mode: records handled at once by the instance, from any partitions", func(c Config) string { return strconv.Itoa(c.HandlerConcurrency) }},
	{"Consumer", config.EnvGroupID, "consumer group (default <client id>-group)", func(c Config) string { return c.Kafka.GroupID }},
	{"Consumer", config.EnvGroupProtocol, "classic, or consumer (KIP-848)", func(c Config) string { return c.Kafka.GroupProtocol }},
	{"Consumer", config.EnvAssigners, "assignors in preference order: cooperative-sticky, sticky, range, roundrobin, kafkajs-roundrobin", func(c Config) string { return list(c.Kafka.Assigners) }},
	{"Consumer", config.EnvIsolationLevel, "read_committed or read_uncommitted", func(c Config) string { return c.Kafka.IsolationLevel }},
	{"Consumer", config.EnvSessionTimeout, "ms: a silent member loses its partitions after this", func(c Config) string { return ms(c.Kafka.SessionTimeout) }},
	{"Consumer", config.EnvHeartbeatInterval, "ms: below the session timeout", func(c Config) string { return ms(c.Kafka.HeartbeatInterval) }},
	{"Consumer", config.EnvMaxBytesPerPartition, "fetch size per partition", func(c Config) string { return strconv.Itoa(int(c.Kafka.MaxBytesPerPartition)) }},
	{"Consumer", config.EnvMinBytes, "a fetch waits for this much data...", func(c Config) string { return strconv.Itoa(int(c.Kafka.MinBytes)) }},
	{"Consumer", config.EnvMaxWaitTime, "ms: ...or this long (in share mode at most 500)", func(c Config) string { return ms(c.Kafka.MaxWaitTime) }},
	{"Consumer", config.EnvHandlerMaxRetries, "retries after the first attempt", func(c Config) string { return strconv.Itoa(c.Kafka.HandlerMaxRetries) }},
	{"Consumer", config.EnvHandlerRetryBackoff, "ms: first pause before a handler retry; doubles", func(c Config) string { return ms(c.Kafka.HandlerRetryBackoff) }},
	{"Consumer", config.EnvHandlerRetryMaxBackoff, "ms: cap on the pause between handler retries", func(c Config) string { return ms(c.Kafka.HandlerRetryMaxBackoff) }},
	{"Consumer", "KAFKA_HANDLER_RETRY_MODE", "blocking (retry in place, holding the partition) or topics (retry topics; needs the range assigner)", func(c Config) string { return c.RetryMode }},
	{"Consumer", "KAFKA_HANDLER_RETRY_DELAYS", "ms, comma-separated: the retry topics' delays in topics mode", func(c Config) string { return millisList(c.RetryDelays) }},
	{"Consumer", config.EnvDLQSuffix, "dead-letter topic = topic + suffix; empty: none", func(c Config) string { return c.Kafka.DLQSuffix }},
	{"Topics kafkakit writes", config.EnvCreateTopics, "true: create the dead-letter, retry, Idempotency-Key and parked topics when missing, and raise the Idempotency-Key topic's retention to twice HTTP_IDEMPOTENCY_TTL; false: create and change nothing, a missing topic stops start-up (docs/topics.md)", func(c Config) string { return strconv.FormatBool(c.Kafka.CreateTopics) }},
	{"Topics kafkakit writes", config.EnvStrictTopics, "false: an existing topic whose settings break a promise is one WARN line per problem; true: it stops start-up", func(c Config) string { return strconv.FormatBool(c.Kafka.StrictTopics) }},
	{"Embedded broker", "KAFKA_EMBEDDED_ADDR", "where the embedded broker listens", func(c Config) string { return c.EmbeddedAddr }},
	{"Embedded broker", "KAFKA_EMBEDDED_DATA_DIR", "keeps its data there across restarts and crashes; empty: memory", func(c Config) string { return c.EmbeddedDataDir }},
	{"HTTP", "HTTP_ADDR", "HTTP listen address; with KAFKA_BROKERS=embedded the default is 127.0.0.1:8080", func(c Config) string { return c.HTTPAddr }},
	{"HTTP", "HTTP_AUTH_TOKEN", "bearer token required on /kafka/*, with every scope, logged as default (secret)", func(c Config) string { return c.AuthToken.String() }},
	{"HTTP", "HTTP_TOKENS_FILE", "file of named bearer tokens with scopes, one a line: <name> <token> <scope>[,<scope>...]; re-read on SIGHUP (docs/security.md)", func(c Config) string { return c.TokensFile }},
	{"HTTP", "HTTP_OIDC_ISSUER", "OpenID Connect issuer URL: JWT bearer tokens its keys signed are valid too, scopes from a claim (docs/security.md)", func(c Config) string { return c.OIDCIssuer }},
	{"HTTP", "HTTP_OIDC_AUDIENCE", "the aud a JWT must name; required with HTTP_OIDC_ISSUER", func(c Config) string { return c.OIDCAudience }},
	{"HTTP", "HTTP_OIDC_SCOPES_CLAIM", "the JWT claim holding its scopes: an array of strings or a space-separated string", func(c Config) string { return c.OIDCScopesClaim }},
	{"HTTP", "HTTP_AUTH_TOKEN_PROTECT_ALL", "require a token, with the read scope, on /healthz, /readyz, /metrics, /openapi.json and / too", func(c Config) string { return strconv.FormatBool(c.ProtectAll) }},
	{"HTTP", "HTTP_ALLOWED_TOPICS", "only these topics may be sent to: names or prefix.*", func(c Config) string { return list(c.AllowedTopics) }},
	{"HTTP", "HTTP_MAX_BODY_BYTES", "request body limit", func(c Config) string { return strconv.FormatInt(c.MaxBodyBytes, 10) }},
	{"HTTP", "HTTP_MAX_BATCH", "messages per send-batch", func(c Config) string { return strconv.Itoa(c.MaxBatch) }},
	{"HTTP", "HTTP_MAX_IN_FLIGHT", "send requests handled at once; more get 503", func(c Config) string { return strconv.Itoa(c.MaxInFlight) }},
	{"HTTP", "HTTP_MAX_IN_FLIGHT_BYTES", "bytes of request bodies handled at once", func(c Config) string { return strconv.FormatInt(c.MaxInFlightBytes, 10) }},
	{"HTTP", "HTTP_MAX_STREAMS", "POST /kafka/stream exchanges open at once, apart from HTTP_MAX_IN_FLIGHT; more get 503", func(c Config) string { return strconv.Itoa(c.MaxStreams) }},
	{"HTTP", "HTTP_READ_HEADER_TIMEOUT", "ms: a client slower to send its headers is disconnected", func(c Config) string { return ms(c.ReadHeaderTimeout) }},
	{"HTTP", "HTTP_IDEMPOTENCY_TTL", "ms an Idempotency-Key is remembered; 0 disables", func(c Config) string { return ms(c.IdempotencyTTL) }},
	{"HTTP", "HTTP_IDEMPOTENCY_MAX_KEYS", "Idempotency-Keys held in memory; beyond, the oldest is forgotten", func(c Config) string { return strconv.Itoa(c.IdempotencyMaxKeys) }},
	{"HTTP", "HTTP_IDEMPOTENCY_MAX_BYTES", "the same bound in bytes of keys and stored answers", func(c Config) string { return strconv.FormatInt(c.IdempotencyMaxBytes, 10) }},
	{"HTTP", "HTTP_TLS_CERT_FILE", "serve HTTPS with this certificate...", func(c Config) string { return c.TLSCertFile }},
	{"HTTP", "HTTP_TLS_KEY_FILE", "...and this key", func(c Config) string { return c.TLSKeyFile }},
	{"HTTP", "HTTP_CONSOLE", "serve the web console at /console", func(c Config) string { return strconv.FormatBool(c.Console) }},
	{"Queues", "HTTP_QUEUE_SECRET", "signs queue receipts, at least 16 bytes, the same on every replica; unset: a random key, one replica only (secret)", func(c Config) string { return c.QueueSecret.String() }},
	{"Queues", "HTTP_ADVERTISED_URL", "base URL the other replicas reach this one at, for acknowledgements of its receipts; needed with HTTP_QUEUE_SECRET", func(c Config) string { return c.AdvertisedURL }},
	{"Queues", "HTTP_QUEUE_MAX_MEMBERS", "share-group members kept open for the queue routes; a receive needing one more gets 503", func(c Config) string { return strconv.Itoa(c.QueueMaxMembers) }},
	{"Queues", "HTTP_QUEUE_IDLE_TIMEOUT", "ms: a member with no lease and no receive for this long is closed", func(c Config) string { return ms(c.QueueIdleTimeout) }},
	{"Logging", config.EnvLogLevel, "debug, info, warn or error", func(c Config) string { return strings.ToLower(c.Log.Level.String()) }},
	{"Logging", config.EnvLogFormat, "json or text", func(c Config) string { return c.Log.Format }},
}

// PrintVars writes the variables grouped, each with its value in c: the
// defaults when c comes from an empty environment.
func PrintVars(w io.Writer, c Config) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	group := ""
	for _, v := range Vars {
		if v.Group != group {
			if group != "" {
				fmt.Fprintln(tw)
			}
			group = v.Group
			fmt.Fprintf(tw, "%s:\n", group)
		}
		fmt.Fprintf(tw, "  %s=%s\t%s\n", v.Name, shellQuote(v.Value(c)), v.Meaning)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nTracing: the standard OTEL_* variables (OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_ENDPOINT, ...).")
}

// envFileHeader opens WriteEnv's output.
const envFileHeader = `# kafkakit serve's configuration: every variable with the value in effect,
# its default when unset. Read it with
#   set -a; . ./kafkakit.env; set +a        (sh)
#   docker run --env-file kafkakit.env ...  (docker)
# Both read each NAME=value line alike: values are written as they are, and
# a value that sh would need quoted (docker would keep the quotes), or a
# secret that is set, is only shown in a comment.
`

// WriteEnv writes c as an env file that sh can source and docker
// --env-file can read, both to the same values: comments on lines of
// their own, and each variable as NAME=value, the value unquoted. A value
// is written so only when both read it alike: empty, or made of letters,
// digits and _@%+=:,./-*?[]{} (sh does not expand * ? [ ] or braces in an
// assignment). Any other value would need quotes in sh, which docker keeps
// as part of the value; it is left out, and shown sh-quoted in a comment.
// A secret that is set is left out and named in a comment.
func WriteEnv(w io.Writer, c Config) {
	b := []byte(envFileHeader)
	group := ""
	for _, v := range Vars {
		if v.Group != group {
			group = v.Group
			b = fmt.Appendf(b, "\n# == %s ==\n", group)
		}
		b = fmt.Appendf(b, "# %s\n", v.Meaning)
		switch value := v.Value(c); {
		case strings.Contains(value, redacted):
			b = fmt.Appendf(b, "# %s is set: a secret, not shown\n", v.Name)
		case envFileSafe(value):
			b = fmt.Appendf(b, "%s=%s\n", v.Name, value)
		default:
			b = fmt.Appendf(b, "# %s is not written as a line: sh would need its value quoted, and docker --env-file keeps quotes. For sh:\n", v.Name)
			for line := range strings.Lines(v.Name + "=" + shellQuote(value)) {
				b = append(b, "# "...)
				b = append(b, strings.TrimSuffix(line, "\n")...)
				b = append(b, '\n')
			}
		}
	}
	b = append(b, "\n# Tracing: the standard OTEL_* variables (OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_ENDPOINT, ...).\n"...)
	_, _ = w.Write(b)
}

// redacted is what a secret that is set shows as (config.Secret,
// webhook.Secret, webhook.Headers' values).
const redacted = "[REDACTED]"

// envFileSafe reports whether sh and docker --env-file read NAME=s alike.
func envFileSafe(s string) bool {
	for _, r := range s {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		case strings.ContainsRune("_@%+=:,./-*?[]{}", r):
		default:
			return false
		}
	}
	return true
}

// Defaults is the configuration of an empty environment.
func Defaults() Config {
	c, _ := FromEnv(env.Map(nil))
	return c
}

// shellQuote quotes a value only when a shell would need it, so that a
// line can be pasted into a shell or an env file.
func shellQuote(s string) string {
	if !strings.ContainsAny(s, " \t\n'\"\\$`*?<>|&;()#~[]{}") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
