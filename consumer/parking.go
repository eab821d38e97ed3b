package consumer

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/internal/backoff"
	"github.com/kafkakit/kafkakit/internal/kgolog"
	"github.com/kafkakit/kafkakit/internal/logattr"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// parkedKeys is the key-parking state of one partition number of a
// subscription with retry topics: for each key with records in the retry
// path (the partitions of that number of its retry topics), where those
// records are, oldest first. It is shared by the workers of the subscribed
// partition and of its retry partitions, which the group's assignment gives
// to one member (see the package doc), and is rebuilt from the retry
// partitions whenever it is created.
type parkedKeys struct {
	mu   sync.Mutex
	keys map[string][]parkedCopy // sorted by origin; a record twice when it was written twice
	// passed is, per key in keys, the furthest copy seen beyond the first
	// retry topic (largest origin, then delay): every record of the key
	// before it was handled (see handledFurther). It goes with the key.
	passed  map[string]parkedCopy
	changed chan struct{} // closed, and replaced, when a copy leaves or moves on
	users   int           // workers holding it

	ready  chan struct{} // closed once rebuilt
	cancel context.CancelFunc
}

// parkedCopy is one record of a parked key in the retry path.
type parkedCopy struct {
	origin int64 // its offset in the subscribed topic
	delay  int   // the index of the delay whose retry topic holds it
	// at is its offset in the first retry topic, once known; -1 while its
	// write is in flight, and beyond the first retry topic.
	at int64
}

type parkingKey struct {
	topic     string // the subscribed topic
	partition int32
}

// parkIfParked records that the record at offset of the subscribed topic
// follows key into the retry path, if key has records there. It reports
// whether it did: checking and adding at once keeps the record behind an
// earlier one that finishes meanwhile.
func (p *parkedKeys) parkIfParked(key string, offset int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.keys[key]) == 0 {
		return false
	}
	p.addLocked(key, parkedCopy{origin: offset, at: -1})
	return true
}

// entered reports whether the record at offset of the subscribed topic
// went into the retry path before: it, or a later record of key, is there.
// Records enter in offset order per key, so such a record is one delivered
// again after a crash; written again, it would land behind later records
// of its key, which wait for it.
func (p *parkedKeys) entered(key string, offset int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	offs := p.keys[key]
	return len(offs) > 0 && offset <= offs[len(offs)-1].origin
}

// park records that the record at offset of the subscribed topic is being
// written to the first retry topic.
func (p *parkedKeys) park(key string, offset int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.addLocked(key, parkedCopy{origin: offset, at: -1})
}

// placed records that the write of the record at offset of the subscribed
// topic to the first retry topic landed at offset at.
func (p *parkedKeys) placed(key string, offset, at int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i := p.findLocked(key, parkedCopy{origin: offset, at: -1}, true); i >= 0 {
		p.keys[key][i].at = at
	}
}

func (p *parkedKeys) addLocked(key string, c parkedCopy) {
	p.passLocked(key, c)
	p.insertLocked(key, c)
}

// passLocked notes c as key's furthest copy beyond the first retry topic,
// if it is.
func (p *parkedKeys) passLocked(key string, c parkedCopy) {
	if old, ok := p.passed[key]; c.delay > 0 && (!ok || furtherThan(c, old)) {
		p.passed[key] = c
	}
}

// insertLocked adds c to key's copies, in origin order.
func (p *parkedKeys) insertLocked(key string, c parkedCopy) {
	offs := p.keys[key]
	i, _ := slices.BinarySearchFunc(offs, c.origin, func(e parkedCopy, o int64) int { return cmp.Compare(e.origin, o) })
	p.keys[key] = slices.Insert(offs, i, c)
}

// findLocked returns the index of c among key's copies: the one at c.at
// if there is one (or if exact), else any of c's record in c's delay; -1
// if none.
func (p *parkedKeys) findLocked(key string, c parkedCopy, exact bool) int {
	found := -1
	for i, e := range p.keys[key] {
		if e.origin != c.origin || e.delay != c.delay {
			continue
		}
		if e.at == c.at {
			return i
		}
		if found < 0 && !exact {
			found = i
		}
	}
	return found
}

// unpark records that the copy c left the retry path: it succeeded, was
// dead-lettered, or never got there. A copy not known (one written by a
// member that crashed before the state was rebuilt) changes nothing.
func (p *parkedKeys) unpark(key string, c parkedCopy) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.removeLocked(key, c)
}

func (p *parkedKeys) removeLocked(key string, c parkedCopy) {
	i := p.findLocked(key, c, false)
	if i < 0 {
		return
	}
	if offs := slices.Delete(p.keys[key], i, i+1); len(offs) == 0 {
		delete(p.keys, key)
		delete(p.passed, key)
	} else {
		p.keys[key] = offs
	}
	close(p.changed)
	p.changed = make(chan struct{})
}

