package queue

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/internal/logattr"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DeadLetterSender writes dead letters; *producer.Producer implements it.
type DeadLetterSender interface {
	Send(ctx context.Context, msg producer.Message) (producer.Result, error)
}

var _ DeadLetterSender = (*producer.Producer)(nil)

// errRejected is the cause a rejected record's dead letter names.
var errRejected = errors.New("queue: rejected by its client (outcome reject)")

// deadLetter writes the dead letter of each rejected record of pending,
// before the broker is told: a record whose dead letter could not be
// written is not rejected (its lease stands, and its result says why),
// and is left out of what is returned.
func (h *Handler) deadLetter(ctx context.Context, m *member, pending []pendingAck, results []ackResult) []pendingAck {
	if h.opts.deadLetters == nil {
		return pending
	}
	kept := pending[:0]
	var failed []pendingAck
	for _, p := range pending {
		if p.outcome != kgo.AckReject {
			kept = append(kept, p)
			continue
		}
		if err := h.writeDeadLetter(ctx, m, p); err != nil {
			results[p.idx] = fail(&apicontract.Error{Status: http.StatusBadGateway, Code: apicontract.CodeBrokerError,
				Message: "the dead letter could not be written to " + p.r.topic + h.opts.dlqSuffix + ": " + err.Error() +
					"; the record was not rejected and its lease stands"})
			failed = append(failed, p)
			continue
		}
		kept = append(kept, p)
	}
	h.unclaim(m, failed)
	return kept
}

// writeDeadLetter writes p's record to its topic's dead-letter topic, as
// the consumers do (Spring's headers), on its partition when the
// dead-letter topic has it.
func (h *Handler) writeDeadLetter(ctx context.Context, m *member, p pendingAck) error {
	rec := p.l.rec
	msg := consumer.Message{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Key: rec.Key, Value: rec.Value,
		Headers: rec.Headers, Timestamp: rec.Timestamp, Attempt: int(p.l.deliveryCount)}
	dl := consumer.DeadLetter(&msg, errRejected, int(p.l.deliveryCount), m.group, rec.Topic+h.opts.dlqSuffix, time.Now())
	ctx, cancel := context.WithTimeout(ctx, h.opts.requestTimeout)
	defer cancel()
	res, err := h.opts.deadLetters.Send(ctx, dl)
	if errors.Is(err, producer.ErrInvalidPartition) {
		dl.Partition = nil // the dead-letter topic has fewer partitions: let the key choose
		res, err = h.opts.deadLetters.Send(ctx, dl)
	}
	if err != nil {
		return err
	}
	h.logger.LogAttrs(ctx, slog.LevelWarn, "message dead-lettered", logattr.Group(m.group), logattr.Topic(rec.Topic),
		logattr.Partition(rec.Partition), logattr.Offset(rec.Offset), slog.String("dead_letter_topic", res.Topic),
		slog.Int64("dead_letter_offset", res.Offset), logattr.Err(errRejected))
	return nil
}
