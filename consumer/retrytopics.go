package consumer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/kafkakit/kafkakit/producer"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The retry-topic headers, with the names and encodings of Spring for
// Apache Kafka's RetryTopicHeaders, so that a retry record written by
// either is finished by the other: the attempts a 4-byte big-endian
// integer, the timestamps milliseconds since the epoch as Java's
// BigInteger.toByteArray writes them (big-endian two's complement, as
// few bytes as the value needs).
const (
	// HeaderRetryAttempts is the number of the delivery the retry record
	// is for: 2 in the first retry topic.
	HeaderRetryAttempts = "retry_topic-attempts"
	// HeaderRetryBackoffTimestamp is when the retry record is due.
	HeaderRetryBackoffTimestamp = "retry_topic-backoff-timestamp"
	// HeaderRetryOriginalTimestamp is the timestamp of the record as
	// first consumed from the subscribed topic.
	HeaderRetryOriginalTimestamp = "retry_topic-original-timestamp"
)

// RetryTopics sends a failed message to a retry topic and lets its
// partition move on: the consumer handles it again from there once delay
// has passed, then, failing again, sends it to the next delay's topic;
// after the last delay the message goes to the policy's next stage. The
// topic of a delay is the subscribed topic plus "-retry-" and the delay in
// milliseconds, as Spring names them; the consumer subscribes to them
// itself and creates them, with the subscribed topic's partition count,
// when missing (see [Consumer.EnsureTopics]). A retry record is due at
// its backoff header, but no later than delay after its timestamp, and
// waits at most delay once read, so a forged header costs one delay. A
// record of a retry topic is called once per delay, the
// policy's RetryInPlace stages before this one not applying to it. A
// [Permanent] failure passes on at once. Later records of a key in the
// retry path follow it there (key parking, see the package doc); the group
// must offer the range assigner first (KAFKA_PARTITION_ASSIGNERS=range), or
// Subscribe fails; the consumer offers a cooperative assigner that keeps
// the partition numbers together before it (see the package doc).
func RetryTopics(delays ...time.Duration) FailureStage {
	return retryTopics{delays: slices.Clone(delays)}
}

type retryTopics struct {
	delays []time.Duration
	topics []string // per delay, resolved
}

func (s retryTopics) resolve(topic string) (FailureStage, error) {
	if len(s.delays) == 0 {
		return nil, errors.New("retry topics without delays")
	}
	s.topics = make([]string, len(s.delays))
	for i, d := range s.delays {
		if d < time.Millisecond {
			return nil, fmt.Errorf("retry delay %v is below 1ms", d)
		}
		s.topics[i] = RetryTopic(topic, d)
	}
	return s, nil
}

// RetryTopic is the retry topic of topic for delay.
func RetryTopic(topic string, delay time.Duration) string {
	return topic + "-retry-" + strconv.FormatInt(delay.Milliseconds(), 10)
}

// retryStage returns the index of the policy's retry-topics stage, or -1.
func retryStage(stages []FailureStage) int {
	return slices.IndexFunc(stages, func(s FailureStage) bool { _, ok := s.(retryTopics); return ok })
}

// retryTopicNames are the distinct retry topics of a resolved policy.
func retryTopicNames(stages []FailureStage) []string {
	i := retryStage(stages)
	if i < 0 {
		return nil
	}
	return slices.Compact(slices.Sorted(slices.Values(stages[i].(retryTopics).topics)))
}

// nextDelay is the index of the delay msg goes to next, or -1 past the
// last. A record of the subscribed topic starts at the first; a retry
// record goes to the delay after the one of the topic it was read from.
func (s retryTopics) nextDelay(msg *Message, fromRetryTopic bool) int {
	next := 0
	if fromRetryTopic {
		next = s.delayOf(msg.record) + 1
	}
	if next >= len(s.delays) {
		return -1
	}
	return next
}

// delayOf is the index of the delay whose retry topic r was read from. The
// topic decides, whatever the headers say; only where delays repeat, and
// so share a topic, does the attempts header pick among them, when it
// names one.
func (s retryTopics) delayOf(r *kgo.Record) int {
	first := slices.Index(s.topics, r.Topic)
	if first < 0 {
		return 0 // not a retry topic of s: read as the first
	}
	if a, ok := retryAttempts(r.Headers); ok {
		if i := a - 2; i > first && i < len(s.topics) && s.topics[i] == r.Topic {
			return i
		}
	}
	return first
}

// toRetryTopic sends msg to the retry topic of delay i. A keyed message of
// the subscribed topic parks its key first, so that a later record of the
// key seen meanwhile follows it; a parked retry record moves on with it.
func (w *partitionWorker) toRetryTopic(st *failureState, s retryTopics, i int, msg *Message, cause error) verdict {
	parks := !w.retry && w.parked != nil && msg.Key != nil
	key := string(msg.Key)
	switch {
	case parks:
		w.parked.park(key, msg.Offset)
	case st.inPath:
		w.parked.forwarding(key, st.copy, i)
	}
	now := time.Now()
	res, ok := w.forward(msg, cause, "retry", func() producer.Message {
		return retryRecord(msg, cause, w.attempts(msg), w.c.group, s.topics[i], i, now.Add(s.delays[i]), now, w.retry)
	})
	if !ok {
		switch {
		case parks:
			w.parked.unpark(key, parkedCopy{origin: msg.Offset, at: -1})
		case st.inPath:
			w.parked.unforwarded(key, st.copy, i)
		}
		w.c.opts.observer.Attempted(msg.Topic, OutcomeRetried)
		return abandoned
	}
	// A record that landed in another partition (a retry topic with
	// fewer partitions than the subscribed one) is in another partition
	// number's retry path, which this one cannot wait for.
	elsewhere := res.Partition != w.partition
	switch {
	case parks && elsewhere:
		w.parked.unpark(key, parkedCopy{origin: msg.Offset, at: -1})
	case parks:
		w.parked.placed(key, msg.Offset, res.Offset)
	case st.inPath && elsewhere:
		w.parked.unforwarded(key, st.copy, i)
		w.parked.unpark(key, st.copy)
		st.inPath = false
	case st.inPath:
		w.parked.forwarded(key, st.copy, i)
		st.inPath = false
	}
	st.rescheduled = true
	w.c.opts.observer.Attempted(msg.Topic, OutcomeRetryScheduled)
	return finished
}

