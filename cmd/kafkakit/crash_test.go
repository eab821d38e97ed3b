package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCrashLosesNothing runs `kafkakit serve` as a consumer of 20,000
// messages on 6 partitions, delivering to a webhook, and kills it with
// SIGKILL at random points three times, restarting it each time. Every
// message must reach the webhook at least once; the test reports how many
// arrived twice.
func TestCrashLosesNothing(t *testing.T) {
	kafkatest.Parallel(t)
	sigkillTest(t)
	const n, partitions, kills = 20_000, 6, 3
	c := kafkatest.NewCluster(t, kafkatest.Topic("work", partitions))
	recs := make([]*kgo.Record, n)
	for i := range n {
		recs[i] = &kgo.Record{Topic: "work", Partition: int32(i % partitions), Value: []byte(fmt.Sprint(i))}
	}
	c.Produce(t, recs...)

	var mu sync.Mutex
	deliveries := map[string]int{} // "partition/offset" -> times delivered
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Partition int32 `json:"partition"`
			Offset    int64 `json:"offset"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		time.Sleep(100 * time.Microsecond) // the work a real webhook does
		mu.Lock()
		deliveries[fmt.Sprintf("%d/%d", body.Partition, body.Offset)]++
		mu.Unlock()
	}))
	defer hook.Close()
	distinct := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(deliveries)
	}

	env := []string{
		"KAFKA_BROKERS=" + strings.Join(c.Addrs(), ","),
		"KAFKA_CONSUMER_TOPICS=work",
		"KAFKA_CONSUMER_FROM_BEGINNING=true",
		"KAFKA_HANDLER=webhook",
		"KAFKA_WEBHOOK_URL=" + hook.URL,
		"KAFKA_GROUP_ID=crash-test",
		// A killed member is noticed quickly, so the next one need not
		// wait long for its partitions.
		"KAFKA_SESSION_TIMEOUT=1000",
		"KAFKA_HEARTBEAT_INTERVAL=100",
		"KAFKA_MAX_WAIT_TIME=200",
		"HTTP_ADDR=127.0.0.1:0",
		"LOG_LEVEL=warn",
	}
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("seed %d", seed)
	for k := range kills {
		p := startProcess(t, env, "serve")
		// Kill somewhere in the next stretch of work.
		target := min(distinct()+500+rng.IntN(n/(kills+1)), n-1000)
		kafkatest.WaitFor(t, 120*time.Second, func() error {
			if d := distinct(); d < target {
				return fmt.Errorf("delivered %d distinct, waiting for %d before kill %d", d, target, k+1)
			}
			return nil
		})
		if err := p.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-p.done
		t.Logf("kill %d after %d distinct deliveries", k+1, distinct())
	}
	last := startProcess(t, env, "serve")
	kafkatest.WaitFor(t, 180*time.Second, func() error {
		if d := distinct(); d < n {
			return fmt.Errorf("delivered %d of %d distinct messages", d, n)
		}
		return nil
	})
	if code := last.stop(t); code != 0 {
		t.Errorf("final process exited %d", code)
	}

	mu.Lock()
	defer mu.Unlock()
	var twice, total int
	for p := range partitions {
		for off := range n / partitions {
			times := deliveries[fmt.Sprintf("%d/%d", p, off)]
			if times == 0 {
				t.Fatalf("partition %d offset %d never delivered", p, off)
			}
			total += times
			if times > 1 {
				twice++
			}
		}
	}
	t.Logf("%d messages, %d deliveries, %d delivered more than once across %d SIGKILLs", n, total, twice, kills)
}
