package dlq

import (
	"encoding/binary"
	"slices"
	"strconv"
	"strings"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/twmb/franz-go/pkg/kgo"
)

// HeaderReplayCount is how many times a record was replayed, as a decimal
// string. Replay increments it; at ReplayOptions.MaxReplays the record is
// parked instead.
const HeaderReplayCount = "kafkakit-replay-count"

// Kafka Connect's dead-letter headers (errors.deadletterqueue.context.headers.enable):
// strings, the partition and offset in decimal.
const (
	connectPrefix    = "__connect.errors."
	connectTopic     = connectPrefix + "topic"
	connectPartition = connectPrefix + "partition"
	connectOffset    = connectPrefix + "offset"
)

// origin is where a dead letter came from, as the block of headers its
// dead-lettering added says (see addedBlock): the newest of Spring's (and
// kafkakit's) kafka_dlt-original-topic and the kafka_original-topic of
// Spring's retry topics, with its partition, else Kafka Connect's. Headers of those
// names the record carried before are not read. partition is -1 when
// unknown.
func origin(r *kgo.Record) (topic string, partition int32) {
	block := &consumer.Message{Headers: r.Headers[addedBlock(r.Headers):]}
	partition = -1
	for i := len(block.Headers) - 1; i >= 0; i-- {
		partitionKey := consumer.HeaderOriginalPartition
		switch block.Headers[i].Key {
		case consumer.HeaderOriginalTopic:
		case consumer.HeaderSpringRetryOriginalTopic:
			partitionKey = consumer.HeaderSpringRetryOriginalPartition
		default:
			continue
		}
		if t := block.Headers[i].Value; len(t) > 0 {
			if p, ok := block.Header(partitionKey); ok && len(p) == 4 {
				partition = int32(binary.BigEndian.Uint32(p))
			}
			return string(t), max(partition, -1)
		}
		break
	}
	if t, ok := block.Header(connectTopic); ok && len(t) > 0 {
		if p, ok := block.Header(connectPartition); ok {
			if n, err := strconv.ParseInt(string(p), 10, 32); err == nil && n >= 0 {
				partition = int32(n)
			}
		}
		return string(t), partition
	}
	return "", -1
}

// isRetryHeader reports whether key is one of the retry-topic headers
// that Spring's non-blocking retries and kafkakit's retry topics add.
func isRetryHeader(key string) bool {
	return key == consumer.HeaderRetryAttempts || key == consumer.HeaderRetryBackoffTimestamp || key == consumer.HeaderRetryOriginalTimestamp
}

// isConnectHeader reports whether Kafka Connect's dead-lettering adds
// headers named key.
func isConnectHeader(key string) bool { return strings.HasPrefix(key, connectPrefix) }

// restoreHeaders returns the headers a record had before it was
// dead-lettered. A dead-lettering appends its headers after the record's
// own, so only the trailing block (see addedBlock) is its work, and within
// that block only the last header of each name: an earlier
// dead-lettering's headers, or headers of those names the record carried
// itself, come before and are kept, in order. Retry-topic headers in the
// block all go: Spring appends one set per retry topic the record passed.
func restoreHeaders(headers []kgo.RecordHeader) []kgo.RecordHeader {
	start := addedBlock(headers)
	drop := make([]bool, len(headers))
	seen := map[string]bool{}
	for i := len(headers) - 1; i >= start; i-- {
		if !seen[headers[i].Key] || isRetryHeader(headers[i].Key) {
			seen[headers[i].Key], drop[i] = true, true
		}
	}
	out := make([]kgo.RecordHeader, 0, len(headers))
	for i, h := range headers {
		if !drop[i] {
			out = append(out, h)
		}
	}
	return out
}

