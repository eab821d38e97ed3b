package queue_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/queue"
	"github.com/prometheus/client_golang/prometheus"
)

// loadRecords is how many records the replica tests pull: 20,000 with
// KAFKAKIT_QUEUE_LOAD=1, else fewer, for the normal suite.
func loadRecords(normal int) int {
	if os.Getenv("KAFKAKIT_QUEUE_LOAD") == "1" {
		return 20_000
	}
	return normal
}

// puller pulls a group's records through replicas chosen at random for
// each call, as clients behind a round-robin balancer do.
type puller struct {
	t          *testing.T
	bases      func() []string
	group      string
	topic      string
	skip       func(value string, deliveryCount int) bool // never acknowledge this delivery
	mu         sync.Mutex
	accepted   map[string]int
	deliveries int
	skipped    int
}

// run pulls with clients goroutines until n distinct records are
// accepted, failing the test after maxWait.
func (p *puller) run(clients, n int, maxWait time.Duration) {
	p.accepted = map[string]int{}
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := range clients {
		rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(i)))
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				p.once(rng)
			}
		})
	}
	defer func() { close(done); wg.Wait() }()
	kafkatest.WaitFor(p.t, maxWait, func() error {
		p.mu.Lock()
		defer p.mu.Unlock()
		if len(p.accepted) < n {
			return fmt.Errorf("accepted %d of %d records (%d deliveries, %d left unacknowledged)", len(p.accepted), n, p.deliveries, p.skipped)
		}
		return nil
	})
}

// once receives through one random replica and accepts through another.
func (p *puller) once(rng *rand.Rand) {
	bases := p.bases()
	recs, err := tryReceive(bases[rng.IntN(len(bases))], p.group, p.topic, 50, 300)
	if err != nil || len(recs) == 0 {
		return // a replica that was killed, or nothing now
	}
	var keep []queueRecord
	p.mu.Lock()
	p.deliveries += len(recs)
	for _, r := range recs {
		if p.skip != nil && p.skip(r.value(), r.DeliveryCount) {
			p.skipped++
			continue
		}
		keep = append(keep, r)
	}
	p.mu.Unlock()
	if len(keep) == 0 {
		return
	}
	status, res, err := tryAck(bases[rng.IntN(len(bases))], p.group, "accept", receipts(keep)...)
	if err != nil {
		return // the leases come back; the records are received again
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, r := range res {
		if r.OK {
			p.accepted[keep[i].value()]++
		} else if r.Error.Code != "lease_expired" && r.Error.Code != "lease_lost" && r.Error.Code != "holder_unavailable" {
			p.t.Errorf("accept of %s: %d %+v", keep[i].value(), status, r)
		}
	}
}

// check fails the test unless each of the n records was accepted exactly
// once.
func (p *puller) check(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range n {
		if k := p.accepted[strconv.Itoa(i)]; k != 1 {
			p.t.Errorf("record %d accepted %d times, want once", i, k)
		}
	}
	p.t.Logf("%d records, %d deliveries, %d left unacknowledged", n, p.deliveries, p.skipped)
}

// threeReplicas serves the queue routes three times, with one secret,
// and returns their URLs and a count of the acknowledgements they
// forwarded to each other.
func threeReplicas(t *testing.T, c *kafkatest.Cluster) ([]string, func() float64) {
	var bases []string
	var regs []*prometheus.Registry
	for range 3 {
		reg := prometheus.NewRegistry()
		regs = append(regs, reg)
		bases = append(bases, newReplica(t, c, "the replicas' shared secret", queue.Metrics(reg)).srv.URL)
	}
	forwarded := func() float64 {
		var sum float64
		for _, reg := range regs {
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			for _, mf := range mfs {
				if mf.GetName() != "kafkakit_queue_acks_forwarded_total" {
					continue
				}
				for _, m := range mf.GetMetric() {
					if m.GetLabel()[0].GetValue() == "ok" {
						sum += m.GetCounter().GetValue()
					}
				}
			}
		}
		return sum
	}
	return bases, forwarded
}

// TestReplicasAcceptEachOnce: clients that send each call to a random one
// of three replicas accept every record exactly once; acknowledgements
// reaching a replica that does not hold the lease are forwarded to the
// one that does.
func TestReplicasAcceptEachOnce(t *testing.T) {
	kafkatest.Parallel(t)
	const topic, group = "q-replicas", "g-replicas"
	n := loadRecords(2000)
	c := newClusterLock(t, 10*time.Second, kafkatest.Topic(topic, 1))
	startGroupLock(t, c, group, 10*time.Second)
	produceN(t, c, topic, n)
	bases, forwarded := threeReplicas(t, c)
	p := &puller{t: t, bases: func() []string { return bases }, group: group, topic: topic}
	p.run(6, n, 5*time.Minute)
	p.check(n)
	if f := forwarded(); f < float64(n)/3 {
		t.Errorf("%v acknowledgements forwarded to the replica holding them, want about 2 in 3 of %d", f, n)
	}
}

// TestReplicasUnacknowledgedComeBack: with 1% of the records left
// unacknowledged the first time a client gets them, those records come back once their lease ends and
// are then accepted; every record is accepted exactly once.
func TestReplicasUnacknowledgedComeBack(t *testing.T) {
	kafkatest.Parallel(t)
	const topic, group = "q-unacked", "g-unacked"
	n := loadRecords(1000)
	c := newCluster(t, kafkatest.Topic(topic, 1))
	startGroup(t, c, group)
	produceN(t, c, topic, n)
	bases, _ := threeReplicas(t, c)
	var skipped sync.Map
	p := &puller{t: t, bases: func() []string { return bases }, group: group, topic: topic,
		skip: func(value string, _ int) bool {
			i, _ := strconv.Atoi(value)
			_, seen := skipped.LoadOrStore(value, true)
			return i%100 == 7 && !seen
		}}
	p.run(6, n, 5*time.Minute)
	p.check(n)
	if p.skipped < n/100 {
		t.Errorf("left %d deliveries unacknowledged, want at least %d", p.skipped, n/100)
	}
}
