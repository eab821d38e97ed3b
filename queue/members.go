package queue

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// leaseKey names one record of a partition.
type leaseKey struct {
	topic     string
	partition int32
	offset    int64
}

// lease is a record handed to a client and not yet settled.
type lease struct {
	rec           *kgo.Record
	deliveryCount int32
	// deadline is the end of the lease as promised to the client: the
	// broker's acquisition deadline less a margin, so that an
	// acknowledgement accepted here still reaches the broker in time.
	deadline time.Time
	// duration is the lock's length, which a renewal grants again.
	duration time.Duration
	// done is set once a terminal outcome was sent for the record.
	done bool
}

// member is one share-group member of this replica: a franz-go client in
// a share group, subscribed to a set of topics. franz-go accepts, at the
// next poll, every record of the previous poll not yet acknowledged, so a
// member polls again only once each record it handed out is settled or
// its lease is over (see free), and it releases those whose lease ran out
// before polling.
type member struct {
	id    uint64
	key   string
	group string
	// cl is set once, before the member is handed to anyone.
	cl *kgo.Client

	// use is held by whoever drives cl: a receive, or an acknowledgement
	// waiting for the broker's answer. One at a time, so that the ack
	// results collected (see onAcks) belong to that user.
	use chan struct{}

	mu     sync.Mutex
	leases map[leaseKey]*lease

	resultsMu sync.Mutex
	results   kgo.ShareAckResults

	// Guarded by pool.mu.
	refs     int
	lastUsed time.Time
}

func newMember(id uint64, key, group string) *member {
	return &member{id: id, key: key, group: group, use: make(chan struct{}, 1), leases: map[leaseKey]*lease{}}
}

// onAcks is franz-go's ShareAckCallback: it keeps the broker's answers for
// the member's current user.
func (m *member) onAcks(_ *kgo.Client, rs kgo.ShareAckResults) {
	m.resultsMu.Lock()
	m.results = append(m.results, rs...)
	m.resultsMu.Unlock()
}

// takeResults returns and forgets the answers collected so far.
func (m *member) takeResults() kgo.ShareAckResults {
	m.resultsMu.Lock()
	defer m.resultsMu.Unlock()
	rs := m.results
	m.results = nil
	return rs
}

