package consumer_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// calls records when each value reached the handler.
type calls struct {
	mu sync.Mutex
	at map[string][]time.Time
}

func (c *calls) add(v []byte) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at == nil {
		c.at = map[string][]time.Time{}
	}
	c.at[string(v)] = append(c.at[string(v)], time.Now())
	return len(c.at[string(v)])
}

func (c *calls) times(v string) []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.at[v]...)
}

// TestRetryTopicsThenDeadLetter: a message that keeps failing goes through
// each delay's retry topic, with Spring's headers, is handled again no
// sooner than its delay, then is dead-lettered; the partition does not
// wait for it meanwhile.
func TestRetryTopicsThenDeadLetter(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("rt", 2))
	orig := time.UnixMilli(time.Now().Add(-time.Hour).UnixMilli())
	c.Produce(t, &kgo.Record{Topic: "rt", Partition: 1, Key: []byte("a"), Value: []byte("bad"), Timestamp: orig})
	var seen calls
	var good log
	h := consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		seen.add(m.Value)
		if string(m.Value) == "bad" {
			return errors.New("still failing")
		}
		good.add(m)
		return nil
	})
	delays := []time.Duration{time.Second, 1500 * time.Millisecond}
	policy := consumer.Policy(consumer.RetryTopics(delays...), consumer.DeadLetterSuffix(".dlq"))
	start(t, rangeConfig(c), func(cs *consumer.Consumer) error {
		return cs.Subscribe("rt", true, h, consumer.Failures(policy))
	})
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		if len(seen.times("bad")) == 0 {
			return errors.New("not handled yet")
		}
		return nil
	})
	// The partition moves on before the first retry is due.
	c.Produce(t, &kgo.Record{Topic: "rt", Partition: 1, Key: []byte("b"), Value: []byte("good")})
	waitLen(t, &good, 1)

	dead := c.ReadAll(t, "rt.dlq", 1, 30*time.Second)
	at := seen.times("bad")
	if len(at) != 3 {
		t.Fatalf("failing message handled %d times, want 3", len(at))
	}
	if g := seen.times("good")[0]; !g.Before(at[1]) {
		t.Errorf("the next message waited for the failed one's retry")
	}
	for i, d := range delays {
		if gap := at[i+1].Sub(at[i]); gap < d-10*time.Millisecond {
			t.Errorf("attempt %d came %v after the previous, before its delay %v", i+2, gap, d)
		}
	}
	if string(dead[0].Key) != "a" {
		t.Errorf("dead letter with key %q, want a", dead[0].Key)
	}
	// Every call counts: one in the topic, one per retry topic.
	if got := string(headers(dead[0])[consumer.HeaderAttempts]); got != "3" {
		t.Errorf("dead letter's %s %q, want 3", consumer.HeaderAttempts, got)
	}
	checkRetryRecords(t, c, delays, orig)
	// The original is the record of the subscribed topic, in the retry
	// topics and in the dead letter, once, as Spring's retry topics say.
	for _, r := range append(c.ReadAll(t, "rt-retry-1500", 1, 10*time.Second), dead[0]) {
		checkOriginalOnce(t, r, "rt", 1, 0, orig)
	}
	for _, topic := range []string{"rt-retry-1000", "rt-retry-1500"} {
		if n := partitionsOf(t, c, topic); n != 2 {
			t.Errorf("%s has %d partitions, want the source's 2", topic, n)
		}
	}
}

// checkRetryRecords checks the record of rt partition 1, first written at
// orig, in the retry topic of each delay: in the same partition, with
// Spring's headers counting its attempts and saying when it is due.
func checkRetryRecords(t *testing.T, c *kafkatest.Cluster, delays []time.Duration, orig time.Time) {
	t.Helper()
	for i, topic := range []string{"rt-retry-1000", "rt-retry-1500"} {
		recs := c.ReadAll(t, topic, 1, 10*time.Second)
		hs := headers(recs[0])
		if recs[0].Partition != 1 {
			t.Errorf("%s: partition %d, want the source's 1", topic, recs[0].Partition)
		}
		if got := binary.BigEndian.Uint32(hs[consumer.HeaderRetryAttempts]); got != uint32(i+2) {
			t.Errorf("%s: attempts %d, want %d", topic, got, i+2)
		}
		if got, want := string(hs[consumer.HeaderAttempts]), fmt.Sprint(i+1); got != want {
			t.Errorf("%s: %s %q, want %s calls so far", topic, consumer.HeaderAttempts, got, want)
		}
		if got := new(big.Int).SetBytes(hs[consumer.HeaderRetryOriginalTimestamp]).Int64(); got != orig.UnixMilli() {
			t.Errorf("%s: original timestamp %d, want %d", topic, got, orig.UnixMilli())
		}
		due := new(big.Int).SetBytes(hs[consumer.HeaderRetryBackoffTimestamp]).Int64()
		if lag := time.UnixMilli(due).Sub(recs[0].Timestamp); lag < delays[i]-100*time.Millisecond || lag > delays[i]+5*time.Second {
			t.Errorf("%s: due %v after it was written, want about %v", topic, lag, delays[i])
		}
	}
}

