package consumer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kafkakit/kafkakit/internal/backoff"
	"github.com/kafkakit/kafkakit/internal/logattr"
	"github.com/kafkakit/kafkakit/internal/timefmt"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The dead-letter headers. The kafka_dlt-* names and encodings are those
// of Spring for Apache Kafka's DeadLetterPublishingRecoverer, so that
// Spring, and tools built for it, read kafkakit's dead letters as their
// own: strings are UTF-8, the partition a 4-byte and the offset and
// timestamp 8-byte big-endian integers.
const (
	HeaderOriginalTopic         = "kafka_dlt-original-topic"
	HeaderOriginalPartition     = "kafka_dlt-original-partition"
	HeaderOriginalOffset        = "kafka_dlt-original-offset"
	HeaderOriginalTimestamp     = "kafka_dlt-original-timestamp"
	HeaderOriginalTimestampType = "kafka_dlt-original-timestamp-type"
	HeaderOriginalConsumerGroup = "kafka_dlt-original-consumer-group"
	HeaderExceptionFQCN         = "kafka_dlt-exception-fqcn"
	HeaderExceptionCauseFQCN    = "kafka_dlt-exception-cause-fqcn"
	HeaderExceptionMessage      = "kafka_dlt-exception-message"
	HeaderExceptionStacktrace   = "kafka_dlt-exception-stacktrace"

	// HeaderAttempts is how many times the handler was called, as a
	// decimal string: in all, retry topics included.
	HeaderAttempts = "kafkakit-attempts"
	// HeaderFailedAt is when the message was dead-lettered, RFC 3339 with
	// milliseconds, UTC.
	HeaderFailedAt = "kafkakit-failed-at"
)

// Spring's non-blocking retries name the original and exception headers
// of the records they write to retry topics, and to the dead-letter topic
// after them, without "dlt-" (KafkaHeaders.ORIGINAL_TOPIC and so on; the
// consumer group keeps kafka_dlt-original-consumer-group). kafkakit reads
// them as the original of a retry record Spring wrote.
const (
	HeaderSpringRetryOriginalTopic         = "kafka_original-topic"
	HeaderSpringRetryOriginalPartition     = "kafka_original-partition"
	HeaderSpringRetryOriginalOffset        = "kafka_original-offset"
	HeaderSpringRetryOriginalTimestamp     = "kafka_original-timestamp"
	HeaderSpringRetryOriginalTimestampType = "kafka_original-timestamp-type"
)

// springRetryOriginal maps each kafka_dlt-original-* header to its name in
// Spring's retry topics and the length its value must have (0: any but
// empty).
var springRetryOriginal = map[string]struct {
	name string
	size int
}{
	HeaderOriginalTopic:         {HeaderSpringRetryOriginalTopic, 0},
	HeaderOriginalPartition:     {HeaderSpringRetryOriginalPartition, 4},
	HeaderOriginalOffset:        {HeaderSpringRetryOriginalOffset, 8},
	HeaderOriginalTimestamp:     {HeaderSpringRetryOriginalTimestamp, 8},
	HeaderOriginalTimestampType: {HeaderSpringRetryOriginalTimestampType, 0},
}

// springOriginals returns the values of Spring's retry-topic original
// headers in msg, by kafka_dlt-original-* name, or false unless every one
// is there with the length its encoding gives it: a garbled set is not
// passed on, the record's own place is named instead.
func springOriginals(msg *Message) (map[string][]byte, bool) {
	out := make(map[string][]byte, len(springRetryOriginal))
	for key, s := range springRetryOriginal {
		v, ok := msg.Header(s.name)
		if !ok || len(v) == 0 || s.size > 0 && len(v) != s.size {
			return nil, false
		}
		out[key] = v
	}
	return out, true
}

// deadLetterPrefix starts every header a dead-lettering adds and a replay
// removes.
const deadLetterPrefix = "kafka_dlt-"

// retryPathPrefixes start the headers a way through retry topics adds:
// retry_topic-* (Spring's and kafkakit's), and Spring's retry-topic names
// of the original and exception headers.
var retryPathPrefixes = []string{"retry_topic-", "kafka_original-", "kafka_exception-", "kafka_key-exception-"}

