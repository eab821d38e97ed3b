//go:build spring

package interop

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafkakit/kafkakit/consumer"
	"github.com/kafkakit/kafkakit/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// retryDelays is the retry path both sides share: topics
// <topic>-retry-3000 and <topic>-retry-6000, then <topic>.dlq. The Spring
// program's --delay 3000 --retries 2 gives the same.
const retryDelays = "3000,6000"

func retryTopicOpts(topic string) []kafkatest.Option {
	return []kafkatest.Option{kafkatest.Topic(topic, 2), kafkatest.Topic(topic+"-retry-3000", 2),
		kafkatest.Topic(topic+"-retry-6000", 2), kafkatest.Topic(topic+".dlq", 2)}
}

// webhookCall is one call `kafkakit serve` made to the test's webhook.
type webhookCall struct {
	at      time.Time
	Topic   string `json:"topic"`
	Headers []struct {
		Key      string  `json:"key"`
		Value    *string `json:"value"`
		Encoding string  `json:"value_encoding"`
	} `json:"headers"`
}

// header returns the value of the call's last header named key.
func (c webhookCall) header(t *testing.T, key string) []byte {
	t.Helper()
	for i := len(c.Headers) - 1; i >= 0; i-- {
		h := c.Headers[i]
		if h.Key != key || h.Value == nil {
			continue
		}
		if h.Encoding != "base64" {
			return []byte(*h.Value)
		}
		b, err := base64.StdEncoding.DecodeString(*h.Value)
		if err != nil {
			t.Fatalf("header %s: %v", key, err)
		}
		return b
	}
	return nil
}

// webhook answers 500 to the first fail calls and 200 to the others, and
// keeps every call. Call number before, when set, runs before its answer.
type webhook struct {
	fail   int
	before map[int]func()
	mu     sync.Mutex
	calls  []webhookCall
}

func (w *webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var c webhookCall
	c.at = time.Now()
	b, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(b, &c)
	w.mu.Lock()
	w.calls = append(w.calls, c)
	n := len(w.calls)
	f := w.before[n]
	w.mu.Unlock()
	if f != nil {
		f()
	}
	if n <= w.fail {
		http.Error(rw, "refused by the test's webhook", http.StatusInternalServerError)
	}
}

func (w *webhook) got() []webhookCall {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]webhookCall(nil), w.calls...)
}

// startRetryingServe runs `kafkakit serve` in retry-topics mode on topic,
// in group, with the shared delays, calling hook.
func startRetryingServe(t *testing.T, c *kafkatest.Cluster, topic, group, hook string) *proc {
	t.Helper()
	return startProc(t, "kafkakit serve", []string{
		"KAFKA_BROKERS=" + strings.Join(c.Addrs(), ","), "KAFKA_GROUP_ID=" + group, "KAFKA_CONSUMER_TOPICS=" + topic,
		"KAFKA_CONSUMER_FROM_BEGINNING=true", "KAFKA_HANDLER=webhook", "KAFKA_WEBHOOK_URL=" + hook,
		"KAFKA_HANDLER_RETRY_MODE=topics", "KAFKA_HANDLER_RETRY_DELAYS=" + retryDelays,
		"HTTP_ADDR=127.0.0.1:0", "LOG_LEVEL=warn",
	}, kafkakitBinary(t), "serve")
}

// retryHeaders reads a retry record's headers as Spring's retry code does:
// the attempts 4 bytes, the timestamps BigInteger bytes.
func retryHeaders(t *testing.T, r *kgo.Record) (attempts int32, due, original int64) {
	t.Helper()
	var m consumer.Message
	m.Headers = r.Headers
	a, ok := m.Header(consumer.HeaderRetryAttempts)
	d, ok2 := m.Header(consumer.HeaderRetryBackoffTimestamp)
	o, ok3 := m.Header(consumer.HeaderRetryOriginalTimestamp)
	if !ok || !ok2 || !ok3 || len(a) != 4 {
		t.Fatalf("%s/%d@%d lacks Spring's retry headers: %q", r.Topic, r.Partition, r.Offset, r.Headers)
	}
	return int32(binary.BigEndian.Uint32(a)), new(big.Int).SetBytes(d).Int64(), new(big.Int).SetBytes(o).Int64()
}

