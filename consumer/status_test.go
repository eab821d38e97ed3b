package consumer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
)

// TestOldestRetryAgeWithKeyConcurrency: with KeyConcurrency, two retry
// records of one retry partition are handled at once; when the older one
// finishes first, the younger one, still being handled, is the oldest
// pending, and OldestRetryAge says so rather than falling to 0.
func TestOldestRetryAgeWithKeyConcurrency(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("oa", 1))
	const retryTopic = "oa-retry-50"
	bEntered, release := make(chan struct{}), make(chan struct{})
	aDone := make(chan struct{})
	h := consumer.HandlerFunc(func(ctx context.Context, m *consumer.Message) error {
		if m.Topic != retryTopic {
			return errors.New("fails once, into the retry topic")
		}
		switch string(m.Value) {
		case "a": // the older: finishes while b is being handled
			select {
			case <-bEntered:
			case <-ctx.Done():
				return ctx.Err()
			}
			close(aDone)
		case "b":
			close(bEntered)
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	policy := consumer.Policy(consumer.RetryTopics(50 * time.Millisecond))
	r := start(t, rangeConfig(c), func(cs *consumer.Consumer) error {
		return cs.Subscribe("oa", true, h, consumer.Failures(policy), consumer.KeyConcurrency(4))
	})
	defer close(release)
	// a is written to the retry topic before b, so it is the older there.
	c.Produce(t, keyed("oa", "ka", "a"))
	c.ReadAll(t, retryTopic, 1, 30*time.Second)
	c.Produce(t, keyed("oa", "kb", "b"))
	select {
	case <-aDone:
	case <-time.After(30 * time.Second):
		t.Fatal("the retry records were not handled together")
	}
	kafkatest.WaitFor(t, 10*time.Second, func() error {
		s := r.c.Status().Subscriptions[0]
		if s.RetryTopics[0].Partitions[0].InFlight != 1 {
			return errors.New("a still in flight")
		}
		if s.OldestRetryAgeSeconds <= 0 {
			return errors.New("oldest retry age is 0 while b is being handled")
		}
		return nil
	})
}
