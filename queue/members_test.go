package queue_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/queue"
	"github.com/twmb/franz-go/pkg/kadm"
)

// TestMemberCapAndIdle: with room for one member, a receive of another
// group while that member holds leases is answered 503 overloaded; once
// the leases are settled the idle member gives way. A member idle for
// IdleTimeout leaves its group.
func TestMemberCapAndIdle(t *testing.T) {
	kafkatest.Parallel(t)
	const topic = "q-cap"
	c := newCluster(t, kafkatest.Topic(topic, 1))
	startGroup(t, c, "g-one")
	startGroup(t, c, "g-two")
	produceN(t, c, topic, 3)
	r := newReplica(t, c, "", queue.MaxMembers(1), queue.IdleTimeout(500*time.Millisecond))

	held := receiveN(t, r.srv.URL, "g-one", topic, 3)
	status, body := post(t, r.srv.URL+"/kafka/queues/g-two/receive", "", `{"topics":["`+topic+`"],"wait_ms":0}`)
	if status != http.StatusServiceUnavailable || !strings.Contains(string(body), "overloaded") || !strings.Contains(string(body), "HTTP_QUEUE_MAX_MEMBERS") {
		t.Fatalf("a second group's receive with no member free: %d %s, want 503 overloaded naming HTTP_QUEUE_MAX_MEMBERS", status, body)
	}
	if status, res := ack(t, r.srv.URL, "g-one", "accept", receipts(held)...); status != http.StatusOK || !allOK(res) {
		t.Fatalf("accept: %d %+v", status, res)
	}
	if got := receiveN(t, r.srv.URL, "g-two", topic, 3); len(got) != 3 {
		t.Fatalf("g-two received %d, want 3", len(got))
	}
	adm := kadm.NewClient(c.Client(t))
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		groups, err := adm.DescribeShareGroups(t.Context(), "g-one", "g-two")
		if err != nil {
			return err
		}
		for _, g := range groups {
			if len(g.Members) != 0 {
				return fmt.Errorf("group %s has %d members", g.GroupID, len(g.Members))
			}
		}
		return nil
	})
}

// TestHolderUnavailable: an acknowledgement whose lease is held by a
// replica that no longer answers is 503 holder_unavailable and settles
// nothing; the record comes back once its lease ends.
func TestHolderUnavailable(t *testing.T) {
	kafkatest.Parallel(t)
	const topic, group = "q-holder", "g-holder"
	c := newCluster(t, kafkatest.Topic(topic, 1))
	startGroup(t, c, group)
	produceN(t, c, topic, 1)
	a := newReplica(t, c, "the replicas' shared secret")
	b := newReplica(t, c, "the replicas' shared secret")
	rec := receiveN(t, a.srv.URL, group, topic, 1)[0]
	a.srv.Close()
	status, res := ack(t, b.srv.URL, group, "accept", rec.Receipt)
	if status != http.StatusServiceUnavailable || res[0].Error == nil || res[0].Error.Code != "holder_unavailable" {
		t.Fatalf("ack through b of a's dead lease: %d %+v, want 503 holder_unavailable", status, res)
	}
	again := receiveN(t, b.srv.URL, group, topic, 1)[0]
	if again.value() != rec.value() || again.DeliveryCount != 2 {
		t.Fatalf("after the lease: got %s delivery %d, want %s delivery 2", again.value(), again.DeliveryCount, rec.value())
	}
	if status, res := ack(t, b.srv.URL, group, "accept", again.Receipt); status != http.StatusOK || !allOK(res) {
		t.Fatalf("accept: %d %+v", status, res)
	}
}