// exceptionHeaders are replaced, not repeated, when a dead letter is
// dead-lettered again, as Spring's stripPreviousExceptionHeaders does.
var exceptionHeaders = []string{HeaderExceptionFQCN, HeaderExceptionCauseFQCN, HeaderExceptionMessage, HeaderExceptionStacktrace, HeaderAttempts, HeaderFailedAt}

// DeadLetter builds the dead-letter record for msg, which failed with err
// after attempts calls in group: the original key, value and headers, then
// the exception headers, then the kafka_dlt-original-* headers (appended
// after any earlier ones, so the last of each name is the newest, as in
// Spring). The message keeps msg's partition; the caller falls back to the
// partitioner if the dead-letter topic lacks it.
func DeadLetter(msg *Message, err error, attempts int, group, topic string, now time.Time) producer.Message {
	return deadLetterRecord(msg, err, attempts, group, topic, now, false)
}

// deadLetterRecord is DeadLetter, except that with keepOriginal, for a
// message read from a retry topic, a kafka_dlt-original-* header the
// message already carries is kept and not added again: the original is
// then the record of the subscribed topic its first failure came from, as
// Spring's retry topics say (their recoverer's appendOriginalHeaders is
// false), and as replay and Spring's DLT_ORIGINAL_* read it. A retry
// record Spring wrote names that original in its own kafka_original-*
// headers, whose values are then taken when all are well formed.
func deadLetterRecord(msg *Message, err error, attempts int, group, topic string, now time.Time, keepOriginal bool) producer.Message {
	headers := make([]kgo.RecordHeader, 0, len(msg.Headers)+12)
	for _, h := range msg.Headers {
		if !isExceptionHeader(h.Key) {
			headers = append(headers, h)
		}
	}
	message := err.Error()
	headers = append(headers,
		kgo.RecordHeader{Key: HeaderExceptionFQCN, Value: []byte(typeName(err))},
		kgo.RecordHeader{Key: HeaderExceptionCauseFQCN, Value: []byte(typeName(rootCause(err)))},
		kgo.RecordHeader{Key: HeaderExceptionMessage, Value: []byte(message)},
		kgo.RecordHeader{Key: HeaderExceptionStacktrace, Value: []byte(stackTrace(err))},
	)
	var spring map[string][]byte
	fromSpring := false
	if keepOriginal {
		spring, fromSpring = springOriginals(msg)
	}
	for _, h := range originalHeaders(msg, group) {
		if keepOriginal {
			if _, had := msg.Header(h.Key); had {
				continue
			}
			if v, ok := spring[h.Key]; ok && fromSpring {
				h.Value = v
			}
		}
		headers = append(headers, h)
	}
	headers = append(headers,
		kgo.RecordHeader{Key: HeaderAttempts, Value: []byte(strconv.Itoa(attempts))},
		kgo.RecordHeader{Key: HeaderFailedAt, Value: []byte(now.UTC().Format(timefmt.Millis))},
	)
	return producer.Message{
		Topic:     topic,
		Partition: new(msg.Partition),
		Key:       msg.Key,
		Value:     msg.Value,
		Headers:   headers,
	}
}

// originalHeaders are the kafka_dlt-original-* headers that say msg was
// read by group.
func originalHeaders(msg *Message, group string) []kgo.RecordHeader {
	return []kgo.RecordHeader{
		{Key: HeaderOriginalTopic, Value: []byte(msg.Topic)},
		{Key: HeaderOriginalPartition, Value: binary.BigEndian.AppendUint32(nil, uint32(msg.Partition))},
		{Key: HeaderOriginalOffset, Value: binary.BigEndian.AppendUint64(nil, uint64(msg.Offset))},
		{Key: HeaderOriginalTimestamp, Value: binary.BigEndian.AppendUint64(nil, uint64(msg.Timestamp.UnixMilli()))},
		{Key: HeaderOriginalTimestampType, Value: []byte(timestampType(msg))},
		{Key: HeaderOriginalConsumerGroup, Value: []byte(group)},
	}
}

func isExceptionHeader(key string) bool { return slices.Contains(exceptionHeaders, key) }

// IsDeadLetterHeader reports whether a header was added by dead-lettering,
// so that a replay can remove it: kafka_dlt-*, kafkakit-attempts and
// kafkakit-failed-at, and the headers of a retry path, Spring's or
// kafkakit's, before it (retry_topic-*, and Spring's kafka_original-*,
// kafka_exception-* and kafka_key-exception-*).
func IsDeadLetterHeader(key string) bool {
	if strings.HasPrefix(key, deadLetterPrefix) || key == HeaderAttempts || key == HeaderFailedAt {
		return true
	}
	return IsRetryPathHeader(key)
}

