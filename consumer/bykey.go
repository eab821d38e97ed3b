package consumer

import (
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// outstandingPerWorker bounds the messages of a partition dispatched but
// not finished, per worker, so memory stays bounded however skewed the
// keys.
const outstandingPerWorker = 64

// runByKey handles the partition's messages with n workers, at most one
// message per key at a time: a key's messages wait, in offset order, while
// one of them is being handled, and the worker that finishes it goes on
// with the next. Different keys proceed in parallel, and a slow key holds
// back only itself. Offsets are committed through a tracker that never
// passes a message still being handled.
func (w *partitionWorker) runByKey(n int) {
	s := keyScheduler{
		waiting: make(map[string][]*pending),
		work:    make(chan *pending),
		slots:   make(chan struct{}, n*outstandingPerWorker),
	}
	var track commitTracker
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for p := range s.work {
				for p != nil {
					if !w.isStopping() && !w.abandoned.Load() && w.process(p.r, new(Message)) && !w.abandoned.Load() {
						if r := track.done(p); r != nil {
							w.client.MarkCommitRecords(r)
						}
					}
					// After a stop the rest of the key's messages are
					// drained unhandled: they will be delivered again.
					<-s.slots
					p = s.next(p)
				}
			}
		})
	}
	for {
		r, ok := w.next()
		if !ok {
			break
		}
		select {
		case s.slots <- struct{}{}:
		case <-w.stopping:
		}
		if w.isStopping() {
			break
		}
		if !s.dispatch(track.add(r), w.stopping) {
			break
		}
	}
	close(s.work)
	wg.Wait()
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
	if p.r.Key != nil {
		key := string(p.r.Key)
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

// next returns the message of done's key that waited for it, or nil after
// marking the key idle. Messages without a key have no successor.
func (s *keyScheduler) next(done *pending) *pending {
	if done.r.Key == nil {
		return nil
	}
	key := string(done.r.Key)
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

// pending is a dispatched message and whether it is finished.
type pending struct {
	r    *kgo.Record
	done bool
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
	p := &pending{r: r}
	t.mu.Lock()
	t.queue = append(t.queue, p)
	t.mu.Unlock()
	return p
}

// done marks p finished and returns the record that may now be committed
// through, or nil if the oldest unfinished message is still ahead.
func (t *commitTracker) done(p *pending) *kgo.Record {
	t.mu.Lock()
	defer t.mu.Unlock()
	p.done = true
	var last *kgo.Record
	for t.head < len(t.queue) && t.queue[t.head].done {
		last = t.queue[t.head].r
		t.queue[t.head] = nil
		t.head++
	}
	if t.head == len(t.queue) {
		t.queue, t.head = t.queue[:0], 0
	} else if t.head > 1024 && t.head > len(t.queue)/2 {
		// Reclaim the finished front now and then.
		t.queue = append(t.queue[:0], t.queue[t.head:]...)
		t.head = 0
	}
	return last
}
