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

// outcome is what handling a record came to.
type outcome int8

const (
	redeliver   outcome = iota // the worker stopped first: deliver the record again
	committable                // handled or disposed of
	// parking: the record's write to the first retry topic is in flight;
	// the parkHook's function says when it is acknowledged.
	parking
)

// parkHook is told of a record being parked and returns what to call once
// its retry-topic write is acknowledged. That call runs on the producer's
// callback goroutine, under no lock of the park writer.
type parkHook func(r *kgo.Record) (acked func())

// parkWriter writes the parked records of a subscribed partition to the
// first retry topic without making the partition wait for the broker:
// writes of one key go one at a time, in offset order, each after the
// previous one's acknowledgement, and a failed write is retried before any
// later write of its key, so a key's records land in the retry partition in
// its order. Records in flight are bounded in bytes by the queue bound.
//
// Who does what: the worker sends a key's first write; the producer's
// callback goroutine takes each answer (answered), which logs, reports to
// the Observer, updates the parking state and calls the acknowledgement
// hook, none of it under q.mu; the writer's own goroutine (sendLoop) sends
// each key's next write and the failed writes once their backoff has
// passed, never on the callback goroutine, whose answers are what make
// room in a full producer buffer. q.mu guards only the chains and the
// ready list. close waits for the answers being taken and for sendLoop, so
// nothing is marked after it returns.
type parkWriter struct {
	w      *partitionWorker
	budget byteBudget

	mu     sync.Mutex
	chains map[string][]*parkWrite // per key, never empty: the head is being written, the rest wait for it
	ready  []*parkWrite            // heads for sendLoop to send
	closed bool                    // given up: answers change nothing

	answering sync.WaitGroup // answers being taken outside q.mu
	wake      chan struct{}  // ready grew or close began; room for one signal
	idle      chan struct{}  // a write left the chains; room for one signal
	done      chan struct{}  // closed when sendLoop returns
}

// parkWrite is one parked record's write.
type parkWrite struct {
	key           string
	offset        int64 // in the subscribed topic
	msg           producer.Message
	size          int
	acked         func()
	try           int
	keepPartition bool
	retry         *time.Timer // set while waiting to retry after a failure
}

// newParkWriter returns w's park writer with its sending goroutine
// started; the worker's settle, or its stop for an abandoned handler,
// closes it.
func newParkWriter(w *partitionWorker) *parkWriter {
	q := &parkWriter{
		w:      w,
		budget: byteBudget{limit: w.c.opts.maxQueuedBytes, freed: make(chan struct{}, 1)},
		chains: map[string][]*parkWrite{},
		wake:   make(chan struct{}, 1),
		idle:   make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	go q.sendLoop()
	return q
}

// write queues pw behind its key's writes in flight, or starts it. It waits
// for room in the byte budget and reports false if the worker stopped
// first.
func (q *parkWriter) write(pw *parkWrite) bool {
	if !q.budget.take(pw.size, q.w.stopping) {
		return false
	}
	pw.keepPartition = true
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		q.budget.give(pw.size)
		return false
	}
	chain := append(q.chains[pw.key], pw)
	q.chains[pw.key] = chain
	q.mu.Unlock()
	if len(chain) == 1 {
		q.send(pw)
	}
	return true
}

// send hands pw to the producer, which waits while its buffer is full.
func (q *parkWriter) send(pw *parkWrite) {
	m := pw.msg
	if !pw.keepPartition {
		m.Partition = nil
	}
	q.w.c.deadLetters.SendAsync(q.w.ctx, m, func(res producer.Result) { q.answered(pw, res) })
}

// sendLoop sends what the answers made ready, in the order they did,
// until close.
func (q *parkWriter) sendLoop() {
	defer close(q.done)
	for {
		q.mu.Lock()
		ready, closed := q.ready, q.closed
		q.ready = nil
		q.mu.Unlock()
		if closed {
			return
		}
		for _, pw := range ready {
			q.send(pw)
		}
		<-q.wake
	}
}

