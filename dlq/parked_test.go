package dlq_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/dlq"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/kafkakit/kafkakit/producer"
	"github.com/twmb/franz-go/pkg/kadm"
)

// writeTired puts on tired.dlq one dead letter per partition already
// replayed as often as a replay allows, so that a replay parks them.
func writeTired(t *testing.T, c *kafkatest.Cluster) {
	t.Helper()
	p, err := producer.New(c.Config(), producer.Logger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var msgs []producer.Message
	for i := range int32(2) {
		orig := &consumer.Message{Topic: "tired", Partition: i, Key: []byte{'k', byte('0' + i)}, Value: []byte("v"), Timestamp: time.Now(),
			Headers: []consumer.Header{{Key: dlq.HeaderReplayCount, Value: []byte("3")}}}
		msgs = append(msgs, consumer.DeadLetter(orig, errors.New("boom"), 4, "g", "tired.dlq", time.Now()))
	}
	if _, err := p.SendBatch(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
}

// TestParkedTopicWithoutAutoCreation: on a cluster that creates no topic
// on first use, a replay creates the parked topic with the dead-letter
// topic's partitions, and parks there; with
// creation off, the replay stops before parking, naming the topic and
// what to create.
func TestParkedTopicWithoutAutoCreation(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.NoAutoCreate(), kafkatest.Topic("tired", 2), kafkatest.Topic("tired.dlq", 2))
	writeTired(t, c)

	off := c.Config()
	off.CreateTopics = false
	_, err := dlq.Replay(t.Context(), off, dlq.ReplayOptions{Topic: "tired.dlq", Logger: quiet})
	want := "topic tired.dlq.parked: the parked topic of tired.dlq does not exist and KAFKA_TOPICS_CREATE is false: create it with 2 partitions, as tired.dlq has"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("creation off: %v; want %q", err, want)
	}

	sum, err := dlq.Replay(t.Context(), c.Config(), dlq.ReplayOptions{Topic: "tired.dlq", Logger: quiet})
	if err != nil || sum.Parked != 2 {
		t.Fatalf("replay: %+v, %v; want 2 parked", sum, err)
	}
	details, err := kadm.NewClient(c.Client(t)).ListTopics(t.Context(), "tired.dlq.parked")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(details["tired.dlq.parked"].Partitions); n != 2 {
		t.Errorf("tired.dlq.parked has %d partitions, want 2", n)
	}
	if recs := c.ReadAll(t, "tired.dlq.parked", 2, 30*time.Second); len(recs) != 2 {
		t.Errorf("tired.dlq.parked holds %d letters, want 2", len(recs))
	}
}
