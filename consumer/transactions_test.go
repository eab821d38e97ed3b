package consumer_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// produceTransactions writes, in one transactional producer, a transaction
// of aborted records and then one of committed records, to partition 0.
func produceTransactions(t *testing.T, c *kafkatest.Cluster, topic string, aborted, committed int) {
	t.Helper()
	cl := c.Client(t, kgo.TransactionalID("tx-"+topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for _, tx := range []struct {
		n   int
		end kgo.TransactionEndTry
		tag string
	}{{aborted, kgo.TryAbort, "aborted"}, {committed, kgo.TryCommit, "committed"}} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := range tx.n {
			r := &kgo.Record{Topic: topic, Value: []byte(tx.tag + "-" + strconv.Itoa(i))}
			if err := cl.ProduceSync(t.Context(), r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := cl.EndTransaction(t.Context(), tx.end); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReadCommittedSkipsAbortedAndCommitsPastMarker: with the default
// isolation level, aborted records never reach the handler, and once the
// committed ones are handled the group commits past the transaction's
// commit marker, so lag is 0 in Status, in the lag metric and for any
// tool that reads the group's offsets.
func TestReadCommittedSkipsAbortedAndCommitsPastMarker(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("tx", 1))
	// aborted 0-2, abort marker 3, committed 4-5, commit marker 6
	produceTransactions(t, c, "tx", 3, 2)
	cfg := c.Config()
	var seen log
	r := start(t, cfg, func(cs *consumer.Consumer) error { return cs.Subscribe("tx", true, seen.handler()) })
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.WatchConsumer(r.c)
	waitLen(t, &seen, 2)
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		st := r.c.Status()
		if len(st.Subscriptions) != 1 || len(st.Subscriptions[0].Partitions) != 1 {
			return fmt.Errorf("status %+v", st)
		}
		if p := st.Subscriptions[0].Partitions[0]; p.Lag != 0 || p.Committed != 7 {
			return fmt.Errorf("partition status %+v, want committed 7 and lag 0", p)
		}
		if lag, err := gaugeValue(reg, metrics.Namespace+"_consumer_lag"); err != nil || lag != 0 {
			return fmt.Errorf("lag metric %v (%v), want 0", lag, err)
		}
		if got := committed(t, c, cfg.GroupID, "tx", 0); got != 7 {
			return fmt.Errorf("group committed %d, want 7, past the commit marker", got)
		}
		return nil
	})
	for _, msg := range seen.snapshot() {
		if string(msg.Value) != "committed-0" && string(msg.Value) != "committed-1" {
			t.Errorf("handler got %q (offset %d)", msg.Value, msg.Offset)
		}
	}
	if n := seen.len(); n != 2 {
		t.Errorf("handled %d messages, want exactly the 2 committed", n)
	}
}

// TestReadUncommittedSeesAborted: read_uncommitted hands over every data
// record, aborted ones too, but never a transaction marker.
func TestReadUncommittedSeesAborted(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("txu", 1))
	produceTransactions(t, c, "txu", 3, 2)
	cfg := c.Config()
	cfg.IsolationLevel = config.ReadUncommitted
	var seen log
	r := start(t, cfg, func(cs *consumer.Consumer) error { return cs.Subscribe("txu", true, seen.handler()) })
	waitLen(t, &seen, 5)
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		if p := r.c.Status().Subscriptions[0].Partitions; len(p) != 1 || p[0].Lag != 0 {
			return fmt.Errorf("partitions %+v, want lag 0", p)
		}
		return nil
	})
	for i, msg := range seen.snapshot() {
		if want := []int64{0, 1, 2, 4, 5}; i >= len(want) || msg.Offset != want[i] {
			t.Errorf("message %d: offset %d value %q", i, msg.Offset, msg.Value)
		}
	}
}

// gaugeValue returns the one sample of the gauge name in reg.
func gaugeValue(reg *prometheus.Registry, name string) (float64, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return 0, err
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue(), nil
		}
	}
	return 0, fmt.Errorf("no single %s sample", name)
}
