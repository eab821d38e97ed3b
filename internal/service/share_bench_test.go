package service

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkServeShareVsGroup measures push to a webhook that answers in
// 10ms, from one partition, with 3 serve instances at
// KAFKA_HANDLER_CONCURRENCY 50: in share mode every instance takes
// records of the partition; in group mode one member owns it and the
// others idle. Each iteration delivers 6,000 records with distinct keys;
// msgs/s is what the webhook received.
//
//	go test -run '^$' -bench ServeShareVsGroup -benchtime 1x ./internal/service/
func BenchmarkServeShareVsGroup(b *testing.B) {
	const instances, concurrency, perIteration = 3, 50, 6000
	for _, mode := range []string{ModeGroup, ModeShare} {
		b.Run("mode="+mode, func(b *testing.B) {
			var delivered atomic.Int64
			hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(10 * time.Millisecond) // the receiver's own work, not synchronisation
				delivered.Add(1)
			}))
			defer hook.Close()
			topic := "push-" + mode
			c := kafkatest.NewCluster(b, kafkatest.Topic(topic, 1), kafkatest.Topic(topic+".dlq", 1))
			env := shareEnv(topic, hook.URL, concurrency)
			env["KAFKA_CONSUMER_MODE"] = mode
			urls := make([]string, instances)
			for i := range urls {
				urls[i], _, _ = startService(b, c, env)
			}
			// Timed from every instance ready, and in share mode every
			// member assigned the partition, not from start-up.
			for _, url := range urls {
				waitReady(b, url)
			}
			if mode == ModeShare {
				waitShareAssigned(b, c, env["KAFKA_GROUP_ID"], instances)
			}
			produced := 0
			b.ResetTimer()
			for range b.N {
				recs := make([]*kgo.Record, perIteration)
				for i := range recs {
					seq := produced + i
					recs[i] = &kgo.Record{Topic: topic, Key: strconv.AppendInt(nil, int64(seq), 10), Value: strconv.AppendInt(nil, int64(seq), 10)}
				}
				c.Produce(b, recs...)
				produced += perIteration
				kafkatest.WaitFor(b, 10*time.Minute, func() error {
					if got := delivered.Load(); got < int64(produced) {
						return fmt.Errorf("%d of %d delivered", got, produced)
					}
					return nil
				})
			}
			b.ReportMetric(float64(produced)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// waitShareAssigned waits until at least members members of the share
// group have a partition assigned.
func waitShareAssigned(t testing.TB, c *kafkatest.Cluster, group string, members int) {
	t.Helper()
	adm := kadm.NewClient(c.Client(t))
	kafkatest.WaitFor(t, 60*time.Second, func() error {
		described, err := adm.DescribeShareGroups(context.Background(), group)
		if err != nil {
			return err
		}
		assigned := 0
		for _, m := range described[group].Members {
			if len(m.Assignment) > 0 {
				assigned++
			}
		}
		if assigned < members {
			return fmt.Errorf("%d members assigned, want %d", assigned, members)
		}
		return nil
	})
}

// waitReady waits until url's /readyz answers 200.
func waitReady(t testing.TB, url string) {
	t.Helper()
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz: %d", resp.StatusCode)
		}
		return nil
	})
}
