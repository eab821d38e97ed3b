package producer

import (
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

var (
	// ErrClosed is the error of a send on a closed Producer.
	ErrClosed = errors.New("producer: closed")
	// ErrNoTopic is the error of a message without a topic.
	ErrNoTopic = errors.New("producer: message has no topic")
	// ErrInvalidPartition is the error of a message sent to a partition
	// its topic does not have.
	ErrInvalidPartition = errors.New("producer: invalid partition")
	// ErrBufferFull is the error of a send refused because the producer
	// holds its limit of unacknowledged messages; see NonBlocking. It
	// wraps franz-go's kgo.ErrMaxBuffered.
	ErrBufferFull = fmt.Errorf("producer: buffer full: %w", kgo.ErrMaxBuffered)
)

// SendError is why a message was not delivered. Err is the cause: a
// *kerr.Error from the broker (check it with errors.Is against the kerr
// values, or kerr.IsRetriable), a context error, ErrInvalidPartition,
// ErrClosed, or a connection error.
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

// newSendError wraps err, recognising franz-go's rejection of an explicit
// partition the topic does not have, which it reports only as text.
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
	if partition >= 0 && strings.Contains(err.Error(), "invalid record partitioning choice") {
		err = fmt.Errorf("%w: topic %q has no partition %d", ErrInvalidPartition, topic, partition)
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
