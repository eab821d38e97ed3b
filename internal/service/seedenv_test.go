package service

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/internal/env"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// readEnvFile reads a .env block as the seed documents it: NAME=value
// lines, # comments and blank lines.
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: %q is not NAME=value", path, line)
		}
		m[name] = value
	}
	return m
}

// TestSeedEnvironmentBlocks starts serve with each environment block of
// the NestJS module's documentation (testdata/seed, copied from it
// verbatim) and checks that it starts, sends, consumes, and yields the
// client settings kafkajs would use for it, as far as franz-go has them.
func TestSeedEnvironmentBlocks(t *testing.T) {
	kafkatest.Parallel(t)
	certs := kafkatest.NewCerts(t)
	tests := []struct {
		file    string
		cluster []kafkatest.Option
		// extra is what the block leaves to the user: the seed's SSL
		// block says "add your SSL certificate configuration here".
		extra map[string]string
		want  []setting
	}{
		{"main.env", []kafkatest.Option{kafkatest.SASL(config.SASLPlain, "your-username", "your-password")}, nil,
			[]setting{
				{kgo.ClientID, "microservice-template"},
				{kgo.ConsumerGroup, "microservice-template-group"},
				{kgo.SessionTimeout, 30 * time.Second},
				{kgo.HeartbeatInterval, 3 * time.Second},
				{kgo.FetchMaxPartitionBytes, int32(1048576)},
				{kgo.FetchMinBytes, int32(1)},
				{kgo.FetchMaxWait, 5 * time.Second},
				{kgo.RequestRetries, 5},
				{kgo.RetryTimeout, 30 * time.Second},
				{kgo.ProduceRequestTimeout, 30 * time.Second},
				{kgo.DialTimeout, time.Second},
				{kgo.DisableIdempotentWrite, false},
			}},
		{"ssl.env", []kafkatest.Option{kafkatest.TLSCerts(certs, false)},
			map[string]string{"KAFKA_SSL_CA_FILE": certs.CAFile, "KAFKA_SSL_SERVER_NAME": "localhost"}, nil},
		{"sasl.env", []kafkatest.Option{kafkatest.SASL(config.SASLScramSHA256, "your-username", "your-password")}, nil, nil},
		{"tuning.env", nil, nil,
			[]setting{
				{kgo.MaxProduceRequestsInflightPerBroker, 10},
				{kgo.DisableIdempotentWrite, true},
				{kgo.ProducerBatchMaxBytes, int32(16384)},
				{kgo.ProducerLinger, 5 * time.Millisecond},
				{kgo.FetchMaxPartitionBytes, int32(2097152)},
				{kgo.FetchMinBytes, int32(1024)},
				{kgo.FetchMaxWait, time.Second},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			if tt.file == "main.env" {
				// kfake adds the block's PLAIN user; a real broker's PLAIN
				// users are fixed in its configuration.
				kafkatest.RequireFake(t, "the block's PLAIN user your-username must exist on the broker")
			}
			block := readEnvFile(t, "testdata/seed/"+tt.file)
			if _, err := FromEnv(env.Map(block)); err != nil {
				t.Fatalf("the block as the seed gives it does not start: %v", err)
			}
			c := kafkatest.NewCluster(t, append(tt.cluster, kafkatest.Topic("seed-events", 1))...)
			m := map[string]string{"KAFKA_CONSUMER_TOPICS": "seed-events", "KAFKA_CONSUMER_FROM_BEGINNING": "true"}
			for k, v := range block {
				m[k] = v
			}
			for k, v := range tt.extra {
				m[k] = v
			}
			m["KAFKA_BROKERS"] = strings.Join(c.Addrs(), ",") // the seed's localhost:9092 is the user's own broker
			checkClientSettings(t, m, tt.want)

			url, stop, sink := startService(t, c, m)
			defer stop()
			if status, body := post(t, url, "/kafka/send", `{"topic":"seed-events","key":"k","value":{"ok":true}}`); status != http.StatusOK {
				t.Fatalf("send: %d %s", status, body)
			}
			kafkatest.WaitFor(t, 60*time.Second, func() error {
				if sink.find("message") == nil {
					return fmt.Errorf("the consumer has not logged the message")
				}
				return nil
			})
		})
	}
}

// setting is a franz-go option and the value a client must have for it.
type setting struct{ opt, want any }

func (s setting) name() string {
	name := runtime.FuncForPC(reflect.ValueOf(s.opt).Pointer()).Name()
	return name[strings.LastIndex(name, ".")+1:]
}

// checkClientSettings builds the client the service would build from m
// and compares its options with want.
func checkClientSettings(t *testing.T, m map[string]string, want []setting) {
	t.Helper()
	cfg, err := FromEnv(env.Map(m))
	if err != nil {
		t.Fatal(err)
	}
	opts, err := cfg.Kafka.Opts()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(opts, cfg.Kafka.GroupOpts()...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, s := range want {
		if got := cl.OptValue(s.opt); fmt.Sprint(got) != fmt.Sprint(s.want) {
			t.Errorf("%s: got %v, want %v", s.name(), got, s.want)
		}
	}
}

// TestSeedTuningBlockExplainsItself: the tuning block's 10 requests in
// flight turn automatic idempotence off with one warning that says why,
// and its 16384-byte batch size refuses a larger record with a 413 that
// names the variable.
func TestSeedTuningBlockExplainsItself(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("tuned", 1))
	url, stop, sink := startService(t, c, readEnvFile(t, "testdata/seed/tuning.env"))
	defer stop()
	var warned map[string]any
	sink.mu.Lock()
	for _, l := range sink.lines {
		if msg, _ := l["msg"].(string); strings.HasPrefix(msg, "idempotent production is off") {
			warned = l
		}
	}
	sink.mu.Unlock()
	if warned == nil || warned["level"] != "WARN" || warned["variable"] != "KAFKA_MAX_IN_FLIGHT_REQUESTS" ||
		!strings.Contains(warned["msg"].(string), "duplicate or reorder") {
		t.Errorf("want one warning naming KAFKA_MAX_IN_FLIGHT_REQUESTS and the cost, got %v", warned)
	}
	big := strings.Repeat("x", 20_000)
	status, body := post(t, url, "/kafka/send", `{"topic":"tuned","value":"`+big+`"}`)
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(body, "KAFKA_BATCH_SIZE") || !strings.Contains(body, "16,384") {
		t.Errorf("20 KB record: got %d %s, want 413 naming KAFKA_BATCH_SIZE and 16,384", status, body)
	}
}
