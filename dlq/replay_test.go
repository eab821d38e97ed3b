package dlq_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/dlq"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/twmb/franz-go/pkg/kgo"
)

var quiet = slog.New(slog.DiscardHandler)

// writeDeadLetters puts n dead letters of topic "orders" on "orders.dlq".
func writeDeadLetters(t *testing.T, c *kafkatest.Cluster, n int) {
	t.Helper()
	p, err := producer.New(c.Config(), producer.Logger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var msgs []producer.Message
	for i := range n {
		orig := &consumer.Message{Topic: "orders", Partition: int32(i % 2), Offset: int64(i), Key: []byte("k" + strconv.Itoa(i)),
			Value: []byte(strconv.Itoa(i)), Headers: []consumer.Header{{Key: "trace", Value: []byte("t" + strconv.Itoa(i))}}, Timestamp: time.Now()}
		msgs = append(msgs, consumer.DeadLetter(orig, errors.New("boom"), 4, "g", "orders.dlq", time.Now()))
	}
	if _, err := p.SendBatch(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
}

func TestReplayOnce(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 2), kafkatest.Topic("orders.dlq", 2))
	writeDeadLetters(t, c, 10)
	ctx := context.Background()

	sum, err := dlq.Replay(ctx, c.Config(), dlq.ReplayOptions{Topic: "orders.dlq", Limit: 3, Logger: quiet})
	if err != nil || sum.Total != 3 || sum.Replayed["orders"] != 3 || sum.Remaining != 7 {
		t.Fatalf("limited replay: %+v, %v", sum, err)
	}
	sum, err = dlq.Replay(ctx, c.Config(), dlq.ReplayOptions{Topic: "orders.dlq", DryRun: true, Logger: quiet})
	if err != nil || sum.Total != 7 {
		t.Fatalf("dry run: %+v, %v", sum, err)
	}
	sum, err = dlq.Replay(ctx, c.Config(), dlq.ReplayOptions{Topic: "orders.dlq", Logger: quiet})
	if err != nil || sum.Total != 7 || sum.Remaining != 0 {
		t.Fatalf("rest: %+v, %v", sum, err)
	}
	sum, err = dlq.Replay(ctx, c.Config(), dlq.ReplayOptions{Topic: "orders.dlq", Logger: quiet})
	if err != nil || sum.Total != 0 {
		t.Fatalf("second replay sent %d again: %v", sum.Total, err)
	}

	recs := c.ReadToEnd(t, "orders")
	if len(recs) != 10 {
		t.Fatalf("orders holds %d records, want 10", len(recs))
	}
	seen := map[string]bool{}
	for _, r := range recs {
		if seen[string(r.Value)] {
			t.Errorf("value %s replayed twice", r.Value)
		}
		seen[string(r.Value)] = true
		if "k"+string(r.Value) != string(r.Key) {
			t.Errorf("key %q for value %q", r.Key, r.Value)
		}
		if len(r.Headers) != 2 || r.Headers[0].Key != "trace" || string(r.Headers[0].Value) != "t"+string(r.Value) ||
			r.Headers[1].Key != dlq.HeaderReplayCount || string(r.Headers[1].Value) != "1" {
			t.Errorf("headers %v: want the original trace header and a replay count of 1", r.Headers)
		}
		if i, _ := strconv.Atoi(string(r.Value)); r.Partition != int32(i%2) {
			t.Errorf("value %s replayed to partition %d, want its original %d", r.Value, r.Partition, i%2)
		}
	}
}

func TestReplayTo(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders.dlq", 2), kafkatest.Topic("orders-retry", 2))
	writeDeadLetters(t, c, 2)
	var listed []dlq.Record
	sum, err := dlq.Replay(context.Background(), c.Config(), dlq.ReplayOptions{Topic: "orders.dlq", To: "orders-retry", Logger: quiet,
		OnRecord: func(r dlq.Record) { listed = append(listed, r) }})
	if err != nil || sum.Replayed["orders-retry"] != 2 {
		t.Fatalf("%+v %v", sum, err)
	}
	if len(listed) != 2 || listed[0].Error != "boom" || listed[0].To != "orders-retry" {
		t.Errorf("listed %+v", listed)
	}
	if n := len(c.ReadToEnd(t, "orders-retry")); n != 2 {
		t.Errorf("orders-retry holds %d", n)
	}
}

