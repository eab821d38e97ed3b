package queue_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
)

// TestReceiveAndAccept: every record produced is received once, with a
// receipt and a lease, and once accepted is not delivered again.
func TestReceiveAndAccept(t *testing.T) {
	kafkatest.Parallel(t)
	const topic, group, n = "q-accept", "g-accept", 50
	c := newCluster(t, kafkatest.Topic(topic, 1))
	startGroup(t, c, group)
	produceN(t, c, topic, n)
	r := newReplica(t, c, "")

	seen := map[string]int{}
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		recs := receive(t, r.srv.URL, group, topic, 20, 500)
		for _, rec := range recs {
			seen[rec.value()]++
			if rec.DeliveryCount != 1 || rec.Receipt == "" || rec.LeaseExpiresAt == "" {
				t.Errorf("record %+v: want delivery_count 1, a receipt and a lease", rec)
			}
		}
		if len(recs) > 0 {
			if status, res := ack(t, r.srv.URL, group, "accept", receipts(recs)...); status != http.StatusOK || !allOK(res) {
				t.Fatalf("accept: %d %+v", status, res)
			}
		}
		if len(seen) < n {
			return errCount(len(seen), n)
		}
		return nil
	})
	for v, k := range seen {
		if k != 1 {
			t.Errorf("record %s received %d times, want once", v, k)
		}
	}
	if recs := receive(t, r.srv.URL, group, topic, 20, 300); len(recs) != 0 {
		t.Errorf("after accepting all, received %d more", len(recs))
	}
}

func allOK(rs []ackResult) bool {
	for _, r := range rs {
		if !r.OK {
			return false
		}
	}
	return len(rs) > 0
}
