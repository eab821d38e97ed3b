package service

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// keyedReceiver is a webhook that records, per key, the sequence numbers
// (the record values) in the order their calls arrived, and how many
// calls were running at once. hold, when set, decides what a call does
// before it is answered.
type keyedReceiver struct {
	mu        sync.Mutex
	arrived   map[string][]int
	active    map[string]int // calls running per key
	inFlight  int
	maxFlight int
	sameKey   []string // keys seen with two calls running at once
	hold      func(key string, seq int, r *http.Request) int
}

func newKeyedReceiver(t *testing.T, hold func(key string, seq int, r *http.Request) int) (*keyedReceiver, string) {
	rc := &keyedReceiver{arrived: map[string][]int{}, active: map[string]int{}, hold: hold}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv.URL
}

func (rc *keyedReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Key   string
		Value json.RawMessage
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	seq, err := strconv.Atoi(string(body.Value))
	if err != nil {
		http.Error(w, "value is not a number", http.StatusUnprocessableEntity)
		return
	}
	rc.mu.Lock()
	rc.arrived[body.Key] = append(rc.arrived[body.Key], seq)
	rc.active[body.Key]++
	if rc.active[body.Key] > 1 {
		rc.sameKey = append(rc.sameKey, body.Key)
	}
	rc.inFlight++
	rc.maxFlight = max(rc.maxFlight, rc.inFlight)
	rc.mu.Unlock()
	status := http.StatusOK
	if rc.hold != nil {
		status = rc.hold(body.Key, seq, r)
	}
	rc.mu.Lock()
	rc.active[body.Key]--
	rc.inFlight--
	rc.mu.Unlock()
	w.WriteHeader(status)
}

// snapshot returns the running calls, the most seen at once, and the
// distinct sequence numbers delivered.
func (rc *keyedReceiver) snapshot() (inFlight, maxFlight, delivered int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, seqs := range rc.arrived {
		delivered += len(firstDeliveries(seqs))
	}
	return rc.inFlight, rc.maxFlight, delivered
}

// firstDeliveries drops the repeats of a retried call: what is left is
// each record's first delivery, in arrival order.
func firstDeliveries(seqs []int) []int {
	var out []int
	for _, s := range seqs {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// checkKeyOrder fails the test unless every key's records arrived in
// offset (sequence) order, each of them, and never two at once.
func (rc *keyedReceiver) checkKeyOrder(t *testing.T, keys, total int) {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.sameKey) > 0 {
		t.Errorf("keys handled twice at once: %v", rc.sameKey)
	}
	for k := range keys {
		key := fmt.Sprintf("k%02d", k)
		var want []int
		for seq := k; seq < total; seq += keys {
			want = append(want, seq)
		}
		if got := firstDeliveries(rc.arrived[key]); !slices.Equal(got, want) {
			t.Errorf("key %s: first deliveries %v, want %v (all arrivals %v)", key, got, want, rc.arrived[key])
		}
		// A retried record is called again before its key's next one.
		seen := map[int]bool{}
		for i, s := range rc.arrived[key] {
			if seen[s] && rc.arrived[key][i-1] != s {
				t.Errorf("key %s: %d delivered again after a later record: %v", key, s, rc.arrived[key])
			}
			seen[s] = true
		}
	}
}

// produceKeyed writes total records to topic's partition 0: record i has
// key k<i mod keys> and value i.
func produceKeyed(t *testing.T, c *kafkatest.Cluster, topic string, keys, total int) {
	t.Helper()
	recs := make([]*kgo.Record, total)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Partition: 0, Key: fmt.Appendf(nil, "k%02d", i%keys), Value: strconv.AppendInt(nil, int64(i), 10)}
	}
	c.Produce(t, recs...)
}

// partitionStatus is one partition in GET /kafka/consumers.
type partitionStatus struct {
	Partition     int32
	Committed     int64
	HighWatermark int64 `json:"high_watermark"`
	InFlight      int   `json:"in_flight"`
}