// TestReplayRefusesDestinations: a dead letter that names an internal
// topic, no topic name Kafka accepts, a topic Allow refuses, or none at
// all is not sent and not marked replayed, and the replay goes on with
// the others; every refusal is reported with its reason.
func TestReplayRefusesDestinations(t *testing.T) {
	const idem = "__kafkakit_idempotency"
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1), kafkatest.Topic("secret", 1), kafkatest.Topic(idem, 1),
		kafkatest.Topic("odd.dlq", 1))
	letter := func(to string) *kgo.Record {
		r := &kgo.Record{Topic: "odd.dlq", Value: []byte(to)}
		if to != "" {
			r.Headers = []kgo.RecordHeader{{Key: consumer.HeaderOriginalTopic, Value: []byte(to)},
				{Key: consumer.HeaderOriginalPartition, Value: []byte{0xff, 0xff}}} // a partition of the wrong length
		}
		return r
	}
	long := strings.Repeat("x", 300)
	c.Produce(t, letter("orders"), letter(idem), letter("__consumer_offsets"), letter("bad topic"), letter(".."), letter(long),
		letter("a/b"), letter(""), letter("secret"), letter("orders"))
	want := map[int64]string{1: dlq.ReasonInternalTopic, 2: dlq.ReasonInternalTopic, 3: dlq.ReasonInvalidTopic, 4: dlq.ReasonInvalidTopic,
		5: dlq.ReasonInvalidTopic, 6: dlq.ReasonInvalidTopic, 7: dlq.ReasonNoOriginalTopic, 8: dlq.ReasonNotAllowed}
	notSecret := func(topic string) error {
		if topic == "secret" {
			return errors.New("not in the allowlist")
		}
		return nil
	}
	// The real replay commits its progress up to the first letter
	// refused (offset 1), so that the refused letters stay for a later
	// replay, which sends offset 9 again: at least once.
	for _, run := range []struct {
		dry  bool
		sent int
	}{{true, 2}, {false, 2}, {true, 1}} {
		dry := run.dry
		got := map[int64]string{}
		sum, err := dlq.Replay(t.Context(), c.Config(), dlq.ReplayOptions{Topic: "odd.dlq", Allow: notSecret, DryRun: dry, Logger: quiet,
			OnRecord: func(r dlq.Record) {
				if r.Refused != nil {
					if r.Refused.Error() == "" || len(r.Refused.Error()) > 400 {
						t.Errorf("offset %d: refusal %q", r.Offset, r.Refused.Error())
					}
					got[r.Offset] = r.Refused.Reason
				}
			}})
		if err != nil || sum.Refused != len(want) || sum.Total != run.sent || sum.Replayed["orders"] != run.sent || sum.Remaining != int64(len(want)) {
			t.Fatalf("dry run %v: %+v, %v; want %d to orders, %d refused and remaining", dry, sum, err, run.sent, len(want))
		}
		if !maps.Equal(got, want) {
			t.Errorf("dry run %v: refused %v, want %v", dry, got, want)
		}
	}
	for _, topic := range []string{idem, "secret"} {
		if recs := c.ReadToEnd(t, topic); len(recs) != 0 {
			t.Errorf("%d letters reached %s", len(recs), topic)
		}
	}
	if recs := c.ReadToEnd(t, "orders"); len(recs) != 2 {
		t.Errorf("orders holds %d, want 2", len(recs))
	}
}

