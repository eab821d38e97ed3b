package queue_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
)

// receiveN receives until it has n records, failing the test after 30s.
func receiveN(t *testing.T, base, group, topic string, n int) []queueRecord {
	t.Helper()
	var got []queueRecord
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		got = append(got, receive(t, base, group, topic, n-len(got), 500)...)
		if len(got) < n {
			return errCount(len(got), n)
		}
		return nil
	})
	return got
}

// TestReleaseAndReject: a released record comes back at once with its
// delivery count raised; a rejected one never does.
func TestReleaseAndReject(t *testing.T) {
	kafkatest.Parallel(t)
	const topic, group = "q-release", "g-release"
	c := newCluster(t, kafkatest.Topic(topic, 1))
	startGroup(t, c, group)
	produceN(t, c, topic, 2)
	r := newReplica(t, c, "")

	recs := receiveN(t, r.srv.URL, group, topic, 2)
	byValue := map[string]queueRecord{}
	for _, rec := range recs {
		byValue[rec.value()] = rec
	}
	if status, res := ack(t, r.srv.URL, group, "release", byValue["0"].Receipt); status != http.StatusOK || !allOK(res) {
		t.Fatalf("release: %d %+v", status, res)
	}
	if status, res := ack(t, r.srv.URL, group, "reject", byValue["1"].Receipt); status != http.StatusOK || !allOK(res) {
		t.Fatalf("reject: %d %+v", status, res)
	}
	again := receiveN(t, r.srv.URL, group, topic, 1)
	if again[0].value() != "0" || again[0].DeliveryCount != 2 {
		t.Fatalf("after release: got %s delivery %d, want 0 delivery 2", again[0].value(), again[0].DeliveryCount)
	}
	if status, res := ack(t, r.srv.URL, group, "accept", again[0].Receipt); status != http.StatusOK || !allOK(res) {
		t.Fatalf("accept: %d %+v", status, res)
	}
	if more := receive(t, r.srv.URL, group, topic, 10, 300); len(more) != 0 {
		t.Errorf("the rejected record came back: %+v", more)
	}
}

// TestExpiredLeaseComesBack: a record never acknowledged comes back after
// its lease with its delivery count raised; an acknowledgement of the
// first delivery after the lease is 410 and acknowledges nothing, so the
// second delivery can still be accepted.
func TestExpiredLeaseComesBack(t *testing.T) {
	kafkatest.Parallel(t)
	const topic, group = "q-expire", "g-expire"
	c := newCluster(t, kafkatest.Topic(topic, 1))
	startGroup(t, c, group)
	produceN(t, c, topic, 1)
	r := newReplica(t, c, "")

	first := receiveN(t, r.srv.URL, group, topic, 1)[0]
	deadline, err := time.Parse(time.RFC3339, first.LeaseExpiresAt)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(deadline); d <= 0 || d > testLock {
		t.Errorf("lease ends in %v, want within the %v lock", d, testLock)
	}
	second := receiveN(t, r.srv.URL, group, topic, 1)[0]
	if second.value() != first.value() || second.DeliveryCount != 2 {
		t.Fatalf("after the lease: got %s delivery %d, want %s delivery 2", second.value(), second.DeliveryCount, first.value())
	}
	if !time.Now().After(deadline) {
		t.Errorf("delivered again at %v, before the first lease ended at %v", time.Now(), deadline)
	}
	status, res := ack(t, r.srv.URL, group, "accept", first.Receipt)
	if status != http.StatusGone || res[0].Error == nil || res[0].Error.Code != "lease_expired" {
		t.Fatalf("ack after the lease: %d %+v, want 410 lease_expired", status, res)
	}
	if status, res := ack(t, r.srv.URL, group, "accept", second.Receipt); status != http.StatusOK || !allOK(res) {
		t.Fatalf("accept of the second delivery: %d %+v", status, res)
	}
	status, res = ack(t, r.srv.URL, group, "accept", second.Receipt)
	if status != http.StatusConflict || res[0].Error.Code != "already_acknowledged" {
		t.Fatalf("second accept: %d %+v, want 409 already_acknowledged", status, res)
	}
}

// TestRenewKeepsLease: a renewed lease outlives the lock it started with:
// the record is not delivered again, and accepting it after its first
// deadline succeeds.
func TestRenewKeepsLease(t *testing.T) {
	kafkatest.Parallel(t)
	const topic, group = "q-renew", "g-renew"
	c := newCluster(t, kafkatest.Topic(topic, 1))
	startGroup(t, c, group)
	produceN(t, c, topic, 1)
	r := newReplica(t, c, "")

	rec := receiveN(t, r.srv.URL, group, topic, 1)[0]
	deadline, _ := time.Parse(time.RFC3339, rec.LeaseExpiresAt)
	receipt := rec.Receipt
	for time.Now().Before(deadline.Add(testLock)) {
		status, res := ack(t, r.srv.URL, group, "renew", receipt)
		if status != http.StatusOK || !allOK(res) || res[0].Receipt == "" {
			t.Fatalf("renew: %d %+v", status, res)
		}
		receipt = res[0].Receipt
		// Another member's receive would get the record if the lock had
		// been lost; this one waits a quarter of a lock each time, well
		// within the renewed lease.
		if more := receive(t, r.srv.URL, group, topic, 1, int(testLock.Milliseconds()/4)); len(more) != 0 {
			t.Fatalf("a renewed record was delivered again: %+v", more)
		}
	}
	if status, res := ack(t, r.srv.URL, group, "accept", receipt); status != http.StatusOK || !allOK(res) {
		t.Fatalf("accept after renewals: %d %+v", status, res)
	}
}
