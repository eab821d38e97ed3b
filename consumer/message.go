package consumer

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Header is a record header.
type Header = kgo.RecordHeader

// Message is a consumed record. It and its byte slices are the handler's
// only until Handle returns: the consumer reuses them. Copy what you keep.
type Message struct {
	Topic     string
	Partition int32
	Offset    int64
	// Key is nil for a null key.
	Key []byte
	// Value is nil for a null value (a tombstone).
	Value     []byte
	Headers   []Header
	Timestamp time.Time
	// Attempt counts deliveries of this message to the handler in this
	// process, starting at 1.
	Attempt int

	record *kgo.Record
}

// fill makes m attempt number attempt of r. The headers' capacity is cut
// to their length, so that a handler appending to them cannot write into
// the record.
func (m *Message) fill(r *kgo.Record, attempt int) {
	*m = Message{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value,
		Headers: r.Headers[:len(r.Headers):len(r.Headers)], Timestamp: r.Timestamp, Attempt: attempt, record: r}
}

// Header returns the value of the last header named key, as Kafka clients
// conventionally read headers, and whether there was one.
func (m *Message) Header(key string) ([]byte, bool) {
	for i := len(m.Headers) - 1; i >= 0; i-- {
		if m.Headers[i].Key == key {
			return m.Headers[i].Value, true
		}
	}
	return nil, false
}

// Record returns the franz-go record underneath, for what Message does not
// carry (leader epoch, producer ID, attributes). Do not modify it.
func (m *Message) Record() *kgo.Record { return m.record }