// makeReady hands pw to sendLoop, unless the writer closed.
func (q *parkWriter) makeReady(pw *parkWrite) {
	q.mu.Lock()
	if !q.closed {
		q.ready = append(q.ready, pw)
	}
	q.mu.Unlock()
	signal(q.wake)
}

// answered takes the broker's answer to pw, on the producer's callback
// goroutine: nothing here waits for the producer.
func (q *parkWriter) answered(pw *parkWrite, res producer.Result) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.answering.Add(1)
	q.mu.Unlock()
	defer q.answering.Done()
	w := q.w
	if res.Err == nil {
		w.logger.LogAttrs(w.ctx, slog.LevelWarn, "message sent to its retry topic",
			logattr.Offset(pw.offset), logattr.Key([]byte(pw.key)), logattr.Attempt(0),
			slog.String("retry_topic", res.Topic), slog.Int64("retry_offset", res.Offset), logattr.Err(errParked))
		w.c.opts.observer.Attempted(w.topic, OutcomeRetryScheduled)
		if res.Partition == w.partition {
			w.parked.placed(pw.key, pw.offset, res.Offset)
		} else {
			// In another partition number's retry path, which this
			// one cannot wait for.
			w.parked.unpark(pw.key, parkedCopy{origin: pw.offset, at: -1})
		}
		pw.acked()
		q.finished(pw)
		return
	}
	if pw.keepPartition && errors.Is(res.Err, producer.ErrInvalidPartition) {
		// The retry topic has fewer partitions: let the key choose, as
		// Spring does.
		pw.keepPartition = false
		q.makeReady(pw)
		return
	}
	pw.try++
	w.c.setErr(res.Err)
	w.c.opts.observer.DeadLetterFailed(w.topic)
	w.logger.LogAttrs(w.ctx, slog.LevelError, "retry topic write failed; retrying it before any later record of its key",
		logattr.Offset(pw.offset), slog.String("retry_topic", pw.msg.Topic), slog.Int("try", pw.try), logattr.Err(res.Err))
	if w.isStopping() {
		q.giveUp(pw.key)
		return
	}
	q.retryLater(pw, backoff.Exponential(w.sub.backoff, w.sub.maxBackoff, pw.try))
}

// retryLater makes pw ready again after d. The timer's function only hands
// pw over; settle and close stop the timer, and once closed it does
// nothing.
func (q *parkWriter) retryLater(pw *parkWrite, d time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	pw.retry = time.AfterFunc(d, func() {
		q.mu.Lock()
		waiting := !q.closed && pw.retry != nil
		pw.retry = nil
		q.mu.Unlock()
		if !waiting {
			return
		}
		if q.w.isStopping() {
			q.giveUp(pw.key)
			return
		}
		q.makeReady(pw)
	})
}

// finished takes pw, acknowledged, off the head of its key's chain and
// makes the key's next write ready, or gives it up if the worker is
// stopping.
func (q *parkWriter) finished(pw *parkWrite) {
	stopping := q.w.isStopping()
	var next *parkWrite
	var dropped []*parkWrite
	q.mu.Lock()
	chain := q.chains[pw.key]
	if len(chain) == 0 || chain[0] != pw { // given up meanwhile
		q.mu.Unlock()
		return
	}
	chain[0] = nil
	if chain = chain[1:]; len(chain) == 0 {
		delete(q.chains, pw.key)
	} else if stopping {
		delete(q.chains, pw.key)
		dropped = chain
	} else {
		q.chains[pw.key] = chain
		next = chain[0]
	}
	q.mu.Unlock()
	q.budget.give(pw.size)
	q.release(dropped)
	if next != nil {
		q.makeReady(next)
	}
}

// giveUp drops key's writes: their records leave the retry path and are
// not committed, so they are delivered again.
func (q *parkWriter) giveUp(key string) {
	q.mu.Lock()
	dropped := q.chains[key]
	delete(q.chains, key)
	q.mu.Unlock()
	q.release(dropped)
}

