package consumer

import (
	"context"
	"log/slog"
	"maps"
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
	// RetryTopics are the subscription's retry topics (RetryTopics), in
	// order, with their partitions assigned to this member.
	RetryTopics []RetryTopicStatus `json:"retry_topics,omitempty"`
	// ParkedKeys is how many keys have records in the retry path of the
	// partitions this member owns: their later records wait for them.
	ParkedKeys int `json:"parked_keys"`
	// OldestRetryAge is how long the oldest record fetched from this
	// member's retry partitions and not yet finished has been in its retry
	// topic (since it was written there), in seconds; 0 when none is
	// pending. Waiting for its delay or for an earlier record of its key
	// counts.
	OldestRetryAgeSeconds float64 `json:"oldest_retry_age_seconds"`
	// StuckRecords are the retry records of this member that have waited
	// for an older record of their key longer than ten times the longest
	// retry delay after they were written, oldest first; each is logged at
	// warn level once a minute while it waits. None in a healthy group.
	StuckRecords []StuckRecord `json:"stuck_records,omitempty"`
}

// StuckRecord is a retry record that waits for an older record of its key
// past the stuck bound (see SubscriptionStatus.StuckRecords).
type StuckRecord struct {
	Topic     string `json:"topic"` // its retry topic
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Key       string `json:"key"`
	// OriginalOffset is its offset in the subscribed topic; WaitsFor is
	// that of the record of its key it waits for.
	OriginalOffset int64 `json:"original_offset"`
	WaitsFor       int64 `json:"waits_for_original_offset"`
	// Since is when it was written to its retry topic.
	Since      time.Time `json:"since"`
	AgeSeconds float64   `json:"age_seconds"`
}

// RetryTopicStatus is one retry topic's state.
type RetryTopicStatus struct {
	Topic string `json:"topic"`
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
	snap := c.snapshot()
	var committed map[string]map[int32]kgo.EpochOffset
	if snap.client != nil {
		committed = snap.client.CommittedOffsets()
	}
	partitions := func(topic string) []PartitionStatus {
		out := []PartitionStatus{}
		parts := snap.assigned[topic]
		slices.Sort(parts)
		for _, p := range parts {
			tp := topicPartition{topic, p}
			out = append(out, partitionStatus(tp, committed[topic], snap.hwm, snap.inFlight[tp]))
		}
		return out
	}
	now := time.Now()
	for _, s := range snap.subs {
		ss := SubscriptionStatus{Topic: s.topic, DeadLetterTopic: s.deadLetterTopic, Concurrency: s.concurrency,
			Partitions: partitions(s.topic), ParkedKeys: snap.parkedKeys[s.topic]}
		for _, rt := range retryTopicNames(s.stages) {
			ss.RetryTopics = append(ss.RetryTopics, RetryTopicStatus{Topic: rt, Partitions: partitions(rt)})
		}
		if since, ok := snap.oldestRetry[s.topic]; ok {
			ss.OldestRetryAgeSeconds = max(now.Sub(since), 0).Seconds()
		}
		for _, sr := range snap.stuck[s.topic] {
			sr.AgeSeconds = max(now.Sub(sr.Since), 0).Seconds()
			ss.StuckRecords = append(ss.StuckRecords, sr)
		}
		slices.SortFunc(ss.StuckRecords, func(a, b StuckRecord) int { return a.Since.Compare(b.Since) })
		st.Subscriptions = append(st.Subscriptions, ss)
	}
	return st
}

// statusSnapshot is what Status reads under the consumer's lock.
type statusSnapshot struct {
	client      *kgo.Client
	assigned    map[string][]int32
	inFlight    map[topicPartition]int
	hwm         map[topicPartition]int64
	subs        []*subscription // by topic
	parkedKeys  map[string]int  // per subscribed topic
	oldestRetry map[string]time.Time
	stuck       map[string][]StuckRecord // per subscribed topic
}