// TestRetryTopicsSuccessAndPermanent: a message that succeeds on its
// first retry is done; a permanent failure skips the retry topics.
func TestRetryTopicsSuccessAndPermanent(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("rs", 1))
	c.Produce(t, &kgo.Record{Topic: "rs", Value: []byte("once")}, &kgo.Record{Topic: "rs", Value: []byte("never")})
	var seen calls
	var good log
	h := consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		n := seen.add(m.Value)
		switch {
		case string(m.Value) == "never":
			return consumer.Permanent(errors.New("unparseable"))
		case n == 1:
			return errors.New("transient")
		}
		good.add(m)
		return nil
	})
	policy := consumer.Policy(consumer.RetryTopics(50*time.Millisecond), consumer.DeadLetterSuffix(".dlq"))
	start(t, rangeConfig(c), func(cs *consumer.Consumer) error {
		return cs.Subscribe("rs", true, h, consumer.Failures(policy))
	})
	waitLen(t, &good, 1)
	dead := c.ReadAll(t, "rs.dlq", 1, 30*time.Second)
	if string(dead[0].Value) != "never" {
		t.Errorf("dead letter %q, want never", dead[0].Value)
	}
	if n := len(seen.times("never")); n != 1 {
		t.Errorf("permanent failure handled %d times, want 1", n)
	}
	if recs := readIfAny(t, c, "rs-retry-50"); len(recs) != 1 || string(recs[0].Value) != "once" {
		t.Errorf("retry topic holds %d records, want once alone", len(recs))
	}
}

// TestSpringRetryRecordIsFinished: a retry record as Spring writes it
// (its topic name and headers, a due time in the past) is handled, and,
// failing at its last attempt, dead-lettered.
func TestSpringRetryRecordIsFinished(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("sp", 1), kafkatest.Topic("sp-retry-1000", 1), kafkatest.Topic("sp-retry-2000", 1))
	spring := func(v string, attempts int32) *kgo.Record {
		return &kgo.Record{Topic: "sp-retry-2000", Key: []byte("k"), Value: []byte(v), Headers: []kgo.RecordHeader{
			{Key: consumer.HeaderRetryOriginalTimestamp, Value: big.NewInt(time.Now().Add(-time.Minute).UnixMilli()).Bytes()},
			{Key: consumer.HeaderRetryAttempts, Value: binary.BigEndian.AppendUint32(nil, uint32(attempts))},
			{Key: consumer.HeaderRetryBackoffTimestamp, Value: big.NewInt(time.Now().Add(-time.Second).UnixMilli()).Bytes()},
		}}
	}
	c.Produce(t, spring("ok", 3), spring("fails", 3))
	var good log
	h := consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		if string(m.Value) == "fails" {
			return fmt.Errorf("failing at attempt %d", m.Attempt)
		}
		good.add(m)
		return nil
	})
	policy := consumer.Policy(consumer.RetryTopics(time.Second, 2*time.Second), consumer.DeadLetterSuffix("-dlt"))
	start(t, rangeConfig(c), func(cs *consumer.Consumer) error {
		return cs.Subscribe("sp", true, h, consumer.Failures(policy))
	})
	waitLen(t, &good, 1)
	dead := c.ReadAll(t, "sp-dlt", 1, 30*time.Second)
	if string(dead[0].Value) != "fails" || string(headers(dead[0])["kafka_dlt-original-topic"]) != "sp-retry-2000" {
		t.Errorf("dead letter %q from %q, want fails from sp-retry-2000", dead[0].Value, headers(dead[0])["kafka_dlt-original-topic"])
	}
	// Spring's record carries no call count: its deliveries before the
	// last retry topic count one each.
	if got := string(headers(dead[0])[consumer.HeaderAttempts]); got != "3" {
		t.Errorf("dead letter's %s %q, want 3", consumer.HeaderAttempts, got)
	}
}