// acquireUse waits for the member's client, or for ctx to end.
func (m *member) acquireUse(ctx context.Context) bool {
	select {
	case m.use <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (m *member) releaseUse() { <-m.use }

// free reports whether every lease the member handed out is settled or
// over, so that it may poll again.
func (m *member) free(now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range m.leases {
		if !l.done && now.Before(l.deadline) {
			return false
		}
	}
	return true
}

// memberKey is the pool's key of the members that can serve a receive:
// same group, same topics, same most records per poll.
func memberKey(group string, topics []string, maxRecords int) string {
	sorted := slices.Clone(topics)
	slices.Sort(sorted)
	return group + "\x00" + strings.Join(sorted, "\x00") + "\x00" + strconv.Itoa(maxRecords)
}

// pool owns the members of this replica: it hands one out per receive and
// per acknowledgement, creates them up to max, and closes the idle ones.
type pool struct {
	max  int
	idle time.Duration
	// open makes a member's client; it is called without pool.mu held.
	open func(m *member, topics []string, maxRecords int) (*kgo.Client, error)

	mu      sync.Mutex
	members map[uint64]*member
	next    uint64
	closed  bool

	stop chan struct{}
	done chan struct{}
}

func newPool(maxMembers int, idle time.Duration, open func(*member, []string, int) (*kgo.Client, error)) *pool {
	p := &pool{max: maxMembers, idle: idle, open: open, members: map[uint64]*member{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go p.reap()
	return p
}

// poolError is why acquire hands out no member.
type poolError string

func (e poolError) Error() string { return string(e) }

// errPoolFull and errPoolClosed are the reasons a receive answers 503.
const (
	errPoolFull   = poolError("every share-group member this replica may keep (HTTP_QUEUE_MAX_MEMBERS) holds leases not yet settled")
	errPoolClosed = poolError("shutting down")
)

// acquire returns a member of key that may poll, making one when none is
// free. Release it with release.
func (p *pool) acquire(key, group string, topics []string, maxRecords int) (*member, error) {
	now := time.Now()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errPoolClosed
	}
	if m := p.ready(key, now); m != nil {
		m.refs++
		p.mu.Unlock()
		return m, nil
	}
	var evict *member
	if len(p.members) >= p.max {
		evict = p.idlest(now)
		if evict == nil {
			p.mu.Unlock()
			return nil, errPoolFull
		}
		delete(p.members, evict.id)
	}
	p.next++
	m := newMember(p.next, key, group)
	m.refs = 1
	p.members[m.id] = m
	p.mu.Unlock()

	if evict != nil {
		evict.cl.Close()
	}
	cl, err := p.open(m, topics, maxRecords)
	if err != nil {
		p.mu.Lock()
		delete(p.members, m.id)
		p.mu.Unlock()
		return nil, err
	}
	p.mu.Lock()
	closed := p.closed
	if closed {
		delete(p.members, m.id)
	} else {
		m.cl = cl
	}
	p.mu.Unlock()
	if closed {
		cl.Close()
		return nil, errPoolClosed
	}
	return m, nil
}

// ready returns a member of key that is not in use and may poll, nil if
// none; p.mu is held. A member with records in its buffer comes first:
// they were fetched when a receive had ended (a fetch outlives the wait
// that started it) and are leased, their locks running out.
func (p *pool) ready(key string, now time.Time) *member {
	var found *member
	for _, m := range p.members {
		if m.key != key || m.refs != 0 || m.cl == nil || !m.free(now) {
			continue
		}
		if m.cl.BufferedFetchRecords() > 0 {
			return m
		}
		found = m
	}
	return found
}

// idlest is the member unused for longest that holds no lease and is not
// in use, nil if none; p.mu is held.
func (p *pool) idlest(now time.Time) *member {
	var best *member
	for _, m := range p.members {
		if m.refs == 0 && m.cl != nil && m.free(now) && (best == nil || m.lastUsed.Before(best.lastUsed)) {
			best = m
		}
	}
	return best
}

// lookup returns member id for an acknowledgement, nil when this replica
// has no such member (it was closed). Release it with release.
func (p *pool) lookup(id uint64) *member {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.members[id]
	if m == nil || m.cl == nil {
		return nil
	}
	m.refs++
	return m
}

func (p *pool) release(m *member) {
	p.mu.Lock()
	m.refs--
	m.lastUsed = time.Now()
	p.mu.Unlock()
}

// size is how many members are open.
func (p *pool) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.members)
}

// reap closes members idle for longer than p.idle, until close.
func (p *pool) reap() {
	defer close(p.done)
	t := time.NewTicker(min(max(p.idle/4, 50*time.Millisecond), 10*time.Second))
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			for _, m := range p.takeIdle(now) {
				m.cl.Close()
			}
		}
	}
}

// takeIdle removes and returns the members to close.
func (p *pool) takeIdle(now time.Time) []*member {
	p.mu.Lock()
	defer p.mu.Unlock()
	var idle []*member
	for id, m := range p.members {
		if m.refs == 0 && m.cl != nil && now.Sub(m.lastUsed) > p.idle && m.free(now) {
			idle = append(idle, m)
			delete(p.members, id)
		}
	}
	return idle
}

// close stops the reaper and closes every member: the records they hold
// unsettled are released to the group at once. Nothing may use the pool
// any more.
func (p *pool) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	all := make([]*member, 0, len(p.members))
	for _, m := range p.members {
		if m.cl != nil {
			all = append(all, m)
		}
	}
	clear(p.members)
	p.mu.Unlock()
	close(p.stop)
	<-p.done
	var wg sync.WaitGroup
	for _, m := range all {
		wg.Go(m.cl.Close)
	}
	wg.Wait()
}
