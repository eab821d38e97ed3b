package consumer_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// member records what one group member handled, to check order per
// partition in its own view.
type member struct {
	name string
	mu   sync.Mutex
	last map[int32]int64 // partition -> last offset handled
	errs []string
}

func (m *member) handler(all *sync.Map) consumer.Handler {
	return consumer.HandlerFunc(func(_ context.Context, msg *consumer.Message) error {
		m.mu.Lock()
		if prev, ok := m.last[msg.Partition]; ok && msg.Offset <= prev {
			// Revocation commits what was handled, so even a partition
			// that comes back resumes after what this member saw.
			m.errs = append(m.errs, fmt.Sprintf("%s: partition %d went from %d to %d", m.name, msg.Partition, prev, msg.Offset))
		}
		m.last[msg.Partition] = msg.Offset
		m.mu.Unlock()
		all.Store(string(msg.Value), true)
		return nil
	})
}

// TestRebalanceLosesNothing runs three members of one group while one
// joins and one leaves mid-stream; every message must be handled.
func TestRebalanceLosesNothing(t *testing.T) {
	kafkatest.Parallel(t)
	const n, partitions = 20_000, 6
	c := kafkatest.NewCluster(t, kafkatest.Topic("rebal", partitions))
	var handled sync.Map
	count := func() int {
		var k int
		handled.Range(func(any, any) bool { k++; return true })
		return k
	}
	members := map[string]*member{}
	startMember := func(name string) *running {
		m := &member{name: name, last: map[int32]int64{}}
		members[name] = m
		return start(t, c.Config(), func(cs *consumer.Consumer) error {
			return cs.Subscribe("rebal", true, m.handler(&handled))
		})
	}
	a := startMember("a")
	startMember("b")
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		if !a.c.Ready() {
			return fmt.Errorf("a not ready")
		}
		return nil
	})

	// Produce in the background while membership changes.
	produced := make(chan error, 1)
	go func() {
		cl := c.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
		for i := 0; i < n; i += 500 {
			recs := make([]*kgo.Record, 0, 500)
			for j := i; j < i+500; j++ {
				recs = append(recs, &kgo.Record{Topic: "rebal", Partition: int32(j % partitions), Value: []byte(strconv.Itoa(j))})
			}
			if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
				produced <- err
				return
			}
		}
		produced <- nil
	}()

	kafkatest.WaitFor(t, 60*time.Second, func() error {
		if k := count(); k < n/4 {
			return fmt.Errorf("handled %d", k)
		}
		return nil
	})
	startMember("c") // joins mid-stream
	kafkatest.WaitFor(t, 60*time.Second, func() error {
		if k := count(); k < n/2 {
			return fmt.Errorf("handled %d", k)
		}
		return nil
	})
	a.stop(t) // leaves mid-stream

	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	kafkatest.WaitFor(t, 60*time.Second, func() error {
		if k := count(); k < n {
			return fmt.Errorf("handled %d of %d", k, n)
		}
		return nil
	})
	for i := range n {
		if _, ok := handled.Load(strconv.Itoa(i)); !ok {
			t.Fatalf("message %d never handled", i)
		}
	}
	for _, m := range members {
		for _, e := range m.errs {
			t.Error(e)
		}
	}
}

// TestRevokeDuringShutdownWaitsForHandlers: a member shutting down still
// owns its partitions until its handlers finish; a rebalance in that
// window must not hand them to another member while a handler runs.
func TestRevokeDuringShutdownWaitsForHandlers(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("handover", 2))
	c.Produce(t, &kgo.Record{Topic: "handover", Partition: 0, Value: []byte("p0")}, &kgo.Record{Topic: "handover", Partition: 1, Value: []byte("p1")})
	release := make(chan struct{})
	var finished sync.Map
	var started sync.Map
	slow := consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		started.Store(string(m.Value), true)
		<-release
		finished.Store(string(m.Value), true)
		return nil
	})
	a := start(t, c.Config(), func(cs *consumer.Consumer) error { return cs.Subscribe("handover", true, slow) })
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		_, p0 := started.Load("p0")
		_, p1 := started.Load("p1")
		if !p0 || !p1 {
			return fmt.Errorf("handlers not started yet")
		}
		return nil
	})
	stopped := make(chan struct{})
	go func() { a.stop(t); close(stopped) }() // shutdown begins; handlers still run

	var early sync.Map // messages B got while A was still handling them
	var got sync.Map
	start(t, c.Config(), func(cs *consumer.Consumer) error {
		return cs.Subscribe("handover", true, consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
			if _, done := finished.Load(string(m.Value)); !done {
				early.Store(string(m.Value), true)
			}
			got.Store(string(m.Value), true)
			return nil
		}))
	})
	// Give the group several heartbeats to rebalance while A's handlers
	// are held.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		early.Range(func(k, _ any) bool {
			t.Errorf("member B got %v while member A was still handling it", k)
			return true
		})
		time.Sleep(50 * time.Millisecond)
	}
	close(release)
	<-stopped
	early.Range(func(k, _ any) bool {
		t.Errorf("member B got %v while member A was still handling it", k)
		return true
	})
}
