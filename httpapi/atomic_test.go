package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/apicontract"
	"github.com/kafkakit/kafkakit/httpapi"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newTransactions(t *testing.T, c *kafkatest.Cluster) *producer.Transactions {
	t.Helper()
	tx, err := producer.NewTransactions(c.Config(), "httpapi-test-"+t.Name(), 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tx.Close)
	return tx
}

// atomicBatch is an atomic send-batch body of n messages, the one at
// index odd going to topic other.
func atomicBatch(n, odd int, topic, other string) string {
	msgs := make([]string, n)
	for i := range msgs {
		to := topic
		if i == odd {
			to = other
		}
		msgs[i] = fmt.Sprintf(`{"topic":%q,"key":"k%d","value":"v%d"}`, to, i, i)
	}
	return `{"atomic":true,"messages":[` + strings.Join(msgs, ",") + `]}`
}

// committedBeforeMarker writes a plain record to topic (one partition),
// then reads it as read_committed until that marker, returning what came
// before: the records a committed reader sees.
func committedBeforeMarker(t *testing.T, c *kafkatest.Cluster, topic string) []*kgo.Record {
	t.Helper()
	c.Produce(t, &kgo.Record{Topic: topic, Value: []byte("marker")})
	for n := 1; n < 1000; n++ {
		recs := c.ReadAll(t, topic, n, 10*time.Second)
		if string(recs[len(recs)-1].Value) == "marker" {
			return recs[:len(recs)-1]
		}
	}
	t.Fatal("no marker")
	return nil
}

func TestAtomicBatchCommitsAll(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 3))
	a := newAPI(t, c, httpapi.Transactions(newTransactions(t, c)))
	ans := a.post(t, "/kafka/send-batch", atomicBatch(10, -1, "orders", ""))
	if ans.status != http.StatusOK {
		t.Fatalf("status %d: %s", ans.status, ans.raw)
	}
	results, _ := ans.body["results"].([]any)
	if len(results) != 10 {
		t.Fatalf("got %d results, want 10: %s", len(results), ans.raw)
	}
	for i, r := range results {
		if m, _ := r.(map[string]any); m["offset"] == nil || m["error"] != nil {
			t.Errorf("result %d: %v", i, r)
		}
	}
	if got := c.ReadAll(t, "orders", 10, 10*time.Second); len(got) != 10 {
		t.Fatalf("read_committed reader saw %d records, want 10", len(got))
	}
}

func TestAtomicBatchFailureShowsNothing(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1), kafkatest.Topic("audit", 1))
	c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "audit", Err: kerr.InvalidRecord, Count: -1})
	a := newAPI(t, c, httpapi.Transactions(newTransactions(t, c)))
	ans := a.post(t, "/kafka/send-batch", atomicBatch(10, 6, "orders", "audit"))
	if ans.status < 500 || ans.errorField("code") != apicontract.CodeBrokerError {
		t.Fatalf("status %d, want a 5xx broker_error: %s", ans.status, ans.raw)
	}
	if !strings.Contains(ans.errorField("message"), "nothing of the batch was written") {
		t.Errorf("message %q does not say nothing was written", ans.errorField("message"))
	}
	if got := committedBeforeMarker(t, c, "orders"); len(got) != 0 {
		t.Fatalf("read_committed reader saw %d records of an aborted batch", len(got))
	}
}

func TestAtomicBatchRefusedCommitShowsNothing(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1))
	c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.InvalidTxnState, TopLevel: true})
	a := newAPI(t, c, httpapi.Transactions(newTransactions(t, c)))
	ans := a.post(t, "/kafka/send-batch", atomicBatch(5, -1, "orders", ""))
	if ans.status < 500 {
		t.Fatalf("status %d, want a 5xx: %s", ans.status, ans.raw)
	}
	if got := committedBeforeMarker(t, c, "orders"); len(got) != 0 {
		t.Fatalf("read_committed reader saw %d records of an uncommitted batch", len(got))
	}
}

func TestAtomicField(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1))
	plain := newAPI(t, c)
	if ans := plain.post(t, "/kafka/send-batch", atomicBatch(1, -1, "orders", "")); ans.status != http.StatusBadRequest || ans.errorField("field") != "atomic" {
		t.Errorf("atomic without transactions: status %d: %s", ans.status, ans.raw)
	}
	a := newAPI(t, c, httpapi.Transactions(newTransactions(t, c)))
	if ans := a.post(t, "/kafka/send-batch", `{"atomic":"yes","messages":[{"topic":"orders","value":"v"}]}`); ans.status != http.StatusBadRequest || ans.errorField("field") != "atomic" {
		t.Errorf(`"atomic":"yes": status %d: %s`, ans.status, ans.raw)
	}
	if ans := a.post(t, "/kafka/send-batch", `{"atomic":false,"messages":[{"topic":"orders","value":"v"}]}`); ans.status != http.StatusOK {
		t.Errorf(`"atomic":false: status %d: %s`, ans.status, ans.raw)
	}
	if n := totalRecords(t, c, "orders"); n != 1 {
		t.Errorf("orders holds %d records, want 1", n)
	}
}