// TestForgedRetryHeaders: records in a retry topic that anyone could have
// written, with forged or garbled retry headers, neither panic nor hold
// the retry partition for longer than its delay: a backoff timestamp in
// the year 2100, a record timestamp in the year 2100 (50 minutes ahead on
// Apache Kafka, which refuses more), a backoff header
// that does not decode, attempts headers of odd sizes and values, origin
// headers that do not decode, no headers at all. The first is a keyed
// retry record whose key a later record of the topic follows; that one
// gets through too, after it.
func TestForgedRetryHeaders(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("fh", 1), kafkatest.Topic("fh-retry-300", 1))
	y2100 := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	// Apache Kafka refuses a record stamped more than an hour ahead
	// (message.timestamp.after.max.ms): there the record's own timestamp
	// is as far ahead as it takes.
	tsAhead := y2100
	if kafkatest.External() {
		tsAhead = time.Now().Add(50 * time.Minute)
	}
	c.Produce(t, keyed("fh", "K", "k1")) // offset 0, which the first forged record claims to come from
	retry := func(v string, ts time.Time, hs ...string) *kgo.Record {
		r := &kgo.Record{Topic: "fh-retry-300", Key: []byte(v), Value: []byte(v), Timestamp: ts}
		for i := 0; i < len(hs); i += 2 {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: hs[i], Value: []byte(hs[i+1])})
		}
		return r
	}
	be64 := func(v int64) string { return string(binary.BigEndian.AppendUint64(nil, uint64(v))) }
	origin := []string{consumer.HeaderOriginalTopic, "fh", consumer.HeaderOriginalOffset, be64(0)}
	forged := []*kgo.Record{
		retry("k1", time.Time{}, append(origin, consumer.HeaderRetryBackoffTimestamp, be64(y2100.UnixMilli()))...),
		retry("ts-2100", tsAhead, consumer.HeaderRetryBackoffTimestamp, be64(y2100.UnixMilli())),
		retry("garbled-backoff", time.Time{}, consumer.HeaderRetryBackoffTimestamp, "not a number, far too long"),
		retry("empty-backoff", time.Time{}, consumer.HeaderRetryBackoffTimestamp, ""),
		retry("attempts-negative", time.Time{}, consumer.HeaderRetryAttempts, "\xff\xff\xff\xff"),
		retry("attempts-huge", time.Time{}, consumer.HeaderRetryAttempts, "\x7f\xff\xff\xff"),
		retry("attempts-3-bytes", time.Time{}, consumer.HeaderRetryAttempts, "abc"),
		retry("origin-garbled", time.Time{}, consumer.HeaderOriginalTopic, "fh", consumer.HeaderOriginalOffset, "xyz",
			consumer.HeaderOriginalPartition, "?"),
		retry("no-headers", time.Time{}),
	}
	forged[0].Key = []byte("K")
	c.Produce(t, forged...)
	var seen log
	h := consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		seen.add(m)
		return nil
	})
	policy := consumer.Policy(consumer.RetryTopics(300*time.Millisecond), consumer.DeadLetterSuffix(".dlq"))
	cfg := rangeConfig(c)
	// The group starts past k1 in the topic, as after k1 went to the
	// retry topic; the retry topic is read from its start.
	cl := c.Client(t)
	offs := kadm.Offsets{}
	offs.AddOffset("fh", 0, 1, -1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).CommitOffsets(ctx, cfg.GroupID, offs); err != nil {
		t.Fatal(err)
	}
	start(t, cfg, func(cs *consumer.Consumer) error {
		return cs.Subscribe("fh", true, h, consumer.Failures(policy))
	})
	c.Produce(t, keyed("fh", "K", "k2")) // follows k1, parked in the retry path
	waitLen(t, &seen, len(forged)+1)
	var got []string
	for _, m := range seen.snapshot() {
		got = append(got, string(m.Value))
	}
	if i, j := slices.Index(got, "k1"), slices.Index(got, "k2"); i < 0 || j < i {
		t.Errorf("handled %v: want k1, then k2 after it", got)
	}
}

// checkOriginalOnce checks that r carries one set of kafka_dlt-original-*
// headers, naming topic, partition, offset and timestamp.
func checkOriginalOnce(t *testing.T, r *kgo.Record, topic string, partition int32, offset int64, ts time.Time) {
	t.Helper()
	n := 0
	for _, h := range r.Headers {
		if h.Key == consumer.HeaderOriginalTopic {
			n++
		}
	}
	hs := headers(r)
	if n != 1 || string(hs[consumer.HeaderOriginalTopic]) != topic ||
		int32(binary.BigEndian.Uint32(hs[consumer.HeaderOriginalPartition])) != partition ||
		int64(binary.BigEndian.Uint64(hs[consumer.HeaderOriginalOffset])) != offset ||
		int64(binary.BigEndian.Uint64(hs[consumer.HeaderOriginalTimestamp])) != ts.UnixMilli() {
		t.Errorf("%s/%d@%d: %d original-topic headers, the last naming %q partition %x offset %x timestamp %x; want one naming %s/%d@%d at %d",
			r.Topic, r.Partition, r.Offset, n, hs[consumer.HeaderOriginalTopic], hs[consumer.HeaderOriginalPartition],
			hs[consumer.HeaderOriginalOffset], hs[consumer.HeaderOriginalTimestamp], topic, partition, offset, ts.UnixMilli())
	}
}

