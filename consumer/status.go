package consumer

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/kafkakit/kafkakit/internal/logattr"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Status is a consumer's state, for operators: what it owns, how far it
// has committed, and how far behind it is.
type Status struct {
	Group string `json:"group"`
	// Ready is true once the consumer joined its group.
	Ready bool `json:"ready"`
	// LastError is the last error met while running (fetch, commit,
	// dead-letter write), cleared when the group next assigns partitions.
	LastError     string               `json:"last_error,omitempty"`
	Subscriptions []SubscriptionStatus `json:"subscriptions"`
}

// SubscriptionStatus is one subscribed topic's state.
type SubscriptionStatus struct {
	Topic           string `json:"topic"`
	DeadLetterTopic string `json:"dead_letter_topic,omitempty"`
	// Concurrency is how many messages of one partition may be handled at
	// once (KeyConcurrency); 1 is one at a time, in order.
	Concurrency int `json:"concurrency"`
	// Partitions are those assigned to this member, in order.
	Partitions []PartitionStatus `json:"partitions"`
}

// PartitionStatus is one assigned partition's position.
type PartitionStatus struct {
	Partition int32 `json:"partition"`
	// Committed is the next offset the group will consume, -1 before the
	// group's first commit.
	Committed int64 `json:"committed"`
	// HighWatermark is the offset after the partition's last message as
	// last seen, -1 before it was seen.
	HighWatermark int64 `json:"high_watermark"`
	// Lag is HighWatermark minus Committed: messages not yet handled (or
	// handled and not yet committed). It is 0 for an empty partition, which
	// has no commit, and -1 when either side is unknown otherwise.
	Lag int64 `json:"lag"`
	// InFlight is how many of the partition's messages are being handled
	// now, waits between retries included: at most the subscription's
	// Concurrency. With more than one, a message that does not finish
	// shows here while the others flow past it.
	InFlight int `json:"in_flight"`
}

// Status returns the consumer's state. It asks nothing of the brokers.
func (c *Consumer) Status() Status {
	st := Status{Group: c.group, Ready: c.Ready()}
	if err := c.Err(); err != nil {
		st.LastError = err.Error()
	}
	c.mu.Lock()
	cl := c.client
	assigned := make(map[string][]int32)
	inFlight := make(map[topicPartition]int, len(c.workers))
	for tp, w := range c.workers {
		assigned[tp.topic] = append(assigned[tp.topic], tp.partition)
		inFlight[tp] = int(w.inFlight.Load())
	}
	hwm := make(map[topicPartition]int64, len(c.hwm))
	for tp, v := range c.hwm {
		hwm[tp] = v
	}
	subs := make([]*subscription, 0, len(c.subs))
	for _, s := range c.subs {
		subs = append(subs, s)
	}
	c.mu.Unlock()

	var committed map[string]map[int32]kgo.EpochOffset
	if cl != nil {
		committed = cl.CommittedOffsets()
	}
	slices.SortFunc(subs, func(a, b *subscription) int { return strings.Compare(a.topic, b.topic) })
	for _, s := range subs {
		ss := SubscriptionStatus{Topic: s.topic, DeadLetterTopic: s.deadLetterTopic, Concurrency: s.concurrency, Partitions: []PartitionStatus{}}
		parts := assigned[s.topic]
		slices.Sort(parts)
		for _, p := range parts {
			ps := PartitionStatus{Partition: p, Committed: -1, HighWatermark: -1, Lag: -1, InFlight: inFlight[topicPartition{s.topic, p}]}
			if eo, ok := committed[s.topic][p]; ok && eo.Offset >= 0 {
				ps.Committed = eo.Offset
			}
			if v, ok := hwm[topicPartition{s.topic, p}]; ok {
				ps.HighWatermark = v
			}
			switch {
			case ps.Committed >= 0 && ps.HighWatermark >= 0:
				ps.Lag = max(ps.HighWatermark-ps.Committed, 0)
			case ps.HighWatermark == 0:
				ps.Lag = 0 // an empty partition: nothing to handle, so nothing committed yet
			}
			ss.Partitions = append(ss.Partitions, ps)
		}
		st.Subscriptions = append(st.Subscriptions, ss)
	}
	return st
}

// handle is process, counted in the partition's InFlight while it runs.
func (w *partitionWorker) handle(r *kgo.Record, msg *Message) bool {
	w.inFlight.Add(1)
	defer w.inFlight.Add(-1)
	return w.process(r, msg)
}

// noteHighWatermark records a partition's high watermark seen in a fetch.
func (c *Consumer) noteHighWatermark(topic string, partition int32, hwm int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tp := topicPartition{topic, partition}
	// Absent is unknown; 0 is an empty partition and must be kept.
	if old, ok := c.hwm[tp]; !ok || hwm > old {
		c.hwm[tp] = hwm
	}
}

// refreshHighWatermarks asks the brokers for the end offsets of the
// subscribed topics every interval until ctx ends: fetches report high
// watermarks only while data flows, and a paused partition is not fetched.
func (c *Consumer) refreshHighWatermarks(ctx context.Context, cl *kgo.Client, interval time.Duration) {
	adm := kadm.NewClient(cl)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.refreshHWM:
		}
		rctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
		ends, err := adm.ListEndOffsets(rctx, c.Topics()...)
		cancel()
		if err != nil {
			c.logger.LogAttrs(ctx, slog.LevelDebug, "refreshing high watermarks failed", logattr.Err(err))
			continue
		}
		ends.Each(func(o kadm.ListedOffset) {
			if o.Err == nil {
				c.noteHighWatermark(o.Topic, o.Partition, o.Offset)
			}
		})
	}
}
