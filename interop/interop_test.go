//go:build interop

// Package interop checks that other Kafka clients work with kafkakit: kcat
// (librdkafka) and kafkajs talk to the embedded broker, and read what
// kafkakit's producer wrote while kafkakit's consumer reads what they wrote.
// .ci/run installs kcat and kafkajs and runs these with -tags interop.
package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/internal/embedded"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
)

func startBroker(t *testing.T) (string, config.Kafka) {
	t.Helper()
	b, err := embedded.Start(embedded.Options{Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	cfg := config.Default()
	cfg.Brokers = []string{b.Addr()}
	cfg.SessionTimeout = 6 * time.Second
	cfg.HeartbeatInterval = 500 * time.Millisecond
	cfg.MaxWaitTime = 500 * time.Millisecond
	return b.Addr(), cfg
}

func send(t *testing.T, cfg config.Kafka, msgs ...producer.Message) {
	t.Helper()
	p, err := producer.New(cfg, producer.Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.SendBatch(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
}

// consume runs a kafkakit consumer on topic until it has n messages.
func consume(t *testing.T, cfg config.Kafka, topic string, n int) []*consumer.Message {
	t.Helper()
	cfg.GroupID = "interop-" + topic
	c, err := consumer.New(cfg, consumer.Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []*consumer.Message
	c.Subscribe(topic, true, consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		cp := *m
		mu.Lock()
		got = append(got, &cp)
		mu.Unlock()
		return nil
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		<-done
		c.Close()
	}()
	kafkatest.WaitFor(t, 60*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(got) < n {
			return fmt.Errorf("consumed %d of %d", len(got), n)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	return got
}

func TestKcat(t *testing.T) {
	addr, cfg := startBroker(t)

	// kcat sees the broker and reads what kafkakit wrote, key and headers
	// included.
	send(t, cfg, producer.Message{Topic: "to-kcat", Key: []byte("k1"), Value: []byte("hello from kafkakit"),
		Headers: []producer.Header{{Key: "source", Value: []byte("kafkakit")}}})
	out, err := exec.Command("kcat", "-b", addr, "-C", "-t", "to-kcat", "-o", "beginning", "-e", "-q",
		"-f", "%k|%s|%h\n").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat -C: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "k1|hello from kafkakit|source=kafkakit" {
		t.Errorf("kcat read %q", got)
	}

	// kafkakit reads what kcat wrote.
	cmd := exec.Command("kcat", "-b", addr, "-P", "-t", "from-kcat", "-K", ":")
	cmd.Stdin = strings.NewReader("a:first\nb:second\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat -P: %v\n%s", err, out)
	}
	got := consume(t, cfg, "from-kcat", 2)
	if string(got[0].Key) != "a" || string(got[0].Value) != "first" || string(got[1].Key) != "b" || string(got[1].Value) != "second" {
		t.Errorf("consumed %q=%q, %q=%q", got[0].Key, got[0].Value, got[1].Key, got[1].Value)
	}

	out, err = exec.Command("kcat", "-b", addr, "-L", "-t", "from-kcat").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `topic "from-kcat"`) {
		t.Errorf("kcat -L: %v\n%s", err, out)
	}
}

func TestKafkajs(t *testing.T) {
	addr, cfg := startBroker(t)
	send(t, cfg,
		producer.Message{Topic: "to-kafkajs", Key: []byte("user-1"), Value: []byte(`{"n":1}`), Headers: []producer.Header{{Key: "source", Value: []byte("kafkakit")}}},
		producer.Message{Topic: "to-kafkajs", Key: nil, Value: []byte("two")},
	)
	script, _ := filepath.Abs("kafkajs/roundtrip.js")
	cmd := exec.Command("node", script, addr, "from-kafkajs", "to-kafkajs", "2")
	cmd.Dir = "kafkajs"
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("kafkajs: %v\n%s\n%s", err, out, stderr)
	}
	var seen []struct {
		Key     *string           `json:"key"`
		Value   string            `json:"value"`
		Headers map[string]string `json:"headers"`
	}
	if err := json.Unmarshal(out, &seen); err != nil {
		t.Fatalf("kafkajs output %q: %v", out, err)
	}
	if len(seen) != 2 || seen[0].Key == nil || *seen[0].Key != "user-1" || seen[0].Value != `{"n":1}` ||
		seen[0].Headers["source"] != "kafkakit" || seen[1].Key != nil || seen[1].Value != "two" {
		t.Errorf("kafkajs consumed %s", out)
	}

	got := consume(t, cfg, "from-kafkajs", 2)
	if string(got[0].Key) != "user-123" || string(got[0].Value) != `{"userId":"123","type":"user_created"}` {
		t.Errorf("first message from kafkajs: %q=%q", got[0].Key, got[0].Value)
	}
	if v, _ := got[0].Header("source"); string(v) != "kafkajs" {
		t.Errorf("header source=%q", v)
	}
	if string(got[1].Key) != "user-124" || string(got[1].Value) != "plain text" {
		t.Errorf("second message from kafkajs: %q=%q", got[1].Key, got[1].Value)
	}
}
