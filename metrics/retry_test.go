package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRetryTopicsParkedKeysAndOldestRetry: while key K's first record is
// in the retry path (its handler call from the retry topic held open),
// Status and the registry show the retry topic's partitions, one parked
// key and a pending retry's age; once it succeeds, none.
func TestRetryTopicsParkedKeysAndOldestRetry(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("rm", 2))
	reg, m := newMetrics(t)
	release := make(chan struct{})
	var calls atomic.Int32
	h := consumer.HandlerFunc(func(ctx context.Context, msg *consumer.Message) error {
		if string(msg.Value) != "k1" {
			return nil
		}
		if calls.Add(1) == 1 {
			return errors.New("k1 fails once")
		}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	cfg := c.Config()
	cfg.Assigners = []string{config.AssignerRange}
	cs, err := consumer.New(cfg, consumer.Logger(quiet), consumer.Group("rm-group"), consumer.Observe(m),
		consumer.ClientOpts(m.ClientOpts("consumer")))
	if err != nil {
		t.Fatal(err)
	}
	policy := consumer.Policy(consumer.RetryTopics(20*time.Millisecond), consumer.DeadLetterSuffix(".dlq"))
	if err := cs.Subscribe("rm", true, h, consumer.Failures(policy)); err != nil {
		t.Fatal(err)
	}
	m.WatchConsumer(cs)
	runConsumer(t, cs)
	c.Produce(t, &kgo.Record{Topic: "rm", Partition: 0, Key: []byte("K"), Value: []byte("k1")},
		&kgo.Record{Topic: "rm", Partition: 0, Key: []byte("K"), Value: []byte("k2")},
		&kgo.Record{Topic: "rm", Partition: 1, Key: []byte("L"), Value: []byte("l1")})

	retryTopic := consumer.RetryTopic("rm", 20*time.Millisecond)
	waitRetryStatus(t, cs, retryTopic, &calls)
	waitRetrySeries(t, reg, retryTopic)

	close(release)
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		s := cs.Status().Subscriptions[0]
		parked, _ := sum(t, reg, "kafkakit_parked_keys", map[string]string{"topic": "rm"})
		age, _ := sum(t, reg, "kafkakit_oldest_retry_age_seconds", map[string]string{"topic": "rm"})
		if s.ParkedKeys != 0 || s.OldestRetryAgeSeconds != 0 || parked != 0 || age != 0 {
			return fmt.Errorf("status parked %d age %v, metrics parked %v age %v; want all 0",
				s.ParkedKeys, s.OldestRetryAgeSeconds, parked, age)
		}
		return nil
	})
}

// waitRetryStatus waits until Status shows retryTopic's partitions 0 and
// 1, one parked key and a pending retry's age, with k1 called twice.
func waitRetryStatus(t *testing.T, cs *consumer.Consumer, retryTopic string, calls *atomic.Int32) {
	t.Helper()
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		subs := cs.Status().Subscriptions
		if len(subs) != 1 || len(subs[0].RetryTopics) != 1 {
			return fmt.Errorf("subscriptions %+v; want one with one retry topic", subs)
		}
		s := subs[0]
		rt := s.RetryTopics[0]
		parts := func(ps []consumer.PartitionStatus) []int32 {
			var out []int32
			for _, p := range ps {
				out = append(out, p.Partition)
			}
			return out
		}
		if rt.Topic != retryTopic || !slices.Equal(parts(rt.Partitions), []int32{0, 1}) {
			return fmt.Errorf("retry topic %s partitions %v; want %s [0 1]", rt.Topic, parts(rt.Partitions), retryTopic)
		}
		if s.ParkedKeys != 1 || s.OldestRetryAgeSeconds <= 0 || calls.Load() < 2 {
			return fmt.Errorf("parked keys %d, oldest retry age %vs, k1 calls %d; want 1, above 0, 2",
				s.ParkedKeys, s.OldestRetryAgeSeconds, calls.Load())
		}
		return nil
	})
}

// waitRetrySeries waits until the registry shows one parked key of rm, a
// pending retry's age, and a high watermark of each partition of
// retryTopic.
func waitRetrySeries(t *testing.T, reg *prometheus.Registry, retryTopic string) {
	t.Helper()
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		labels := map[string]string{"group": "rm-group", "topic": "rm"}
		if v, found := sum(t, reg, "kafkakit_parked_keys", labels); !found || v != 1 {
			return fmt.Errorf("kafkakit_parked_keys found %v value %v; want 1", found, v)
		}
		if v, found := sum(t, reg, "kafkakit_oldest_retry_age_seconds", labels); !found || v <= 0 {
			return fmt.Errorf("kafkakit_oldest_retry_age_seconds found %v value %v; want above 0", found, v)
		}
		for _, p := range []string{"0", "1"} {
			if _, found := sum(t, reg, "kafkakit_consumer_high_watermark", map[string]string{"topic": retryTopic, "partition": p}); !found {
				return fmt.Errorf("no high watermark series for %s partition %s", retryTopic, p)
			}
		}
		return nil
	})
}