// forwarding records, before its write is sent, that the copy c is being
// written to the retry topic of delay next. The new copy is in the state
// before the record can be read from that topic: its worker may handle it
// before the write's acknowledgement reaches this one, and then takes the
// copy out again. Added only on the acknowledgement, it would name a
// record already handled, which nothing takes out, and the key's later
// records would wait for it for good. The copy does not count as passed
// (see handledFurther) until the write is acknowledged: a write that fails
// leaves the record where it was, to be handled again.
func (p *parkedKeys) forwarding(key string, c parkedCopy, next int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.insertLocked(key, parkedCopy{origin: c.origin, delay: next, at: -1})
}

// forwarded records that the copy c was written to the retry topic of
// delay next, as forwarding announced: c leaves, and the new copy, unless
// handled already, stays.
func (p *parkedKeys) forwarded(key string, c parkedCopy, next int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.removeLocked(key, c)
	if len(p.keys[key]) > 0 {
		p.passLocked(key, parkedCopy{origin: c.origin, delay: next, at: -1})
	}
}

// unforwarded records that the write forwarding announced did not land
// in this partition number's retry path: the new copy leaves.
func (p *parkedKeys) unforwarded(key string, c parkedCopy, next int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.removeLocked(key, parkedCopy{origin: c.origin, delay: next, at: -1})
}

// handledFurther reports whether the retry record c was already handled
// further down the retry path, by this member or by one that crashed
// before committing it: a copy of it, or of a later record of its key,
// is or was beyond c's retry topic while c is in the state. A record
// leaves the first retry topic only as the oldest of its key (step 3 of
// the package doc), so every record of the key before one seen beyond
// the first retry topic was handled to its end.
func (p *parkedKeys) handledFurther(key string, c parkedCopy) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	passed, ok := p.passed[key]
	return ok && furtherThan(passed, c)
}

// furtherThan reports whether a is further down the retry path than b:
// a later record, or the same record in a later retry topic.
func furtherThan(a, b parkedCopy) bool {
	return a.origin > b.origin || (a.origin == b.origin && a.delay > b.delay)
}

// olderAhead reports whether the retry record c must still wait for an
// older record of its key: a record beyond the first retry topic never
// waits (it left the first as the oldest of its key); one in the first
// waits for older records of its key that are beyond it, or before it in
// the first retry topic. It never waits for a record behind it, which
// would wait for it. It returns the origin of the first record it waits
// for, and a channel closed when the state next changes.
func (p *parkedKeys) olderAhead(key string, c parkedCopy) (bool, int64, <-chan struct{}) {
	if c.delay > 0 {
		return false, 0, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.keys[key] {
		if e.origin >= c.origin {
			break
		}
		if e.delay > 0 || (e.at >= 0 && e.at < c.at) {
			return true, e.origin, p.changed
		}
	}
	return false, 0, nil
}

// stuckEvery is how often a retry record that waits past its
// subscription's stuck bound is logged again.
const stuckEvery = time.Minute

// awaitOldest waits until the retry record r, at c in the parking state,
// need not wait for an older record of its key (see olderAhead). Once r
// is older than the subscription's stuck bound, it is logged at warn
// level, then once every minute, and shown in Status until the wait ends.
// It reports false if the worker stopped first.
func (w *partitionWorker) awaitOldest(r *kgo.Record, c parkedCopy) bool {
	key := string(r.Key)
	wait, _, changed := w.parked.olderAhead(key, c)
	if !wait {
		return true
	}
	alarm := time.NewTimer(max(time.Until(r.Timestamp.Add(w.sub.stuckAfter)), 0))
	defer alarm.Stop()
	defer w.unstuck(r.Offset)
	for wait {
		select {
		case <-changed:
		case <-w.stopping:
			return false
		case <-alarm.C:
			_, behind, _ := w.parked.olderAhead(key, c)
			w.stuck(r, c.origin, behind)
			alarm.Reset(stuckEvery)
		}
		wait, _, changed = w.parked.olderAhead(key, c)
	}
	return true
}

// stuck logs, and then notes for Status, that the retry record r, from
// offset origin of the subscribed topic, has waited past the stuck bound
// for the record of its key from offset behind: a record Status shows has
// been logged.
func (w *partitionWorker) stuck(r *kgo.Record, origin, behind int64) {
	w.logger.LogAttrs(w.ctx, slog.LevelWarn, "retry record has waited past its stuck bound for an older record of its key; its key and the retry partition behind it are held back",
		logattr.Offset(r.Offset), logattr.Key(r.Key), slog.Int64("original_offset", origin), slog.Int64("waits_for_original_offset", behind),
		slog.Duration("age", time.Since(r.Timestamp).Round(time.Millisecond)), slog.Duration("bound", w.sub.stuckAfter))
	sr := StuckRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: string(r.Key),
		OriginalOffset: origin, WaitsFor: behind, Since: r.Timestamp}
	w.mu.Lock()
	if w.stuckRecs == nil {
		w.stuckRecs = map[int64]StuckRecord{}
	}
	w.stuckRecs[r.Offset] = sr
	w.mu.Unlock()
}