// springRetryRecord is a record of sr-retry-100 as Spring's non-blocking
// retries write it: its original, offset 7 of sr partition 1 at orig,
// named in kafka_original-* headers; offset is the bytes of that header.
func springRetryRecord(orig time.Time, offset []byte) *kgo.Record {
	be := func(v uint64, n int) []byte { return binary.BigEndian.AppendUint64(nil, v)[8-n:] }
	return &kgo.Record{Topic: "sr-retry-100", Partition: 1, Key: []byte("k"), Value: []byte("v"), Headers: []kgo.RecordHeader{
		{Key: "trace", Value: []byte("t")},
		{Key: consumer.HeaderSpringRetryOriginalTopic, Value: []byte("sr")},
		{Key: consumer.HeaderSpringRetryOriginalPartition, Value: be(1, 4)},
		{Key: consumer.HeaderSpringRetryOriginalOffset, Value: offset},
		{Key: consumer.HeaderSpringRetryOriginalTimestamp, Value: be(uint64(orig.UnixMilli()), 8)},
		{Key: consumer.HeaderSpringRetryOriginalTimestampType, Value: []byte("CreateTime")},
		{Key: consumer.HeaderOriginalConsumerGroup, Value: []byte("java-group")},
		{Key: "kafka_exception-fqcn", Value: []byte("java.lang.IllegalStateException")},
		{Key: "kafka_exception-message", Value: []byte("refused")},
		{Key: consumer.HeaderRetryOriginalTimestamp, Value: big.NewInt(orig.UnixMilli()).Bytes()},
		{Key: consumer.HeaderRetryAttempts, Value: be(2, 4)},
		{Key: consumer.HeaderRetryBackoffTimestamp, Value: big.NewInt(time.Now().UnixMilli()).Bytes()},
	}}
}

// runFailingOnSpringRecord writes rec to sr-retry-100, runs a consumer of
// sr whose handler always fails (retry topics of 100 and 200 ms, then
// sr.dlq), and returns the record it writes to sr-retry-200 and the dead
// letter.
func runFailingOnSpringRecord(t *testing.T, rec *kgo.Record) (next, dead *kgo.Record) {
	t.Helper()
	c := kafkatest.NewCluster(t, kafkatest.Topic("sr", 2), kafkatest.Topic("sr-retry-100", 2), kafkatest.Topic("sr-retry-200", 2), kafkatest.Topic("sr.dlq", 2))
	c.Produce(t, rec)
	h := consumer.HandlerFunc(func(context.Context, *consumer.Message) error { return errors.New("still failing") })
	policy := consumer.Policy(consumer.RetryTopics(100*time.Millisecond, 200*time.Millisecond), consumer.DeadLetterSuffix(".dlq"))
	start(t, rangeConfig(c), func(cs *consumer.Consumer) error {
		return cs.Subscribe("sr", true, h, consumer.Failures(policy))
	})
	return c.ReadAll(t, "sr-retry-200", 1, 30*time.Second)[0], c.ReadAll(t, "sr.dlq", 1, 30*time.Second)[0]
}

// TestRetryTopicsFinishSpringRetryRecord: a retry record as Spring's
// non-blocking retries write it, its original named in kafka_original-*
// headers, is taken over: failing again, it goes to the next retry topic
// and then the dead-letter topic with Spring's original as its
// kafka_dlt-original-* headers, once, and the attempts counted on from
// Spring's.
func TestRetryTopicsFinishSpringRetryRecord(t *testing.T) {
	orig := time.UnixMilli(time.Now().Add(-time.Minute).UnixMilli())
	next, dead := runFailingOnSpringRecord(t, springRetryRecord(orig, binary.BigEndian.AppendUint64(nil, 7)))
	for _, r := range []*kgo.Record{next, dead} {
		checkOriginalOnce(t, r, "sr", 1, 7, orig)
		if g := string(headers(r)[consumer.HeaderOriginalConsumerGroup]); g != "java-group" {
			t.Errorf("%s: consumer group %q, want Spring's java-group kept", r.Topic, g)
		}
	}
	if a := binary.BigEndian.Uint32(headers(next)[consumer.HeaderRetryAttempts]); a != 3 {
		t.Errorf("next retry record's attempts %d, want 3, after Spring's 2", a)
	}
}

// TestRetryTopicsGarbledSpringOriginal: a Spring retry record whose
// kafka_original-offset is not 8 bytes has its original passed on by none
// of its headers: the next retry record names where kafkakit read it.
func TestRetryTopicsGarbledSpringOriginal(t *testing.T) {
	orig := time.UnixMilli(time.Now().Add(-time.Minute).UnixMilli())
	rec := springRetryRecord(orig, []byte{0, 7})
	next, _ := runFailingOnSpringRecord(t, rec)
	checkOriginalOnce(t, next, "sr-retry-100", 1, 0, rec.Timestamp)
}
