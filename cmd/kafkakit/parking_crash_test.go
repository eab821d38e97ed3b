package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// parkingHook is a webhook that records, per key, the values it answered
// 200 for, in order, and fails the value failing while fail is set.
type parkingHook struct {
	mu      sync.Mutex
	ok      map[string][]string // key -> values answered 200, in order
	failing string
	fail    atomic.Bool
}

func (h *parkingHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if body.Value == h.failing && h.fail.Load() {
		http.Error(w, "failing", http.StatusInternalServerError)
		return
	}
	h.mu.Lock()
	h.ok[body.Key] = append(h.ok[body.Key], body.Value)
	h.mu.Unlock()
}

// firstOrder is key's values in the order each was first answered 200.
func (h *parkingHook) firstOrder(key string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, v := range h.ok[key] {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// endOffset is the sum of topic's partitions' end offsets, 0 when the
// topic does not exist.
func endOffset(t *testing.T, c *kafkatest.Cluster, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(c.Client(t)).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			n += o.Offset
		} else if !errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
			t.Errorf("end offset of %s: %v", topic, o.Err)
		}
	})
	return n
}

// TestParkedKeySurvivesSIGKILL runs `kafkakit serve` in retry-topics mode:
// key K's first record fails and moves to the second retry topic, K's
// later records follow it into the first; the process is killed with
// SIGKILL then, and a new process takes over. Every record reaches the
// webhook, K's records first succeed in produce order, and nothing is
// dead-lettered.
func TestParkedKeySurvivesSIGKILL(t *testing.T) {
	kafkatest.Parallel(t)
	sigkillTest(t)
	c := kafkatest.NewCluster(t, kafkatest.Topic("orders", 2))
	hook := &parkingHook{ok: map[string][]string{}, failing: "K/0"}
	hook.fail.Store(true)
	srv := httptest.NewServer(hook)
	defer srv.Close()
	rec := func(key, value string) *kgo.Record {
		return &kgo.Record{Topic: "orders", Partition: 0, Key: []byte(key), Value: []byte(value)}
	}
	env := append(webhookServeEnv(c, "orders", srv.URL,
		"KAFKA_CONSUMER_FROM_BEGINNING=true",
		"KAFKA_GROUP_ID=parking-crash",
		"KAFKA_HANDLER_RETRY_MODE=topics",
		// The second delay outlasts the kill and the takeover, so that K/0
		// is still in the retry path when the new process starts.
		"KAFKA_HANDLER_RETRY_DELAYS=200,4000",
	), quickTakeover...)
	c.Produce(t, rec("K", "K/0"), rec("K", "K/1"), rec("A", "A/0"), rec("K", "K/2"), rec("A", "A/1"), rec("K", "K/3"))
	first := startProcess(t, env, "serve")
	// K/0 failed twice: from the subscribed topic and from the first
	// retry topic, where K/1 to K/3 followed it.
	kafkatest.WaitFor(t, 60*time.Second, func() error {
		if n, m := endOffset(t, c, "orders-retry-4000"), endOffset(t, c, "orders-retry-200"); n < 1 || m < 4 {
			return fmt.Errorf("%d records in orders-retry-4000, %d in orders-retry-200; want 1 and 4", n, m)
		}
		return nil
	})
	first.kill(t)
	if got := hook.firstOrder("K"); len(got) != 0 {
		t.Fatalf("K's records %v reached the webhook while K/0 was failing", got)
	}

	hook.fail.Store(false)
	c.Produce(t, rec("K", "K/4"), rec("B", "B/0"))
	last := startProcess(t, env, "serve")
	want := []string{"K/0", "K/1", "K/2", "K/3", "K/4"}
	kafkatest.WaitFor(t, 90*time.Second, func() error {
		if got := hook.firstOrder("K"); len(got) < len(want) || len(hook.firstOrder("A")) < 2 || len(hook.firstOrder("B")) < 1 {
			return fmt.Errorf("K %v, A %v, B %v reached the webhook", got, hook.firstOrder("A"), hook.firstOrder("B"))
		}
		return nil
	})
	if code := last.stop(t); code != 0 {
		t.Errorf("second process exited %d", code)
	}
	if got := hook.firstOrder("K"); !slices.Equal(got, want) {
		t.Errorf("K's records first succeeded in order %v, want %v", got, want)
	}
	if n := endOffset(t, c, "orders.dlq"); n != 0 {
		t.Errorf("%d records dead-lettered, want none", n)
	}
}
