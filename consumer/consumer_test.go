package consumer_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// running is a consumer whose Run is in a goroutine.
type running struct {
	c      *consumer.Consumer
	cancel context.CancelFunc
	done   chan error
}

// start runs a consumer of cfg's group with subscribe applied, stopping it
// (Run returns, then Close) when the test ends unless stopped before.
func start(t *testing.T, cfg config.Kafka, subscribe func(*consumer.Consumer) error, opts ...consumer.Option) *running {
	t.Helper()
	c, err := consumer.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := subscribe(c); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{c: c, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop ends Run, checks it ended cleanly, and closes the consumer.
func (r *running) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("Run did not return 30s after its context ended")
	}
	if err := r.c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// log collects what a handler saw, safely across partitions.
type log struct {
	mu   sync.Mutex
	msgs []*consumer.Message
}

func (l *log) add(m *consumer.Message) {
	cp := *m
	l.mu.Lock()
	l.msgs = append(l.msgs, &cp)
	l.mu.Unlock()
}

func (l *log) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.msgs)
}

func (l *log) snapshot() []*consumer.Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*consumer.Message(nil), l.msgs...)
}

func (l *log) handler() consumer.Handler {
	return consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		l.add(m)
		return nil
	})
}

func waitLen(t *testing.T, l *log, n int) {
	t.Helper()
	kafkatest.WaitFor(t, 60*time.Second, func() error {
		if got := l.len(); got < n {
			return fmt.Errorf("handled %d messages, want %d", got, n)
		}
		return nil
	})
}

func produceN(t *testing.T, c *kafkatest.Cluster, topic string, n int, partitions int32) {
	t.Helper()
	recs := make([]*kgo.Record, n)
	for i := range n {
		recs[i] = &kgo.Record{Topic: topic, Partition: int32(i) % partitions, Key: []byte(strconv.Itoa(i)), Value: []byte(strconv.Itoa(i))}
	}
	c.Produce(t, recs...)
}

func manualPartitions(t *testing.T, c *kafkatest.Cluster) *kgo.Client {
	return c.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
}

func TestConsumeCompleteAndInOrderPerPartition(t *testing.T) {
	kafkatest.Parallel(t)
	const n, partitions = 10_000, 6
	c := kafkatest.NewCluster(t, kafkatest.Topic("bulk", partitions))
	var seen log
	start(t, c.Config(), func(cs *consumer.Consumer) error { return cs.Subscribe("bulk", true, seen.handler()) })

	recs := make([]*kgo.Record, n)
	for i := range n {
		recs[i] = &kgo.Record{Topic: "bulk", Partition: int32(i % partitions), Value: []byte(strconv.Itoa(i))}
	}
	if err := manualPartitions(t, c).ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitLen(t, &seen, n)

	next := map[int32]int64{}
	values := map[string]bool{}
	for _, m := range seen.snapshot() {
		if m.Offset != next[m.Partition] {
			t.Fatalf("partition %d: got offset %d, want %d: out of order or duplicated", m.Partition, m.Offset, next[m.Partition])
		}
		next[m.Partition]++
		values[string(m.Value)] = true
	}
	if len(values) != n {
		t.Errorf("got %d distinct messages, want %d", len(values), n)
	}
	for p := range int32(partitions) {
		if next[p] != n/partitions && next[p] != n/partitions+1 {
			t.Errorf("partition %d: handled %d messages", p, next[p])
		}
	}
}

