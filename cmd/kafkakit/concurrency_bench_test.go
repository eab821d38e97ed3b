package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
	p := startBinary(b, bin, []string{
		"KAFKA_BROKERS=" + strings.Join(c.Addrs(), ","),
		"KAFKA_CONSUMER_TOPICS=work",
		"KAFKA_CONSUMER_FROM_BEGINNING=true",
		"KAFKA_HANDLER=webhook",
		"KAFKA_WEBHOOK_URL=" + url,
		"KAFKA_HANDLER_CONCURRENCY=" + strconv.Itoa(concurrency),
		"HTTP_ADDR=127.0.0.1:0",
		"LOG_LEVEL=warn",
	}, "serve")
	kafkatest.WaitFor(b, 10*time.Minute, func() error {
		hook.mu.Lock()
		defer hook.mu.Unlock()
		if got := len(hook.acked); got < records {
			return fmt.Errorf("%d of %d acknowledged", got, records)
		}
		return nil
	})
	if code := p.stop(b); code != 0 {
		b.Errorf("serve exited %d", code)
	}
	hook.checkFirstDeliveryOrder(b)
	hook.mu.Lock()
	defer hook.mu.Unlock()
	if len(hook.arrivals) != records {
		b.Logf("%d calls for %d records", len(hook.arrivals), records)
	}
	return float64(records) / hook.lastAck.Sub(hook.firstCall).Seconds()
}
