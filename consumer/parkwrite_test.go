package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestParkingWriteFailuresKeepOrder: while the first retry topic refuses
// writes, key K's parked records cannot get there. The other keys keep
// flowing, the commit stops below K's first parked record, and none of
// K's later records is handled; once the topic accepts writes again, K's
// records land in it, and reach the handler, in produce order, once each,
// and the commit reaches the end. With one worker and by key; and with a
// restart while the writes fail, which leaves K's parked records
// uncommitted for the next consumer.
func TestParkingWriteFailuresKeepOrder(t *testing.T) {
	kafkatest.Parallel(t)
	for _, workers := range []int{1, 4} {
		for _, restart := range []bool{false, true} {
			t.Run(fmt.Sprintf("workers=%d/restart=%v", workers, restart), func(t *testing.T) {
				testParkingWriteFailures(t, workers, restart)
			})
		}
	}
}

// testParkingWriteFailures' first retry topic, the offset in pf of k2,
// K's first record parked behind k1 (after k1 and o0), and how many other
// keys' records it writes.
const (
	pfRetryTopic  = "pf-retry-50"
	pfFirstParked = 2
	pfOthers      = 20
)

func testParkingWriteFailures(t *testing.T, workers int, restart bool) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("pf", 1))
	var l keyLog
	release := make(chan struct{}) // k1 succeeds from the retry topic only then, keeping K parked
	subscribe := parkWriteSubscription(&l, release, workers)
	first := start(t, rangeConfig(c), subscribe, consumer.CommitInterval(100*time.Millisecond))
	fault, end := parkBehindRefusedWrites(t, c)
	checkHeldWhileWritesFail(t, c, &l, fault)
	close(release)

	if restart {
		first.stop(t)
		if got := committed(t, c, "kafkatest-group", "pf", 0); got != pfFirstParked {
			t.Fatalf("committed %d on stop, past K's first unacknowledged parked record %d", got, pfFirstParked)
		}
		fault.Remove()
		start(t, rangeConfig(c), subscribe, consumer.CommitInterval(100*time.Millisecond))
	}
	fault.Remove()
	want := []string{"k1", "k2", "k3", "k4", "k5"}
	l.waitFor(t, "K", len(want))
	if got := l.of("K"); !slices.Equal(got, want) {
		t.Errorf("key K handled %v, want %v", got, want)
	}
	for _, v := range want[1:] {
		if n := l.count(v); n != 1 {
			t.Errorf("%s reached the handler %d times, want once", v, n)
		}
	}
	var written []string
	for _, r := range c.ReadToEnd(t, pfRetryTopic) {
		written = append(written, string(r.Value))
	}
	switch {
	case !restart && !slices.Equal(written, want):
		t.Errorf("retry topic holds %v, want %v", written, want)
	case restart && !slices.IsSorted(written):
		// Whether the next consumer found K parked depends on whether
		// k1 succeeded before the stop; either way, in order.
		t.Errorf("retry topic holds %v, want them in produce order", written)
	}
	waitCommitted(t, c, "kafkatest-group", "pf", 0, end)
}

// parkWriteSubscription subscribes to pf with retry topics and workers
// per key: k1 fails once, then succeeds from the retry topic only once
// release is closed; the others succeed at once.
func parkWriteSubscription(l *keyLog, release <-chan struct{}, workers int) func(*consumer.Consumer) error {
	h := consumer.HandlerFunc(func(ctx context.Context, m *consumer.Message) error {
		v := string(m.Value)
		if l.call(v) == 1 && v == "k1" {
			return errors.New("k1 fails once")
		}
		if v == "k1" {
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		l.succeeded(string(m.Key), v)
		return nil
	})
	policy := consumer.Policy(consumer.RetryTopics(50*time.Millisecond, 100*time.Millisecond), consumer.DeadLetterSuffix(".dlq"))
	return func(cs *consumer.Consumer) error {
		return cs.Subscribe("pf", true, h, consumer.Failures(policy), consumer.KeyConcurrency(workers),
			consumer.Backoff(10*time.Millisecond, 50*time.Millisecond))
	}
}

// parkBehindRefusedWrites: k1 (offset 0) fails into the retry topic,
// parking K; then the topic refuses writes, and k2 (offset 2) and K's
// later records are parked behind k1 among other keys' records. It
// returns the fault refusing the writes and the end offset of pf.
func parkBehindRefusedWrites(t *testing.T, c *kafkatest.Cluster) (*kfake.FaultHandle, int64) {
	t.Helper()
	c.Produce(t, keyed("pf", "K", "k1"))
	c.ReadAll(t, pfRetryTopic, 1, 30*time.Second)
	fault := c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: pfRetryTopic, Err: kerr.TopicAuthorizationFailed, Count: -1})
	var recs []*kgo.Record
	for i := range pfOthers {
		recs = append(recs, keyed("pf", fmt.Sprint("o", i), fmt.Sprint("o", i)))
		if i%5 == 0 {
			recs = append(recs, keyed("pf", "K", fmt.Sprint("k", 2+i/5)))
		}
	}
	c.Produce(t, recs...)
	return fault, int64(1 + len(recs))
}

// checkHeldWhileWritesFail checks that, while the retry topic refuses
// writes, the other keys flow, the commit stops at K's first parked
// record and stays there as the writes are retried, and K is not handled.
func checkHeldWhileWritesFail(t *testing.T, c *kafkatest.Cluster, l *keyLog, fault *kfake.FaultHandle) {
	t.Helper()
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		if n := countPrefix(l, "o"); n < pfOthers {
			return fmt.Errorf("%d of %d other keys' records handled", n, pfOthers)
		}
		if got := committed(t, c, "kafkatest-group", "pf", 0); got != pfFirstParked {
			return fmt.Errorf("committed %d, want %d: up to K's first parked record", got, pfFirstParked)
		}
		return nil
	})
	// The writes keep failing and being retried; the commit stays put.
	hits := fault.Hits()
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		if fault.Hits() < hits+3 {
			return fmt.Errorf("retry topic writes tried %d times since, want 3", fault.Hits()-hits)
		}
		return nil
	})
	if got := committed(t, c, "kafkatest-group", "pf", 0); got != pfFirstParked {
		t.Fatalf("committed %d past K's first unacknowledged parked record %d", got, pfFirstParked)
	}
	if got := l.of("K"); len(got) != 0 {
		t.Fatalf("key K handled %v while k1 was held and its later records could not be written, want none", got)
	}
}
