package producer

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/kafkakit/kafkakit/internal/logattr"
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// outgoing is a record and what its answer needs, in one allocation per
// message, as raw franz-go needs. It is also the record's Context: the
// promise finds the message's state from the record by a type assertion on
// that field, with no closure to allocate. As a context it carries the
// caller's values (a trace span, for franz-go's hooks and a caller's
// partitioner) but never the caller's cancellation (see deliveryDeadlines),
// like context.WithoutCancel, and it lets go of the caller's context with
// the record.
type outgoing struct {
	rec       kgo.Record
	values    context.Context // the caller's, for Value only
	p         *Producer
	done      func(Result)
	partition int32 // as asked, -1 for the partitioner's choice
	// partitions is set by the partitioner when the asked partition is
	// not one of the topic's: the topic's partition count.
	partitions int32
}

// outgoingKey finds an outgoing in a context derived from it: hooks such
// as kotel's replace a record's Context with a child of it.
type outgoingKey struct{}

func (o *outgoing) Deadline() (time.Time, bool) { return time.Time{}, false }
func (o *outgoing) Done() <-chan struct{}       { return nil }
func (o *outgoing) Err() error                  { return nil }

func (o *outgoing) Value(key any) any {
	if key == (outgoingKey{}) {
		return o
	}
	if o.values == nil {
		return nil
	}
	return o.values.Value(key)
}

// outgoingOf returns the state of a record this package sent, or nil.
func outgoingOf(r *kgo.Record) *outgoing {
	if o, ok := r.Context.(*outgoing); ok {
		return o
	}
	if r.Context == nil {
		return nil
	}
	o, _ := r.Context.Value(outgoingKey{}).(*outgoing)
	return o
}

// answer is the promise of every record a Producer sends when nothing but
// this package touches records' contexts.
func answer(r *kgo.Record, err error) { outgoingOf(r).answer(err) }

// answer reports the record's outcome and signals room in the buffer.
func (o *outgoing) answer(err error) {
	r := &o.rec
	if err != nil {
		o.done(Result{Topic: r.Topic, Partition: o.partition, Offset: -1, Err: newSendError(r.Topic, o.partition, o.classify(err))})
	} else {
		o.done(Result{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp})
	}
	o.p.room.signal()
}

// classify turns franz-go's refusals that it reports without a type into
// this package's typed errors.
func (o *outgoing) classify(err error) error {
	switch {
	case isMissingTopic(err) && o.p.forgetter != nil:
		o.p.forgetter.forget(o.rec.Topic)
		return err
	case o.partitions > 0:
		return &InvalidPartitionError{Topic: o.rec.Topic, Partition: o.partition, Partitions: o.partitions}
	case errors.Is(err, kerr.MessageTooLarge) && o.p.batchLimit != nil:
		// franz-go refuses a record that does not fit in an empty batch
		// with the broker's code; a record that fits cannot have been
		// refused by the client.
		limit := int(o.p.batchLimit(o.rec.Topic))
		if size := recordBatchSize(&o.rec); size+batchSlack > limit {
			tl := &RecordTooLargeError{Size: size, Limit: limit, Err: err}
			o.p.logger.LogAttrs(context.Background(), slog.LevelWarn, "record refused: over the producer's batch limit",
				logattr.Topic(o.rec.Topic), slog.Int("size", size), slog.Int("limit", limit), logattr.Err(err))
			return tl
		}
	}
	return o.p.diagnose(err)
}

// recordBatchOverhead is the size of a record batch (magic 2) holding no
// records, and batchSlack the most the request's framing of it can add,
// as franz-go counts them.
const (
	recordBatchOverhead = 61
	batchSlack          = 5
)

// recordBatchSize is the size of a batch holding only r, as franz-go
// counts it against the batch limit (KAFKA_BATCH_SIZE).
func recordBatchSize(r *kgo.Record) int {
	l := 1 + 1 + 1 + // attributes, timestamp delta, offset delta
		kbin.VarintLen(int32(len(r.Key))) + len(r.Key) +
		kbin.VarintLen(int32(len(r.Value))) + len(r.Value) +
		kbin.VarintLen(int32(len(r.Headers)))
	for _, h := range r.Headers {
		l += kbin.VarintLen(int32(len(h.Key))) + len(h.Key) + kbin.VarintLen(int32(len(h.Value))) + len(h.Value)
	}
	return recordBatchOverhead + kbin.VarintLen(int32(l)) + l
}

// roomSignal tells senders waiting outside the client for room in its
// buffer that a record has been answered, so that room may have been
// made. Each answer admits at most one waiter; an answer with nobody
// waiting costs one atomic load.
type roomSignal struct {
	waiting atomic.Int32
	ch      chan struct{}
}

func newRoomSignal() *roomSignal { return &roomSignal{ch: make(chan struct{}, 1)} }

func (s *roomSignal) signal() {
	if s.waiting.Load() == 0 {
		return
	}
	select {
	case s.ch <- struct{}{}:
	default: // a waiter is already admitted
	}
}
