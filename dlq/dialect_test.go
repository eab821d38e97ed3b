package dlq_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/kafkakit/kafkakit/dlq"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// notKeyPartition is a partition of an n-partition topic other than the
// one the key partitioner picks for key, so that a replay that
// re-partitions by key is caught.
func notKeyPartition(key []byte, n int32) int32 {
	p := kgo.StickyKeyPartitioner(nil).ForTopic("any").Partition(&kgo.Record{Key: key}, int(n))
	return (int32(p) + 1) % n
}

// ownHeaders are headers a record carries before it fails: repeated
// names, a null value, binary bytes, and an earlier system's dead-letter
// headers of both dialects, last too, all of which a replay must keep, in
// order.
func ownHeaders() []kgo.RecordHeader {
	return []kgo.RecordHeader{
		{Key: "trace", Value: []byte("abc")},
		{Key: "kafka_dlt-original-topic", Value: []byte("upstream")},
		{Key: "dup", Value: []byte("1")},
		{Key: "dup", Value: []byte("2")},
		{Key: "null"},
		{Key: "bin", Value: []byte{0, 0xff, 0x80}},
		{Key: "__connect.errors.topic", Value: []byte("upstream")},
		{Key: "kafka_dlt-original-topic", Value: []byte("upstream")},
		{Key: "kafka_dlt-original-partition", Value: be32(9)},
	}
}

func be32(v int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }
func be64(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

// springDeadLetter is a dead letter as Spring's DeadLetterPublishingRecoverer
// writes it: the record's headers, then kafka_dlt-* with binary integers.
func springDeadLetter(key, value []byte, topic string, partition int32) *kgo.Record {
	h := append(ownHeaders(),
		kgo.RecordHeader{Key: "kafka_dlt-original-topic", Value: []byte(topic)},
		kgo.RecordHeader{Key: "kafka_dlt-original-partition", Value: be32(partition)},
		kgo.RecordHeader{Key: "kafka_dlt-original-offset", Value: be64(41)},
		kgo.RecordHeader{Key: "kafka_dlt-original-timestamp", Value: be64(1_700_000_000_000)},
		kgo.RecordHeader{Key: "kafka_dlt-original-timestamp-type", Value: []byte("CreateTime")},
		kgo.RecordHeader{Key: "kafka_dlt-original-consumer-group", Value: []byte("java-group")},
		kgo.RecordHeader{Key: "kafka_dlt-exception-fqcn", Value: []byte("java.lang.IllegalStateException")},
		kgo.RecordHeader{Key: "kafka_dlt-exception-message", Value: []byte("bad order")},
		kgo.RecordHeader{Key: "kafka_dlt-exception-stacktrace", Value: []byte("java.lang.IllegalStateException: bad order\n\tat ...")},
	)
	return &kgo.Record{Key: key, Value: value, Headers: h}
}

// connectDeadLetter is a dead letter as Kafka Connect writes it with
// errors.deadletterqueue.context.headers.enable: __connect.errors.*
// headers, integers as decimal strings.
func connectDeadLetter(key, value []byte, topic, partition string) *kgo.Record {
	h := append(ownHeaders(),
		kgo.RecordHeader{Key: "__connect.errors.topic", Value: []byte(topic)},
		kgo.RecordHeader{Key: "__connect.errors.partition", Value: []byte(partition)},
		kgo.RecordHeader{Key: "__connect.errors.offset", Value: []byte("17")},
		kgo.RecordHeader{Key: "__connect.errors.connector.name", Value: []byte("sink")},
		kgo.RecordHeader{Key: "__connect.errors.task.id", Value: []byte("0")},
		kgo.RecordHeader{Key: "__connect.errors.stage", Value: []byte("VALUE_CONVERTER")},
		kgo.RecordHeader{Key: "__connect.errors.class.name", Value: []byte("org.apache.kafka.connect.json.JsonConverter")},
		kgo.RecordHeader{Key: "__connect.errors.exception.class.name", Value: []byte("org.apache.kafka.connect.errors.DataException")},
		kgo.RecordHeader{Key: "__connect.errors.exception.message", Value: []byte("not json")},
		kgo.RecordHeader{Key: "__connect.errors.exception.stacktrace", Value: []byte("org.apache.kafka.connect.errors.DataException: not json")},
	)
	return &kgo.Record{Key: key, Value: value, Headers: h}
}

// TestReplayDialects: dead letters written by Spring and by Kafka Connect
// come back on their original topic and partition, with key, value and
// their own headers byte for byte, plus a replay count of 1.
func TestReplayDialects(t *testing.T) {
	const parts = 4
	c := kafkatest.NewCluster(t, kafkatest.Topic("payments", parts), kafkatest.Topic("sink-in", parts), kafkatest.Topic("mixed.dlq", 1))
	springKey, value := []byte{0x00, 0x01, 0xfe, 'k'}, []byte{0xff, 0x00, 'v'}
	springPart := notKeyPartition(springKey, parts)
	spring := springDeadLetter(springKey, value, "payments", springPart)
	connect := connectDeadLetter(nil, []byte("{not json"), "sink-in", "2")
	spring.Topic, connect.Topic = "mixed.dlq", "mixed.dlq"
	c.Produce(t, spring, connect)

	var listed []dlq.Record
	sum, err := dlq.Replay(context.Background(), c.Config(), dlq.ReplayOptions{Topic: "mixed.dlq", Logger: quiet,
		OnRecord: func(r dlq.Record) { listed = append(listed, r) }})
	if err != nil || sum.Replayed["payments"] != 1 || sum.Replayed["sink-in"] != 1 {
		t.Fatalf("replay: %+v, %v", sum, err)
	}
	if len(listed) != 2 || listed[0].ToPartition != springPart || listed[1].ToPartition != 2 ||
		listed[0].Error != "bad order" || listed[1].Error != "not json" || listed[1].Key != nil {
		t.Errorf("listed %+v", listed)
	}
	want := append(ownHeaders(), kgo.RecordHeader{Key: dlq.HeaderReplayCount, Value: []byte("1")})
	check := func(topic string, partition int32, key, value []byte) {
		t.Helper()
		recs := c.ReadToEnd(t, topic)
		if len(recs) != 1 {
			t.Fatalf("%s holds %d records, want 1", topic, len(recs))
		}
		r := recs[0]
		if r.Partition != partition {
			t.Errorf("%s: replayed to partition %d, want the original %d", topic, r.Partition, partition)
		}
		if !bytes.Equal(r.Key, key) || (r.Key == nil) != (key == nil) || !bytes.Equal(r.Value, value) {
			t.Errorf("%s: key %q value %q, want %q %q", topic, r.Key, r.Value, key, value)
		}
		if !sameHeaders(r.Headers, want) {
			t.Errorf("%s: headers\n%q\nwant\n%q", topic, r.Headers, want)
		}
	}
	check("payments", springPart, springKey, value)
	check("sink-in", 2, nil, []byte("{not json"))
}

func sameHeaders(a, b []kgo.RecordHeader) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !bytes.Equal(a[i].Value, b[i].Value) || (a[i].Value == nil) != (b[i].Value == nil) {
			return false
		}
	}
	return true
}

