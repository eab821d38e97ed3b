package dlq

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/kafkakit/kafkakit/config"
)

// Why a dead letter was not replayed: the Reason of a RefusedError, a
// fixed word fit for a metric's label.
const (
	ReasonNoOriginalTopic = "no_original_topic" // no topic in its headers, and no To
	ReasonInternalTopic   = "internal_topic"    // its destination starts with "__"
	ReasonInvalidTopic    = "invalid_topic"     // its destination is no topic name Kafka accepts
	ReasonNotAllowed      = "not_allowed"       // ReplayOptions.Allow refused its destination
)

// internalPrefix starts the names of Kafka's internal topics
// (__consumer_offsets, __transaction_state) and kafkakit's own
// (__kafkakit_idempotency), which a replay never writes.
const internalPrefix = "__"

// ErrInternalTopic is the cause of a refusal to replay to a topic whose
// name starts with "__": Kafka's internal topics and kafkakit's own.
var ErrInternalTopic = errors.New("kafkakit never replays to an internal topic (a name starting with __)")

// RefusedError says why a dead letter, or a replay's To, was refused.
// Nothing was sent to Topic.
type RefusedError struct {
	// Reason is one of the Reason* constants.
	Reason string
	// Topic is the destination refused; "" for ReasonNoOriginalTopic.
	Topic string
	// Err is the cause.
	Err error
}

func (e *RefusedError) Error() string {
	if e.Topic == "" {
		return e.Err.Error()
	}
	return "topic " + quoteTopic(e.Topic) + ": " + e.Err.Error()
}

func (e *RefusedError) Unwrap() error { return e.Err }

// quoteTopic quotes a topic name for a message, cutting one read from a
// header, which can be of any length, to Kafka's limit of 249 characters.
func quoteTopic(topic string) string {
	const max = 249
	if len(topic) > max {
		return strconv.Quote(topic[:max]) + "..."
	}
	return strconv.Quote(topic)
}

// CheckDestination reports why no replay may write topic, nil when one
// may: a name Kafka does not accept (ReasonInvalidTopic, with
// config.ValidateTopic's message, the send API's check) or an internal
// topic (ReasonInternalTopic). Replay checks every destination with it,
// the parked topic included, whatever ReplayOptions.Allow says.
func CheckDestination(topic string) *RefusedError {
	if err := config.ValidateTopic(topic); err != nil {
		return &RefusedError{Reason: ReasonInvalidTopic, Topic: topic, Err: fmt.Errorf("is not a topic name: %w", err)}
	}
	if strings.HasPrefix(topic, internalPrefix) {
		return &RefusedError{Reason: ReasonInternalTopic, Topic: topic, Err: ErrInternalTopic}
	}
	return nil
}
