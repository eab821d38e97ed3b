package bench_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/config"
	"github.com/kafkakit/kafkakit/internal/bench"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kfake"
)

// The benchmarks run each kafkakit path beside its raw franz-go baseline on
// the same in-process broker, so that benchstat can compare them and the
// ratio can be read in one run:
//
//	go test -run '^$' -bench . -count 5 ./internal/bench | tee new.txt

var topicSeq int

func setup(b *testing.B, partitions int, opts ...kafkatest.Option) (config.Kafka, bench.Workload) {
	b.Helper()
	c, err := kafkatest.Start(opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	topicSeq++
	w := bench.Workload{Topic: fmt.Sprintf("bench-%d", topicSeq), Size: 256, Partitions: partitions, Concurrency: 32}
	if err := bench.CreateTopic(context.Background(), c.Config(), w); err != nil {
		b.Fatal(err)
	}
	return c.Config(), w
}

func report(b *testing.B, r bench.Result, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(r.MsgsPerSec(), "msgs/s")
	b.ReportMetric(r.AllocsPerMsg(), "allocs/msg")
	if c := r.CPUPerMsg(); c > 0 {
		b.ReportMetric(float64(c)/float64(time.Microsecond), "cpu-µs/msg")
	}
	if p := r.Percentile(0.99); p > 0 {
		b.ReportMetric(float64(p.Microseconds()), "p99-µs")
	}
}

func BenchmarkProduce(b *testing.B) {
	for _, async := range []bool{false, true} {
		mode := "sync"
		if async {
			mode = "async"
		}
		for _, impl := range []string{"franz-go", "kafkakit"} {
			b.Run(mode+"/"+impl, func(b *testing.B) {
				// The broker keeps nothing, so that its work does not
				// drown the clients' differences.
				cfg, w := setup(b, 6, kafkatest.KfakeOpts(kfake.BlackholeProduce()))
				w.Async, w.Messages = async, b.N
				b.SetBytes(int64(w.Size))
				var r bench.Result
				var err error
				if impl == "franz-go" {
					r, err = bench.ProduceRaw(context.Background(), cfg, w)
				} else {
					r, err = bench.ProduceKafkakit(context.Background(), cfg, w)
				}
				report(b, r, err)
			})
		}
	}
}

func BenchmarkConsume(b *testing.B) {
	for _, impl := range []string{"franz-go", "kafkakit"} {
		b.Run(impl, func(b *testing.B) {
			cfg, w := setup(b, 6)
			w.Messages = max(b.N, 1000)
			if err := bench.Fill(context.Background(), cfg, w); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			var r bench.Result
			var err error
			if impl == "franz-go" {
				r, err = bench.ConsumeRaw(context.Background(), cfg, w, "raw")
			} else {
				r, err = bench.ConsumeKafkakit(context.Background(), cfg, w, "kafkakit")
			}
			report(b, r, err)
		})
	}
}

func BenchmarkHTTP(b *testing.B) {
	for _, batch := range []int{0, 100} {
		name := "send"
		if batch > 0 {
			name = "send-batch"
		}
		b.Run(name+"/franz-go", func(b *testing.B) {
			cfg, w := setup(b, 6)
			w.Messages, w.Async = b.N, batch > 0
			r, err := bench.ProduceRaw(context.Background(), cfg, w)
			report(b, r, err)
		})
		// The same pushes to a server that does no work: what net/http
		// and the loopback cost alone, the ceiling of any handler.
		b.Run(name+"/net-http-noop", func(b *testing.B) {
			_, w := setup(b, 6)
			w.Messages, w.Batch = b.N, batch
			url, stop, err := bench.StartNoop()
			if err != nil {
				b.Fatal(err)
			}
			defer stop()
			r, err := bench.HTTPNoop(context.Background(), url, w)
			report(b, r, err)
		})
		b.Run(name+"/kafkakit", func(b *testing.B) {
			cfg, w := setup(b, 6)
			w.Messages, w.Batch = b.N, batch
			url, stop, err := bench.StartAPI(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer stop()
			r, _, err := bench.HTTP(context.Background(), url, w)
			report(b, r, err)
		})
	}
}

// BenchmarkKeyed compares one worker with 100 workers by key when the
// handler waits 5ms, on one partition with 1,000 keys.
func BenchmarkKeyed(b *testing.B) {
	for _, workers := range []int{1, 100} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			cfg, w := setup(b, 1)
			w.Messages, w.Keys, w.Concurrency, w.HandlerWait = max(b.N, 100), 1000, workers, 5*time.Millisecond
			if err := bench.Fill(context.Background(), cfg, w); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			r, err := bench.ConsumeKafkakit(context.Background(), cfg, w, "keyed")
			report(b, r, err)
		})
	}
}