// TestReplayPartitionBeyondTarget: an original partition the topic no
// longer has falls back to the partitioner instead of failing.
func TestReplayPartitionBeyondTarget(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("small", 1), kafkatest.Topic("small.dlq", 1))
	r := springDeadLetter([]byte("k"), []byte("v"), "small", 5)
	r.Topic = "small.dlq"
	c.Produce(t, r)
	if sum, err := dlq.Replay(context.Background(), c.Config(), dlq.ReplayOptions{Topic: "small.dlq", Logger: quiet}); err != nil || sum.Total != 1 {
		t.Fatalf("replay: %+v, %v", sum, err)
	}
	if recs := c.ReadToEnd(t, "small"); len(recs) != 1 || recs[0].Partition != 0 {
		t.Errorf("small holds %v", recs)
	}
}

// TestReplayParksAfterMaxReplays: a dead letter replayed MaxReplays times
// already goes, unchanged, to <dlq>.parked; one below the limit goes back
// with its count raised, its other headers in place.
func TestReplayParksAfterMaxReplays(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("loop", 1), kafkatest.Topic("loop.dlq", 1))
	again := springDeadLetter([]byte("again"), []byte("v2"), "loop", 0)
	again.Headers = append([]kgo.RecordHeader{{Key: dlq.HeaderReplayCount, Value: []byte("2")}}, again.Headers...)
	tired := springDeadLetter([]byte("tired"), []byte("v3"), "loop", 0)
	tired.Headers = append([]kgo.RecordHeader{{Key: dlq.HeaderReplayCount, Value: []byte("3")}}, tired.Headers...)
	again.Topic, tired.Topic = "loop.dlq", "loop.dlq"
	c.Produce(t, again, tired)

	var listed []dlq.Record
	sum, err := dlq.Replay(context.Background(), c.Config(), dlq.ReplayOptions{Topic: "loop.dlq", Logger: quiet,
		OnRecord: func(r dlq.Record) { listed = append(listed, r) }})
	if err != nil || sum.Replayed["loop"] != 1 || sum.Replayed["loop.dlq.parked"] != 1 || sum.Parked != 1 || sum.Total != 2 {
		t.Fatalf("replay: %+v, %v", sum, err)
	}
	if len(listed) != 2 || listed[0].Parked || !listed[1].Parked || listed[1].To != "loop.dlq.parked" {
		t.Errorf("listed %+v", listed)
	}
	back := c.ReadToEnd(t, "loop")
	want := append([]kgo.RecordHeader{{Key: dlq.HeaderReplayCount, Value: []byte("3")}}, ownHeaders()...)
	if len(back) != 1 || string(back[0].Key) != "again" || !sameHeaders(back[0].Headers, want) {
		t.Errorf("loop holds %v", back)
	}
	parked := c.ReadToEnd(t, "loop.dlq.parked")
	if len(parked) != 1 || string(parked[0].Key) != "tired" || !sameHeaders(parked[0].Headers, tired.Headers) {
		t.Errorf("parked holds %v", parked)
	}
}