func TestMessageFieldsSurvive(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("fields", 3))
	var seen log
	start(t, c.Config(), func(cs *consumer.Consumer) error { return cs.Subscribe("fields", true, seen.handler()) })
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	c.Produce(t,
		&kgo.Record{Topic: "fields", Partition: 2, Key: []byte("k"), Value: []byte("v"), Timestamp: ts,
			Headers: []kgo.RecordHeader{{Key: "h1", Value: []byte("a")}, {Key: "h1", Value: []byte("b")}}},
		&kgo.Record{Topic: "fields", Partition: 2, Key: nil, Value: nil, Timestamp: ts},
	)
	waitLen(t, &seen, 2)
	got := seen.snapshot()
	m := got[0]
	if m.Topic != "fields" || m.Partition != 2 || m.Offset != 0 || string(m.Key) != "k" || string(m.Value) != "v" || !m.Timestamp.Equal(ts) || m.Attempt != 1 {
		t.Errorf("got %+v", m)
	}
	if v, ok := m.Header("h1"); !ok || string(v) != "b" {
		t.Errorf("Header(h1) = %q, %v; want the last one, b", v, ok)
	}
	if len(m.Headers) != 2 {
		t.Errorf("got %d headers, want 2", len(m.Headers))
	}
	if tomb := got[1]; tomb.Key != nil || tomb.Value != nil {
		t.Errorf("null key and value arrived as %q (nil %v), %q (nil %v)", tomb.Key, tomb.Key == nil, tomb.Value, tomb.Value == nil)
	}
}

func committed(t *testing.T, c *kafkatest.Cluster, group, topic string, partition int32) int64 {
	t.Helper()
	offs, err := kadm.NewClient(c.Client(t)).FetchOffsets(t.Context(), group)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offs.Lookup(topic, partition); ok {
		return o.At
	}
	return -1
}

// waitCommitted waits, at most 30s, until group has committed want in
// partition of topic.
func waitCommitted(t *testing.T, c *kafkatest.Cluster, group, topic string, partition int32, want int64) {
	t.Helper()
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		if got := committed(t, c, group, topic, partition); got != want {
			return fmt.Errorf("committed %d, want %d", got, want)
		}
		return nil
	})
}

// TestRestartResumesAfterHandled: a consumer that handled offsets 0-99 and
// closed leaves the group at 100 for the next one.
func TestRestartResumesAfterHandled(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("resume", 1))
	produceN(t, c, "resume", 100, 1)
	var first log
	r := start(t, c.Config(), func(cs *consumer.Consumer) error { return cs.Subscribe("resume", true, first.handler()) })
	waitLen(t, &first, 100)
	r.stop(t)
	if got := committed(t, c, "kafkatest-group", "resume", 0); got != 100 {
		t.Fatalf("committed %d after handling 0-99, want 100", got)
	}

	produceN(t, c, "resume", 10, 1)
	var second log
	start(t, c.Config(), func(cs *consumer.Consumer) error { return cs.Subscribe("resume", true, second.handler()) })
	waitLen(t, &second, 10)
	if got := second.snapshot()[0].Offset; got != 100 {
		t.Errorf("second consumer started at offset %d, want 100", got)
	}
}

// TestFailureIsNotCommittedPast: with dead letters off, a message whose
// handler keeps failing holds its partition; the offset is not committed
// past it and the next consumer gets it again.
func TestFailureIsNotCommittedPast(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("stuck", 1))
	produceN(t, c, "stuck", 10, 1)
	var attempts log
	failOn5 := consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		attempts.add(m)
		if m.Offset == 5 {
			return errors.New("cannot handle 5")
		}
		return nil
	})
	r := start(t, c.Config(), func(cs *consumer.Consumer) error {
		return cs.Subscribe("stuck", true, failOn5, consumer.DeadLetterTopic(""), consumer.Backoff(time.Millisecond, 5*time.Millisecond))
	})
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		var fives int
		for _, m := range attempts.snapshot() {
			if m.Offset == 5 {
				fives++
			}
		}
		if fives < 8 { // well past the configured 3 retries
			return fmt.Errorf("offset 5 tried %d times", fives)
		}
		return nil
	})
	for _, m := range attempts.snapshot() {
		if m.Offset > 5 {
			t.Fatalf("offset %d handled while 5 was failing", m.Offset)
		}
	}
	r.stop(t)
	if got := committed(t, c, "kafkatest-group", "stuck", 0); got != 5 {
		t.Fatalf("committed %d, want 5: the failing message must not be committed past", got)
	}

	var again log
	start(t, c.Config(), func(cs *consumer.Consumer) error { return cs.Subscribe("stuck", true, again.handler()) })
	waitLen(t, &again, 5)
	if got := again.snapshot()[0].Offset; got != 5 {
		t.Errorf("next consumer started at %d, want 5", got)
	}
}