func (c *Consumer) snapshot() statusSnapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	snap := statusSnapshot{
		client:      c.client,
		assigned:    make(map[string][]int32),
		inFlight:    make(map[topicPartition]int, len(c.workers)),
		hwm:         maps.Clone(c.hwm),
		subs:        slices.SortedFunc(maps.Values(c.subs), func(a, b *subscription) int { return strings.Compare(a.topic, b.topic) }),
		parkedKeys:  make(map[string]int),
		oldestRetry: make(map[string]time.Time),
		stuck:       make(map[string][]StuckRecord),
	}
	for tp, w := range c.workers {
		snap.assigned[tp.topic] = append(snap.assigned[tp.topic], tp.partition)
		snap.inFlight[tp] = int(w.inFlight.Load())
		if !w.retry {
			continue // only retry partitions count in OldestRetryAge
		}
		w.mu.Lock()
		for _, sr := range w.stuckRecs {
			snap.stuck[w.sub.topic] = append(snap.stuck[w.sub.topic], sr)
		}
		w.mu.Unlock()
		if since, ok := w.oldestPending(); ok {
			if old, seen := snap.oldestRetry[w.sub.topic]; !seen || since.Before(old) {
				snap.oldestRetry[w.sub.topic] = since
			}
		}
	}
	for pk, p := range c.parking {
		p.mu.Lock()
		snap.parkedKeys[pk.topic] += len(p.keys)
		p.mu.Unlock()
	}
	return snap
}

func partitionStatus(tp topicPartition, committed map[int32]kgo.EpochOffset, hwm map[topicPartition]int64, inFlight int) PartitionStatus {
	ps := PartitionStatus{Partition: tp.partition, Committed: -1, HighWatermark: -1, Lag: -1, InFlight: inFlight}
	if eo, ok := committed[tp.partition]; ok && eo.Offset >= 0 {
		ps.Committed = eo.Offset
	}
	if v, ok := hwm[tp]; ok {
		ps.HighWatermark = v
	}
	switch {
	case ps.Committed >= 0 && ps.HighWatermark >= 0:
		ps.Lag = max(ps.HighWatermark-ps.Committed, 0)
	case ps.HighWatermark == 0:
		ps.Lag = 0 // an empty partition: nothing to handle, so nothing committed yet
	}
	return ps
}

// oldestPending is the timestamp of the oldest record the worker was
// handed and has not finished: the oldest being handled (with
// KeyConcurrency, several are, and they finish in any order), or else the
// first queued. Records of a partition are written, and so stamped, in
// order.
func (w *partitionWorker) oldestPending() (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.handling) > 0 {
		return time.UnixMilli(slices.Min(w.handling)), true
	}
	if w.head < len(w.queue) {
		return w.queue[w.head].Timestamp, true
	}
	return time.Time{}, false
}

// handle is process, counted in the partition's InFlight while it runs.
// A retry partition's worker also keeps the timestamps of the records
// being handled, for OldestRetryAge.
func (w *partitionWorker) handle(r *kgo.Record, msg *Message, hook parkHook) outcome {
	w.inFlight.Add(1)
	defer w.inFlight.Add(-1)
	if w.retry {
		ms := r.Timestamp.UnixMilli()
		w.mu.Lock()
		w.handling = append(w.handling, ms)
		w.mu.Unlock()
		defer func() {
			w.mu.Lock()
			i := slices.Index(w.handling, ms)
			w.handling = slices.Delete(w.handling, i, i+1)
			w.mu.Unlock()
		}()
	}
	return w.process(r, msg, hook)
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
		ends, err := adm.ListEndOffsets(rctx, c.subscribedTopics()...)
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

// subscribedTopics are the subscribed topics and their retry topics.
func (c *Consumer) subscribedTopics() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Concat(slices.Collect(maps.Keys(c.subs)), slices.Collect(maps.Keys(c.retryTopics)))
}