// release unparks the records of dropped writes and returns their bytes.
func (q *parkWriter) release(dropped []*parkWrite) {
	for _, pw := range dropped {
		q.w.parked.unpark(pw.key, parkedCopy{origin: pw.offset, at: -1})
		q.budget.give(pw.size)
	}
	signal(q.idle)
}

// settle runs once the worker stopped: it drops the writes waiting to be
// retried, waits for those in flight until ctx ends, then gives up the
// rest. Nothing is acknowledged, so nothing is marked, afterwards.
func (q *parkWriter) settle(ctx context.Context) {
	q.mu.Lock()
	var waiting []string
	for key, chain := range q.chains {
		if t := chain[0].retry; t != nil && t.Stop() {
			chain[0].retry = nil
			waiting = append(waiting, key)
		}
	}
	q.mu.Unlock()
	for _, key := range waiting {
		q.giveUp(key)
	}
	for {
		q.mu.Lock()
		active := len(q.chains)
		q.mu.Unlock()
		if active == 0 {
			break
		}
		select {
		case <-q.idle:
		case <-ctx.Done():
			q.close()
			return
		}
	}
	q.close()
}

// close ignores answers from now on, waits for those being taken and for
// sendLoop, then gives up every write left. Closing again does nothing
// more.
func (q *parkWriter) close() {
	q.mu.Lock()
	q.closed = true
	for _, chain := range q.chains {
		if t := chain[0].retry; t != nil {
			t.Stop()
			chain[0].retry = nil
		}
	}
	q.mu.Unlock()
	signal(q.wake)
	q.answering.Wait()
	<-q.done
	q.mu.Lock()
	var dropped []*parkWrite
	for key, chain := range q.chains {
		dropped = append(dropped, chain...)
		delete(q.chains, key)
	}
	q.ready = nil
	q.mu.Unlock()
	q.release(dropped)
}

// heldCommits keeps the sequential worker's commit below the first parked
// record whose retry-topic write is not acknowledged. With none in flight,
// a finished record is marked at once, at the cost of one atomic load.
type heldCommits struct {
	w       *partitionWorker
	held    atomic.Int32 // len(waiting), read without the lock
	mu      sync.Mutex
	waiting []*heldRecord   // parked records in offset order, from the first unacknowledged
	handled kgo.EpochOffset // past the last record the worker finished
}

type heldRecord struct {
	at    kgo.EpochOffset // the record's own offset: commit up to, not past, it
	acked bool
}

// finished makes r committable, or notes it for when the held records
// before it are acknowledged.
func (h *heldCommits) finished(r *kgo.Record) {
	if h.held.Load() == 0 {
		h.w.mark(r)
		return
	}
	h.mu.Lock()
	h.handled = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
	if len(h.waiting) == 0 { // acknowledged meanwhile
		h.w.markOffset(h.handled)
	}
	h.mu.Unlock()
}

// hold is the sequential worker's parkHook.
func (h *heldCommits) hold(r *kgo.Record) func() {
	e := &heldRecord{at: kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset}}
	h.mu.Lock()
	h.waiting = append(h.waiting, e)
	h.handled = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
	h.held.Store(int32(len(h.waiting)))
	h.mu.Unlock()
	return func() { h.ack(e) }
}

// ack marks through the last record before the first unacknowledged one.
func (h *heldCommits) ack(e *heldRecord) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e.acked = true
	i := 0
	for i < len(h.waiting) && h.waiting[i].acked {
		h.waiting[i] = nil
		i++
	}
	if i == 0 {
		return
	}
	h.waiting = h.waiting[i:]
	if len(h.waiting) == 0 {
		h.waiting = nil
		h.w.markOffset(h.handled)
	} else {
		h.w.markOffset(h.waiting[0].at)
	}
	h.held.Store(int32(len(h.waiting)))
}