// addedBlock returns where the block of headers a dead-lettering appended
// starts: the trailing run of headers of the dialect of the last header,
// Kafka Connect's __connect.errors.* or else Spring's and kafkakit's
// (kafka_dlt-*, kafkakit-attempts, kafkakit-failed-at, and the headers of
// the retry topics a record may have passed first: retry_topic-* and
// Spring's kafka_original-* and kafka_exception-*; see
// consumer.IsDeadLetterHeader). When the newest exception header of that
// run is Spring's retry-topic kind (kafka_exception-*), Spring's retry
// recoverer wrote the letter, and of the kafka_dlt-* names it adds only
// the consumer group: the block is the trailing run of those.
func addedBlock(headers []kgo.RecordHeader) int {
	added := consumer.IsDeadLetterHeader
	if n := len(headers); n > 0 && isConnectHeader(headers[n-1].Key) {
		added = isConnectHeader
	}
	start := trailing(headers, added)
	if springRetryWrote(headers[start:]) {
		start = trailing(headers, isSpringRetryHeader)
	}
	return start
}

// trailing returns where the trailing run of headers that added reports
// starts.
func trailing(headers []kgo.RecordHeader, added func(string) bool) int {
	start := len(headers)
	for start > 0 && added(headers[start-1].Key) {
		start--
	}
	return start
}

// springRetryWrote reports whether the newest exception header of block
// is one Spring's retry recoverer writes (kafka_exception-*,
// kafka_key-exception-*) rather than kafka_dlt-exception-*.
func springRetryWrote(block []kgo.RecordHeader) bool {
	for i := len(block) - 1; i >= 0; i-- {
		switch k := block[i].Key; {
		case strings.HasPrefix(k, "kafka_exception-"), strings.HasPrefix(k, "kafka_key-exception-"):
			return true
		case strings.HasPrefix(k, "kafka_dlt-exception-"), strings.HasPrefix(k, "kafka_dlt-key-exception-"):
			return false
		}
	}
	return false
}

// isSpringRetryHeader reports whether Spring's retry recoverer adds
// headers named key.
func isSpringRetryHeader(key string) bool {
	return key == consumer.HeaderOriginalConsumerGroup || consumer.IsRetryPathHeader(key)
}

// replayCount is the record's kafkakit-replay-count, 0 when absent or
// unreadable.
func replayCount(headers []kgo.RecordHeader) int {
	v, ok := (&consumer.Message{Headers: headers}).Header(HeaderReplayCount)
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(string(v))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// withReplayCount sets the last kafkakit-replay-count header to n in
// place, or appends one, so the other headers keep their order.
func withReplayCount(headers []kgo.RecordHeader, n int) []kgo.RecordHeader {
	v := []byte(strconv.Itoa(n))
	for i := len(headers) - 1; i >= 0; i-- {
		if headers[i].Key == HeaderReplayCount {
			headers = slices.Clone(headers)
			headers[i].Value = v
			return headers
		}
	}
	return append(headers, kgo.RecordHeader{Key: HeaderReplayCount, Value: v})
}

// headerOf returns the value of r's last header named key, read as a
// consumer reads a message's headers.
func headerOf(r *kgo.Record, key string) ([]byte, bool) {
	return (&consumer.Message{Headers: r.Headers}).Header(key)
}

// undead turns a dead letter back into the message it was, addressed to
// to or its original topic and partition, with its replay count raised.
// A dead letter replayed maxReplays times already goes, unchanged, to
// parked instead. It only decodes: whether the destination may be written
// is the caller's to check.
func undead(r *kgo.Record, to, parked string, maxReplays int) (producer.Message, *RefusedError) {
	count := replayCount(r.Headers)
	if count >= maxReplays {
		return producer.Message{Topic: parked, Key: r.Key, Value: r.Value, Headers: r.Headers}, nil
	}
	topic, partition := origin(r)
	if to != "" {
		topic, partition = to, -1
	}
	if topic == "" {
		return producer.Message{}, &RefusedError{Reason: ReasonNoOriginalTopic, Err: ErrNoOriginalTopic}
	}
	msg := producer.Message{Topic: topic, Key: r.Key, Value: r.Value, Headers: withReplayCount(restoreHeaders(r.Headers), count+1)}
	if partition >= 0 {
		msg.Partition = new(partition)
	}
	return msg, nil
}
