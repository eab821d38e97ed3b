package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestForwardHandledBeforeAcknowledged: record #1 of key K fails from the
// subscribed topic and from the first retry topic, and is sent on to the
// second; #2 of K is parked behind it. The broker appends the forward but
// answers it only after the second retry topic's worker has handled #1 to
// its end, as a loaded machine can make it: the append is answered with
// NOT_ENOUGH_REPLICAS_AFTER_APPEND, and the client's retry of it is held
// until then. #1 leaving the retry path from the second retry topic must
// unpark its key, whenever the forward's acknowledgement comes: #2 is
// handled and no key stays parked; with one worker per partition and with
// one per key.
func TestForwardHandledBeforeAcknowledged(t *testing.T) {
	t.Run("one at a time", func(t *testing.T) { forwardHandledBeforeAcknowledged(t) })
	t.Run("by key", func(t *testing.T) { forwardHandledBeforeAcknowledged(t, consumer.KeyConcurrency(4)) })
}

// fwSecond is the second and last retry topic of
// forwardHandledBeforeAcknowledged.
const fwSecond = "fw-retry-200"

func forwardHandledBeforeAcknowledged(t *testing.T, opts ...consumer.SubscribeOption) {
	const topic = "fw"
	c := kafkatest.NewCluster(t, kafkatest.Topic(topic, 1), kafkatest.Topic("fw-retry-100", 1), kafkatest.Topic(fwSecond, 1))
	calls := &forwardCalls{oneOK: make(chan struct{})}
	var member atomic.Pointer[running] // read from the cluster's goroutines
	appended := answerForwardLate(t, c, calls.oneOK, &member)

	policy := consumer.Policy(consumer.RetryTopics(100*time.Millisecond, 200*time.Millisecond), consumer.DeadLetterSuffix(".dlq"))
	m := start(t, rangeConfig(c), func(cs *consumer.Consumer) error {
		return cs.Subscribe(topic, true, calls.handler(), append(opts, consumer.Failures(policy))...)
	})
	member.Store(m)
	c.Produce(t, keyed(topic, "K", "one"), keyed(topic, "K", "two"))

	kafkatest.WaitFor(t, 30*time.Second, func() error {
		if !slices.Contains(calls.seen(), "two from fw-retry-100") {
			return fmt.Errorf("two not handled from the first retry topic; calls %v; waiting for it to be, and its key to be unparked:%s",
				calls.seen(), describeParking(m))
		}
		if n := parkedKeys(m); n != 0 {
			return fmt.Errorf("%d keys parked, want none:%s", n, describeParking(m))
		}
		return nil
	})
	if got, want := calls.seen(), []string{"one from fw", "one from fw-retry-100", "one from fw-retry-200", "two from fw-retry-100"}; !slices.Equal(got, want) {
		t.Errorf("calls %v, want %v", got, want)
	}
	if appended.Hits() != 1 {
		t.Errorf("the forward to %s was appended and answered late %d times, want 1", fwSecond, appended.Hits())
	}
}

// forwardCalls is the handler of forwardHandledBeforeAcknowledged: "one"
// fails until it comes from the second retry topic, and oneOK is closed
// once it succeeded there. It records each call's value and topic.
type forwardCalls struct {
	mu     sync.Mutex
	calls  []string
	oneOK  chan struct{}
	closed bool
}

func (f *forwardCalls) handler() consumer.Handler {
	return consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		v := string(m.Value)
		f.calls = append(f.calls, v+" from "+m.Topic)
		if v == "one" {
			if m.Topic != fwSecond {
				return errors.New("failing until the second retry topic")
			}
			if !f.closed {
				f.closed = true
				close(f.oneOK)
			}
		}
		return nil
	})
}

func (f *forwardCalls) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// answerForwardLate makes the broker append the first write to the second
// retry topic but answer it NOT_ENOUGH_REPLICAS_AFTER_APPEND, and hold
// the client's retry of it until #1 has been handled from there (oneOK)
// and the member's worker finished it, at most 30s. It returns the fault
// that answers the append.
func answerForwardLate(t *testing.T, c *kafkatest.Cluster, oneOK <-chan struct{}, member *atomic.Pointer[running]) *kfake.FaultHandle {
	t.Helper()
	secondID := topicID(t, c, fwSecond)
	fake := c.Fake()
	appended := fake.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: fwSecond, Err: kerr.NotEnoughReplicasAfterAppend})
	var held sync.Once
	// handledThere waits, at most 30s, until #1 succeeded from the second
	// retry topic and its worker finished it.
	handledThere := func() {
		deadline := time.Now().Add(30 * time.Second)
		select {
		case <-oneOK:
		case <-time.After(time.Until(deadline)):
			return
		}
		for time.Now().Before(deadline) && inFlight(member.Load(), fwSecond) != 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	fake.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		fake.KeepControl()
		if appended.Hits() == 0 || !producesTo(req.(*kmsg.ProduceRequest), fwSecond, secondID) {
			return nil, nil, false
		}
		held.Do(func() { fake.SleepControl(handledThere) })
		fake.DropControl()
		return nil, nil, false
	})
	return appended
}

// producesTo reports whether req writes to topic, named or, from produce
// version 13 on, known by its ID.
func producesTo(req *kmsg.ProduceRequest, topic string, id [16]byte) bool {
	return slices.ContainsFunc(req.Topics, func(t kmsg.ProduceRequestTopic) bool { return t.Topic == topic || t.TopicID == id })
}

// topicID is the ID of topic.
func topicID(t *testing.T, c *kafkatest.Cluster, topic string) [16]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	topics, err := kadm.NewClient(c.Client(t)).ListTopics(ctx, topic)
	if err == nil {
		err = topics.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	return topics[topic].ID
}

// inFlight is how many records of partition 0 of the retry topic the
// member is handling now.
func inFlight(r *running, retryTopic string) int {
	for _, s := range r.c.Status().Subscriptions {
		for _, rt := range s.RetryTopics {
			if rt.Topic == retryTopic {
				for _, p := range rt.Partitions {
					if p.Partition == 0 {
						return p.InFlight
					}
				}
			}
		}
	}
	return 0
}
