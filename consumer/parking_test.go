package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// rangeConfig is c's configuration with the range assigner, which retry
// topics require.
func rangeConfig(c *kafkatest.Cluster) config.Kafka {
	cfg := c.Config()
	cfg.Assigners = []string{config.AssignerRange}
	return cfg
}

// keyLog records, per key, the values whose handler call succeeded, and
// how often each value's handler was called.
type keyLog struct {
	mu    sync.Mutex
	ok    map[string][]string
	calls map[string]int
}

func (l *keyLog) call(v string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.calls == nil {
		l.calls, l.ok = map[string]int{}, map[string][]string{}
	}
	l.calls[v]++
	return l.calls[v]
}

func (l *keyLog) succeeded(key, v string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ok[key] = append(l.ok[key], v)
}

func (l *keyLog) of(key string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ok[key])
}

func (l *keyLog) count(v string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls[v]
}

func (l *keyLog) waitFor(t *testing.T, key string, n int) {
	t.Helper()
	kafkatest.WaitFor(t, 60*time.Second, func() error {
		if got := len(l.of(key)); got < n {
			return fmt.Errorf("key %q: %d handled, want %d", key, got, n)
		}
		return nil
	})
}

func keyed(topic, key, value string) *kgo.Record {
	r := &kgo.Record{Topic: topic, Value: []byte(value)}
	if key != "" {
		r.Key = []byte(key)
	}
	return r
}

// TestKeyParkingKeepsOrder: key K's first record fails three times and
// succeeds on its fourth call, from the last retry topic; K's later
// records follow it through the retry path and reach the handler after it,
// in produce order, once each, while other keys are handled meanwhile.
func TestKeyParkingKeepsOrder(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("pk", 1))
	const others = 20
	recs := []*kgo.Record{keyed("pk", "K", "k1"), keyed("pk", "K", "k2")}
	for i := range others {
		recs = append(recs, keyed("pk", fmt.Sprint("o", i), fmt.Sprint("o", i)))
	}
	recs = append(recs, keyed("pk", "K", "k3"))
	c.Produce(t, recs...)
	var l keyLog
	othersDone := make(chan struct{})
	var once sync.Once
	h := consumer.HandlerFunc(func(ctx context.Context, m *consumer.Message) error {
		v := string(m.Value)
		n := l.call(v)
		if v == "k1" {
			if n <= 3 {
				return fmt.Errorf("k1 failing at call %d", n)
			}
			// K is parked now: the other keys must get through first.
			select {
			case <-othersDone:
			case <-time.After(30 * time.Second):
				return errors.New("the other keys were held back by the parked key")
			}
		}
		l.succeeded(string(m.Key), v)
		if strings.HasPrefix(v, "o") && countPrefix(&l, "o") == others {
			once.Do(func() { close(othersDone) })
		}
		return nil
	})
	policy := consumer.Policy(consumer.RetryTopics(50*time.Millisecond, 100*time.Millisecond, 150*time.Millisecond), consumer.DeadLetterSuffix(".dlq"))
	start(t, rangeConfig(c), func(cs *consumer.Consumer) error {
		return cs.Subscribe("pk", true, h, consumer.Failures(policy))
	})
	l.waitFor(t, "K", 3)
	if got, want := l.of("K"), []string{"k1", "k2", "k3"}; !slices.Equal(got, want) {
		t.Errorf("key K handled %v, want %v", got, want)
	}
	for _, v := range []string{"k2", "k3"} {
		if n := l.count(v); n != 1 {
			t.Errorf("%s reached the handler %d times, want once", v, n)
		}
	}
	if n := l.count("k1"); n != 4 {
		t.Errorf("k1 reached the handler %d times, want 4", n)
	}
	if dead := readIfAny(t, c, "pk.dlq"); len(dead) != 0 {
		t.Errorf("%d records dead-lettered, want none", len(dead))
	}
}

func countPrefix(l *keyLog, prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for k, vs := range l.ok {
		if strings.HasPrefix(k, prefix) {
			n += len(vs)
		}
	}
	return n
}

