package kafkatest_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestReadAllCreatesNothing: on a cluster that creates topics on first
// use, ReadAll of a topic that does not exist yet waits for it without
// having the brokers create it, so that the topic someone then creates
// with 3 partitions is the one read, and a record in its partition 2
// arrives.
func TestReadAllCreatesNothing(t *testing.T) {
	c := kafkatest.NewCluster(t)
	asked := make(chan struct{})
	var once sync.Once
	c.Fake().ControlKey(int16(kmsg.Metadata), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.Fake().KeepControl()
		for _, rt := range req.(*kmsg.MetadataRequest).Topics {
			if rt.Topic != nil && *rt.Topic == "later" {
				once.Do(func() { close(asked) })
			}
		}
		return nil, nil, false
	})
	cl := c.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	created := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		select {
		case <-asked:
		case <-ctx.Done():
			created <- ctx.Err()
			return
		}
		resp, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 1, nil, "later")
		if err == nil {
			err = resp.Err
		}
		if err == nil {
			err = cl.ProduceSync(ctx, &kgo.Record{Topic: "later", Partition: 2, Value: []byte("v")}).FirstErr()
		}
		created <- err
	}()
	recs := c.ReadAll(t, "later", 1, 30*time.Second)
	if err := <-created; err != nil {
		t.Fatalf("create the topic the reader waits for: %v", err)
	}
	if recs[0].Partition != 2 {
		t.Errorf("record read from partition %d, want 2", recs[0].Partition)
	}
}
