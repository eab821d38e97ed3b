package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kafkakit/kafkakit/internal/backoff"
	"github.com/kafkakit/kafkakit/internal/logattr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// partitionWorker handles one assigned partition's messages in order. The
// poll loop queues records; the worker hands them to the handler, retries,
// dead-letters and marks them for commit. A partition whose queue grows
// past the byte bound is paused at the client, so one slow partition
// neither stalls the others nor grows memory without bound.
type partitionWorker struct {
	c         *Consumer
	client    *kgo.Client
	sub       *subscription
	topic     string      // sub.topic, or one of its retry topics
	retry     bool        // topic is a retry topic: records wait until due
	parked    *parkedKeys // key parking of sub's partition number; nil without retry topics
	partition int32
	logger    *slog.Logger

	mu          sync.Mutex
	queue       []*kgo.Record
	head        int // queue[head:] is pending
	queuedBytes int
	fetchPaused bool                  // the client stopped fetching the partition: the queue is over its bound
	stopped     bool                  // stop began: enqueue refuses
	stuckRecs   map[int64]StuckRecord // retry records waiting past the stuck bound, by offset
	handling    []int64               // unix ms of the retry records being handled now, at most Concurrency; for Status

	wake      chan struct{} // a record was queued
	stopping  chan struct{} // closed: finish the current message, start no other, stop retrying
	stopOnce  sync.Once
	ctx       context.Context // the handler's; cancelled when stopping runs out of grace
	cancel    context.CancelFunc
	done      chan struct{}
	abandoned atomic.Bool                          // a handler outlived its cancelled context: mark nothing more
	inFlight  atomic.Int32                         // messages being handled now, for Status
	marks     map[string]map[int32]kgo.EpochOffset // see markOffset
	parkQ     *parkWriter                          // writes parked records; nil unless a subscribed partition with retry topics
}

func newPartitionWorker(c *Consumer, cl *kgo.Client, sub *subscription, topic string, partition int32) *partitionWorker {
	ctx, cancel := context.WithCancel(c.handlerCtx)
	return &partitionWorker{
		c:         c,
		client:    cl,
		sub:       sub,
		topic:     topic,
		retry:     topic != sub.topic,
		partition: partition,
		logger:    c.logger.With(logattr.Topic(topic), logattr.Partition(partition)),
		wake:      make(chan struct{}, 1),
		stopping:  make(chan struct{}),
		ctx:       ctx,
		cancel:    cancel,
		done:      make(chan struct{}),
	}
}

// enqueue adds polled records, pausing the partition when the queue is
// over its bound. It reports false once the worker is stopping.
func (w *partitionWorker) enqueue(recs []*kgo.Record) bool {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return false
	}
	w.queue = append(w.queue, recs...)
	for _, r := range recs {
		w.queuedBytes += recordBytes(r)
	}
	pause := !w.fetchPaused && w.queuedBytes >= w.c.opts.maxQueuedBytes
	if pause {
		w.fetchPaused = true
		// Pausing under the lock keeps it ordered with the resume in
		// next; franz-go drops what it buffered for the partition without
		// moving its fetch position, so nothing is skipped.
		w.client.PauseFetchPartitions(map[string][]int32{w.topic: {w.partition}})
	}
	w.mu.Unlock()
	signal(w.wake)
	return true
}

// signal wakes c's reader, if it is not already due to wake.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// recordOverhead is what a record costs in memory beyond its key and
// value, so that floods of tiny records are bounded too.
const recordOverhead = 128

func recordBytes(r *kgo.Record) int {
	n := recordOverhead + len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

func (w *partitionWorker) run() {
	defer close(w.done)
	defer w.settleParking()
	if w.sub.concurrency > 1 {
		w.runByKey(w.sub.concurrency)
		return
	}
	// One message value serves the whole partition: handlers get it only
	// until they return.
	var msg Message
	held := heldCommits{w: w}
	w.dispatchAll(func(r *kgo.Record) bool {
		if w.isStopping() {
			return false // the rest will be delivered again
		}
		switch w.handle(r, &msg, held.hold) {
		case redeliver:
			return false
		case committable:
			if w.abandoned.Load() {
				return false
			}
			// Marked at once (unless a parked record before it is not
			// acknowledged yet): the next handler may take long, and
			// what was handled must not wait for it to be committed.
			held.finished(r)
		}
		return true
	})
}

// settleParking waits, within the stop's grace, for the parking writes in
// flight, and gives up the rest.
func (w *partitionWorker) settleParking() {
	if w.parkQ != nil {
		w.parkQ.settle(w.ctx)
	}
}

// mark makes r committable. It reuses one offsets map per partition,
// which costs less than MarkCommitRecords' sort on every message.
func (w *partitionWorker) mark(r *kgo.Record) {
	w.markOffset(kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1})
}