// TestFromBeginning checks where a new group starts.
func TestFromBeginning(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("old", 2))
	produceN(t, c, "old", 20, 2)

	t.Run("true reads what was there", func(t *testing.T) {
		cfg := c.Config()
		cfg.GroupID = "from-beginning"
		var seen log
		start(t, cfg, func(cs *consumer.Consumer) error { return cs.Subscribe("old", true, seen.handler()) })
		waitLen(t, &seen, 20)
	})

	t.Run("false reads only what comes after", func(t *testing.T) {
		cfg := c.Config()
		cfg.GroupID = "from-now"
		var seen log
		start(t, cfg, func(cs *consumer.Consumer) error { return cs.Subscribe("old", false, seen.handler()) })
		// The consumer positions itself asynchronously after joining:
		// keep sending until something new arrives.
		kafkatest.WaitFor(t, 30*time.Second, func() error {
			c.Produce(t, &kgo.Record{Topic: "old", Value: []byte("new")})
			if seen.len() == 0 {
				return errors.New("nothing new consumed yet")
			}
			return nil
		})
		for _, m := range seen.snapshot() {
			if string(m.Value) != "new" {
				t.Errorf("consumed old message %q at offset %d", m.Value, m.Offset)
			}
		}
	})
}

// TestPanicAndErrorGoToDeadLetters: a message that always fails and one
// that always panics each reach the dead-letter topic after exactly
// 1+retries attempts, with Spring's headers, and the partition flows on.
func TestPanicAndErrorGoToDeadLetters(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1), kafkatest.Topic("orders.dlq", 1))
	var seen log
	h := consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		seen.add(m)
		switch string(m.Value) {
		case "3":
			return fmt.Errorf("wrapped: %w", errors.New("bad order 3"))
		case "6":
			panic("order 6 exploded")
		}
		return nil
	})
	c.Produce(t, &kgo.Record{Topic: "orders", Key: []byte("k"), Value: []byte("0"),
		Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("abc")}}})
	produceN(t, c, "orders", 10, 1) // values 0..9 at offsets 1..10
	start(t, c.Config(), func(cs *consumer.Consumer) error { return cs.Subscribe("orders", true, h, consumer.Retries(2)) })
	waitLen(t, &seen, 11+2*2)

	dead := c.ReadAll(t, "orders.dlq", 2, 30*time.Second)
	byValue := map[string]*kgo.Record{}
	for _, r := range dead {
		byValue[string(r.Value)] = r
	}
	for _, tt := range []springDeadLetter{
		{"3", "4", "*fmt.wrapError", "*errors.errorString", "wrapped: bad order 3"},
		{"6", "7", "*consumer.PanicError", "*consumer.PanicError", "handler panicked: order 6 exploded"},
	} {
		r := byValue[tt.value]
		if r == nil {
			t.Fatalf("value %s not dead-lettered; dead letters: %v", tt.value, dead)
		}
		tt.check(t, r)
	}
	if got := string(byValue["6"].Key); got != "6" {
		t.Errorf("dead letter key %q, want the original 6", got)
	}
	// Every message was handled once, the two poison ones three times.
	counts := map[string]int{}
	for _, m := range seen.snapshot() {
		counts[string(m.Value)]++
	}
	for v, n := range counts {
		want := 1
		if v == "3" || v == "6" {
			want = 3
		}
		if v == "0" {
			want = 2 // "0" was sent twice
		}
		if n != want {
			t.Errorf("value %s handled %d times, want %d", v, n, want)
		}
	}
	waitCommitted(t, c, "kafkatest-group", "orders", 0, 11)
}

// springDeadLetter is what the Spring headers of the dead letter of a
// record of orders, partition 0, in group kafkatest-group, after three
// attempts, must say: the record's value and offset, and the error.
type springDeadLetter struct {
	value, offset, fqcn, cause, message string
}

