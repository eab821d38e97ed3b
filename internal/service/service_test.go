package service

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/internal/env"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// logSink is a slog handler that keeps every record, to find the listen
// address and check what was logged.
type logSink struct {
	mu    sync.Mutex
	lines []map[string]any
}

func (s *logSink) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(writerFunc(func(b []byte) (int, error) {
		var line map[string]any
		json.Unmarshal(b, &line)
		s.mu.Lock()
		s.lines = append(s.lines, line)
		s.mu.Unlock()
		return len(b), nil
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func (s *logSink) find(msg string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lines {
		if l["msg"] == msg {
			return l
		}
	}
	return nil
}

// startService runs the service on the cluster with extra environment and
// returns its base URL and a stop function that returns Run's error.
func startService(t testing.TB, c *kafkatest.Cluster, extra map[string]string) (string, func() error, *logSink) {
	t.Helper()
	return startServiceWith(t, c, extra)
}

// startServiceWith is startService with options for Run.
func startServiceWith(t testing.TB, c *kafkatest.Cluster, extra map[string]string, opts ...Option) (string, func() error, *logSink) {
	t.Helper()
	m := map[string]string{
		"KAFKA_BROKERS":            strings.Join(c.Addrs(), ","),
		"HTTP_ADDR":                "127.0.0.1:0",
		"KAFKA_SESSION_TIMEOUT":    "6000",
		"KAFKA_HEARTBEAT_INTERVAL": "500",
		"KAFKA_MAX_WAIT_TIME":      "500",
	}
	for k, v := range extra {
		m[k] = v
	}
	cfg, err := FromEnv(env.Map(m))
	if err != nil {
		t.Fatal(err)
	}
	sink := &logSink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, sink.logger(), opts...) }()
	var url string
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		line := sink.find("http server listening")
		if line == nil {
			select {
			case err := <-done:
				t.Fatalf("service ended: %v", err)
			default:
			}
			return fmt.Errorf("not listening yet")
		}
		url = line["url"].(string)
		return nil
	})
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(60 * time.Second):
			t.Fatal("service did not stop within 60s")
			return nil
		}
	}
	t.Cleanup(func() { stop() })
	return url, stop, sink
}

// TestSlowHeadersAreCutOff: a client that never finishes its headers is
// disconnected after HTTP_READ_HEADER_TIMEOUT.
func TestSlowHeadersAreCutOff(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t)
	url, _, _ := startService(t, c, map[string]string{"HTTP_READ_HEADER_TIMEOUT": "300"})
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "POST /kafka/send HTTP/1.1\r\nHost: x\r\n") // and never the rest
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err = io.ReadAll(conn)
	if took := time.Since(start); err != nil || took > 10*time.Second {
		t.Errorf("connection still open %v later (err %v); want it closed after about 300ms", took, err)
	}
}