// retryRecord is msg, whose handler was called attempts times in all, for
// topic, the retry topic of the delay with index
// delay, due at due: the dead-letter record Spring's recoverer writes,
// without earlier retry headers, plus the retry headers. Its attempts
// header is the number of the delivery it is for: one from the subscribed
// topic, one per retry topic before. A message read from a retry topic
// (fromRetry) keeps the original headers of its first failure.
func retryRecord(msg *Message, cause error, attempts int, group, topic string, delay int, due, now time.Time, fromRetry bool) producer.Message {
	original := msg.Timestamp.UnixMilli()
	if v, ok := msg.Header(HeaderRetryOriginalTimestamp); ok {
		if t, ok := javaLong(v); ok {
			original = t
		}
	}
	pm := deadLetterRecord(msg, cause, attempts, group, topic, now, fromRetry)
	pm.Headers = slices.DeleteFunc(pm.Headers, func(h kgo.RecordHeader) bool {
		return h.Key == HeaderRetryAttempts || h.Key == HeaderRetryBackoffTimestamp || h.Key == HeaderRetryOriginalTimestamp
	})
	pm.Headers = append(pm.Headers,
		kgo.RecordHeader{Key: HeaderRetryOriginalTimestamp, Value: javaBigInteger(original)},
		kgo.RecordHeader{Key: HeaderRetryAttempts, Value: binary.BigEndian.AppendUint32(nil, uint32(delay+2))},
		kgo.RecordHeader{Key: HeaderRetryBackoffTimestamp, Value: javaBigInteger(due.UnixMilli())},
	)
	return pm
}

// attempts is how many times the handler was called for msg's record in
// all: from a retry topic, the calls its kafkakit-attempts header counts
// (those made before it was written there) plus this topic's. Without a
// header that decodes (a record Spring wrote, or a forged one), each
// earlier delivery counts as one call: one in the subscribed topic and one
// per retry topic before this one.
func (w *partitionWorker) attempts(msg *Message) int {
	if !w.retry {
		return msg.Attempt
	}
	before := w.sub.stages[retryStage(w.sub.stages)].(retryTopics).delayOf(msg.record) + 1
	if v, ok := msg.Header(HeaderAttempts); ok && len(v) <= 6 {
		if n, err := strconv.Atoi(string(v)); err == nil && n >= 0 {
			before = n
		}
	}
	return before + msg.Attempt
}

// retryAttempts reads the last attempts header: 4 bytes, as Spring writes
// it, or 1 byte, as its early versions did.
func retryAttempts(headers []kgo.RecordHeader) (int, bool) {
	for i := len(headers) - 1; i >= 0; i-- {
		if headers[i].Key != HeaderRetryAttempts {
			continue
		}
		switch v := headers[i].Value; len(v) {
		case 4:
			return int(int32(binary.BigEndian.Uint32(v))), true
		case 1:
			return int(v[0]), true
		}
		return 0, false
	}
	return 0, false
}

// javaBigInteger encodes v as Java's BigInteger.toByteArray does.
func javaBigInteger(v int64) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(v))
	// Drop leading bytes that only repeat the sign.
	for len(b) > 1 && ((b[0] == 0 && b[1]&0x80 == 0) || (b[0] == 0xff && b[1]&0x80 != 0)) {
		b = b[1:]
	}
	return b
}

// javaLong decodes a BigInteger.toByteArray of at most 8 bytes, or the
// decimal string Spring's first versions wrote.
func javaLong(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	if len(b) <= 8 {
		var v int64
		if b[0]&0x80 != 0 {
			v = -1
		}
		for _, c := range b {
			v = v<<8 | int64(c)
		}
		return v, true
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	return v, err == nil
}

// awaitDue waits until the retry record r, read from the retry topic of
// a delay, is due, holding back only its partition (and, behind it, the
// partition's queue, which stops fetching when full). The backoff header
// is only believed up to delay after the record's timestamp, and the wait
// is never longer than delay: a forged or garbled header, or a timestamp
// in the future, costs at most one delay. It reports false if the worker
// stopped first.
func (w *partitionWorker) awaitDue(r *kgo.Record, delay time.Duration) bool {
	due := r.Timestamp.Add(delay)
	for i := len(r.Headers) - 1; i >= 0; i-- {
		if r.Headers[i].Key != HeaderRetryBackoffTimestamp {
			continue
		}
		if ms, ok := javaLong(r.Headers[i].Value); ok && ms < due.UnixMilli() {
			due = time.UnixMilli(ms)
		}
		break
	}
	if d := min(time.Until(due), delay); d > 0 {
		return w.waitRetry(d)
	}
	return true
}
