package queue_test

import (
	"encoding/binary"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/kafkakit/kafkakit/queue"
)

// TestRejectDeadLetters: a rejected record is written to its topic's
// dead-letter topic with Spring's headers, then never delivered again.
func TestRejectDeadLetters(t *testing.T) {
	kafkatest.Parallel(t)
	const topic, group = "q-reject", "g-reject"
	c := newCluster(t, kafkatest.Topic(topic, 1), kafkatest.Topic(topic+".dlq", 1))
	startGroup(t, c, group)
	produceN(t, c, topic, 2)
	p, err := producer.New(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	r := newReplica(t, c, "", queue.DeadLetters(p, ".dlq"))

	recs := receiveN(t, r.srv.URL, group, topic, 2)
	if status, res := ack(t, r.srv.URL, group, "reject", recs[0].Receipt); status != http.StatusOK || !allOK(res) {
		t.Fatalf("reject: %d %+v", status, res)
	}
	if status, res := ack(t, r.srv.URL, group, "accept", recs[1].Receipt); status != http.StatusOK || !allOK(res) {
		t.Fatalf("accept: %d %+v", status, res)
	}
	dead := c.ReadAll(t, topic+".dlq", 1, 30*time.Second)[0]
	if string(dead.Value) != recs[0].value() {
		t.Errorf("dead letter %q, want %q", dead.Value, recs[0].value())
	}
	var offset []byte
	for _, h := range dead.Headers {
		if h.Key == consumer.HeaderOriginalOffset {
			offset = h.Value
		}
	}
	if len(offset) != 8 || int64(binary.BigEndian.Uint64(offset)) != recs[0].Offset {
		t.Errorf("dead letter's original offset header %x, want offset %d", offset, recs[0].Offset)
	}
	if more := receive(t, r.srv.URL, group, topic, 10, 300); len(more) != 0 {
		t.Errorf("a rejected record came back: %+v", more)
	}
}

// TestRejectWithoutDeadLetterTopic: when the dead letter cannot be
// written, the record is not rejected: the item is 502 and the lease
// stands, so the record can still be accepted.
func TestRejectWithoutDeadLetterTopic(t *testing.T) {
	kafkatest.Parallel(t)
	const topic, group = "q-nodlq", "g-nodlq"
	c := newCluster(t, kafkatest.NoAutoCreate(), kafkatest.Topic(topic, 1))
	startGroup(t, c, group)
	produceN(t, c, topic, 1)
	cfg := c.Config()
	cfg.RequestTimeout = 2 * time.Second
	p, err := producer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	r := newReplica(t, c, "", queue.DeadLetters(p, ".dlq"), queue.RequestTimeout(2*time.Second))

	rec := receiveN(t, r.srv.URL, group, topic, 1)[0]
	status, res := ack(t, r.srv.URL, group, "reject", rec.Receipt)
	if status != http.StatusBadGateway || res[0].Error == nil || !strings.Contains(res[0].Error.Message, topic+".dlq") {
		t.Fatalf("reject without a dead-letter topic: %d %+v, want 502 naming %s.dlq", status, res, topic)
	}
	if status, res := ack(t, r.srv.URL, group, "accept", rec.Receipt); status != http.StatusOK || !allOK(res) {
		t.Fatalf("accept after the failed reject: %d %+v", status, res)
	}
}
