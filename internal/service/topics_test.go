package service

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/idempotency"
	"github.com/kafkakit/kafkakit/internal/env"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// runUntilError runs the service on c with extra environment and returns
// the error Run ends with, failing the test if it starts serving instead.
func runUntilError(t *testing.T, c *kafkatest.Cluster, extra map[string]string) (error, *logSink) {
	t.Helper()
	m := map[string]string{"KAFKA_BROKERS": strings.Join(c.Addrs(), ","), "HTTP_ADDR": "127.0.0.1:0"}
	for k, v := range extra {
		m[k] = v
	}
	cfg, err := FromEnv(env.Map(m))
	if err != nil {
		t.Fatal(err)
	}
	sink := &logSink{}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, sink.logger()) }()
	select {
	case err := <-done:
		if sink.find("http server listening") != nil {
			t.Errorf("the service listened before it failed")
		}
		return err, sink
	case <-time.After(60 * time.Second):
		t.Fatal("the service did not stop within 60s")
		return nil, nil
	}
}

// TestTopicsRefusedStopStart: a SASL user who may read and write any
// topic but create none gets a start-up error naming the topic kafkakit
// needs and the broker's reason, whether it is a dead-letter topic or
// the Idempotency-Key topic, on a cluster that creates no topic on first
// use.
func TestTopicsRefusedStopStart(t *testing.T) {
	kafkatest.Parallel(t)
	allow := func(op kmsg.ACLOperation, res kmsg.ACLResourceType, name string) kfake.ACL {
		return kfake.ACL{Resource: res, Name: name, Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true}
	}
	c := kafkatest.NewCluster(t, kafkatest.NoAutoCreate(), kafkatest.Topic("orders", 2),
		kafkatest.SASL(config.SASLScramSHA256, "admin", "admin-pw"),
		kafkatest.KfakeOpts(kfake.EnableACLs(), kfake.User("SCRAM-SHA-256", "dave", secret,
			allow(kmsg.ACLOperationRead, kmsg.ACLResourceTypeTopic, "*"),
			allow(kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTopic, "*"),
			allow(kmsg.ACLOperationRead, kmsg.ACLResourceTypeGroup, "*"),
			allow(kmsg.ACLOperationIdempotentWrite, kmsg.ACLResourceTypeCluster, "kafka-cluster"),
		)))
	cfg := c.Config()
	cfg.SASL.Username, cfg.SASL.Password = "dave", secret
	for _, tt := range []struct {
		name  string
		extra map[string]string
		want  string
	}{
		{"dead letters", map[string]string{"KAFKA_CONSUMER_TOPICS": "orders"},
			"topic orders.dlq: the cluster refused to create the dead-letter topic of orders: TOPIC_AUTHORIZATION_FAILED"},
		{"Idempotency-Key", nil,
			"topic __kafkakit_idempotency: the cluster refused to create the Idempotency-Key topic: TOPIC_AUTHORIZATION_FAILED"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			extra := envFor(cfg)
			for k, v := range tt.extra {
				extra[k] = v
			}
			err, sink := runUntilError(t, c, extra)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run: %v; want %q", err, tt.want)
			}
			sink.assertNoSecret(t)
		})
	}
}

// TestTopicsServeWithoutAutoCreation: on a cluster that creates no topic
// on first use, serve with retry topics creates its retry, dead-letter
// and Idempotency-Key topics at start, and a message whose webhook fails
// goes through its retry topic to its dead-letter topic, in its record's
// partition, from the first failure.
func TestTopicsServeWithoutAutoCreation(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.NoAutoCreate(), kafkatest.Topic("pay", 2))
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	defer hook.Close()
	url, _, sink := startService(t, c, map[string]string{
		"KAFKA_CONSUMER_TOPICS":         "pay",
		"KAFKA_CONSUMER_FROM_BEGINNING": "true",
		"KAFKA_HANDLER":                 "webhook",
		"KAFKA_WEBHOOK_URL":             hook.URL,
		"KAFKA_HANDLER_RETRY_MODE":      "topics",
		"KAFKA_HANDLER_RETRY_DELAYS":    "100",
	})
	kafkatest.WaitFor(t, 30*time.Second, func() error { // 503 until the store is open
		if status, body := post(t, url, "/kafka/send", `{"topic":"pay","key":"k","value":"v","partition":1}`, "Idempotency-Key", "first"); status != http.StatusOK {
			return fmt.Errorf("send: %d %s", status, body)
		}
		return nil
	})
	dead := c.ReadAll(t, "pay.dlq", 1, 60*time.Second)
	if dead[0].Partition != 1 || string(dead[0].Key) != "k" {
		t.Errorf("dead letter of key %s in partition %d, want k in 1", dead[0].Key, dead[0].Partition)
	}
	details, err := kadm.NewClient(c.Client(t)).ListTopics(t.Context(), "pay.dlq", "pay-retry-100", idempotency.Topic)
	if err != nil {
		t.Fatal(err)
	}
	for topic, want := range map[string]int{"pay.dlq": 2, "pay-retry-100": 2, idempotency.Topic: 8} {
		if n := len(details[topic].Partitions); n != want {
			t.Errorf("%s has %d partitions, want %d", topic, n, want)
		}
	}
	parkOne(t, c, dead[0], "pay.dlq")
	checkTopicsDoc(t, c, "pay", "100")
	for _, msg := range []string{"created the dead-letter topic of pay with 2 partitions, as pay has",
		"created the retry topic of pay with 2 partitions, as pay has", "created the Idempotency-Key topic with 8 partitions"} {
		if l := sink.find(msg); l == nil || l["level"] != "INFO" {
			t.Errorf("no INFO line %q", msg)
		}
	}
}

