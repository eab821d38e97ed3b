package service

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkServeWebhookConcurrency measures `serve` delivering to a webhook
// that answers in 2ms but hangs 200ms on 1% of calls, on 4 partitions with
// 1,000 keys, at KAFKA_HANDLER_CONCURRENCY 1 and 16: a bounded version of
// the soak where every hang stopped its whole partition. Each iteration
// delivers 4,000 records; msgs/s is what the webhook received.
//
//	go test -run '^$' -bench ServeWebhookConcurrency -benchtime 1x ./internal/service/
func BenchmarkServeWebhookConcurrency(b *testing.B) {
	const partitions, keys, perIteration = 4, 1000, 4000
	for _, n := range []int{1, 16} {
		b.Run(fmt.Sprintf("concurrency=%d", n), func(b *testing.B) {
			var delivered atomic.Int64
			hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var body struct{ Value json.RawMessage }
				json.NewDecoder(r.Body).Decode(&body)
				seq, _ := strconv.Atoi(string(body.Value))
				pause := 2 * time.Millisecond
				if seq%100 == 50 {
					pause = 200 * time.Millisecond
				}
				time.Sleep(pause) // the receiver's own work, not synchronisation
				delivered.Add(1)
			}))
			defer hook.Close()
			c := kafkatest.NewCluster(b, kafkatest.Topic("work", partitions), kafkatest.Topic("work.dlq", partitions))
			url, _, _ := startService(b, c, map[string]string{
				"KAFKA_CONSUMER_TOPICS":         "work",
				"KAFKA_CONSUMER_FROM_BEGINNING": "true",
				"KAFKA_HANDLER":                 "webhook",
				"KAFKA_WEBHOOK_URL":             hook.URL,
				"KAFKA_HANDLER_CONCURRENCY":     strconv.Itoa(n),
				"LOG_LEVEL":                     "warn",
			})
			// Timed from the group joined, not from start-up.
			kafkatest.WaitFor(b, 30*time.Second, func() error {
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
			produced := 0
			b.ResetTimer()
			for range b.N {
				recs := make([]*kgo.Record, perIteration)
				for i := range recs {
					seq := produced + i
					recs[i] = &kgo.Record{Topic: "work", Partition: int32(seq % partitions),
						Key: fmt.Appendf(nil, "k%04d", seq%keys), Value: strconv.AppendInt(nil, int64(seq), 10)}
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