// TestKeyParkingSurvivesRestart: the consumer is closed while K's records
// sit in the retry topic; a new consumer in the group rebuilds the parked
// keys from the retry topics and hands K's records, and one produced
// after the restart, to the handler in produce order, none lost.
func TestKeyParkingSurvivesRestart(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("pr", 1))
	c.Produce(t, keyed("pr", "K", "k1"), keyed("pr", "K", "k2"), keyed("pr", "K", "k3"), keyed("pr", "A", "a1"))
	var l keyLog
	var failing sync.Map // value -> still failing
	failing.Store("k1", true)
	h := consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		v := string(m.Value)
		l.call(v)
		if _, ok := failing.Load(v); ok {
			return errors.New("k1 failing")
		}
		l.succeeded(string(m.Key), v)
		return nil
	})
	cfg := rangeConfig(c)
	policy := consumer.Policy(consumer.RetryTopics(time.Second, 2*time.Second), consumer.DeadLetterSuffix(".dlq"))
	subscribe := func(cs *consumer.Consumer) error { return cs.Subscribe("pr", true, h, consumer.Failures(policy)) }
	first := start(t, cfg, subscribe)
	// k1 failed and k2, k3 followed it into the first retry topic.
	c.ReadAll(t, "pr-retry-1000", 3, 30*time.Second)
	l.waitFor(t, "A", 1)
	first.stop(t)
	if n := l.count("k2") + l.count("k3"); n != 0 {
		t.Fatalf("k2 and k3 reached the handler %d times while k1 was failing", n)
	}

	failing.Delete("k1")
	start(t, cfg, subscribe)
	c.Produce(t, keyed("pr", "K", "k4"), keyed("pr", "B", "b1"))
	l.waitFor(t, "K", 4)
	if got, want := l.of("K"), []string{"k1", "k2", "k3", "k4"}; !slices.Equal(got, want) {
		t.Errorf("key K handled %v, want %v", got, want)
	}
	for _, v := range []string{"k2", "k3", "k4"} {
		if n := l.count(v); n != 1 {
			t.Errorf("%s reached the handler %d times, want once", v, n)
		}
	}
	l.waitFor(t, "B", 1)
	if dead := readIfAny(t, c, "pr.dlq"); len(dead) != 0 {
		t.Errorf("%d records dead-lettered, want none", len(dead))
	}
}

// TestNullKeysAreNotParked: a record without a key that is in the retry
// path holds back no later keyless record.
func TestNullKeysAreNotParked(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("pn", 1))
	c.Produce(t, keyed("pn", "", "n1"), keyed("pn", "", "n2"))
	var l keyLog
	n2Done := make(chan struct{})
	h := consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		v := string(m.Value)
		if m.Key != nil {
			return fmt.Errorf("key %q, want null", m.Key)
		}
		if l.call(v) == 1 && v == "n1" {
			return errors.New("n1 failing once")
		}
		if v == "n1" {
			select {
			case <-n2Done:
			case <-time.After(30 * time.Second):
				return errors.New("n2 was held back behind n1")
			}
		}
		l.succeeded("", v)
		if v == "n2" {
			close(n2Done)
		}
		return nil
	})
	policy := consumer.Policy(consumer.RetryTopics(50*time.Millisecond), consumer.DeadLetterSuffix(".dlq"))
	start(t, rangeConfig(c), func(cs *consumer.Consumer) error {
		return cs.Subscribe("pn", true, h, consumer.Failures(policy))
	})
	l.waitFor(t, "", 2)
	if got, want := l.of(""), []string{"n2", "n1"}; !slices.Equal(got, want) {
		t.Errorf("handled %v, want %v", got, want)
	}
	if n := l.count("n2"); n != 1 {
		t.Errorf("n2 reached the handler %d times, want once", n)
	}
}

// TestRetryTopicsNeedRange: without the range assigner first, the retry
// and subscribed partitions of a number may go to different members, so
// Subscribe refuses retry topics.
func TestRetryTopicsNeedRange(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("pg", 1))
	cs, err := consumer.New(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	err = cs.Subscribe("pg", true, (&log{}).handler(), consumer.Failures(consumer.Policy(consumer.RetryTopics(time.Second))))
	if err == nil || !strings.Contains(err.Error(), "KAFKA_PARTITION_ASSIGNERS=range") {
		t.Errorf("got %v, want an error naming KAFKA_PARTITION_ASSIGNERS=range", err)
	}
}
