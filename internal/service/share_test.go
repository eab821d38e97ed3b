package service

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/internal/env"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
)

// countingHook is a webhook that counts calls per record value and
// answers fail(value) for each: 0 for 200.
type countingHook struct {
	mu    sync.Mutex
	calls map[string]int
	fail  func(value string) int
}

func newCountingHook(t testing.TB, fail func(value string) int) (*countingHook, string) {
	h := &countingHook{calls: map[string]int{}, fail: fail}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv.URL
}

func (h *countingHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct{ Value json.RawMessage }
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	v := strings.Trim(string(body.Value), `"`)
	h.mu.Lock()
	h.calls[v]++
	h.mu.Unlock()
	if code := h.fail(v); code != 0 {
		http.Error(w, "refused", code)
	}
}

func (h *countingHook) count(v string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls[v]
}

// shareEnv is the environment of a serve instance in share mode,
// delivering topic to url.
func shareEnv(topic, url string, concurrency int) map[string]string {
	return map[string]string{
		"KAFKA_CONSUMER_TOPICS":         topic,
		"KAFKA_CONSUMER_FROM_BEGINNING": "true",
		"KAFKA_CONSUMER_MODE":           "share",
		"KAFKA_GROUP_ID":                "share-" + topic,
		"KAFKA_HANDLER":                 "webhook",
		"KAFKA_WEBHOOK_URL":             url,
		"KAFKA_HANDLER_CONCURRENCY":     strconv.Itoa(concurrency),
		"LOG_LEVEL":                     "warn",
	}
}

// TestShareModeWebhook runs three serve instances in share mode on one
// partition: every good record reaches the webhook once; one the webhook
// always fails (500) is delivered as often as the group allows, then
// dead-lettered; one it refuses as bad (400) is dead-lettered at once.
func TestShareModeWebhook(t *testing.T) {
	const topic, n, limit = "share-hooked", 300, 3
	c := kafkatest.NewCluster(t, kafkatest.Topic(topic, 1), kafkatest.Topic(topic+".dlq", 1))
	c.ShareGroupLimits(t, "share-"+topic, limit, 30*time.Second)
	hook, url := newCountingHook(t, func(v string) int {
		switch v {
		case "poison":
			return http.StatusInternalServerError
		case "bad":
			return http.StatusBadRequest
		}
		return 0
	})
	recs := []*kgo.Record{{Topic: topic, Value: []byte("poison")}, {Topic: topic, Value: []byte("bad")}}
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(strconv.Itoa(i)), Value: []byte(strconv.Itoa(i))})
	}
	c.Produce(t, recs...)
	for range 3 {
		startService(t, c, shareEnv(topic, url, 10))
	}
	dead := c.ReadAll(t, topic+".dlq", 2, 60*time.Second)
	kafkatest.WaitFor(t, 60*time.Second, func() error {
		for i := range n {
			if hook.count(strconv.Itoa(i)) == 0 {
				return fmt.Errorf("record %d not delivered yet", i)
			}
		}
		return nil
	})
	attempts := map[string]string{}
	for _, r := range dead {
		for _, h := range r.Headers {
			if h.Key == consumer.HeaderAttempts {
				attempts[string(r.Value)] = string(h.Value)
			}
		}
	}
	if attempts["poison"] != strconv.Itoa(limit) || attempts["bad"] != "1" {
		t.Errorf("dead letters' attempts: %v, want poison %d and bad 1", attempts, limit)
	}
	if got := hook.count("poison"); got != limit {
		t.Errorf("the poison record reached the webhook %d times, want %d", got, limit)
	}
	for i := range n {
		if got := hook.count(strconv.Itoa(i)); got != 1 {
			t.Errorf("record %d reached the webhook %d times, want once", i, got)
		}
	}
}

// TestShareModeUnsupportedCluster: serve in share mode against a cluster
// without share groups stops at start, naming what the cluster lacks.
func TestShareModeUnsupportedCluster(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.KfakeOpts(kfake.MaxVersions(kversion.V3_9_0())))
	err, _ := runUntilError(t, c, shareEnv("t", "http://127.0.0.1:1/hook", 4))
	for _, want := range []string{"KAFKA_CONSUMER_MODE=share", "does not support share groups", "ShareGroupHeartbeat"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Run: got %v, want an error naming %q", err, want)
		}
	}
}

// TestShareModeBadSettings: a mode that does not exist, and retry topics
// with share mode, stop start-up naming the variable.
func TestShareModeBadSettings(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"KAFKA_CONSUMER_MODE": "queue"}, `KAFKA_CONSUMER_MODE: "queue"`},
		{map[string]string{"KAFKA_CONSUMER_MODE": "share", "KAFKA_HANDLER_RETRY_MODE": "topics"}, "KAFKA_HANDLER_RETRY_MODE"},
	} {
		_, err := FromEnv(env.Map(tt.env))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("FromEnv(%v): got %v, want an error naming %s", tt.env, err, tt.want)
		}
	}
}

// TestShareModeSlowWebhook: a webhook that takes longer than two locks
// keeps its record, whose lock serve renews, while two other instances
// wait for work: the record reaches the webhook once.
func TestShareModeSlowWebhook(t *testing.T) {
	kafkatest.RequireFake(t, "Apache Kafka holds a lock for 15s at least, so the test would take a minute")
	const topic = "share-slow-hook"
	lock := time.Second
	c := kafkatest.NewCluster(t, kafkatest.Topic(topic, 1))
	c.ShareGroupLimits(t, "share-"+topic, 5, lock)
	answered := make(chan struct{})
	var once sync.Once
	hook, url := newCountingHook(t, func(string) int {
		select { // the receiver's own slow work
		case <-time.After(2*lock + lock/2):
		case <-t.Context().Done():
		}
		once.Do(func() { close(answered) })
		return 0
	})
	c.Produce(t, &kgo.Record{Topic: topic, Value: []byte("slow")})
	env := shareEnv(topic, url, 4)
	env["KAFKA_WEBHOOK_TIMEOUT"] = "10000"
	for range 3 {
		startService(t, c, env)
	}
	select {
	case <-answered:
	case <-time.After(30 * time.Second):
		t.Fatal("the slow webhook was not called")
	}
	// A lock that ran out would have sent the record to an instance
	// again by now, or within a further lock.
	deadline := time.Now().Add(lock + 500*time.Millisecond)
	kafkatest.WaitFor(t, 2*lock, func() error {
		if got := hook.count("slow"); got != 1 {
			t.Fatalf("the slow record reached the webhook %d times, want once", got)
		}
		if time.Now().Before(deadline) {
			return fmt.Errorf("watching for a second delivery")
		}
		return nil
	})
}
