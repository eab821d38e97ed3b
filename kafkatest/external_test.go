package kafkatest_test

import (
	"testing"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestEachClusterStartsEmpty: a topic and its records do not outlive the
// test that made them, on kfake as on an external cluster, which
// NewCluster empties before and after each test.
func TestEachClusterStartsEmpty(t *testing.T) {
	for round := range 2 {
		c := kafkatest.NewCluster(t, kafkatest.Topic("left-over", 2))
		c.Produce(t, &kgo.Record{Topic: "left-over", Partition: 1, Value: []byte("v")})
		if got := c.ReadToEnd(t, "left-over"); len(got) != 1 {
			t.Fatalf("round %d: %d records in a new topic, want 1", round, len(got))
		}
		topics, err := kadm.NewClient(c.Client(t)).ListTopics(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if got := topics.Names(); len(got) != 1 || got[0] != "left-over" {
			t.Fatalf("round %d: topics %v, want only left-over", round, got)
		}
		c.Close()
	}
}