// TestShutdownLetsInFlightRequestsFinish: a send waiting for the broker
// when shutdown begins still gets its answer.
func TestShutdownLetsInFlightRequestsFinish(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("slow", 1))
	url, stop, _ := startService(t, c, nil)
	// Warm up, then hold the next produce until shutdown has begun.
	resp, err := http.Post(url+"/kafka/send", "application/json", strings.NewReader(`{"topic":"slow","value":"1"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("warm-up send: %d", resp.StatusCode)
	}
	held := make(chan struct{})
	release := make(chan struct{})
	c.Fake().ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		close(held)
		<-release
		return nil, nil, false
	})
	answer := make(chan int, 1)
	go func() {
		resp, err := http.Post(url+"/kafka/send", "application/json", strings.NewReader(`{"topic":"slow","value":"2"}`))
		if err != nil {
			answer <- -1
			return
		}
		resp.Body.Close()
		answer <- resp.StatusCode
	}()
	<-held
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	// Shutdown is under way: new connections are refused...
	kafkatest.WaitFor(t, 10*time.Second, func() error {
		conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
		if err == nil {
			conn.Close()
			return fmt.Errorf("still accepting connections")
		}
		return nil
	})
	// ...while the held request waits for its answer.
	close(release)
	if got := <-answer; got != 200 {
		t.Errorf("in-flight request answered %d, want 200", got)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	kafkatest.Parallel(t)
	cfg, err := FromEnv(env.Map(map[string]string{
		"KAFKA_CONSUMER_TOPICS":         "a, b",
		"KAFKA_CONSUMER_FROM_BEGINNING": "true",
		"KAFKA_HANDLER":                 "webhook",
		"KAFKA_WEBHOOK_URL":             "http://127.0.0.1:9/hook",
		"KAFKA_EMBEDDED_ADDR":           "127.0.0.1:0",
		"KAFKA_EMBEDDED_DATA_DIR":       "/tmp/x",
		"HTTP_ADDR":                     "127.0.0.1:8081",
		"HTTP_AUTH_TOKEN":               "tok",
		"HTTP_ALLOWED_TOPICS":           "a,b.*",
		"HTTP_MAX_BODY_BYTES":           "2048",
		"HTTP_MAX_BATCH":                "10",
		"HTTP_READ_HEADER_TIMEOUT":      "500",
		"KAFKA_HANDLER_CONCURRENCY":     "16",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.ConsumerTopics, "|") != "a|b" || !cfg.FromBeginning || cfg.Handler != "webhook" ||
		cfg.WebhookURL != "http://127.0.0.1:9/hook" || cfg.EmbeddedAddr != "127.0.0.1:0" || cfg.EmbeddedDataDir != "/tmp/x" ||
		cfg.HTTPAddr != "127.0.0.1:8081" || cfg.AuthToken.Reveal() != "tok" || strings.Join(cfg.AllowedTopics, "|") != "a|b.*" ||
		cfg.MaxBodyBytes != 2048 || cfg.MaxBatch != 10 || cfg.ReadHeaderTimeout != 500*time.Millisecond || cfg.HandlerConcurrency != 16 {
		t.Errorf("got %+v", cfg)
	}
	def, err := FromEnv(env.Map(nil))
	if err != nil {
		t.Fatal(err)
	}
	if def.Handler != "log" || def.HTTPAddr != ":8080" || def.EmbeddedAddr != "127.0.0.1:9092" || def.MaxBodyBytes != 1<<20 ||
		def.MaxBatch != 1000 || def.ReadHeaderTimeout != 10*time.Second || def.HandlerConcurrency != 1 || def.FromBeginning || len(def.ConsumerTopics) != 0 {
		t.Errorf("defaults: %+v", def)
	}
	for env2, want := range map[string]string{
		"KAFKA_CONSUMER_TOPICS=a,b c":     `KAFKA_CONSUMER_TOPICS: "b c"`,
		"KAFKA_WEBHOOK_URL=ftp://x":       `KAFKA_WEBHOOK_URL: "ftp://x" is not an http:// or https:// URL`,
		"HTTP_ADDR=8080":                  `HTTP_ADDR: "8080" is not host:port`,
		"KAFKA_EMBEDDED_ADDR=localhost":   `KAFKA_EMBEDDED_ADDR: "localhost" is not host:port`,
		"HTTP_ALLOWED_TOPICS=a/b":         `HTTP_ALLOWED_TOPICS: "a/b"`,
		"HTTP_MAX_BODY_BYTES=big":         `HTTP_MAX_BODY_BYTES: "big" is not a whole number`,
		"HTTP_READ_HEADER_TIMEOUT=0":      `HTTP_READ_HEADER_TIMEOUT: "0" must be a positive`,
		"HTTP_TLS_CERT_FILE=/x":           `HTTP_TLS_CERT_FILE: "/x" and HTTP_TLS_KEY_FILE must be set together`,
		"KAFKA_CONSUMER_FROM_BEGINNING=2": `KAFKA_CONSUMER_FROM_BEGINNING: "2" is not true or false`,
		"HTTP_AUTH_TOKEN_PROTECT_ALL=x":   `HTTP_AUTH_TOKEN_PROTECT_ALL: "x" is not true or false`,
		"KAFKA_HANDLER_CONCURRENCY=0":     `KAFKA_HANDLER_CONCURRENCY: "0" must be between 1 and 1024`,
		"KAFKA_HANDLER_CONCURRENCY=many":  `KAFKA_HANDLER_CONCURRENCY: "many" is not a whole number`,
		"KAFKA_HANDLER_CONCURRENCY=1025":  `KAFKA_HANDLER_CONCURRENCY: "1025" must be between 1 and 1024`,
	} {
		name, value, _ := strings.Cut(env2, "=")
		m := map[string]string{name: value}
		if name == "KAFKA_WEBHOOK_URL" {
			m["KAFKA_HANDLER"] = "webhook"
		}
		_, err := FromEnv(env.Map(m))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", env2, err, want)
		}
	}
}
