package producer

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The causes a *SendError may carry. They reach callers inside a
// SendError, whose text names the package, so their own text does not.
var (
	// ErrClosed is the error of a send on a closed Producer.
	ErrClosed = errors.New("closed")
	// ErrNoTopic is the error of a message without a topic.
	ErrNoTopic = errors.New("message has no topic")
	// ErrInvalidPartition is the error of a message sent to a partition
	// its topic does not have; the cause is then an
	// *InvalidPartitionError when the topic's partitions are known.
	ErrInvalidPartition = errors.New("invalid partition")
	// ErrBufferFull is the error of a send refused because the producer
	// holds its limit of unacknowledged messages; see NonBlocking. It
	// wraps franz-go's kgo.ErrMaxBuffered.
	ErrBufferFull = fmt.Errorf("buffer full: %w", kgo.ErrMaxBuffered)
)

// InvalidPartitionError is the error of a message sent to a partition its
// topic does not have. It matches ErrInvalidPartition with errors.Is.
type InvalidPartitionError struct {
	Topic      string
	Partition  int32
	Partitions int32 // how many the topic has
}

func (e *InvalidPartitionError) Error() string {
	return fmt.Sprintf("invalid partition: topic %q has no partition %d (it has %d)", e.Topic, e.Partition, e.Partitions)
}

func (e *InvalidPartitionError) Is(target error) bool { return target == ErrInvalidPartition }

// RecordTooLargeError is the error of a message that does not fit in one
// produce batch of the producer's own limit (KAFKA_BATCH_SIZE, franz-go's
// ProducerBatchMaxBytes): the client refused it before any broker saw it.
// Size counts the record as batched, key, value, headers and framing.
// Err is the client's refusal, which wraps kerr.MessageTooLarge.
type RecordTooLargeError struct {
	Size, Limit int
	Err         error
}

func (e *RecordTooLargeError) Error() string {
	return fmt.Sprintf("record of %s bytes is over the producer's batch limit of %s bytes (KAFKA_BATCH_SIZE)", thousands(e.Size), thousands(e.Limit))
}

func (e *RecordTooLargeError) Unwrap() error { return e.Err }

// thousands writes n with commas between groups of three digits.
func thousands(n int) string {
	if n < 0 {
		return "-" + thousands(-n)
	}
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// SendError is why a message was not delivered. Err is the cause: a
// *kerr.Error from the broker (check it with errors.Is against the kerr
// values, or kerr.IsRetriable), a context error, an
// *InvalidPartitionError, a *RecordTooLargeError, an *UnavailableError,
// ErrClosed, or a connection error (a *config.ConnectionError when its
// cause is recognised).
type SendError struct {
	Topic     string
	Partition int32 // -1 when the partitioner had not chosen one
	Err       error
}

func (e *SendError) Error() string {
	if e.Partition >= 0 {
		return fmt.Sprintf("producer: send to %q partition %d: %v", e.Topic, e.Partition, e.Err)
	}
	return fmt.Sprintf("producer: send to %q: %v", e.Topic, e.Err)
}

func (e *SendError) Unwrap() error { return e.Err }

// newSendError wraps err, with franz-go's own errors turned into this
// package's.
func newSendError(topic string, partition int32, err error) *SendError {
	var se *SendError
	if errors.As(err, &se) {
		return se
	}
	switch {
	case errors.Is(err, kgo.ErrMaxBuffered) && !errors.Is(err, ErrBufferFull):
		err = ErrBufferFull
	case errors.Is(err, kgo.ErrClientClosed):
		err = ErrClosed // Close failed what it could not deliver
	}
	return &SendError{Topic: topic, Partition: partition, Err: err}
}

// BatchError reports that some messages of a batch were not delivered; the
// per-message Results say which and why.
type BatchError struct {
	Failed, Total int
	First         error // the first failure, in message order
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("producer: %d of %d messages not delivered, first: %v", e.Failed, e.Total, e.First)
}

func (e *BatchError) Unwrap() error { return e.First }