// IsRetryPathHeader reports whether a header was added on the way through
// retry topics: retry_topic-*, and the kafka_original-*, kafka_exception-*
// and kafka_key-exception-* headers of Spring's retry topics.
func IsRetryPathHeader(key string) bool {
	return slices.ContainsFunc(retryPathPrefixes, func(p string) bool { return strings.HasPrefix(key, p) })
}

func timestampType(msg *Message) string {
	if msg.record == nil {
		return "CreateTime"
	}
	switch msg.record.Attrs.TimestampType() {
	case 0:
		return "CreateTime"
	case 1:
		return "LogAppendTime"
	}
	return "NoTimestampType"
}

// typeName is the Go counterpart of a Java exception's class name.
func typeName(err error) string {
	var pe *PermanentError
	if errors.As(err, &pe) && pe == err {
		// The marker says nothing of the failure; name what it wraps.
		return typeName(pe.Err)
	}
	return fmt.Sprintf("%T", err)
}

// rootCause follows single-error wrapping to its end.
func rootCause(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// stackTrace is the panic's stack for a panic, else the chain of wrapped
// errors in Java's "Caused by" form, since Go errors carry no stack.
func stackTrace(err error) string {
	var pe *PanicError
	if errors.As(err, &pe) {
		return pe.Error() + "\n" + string(pe.Stack)
	}
	var b strings.Builder
	for e := err; e != nil; e = errors.Unwrap(e) {
		if e != err {
			b.WriteString("Caused by: ")
		}
		fmt.Fprintf(&b, "%s: %s\n", typeName(e), e.Error())
	}
	return b.String()
}

// deadLetter writes msg to the dead-letter topic, retrying until the
// broker acknowledges it, and reports whether it did; false means the
// worker stopped first and the message must be delivered again. Until
// then the partition does not move past the message.
func (w *partitionWorker) deadLetter(msg *Message, cause error, topic string) bool {
	_, ok := w.forward(msg, cause, "dead_letter", func() producer.Message {
		return deadLetterRecord(msg, cause, w.attempts(msg), w.c.group, topic, time.Now(), w.retry)
	})
	return ok
}

// forward writes the record build returns, as deadLetter says, keeping
// msg's partition when the destination has it, and returns where it
// landed. kind names the destination in log lines: dead_letter or retry.
func (w *partitionWorker) forward(msg *Message, cause error, kind string, build func() producer.Message) (producer.Result, bool) {
	done, failed := "message dead-lettered", "dead-letter write failed; the partition waits until it succeeds"
	if kind == "retry" {
		done, failed = "message sent to its retry topic", "retry topic write failed; the partition waits until it succeeds"
	}
	keepPartition := true
	for try := 1; ; try++ {
		dl := build()
		if !keepPartition {
			dl.Partition = nil
		}
		ctx, cancel := context.WithTimeout(w.ctx, w.c.cfg.RequestTimeout)
		res, err := w.c.deadLetters.Send(ctx, dl)
		cancel()
		if err == nil {
			w.logger.LogAttrs(w.ctx, slog.LevelWarn, done,
				logattr.Offset(msg.Offset), logattr.Key(msg.Key), logattr.Attempt(msg.Attempt),
				slog.String(kind+"_topic", res.Topic), slog.Int64(kind+"_offset", res.Offset),
				logattr.Err(cause))
			return res, true
		}
		if keepPartition && errors.Is(err, producer.ErrInvalidPartition) {
			// The destination has fewer partitions: let the key choose,
			// as Spring does.
			keepPartition = false
			continue
		}
		w.c.setErr(err)
		w.c.opts.observer.DeadLetterFailed(msg.Topic)
		w.logger.LogAttrs(w.ctx, slog.LevelError, failed,
			logattr.Offset(msg.Offset), slog.String(kind+"_topic", dl.Topic), slog.Int("try", try), logattr.Err(err))
		if !w.waitRetry(backoff.Exponential(w.sub.backoff, w.sub.maxBackoff, try)) {
			return producer.Result{}, false
		}
	}
}
