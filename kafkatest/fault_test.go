package kafkatest_test

import (
	"context"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestInjectedLeaderChangeIsFast: a client built from Config retries a
// produce that a broker answered NOT_LEADER_FOR_PARTITION in well under
// franz-go's default 5s minimum between metadata refreshes.
func TestInjectedLeaderChangeIsFast(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.Topic("moving", 1))
	cl := c.Client(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	// A first send loads the metadata, so the fault hits the retry path.
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "moving", Value: []byte("warm-up")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "moving", Err: kerr.NotLeaderForPartition})
	start := time.Now()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "moving", Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("send after one NOT_LEADER_FOR_PARTITION took %v, want well under 5s", took)
	}
}
