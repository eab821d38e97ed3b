package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestCommitFaultsAndCoordinatorMovesSkipNothing fails commits and moves
// the group coordinator while a consumer works, then replaces it: every
// message is handled, and no committed offset is ever past what was
// handled.
func TestCommitFaultsAndCoordinatorMovesSkipNothing(t *testing.T) {
	kafkatest.Parallel(t)
	const n, partitions = 3000, 3
	c := kafkatest.NewCluster(t, kafkatest.Brokers(3), kafkatest.Topic("faulty", partitions))
	fake := c.Fake()
	fake.Fault(
		kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Err: kerr.CoordinatorNotAvailable, Count: 5},
		kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Err: kerr.RequestTimedOut, Count: 3},
		kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Err: kerr.NotCoordinator, Count: 3},
	)
	var mu sync.Mutex
	handled := map[string]int{}
	lastHandled := map[int32]int64{}
	h := consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		mu.Lock()
		handled[string(m.Value)]++
		lastHandled[m.Partition] = max(lastHandled[m.Partition], m.Offset)
		mu.Unlock()
		return nil
	})
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(handled)
	}
	first := start(t, c.Config(), func(cs *consumer.Consumer) error { return cs.Subscribe("faulty", true, h) },
		consumer.CommitInterval(100*time.Millisecond))
	produceN(t, c, "faulty", n/2, partitions)
	for range 3 {
		kafkatest.WaitFor(t, 30*time.Second, func() error {
			if count() == 0 {
				return errors.New("nothing handled yet")
			}
			return nil
		})
		fake.RehashCoordinators()
	}
	produceN(t, c, "faulty", n/2, partitions)
	kafkatest.WaitFor(t, 60*time.Second, func() error {
		if k := count(); k < n/2 {
			return fmt.Errorf("handled %d", k)
		}
		return nil
	})
	first.stop(t)

	mu.Lock()
	for p := range int32(partitions) {
		if got := committed(t, c, "kafkatest-group", "faulty", p); got > lastHandled[p]+1 {
			t.Errorf("partition %d committed at %d, past the last handled offset %d", p, got, lastHandled[p])
		}
	}
	mu.Unlock()

	// A new member picks up where the first committed: every offset the
	// topic holds gets handled.
	start(t, c.Config(), func(cs *consumer.Consumer) error { return cs.Subscribe("faulty", true, h) })
	ends := c.ReadToEnd(t, "faulty")
	kafkatest.WaitFor(t, 60*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range ends {
			if lastHandled[r.Partition] < r.Offset {
				return fmt.Errorf("partition %d handled up to %d, holds %d", r.Partition, lastHandled[r.Partition], r.Offset)
			}
		}
		return nil
	})
}

// TestDeadLetterWriteFailureHoldsPartition: while the dead-letter topic
// refuses writes, the partition does not move past the failed message;
// once it accepts them, nothing is lost.
func TestDeadLetterWriteFailureHoldsPartition(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("pay", 1), kafkatest.Topic("pay.dlq", 1))
	fault := c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "pay.dlq", Err: kerr.TopicAuthorizationFailed, Count: -1})
	var seen log
	h := consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		seen.add(m)
		if string(m.Value) == "3" {
			return errors.New("cannot pay 3")
		}
		return nil
	})
	produceN(t, c, "pay", 8, 1)
	start(t, c.Config(), func(cs *consumer.Consumer) error { return cs.Subscribe("pay", true, h, consumer.Retries(1)) },
		consumer.CommitInterval(100*time.Millisecond))

	// The dead-letter write keeps failing.
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		if fault.Hits() < 3 {
			return fmt.Errorf("dead-letter writes tried %d times", fault.Hits())
		}
		return nil
	})
	for _, m := range seen.snapshot() {
		if m.Offset > 3 {
			t.Fatalf("offset %d handled while 3 could not be dead-lettered", m.Offset)
		}
	}
	if got := committed(t, c, "kafkatest-group", "pay", 0); got > 3 {
		t.Fatalf("committed %d past the message that could not be dead-lettered", got)
	}

	fault.Remove()
	waitLen(t, &seen, 8+1)
	dead := c.ReadAll(t, "pay.dlq", 1, 30*time.Second)
	if string(dead[0].Value) != "3" {
		t.Errorf("dead letter %q", dead[0].Value)
	}
	waitCommitted(t, c, "kafkatest-group", "pay", 0, 8)
}

