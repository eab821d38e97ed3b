package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// firstSuccesses records, per key, the sequence numbers of its records in
// the order their handler call first succeeded, and counts every call.
type firstSuccesses struct {
	mu    sync.Mutex
	seen  map[string]bool // value -> succeeded once
	order map[string][]int
	calls map[string]int // value -> handler calls
	total int            // distinct values succeeded
}

func newFirstSuccesses() *firstSuccesses {
	return &firstSuccesses{seen: map[string]bool{}, order: map[string][]int{}, calls: map[string]int{}}
}

// call counts a handler call of value v and returns its number.
func (f *firstSuccesses) call(v string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[v]++
	return f.calls[v]
}

func (f *firstSuccesses) succeeded(key, v string, seq int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen[v] {
		return
	}
	f.seen[v] = true
	f.order[key] = append(f.order[key], seq)
	f.total++
}

// missing names, per key, the sequence numbers (0 to n-1) that never
// succeeded, for a failure message.
func (f *firstSuccesses) missing(keys []string, n int) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	for _, key := range keys {
		var seqs []int
		for seq := range n {
			if !f.seen[fmt.Sprintf("%s/%d", key, seq)] {
				seqs = append(seqs, seq)
			}
		}
		if len(seqs) > 0 {
			fmt.Fprintf(&b, " %s%v", key, seqs)
		}
	}
	return b.String()
}

// describeParking says, per member, which partitions it holds, their
// commit and lag, its parked keys and its stuck records, for a failure
// message.
func describeParking(rs ...*running) string {
	var b strings.Builder
	for i, r := range rs {
		for _, s := range r.c.Status().Subscriptions {
			fmt.Fprintf(&b, "\nmember %d: %s partitions %v parked keys %d stuck %+v", i, s.Topic, s.Partitions, s.ParkedKeys, s.StuckRecords)
			for _, rt := range s.RetryTopics {
				fmt.Fprintf(&b, "\n  %s %+v", rt.Topic, rt.Partitions)
			}
		}
	}
	return b.String()
}

func (f *firstSuccesses) handled() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.total
}

// check reports keys whose records first succeeded out of produce order
// or not at all: each key has n records, sequence 0 to n-1.
func (f *firstSuccesses) check(t *testing.T, n int) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for key, seqs := range f.order {
		for i, s := range seqs {
			if s != i {
				t.Errorf("key %s: records first succeeded in order %v, want 0 to %d in order", key, seqs, n-1)
				break
			}
		}
		if len(seqs) != n {
			t.Errorf("key %s: %d of %d records handled", key, len(seqs), n)
		}
	}
}

// parkedKeys sums the parked keys the members report.
func parkedKeys(rs ...*running) int {
	n := 0
	for _, r := range rs {
		for _, s := range r.c.Status().Subscriptions {
			n += s.ParkedKeys
		}
	}
	return n
}

// TestKeyParkingAcrossRebalance: three members of a group with retry
// topics; a member joins, and later one leaves, while records sit in the
// retry topics and keys are parked. Every record is handled at least once,
// each key's records first succeed in produce order, and nothing is
// dead-lettered: every failing record fails three times, then succeeds
// within the four retry topics (a record parked behind another makes its
// first call from the first retry topic, so it needs all four).
func TestKeyParkingAcrossRebalance(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("rp", rpPartitions))
	f := newFirstSuccesses()
	h := failingThreeTimes(f)
	policy := consumer.Policy(consumer.RetryTopics(50*time.Millisecond, 100*time.Millisecond, 150*time.Millisecond, 200*time.Millisecond),
		consumer.DeadLetterSuffix(".dlq"))
	startMember := func() *running {
		return start(t, rangeConfig(c), func(cs *consumer.Consumer) error {
			return cs.Subscribe("rp", true, h, consumer.Failures(policy))
		})
	}
	cl := c.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))

	a, b := startMember(), startMember()
	produceRebalanceRecords(t, cl, 0, rpPerKey/2)
	awaitParked(t, "before the join", a, b)
	cm := startMember() // joins while keys are parked
	kafkatest.WaitFor(t, 60*time.Second, func() error {
		if !cm.c.Ready() {
			return errors.New("third member not ready")
		}
		return nil
	})
	produceRebalanceRecords(t, cl, rpPerKey/2, rpPerKey)
	awaitParked(t, "before the leave", a, b, cm)
	a.stop(t) // leaves while keys are parked

	var keys []string
	for p := range rpPartitions {
		for k := range rpKeysPerPartition {
			keys = append(keys, rebalanceKey(p, k))
		}
	}
	total := rpPartitions * rpKeysPerPartition * rpPerKey
	kafkatest.WaitFor(t, 120*time.Second, func() error {
		if n := f.handled(); n < total {
			return fmt.Errorf("%d of %d records handled; never handled:%s%s", n, total,
				f.missing(keys, rpPerKey), describeParking(b, cm))
		}
		return nil
	})
	f.check(t, rpPerKey)
	if dead := readIfAny(t, c, "rp.dlq"); len(dead) != 0 {
		t.Errorf("%d records dead-lettered, want none", len(dead))
	}
}

// The records of TestKeyParkingAcrossRebalance: keys per partition of rp,
// and records per key.
const rpPartitions, rpKeysPerPartition, rpPerKey = 3, 6, 16

// rebalanceKey is the key k of partition p: key f<p>, the first, has
// records that fail.
func rebalanceKey(p, k int) string {
	if k == 0 {
		return fmt.Sprintf("f%d", p)
	}
	return fmt.Sprintf("k%d-%d", p, k)
}

// failingThreeTimes records first successes in f. Of key f<p>, every
// fourth record fails three times.
func failingThreeTimes(f *firstSuccesses) consumer.Handler {
	return consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		v := string(m.Value)
		key, seqStr, _ := strings.Cut(v, "/")
		seq, err := strconv.Atoi(seqStr)
		if err != nil {
			return consumer.Permanent(err)
		}
		// Key f<p>: every fourth record fails three times.
		if strings.HasPrefix(key, "f") && seq%4 == 1 && f.call(v) <= 3 {
			return errors.New("failing three times")
		}
		f.succeeded(key, v, seq)
		return nil
	})
}

// produceRebalanceRecords writes the records of sequence numbers from to
// to-1 of every key, each to its key's partition.
func produceRebalanceRecords(t *testing.T, cl *kgo.Client, from, to int) {
	t.Helper()
	var recs []*kgo.Record
	for seq := from; seq < to; seq++ {
		for p := range rpPartitions {
			for k := range rpKeysPerPartition {
				key := rebalanceKey(p, k)
				recs = append(recs, &kgo.Record{Topic: "rp", Partition: int32(p), Key: []byte(key),
					Value: fmt.Appendf(nil, "%s/%d", key, seq)})
			}
		}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// awaitParked waits, at most 60s, until one of rs has a key parked, so
// that a member joins or leaves while keys are.
func awaitParked(t *testing.T, what string, rs ...*running) {
	t.Helper()
	kafkatest.WaitFor(t, 60*time.Second, func() error {
		if parkedKeys(rs...) == 0 {
			return fmt.Errorf("%s: no key parked", what)
		}
		return nil
	})
}
