package consumer_test

import (
	"context"
	"testing"

	"github.com/kafkakit/kafkakit/internal/bench"
	"github.com/kafkakit/kafkakit/kafkatest"
)

// BenchmarkRetryOtherKeys measures, on one partition with 1,000 keys and
// retry topics, the throughput of the 999 keys other than K: with no
// failures, and with K's first record failing three times before it
// succeeds (its later records parked behind it). Each iteration runs both,
// in alternating order, on 200,000 records each, as `kafkakit bench retry`
// does (the same code), and checks K's order; the metrics are the medians
// and their ratio.
//
//	go test -run '^$' -bench BenchmarkRetryOtherKeys -benchtime 5x ./consumer/
func BenchmarkRetryOtherKeys(b *testing.B) {
	c := kafkatest.NewCluster(b)
	w := bench.Workload{Topic: "rb", Messages: 200_000, Size: 64, Keys: 1000, Concurrency: 1}
	plain, failing, err := bench.RetryRounds(context.Background(), c.Config(), w, b.N, nil)
	if err != nil {
		b.Fatal(err)
	}
	ratio, p, f := bench.RetryRatio(plain, failing)
	b.ReportMetric(p.MsgsPerSec(), "no-failures-msgs/s")
	b.ReportMetric(f.MsgsPerSec(), "K-failing-msgs/s")
	b.ReportMetric(ratio, "ratio")
	b.Log(f.Note)
}