// TestRetriesDoNotStallOtherPartitions: a message being retried holds only
// its own partition.
func TestRetriesDoNotStallOtherPartitions(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("mixed", 2))
	release := make(chan struct{})
	var seen log
	h := consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		if m.Partition == 0 {
			select {
			case <-release:
			default:
				return errors.New("partition 0 is failing")
			}
		}
		seen.add(m)
		return nil
	})
	start(t, c.Config(), func(cs *consumer.Consumer) error {
		return cs.Subscribe("mixed", true, h, consumer.DeadLetterTopic(""), consumer.Backoff(time.Millisecond, 10*time.Millisecond))
	})
	var recs []*kgo.Record
	for i := range 200 {
		recs = append(recs, &kgo.Record{Topic: "mixed", Partition: int32(i % 2), Value: []byte(strconv.Itoa(i))})
	}
	c.Produce(t, recs...)
	waitLen(t, &seen, 100) // all of partition 1 while partition 0 fails
	for _, m := range seen.snapshot() {
		if m.Partition == 0 {
			t.Fatalf("partition 0 message handled while failing")
		}
	}
	close(release)
	waitLen(t, &seen, 200)
}

// TestRevokedPartitionStopsRetrying: when a partition is taken away, a
// message being retried stops at once, is not committed, and its new
// owner gets it.
func TestRevokedPartitionStopsRetrying(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("handoff", 2))
	c.Produce(t, &kgo.Record{Topic: "handoff", Partition: 0, Value: []byte("stuck")}, &kgo.Record{Topic: "handoff", Partition: 1, Value: []byte("fine")})
	var attempts log
	failing := consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		attempts.add(m)
		if string(m.Value) == "stuck" {
			return errors.New("not now")
		}
		return nil
	})
	// Long backoff: a retry in progress must be cut short by revocation.
	first := start(t, c.Config(), func(cs *consumer.Consumer) error {
		return cs.Subscribe("handoff", true, failing, consumer.DeadLetterTopic(""), consumer.Backoff(time.Minute, time.Minute))
	})
	waitLen(t, &attempts, 2)

	var second log
	start(t, c.Config(), func(cs *consumer.Consumer) error { return cs.Subscribe("handoff", true, second.handler()) })
	stopped := time.Now()
	first.stop(t)
	if took := time.Since(stopped); took > 20*time.Second {
		t.Errorf("stopping took %v with a retry pending: the retry was not cut short", took)
	}
	kafkatest.WaitFor(t, 60*time.Second, func() error {
		for _, m := range second.snapshot() {
			if string(m.Value) == "stuck" {
				return nil
			}
		}
		return errors.New("the new owner has not received the unhandled message")
	})
}

// TestLongRetriesKeepGroupMembership: retrying one message for several
// session timeouts does not cost the member its partitions, because
// heartbeats do not wait for handlers.
func TestLongRetriesKeepGroupMembership(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("patient", 1))
	cfg := c.Config()
	cfg.SessionTimeout = time.Second
	cfg.HeartbeatInterval = 100 * time.Millisecond
	started := time.Now()
	var seen log
	h := consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		seen.add(m)
		if time.Since(started) < 3*cfg.SessionTimeout {
			return errors.New("not yet")
		}
		return nil
	})
	c.Produce(t, &kgo.Record{Topic: "patient", Value: []byte("v")})
	start(t, cfg, func(cs *consumer.Consumer) error {
		return cs.Subscribe("patient", true, h, consumer.DeadLetterTopic(""), consumer.Backoff(100*time.Millisecond, 200*time.Millisecond))
	})
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		if time.Since(started) < 3*cfg.SessionTimeout {
			return errors.New("still retrying")
		}
		msgs := seen.snapshot()
		if len(msgs) == 0 || msgs[len(msgs)-1].Attempt < 2 {
			return errors.New("not retried yet")
		}
		return nil
	})
	for i, m := range seen.snapshot() {
		if m.Attempt != i+1 {
			t.Fatalf("delivery %d was attempt %d: the retries started over, so the partition was lost and refetched", i+1, m.Attempt)
		}
	}
}
