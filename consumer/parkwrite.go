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

// parkHook is told of a record being parked and returns what to call, under
// the park writer's lock, once its retry-topic write is acknowledged.
type parkHook func(r *kgo.Record) (acked func())

// parkWriter writes the parked records of a subscribed partition to the
// first retry topic without making the partition wait for the broker:
// writes of one key go one at a time, in offset order, each after the
// previous one's acknowledgement, and a failed write is retried before any
// later write of its key, so a key's records land in the retry partition in
// its order. Records in flight are bounded in bytes by the queue bound.
type parkWriter struct {
	w      *partitionWorker
	budget byteBudget

	mu     sync.Mutex
	chains map[string][]*parkWrite // per key, never empty: the head is being written, the rest wait for it
	idle   chan struct{}           // a write left the chains; room for one signal
	closed bool                    // given up: answers change nothing
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

func newParkWriter(w *partitionWorker) *parkWriter {
	return &parkWriter{
		w:      w,
		budget: byteBudget{limit: w.c.opts.maxQueuedBytes, freed: make(chan struct{}, 1)},
		chains: map[string][]*parkWrite{},
		idle:   make(chan struct{}, 1),
	}
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

// send hands pw to the producer. Not under q.mu: a full producer buffer
// makes it wait.
func (q *parkWriter) send(pw *parkWrite) {
	m := pw.msg
	if !pw.keepPartition {
		m.Partition = nil
	}
	q.w.c.deadLetters.SendAsync(q.w.ctx, m, func(res producer.Result) { q.answered(pw, res) })
}

// answered takes the broker's answer to pw. It runs on the producer's
// callback goroutine, so it starts nothing there.
func (q *parkWriter) answered(pw *parkWrite, res producer.Result) {
	w := q.w
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
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
		q.popLocked(pw.key)
		if chain := q.chains[pw.key]; len(chain) > 0 {
			if w.isStopping() {
				q.giveUpLocked(pw.key)
			} else {
				go q.send(chain[0])
			}
		}
		return
	}
	if pw.keepPartition && errors.Is(res.Err, producer.ErrInvalidPartition) {
		// The retry topic has fewer partitions: let the key choose, as
		// Spring does.
		pw.keepPartition = false
		go q.send(pw)
		return
	}
	pw.try++
	w.c.setErr(res.Err)
	w.c.opts.observer.DeadLetterFailed(w.topic)
	w.logger.LogAttrs(w.ctx, slog.LevelError, "retry topic write failed; retrying it before any later record of its key",
		logattr.Offset(pw.offset), slog.String("retry_topic", pw.msg.Topic), slog.Int("try", pw.try), logattr.Err(res.Err))
	if w.isStopping() {
		q.giveUpLocked(pw.key)
		return
	}
	pw.retry = time.AfterFunc(backoff.Exponential(w.sub.backoff, w.sub.maxBackoff, pw.try), func() {
		q.mu.Lock()
		if q.closed || pw.retry == nil {
			q.mu.Unlock()
			return
		}
		pw.retry = nil
		if w.isStopping() {
			q.giveUpLocked(pw.key)
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		q.send(pw)
	})
}

// popLocked removes the head of key's chain, which finished.
func (q *parkWriter) popLocked(key string) {
	chain := q.chains[key]
	q.budget.give(chain[0].size)
	chain[0] = nil
	if chain = chain[1:]; len(chain) == 0 {
		delete(q.chains, key)
	} else {
		q.chains[key] = chain
	}
	q.left()
}

// giveUpLocked drops key's writes: their records leave the retry path and
// are not committed, so they are delivered again.
func (q *parkWriter) giveUpLocked(key string) {
	chain := q.chains[key]
	for _, pw := range chain {
		q.w.parked.unpark(key, parkedCopy{origin: pw.offset, at: -1})
		q.budget.give(pw.size)
	}
	delete(q.chains, key)
	q.left()
}

// left signals settle that writes left the chains.
func (q *parkWriter) left() {
	select {
	case q.idle <- struct{}{}:
	default:
	}
}

// settle runs once the worker stopped: it drops the writes waiting to be
// retried, waits for those in flight until ctx ends, then gives up the
// rest. Nothing is acknowledged, so nothing is marked, afterwards.
func (q *parkWriter) settle(ctx context.Context) {
	q.mu.Lock()
	for key, chain := range q.chains {
		if t := chain[0].retry; t != nil && t.Stop() {
			chain[0].retry = nil
			q.giveUpLocked(key)
		}
	}
	q.mu.Unlock()
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

// close gives up every write left and ignores answers from now on.
func (q *parkWriter) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	for key := range q.chains {
		q.giveUpLocked(key)
	}
	q.closed = true
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
