package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// keyedRecords are n messages on partition 0 of topic spread over keys
// keys; each value is "key/sequence within the key".
func keyedRecords(topic string, n, keys int) []*kgo.Record {
	seq := make([]int, keys)
	recs := make([]*kgo.Record, n)
	for i := range n {
		k := i % keys
		recs[i] = &kgo.Record{Topic: topic, Partition: 0, Key: []byte("key-" + strconv.Itoa(k)),
			Value: []byte(fmt.Sprintf("%d/%d", k, seq[k]))}
		seq[k]++
	}
	return recs
}

// orderCheck verifies that each key's messages arrive in sequence.
type orderCheck struct {
	mu    sync.Mutex
	next  map[string]int
	count int
	errs  []string
}

func (o *orderCheck) handle(_ context.Context, m *consumer.Message) error {
	var k, seq int
	fmt.Sscanf(string(m.Value), "%d/%d", &k, &seq)
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.next == nil {
		o.next = map[string]int{}
	}
	if want := o.next[string(m.Key)]; seq != want && len(o.errs) < 10 {
		o.errs = append(o.errs, fmt.Sprintf("key %s: got sequence %d, want %d", m.Key, seq, want))
	}
	o.next[string(m.Key)] = seq + 1
	o.count++
	return nil
}

func (o *orderCheck) handled() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.count
}

func TestKeyConcurrencyKeepsOrderPerKey(t *testing.T) {
	kafkatest.Parallel(t)
	const n, keys, workers = 20_000, 1000, 100
	c := kafkatest.NewCluster(t, kafkatest.Topic("keyed", 1))
	c.Produce(t, keyedRecords("keyed", n, keys)...)
	var check orderCheck
	h := consumer.HandlerFunc(func(ctx context.Context, m *consumer.Message) error {
		if rand.IntN(50) == 0 {
			time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond) // uneven work, to shuffle lanes
		}
		return check.handle(ctx, m)
	})
	r := start(t, c.Config(), func(cs *consumer.Consumer) error {
		return cs.Subscribe("keyed", true, h, consumer.KeyConcurrency(workers))
	})
	kafkatest.WaitFor(t, 60*time.Second, func() error {
		if got := check.handled(); got < n {
			return fmt.Errorf("handled %d of %d", got, n)
		}
		return nil
	})
	for _, e := range check.errs {
		t.Error(e)
	}
	r.stop(t)
	if got := committed(t, c, "kafkatest-group", "keyed", 0); got != n {
		t.Errorf("committed %d, want %d", got, n)
	}
}

// TestKeyConcurrencyNeverCommitsPastUnfinished: while one message is held,
// later messages of other keys finish, but the commit stops at the held
// one, and the next consumer gets it.
func TestKeyConcurrencyNeverCommitsPastUnfinished(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("held", 1))
	c.Produce(t, keyedRecords("held", 100, 10)...) // offset 7 is key-7's first message
	release := make(chan struct{})
	var mu sync.Mutex
	done := map[int64]bool{}
	h := consumer.HandlerFunc(func(ctx context.Context, m *consumer.Message) error {
		if m.Offset == 7 {
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		mu.Lock()
		done[m.Offset] = true
		mu.Unlock()
		return nil
	})
	cfg := c.Config()
	cfg.ShutdownTimeout = 500 * time.Millisecond
	first := start(t, cfg, func(cs *consumer.Consumer) error {
		return cs.Subscribe("held", true, h, consumer.KeyConcurrency(4))
	}, consumer.CommitInterval(100*time.Millisecond))
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(done) < 90 { // everything but key-7's ten messages
			return fmt.Errorf("handled %d", len(done))
		}
		return nil
	})
	first.stop(t)
	if got := committed(t, c, "kafkatest-group", "held", 0); got != 7 {
		t.Fatalf("committed %d while offset 7 was unfinished, want 7", got)
	}
	close(release)

	var again log
	start(t, c.Config(), func(cs *consumer.Consumer) error {
		return cs.Subscribe("held", true, again.handler(), consumer.KeyConcurrency(4))
	})
	waitLen(t, &again, 93)
	found := false
	for _, m := range again.snapshot() {
		found = found || m.Offset == 7
	}
	if !found {
		t.Error("the unfinished message was not delivered again")
	}
}

func TestKeyConcurrencyDeadLetters(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("kp", 1), kafkatest.Topic("kp.dlq", 1))
	c.Produce(t, keyedRecords("kp", 200, 20)...)
	var check orderCheck
	h := consumer.HandlerFunc(func(ctx context.Context, m *consumer.Message) error {
		if string(m.Value) == "3/2" {
			return errors.New("poison")
		}
		return check.handle(ctx, m)
	})
	start(t, c.Config(), func(cs *consumer.Consumer) error {
		return cs.Subscribe("kp", true, h, consumer.KeyConcurrency(8), consumer.Retries(1))
	})
	dead := c.ReadAll(t, "kp.dlq", 1, 30*time.Second)
	if string(dead[0].Value) != "3/2" {
		t.Errorf("dead letter %q", dead[0].Value)
	}
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		if got := check.handled(); got < 199 {
			return fmt.Errorf("handled %d", got)
		}
		if got := committed(t, c, "kafkatest-group", "kp", 0); got != 200 {
			return fmt.Errorf("committed %d", got)
		}
		return nil
	})
	// Key 3 skipped its dead-lettered message and otherwise kept order.
	for _, e := range check.errs {
		if e != "key key-3: got sequence 3, want 2" {
			t.Error(e)
		}
	}
}

