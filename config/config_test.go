package config_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/internal/env"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestFromEnvDefaults(t *testing.T) {
	got, err := config.FromEnv(env.Map(nil))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(config.Default(), got); diff != "" {
		t.Errorf("config.FromEnv(empty) differs from config.Default() (-want +got):\n%s", diff)
	}
}

// TestFromEnvEachVariable sets each variable alone and checks the field it
// lands in.
func TestFromEnvEachVariable(t *testing.T) {
	certs := kafkatest.NewCerts(t)
	certFile, keyFile := certs.ClientCertFile, certs.ClientKeyFile
	tests := []struct {
		env  map[string]string
		want func(*config.Kafka)
	}{
		{map[string]string{"KAFKA_BROKERS": "a:1, b:2 ,"}, func(k *config.Kafka) { k.Brokers = []string{"a:1", "b:2"} }},
		{map[string]string{"KAFKA_BROKERS": "embedded"}, func(k *config.Kafka) { k.Brokers = []string{"embedded"} }},
		{map[string]string{"KAFKA_CLIENT_ID": "svc"}, func(k *config.Kafka) { k.ClientID, k.GroupID = "svc", "svc-group" }},
		{map[string]string{"KAFKA_GROUP_ID": "g"}, func(k *config.Kafka) { k.GroupID = "g" }},
		{map[string]string{"KAFKA_GROUP_PROTOCOL": "consumer"}, func(k *config.Kafka) { k.GroupProtocol = "consumer" }},
		{map[string]string{"KAFKA_PARTITION_ASSIGNERS": "kafkajs-roundrobin"}, func(k *config.Kafka) { k.Assigners = []string{"kafkajs-roundrobin"} }},
		{map[string]string{"KAFKA_PARTITION_ASSIGNERS": " Range, roundrobin "}, func(k *config.Kafka) { k.Assigners = []string{"range", "roundrobin"} }},
		{map[string]string{"KAFKA_PARTITION_ASSIGNERS": "sticky"}, func(k *config.Kafka) { k.Assigners = []string{"sticky"} }},
		{map[string]string{"KAFKA_PARTITION_ASSIGNERS": "range,cooperative-sticky"}, func(k *config.Kafka) { k.Assigners = []string{"range", "cooperative-sticky"} }},
		{map[string]string{"KAFKA_PARTITION_ASSIGNERS": ""}, func(k *config.Kafka) {}},
		{map[string]string{"KAFKA_PARTITION_ASSIGNERS": "range", "KAFKA_GROUP_PROTOCOL": "consumer"}, func(k *config.Kafka) { k.Assigners, k.GroupProtocol = []string{"range"}, "consumer" }},
		{map[string]string{"KAFKA_ISOLATION_LEVEL": "READ_UNCOMMITTED"}, func(k *config.Kafka) { k.IsolationLevel = config.ReadUncommitted }},
		{map[string]string{"KAFKA_SESSION_TIMEOUT": "45000"}, func(k *config.Kafka) { k.SessionTimeout = 45 * time.Second }},
		{map[string]string{"KAFKA_HEARTBEAT_INTERVAL": "1000"}, func(k *config.Kafka) { k.HeartbeatInterval = time.Second }},
		{map[string]string{"KAFKA_MAX_BYTES_PER_PARTITION": "2097152"}, func(k *config.Kafka) { k.MaxBytesPerPartition = 2 << 20 }},
		{map[string]string{"KAFKA_MIN_BYTES": "1024"}, func(k *config.Kafka) { k.MinBytes = 1024 }},
		{map[string]string{"KAFKA_MAX_WAIT_TIME": "1000"}, func(k *config.Kafka) { k.MaxWaitTime = time.Second }},
		{map[string]string{"KAFKA_MAX_IN_FLIGHT_REQUESTS": "3"}, func(k *config.Kafka) { k.MaxInFlightRequests = 3 }},
		{map[string]string{"KAFKA_MAX_IN_FLIGHT_REQUESTS": "10", "KAFKA_ACKS": "leader"}, func(k *config.Kafka) { k.MaxInFlightRequests, k.Acks = 10, config.AcksLeader }},
		{map[string]string{"KAFKA_MAX_IN_FLIGHT_REQUESTS": "10"}, func(k *config.Kafka) { k.MaxInFlightRequests = 10 }},
		{map[string]string{"KAFKA_IDEMPOTENT": "true"}, func(k *config.Kafka) { k.Idempotence = config.IdempotenceOn }},
		{map[string]string{"KAFKA_IDEMPOTENT": "false"}, func(k *config.Kafka) { k.Idempotence = config.IdempotenceOff }},
		{map[string]string{"KAFKA_REQUEST_TIMEOUT": "5000"}, func(k *config.Kafka) { k.RequestTimeout = 5 * time.Second }},
		{map[string]string{"KAFKA_CONNECTION_TIMEOUT": "2500"}, func(k *config.Kafka) { k.ConnectionTimeout = 2500 * time.Millisecond }},
		{map[string]string{"KAFKA_ENFORCE_REQUEST_TIMEOUT": "true"}, func(k *config.Kafka) { k.EnforceRequestTimeout = true }},
		{map[string]string{"KAFKA_DELIVERY_TIMEOUT": "60000"}, func(k *config.Kafka) { k.DeliveryTimeout = time.Minute }},
		{map[string]string{"KAFKA_RETRY_DELAYMS": "100"}, func(k *config.Kafka) { k.RetryBackoff = 100 * time.Millisecond }},
		{map[string]string{"KAFKA_RETRY_RETRIES": "0"}, func(k *config.Kafka) { k.Retries = 0 }},
		{map[string]string{"KAFKA_BATCH_SIZE": "16384"}, func(k *config.Kafka) { k.BatchSize = 16384 }},
		{map[string]string{"KAFKA_LINGER_MS": "5"}, func(k *config.Kafka) { k.Linger = 5 * time.Millisecond }},
		{map[string]string{"KAFKA_LINGER_MS": "0"}, func(k *config.Kafka) { k.Linger = 0 }},
		{map[string]string{"KAFKA_COMPRESSION": "ZSTD"}, func(k *config.Kafka) { k.Compression = "zstd" }},
		{map[string]string{"KAFKA_ACKS": "none"}, func(k *config.Kafka) { k.Acks = config.AcksNone }},
		{map[string]string{"KAFKA_MAX_BUFFERED_RECORDS": "1000"}, func(k *config.Kafka) { k.MaxBufferedRecords = 1000 }},
		{map[string]string{"KAFKA_MAX_BUFFERED_BYTES": "1048576"}, func(k *config.Kafka) { k.MaxBufferedBytes = 1 << 20 }},
		{map[string]string{"KAFKA_SSL_ENABLED": "true"}, func(k *config.Kafka) { k.TLS.Enabled = true }},
		{map[string]string{"KAFKA_SSL_ENABLED": "true", "KAFKA_SSL_CA_FILE": certs.CAFile}, func(k *config.Kafka) { k.TLS = config.TLS{Enabled: true, CAFile: certs.CAFile} }},
		{map[string]string{"KAFKA_SSL_ENABLED": "true", "KAFKA_SSL_CERT_FILE": certFile, "KAFKA_SSL_KEY_FILE": keyFile},
			func(k *config.Kafka) { k.TLS = config.TLS{Enabled: true, CertFile: certFile, KeyFile: keyFile} }},
		{map[string]string{"KAFKA_SSL_ENABLED": "1", "KAFKA_SSL_SERVER_NAME": "kafka.internal"}, func(k *config.Kafka) { k.TLS = config.TLS{Enabled: true, ServerName: "kafka.internal"} }},
		{map[string]string{"KAFKA_SSL_ENABLED": "true", "KAFKA_SSL_INSECURE_SKIP_VERIFY": "true"}, func(k *config.Kafka) { k.TLS = config.TLS{Enabled: true, InsecureSkipVerify: true} }},
		{map[string]string{"KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": " p w "},
			func(k *config.Kafka) { k.SASL = config.SASL{Mechanism: "plain", Username: "u", Password: " p w "} }},
		{map[string]string{"KAFKA_SASL_MECHANISM": "scram-sha-256", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"},
			func(k *config.Kafka) { k.SASL = config.SASL{Mechanism: "scram-sha-256", Username: "u", Password: "p"} }},
		{map[string]string{"KAFKA_SASL_MECHANISM": "scram-sha-512", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"},
			func(k *config.Kafka) { k.SASL = config.SASL{Mechanism: "scram-sha-512", Username: "u", Password: "p"} }},
		{map[string]string{"KAFKA_HANDLER_MAX_RETRIES": "0"}, func(k *config.Kafka) { k.HandlerMaxRetries = 0 }},
		{map[string]string{"KAFKA_HANDLER_RETRY_BACKOFF": "50"}, func(k *config.Kafka) { k.HandlerRetryBackoff = 50 * time.Millisecond }},
		{map[string]string{"KAFKA_HANDLER_RETRY_MAX_BACKOFF": "1000"}, func(k *config.Kafka) { k.HandlerRetryMaxBackoff = time.Second }},
		{map[string]string{"KAFKA_DLQ_SUFFIX": "-dlt"}, func(k *config.Kafka) { k.DLQSuffix = "-dlt" }},
		{map[string]string{"KAFKA_DLQ_SUFFIX": ""}, func(k *config.Kafka) { k.DLQSuffix = "" }},
		{map[string]string{"KAFKA_SHUTDOWN_TIMEOUT": "5000"}, func(k *config.Kafka) { k.ShutdownTimeout = 5 * time.Second }},
		{map[string]string{"KAFKA_TOPICS_CREATE": "false"}, func(k *config.Kafka) { k.CreateTopics = false }},
		{map[string]string{"KAFKA_TOPICS_STRICT": "true"}, func(k *config.Kafka) { k.StrictTopics = true }},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.env), func(t *testing.T) {
			got, err := config.FromEnv(env.Map(tt.env))
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			want := config.Default()
			tt.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestFromEnvBadValues checks that every bad value stops start-up with an
// error naming the variable.
// badEnvValue is an environment FromEnv refuses and what its error must
// contain.
type badEnvValue struct {
	env  map[string]string
	want string // the error must contain this
}

// badEnvValues are the environments FromEnv refuses whatever the files on
// disk.
var badEnvValues = []badEnvValue{
	{map[string]string{"KAFKA_SESSION_TIMEOUT": "abc"}, `KAFKA_SESSION_TIMEOUT: "abc" is not a whole number of milliseconds`},
	{map[string]string{"KAFKA_SESSION_TIMEOUT": "0"}, `KAFKA_SESSION_TIMEOUT: "0" must be positive`},
	{map[string]string{"KAFKA_SESSION_TIMEOUT": "-5"}, `KAFKA_SESSION_TIMEOUT: "-5" must be positive`},
	{map[string]string{"KAFKA_SESSION_TIMEOUT": "1.5"}, `KAFKA_SESSION_TIMEOUT: "1.5" is not a whole number of milliseconds`},
	{map[string]string{"KAFKA_HEARTBEAT_INTERVAL": "x"}, `KAFKA_HEARTBEAT_INTERVAL: "x" is not a whole number`},
	{map[string]string{"KAFKA_HEARTBEAT_INTERVAL": "30000"}, `KAFKA_HEARTBEAT_INTERVAL: "30000" must be less than KAFKA_SESSION_TIMEOUT (30000)`},
	{map[string]string{"KAFKA_HEARTBEAT_INTERVAL": "5000", "KAFKA_SESSION_TIMEOUT": "4000"}, `KAFKA_HEARTBEAT_INTERVAL: "5000" must be less than KAFKA_SESSION_TIMEOUT (4000)`},
	{map[string]string{"KAFKA_MAX_BYTES_PER_PARTITION": "0"}, `KAFKA_MAX_BYTES_PER_PARTITION: "0" must be at least 1`},
	{map[string]string{"KAFKA_MAX_BYTES_PER_PARTITION": "big"}, `KAFKA_MAX_BYTES_PER_PARTITION: "big" is not a whole number`},
	{map[string]string{"KAFKA_MIN_BYTES": "-1"}, `KAFKA_MIN_BYTES: "-1" must be at least 1`},
	{map[string]string{"KAFKA_MAX_WAIT_TIME": "0"}, `KAFKA_MAX_WAIT_TIME: "0" must be positive`},
	{map[string]string{"KAFKA_MAX_IN_FLIGHT_REQUESTS": "6", "KAFKA_IDEMPOTENT": "true"}, `KAFKA_MAX_IN_FLIGHT_REQUESTS: "6" conflicts with KAFKA_IDEMPOTENT (true): is over 5, the most idempotent production keeps in order`},
	{map[string]string{"KAFKA_ACKS": "leader", "KAFKA_IDEMPOTENT": "true"}, `KAFKA_ACKS: "leader" conflicts with KAFKA_IDEMPOTENT (true): is not all, which idempotent production needs`},
	{map[string]string{"KAFKA_IDEMPOTENT": "perhaps"}, `KAFKA_IDEMPOTENT: "perhaps" is not true or false`},
	{map[string]string{"KAFKA_MAX_IN_FLIGHT_REQUESTS": "0"}, `KAFKA_MAX_IN_FLIGHT_REQUESTS: "0" must be at least 1`},
	{map[string]string{"KAFKA_REQUEST_TIMEOUT": "0"}, `KAFKA_REQUEST_TIMEOUT: "0" must be positive`},
	{map[string]string{"KAFKA_CONNECTION_TIMEOUT": "soon"}, `KAFKA_CONNECTION_TIMEOUT: "soon" is not a whole number`},
	{map[string]string{"KAFKA_ENFORCE_REQUEST_TIMEOUT": "maybe"}, `KAFKA_ENFORCE_REQUEST_TIMEOUT: "maybe" is not true or false`},
	{map[string]string{"KAFKA_DELIVERY_TIMEOUT": "-1"}, `KAFKA_DELIVERY_TIMEOUT: "-1" must be positive`},
	{map[string]string{"KAFKA_RETRY_DELAYMS": "0"}, `KAFKA_RETRY_DELAYMS: "0" must be positive`},
	{map[string]string{"KAFKA_RETRY_RETRIES": "-1"}, `KAFKA_RETRY_RETRIES: "-1" must be at least 0`},
	{map[string]string{"KAFKA_RETRY_RETRIES": "five"}, `KAFKA_RETRY_RETRIES: "five" is not a whole number`},
	{map[string]string{"KAFKA_BATCH_SIZE": "100"}, `KAFKA_BATCH_SIZE: "100" must be at least 512`},
	{map[string]string{"KAFKA_LINGER_MS": "-1"}, `KAFKA_LINGER_MS: "-1" must not be negative`},
	{map[string]string{"KAFKA_COMPRESSION": "brotli"}, `KAFKA_COMPRESSION: "brotli" must be one of none, gzip, snappy, lz4, zstd`},
	{map[string]string{"KAFKA_ACKS": "2"}, `KAFKA_ACKS: "2" must be one of all, leader, none`},
	{map[string]string{"KAFKA_MAX_BUFFERED_RECORDS": "0"}, `KAFKA_MAX_BUFFERED_RECORDS: "0" must be at least 1`},
	{map[string]string{"KAFKA_MAX_BUFFERED_BYTES": "lots"}, `KAFKA_MAX_BUFFERED_BYTES: "lots" is not a whole number`},
	{map[string]string{"KAFKA_GROUP_PROTOCOL": "eager"}, `KAFKA_GROUP_PROTOCOL: "eager" must be one of classic, consumer`},
	{map[string]string{"KAFKA_PARTITION_ASSIGNERS": ","}, `KAFKA_PARTITION_ASSIGNERS names no assigner; use one or more of cooperative-sticky, sticky, range, roundrobin, kafkajs-roundrobin`},
	{map[string]string{"KAFKA_PARTITION_ASSIGNERS": "range,RoundRobinAssigner"}, `KAFKA_PARTITION_ASSIGNERS: "range,roundrobinassigner" names "roundrobinassigner"; each must be one of cooperative-sticky, sticky, range, roundrobin, kafkajs-roundrobin`},
	{map[string]string{"KAFKA_PARTITION_ASSIGNERS": "range;roundrobin"}, `names "range;roundrobin"; each must be one of`},
	{map[string]string{"KAFKA_PARTITION_ASSIGNERS": "range,sticky,range"}, `KAFKA_PARTITION_ASSIGNERS: "range,sticky,range" names "range" twice`},
	{map[string]string{"KAFKA_PARTITION_ASSIGNERS": "kafkajs-roundrobin", "KAFKA_GROUP_PROTOCOL": "consumer"}, `KAFKA_PARTITION_ASSIGNERS: "kafkajs-roundrobin" must start with cooperative-sticky, sticky or range, the assignors the broker runs, with KAFKA_GROUP_PROTOCOL (consumer)`},
	{map[string]string{"KAFKA_ISOLATION_LEVEL": "serializable"}, `KAFKA_ISOLATION_LEVEL: "serializable" must be one of read_committed, read_uncommitted`},
	{map[string]string{"KAFKA_BROKERS": ","}, `KAFKA_BROKERS: "," names no broker`},
	{map[string]string{"KAFKA_BROKERS": "localhost"}, `KAFKA_BROKERS: "localhost" is not host:port`},
	{map[string]string{"KAFKA_BROKERS": "a:1,b"}, `KAFKA_BROKERS: "b" is not host:port`},
	{map[string]string{"KAFKA_BROKERS": ":9092"}, `KAFKA_BROKERS: ":9092" has no host`},
	{map[string]string{"KAFKA_BROKERS": "h:0"}, `KAFKA_BROKERS: "h:0" has no port between 1 and 65535`},
	{map[string]string{"KAFKA_BROKERS": "h:99999"}, `KAFKA_BROKERS: "h:99999" has no port`},
	{map[string]string{"KAFKA_BROKERS": "h:http"}, `KAFKA_BROKERS: "h:http" has no port`},
	{map[string]string{"KAFKA_SASL_MECHANISM": "gssapi", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "s3cr3t-pw"}, `KAFKA_SASL_MECHANISM: "gssapi" must be one of plain, scram-sha-256, scram-sha-512`},
	{map[string]string{"KAFKA_SASL_MECHANISM": "plain"}, `KAFKA_SASL_USERNAME must be set with KAFKA_SASL_MECHANISM (plain)`},
	{map[string]string{"KAFKA_SASL_MECHANISM": "plain", "KAFKA_SASL_USERNAME": "u"}, `KAFKA_SASL_PASSWORD must be set with KAFKA_SASL_MECHANISM (plain)`},
	{map[string]string{"KAFKA_SASL_MECHANISM": "scram-sha-512", "KAFKA_SASL_PASSWORD": "p"}, `KAFKA_SASL_USERNAME must be set`},
	{map[string]string{"KAFKA_SASL_USERNAME": "u"}, `KAFKA_SASL_USERNAME: "u" is set but KAFKA_SASL_MECHANISM is not`},
	{map[string]string{"KAFKA_SASL_PASSWORD": "hunter2"}, `KAFKA_SASL_PASSWORD is set but KAFKA_SASL_MECHANISM is not`},
	{map[string]string{"KAFKA_SSL_ENABLED": "yes please"}, `KAFKA_SSL_ENABLED: "yes please" is not true or false`},
	{map[string]string{"KAFKA_TOPICS_CREATE": "no"}, `KAFKA_TOPICS_CREATE: "no" is not true or false`},
	{map[string]string{"KAFKA_TOPICS_STRICT": "1x"}, `KAFKA_TOPICS_STRICT: "1x" is not true or false`},
	{map[string]string{"KAFKA_SSL_INSECURE_SKIP_VERIFY": "sure"}, `KAFKA_SSL_INSECURE_SKIP_VERIFY: "sure" is not true or false`},
	{map[string]string{"KAFKA_HANDLER_MAX_RETRIES": "-1"}, `KAFKA_HANDLER_MAX_RETRIES: "-1" must be at least 0`},
	{map[string]string{"KAFKA_HANDLER_RETRY_BACKOFF": "0"}, `KAFKA_HANDLER_RETRY_BACKOFF: "0" must be positive`},
	{map[string]string{"KAFKA_HANDLER_RETRY_MAX_BACKOFF": "x"}, `KAFKA_HANDLER_RETRY_MAX_BACKOFF: "x" is not a whole number`},
	{map[string]string{"KAFKA_DLQ_SUFFIX": "/dead"}, `KAFKA_DLQ_SUFFIX: "/dead" may only hold`},
	{map[string]string{"KAFKA_SHUTDOWN_TIMEOUT": "0"}, `KAFKA_SHUTDOWN_TIMEOUT: "0" must be positive`},
}

// badTLSFileValues are the environments FromEnv refuses for the TLS files
// they name: missing, a file that is not PEM, and a client certificate and
// key.
func badTLSFileValues(missing, notPEM, certFile, keyFile string) []badEnvValue {
	return []badEnvValue{
		{map[string]string{"KAFKA_SSL_ENABLED": "true", "KAFKA_SSL_CA_FILE": missing}, `KAFKA_SSL_CA_FILE: "` + missing + `" cannot be read: no such file or directory`},
		{map[string]string{"KAFKA_SSL_ENABLED": "true", "KAFKA_SSL_CA_FILE": notPEM}, `KAFKA_SSL_CA_FILE: "` + notPEM + `" holds no PEM certificate`},
		{map[string]string{"KAFKA_SSL_ENABLED": "true", "KAFKA_SSL_CERT_FILE": certFile}, `KAFKA_SSL_CERT_FILE: "` + certFile + `" is set without KAFKA_SSL_KEY_FILE`},
		{map[string]string{"KAFKA_SSL_ENABLED": "true", "KAFKA_SSL_KEY_FILE": keyFile}, `KAFKA_SSL_KEY_FILE: "` + keyFile + `" is set without KAFKA_SSL_CERT_FILE`},
		{map[string]string{"KAFKA_SSL_ENABLED": "true", "KAFKA_SSL_CERT_FILE": missing, "KAFKA_SSL_KEY_FILE": keyFile}, `KAFKA_SSL_CERT_FILE: "` + missing + `" cannot be read`},
		{map[string]string{"KAFKA_SSL_ENABLED": "true", "KAFKA_SSL_CERT_FILE": certFile, "KAFKA_SSL_KEY_FILE": missing}, `KAFKA_SSL_KEY_FILE: "` + missing + `" cannot be read`},
		{map[string]string{"KAFKA_SSL_ENABLED": "true", "KAFKA_SSL_CERT_FILE": certFile, "KAFKA_SSL_KEY_FILE": notPEM}, `are not a usable key pair`},
		{map[string]string{"KAFKA_SSL_CA_FILE": certFile}, `KAFKA_SSL_CA_FILE: "` + certFile + `" is set but KAFKA_SSL_ENABLED is not true`},
	}
}

func TestFromEnvBadValues(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	certs := kafkatest.NewCerts(t)
	certFile, keyFile := certs.ClientCertFile, certs.ClientKeyFile
	missing := filepath.Join(dir, "missing.pem")
	tests := append(slices.Clone(badEnvValues), badTLSFileValues(missing, notPEM, certFile, keyFile)...)
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.env), func(t *testing.T) {
			_, err := config.FromEnv(env.Map(tt.env))
			if err == nil {
				t.Fatalf("got no error, want one containing %s", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %q, want it to contain %q", err, tt.want)
			}
			if pw := tt.env["KAFKA_SASL_PASSWORD"]; pw != "" && strings.Contains(err.Error(), pw) {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

// TestAssignersReachClient checks that each assigner becomes the franz-go
// balancer with the protocol name other clients offer, in order.
func TestAssignersReachClient(t *testing.T) {
	tests := []struct {
		in   []string
		want []string // protocol names
	}{
		{nil, []string{"cooperative-sticky"}},
		{[]string{"cooperative-sticky"}, []string{"cooperative-sticky"}},
		{[]string{"sticky"}, []string{"sticky"}},
		{[]string{"range", "roundrobin"}, []string{"range", "roundrobin"}},
		{[]string{"kafkajs-roundrobin"}, []string{"RoundRobinAssigner"}},
		{[]string{"kafkajs-roundrobin", "cooperative-sticky"}, []string{"RoundRobinAssigner", "cooperative-sticky"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.in, ","), func(t *testing.T) {
			g := config.Default().Group
			g.Assigners = tt.in
			cl, err := kgo.NewClient(append(g.Opts(), kgo.SeedBrokers("127.0.0.1:1"))...)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			var got []string
			for _, b := range cl.OptValue(kgo.Balancers).([]kgo.GroupBalancer) {
				got = append(got, b.ProtocolName())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("balancers (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFromEnvReportsEveryProblem checks that one run names all bad
// variables, not just the first.
func TestFromEnvReportsEveryProblem(t *testing.T) {
	_, err := config.FromEnv(env.Map(map[string]string{
		"KAFKA_SESSION_TIMEOUT": "abc",
		"KAFKA_ACKS":            "most",
		"LOG_LEVEL":             "loud", // not a config.Kafka variable: ignored here
	}))
	if err == nil {
		t.Fatal("got no error")
	}
	for _, want := range []string{"KAFKA_SESSION_TIMEOUT", "KAFKA_ACKS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestSecretNeverShows(t *testing.T) {
	const pw = "hunter2-very-secret"
	k := config.Default()
	k.SASL = config.SASL{Mechanism: config.SASLPlain, Username: "alice", Password: pw}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "kafka", k, "sasl", k.SASL, "password", k.SASL.Password)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "kafka", k, "password", k.SASL.Password)
	js, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{
		"%v":   fmt.Sprintf("%v", k),
		"%+v":  fmt.Sprintf("%+v", k),
		"%#v":  fmt.Sprintf("%#v", k),
		"%s":   fmt.Sprintf("%s", k.SASL.Password),
		"json": string(js),
		"slog": logged.String(),
	} {
		if strings.Contains(out, pw) {
			t.Errorf("%s shows the password: %s", name, out)
		}
		if !strings.Contains(out, "REDACTED") {
			t.Errorf("%s does not show that a password is set: %s", name, out)
		}
	}
	if got := k.SASL.Password.Reveal(); got != pw {
		t.Errorf("Reveal() = %q, want %q", got, pw)
	}
}

func TestLoggingFromEnv(t *testing.T) {
	tests := []struct {
		env        map[string]string
		wantLevel  slog.Level
		wantFormat string
		wantErr    string
	}{
		{nil, slog.LevelInfo, "json", ""},
		{map[string]string{"LOG_LEVEL": "debug", "LOG_FORMAT": "text"}, slog.LevelDebug, "text", ""},
		{map[string]string{"LOG_LEVEL": "WARN"}, slog.LevelWarn, "json", ""},
		{map[string]string{"LOG_LEVEL": "error"}, slog.LevelError, "json", ""},
		{map[string]string{"LOG_LEVEL": "loud"}, slog.LevelInfo, "json", `LOG_LEVEL: "loud" must be one of debug, info, warn, error`},
		{map[string]string{"LOG_FORMAT": "xml"}, slog.LevelInfo, "json", `LOG_FORMAT: "xml" must be one of json, text`},
	}
	for _, tt := range tests {
		got, err := config.LoggingFromEnv(env.Map(tt.env))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("config.LoggingFromEnv(%v): got error %v, want %q", tt.env, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got.Level != tt.wantLevel || got.Format != tt.wantFormat {
			t.Errorf("config.LoggingFromEnv(%v) = %+v, %v; want level %v format %s", tt.env, got, err, tt.wantLevel, tt.wantFormat)
		}
	}

	var buf strings.Builder
	config.Logging{Level: slog.LevelWarn, Format: "json"}.NewLogger(&buf).Info("hidden")
	config.Logging{Level: slog.LevelWarn, Format: "json"}.NewLogger(&buf).Warn("shown")
	if got := buf.String(); strings.Contains(got, "hidden") || !strings.Contains(got, `"msg":"shown"`) {
		t.Errorf("warn-level JSON logger wrote %q", got)
	}
	buf.Reset()
	config.Logging{Level: slog.LevelInfo, Format: "text"}.NewLogger(&buf).Info("hello")
	if got := buf.String(); !strings.Contains(got, "msg=hello") {
		t.Errorf("text logger wrote %q", got)
	}
}

func TestOptsRefusesEmbedded(t *testing.T) {
	k := config.Default()
	k.Brokers = []string{config.EmbeddedBrokers}
	if _, err := k.Opts(); err != config.ErrEmbeddedBrokers {
		t.Errorf("got %v, want ErrEmbeddedBrokers", err)
	}
}

// TestValidateInCodeNamesFields checks that a configuration built in code
// is told about in its own terms, and from the environment in the
// environment's, with one error type to inspect either way.
func TestValidateInCodeNamesFields(t *testing.T) {
	k := config.Default()
	k.HeartbeatInterval = 30 * time.Second
	k.Acks = "most"
	err := k.Validate()
	for _, want := range []string{
		`config: HeartbeatInterval: "30s" must be less than SessionTimeout (30s)`,
		`config: Acks: "most" must be one of all, leader, none`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to contain %s", err, want)
		}
	}
	if fe, ok := errors.AsType[*config.FieldError](err); !ok || fe.Field != "Acks" {
		t.Errorf("errors.AsType[*config.FieldError](%v) = %+v, %v", err, fe, ok)
	}

	_, err = config.FromEnv(env.Map(map[string]string{"KAFKA_HEARTBEAT_INTERVAL": "30000"}))
	if fe, ok := errors.AsType[*config.FieldError](err); !ok || fe.Field != "HeartbeatInterval" {
		t.Errorf("FromEnv error %v: errors.AsType[*config.FieldError] = %+v, %v", err, fe, ok)
	}
	if err := config.Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
	// Each part validates alone, for programs that use only one.
	p := config.Default().Producer
	p.MaxInFlightRequests, p.Idempotence = 6, config.IdempotenceOn
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "MaxInFlightRequests") {
		t.Errorf("Producer.Validate() = %v, want MaxInFlightRequests named", err)
	}
}

// TestIdempotence checks KIP-679's rule: automatic idempotence gives way
// to a conflicting setting and says which; asked for, it never does.
func TestIdempotence(t *testing.T) {
	tests := []struct {
		env      map[string]string
		want     bool
		conflict string // the field that rules idempotence out, if any
	}{
		{nil, true, ""},
		{map[string]string{"KAFKA_MAX_IN_FLIGHT_REQUESTS": "5"}, true, ""},
		{map[string]string{"KAFKA_MAX_IN_FLIGHT_REQUESTS": "10"}, false, "MaxInFlightRequests"},
		{map[string]string{"KAFKA_ACKS": "leader"}, false, "Acks"},
		{map[string]string{"KAFKA_ACKS": "none"}, false, "Acks"},
		{map[string]string{"KAFKA_IDEMPOTENT": "false"}, false, ""},
		{map[string]string{"KAFKA_IDEMPOTENT": "true"}, true, ""},
		{map[string]string{"KAFKA_IDEMPOTENT": "false", "KAFKA_MAX_IN_FLIGHT_REQUESTS": "10"}, false, "MaxInFlightRequests"},
	}
	for _, tt := range tests {
		k, err := config.FromEnv(env.Map(tt.env))
		if err != nil {
			t.Fatalf("%v: %v", tt.env, err)
		}
		if got := k.Idempotent(); got != tt.want {
			t.Errorf("%v: Idempotent() = %v, want %v", tt.env, got, tt.want)
		}
		got := ""
		if c := k.IdempotenceConflict(); c != nil {
			got = c.Field
		}
		if got != tt.conflict {
			t.Errorf("%v: conflict %q, want %q", tt.env, got, tt.conflict)
		}
	}
}