// unstuck drops the retry record at offset from the stuck ones.
func (w *partitionWorker) unstuck(offset int64) {
	w.mu.Lock()
	delete(w.stuckRecs, offset)
	w.mu.Unlock()
}

// holdParking returns the parking state of sub's partition number p,
// creating it, and starting its rebuild, if no worker holds it. The caller
// holds c.mu.
func (c *Consumer) holdParking(sub *subscription, p int32) *parkedKeys {
	if retryStage(sub.stages) < 0 {
		return nil
	}
	pk := parkingKey{sub.topic, p}
	if st := c.parking[pk]; st != nil {
		st.users++
		return st
	}
	ctx, cancel := context.WithCancel(c.handlerCtx)
	st := &parkedKeys{keys: map[string][]parkedCopy{}, passed: map[string]parkedCopy{}, changed: make(chan struct{}), users: 1, ready: make(chan struct{}), cancel: cancel}
	c.parking[pk] = st
	c.rebuilds.Go(func() { c.rebuildParking(ctx, sub, p, st) })
	return st
}

// releaseParking drops w's hold on its parking state. The caller holds c.mu.
func (c *Consumer) releaseParking(w *partitionWorker) {
	if w.parked == nil {
		return
	}
	w.parked.users--
	if w.parked.users == 0 {
		w.parked.cancel()
		delete(c.parking, parkingKey{w.sub.topic, w.partition})
	}
}

// rebuildParking fills st from the retry partitions p of sub, each read
// from the group's committed offset to its end, retrying until it succeeds
// or st is dropped.
func (c *Consumer) rebuildParking(ctx context.Context, sub *subscription, p int32, st *parkedKeys) {
	for try := 1; ; try++ {
		keys, err := c.readRetryPath(ctx, sub, p)
		if err == nil {
			st.mu.Lock()
			for k, copies := range keys {
				for _, c := range copies {
					st.addLocked(k, c)
				}
			}
			st.mu.Unlock()
			c.logger.LogAttrs(ctx, slog.LevelDebug, "parked keys rebuilt from the retry topics",
				logattr.Topic(sub.topic), logattr.Partition(p), slog.Int("parked_keys", len(keys)))
			close(st.ready)
			return
		}
		if ctx.Err() != nil {
			return
		}
		c.setErr(err)
		c.logger.LogAttrs(ctx, slog.LevelWarn, "reading the retry topics to rebuild the parked keys failed; retrying",
			logattr.Topic(sub.topic), logattr.Partition(p), logattr.Err(err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff.Exponential(c.cfg.RetryBackoff, 5*time.Second, try)):
		}
	}
}

// readRetryPath reads the keyed records of the retry partitions p of sub
// from the committed offsets to the ends, returning where they are per
// key.
func (c *Consumer) readRetryPath(ctx context.Context, sub *subscription, p int32) (map[string][]parkedCopy, error) {
	topics := retryTopicNames(sub.stages)
	// ConnectionOpts are in readOpts; ClientOpts' hooks are the group
	// client's alone.
	opts := append(slices.Clone(c.readOpts), kgo.WithLogger(kgolog.New(c.clientLogger)), kgo.KeepControlRecords())
	// franz-go's NewClient is not safe to call concurrently with shared
	// options (the compression codecs are set up in place).
	c.newClientMu.Lock()
	cl, err := kgo.NewClient(opts...)
	c.newClientMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	defer cl.Close()
	from, until, err := retryPathBounds(ctx, kadm.NewClient(cl), c.group, topics, p, c.cfg.RequestTimeout)
	if err != nil {
		return nil, err
	}
	keys := map[string][]parkedCopy{}
	if len(from) == 0 {
		return keys, nil
	}
	cl.AddConsumePartitions(from)
	for len(until) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := fs.Err0(); err != nil && !errors.Is(err, context.Canceled) {
			return nil, fmt.Errorf("consumer: read retry path: %w", err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if cp, ok := sub.retryCopy(r); ok && r.Key != nil {
				keys[string(r.Key)] = append(keys[string(r.Key)], cp)
			}
			if r.Offset+1 >= until[r.Topic] {
				delete(until, r.Topic)
			}
		})
	}
	return keys, nil
}

