package dlq

import (
	"time"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Letter is a dead letter as ReplayOptions.Filter sees it.
type Letter struct {
	Partition int32  // in the dead-letter topic
	Offset    int64  // in the dead-letter topic
	Key       []byte // nil for a null key
	// OriginalTopic is where it came from, "" when its headers do not say.
	OriginalTopic string
	// Exception is the exception's type (kafka_dlt-exception-fqcn, or
	// Kafka Connect's exception class name).
	Exception string
	// ExceptionMessage is the exception's message.
	ExceptionMessage string
	// FailedAt is kafkakit-failed-at, else the dead letter's timestamp.
	FailedAt time.Time
}

// LetterOf reads what a Filter sees from a dead letter's headers, in
// Spring's dialect or Kafka Connect's.
func LetterOf(r *kgo.Record) Letter {
	l := Letter{Partition: r.Partition, Offset: r.Offset, Key: r.Key, FailedAt: r.Timestamp}
	l.OriginalTopic, _ = origin(r)
	l.Exception = firstHeader(r, consumer.HeaderExceptionFQCN, connectPrefix+"exception.class.name")
	l.ExceptionMessage = firstHeader(r, consumer.HeaderExceptionMessage, connectPrefix+"exception.message")
	if at, err := time.Parse(time.RFC3339Nano, firstHeader(r, consumer.HeaderFailedAt)); err == nil {
		l.FailedAt = at
	}
	return l
}

// firstHeader is the last value of the first of keys r has, "" if none.
func firstHeader(r *kgo.Record, keys ...string) string {
	for _, k := range keys {
		if v, ok := headerOf(r, k); ok {
			return string(v)
		}
	}
	return ""
}
