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