// TestTopicsTwoTTLsAgree: instances started one after the other with
// different HTTP_IDEMPOTENCY_TTL leave the Idempotency-Key topic with the
// retention the longer TTL needs, the one that raises it saying so at
// INFO; a shorter TTL started afterwards never lowers it.
func TestTopicsTwoTTLsAgree(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t)
	retention := func() string {
		t.Helper()
		rcs, err := kadm.NewClient(c.Client(t)).DescribeTopicConfigs(t.Context(), idempotency.Topic)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := rcs.On(idempotency.Topic, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, cfg := range rc.Configs {
			if cfg.Key == "retention.ms" {
				return cfg.MaybeValue()
			}
		}
		return ""
	}
	start := func(ttl, prefix string) *logSink {
		_, stop, sink := startService(t, c, map[string]string{"HTTP_IDEMPOTENCY_TTL": ttl, "KAFKA_TRANSACTIONAL_ID_PREFIX": prefix})
		t.Cleanup(func() { stop() })
		return sink
	}
	short := start("2000", "short")
	// Apache Kafka may describe a config's old value for a moment after
	// it was altered.
	kafkatest.WaitFor(t, 10*time.Second, func() error {
		if got := retention(); got != "4000" {
			return fmt.Errorf("after the first instance: retention.ms %s, want 4000", got)
		}
		return nil
	})
	if l := short.find("created the Idempotency-Key topic with 8 partitions"); l == nil {
		t.Errorf("the first instance does not say it created the topic")
	}
	long := start("3000", "long")
	// Apache Kafka may describe a config's old value for a moment after
	// it was altered.
	kafkatest.WaitFor(t, 10*time.Second, func() error {
		if got := retention(); got != "6000" {
			return fmt.Errorf("after the second instance: retention.ms %s, want 6000", got)
		}
		return nil
	})
	l := long.find("raised the retention of the Idempotency-Key topic from 4000 ms to 6000 ms: twice the Idempotency-Key TTL (HTTP_IDEMPOTENCY_TTL=3000)")
	if l == nil || l["level"] != "INFO" || l["topic"] != idempotency.Topic {
		t.Errorf("the second instance does not say at INFO that it raised the retention: %v", l)
	}
	again := start("2000", "again")
	if got := retention(); got != "6000" {
		t.Errorf("after a shorter TTL again: retention.ms %s, want 6000 kept", got)
	}
	for _, sink := range []*logSink{short, again} {
		if l := sink.find("raised the retention of the Idempotency-Key topic from 6000 ms to 4000 ms: twice the Idempotency-Key TTL (HTTP_IDEMPOTENCY_TTL=2000)"); l != nil {
			t.Errorf("a shorter TTL lowered the retention: %v", l)
		}
	}
}

// TestTopicsStrictStopsStart: a dead-letter topic with fewer partitions
// than its topic is a WARN line by default and, with
// KAFKA_TOPICS_STRICT=true, a start-up error saying what it should be.
func TestTopicsStrictStopsStart(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("inv", 3), kafkatest.Topic("inv.dlq", 1))
	_, stop, sink := startService(t, c, map[string]string{"KAFKA_CONSUMER_TOPICS": "inv"})
	stop()
	want := "the dead-letter topic of inv's partitions is 1, should be at least 3, as inv has"
	if l := sink.find(want + ": a dead letter keeps its record's partition only where the dead-letter topic has it; the others go to the partition their key picks"); l == nil || l["level"] != "WARN" || l["topic"] != "inv.dlq" {
		t.Errorf("no WARN line %q naming inv.dlq", want)
	}
	err, _ := runUntilError(t, c, map[string]string{"KAFKA_CONSUMER_TOPICS": "inv", "KAFKA_TOPICS_STRICT": "true"})
	if err == nil || !strings.Contains(err.Error(), "topic inv.dlq: "+want) || !strings.Contains(err.Error(), "KAFKA_TOPICS_STRICT is true") {
		t.Errorf("strict: %v; want an error %q", err, want)
	}
}

// TestTopicsUnansweredDoNotStopStart: brokers that never answer do not
// stop serve from starting, as they did not before topics were checked:
// it waits for the check as long as KAFKA_CONNECTION_TIMEOUT plus
// KAFKA_REQUEST_TIMEOUT, says in one WARN line that it could not check,
// and listens.
func TestTopicsUnansweredDoNotStopStart(t *testing.T) {
	kafkatest.Parallel(t)
	broker := silentBroker(t)
	cfg, err := FromEnv(env.Map(map[string]string{
		"KAFKA_BROKERS":            broker,
		"HTTP_ADDR":                "127.0.0.1:0",
		"KAFKA_CONSUMER_TOPICS":    "t",
		"KAFKA_CONNECTION_TIMEOUT": "200",
		"KAFKA_REQUEST_TIMEOUT":    "1000",
		"KAFKA_SHUTDOWN_TIMEOUT":   "1000",
	}))
	if err != nil {
		t.Fatal(err)
	}
	sink := &logSink{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, sink.logger()) }()
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		if sink.find("http server listening") == nil {
			return fmt.Errorf("not listening yet")
		}
		return nil
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not return 60s after its context ended")
	}
	if l := sink.find("cannot check the dead-letter and retry topics yet; checked again on connecting"); l == nil || l["level"] != "WARN" {
		t.Errorf("no WARN line saying the topics could not be checked")
	}
	if l := sink.find("cannot check the Idempotency-Key topic yet; checked again on connecting"); l != nil {
		t.Errorf("a second check waited for the same silent brokers: %v", l)
	}
}
