package consumer

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kafkakit/kafkakit/internal/backoff"
	"github.com/kafkakit/kafkakit/internal/logattr"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Renewal pacing: a held record's lock is renewed every half of the lock
// it was fetched with, checked a few times per period, within bounds.
const (
	minRenewEvery = 20 * time.Millisecond
	maxRenewTick  = time.Second
	defaultLock   = 30 * time.Second
)

// shareRecord is one record of a fetch being handled. Its goroutine
// answers it and then sets done; renewAt and every belong to the
// goroutine that renews (Run's).
type shareRecord struct {
	r          *kgo.Record
	sub        *shareSub
	deliveries int // the delivery that is the record's last
	done       atomic.Bool
	renewAt    time.Time
	every      time.Duration
}

// handleFetch handles one fetch's records, each in its goroutine, and
// returns when every one is answered, renewing the locks of those that
// take long. When ctx ends, handlers get the shutdown timeout to finish;
// then their contexts are cancelled, and a handler that still has not
// returned a second later is given up on: its record is released when
// the group is left.
func (c *ShareConsumer) handleFetch(ctx, handlerCtx context.Context, cl *kgo.Client, recs []*kgo.Record) {
	hctx, cancel := context.WithCancel(handlerCtx)
	defer cancel()
	now := time.Now()
	c.mu.Lock()
	limit := c.limit
	batch := make([]*shareRecord, 0, len(recs))
	for _, r := range recs {
		sub := c.subs[r.Topic]
		if sub == nil {
			r.Ack(kgo.AckRelease) // not ours to handle; unanswered, the next poll would accept it
			continue
		}
		every := max(r.AcquisitionDeadline().Sub(now)/2, minRenewEvery)
		if r.AcquisitionDeadline().IsZero() {
			every = defaultLock / 2 // the broker did not say: Apache Kafka's default
		}
		batch = append(batch, &shareRecord{r: r, sub: sub, deliveries: min(sub.retries+1, limit), renewAt: now.Add(every), every: every})
		c.inFlight[topicPartition{r.Topic, r.Partition}]++
	}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, sr := range batch {
		wg.Go(func() {
			status := c.process(hctx, sr)
			sr.r.Ack(status)
			sr.done.Store(true)
			c.mu.Lock()
			tp := topicPartition{sr.r.Topic, sr.r.Partition}
			if c.inFlight[tp]--; c.inFlight[tp] <= 0 {
				delete(c.inFlight, tp)
			}
			c.mu.Unlock()
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	c.awaitFetch(ctx, cl, batch, done, cancel)
}

// awaitFetch waits for done, renewing due locks meanwhile, and bounds the
// wait once ctx ends, as handleFetch says.
func (c *ShareConsumer) awaitFetch(ctx context.Context, cl *kgo.Client, batch []*shareRecord, done <-chan struct{}, cancel context.CancelFunc) {
	tick := maxRenewTick
	for _, sr := range batch {
		tick = min(tick, max(sr.every/4, minRenewEvery/4))
	}
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	stopping := ctx.Done()
	var grace, abandon <-chan time.Time
	for {
		select {
		case <-done:
			return
		case <-ticker.C:
			c.renewDue(cl, batch)
		case <-stopping:
			stopping = nil
			grace = time.After(c.cfg.ShutdownTimeout)
		case <-grace:
			cancel()
			abandon = time.After(abandonWait)
		case <-abandon:
			c.logger.LogAttrs(context.Background(), slog.LevelError,
				"handlers did not return after their context was cancelled; giving up on them, their records are released when the group is left")
			return
		}
	}
}

// renewDue renews the locks of the records due for it and sends the
// renewals at once.
func (c *ShareConsumer) renewDue(cl *kgo.Client, batch []*shareRecord) {
	now := time.Now()
	renewed := 0
	for _, sr := range batch {
		if sr.done.Load() || now.Before(sr.renewAt) {
			continue
		}
		sr.r.Ack(kgo.AckRenew) // a no-op once answered, or while a renewal is in flight
		sr.renewAt = now.Add(sr.every)
		renewed++
	}
	if renewed == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.RequestTimeout)
	defer cancel()
	if err := cl.FlushAcks(ctx); err != nil {
		c.setErr(err)
		c.logger.LogAttrs(ctx, slog.LevelWarn, "lock renewals not sent in time; a record may be delivered to another member",
			slog.Int("records", renewed), logattr.Err(err))
	}
}

// process calls the handler for sr's record and returns the answer for
// the broker, dead-lettering the record first when that is the answer.
func (c *ShareConsumer) process(ctx context.Context, sr *shareRecord) kgo.AckStatus {
	obs := c.opts.observer
	var msg Message
	msg.fill(sr.r, int(sr.r.DeliveryCount()))
	err := invokeHandler(ctx, sr.sub.handler, &msg, obs, obs != Observer(noObserver{}), c.logger)
	msg.fill(sr.r, int(sr.r.DeliveryCount())) // the record as it came, whatever the handler changed
	if err == nil {
		obs.Attempted(msg.Topic, OutcomeOK)
		return kgo.AckAccept
	}
	attrs := []slog.Attr{logattr.Topic(msg.Topic), logattr.Partition(msg.Partition), logattr.Offset(msg.Offset),
		logattr.Key(msg.Key), logattr.Attempt(msg.Attempt), logattr.Err(err)}
	switch {
	case IsSkip(err):
		c.logger.LogAttrs(ctx, slog.LevelWarn, "handler skipped the message; accepting it without a dead letter", attrs...)
		obs.Attempted(msg.Topic, OutcomeSkipped)
		return kgo.AckAccept
	case ctx.Err() != nil:
		c.logger.LogAttrs(ctx, slog.LevelWarn, "handler cut off by shutdown; releasing the record for redelivery", attrs...)
		obs.Attempted(msg.Topic, OutcomeRetried)
		return kgo.AckRelease
	case !IsPermanent(err) && msg.Attempt < sr.deliveries:
		c.logger.LogAttrs(ctx, slog.LevelWarn, "handler failed; releasing the record for redelivery", attrs...)
		obs.Attempted(msg.Topic, OutcomeRetried)
		return kgo.AckRelease
	}
	return c.dispose(ctx, sr.sub, &msg, err)
}

// dispose takes a record that failed for good out of the group: to the
// dead-letter topic, then accepted; with dead letters off, logged whole
// and rejected. A dead letter not written before the handlers are cut off
// at shutdown is logged whole and the record released.
func (c *ShareConsumer) dispose(ctx context.Context, sub *shareSub, msg *Message, cause error) kgo.AckStatus {
	obs := c.opts.observer
	if sub.deadLetterTopic == "" {
		attrs := append(recordAttrs(msg), logattr.Topic(msg.Topic), logattr.Partition(msg.Partition), logattr.Attempt(msg.Attempt), logattr.Err(cause))
		c.logger.LogAttrs(ctx, slog.LevelError, "handler failed for good and dead letters are off; rejecting the record", attrs...)
		obs.Attempted(msg.Topic, OutcomeSkipped)
		return kgo.AckReject
	}
	if c.deadLetter(ctx, sub, msg, cause) {
		obs.Attempted(msg.Topic, OutcomeDeadLettered)
		return kgo.AckAccept
	}
	attrs := append(recordAttrs(msg), logattr.Topic(msg.Topic), logattr.Partition(msg.Partition), logattr.Attempt(msg.Attempt), logattr.Err(cause))
	c.logger.LogAttrs(context.Background(), slog.LevelError, "dead-letter write cut off by shutdown; releasing the record", attrs...)
	obs.Attempted(msg.Topic, OutcomeRetried)
	return kgo.AckRelease
}

// deadLetter writes msg to sub's dead-letter topic, retrying with the
// configuration's backoff until the broker acknowledges it, keeping the
// partition when the topic has it; false means ctx ended first.
func (c *ShareConsumer) deadLetter(ctx context.Context, sub *shareSub, msg *Message, cause error) bool {
	keepPartition := true
	for try := 1; ; try++ {
		dl := DeadLetter(msg, cause, msg.Attempt, c.group, sub.deadLetterTopic, time.Now())
		if !keepPartition {
			dl.Partition = nil
		}
		sctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
		res, err := c.deadLetters.Send(sctx, dl)
		cancel()
		if err == nil {
			c.logger.LogAttrs(ctx, slog.LevelWarn, "message dead-lettered",
				logattr.Topic(msg.Topic), logattr.Partition(msg.Partition), logattr.Offset(msg.Offset), logattr.Key(msg.Key),
				logattr.Attempt(msg.Attempt), slog.String("dead_letter_topic", res.Topic), slog.Int64("dead_letter_offset", res.Offset),
				logattr.Err(cause))
			return true
		}
		if keepPartition && errors.Is(err, producer.ErrInvalidPartition) {
			keepPartition = false
			continue
		}
		c.setErr(err)
		c.opts.observer.DeadLetterFailed(msg.Topic)
		c.logger.LogAttrs(ctx, slog.LevelError, "dead-letter write failed; retrying, with the record's lock renewed",
			logattr.Offset(msg.Offset), slog.String("dead_letter_topic", dl.Topic), slog.Int("try", try), logattr.Err(err))
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff.Exponential(c.cfg.HandlerRetryBackoff, c.cfg.HandlerRetryMaxBackoff, try)):
		}
	}
}