// TestReplayMissingTopic: a dead-letter topic that does not exist is
// reported and not created.
func TestReplayMissingTopic(t *testing.T) {
	c := kafkatest.NewCluster(t)
	_, err := dlq.Replay(context.Background(), c.Config(), dlq.ReplayOptions{Topic: "nosuch.dlq", Logger: quiet})
	if !errors.Is(err, dlq.ErrNoTopic) {
		t.Fatalf("got %v, want ErrNoTopic", err)
	}
	topics, err := kadm.NewClient(c.Client(t)).ListTopics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if topics.Has("nosuch.dlq") {
		t.Error("replay created the topic it was asked to read")
	}
}

// springRetryDeadLetter is a dead letter as Spring's non-blocking retries
// write it after one retry topic: the record's headers, the original
// headers of its first failure (in the subscribed topic) under the names
// Spring's retry topics use (kafka_original-*), the retry headers of the
// first retry topic, then the exception and retry headers of the last
// failure (Spring keeps every retry header value by default).
func springRetryDeadLetter(key, value []byte, topic string, partition int32) *kgo.Record {
	retry := func(attempts int32, due int64) []kgo.RecordHeader {
		return []kgo.RecordHeader{
			{Key: "retry_topic-original-timestamp", Value: []byte{0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00}},
			{Key: "retry_topic-attempts", Value: be32(attempts)},
			{Key: "retry_topic-backoff-timestamp", Value: be64(due)[2:]},
		}
	}
	h := append(ownHeaders(),
		kgo.RecordHeader{Key: "kafka_original-topic", Value: []byte(topic)},
		kgo.RecordHeader{Key: "kafka_original-partition", Value: be32(partition)},
		kgo.RecordHeader{Key: "kafka_original-offset", Value: be64(41)},
		kgo.RecordHeader{Key: "kafka_original-timestamp", Value: be64(1_700_000_000_000)},
		kgo.RecordHeader{Key: "kafka_original-timestamp-type", Value: []byte("CreateTime")},
		kgo.RecordHeader{Key: "kafka_dlt-original-consumer-group", Value: []byte("java-group")},
	)
	h = append(h, retry(2, 1_700_000_001_000)...)
	h = append(h,
		kgo.RecordHeader{Key: "kafka_exception-fqcn", Value: []byte("org.springframework.kafka.listener.ListenerExecutionFailedException")},
		kgo.RecordHeader{Key: "kafka_exception-message", Value: []byte("bad order")},
	)
	h = append(h, retry(3, 1_700_000_003_000)...)
	return &kgo.Record{Key: key, Value: value, Headers: h}
}

// TestReplayAfterRetryTopics: a dead letter that went through Spring's
// retry topics first names the record of the subscribed topic as its
// original, in Spring's kafka_original-* headers: it comes back there, on
// its partition, with none of the retry path's headers.
func TestReplayAfterRetryTopics(t *testing.T) {
	const parts = 3
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", parts), kafkatest.Topic("orders-retry-1000", parts), kafkatest.Topic("orders.dlq", parts))
	key := []byte("k")
	part := notKeyPartition(key, parts)
	r := springRetryDeadLetter(key, []byte("v"), "orders", part)
	r.Topic = "orders.dlq"
	c.Produce(t, r)
	sum, err := dlq.Replay(context.Background(), c.Config(), dlq.ReplayOptions{Topic: "orders.dlq", Logger: quiet})
	if err != nil || sum.Replayed["orders"] != 1 {
		t.Fatalf("replay: %+v, %v", sum, err)
	}
	back := c.ReadToEnd(t, "orders")
	want := append(ownHeaders(), kgo.RecordHeader{Key: dlq.HeaderReplayCount, Value: []byte("1")})
	if len(back) != 1 || back[0].Partition != part || !sameHeaders(back[0].Headers, want) {
		t.Fatalf("orders holds %v, want one record in partition %d with headers\n%q", back, part, want)
	}
}