// consumerPartition returns partition 0 of the service's only
// subscription, and the subscription's concurrency.
func consumerPartition(t *testing.T, url string) (partitionStatus, int, error) {
	t.Helper()
	resp, err := http.Get(url + "/kafka/consumers")
	if err != nil {
		return partitionStatus{}, 0, err
	}
	defer resp.Body.Close()
	var status struct {
		Consumers []struct {
			Subscriptions []struct {
				Concurrency int
				Partitions  []partitionStatus
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&status); err != nil {
		return partitionStatus{}, 0, err
	}
	if len(status.Consumers) != 1 || len(status.Consumers[0].Subscriptions) != 1 || len(status.Consumers[0].Subscriptions[0].Partitions) != 1 {
		return partitionStatus{}, 0, fmt.Errorf("no single partition yet: %+v", status)
	}
	sub := status.Consumers[0].Subscriptions[0]
	return sub.Partitions[0], sub.Concurrency, nil
}

// waitCommitted waits until partition 0 is committed through want.
func waitCommitted(t *testing.T, url string, want int64) {
	t.Helper()
	kafkatest.WaitFor(t, 30*time.Second, func() error {
		p, _, err := consumerPartition(t, url)
		if err != nil {
			return err
		}
		if p.Committed != want {
			return fmt.Errorf("committed %d, want %d", p.Committed, want)
		}
		return nil
	})
}

// waitDelivered waits until the receiver has had want distinct records.
func waitDelivered(t *testing.T, rc *keyedReceiver, want int) {
	t.Helper()
	kafkatest.WaitFor(t, 60*time.Second, func() error {
		if _, _, got := rc.snapshot(); got != want {
			return fmt.Errorf("%d of %d records delivered", got, want)
		}
		return nil
	})
}

func concurrentWebhookEnv(hook string) map[string]string {
	return map[string]string{
		"KAFKA_CONSUMER_TOPICS":           "work",
		"KAFKA_CONSUMER_FROM_BEGINNING":   "true",
		"KAFKA_HANDLER":                   "webhook",
		"KAFKA_WEBHOOK_URL":               hook,
		"KAFKA_HANDLER_CONCURRENCY":       "8",
		"KAFKA_HANDLER_RETRY_BACKOFF":     "20",
		"KAFKA_HANDLER_RETRY_MAX_BACKOFF": "100",
		"KAFKA_SHUTDOWN_TIMEOUT":          "2000",
	}
}

// TestConcurrentWebhookKeepsKeyOrder: with KAFKA_HANDLER_CONCURRENCY=8 one
// partition's records reach the webhook 8 at once, shown in the status
// and the metrics, each key's in order and never two at once, and the
// commit reaches the end.
func TestConcurrentWebhookKeepsKeyOrder(t *testing.T) {
	kafkatest.Parallel(t)
	const keys, total, n = 50, 1000, 8
	c := kafkatest.NewCluster(t, kafkatest.Topic("work", 1), kafkatest.Topic("work.dlq", 1))
	// The first n calls wait at a barrier the test opens once it has seen
	// all n running: n distinct keys lead the topic, so n can run at once.
	barrier := make(chan struct{})
	var mu sync.Mutex
	held := 0
	rc, hook := newKeyedReceiver(t, func(_ string, _ int, r *http.Request) int {
		mu.Lock()
		first := held < n
		held++
		mu.Unlock()
		if first {
			select {
			case <-barrier:
			case <-r.Context().Done():
			}
		}
		return http.StatusOK
	})
	produceKeyed(t, c, "work", keys, total)
	url, _, _ := startService(t, c, concurrentWebhookEnv(hook))

	kafkatest.WaitFor(t, 30*time.Second, func() error {
		if running, _, _ := rc.snapshot(); running != n {
			return fmt.Errorf("%d calls running, want %d", running, n)
		}
		return nil
	})
	p, concurrency, err := consumerPartition(t, url)
	if err != nil || p.InFlight != n || concurrency != n {
		t.Errorf("/kafka/consumers at the barrier: %+v concurrency %d (%v); want in_flight and concurrency %d", p, concurrency, err, n)
	}
	if got := value(scrape(t, url), "kafkakit_handlers_in_flight", map[string]string{"topic": "work"}); got != n {
		t.Errorf("kafkakit_handlers_in_flight at the barrier = %v, want %d", got, n)
	}
	close(barrier)

	waitDelivered(t, rc, total)
	waitCommitted(t, url, total)
	rc.checkKeyOrder(t, keys, total)
	if _, most, _ := rc.snapshot(); most != n {
		t.Errorf("at most %d calls at once, want %d", most, n)
	}
	if p, _, err := consumerPartition(t, url); err != nil || p.InFlight != 0 {
		t.Errorf("/kafka/consumers after the run: %+v (%v); want in_flight 0", p, err)
	}
}

// TestConcurrentWebhookHungKeyHoldsOnlyItself: a webhook that hangs on one
// key's record keeps that key waiting while every other key's records are
// delivered; the commit stays before the hung record. Released, the key's
// later records follow in order and the commit reaches the end.
func TestConcurrentWebhookHungKeyHoldsOnlyItself(t *testing.T) {
	kafkatest.Parallel(t)
	// 200 records: fewer than the 64 per worker that may run ahead of an
	// unfinished one.
	const keys, total, hung = 50, 200, 7
	c := kafkatest.NewCluster(t, kafkatest.Topic("work", 1), kafkatest.Topic("work.dlq", 1))
	release := make(chan struct{})
	rc, hook := newKeyedReceiver(t, func(_ string, seq int, r *http.Request) int {
		if seq == hung {
			select {
			case <-release:
			case <-r.Context().Done():
				return http.StatusServiceUnavailable // the call timed out: it is retried, and hangs again
			}
		}
		return http.StatusOK
	})
	produceKeyed(t, c, "work", keys, total)
	url, _, _ := startService(t, c, concurrentWebhookEnv(hook))

	waitDelivered(t, rc, total-total/keys+1) // all but the hung key's later records
	rc.mu.Lock()
	hungKey := fmt.Sprintf("k%02d", hung)
	if got := firstDeliveries(rc.arrived[hungKey]); !slices.Equal(got, []int{hung}) {
		t.Errorf("hung key %s: delivered %v while its first record hangs", hungKey, got)
	}
	rc.mu.Unlock()
	waitCommitted(t, url, hung)
	if p, _, err := consumerPartition(t, url); err != nil || p.InFlight != 1 {
		t.Errorf("/kafka/consumers while one record hangs: %+v (%v); want in_flight 1", p, err)
	}

	close(release)
	waitDelivered(t, rc, total)
	waitCommitted(t, url, total)
	rc.checkKeyOrder(t, keys, total)
}

// TestConcurrentWebhookRetriesHoldOnlyTheirKey: a record the webhook keeps
// failing is retried while the other keys flow; one it refuses for good is
// dead-lettered and its key goes on; once the failures stop, every key's
// records arrive in order and the commit reaches the end.
func TestConcurrentWebhookRetriesHoldOnlyTheirKey(t *testing.T) {
	kafkatest.Parallel(t)
	const keys, total, failing, poison = 50, 200, 3, 5
	c := kafkatest.NewCluster(t, kafkatest.Topic("work", 1), kafkatest.Topic("work.dlq", 1))
	var mu sync.Mutex
	fail := true
	rc, hook := newKeyedReceiver(t, func(_ string, seq int, _ *http.Request) int {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case seq == failing && fail:
			return http.StatusServiceUnavailable
		case seq == poison:
			return http.StatusUnprocessableEntity // permanent: dead-lettered at once
		}
		return http.StatusOK
	})
	produceKeyed(t, c, "work", keys, total)
	env := concurrentWebhookEnv(hook)
	env["KAFKA_HANDLER_MAX_RETRIES"] = "100000"
	url, _, _ := startService(t, c, env)

	waitDelivered(t, rc, total-total/keys+1) // all but the failing key's later records
	waitCommitted(t, url, failing)
	rc.mu.Lock()
	attempts := len(rc.arrived["k03"])
	rc.mu.Unlock()
	if attempts < 2 {
		t.Errorf("failing record called %d times, want retries", attempts)
	}
	if p, _, err := consumerPartition(t, url); err != nil || p.InFlight != 1 {
		t.Errorf("/kafka/consumers while one record is retried: %+v (%v); want in_flight 1", p, err)
	}

	mu.Lock()
	fail = false
	mu.Unlock()
	waitDelivered(t, rc, total)
	waitCommitted(t, url, total)
	rc.checkKeyOrder(t, keys, total)
	dead := c.ReadAll(t, "work.dlq", 1, 30*time.Second)
	if len(dead) != 1 || string(dead[0].Value) != strconv.Itoa(poison) {
		t.Errorf("dead letters: %v, want the record %d", dead, poison)
	}
}

// TestConcurrentLogHandler: the log handler with KAFKA_HANDLER_CONCURRENCY
// logs every record, each key's in offset order, and commits them all.
func TestConcurrentLogHandler(t *testing.T) {
	kafkatest.Parallel(t)
	const keys, total = 50, 500
	c := kafkatest.NewCluster(t, kafkatest.Topic("work", 1))
	produceKeyed(t, c, "work", keys, total)
	url, _, sink := startService(t, c, map[string]string{
		"KAFKA_CONSUMER_TOPICS":         "work",
		"KAFKA_CONSUMER_FROM_BEGINNING": "true",
		"KAFKA_HANDLER_CONCURRENCY":     "8",
	})
	waitCommitted(t, url, total)
	offsets := map[string][]int{}
	sink.mu.Lock()
	for _, l := range sink.lines {
		if l["msg"] == "message" {
			key, _ := l["key"].(string)
			off, _ := l["offset"].(float64)
			offsets[key] = append(offsets[key], int(off))
		}
	}
	sink.mu.Unlock()
	logged := 0
	for key, offs := range offsets {
		logged += len(offs)
		if !slices.IsSorted(offs) {
			t.Errorf("key %s logged out of order: %v", key, offs)
		}
	}
	if logged != total || len(offsets) != keys {
		t.Errorf("logged %d records of %d keys, want %d of %d", logged, len(offsets), total, keys)
	}
}