// markOffset makes everything below eo committable. One goroutine at a
// time calls it for a partition, under the lock of whichever orders its
// marks: the sequential worker through mark (no lock: it is the only
// caller then); the key tracker under its lock (KeyConcurrency); and,
// with retry topics, heldCommits under its lock, from the worker's
// goroutine (finished) or the producer's callback goroutine when a
// record written to the next retry topic is acknowledged (ack).
func (w *partitionWorker) markOffset(eo kgo.EpochOffset) {
	if w.marks == nil {
		w.marks = map[string]map[int32]kgo.EpochOffset{w.topic: {}}
	}
	w.marks[w.topic][w.partition] = eo
	w.client.MarkCommitOffsets(w.marks)
}

// dispatchAll hands every queued record to dispatch, in offset order,
// until it refuses one or the worker stops. A batch stays counted against
// the queue bound until it is all handed out.
func (w *partitionWorker) dispatchAll(dispatch func(*kgo.Record) bool) {
	for {
		batch, ok := w.takeBatch()
		if !ok {
			return
		}
		size := 0
		for _, r := range batch {
			if !dispatch(r) {
				return
			}
			size += recordBytes(r)
		}
		w.release(size)
	}
}

// takeBatch takes every queued record at once, waiting for one, or
// reports false once stopping. The records stay counted against the queue
// bound until release.
func (w *partitionWorker) takeBatch() ([]*kgo.Record, bool) {
	for {
		if w.isStopping() {
			return nil, false
		}
		w.mu.Lock()
		if w.head < len(w.queue) {
			batch := w.queue[w.head:]
			// The worker reads batch while the poll loop appends to a
			// fresh slice; the old one is not reused.
			w.queue, w.head = nil, 0
			w.mu.Unlock()
			return batch, true
		}
		w.mu.Unlock()
		select {
		case <-w.wake:
		case <-w.stopping:
			return nil, false
		}
	}
}

// release uncounts handled bytes and resumes a partition paused for a full
// queue once half of it is gone.
func (w *partitionWorker) release(size int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.queuedBytes -= size
	if w.fetchPaused && w.queuedBytes <= w.c.opts.maxQueuedBytes/2 {
		w.fetchPaused = false
		w.client.ResumeFetchPartitions(map[string][]int32{w.topic: {w.partition}})
	}
}

// stop makes the worker finish its current message and exit. A handler
// still running after grace has its context cancelled, and one that
// ignores that too is abandoned: its message is not committed.
func (w *partitionWorker) stop(grace time.Duration) {
	w.stopOnce.Do(func() {
		w.mu.Lock()
		w.stopped = true
		if w.fetchPaused {
			// A paused partition stays paused across reassignment;
			// resume it for whoever owns it next, us included.
			w.fetchPaused = false
			w.client.ResumeFetchPartitions(map[string][]int32{w.topic: {w.partition}})
		}
		w.mu.Unlock()
		close(w.stopping)
	})
	defer w.cancel()
	if grace > 0 {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-w.done:
			return
		case <-t.C:
			w.logger.LogAttrs(context.Background(), slog.LevelWarn, "handler still running after the shutdown timeout; cancelling its context")
		}
	}
	w.cancel()
	t := time.NewTimer(abandonWait)
	defer t.Stop()
	select {
	case <-w.done:
	case <-t.C:
		w.abandoned.Store(true)
		w.logger.LogAttrs(context.Background(), slog.LevelError, "handler ignored its cancelled context; abandoning it, its message will be delivered again")
		if w.parkQ != nil {
			w.parkQ.close() // no mark from a late acknowledgement once stop returns
		}
	}
}

// isStopping reports whether stop has begun.
func (w *partitionWorker) isStopping() bool {
	select {
	case <-w.stopping:
		return true
	default:
		return false
	}
}

// waitRetry waits d before the next attempt, or less if the worker stops. It
// reports whether the full wait passed.
func (w *partitionWorker) waitRetry(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-w.stopping:
		return false
	case <-w.ctx.Done():
		return false
	}
}

// process delivers r to the handler until it succeeds or the
// subscription's failure policy disposes of it, or parks it behind its
// key (see parkBehind, which tells hook). It returns redeliver when the
// worker stopped first. A transaction marker is committable at once.
func (w *partitionWorker) process(r *kgo.Record, msg *Message, hook parkHook) outcome {
	if r.Attrs.IsControl() {
		return committable // a transaction marker: nothing to handle
	}
	var st failureState
	if !w.awaitParking() {
		return redeliver
	}
	parkable := w.parked != nil && r.Key != nil // null keys have no order to keep
	switch {
	case !w.retry && parkable && w.parked.entered(string(r.Key), r.Offset):
		return committable // delivered again; it is handled from the retry path
	case !w.retry && parkable && w.parked.parkIfParked(string(r.Key), r.Offset):
		return w.parkBehind(r, msg, hook)
	case w.retry:
		// A retry record is due at its backoff timestamp, and past the
		// stages that come before the retry topics.
		st.stage = retryStage(w.sub.stages)
		s := w.sub.stages[st.stage].(retryTopics)
		if parkable {
			st.copy, st.inPath = w.sub.retryCopy(r)
		}
		if w.handledFurther(r, &st) {
			return committable
		}
		if !w.awaitDue(r, s.delays[s.delayOf(r)]) {
			return redeliver
		}
		if st.inPath && !w.awaitOldest(r, st.copy) {
			return redeliver
		}
		if w.handledFurther(r, &st) {
			return committable
		}
	}
	if !w.attempt(r, msg, &st) {
		return redeliver
	}
	if st.inPath && !st.rescheduled {
		w.parked.unpark(string(r.Key), st.copy) // it left the retry path
	}
	return committable
}

