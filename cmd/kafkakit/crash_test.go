package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// offsetCounter is the webhook of TestCrashLosesNothing: it counts how
// many times each partition/offset was delivered.
type offsetCounter struct {
	mu         sync.Mutex
	deliveries map[string]int // "partition/offset" -> times delivered
}

func (h *offsetCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Partition int32 `json:"partition"`
		Offset    int64 `json:"offset"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	time.Sleep(100 * time.Microsecond) // the work a real webhook does
	h.mu.Lock()
	h.deliveries[fmt.Sprintf("%d/%d", body.Partition, body.Offset)]++
	h.mu.Unlock()
}

// distinct returns how many different records were delivered.
func (h *offsetCounter) distinct() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.deliveries)
}

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

	hook := &offsetCounter{deliveries: map[string]int{}}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	env := append(webhookServeEnv(c, "work", srv.URL, "KAFKA_CONSUMER_FROM_BEGINNING=true", "KAFKA_GROUP_ID=crash-test"),
		quickTakeover...)
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("seed %d", seed)
	for k := range kills {
		p := startProcess(t, env, "serve")
		// Kill somewhere in the next stretch of work.
		target := min(hook.distinct()+500+rng.IntN(n/(kills+1)), n-1000)
		kafkatest.WaitFor(t, 120*time.Second, func() error {
			if d := hook.distinct(); d < target {
				return fmt.Errorf("delivered %d distinct, waiting for %d before kill %d", d, target, k+1)
			}
			return nil
		})
		p.kill(t)
		t.Logf("kill %d after %d distinct deliveries", k+1, hook.distinct())
	}
	last := startProcess(t, env, "serve")
	waitDistinct(t, 180*time.Second, n, hook.distinct, "delivered %d of %d distinct messages")
	if code := last.stop(t); code != 0 {
		t.Errorf("final process exited %d", code)
	}
	hook.checkEveryOffset(t, n, partitions, kills)
}

// checkEveryOffset fails the test unless every offset of every partition
// was delivered (the records went round-robin, so the first n%partitions
// partitions hold one more), and logs how many were delivered more than
// once.
func (h *offsetCounter) checkEveryOffset(t *testing.T, n, partitions, kills int) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	var twice, total int
	for p := range partitions {
		held := n / partitions
		if p < n%partitions {
			held++
		}
		for off := range held {
			times := h.deliveries[fmt.Sprintf("%d/%d", p, off)]
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
