package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/internal/env"
	"github.com/kafkakit/kafkakit/internal/logattr"
	"github.com/kafkakit/kafkakit/internal/owntopics"
)

// The consumer modes KAFKA_CONSUMER_MODE accepts.
const (
	ModeGroup = "group"
	ModeShare = "share"
)

// readConsumerMode reads KAFKA_CONSUMER_MODE. Share mode has the broker
// redeliver failed records, so retry topics, which need a consumer
// group's partition ownership, do not go with it.
func readConsumerMode(p *env.Parser, c *Config) {
	c.ConsumerMode = p.Enum("KAFKA_CONSUMER_MODE", ModeGroup, ModeGroup, ModeShare)
	if c.ConsumerMode == ModeShare && c.RetryMode == RetryTopics {
		p.Fail("KAFKA_HANDLER_RETRY_MODE", c.RetryMode,
			"cannot be topics with KAFKA_CONSUMER_MODE=share: a share group's broker redelivers failed records itself; use blocking (the default)")
	}
}

// newShareConsumer is newConsumer's share mode: one share group, named
// KAFKA_GROUP_ID, handling up to KAFKA_HANDLER_CONCURRENCY records at
// once.
func newShareConsumer(cfg Config, opts []consumer.Option, h consumer.Handler) (*consumer.ShareConsumer, error) {
	opts = append(opts, consumer.ShareConcurrency(cfg.HandlerConcurrency))
	if cfg.FromBeginning {
		opts = append(opts, consumer.ShareFromBeginning())
	}
	c, err := consumer.NewShare(cfg.Kafka, opts...)
	if err != nil {
		return nil, err
	}
	for _, topic := range cfg.ConsumerTopics {
		if err := c.Subscribe(topic, h); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// startShareConsumer runs the share consumer. A cluster that answers
// that it has no share groups stops start-up with an error naming what
// it lacks; one that cannot be asked is logged, and the consumer asks
// again until it can. Stopping lets its handlers finish, sends their
// answers and leaves the group.
func (s *server) startShareConsumer(ctx context.Context, cons *consumer.ShareConsumer, transport *http.Transport) (stopFunc, error) {
	pctx, cancel := context.WithTimeout(ctx, s.cfg.Kafka.ConnectionTimeout+s.cfg.Kafka.RequestTimeout)
	err := cons.Prepare(pctx)
	cancel()
	switch {
	case errors.Is(err, consumer.ErrShareGroupsUnsupported):
		cons.Close()
		return nil, fmt.Errorf("KAFKA_CONSUMER_MODE=share: %w", err)
	case owntopics.IsTopicError(err):
		cons.Close()
		return nil, err
	case err != nil:
		s.logger.LogAttrs(ctx, slog.LevelWarn, "cannot ask the cluster about the share group yet; asked again on connecting",
			logattr.Err(s.cfg.Kafka.Diagnose(err)))
	}
	s.share = cons
	return s.runConsumer(cons.Run, cons.Close, transport), nil
}

// shareInFlight is the records the share consumer is handling for group,
// for the admin API; nil for another group or without one.
func (s *server) shareInFlight(group string) map[string]map[int32]int {
	if s.share == nil || s.share.Group() != group {
		return nil
	}
	return s.share.InFlight()
}