// handledFurther reports whether the retry record r, delivered again after
// a crash, was already handled further down the retry path (see
// parkedKeys.handledFurther), and if so finishes it: it leaves the
// parking state, to be committed without a handler call or a second write.
func (w *partitionWorker) handledFurther(r *kgo.Record, st *failureState) bool {
	if !st.inPath || !w.parked.handledFurther(string(r.Key), st.copy) {
		return false
	}
	w.parked.unpark(string(r.Key), st.copy)
	w.logger.LogAttrs(w.ctx, slog.LevelInfo, "retry record delivered again was handled further down the retry path already; committing it without handling it again",
		logattr.Offset(r.Offset), logattr.Key(r.Key), slog.Int64("original_offset", st.copy.origin))
	return true
}

// attempt calls the handler for r until it succeeds or the failure policy
// disposes of it, as process says.
func (w *partitionWorker) attempt(r *kgo.Record, msg *Message, st *failureState) bool {
	obs := w.c.opts.observer
	for attempt := 1; ; attempt++ {
		// Rebuilt for every attempt: what a handler or middleware changed
		// must not leak into the next attempt or the dead letter.
		msg.fill(r, attempt)
		err := w.invoke(msg)
		if err == nil {
			obs.Attempted(msg.Topic, OutcomeOK)
			return true
		}
		if IsSkip(err) {
			w.logger.LogAttrs(w.ctx, slog.LevelWarn, "handler skipped the message; committing it without a dead letter",
				logattr.Offset(r.Offset), logattr.Key(r.Key), logattr.Attempt(attempt), logattr.Err(err))
			obs.Attempted(msg.Topic, OutcomeSkipped)
			return true
		}
		if w.isStopping() {
			obs.Attempted(msg.Topic, OutcomeRetried)
			w.logger.LogAttrs(w.ctx, slog.LevelInfo, "handler failed while stopping; the message will be delivered again",
				logattr.Offset(r.Offset), logattr.Key(r.Key), logattr.Attempt(attempt), logattr.Err(err))
			return false
		}
		switch w.fail(st, r, attempt, msg, err) {
		case finished:
			return true
		case abandoned:
			return false
		}
	}
}

// skip gives up on a message, as Spring's default recoverer does: the
// error log line, with the whole record in it, is what is left of it.
func (w *partitionWorker) skip(msg *Message, err error) {
	why := "handler failed and the failure policy skips the message"
	if IsPermanent(err) && w.sub.deadLetterTopic == "" {
		why = "handler failed permanently and dead letters are off; skipping the message"
	}
	attrs := append(recordAttrs(msg), logattr.Attempt(msg.Attempt), logattr.Err(err))
	w.logger.LogAttrs(w.ctx, slog.LevelError, why, attrs...)
}

// RetryAfterError is an error that knows how long to wait before the next
// attempt, such as an HTTP 429 with Retry-After. The consumer waits at
// least that long, even beyond its maximum backoff.
type RetryAfterError interface {
	error
	RetryAfter() time.Duration
}

func retryPause(err error, first, limit time.Duration, attempt int) time.Duration {
	d := backoff.Exponential(first, limit, attempt)
	var ra RetryAfterError
	if errors.As(err, &ra) {
		d = max(d, ra.RetryAfter())
	}
	return d
}

// invoke calls the handler, turning a panic into a *PanicError.
func (w *partitionWorker) invoke(msg *Message) error {
	return invokeHandler(w.ctx, w.sub.handler, msg, w.c.opts.observer, w.c.observed, w.logger)
}

// invokeHandler calls h, timing the call for obs when observed, and turns
// a panic into a *PanicError, logged with its stack.
func invokeHandler(ctx context.Context, h Handler, msg *Message, obs Observer, observed bool, logger *slog.Logger) (err error) {
	var start time.Time
	if observed {
		obs.HandlerStarted(msg.Topic)
		start = time.Now()
	}
	defer func() {
		if observed {
			obs.HandlerFinished(msg.Topic, time.Since(start))
		}
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
			logger.LogAttrs(ctx, slog.LevelError, "handler panicked",
				logattr.Offset(msg.Offset), slog.String("panic", fmt.Sprint(v)), slog.String("stack", string(err.(*PanicError).Stack)))
		}
	}()
	return h.Handle(ctx, msg)
}

// PanicError is a handler panic, recovered. It is treated as an error:
// retried, then dead-lettered.
type PanicError struct {
	Value any    // what the handler panicked with
	Stack []byte // the goroutine's stack at the panic
}

func (e *PanicError) Error() string { return fmt.Sprintf("handler panicked: %v", e.Value) }