// TestRetryTopicsSpringToKafkakit: a record Spring's non-blocking retries
// put in <topic>-retry-3000 is finished by `kafkakit serve` in topics mode,
// in the same group, after Spring crashed when the retry was due, before
// handling it: kafkakit calls its webhook no
// sooner than Spring's backoff timestamp, and failing there moves it to
// <topic>-retry-6000 with attempts 3, Spring's original timestamp and the
// original headers of its first failure, where it succeeds.
func TestRetryTopicsSpringToKafkakit(t *testing.T) {
	java := requireSpring(t)
	c := kafkatest.NewCluster(t, retryTopicOpts("s2k")...)
	sent := &kgo.Record{Topic: "s2k", Partition: 1, Key: []byte("k"), Value: []byte("v")}
	c.Produce(t, sent)
	// Spring crashes (Runtime.halt) when its retry is due, before it
	// handles it.
	spring := startProc(t, "spring retry", nil, append(java, "retry", "--brokers", strings.Join(c.Addrs(), ","),
		"--topic", "s2k", "--group", "shared", "--delay", "3000", "--retries", "2", "--fail", "all", "--halt-on", "s2k-retry-3000")...)
	spring.waitN(t, 1, 90*time.Second, event("halted", "s2k-retry-3000"))
	spring.wait(t, 30*time.Second)
	committed(t, c, "shared", "s2k", 1, 1)
	retry := c.ReadAll(t, "s2k-retry-3000", 1, 30*time.Second)[0]
	attempts, due, original := retryHeaders(t, retry)
	if attempts != 2 || original != sent.Timestamp.UnixMilli() || retry.Partition != 1 {
		t.Fatalf("Spring's retry record: partition %d attempts %d original timestamp %d, want 1, 2, %d", retry.Partition, attempts, original, sent.Timestamp.UnixMilli())
	}

	hook := &webhook{fail: 1}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	startRetryingServe(t, c, "s2k", "shared", srv.URL)
	kafkatest.WaitFor(t, 90*time.Second, func() error { return wantCalls(hook, 2) })
	calls := hook.got()
	if calls[0].Topic != "s2k-retry-3000" || calls[1].Topic != "s2k-retry-6000" {
		t.Fatalf("webhook calls from %s and %s, want s2k-retry-3000 then s2k-retry-6000", calls[0].Topic, calls[1].Topic)
	}
	if calls[0].at.UnixMilli() < due {
		t.Errorf("kafkakit called the webhook %v before Spring's backoff timestamp", time.UnixMilli(due).Sub(calls[0].at))
	}
	second := c.ReadAll(t, "s2k-retry-6000", 1, 30*time.Second)[0]
	attempts, due2, original2 := retryHeaders(t, second)
	if attempts != 3 || original2 != original || calls[1].at.UnixMilli() < due2 {
		t.Errorf("kafkakit's retry record: attempts %d original timestamp %d, called %v after due; want 3, %d, not before due",
			attempts, original2, calls[1].at.Sub(time.UnixMilli(due2)), original)
	}
	if got := string(calls[1].header(t, consumer.HeaderOriginalTopic)); got != "s2k" {
		t.Errorf("kafkakit's retry record names %q as original topic, want s2k, as Spring wrote it", got)
	}
}

func wantCalls(h *webhook, n int) error {
	if got := len(h.got()); got < n {
		return fmt.Errorf("webhook called %d times, want %d", got, n)
	}
	return nil
}

// TestRetryTopicsKafkakitToSpring: a record `kafkakit serve` put in
// <topic>-retry-3000 is finished by Spring's non-blocking retries after
// kafkakit was killed while handling the retry: Spring's listener gets it
// no sooner than kafkakit's
// backoff timestamp, with attempts 2 as Spring's conversion reads
// kafkakit's header; failing there, Spring moves it to <topic>-retry-6000
// with attempts 3 and kafkakit's original timestamp, where it succeeds.
func TestRetryTopicsKafkakitToSpring(t *testing.T) {
	java := requireSpring(t)
	c := kafkatest.NewCluster(t, retryTopicOpts("k2s")...)
	// kafkakit is killed (SIGKILL) as its retry's webhook call starts,
	// before it is answered.
	hook := &webhook{fail: 1 << 30}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	serve := startRetryingServe(t, c, "k2s", "shared2", srv.URL)
	hook.mu.Lock()
	hook.before = map[int]func(){2: func() { serve.kill(t) }}
	hook.mu.Unlock()
	sent := &kgo.Record{Topic: "k2s", Partition: 1, Key: []byte("k"), Value: []byte("v")}
	c.Produce(t, sent)
	retry := c.ReadAll(t, "k2s-retry-3000", 1, 90*time.Second)[0]
	committed(t, c, "shared2", "k2s", 1, 1)
	serve.wait(t, 60*time.Second)
	if calls := hook.got(); len(calls) != 2 || calls[1].Topic != "k2s-retry-3000" {
		t.Fatalf("webhook calls %+v, want one from k2s and one from k2s-retry-3000, when kafkakit was killed", calls)
	}
	attempts, due, original := retryHeaders(t, retry)
	if attempts != 2 || original != sent.Timestamp.UnixMilli() {
		t.Fatalf("kafkakit's retry record: attempts %d original timestamp %d, want 2, %d", attempts, original, sent.Timestamp.UnixMilli())
	}

	spring := startProc(t, "spring retry", nil, append(java, "retry", "--brokers", strings.Join(c.Addrs(), ","),
		"--topic", "k2s", "--group", "shared2", "--delay", "3000", "--retries", "2", "--fail", "k2s-retry-3000")...)
	failed := decodeEvents(t, spring.waitN(t, 1, 90*time.Second, event("failed", "k2s-retry-3000")))[0]
	if deref(failed.Attempts) != 2 || deref(failed.BackoffTimestamp) != due || failed.At < due {
		t.Errorf("Spring got kafkakit's retry with attempts %d, backoff timestamp %d, at %d; want 2, %d, not before it",
			deref(failed.Attempts), deref(failed.BackoffTimestamp), failed.At, due)
	}
	handled := decodeEvents(t, spring.waitN(t, 1, 90*time.Second, event("handled", "k2s-retry-6000")))[0]
	if deref(handled.Attempts) != 3 || deref(handled.OriginalTimestamp) != original || handled.At < deref(handled.BackoffTimestamp) {
		t.Errorf("Spring's next retry: attempts %d, original timestamp %d, at %d before due %d; want 3, %d, not before due",
			deref(handled.Attempts), deref(handled.OriginalTimestamp), handled.At, deref(handled.BackoffTimestamp), original)
	}
	if got := spring.all(func(m map[string]any) bool { return m["topic"] == "k2s" }); len(got) > 0 {
		t.Errorf("Spring handled the record from k2s again, past kafkakit's commit: %v", got)
	}
	// Spring reads each retry topic in a group of its own, named after
	// the listener's group and the topic's suffix (as the docs say).
	groups, err := kadm.NewClient(c.Client(t)).ListGroups(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(groups.Groups(), "shared2-retry-3000") {
		t.Errorf("groups %v, want Spring's shared2-retry-3000 among them", groups.Groups())
	}
}