// TestReplayToIsChecked: a To that is no topic name, or an internal
// topic, is an error before anything is read or sent.
func TestReplayToIsChecked(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders.dlq", 2))
	writeDeadLetters(t, c, 2)
	for _, tc := range []struct {
		to     string
		reason string
	}{
		{"bad topic", dlq.ReasonInvalidTopic}, {"..", dlq.ReasonInvalidTopic}, {strings.Repeat("t", 300), dlq.ReasonInvalidTopic},
		{"a/b", dlq.ReasonInvalidTopic}, {"__kafkakit_idempotency", dlq.ReasonInternalTopic}, {"__consumer_offsets", dlq.ReasonInternalTopic},
	} {
		sum, err := dlq.Replay(t.Context(), c.Config(), dlq.ReplayOptions{Topic: "orders.dlq", To: tc.to, Logger: quiet})
		refused, ok := errors.AsType[*dlq.RefusedError](err)
		if !ok || refused.Reason != tc.reason || sum.Total != 0 {
			t.Errorf("to %.20q: %+v, %v; want refused as %s", tc.to, sum, err, tc.reason)
		}
	}
	if sum, err := dlq.Replay(t.Context(), c.Config(), dlq.ReplayOptions{Topic: "orders.dlq", DryRun: true, Logger: quiet}); err != nil || sum.Total != 2 {
		t.Errorf("after the refusals a dry run finds %+v, %v; want both letters still there", sum, err)
	}
}

// TestDeadLetterAndReplayRoundTrip: messages a broken handler dead-letters
// arrive once, after replay, at the fixed handler.
func TestDeadLetterAndReplayRoundTrip(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("jobs", 1), kafkatest.Topic("jobs.dlq", 1))
	var broken atomic.Bool
	broken.Store(true)
	var mu sync.Mutex
	handled := map[string]int{}
	h := consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		if broken.Load() && string(m.Value)[0] == 'x' {
			return errors.New("cannot do x yet")
		}
		mu.Lock()
		handled[string(m.Value)]++
		mu.Unlock()
		return nil
	})
	cs, err := consumer.New(c.Config(), consumer.Logger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	cs.Subscribe("jobs", true, h, consumer.Retries(1))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cs.Run(ctx) }()
	defer func() {
		cancel()
		<-done
		cs.Close()
	}()
	for i := range 6 {
		v := strconv.Itoa(i)
		if i%2 == 0 {
			v = "x" + v
		}
		c.Produce(t, &kgo.Record{Topic: "jobs", Value: []byte(v)})
	}
	c.ReadAll(t, "jobs.dlq", 3, 30*time.Second)
	broken.Store(false)
	sum, err := dlq.Replay(context.Background(), c.Config(), dlq.ReplayOptions{Topic: "jobs.dlq", Logger: quiet})
	if err != nil || sum.Total != 3 {
		t.Fatalf("replay: %+v %v", sum, err)
	}
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(handled) != 6 {
			return fmt.Errorf("handled %v", handled)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	for v, n := range handled {
		if n != 1 {
			t.Errorf("%s handled %d times, want once", v, n)
		}
	}
}

func TestReplayFilterLeavesTheOthers(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 2), kafkatest.Topic("orders.dlq", 2))
	writeDeadLetters(t, c, 10) // keys k0..k9, partition i%2 of the dead-letter topic by key hash
	ctx := context.Background()
	even := func(l dlq.Letter) bool {
		n, _ := strconv.Atoi(string(l.Key[1:]))
		return n%2 == 0 && l.OriginalTopic == "orders" && l.ExceptionMessage == "boom" && !l.FailedAt.IsZero()
	}
	sum, err := dlq.Replay(ctx, c.Config(), dlq.ReplayOptions{Topic: "orders.dlq", Filter: even, Logger: quiet})
	if err != nil || sum.Total != 5 || sum.Remaining != 5 {
		t.Fatalf("filtered replay: %+v, %v; want 5 sent, 5 left", sum, err)
	}
	for _, r := range c.ReadAll(t, "orders", 5, 10*time.Second) {
		if n, _ := strconv.Atoi(string(r.Key[1:])); n%2 != 0 {
			t.Errorf("replayed %s, which the filter left", r.Key)
		}
	}
	// The dead letters left are still there for a replay of the rest.
	var keys []string
	sum, err = dlq.Replay(ctx, c.Config(), dlq.ReplayOptions{Topic: "orders.dlq", DryRun: true, Logger: quiet,
		Filter: func(l dlq.Letter) bool { return !even(l) }, OnRecord: func(r dlq.Record) { keys = append(keys, string(r.Key)) }})
	if err != nil || sum.Total != 5 {
		t.Fatalf("the rest: %+v %v (%v), want the 5 left", sum, err, keys)
	}
}
