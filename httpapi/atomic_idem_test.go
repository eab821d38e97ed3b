package httpapi_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/httpapi"
	"github.com/kafkakit/kafkakit/kafkatest"
)

// An atomic batch sent with an Idempotency-Key is committed once: repeats,
// at once or after, replay its answer, and a read_committed reader sees
// one set of its records.
func TestAtomicBatchWithIdempotencyKeyWritesOnce(t *testing.T) {
	kafkatest.Parallel(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 1))
	a := newAPI(t, c, httpapi.Transactions(newTransactions(t, c)), httpapi.Idempotency(openStore(t, c, time.Hour)))
	body := atomicBatch(10, -1, "orders", "")
	first := a.postKey(t, "/kafka/send-batch", `"tx-1"`, body)
	if first.status != http.StatusOK || first.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: status %d %v: %s", first.status, first.header, first.raw)
	}
	repeats := make([]*answer, 4)
	var wg sync.WaitGroup
	for i := range repeats {
		wg.Go(func() { repeats[i] = a.postKey(t, "/kafka/send-batch", `"tx-1"`, body) })
	}
	wg.Wait()
	for i, ans := range repeats {
		if ans.status != first.status || ans.raw != first.raw || ans.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("repeat %d: status %d, replayed %q: %s; want the first answer %s",
				i, ans.status, ans.header.Get("Idempotent-Replayed"), ans.raw, first.raw)
		}
	}
	got := committedBeforeMarker(t, c, "orders")
	if len(got) != 10 {
		t.Fatalf("read_committed reader saw %d records, want 10", len(got))
	}
	for i, r := range got {
		if want := fmt.Sprintf("v%d", i); string(r.Value) != want {
			t.Errorf("record %d is %q, want %q", i, r.Value, want)
		}
	}
}
