package producer_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newTransactions(t *testing.T, c *kafkatest.Cluster, size int) *producer.Transactions {
	t.Helper()
	tx, err := producer.NewTransactions(c.Config(), "test-tx-"+t.Name(), size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tx.Close)
	return tx
}

func batchOf(n int, topic func(i int) string) []producer.Message {
	msgs := make([]producer.Message, n)
	for i := range msgs {
		msgs[i] = producer.Message{Topic: topic(i), Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint("v", i))}
	}
	return msgs
}

// visibleBeforeMarker writes a plain record after whatever the test wrote,
// then reads topic (one partition) as read_committed until the marker: the
// records it returns before it are the ones a committed reader sees.
func visibleBeforeMarker(t *testing.T, c *kafkatest.Cluster, topic string) []*kgo.Record {
	t.Helper()
	c.Produce(t, &kgo.Record{Topic: topic, Value: []byte("marker")})
	var seen []*kgo.Record
	for n := 1; ; n++ {
		recs := c.ReadAll(t, topic, n, 10*time.Second)
		if string(recs[len(recs)-1].Value) == "marker" {
			return recs[:len(recs)-1]
		}
		seen = recs
		if len(seen) > 1000 {
			t.Fatalf("no marker after %d records", len(seen))
		}
	}
}

func TestTransactionsCommitsBatch(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 3))
	tx := newTransactions(t, c, 1)
	msgs := batchOf(10, func(int) string { return "orders" })
	results, err := tx.SendBatch(t.Context(), msgs)
	if err != nil {
		t.Fatalf("SendBatch: %v", err)
	}
	for i, r := range results {
		if r.Err != nil || r.Offset < 0 || r.Topic != "orders" {
			t.Errorf("result %d: %+v", i, r)
		}
	}
	got := c.ReadAll(t, "orders", 10, 10*time.Second)
	if len(got) != 10 {
		t.Fatalf("read_committed reader saw %d records, want 10", len(got))
	}
	// The pool's client is reusable for the next transaction.
	if _, err := tx.SendBatch(t.Context(), msgs[:2]); err != nil {
		t.Fatalf("second SendBatch: %v", err)
	}
}

func TestTransactionsAbortOnFailedRecord(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1), kafkatest.Topic("audit", 1))
	// Every produce to "audit" is refused: the 7th of 10 messages goes there.
	c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "audit", Err: kerr.InvalidRecord, Count: -1})
	tx := newTransactions(t, c, 1)
	msgs := batchOf(10, func(i int) string {
		if i == 6 {
			return "audit"
		}
		return "orders"
	})
	results, err := tx.SendBatch(t.Context(), msgs)
	if !errors.Is(err, producer.ErrTransactionAborted) || !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("SendBatch error = %v, want the abort and its cause", err)
	}
	for i, r := range results {
		if r.Err == nil {
			t.Errorf("result %d succeeded in an aborted batch: %+v", i, r)
		}
	}
	if got := visibleBeforeMarker(t, c, "orders"); len(got) != 0 {
		t.Fatalf("read_committed reader saw %d records of an aborted batch", len(got))
	}
	// The client recovers: the next batch commits.
	ok := batchOf(3, func(int) string { return "orders" })
	if _, err := tx.SendBatch(t.Context(), ok); err != nil {
		t.Fatalf("SendBatch after abort: %v", err)
	}
}

func TestTransactionsAbortOnRefusedCommit(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1))
	c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.InvalidTxnState, TopLevel: true})
	tx := newTransactions(t, c, 1)
	_, err := tx.SendBatch(t.Context(), batchOf(5, func(int) string { return "orders" }))
	if !errors.Is(err, producer.ErrTransactionAborted) || !errors.Is(err, kerr.InvalidTxnState) {
		t.Fatalf("SendBatch error = %v, want the abort and its cause", err)
	}
	if got := visibleBeforeMarker(t, c, "orders"); len(got) != 0 {
		t.Fatalf("read_committed reader saw %d records of an uncommitted batch", len(got))
	}
	if _, err := tx.SendBatch(t.Context(), batchOf(2, func(int) string { return "orders" })); err != nil {
		t.Fatalf("SendBatch after a refused commit: %v", err)
	}
}

func TestTransactionsClosed(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1))
	tx := newTransactions(t, c, 2)
	tx.Close()
	if _, err := tx.SendBatch(t.Context(), batchOf(1, func(int) string { return "orders" })); !errors.Is(err, producer.ErrClosed) {
		t.Fatalf("SendBatch after Close = %v, want ErrClosed", err)
	}
}
