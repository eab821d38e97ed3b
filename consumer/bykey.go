package consumer

import (
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// outstandingPerWorker bounds, per worker, the messages of a partition
// dispatched and not yet committable: a message stuck in retries holds
// back the commit, and with this bound also the dispatch, so that the
// partition's queue fills and it stops fetching. Memory stays bounded
// however skewed the keys or stuck a message.
const outstandingPerWorker = 64

// runByKey handles the partition's messages with n workers, at most one
// message per key at a time: a key's messages wait, in offset order, while
// one of them is being handled, and the worker that finishes it goes on
// with the next. Different keys proceed in parallel, and a slow key holds
// back only itself, up to the outstanding bounds. Offsets are committed
// through a tracker that never passes a message still being handled.
//
// Messages dispatched and not yet handled are bounded in bytes by the
// queue bound too (MaxQueuedBytes), whatever n: a slow key's waiting
// messages would otherwise hold up to n*64 records in memory.
func (w *partitionWorker) runByKey(n int) {
	s := keyScheduler{
		waiting: make(map[string][]*pending),
		work:    make(chan *pending),
		slots:   make(chan struct{}, n*outstandingPerWorker),
	}
	bytes := byteBudget{limit: w.c.opts.maxQueuedBytes, freed: make(chan struct{}, 1)}
	var track commitTracker
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			// Slots come back as the commit moves on.
			finish := func(p *pending) {
				for range track.done(p, w) {
					<-s.slots
				}
			}
			var cur *pending
			// A parked message finishes when its retry-topic write is
			// acknowledged; its key's next message goes on meanwhile,
			// and its write queues behind this one's.
			hook := func(*kgo.Record) func() {
				p := cur
				return func() {
					if !w.abandoned.Load() {
						finish(p)
					}
				}
			}
			for p := range s.work {
				for p != nil {
					size := p.size
					cur = p
					if !w.isStopping() && !w.abandoned.Load() &&
						w.handle(p.r, new(Message), hook) == committable && !w.abandoned.Load() {
						finish(p)
					}
					bytes.give(size)
					// The key's next message, only now that this one is
					// finished. After a stop the rest are drained
					// unhandled: they will be delivered again.
					p = s.next(p)
				}
			}
		})
	}
	w.dispatchAll(func(r *kgo.Record) bool {
		select {
		case s.slots <- struct{}{}:
		case <-w.stopping:
			return false
		}
		size := recordBytes(r)
		if !bytes.take(size, w.stopping) {
			return false
		}
		p := track.add(r)
		p.size = size
		return s.dispatch(p, w.stopping)
	})
	close(s.work)
	wg.Wait()
}

// byteBudget bounds the bytes of messages dispatched and not yet handled.
// One goroutine takes, any gives back. Not semaphore.Weighted: a message
// larger than the whole budget must still pass once nothing else is
// outstanding, and Weighted blocks such an Acquire until its context ends.
type byteBudget struct {
	mu          sync.Mutex
	used, limit int
	freed       chan struct{} // a give happened; room for one signal
}

// take waits until size fits, or nothing is outstanding (so that a message
// over the limit still passes alone), and counts it. It reports false if
// stop came first.
func (b *byteBudget) take(size int, stop <-chan struct{}) bool {
	for {
		b.mu.Lock()
		if b.used == 0 || b.used+size <= b.limit {
			b.used += size
			b.mu.Unlock()
			return true
		}
		b.mu.Unlock()
		select {
		case <-b.freed:
		case <-stop:
			return false
		}
	}
}

func (b *byteBudget) give(size int) {
	b.mu.Lock()
	b.used -= size
	b.mu.Unlock()
	signal(b.freed)
}

// keyScheduler hands messages to workers so that no two messages of one
// key are handled at once.
type keyScheduler struct {
	mu sync.Mutex
	// waiting holds, for each key being handled, its messages that wait
	// for it; a key absent from the map is idle.
	waiting map[string][]*pending
	work    chan *pending // messages ready for any worker
	slots   chan struct{} // a token per message dispatched and not finished
}

// dispatch queues p behind its key or hands it to a worker. It reports
// false if stop came first.
func (s *keyScheduler) dispatch(p *pending, stop <-chan struct{}) bool {
	if p.key != nil {
		key := string(p.key)
		s.mu.Lock()
		if q, busy := s.waiting[key]; busy {
			s.waiting[key] = append(q, p)
			s.mu.Unlock()
			return true
		}
		s.waiting[key] = nil // busy, nothing waiting yet
		s.mu.Unlock()
	}
	select {
	case s.work <- p:
		return true
	case <-stop:
		return false
	}
}

// next returns the message of p's key that waits for it, or nil after
// marking the key idle. Messages without a key have no successor.
func (s *keyScheduler) next(done *pending) *pending {
	if done.key == nil {
		return nil
	}
	key := string(done.key)
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.waiting[key]
	if len(q) == 0 {
		delete(s.waiting, key)
		return nil
	}
	s.waiting[key] = q[1:]
	return q[0]
}

// pending is a dispatched message and whether it is finished. Its record
// is dropped once handled; the offset is what the tracker needs.
type pending struct {
	r      *kgo.Record
	key    []byte // r.Key, kept for the scheduler after r is dropped
	offset kgo.EpochOffset
	size   int // recordBytes(r), counted in the byte budget until handled
	done   bool
}

// commitTracker follows dispatched messages in offset order and says how
// far the partition may be committed: up to the last message before the
// first one not yet finished.
type commitTracker struct {
	mu    sync.Mutex
	queue []*pending
	head  int
}

func (t *commitTracker) add(r *kgo.Record) *pending {
	p := &pending{r: r, key: r.Key, offset: kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}}
	t.mu.Lock()
	t.queue = append(t.queue, p)
	t.mu.Unlock()
	return p
}

// done marks p finished, marks for commit through the last message before
// the first unfinished one, and returns how many messages that passed.
func (t *commitTracker) done(p *pending, w *partitionWorker) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	p.done, p.r = true, nil
	var last *pending
	passed := 0
	for t.head < len(t.queue) && t.queue[t.head].done {
		last = t.queue[t.head]
		t.queue[t.head] = nil
		t.head++
		passed++
	}
	if t.head == len(t.queue) {
		t.queue, t.head = t.queue[:0], 0
	} else if t.head > 1024 && t.head > len(t.queue)/2 {
		// Reclaim the finished front now and then.
		t.queue = append(t.queue[:0], t.queue[t.head:]...)
		t.head = 0
	}
	if last != nil {
		w.markOffset(last.offset) // under the lock: marks stay in order
	}
	return passed
}
