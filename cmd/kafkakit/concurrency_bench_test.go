package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
)

// plainBinary builds kafkakit without the race detector, once, for the
// benchmarks: the tests' binary is built with it, which slows the
// service several times over.
var plainBinary = sync.OnceValues(func() (string, error) {
	path := filepath.Join(filepath.Dir(binary), "kafkakit-plain")
	if out, err := exec.Command("go", "build", "-o", path, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build kafkakit: %w\n%s", err, out)
	}
	return path, nil
})

// BenchmarkServeKeyConcurrency runs `kafkakit serve` as a separate
// process delivering one partition, keyed over 1,000 keys, to a webhook
// that takes 10 ms a call, at KAFKA_HANDLER_CONCURRENCY 1 and 100. At 1
// it delivers a prefix of 1,000 records (20,000 would take over 200 s);
// at 100, all 20,000. msgs/s counts from the webhook's first call to its
// last acknowledgement; each key's records must have reached it in
// offset order.
//
//	go test -run '^$' -bench ServeKeyConcurrency -benchtime 1x ./cmd/kafkakit/
func BenchmarkServeKeyConcurrency(b *testing.B) {
	const keys = 1000
	bin, err := plainBinary()
	if err != nil {
		b.Fatal(err)
	}
	for _, run := range []struct{ concurrency, records int }{{1, 1000}, {100, 20_000}} {
		b.Run(fmt.Sprintf("concurrency=%d/records=%d", run.concurrency, run.records), func(b *testing.B) {
			var rate float64
			for range b.N {
				rate = serveKeyedRate(b, bin, run.concurrency, run.records, keys)
			}
			b.ReportMetric(rate, "msgs/s")
		})
	}
}

// serveKeyedRate produces records to a new cluster, starts serve on bin
// and returns the records per second its webhook received.
func serveKeyedRate(b *testing.B, bin string, concurrency, records, keys int) float64 {
	c := kafkatest.NewCluster(b, kafkatest.Topic("work", 1))
	c.Produce(b, keyedRecords("work", 0, records, keys)...)
	hook, url := newKeyedHook(b, func(int64) time.Duration { return 10 * time.Millisecond })
	p := startBinary(b, bin, keyedServeEnv(c, url, concurrency), "serve")
	// Stopping lets the last calls finish, so lastAck is the last answer.
	hook.finish(b, p, records, 10*time.Minute)
	hook.mu.Lock()
	defer hook.mu.Unlock()
	if len(hook.arrivals) != records {
		b.Logf("%d calls for %d records", len(hook.arrivals), records)
	}
	return float64(records) / hook.lastAck.Sub(hook.firstCall).Seconds()
}