// stuckKeyHandler fails the messages of key "stuck" until release is
// closed and counts the others it handled.
func stuckKeyHandler(release <-chan struct{}) (consumer.Handler, func() int) {
	var mu sync.Mutex
	handled := 0
	h := consumer.HandlerFunc(func(ctx context.Context, m *consumer.Message) error {
		if string(m.Key) == "stuck" {
			select {
			case <-release:
				return nil
			default:
				return errors.New("stuck")
			}
		}
		mu.Lock()
		handled++
		mu.Unlock()
		return nil
	})
	return h, func() int {
		mu.Lock()
		defer mu.Unlock()
		return handled
	}
}

// TestKeyConcurrencyBoundedBehindStuckMessage: while one message is stuck
// in retries, other keys proceed only up to the outstanding bound, so
// memory does not grow with the partition's backlog.
func TestKeyConcurrencyBoundedBehindStuckMessage(t *testing.T) {
	kafkatest.Parallel(t)
	const workers = 2
	const bound = workers * 64 // outstandingPerWorker
	c := kafkatest.NewCluster(t, kafkatest.Topic("stuck-key", 1))
	recs := []*kgo.Record{{Topic: "stuck-key", Key: []byte("stuck"), Value: []byte("x")}}
	for i := range 1000 {
		recs = append(recs, &kgo.Record{Topic: "stuck-key", Key: []byte(strconv.Itoa(i)), Value: []byte("v")})
	}
	c.Produce(t, recs...)
	release := make(chan struct{})
	h, count := stuckKeyHandler(release)
	start(t, c.Config(), func(cs *consumer.Consumer) error {
		return cs.Subscribe("stuck-key", true, h, consumer.KeyConcurrency(workers), consumer.DeadLetterTopic(""),
			consumer.Backoff(time.Millisecond, 5*time.Millisecond))
	})
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		if n := count(); n < bound-1 {
			return fmt.Errorf("handled %d", n)
		}
		return nil
	})
	// It stays there while the stuck message is retried: watch a while.
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		if n := count(); n > bound-1 {
			t.Fatalf("handled %d messages behind a stuck one, want at most %d", n, bound-1)
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		if n := count(); n < 1000 {
			return fmt.Errorf("handled %d after release", n)
		}
		return nil
	})
}

// TestKeyConcurrencyBoundedInBytes: behind a stuck message, its key's
// waiting messages count against MaxQueuedBytes whatever the number of
// workers, so the partition stops within that many bytes, not within
// workers*64 messages.
func TestKeyConcurrencyBoundedInBytes(t *testing.T) {
	kafkatest.Parallel(t)
	const workers, others, valueSize, maxBytes = 100, 500, 4 << 10, 64 << 10
	// Half the dispatched messages wait behind the stuck key: at most
	// maxBytes/valueSize of them, plus one over, are dispatched at a time.
	const bound = maxBytes/valueSize + 1
	c := kafkatest.NewCluster(t, kafkatest.Topic("stuck-bytes", 1))
	value := make([]byte, valueSize)
	recs := []*kgo.Record{{Topic: "stuck-bytes", Key: []byte("stuck"), Value: []byte("x")}}
	for i := range others {
		recs = append(recs, &kgo.Record{Topic: "stuck-bytes", Key: []byte("stuck"), Value: value},
			&kgo.Record{Topic: "stuck-bytes", Key: []byte(strconv.Itoa(i)), Value: value})
	}
	c.Produce(t, recs...)
	release := make(chan struct{})
	h, count := stuckKeyHandler(release)
	start(t, c.Config(), func(cs *consumer.Consumer) error {
		return cs.Subscribe("stuck-bytes", true, h, consumer.KeyConcurrency(workers), consumer.DeadLetterTopic(""),
			consumer.Backoff(time.Millisecond, 5*time.Millisecond))
	}, consumer.MaxQueuedBytes(maxBytes))
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		if n := count(); n < 2 {
			return fmt.Errorf("handled %d", n)
		}
		return nil
	})
	// It stays within the bound while the stuck message is retried: watch a while.
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		if n := count(); n > bound {
			t.Fatalf("handled %d messages behind a stuck one, want at most %d (MaxQueuedBytes of them)", n, bound)
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		if n := count(); n < others {
			return fmt.Errorf("handled %d after release", n)
		}
		return nil
	})
}