// retryPathBounds returns, per retry topic with records past the group's
// commit on partition p, where to start reading and the end offset.
func retryPathBounds(ctx context.Context, adm *kadm.Client, group string, topics []string, p int32, timeout time.Duration) (map[string]map[int32]kgo.Offset, map[string]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	committed, err := adm.FetchOffsetsForTopics(ctx, group, topics...)
	if err == nil {
		err = committed.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("consumer: committed offsets of the retry topics: %w", err)
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("consumer: start offsets of the retry topics: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("consumer: end offsets of the retry topics: %w", err)
	}
	from, until := map[string]map[int32]kgo.Offset{}, map[string]int64{}
	for _, t := range topics {
		start := int64(0)
		if s, ok := starts.Lookup(t, p); ok {
			start = s.Offset
		}
		if o, ok := committed.Lookup(t, p); ok && o.At >= 0 {
			start = max(start, o.At)
		}
		end, ok := ends.Lookup(t, p)
		if !ok || end.Offset <= start {
			continue
		}
		from[t] = map[int32]kgo.Offset{p: kgo.NewOffset().At(start)}
		until[t] = end.Offset
	}
	return from, until, nil
}

// originOffset is the offset a retry record had in the subscribed topic:
// the first original-offset header, when the first original-topic header
// names topic (a record dead-lettered or retried from a retry topic keeps
// those of its first failure; records of older releases carry later ones,
// naming the retry topics they went through). A retry record Spring wrote
// names it in kafka_original-* headers instead.
func originOffset(r *kgo.Record, topic string) (int64, bool) {
	if off, found, ok := firstOrigin(r, HeaderOriginalTopic, HeaderOriginalOffset, topic); found {
		return off, ok
	}
	off, _, ok := firstOrigin(r, HeaderSpringRetryOriginalTopic, HeaderSpringRetryOriginalOffset, topic)
	return off, ok
}

// firstOrigin reads the first topicKey and offsetKey headers of r: found
// when r has a topicKey header, ok when it names topic and an 8-byte
// offset header is there too.
func firstOrigin(r *kgo.Record, topicKey, offsetKey, topic string) (off int64, found, ok bool) {
	var gotOffset bool
	for _, h := range r.Headers {
		switch {
		case h.Key == topicKey && !found:
			if string(h.Value) != topic {
				return 0, true, false
			}
			found = true
		case h.Key == offsetKey && !gotOffset && len(h.Value) == 8:
			off, gotOffset = int64(binary.BigEndian.Uint64(h.Value)), true
		}
	}
	return off, found, found && gotOffset
}

// retryCopy is where the retry record r is in the retry path of sub, or
// false if its headers do not say where it came from.
func (sub *subscription) retryCopy(r *kgo.Record) (parkedCopy, bool) {
	origin, ok := originOffset(r, sub.topic)
	if !ok {
		return parkedCopy{}, false
	}
	s := sub.stages[retryStage(sub.stages)].(retryTopics)
	c := parkedCopy{origin: origin, delay: s.delayOf(r), at: -1}
	if c.delay == 0 {
		c.at = r.Offset
	}
	return c, true
}

// errParked is the cause a parked record carries into the retry path.
var errParked = errors.New("consumer: an earlier record of this key is in the retry path; following it")

// awaitParking waits until the worker's parking state is rebuilt. It
// reports false if the worker stopped first.
func (w *partitionWorker) awaitParking() bool {
	if w.parked == nil {
		return true
	}
	select {
	case <-w.parked.ready:
		return true
	case <-w.stopping:
		return false
	}
}

// parkBehind sends r of the subscribed topic, whose key is parked, to the
// first retry topic without handling it, due at once: it is handled there
// when it is the oldest of its key in the retry path. The write goes
// through the partition's park writer, so the partition moves on before
// the broker answers; hook learns of r now and is called back once the
// write is acknowledged. It returns redeliver if the worker stopped before
// the write could be queued.
func (w *partitionWorker) parkBehind(r *kgo.Record, msg *Message, hook parkHook) outcome {
	s := w.sub.stages[retryStage(w.sub.stages)].(retryTopics)
	msg.fill(r, 0)
	now := time.Now()
	pw := &parkWrite{
		key: string(r.Key), offset: r.Offset, size: recordBytes(r),
		msg: retryRecord(msg, errParked, 0, w.c.group, s.topics[0], 0, now, now, false),
	}
	pw.acked = hook(r)
	if !w.parkQ.write(pw) {
		w.parked.unpark(string(r.Key), parkedCopy{origin: r.Offset, at: -1})
		return redeliver
	}
	return parking
}

// requireRange checks that the group assigns with the range assigner,
// which gives partition p of the subscribed topic and of its retry topics
// (which have its partition count) to the same member: key parking keeps
// its state there.
func requireRange(cfg config.Kafka) error {
	if len(cfg.Assigners) == 0 || cfg.Assigners[0] != config.AssignerRange {
		return fmt.Errorf("retry topics keep key order only with the range assigner first (KAFKA_PARTITION_ASSIGNERS=range), got %v", cfg.Assigners)
	}
	return nil
}