func (tt springDeadLetter) check(t *testing.T, r *kgo.Record) {
	t.Helper()
	h := headers(r)
	if got := string(h["kafka_dlt-original-topic"]); got != "orders" {
		t.Errorf("original topic %q", got)
	}
	if got := int32(binary.BigEndian.Uint32(h["kafka_dlt-original-partition"])); got != 0 || len(h["kafka_dlt-original-partition"]) != 4 {
		t.Errorf("original partition %d (%d bytes), want 0 in 4 bytes", got, len(h["kafka_dlt-original-partition"]))
	}
	if got := binary.BigEndian.Uint64(h["kafka_dlt-original-offset"]); strconv.FormatUint(got, 10) != tt.offset || len(h["kafka_dlt-original-offset"]) != 8 {
		t.Errorf("original offset %d, want %s in 8 bytes", got, tt.offset)
	}
	if len(h["kafka_dlt-original-timestamp"]) != 8 || binary.BigEndian.Uint64(h["kafka_dlt-original-timestamp"]) == 0 {
		t.Errorf("original timestamp %x", h["kafka_dlt-original-timestamp"])
	}
	for name, want := range map[string]string{
		"kafka_dlt-original-timestamp-type": "CreateTime",
		"kafka_dlt-original-consumer-group": "kafkatest-group",
		"kafka_dlt-exception-fqcn":          tt.fqcn,
		"kafka_dlt-exception-cause-fqcn":    tt.cause,
		"kafka_dlt-exception-message":       tt.message,
		"kafkakit-attempts":                 "3",
	} {
		if got := string(h[name]); got != want {
			t.Errorf("value %s: header %s = %q, want %q", tt.value, name, got, want)
		}
	}
	if len(h["kafka_dlt-exception-stacktrace"]) == 0 || len(h["kafkakit-failed-at"]) == 0 {
		t.Errorf("value %s: stacktrace or failed-at header missing", tt.value)
	}
}

func headers(r *kgo.Record) map[string][]byte {
	m := map[string][]byte{}
	for _, h := range r.Headers {
		m[h.Key] = h.Value
	}
	return m
}

func TestPermanentSkipsRetries(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("p", 1))
	var seen log
	h := consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		seen.add(m)
		return consumer.Permanent(errors.New("unparseable"))
	})
	c.Produce(t, &kgo.Record{Topic: "p", Value: []byte("x")})
	start(t, c.Config(), func(cs *consumer.Consumer) error { return cs.Subscribe("p", true, h) })
	dead := c.ReadAll(t, "p.dlq", 1, 30*time.Second)
	if n := seen.len(); n != 1 {
		t.Errorf("handled %d times, want 1", n)
	}
	if got := string(headers(dead[0])["kafka_dlt-exception-fqcn"]); got != "*errors.errorString" {
		t.Errorf("fqcn %q, want the wrapped error's type", got)
	}
}

// TestNextGenGroupProtocol runs the consumer with KAFKA_GROUP_PROTOCOL=consumer
// (KIP-848: the broker assigns partitions).
func TestNextGenGroupProtocol(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("kip848", 3))
	produceN(t, c, "kip848", 90, 3)
	cfg := c.Config()
	cfg.GroupProtocol = config.GroupProtocolConsumer
	var first log
	r := start(t, cfg, func(cs *consumer.Consumer) error { return cs.Subscribe("kip848", true, first.handler()) })
	waitLen(t, &first, 90)
	r.stop(t)
	for p := range int32(3) {
		if got := committed(t, c, "kafkatest-group", "kip848", p); got != 30 {
			t.Errorf("partition %d committed %d, want 30", p, got)
		}
	}
	produceN(t, c, "kip848", 30, 3)
	var second log
	start(t, cfg, func(cs *consumer.Consumer) error { return cs.Subscribe("kip848", true, second.handler()) })
	waitLen(t, &second, 30)
	for _, m := range second.snapshot() {
		if m.Offset < 30 {
			t.Errorf("partition %d offset %d delivered again after a clean stop", m.Partition, m.Offset)
		}
	}
}
