package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkRetryOtherKeys measures, on one partition with 1,000 keys and
// retry topics, the throughput of the 999 keys other than K: with no
// failures, and with K's first record failing three times before it
// succeeds (its later records parked behind it). Each iteration consumes
// 20 records per key, 20,000 in all, on a fresh cluster.
//
//	go test -run '^$' -bench BenchmarkRetryOtherKeys -benchtime 3x ./consumer/
func BenchmarkRetryOtherKeys(b *testing.B) {
	for _, failK := range []bool{false, true} {
		name := "no-failures"
		if failK {
			name = "K-fails-3-times"
		}
		b.Run(name, func(b *testing.B) {
			var rate float64
			for range b.N {
				rate += retryOtherKeysRun(b, failK)
			}
			b.ReportMetric(rate/float64(b.N), "other-keys-records/s")
		})
	}
}

// retryOtherKeysRun is one iteration of BenchmarkRetryOtherKeys: it
// returns the other keys' records per second, from the first record
// handled to the last other key's record.
func retryOtherKeysRun(b *testing.B, failK bool) float64 {
	b.StopTimer()
	const keys, perKey = 1000, 20
	c := kafkatest.NewCluster(b, kafkatest.Topic("rb", 1))
	recs := make([]*kgo.Record, 0, keys*perKey)
	for i := range perKey {
		for k := range keys {
			recs = append(recs, &kgo.Record{Topic: "rb", Key: fmt.Appendf(nil, "k%d", k), Value: fmt.Appendf(nil, "%d", i)})
		}
	}
	c.Produce(b, recs...)
	var (
		kCalls  atomic.Int32
		others  atomic.Int64
		first   sync.Once
		started time.Time
		done    = make(chan time.Time, 1)
	)
	h := consumer.HandlerFunc(func(_ context.Context, m *consumer.Message) error {
		first.Do(func() { started = time.Now() })
		if string(m.Key) == "k0" {
			if failK && string(m.Value) == "0" && kCalls.Add(1) <= 3 {
				return errors.New("K fails")
			}
			return nil
		}
		if others.Add(1) == (keys-1)*perKey {
			done <- time.Now()
		}
		return nil
	})
	cfg := rangeConfig(c)
	cs, err := consumer.New(cfg, consumer.Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	defer cs.Close()
	policy := consumer.Policy(consumer.RetryTopics(10*time.Millisecond, 20*time.Millisecond, 30*time.Millisecond), consumer.DeadLetterSuffix(".dlq"))
	if err := cs.Subscribe("rb", true, h, consumer.Failures(policy)); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.StartTimer()
	go cs.Run(ctx)
	var end time.Time
	select {
	case end = <-done:
	case <-time.After(2 * time.Minute):
		b.Fatal("the other keys were not all handled within 2 minutes")
	}
	b.StopTimer()
	return float64((keys-1)*perKey) / end.Sub(started).Seconds()
}
